#!/usr/bin/env bash
# bench-scale.sh - the playlist chain at MPD size (make bench-scale; scale.mk
# says what each setting does).  Every stage runs under /usr/bin/time: wall
# seconds and peak resident memory, a table at the end with the machine's
# load, and for a stage over BENCH_MEM_GB what to shard.  CPU seconds (user +
# system) beside the wall time: on a shared machine they change less.
# Env: BIN, SP_SCALE_OUT, BENCH_SCALE, BENCH_SCALE_SEED, BENCH_SCALE_MODELS,
#      BENCH_SCALE_TRAIN_OPTS, BENCH_SCALE_RERANK_OPTS, BENCH_SCALE_VAL_TEST, BENCH_MEM_GB, MPD_DIR,
#      SP_SCALE_REAL (1: measure the slices of MPD_DIR, not mpd-synth's).
set -eo pipefail
set -f                                  # options are words, never globs
O=$SP_SCALE_OUT
mkdir -p "$O"
T=$O/times.tsv
: > "$T"
[ -x /usr/bin/time ] || { echo "bench-scale: needs /usr/bin/time (Debian package time)" >&2; exit 1; }

# run NAME CMD...: the command under /usr/bin/time, a line in times.tsv
run() {
  local name=$1; shift
  echo "== $name" >&2
  /usr/bin/time -f '%e %M %U %S' -o "$O/.time" "$@"
  read -r wall kb user sys < "$O/.time"
  printf '%s\t%s\t%s\t%s\n' "$name" "$wall" "$kb" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" >> "$T"
  printf 'bench-scale: %s: %s s, peak RSS %d MB\n' "$name" "$wall" $((kb / 1024)) >&2
}

echo "bench-scale: start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores," \
     "$(awk '/MemAvailable/{printf "%.1f", $2/1048576}' /proc/meminfo) GB available" >&2

# ---- the collection ----
if [ -n "$SP_SCALE_REAL" ]; then
  MPD=$MPD_DIR
  case $MPD in -*) MPD=./$MPD ;; esac
  what="the slices of MPD_DIR"
else
  MPD=$O/mpd
  stamp="mpd-synth --scale $BENCH_SCALE --seed $BENCH_SCALE_SEED $(cksum < "$BIN/mpd-synth")"
  if [ "$(cat "$O/mpd.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$MPD" "$MPD.tmp" "$O/mpd.stamp"
    run synth "$BIN/mpd-synth" --scale "$BENCH_SCALE" --seed "$BENCH_SCALE_SEED" -o "$MPD.tmp"
    mv "$MPD.tmp" "$MPD"
    printf '%s\n' "$stamp" > "$O/mpd.stamp"
  else
    echo "bench-scale: synth: the slices of an earlier run ($MPD)" >&2
  fi
  what="mpd-synth --scale $BENCH_SCALE"
fi

# ---- ingest, the test split (10,000 queries: 2,000 playlists x 5 K), the
# validation split of the training playlists (the re-ranker learns there)
P=$O/playlists V=$O/playlists/val
mkdir -p "$V"
run ingest "$BIN/mpd-ingest" --tracks "$P/tracks.tsv" --names "$P/names.tsv" -o "$P/playlists.ts" -- "$MPD"
run split "$BIN/mpd-split" --max-test 2000 --seed 1 --names "$P/names.tsv" --queries "$P/queries.tsv" \
  --seeds "$P/seeds.ts" --truth "$P/truth.ts" -o "$P/train.ts" "$P/playlists.ts"
run split-val "$BIN/mpd-split" --max-test "$BENCH_SCALE_VAL_TEST" --seed 2 --names "$P/names.tsv" --queries "$V/queries.tsv" \
  --seeds "$V/seeds.ts" --truth "$V/truth.ts" -o "$V/train.ts" "$P/train.ts"
nq=$(($(wc -l < "$P/queries.tsv") - 1))

# ---- the candidate models: on the test queries, and the re-ranker's
# generators on the validation queries too
recommend() {   # recommend DIR MODEL [options]
  local d=$1 m=$2; shift 2
  run "$m${d#"$P"}" "$BIN/mpd-recommend" --model "$m" "$@" --train "$d/train.ts" --names "$P/names.tsv" \
    --tracks "$P/tracks.tsv" --queries "$d/queries.tsv" --seeds "$d/seeds.ts" -o "$d/recs-$m.ts"
}
bench_model_neural() {
  # shellcheck disable=SC2086   # the options are words
  run neural-train "$BIN/mpd-train" $BENCH_SCALE_TRAIN_OPTS -o "$P/model.ts" "$P/train.ts"
  recommend "$P" neural --weights "$P/model.ts"
}
bench_model_als() {
  # the factors fitted once by mpd-train, read by mpd-recommend --weights
  run als-train "$BIN/mpd-train" --model als -o "$P/als.ts" "$P/train.ts"
  recommend "$P" als --weights "$P/als.ts"
}
gens=()
for m in $BENCH_SCALE_MODELS; do
  case $m in
    neural|als) "bench_model_$m" ;;
    *) recommend "$P" "$m"; recommend "$V" "$m"; gens+=("$m") ;;
  esac
done

# ---- the re-ranker over the count models that ran, then rec-eval
recs=()
for m in $BENCH_SCALE_MODELS; do recs+=("$P/recs-$m.ts"); done
if [ ${#gens[@]} -gt 0 ]; then
  rr_in() { local d=$1 g; printf '%s\n' --train "$d/train.ts" --names "$P/names.tsv" --tracks "$P/tracks.tsv" \
    --queries "$d/queries.tsv" --seeds "$d/seeds.ts"; for g in "${gens[@]}"; do printf '%s\n' --gen "$g=$d/recs-$g.ts"; done; }
  mapfile -t vin < <(rr_in "$V")
  mapfile -t pin < <(rr_in "$P")
  # shellcheck disable=SC2086   # the options are words
  run rerank-fit "$BIN/mpd-rerank" "${vin[@]}" --truth "$V/truth.ts" $BENCH_SCALE_RERANK_OPTS --save "$P/rerank.json"
  # shellcheck disable=SC2086
  run rerank-apply "$BIN/mpd-rerank" "${pin[@]}" $BENCH_SCALE_RERANK_OPTS --model "$P/rerank.json" -o "$P/recs-rerank.ts"
  recs+=("$P/recs-rerank.ts")
fi
run rec-eval "$BIN/rec-eval" --truth "$P/truth.ts" --queries "$P/queries.tsv" --tracks "$P/tracks.tsv" \
  -o "$P/eval.txt" "${recs[@]}"

# ---- the table
rows=$(awk -F'\t' 'NR > 1 {n += $3} END {print n}' "$P/names.tsv")
tracks=$(($(wc -l < "$P/tracks.tsv") - 1))
npl=$(($(wc -l < "$P/names.tsv") - 1))
echo
echo "bench-scale: $what: $npl playlists, $rows rows, $tracks distinct tracks; $nq test queries"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end; memory budget $BENCH_MEM_GB GB"
echo "(x1/scale: the measured value times 1/$BENCH_SCALE, a linear extrapolation to the whole MPD, not a measurement)"
awk -F'\t' -v s="$BENCH_SCALE" -v gb="$BENCH_MEM_GB" '
  function shard(n) {
    if (n ~ /^(cooc|itemknn|rp3beta)/) return "mpd-recommend holds the training CSR (~12 B/row): split the queries (--queries parts), or count with mpd-train --model cooc --shard I/N + merge"
    if (n ~ /^ease/) return "the V x V matrix: lower --ease-tracks (4 V^2 bytes)"
    if (n ~ /^neural/) return "the softmax over the vocabulary: raise --min-count, lower --batch"
    if (n ~ /^rerank-fit/) return "the candidates features: fewer validation queries (BENCH_SCALE_VAL_TEST) or --depth"
    if (n ~ /^ingest/) return "the track vocabulary: ingest the slices in parts"
    return "stream it in parts"
  }
  BEGIN { printf "%-16s %9s %9s %10s %12s %12s  %s\n", "stage", "wall s", "cpu s", "peak MB", "x1/scale s", "x1/scale MB", "fits " gb " GB?" }
  { mb = $3 / 1024; xs = $2 / s; xm = mb / s
    fit = mb > gb * 1024 ? "NO: " shard($1) : (xm > gb * 1024 ? "at scale 1 maybe not: " shard($1) : "yes")
    printf "%-16s %9.1f %9.1f %10.0f %12.0f %12.0f  %s\n", $1, $2, $4, mb, xs, xm, fit; tw += $2; tc += $4 }
  END { printf "%-16s %9.1f %9.1f\n", "total", tw, tc }' "$T"
echo
cat "$P/eval.txt"
