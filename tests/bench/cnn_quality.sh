#!/usr/bin/env bash
# bench/cnn_quality.sh TILES.ts LABELS.tsv - speed and quality of train-cnn
# by width multiplier on genre-labelled clips (make cnn-quality: GTZAN
# excerpts, 80 clips, 10 genres, 8 per genre, 15-20 s, 512 tiles).
#
# Split (by track, never tiles of one track on two sides): a test fold of
# NFOLD (4) - within each genre, every NFOLD-th track in key order from
# offset FOLD (0): 20 test tracks, 2 per genre - is left out of training
# altogether (its tracks are not in the label file train-cnn sees,
# --skip-unlabelled); train-cnn holds out 20% of the other 60 tracks for
# early stopping (--val 0.2).  So the test tracks choose nothing.
# Per width (one row each):
#   s/epoch    mean seconds of a training+validation epoch (from --history)
#   total s    wall time of train-cnn (reading the tiles included)
#   epochs     run / best (the model kept)
#   tile acc   test tiles whose argmax of embed --predict is their genre
#   track acc  test tracks whose mean tile probability's argmax is their genre
#   agree@5    per test track, the share of its 5 nearest songs (cosine over
#              tile-averaged embeddings, all 80 songs) of its genre
#   halves     label-free: every track cut in two (first/second half of its
#              tiles), 160 half-songs; how often the nearest other
#              half-song is its own other half
# Chance: tile/track acc 1/10; agree@5 7/79 = 0.089 (7 of the other 79
# songs share a genre); halves 1/159 = 0.006.  20 test tracks: one track is
# 0.05 of track accuracy, so differences below ~0.1 are noise.
# Env: BIN, CNN_DIR (work folder), WIDTHS ("0.25"; "1:6" = width 1 with 6
# epochs), FOLD, NFOLD, QUALITY_OPTS (more train-cnn options; default the
# seed's: AdamW lr 1e-3, wd 0.01, batch 128, 16 epochs, patience 5, plus
# --monitor accuracy --seed 1 --threads 2).
. "$(dirname "$0")/prologue.bash"
[ $# -eq 2 ] || { echo "usage: cnn_quality.sh TILES.ts LABELS.tsv" >&2; exit 2; }
TILES=$1 LABELS=$2
D=${CNN_DIR:-$(mktemp -d)}
WIDTHS=${WIDTHS:-0.25}
FOLD=${FOLD:-0} NFOLD=${NFOLD:-4}
OPTS=${QUALITY_OPTS:---monitor accuracy --seed 1 --threads 2}
mkdir -p "$D"
[ -s "$TILES" ] || { echo "cnn_quality: $TILES: no tiles" >&2; exit 1; }

# the test fold: per genre, tracks in key order, every NFOLD-th from FOLD
tail -n +2 "$LABELS" | LC_ALL=C sort -t "$(printf '\t')" -k2,2 -k1,1 |
  awk -F'\t' -v f="$FOLD" -v n="$NFOLD" '{ i = c[$2]++; print $0 "\t" ((i % n) == f ? "test" : "train") }' > "$D/split.tsv"
{ head -1 "$LABELS"; awk -F'\t' '$3 == "train" { print $1 "\t" $2 }' "$D/split.tsv"; } > "$D/train-labels.tsv"
NTEST=$(awk -F'\t' '$3 == "test"' "$D/split.tsv" | wc -l)
[ "$NTEST" -gt 0 ] || { echo "cnn_quality: fold $FOLD of $NFOLD has no test tracks" >&2; exit 1; }

# halves: tile TRACK#I goes to half-song TRACK@a or TRACK@b by its position
# (a catalogue for pool --by)
halves() {
  "$BIN/to-csv" "$1" | awk -F, 'NR > 1 { split($1, p, "#"); n[p[1]]++; k[NR] = $1; tr[NR] = p[1]; ix[NR] = p[2] }
    END { print "key\thalf"; for (r in k) print k[r] "\t" tr[r] ((ix[r] < n[tr[r]] / 2) ? "@a" : "@b") }' > "$D/halves.tsv"
  "$BIN/pool" --by half --catalog "$D/halves.tsv" -o "$D/halves.ts" "$1" 2>/dev/null
  "$BIN/knn" --index "$D/halves.ts" --self -k 1 --tsv |
    awk -F'\t' '{ q = $1; n = $3; sub(/@.$/, "", q); sub(/@.$/, "", n); tot++; hit += q == n }
                END { printf "%.3f (%d/%d)", hit / tot, hit, tot }'
}

echo "cnn-quality: $(awk -F'\t' '$3 == "train"' "$D/split.tsv" | wc -l) training tracks (20% of them for early stopping), $NTEST test tracks (fold $FOLD of $NFOLD); train-cnn $OPTS; load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf '%-6s %9s %8s %8s %7s %9s %9s %9s %s\n' width params s/epoch total_s epochs tile_acc track_acc agree@5 halves
for spec in $WIDTHS; do
  w=${spec%%:*} ep=16
  [ "$spec" = "$w" ] || ep=${spec#*:}
  M="$D/w$w.model"
  t0=$(date +%s.%N)
  "$BIN/train-cnn" --width-mult "$w" --epochs "$ep" $OPTS --labels "$D/train-labels.tsv" --skip-unlabelled \
    --history "$D/w$w.history.ts" -o "$M" "$TILES" 2> "$D/w$w.log" || { cat "$D/w$w.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
  read -r s_ep n_ep < <("$BIN/to-csv" "$D/w$w.history.ts" | tail -n +2 | awk -F, '{ s += $6; n++ } END { printf "%.1f %d\n", s / n, n }')
  meta=$("$BIN/inspect" "$M" 2>&1)
  best=$(printf '%s\n' "$meta" | sed -n 's/.*"best_epoch":[[:space:]]*\([0-9]*\).*/\1/p' | head -1)
  params=$(sed -n 's/.*; \([0-9]*\) parameters$/\1/p' "$D/w$w.log" | head -1)
  # test predictions: tile accuracy and track accuracy (mean probability)
  "$BIN/embed" -m "$M" --predict "$TILES" | "$BIN/to-csv" > "$D/w$w.pred.csv"
  read -r tile_acc track_acc < <(awk -F'\t' 'NR == FNR { g[$1] = $2; s[$1] = $3; next }
    FNR == 1 { for (j = 2; j <= NF; j++) cls[j] = $j; next }
    { split($1, p, "#"); t = p[1]; if (s[t] != "test") next
      b = 2; for (j = 3; j <= NF; j++) if ($j > $b) b = j
      nt++; ct += cls[b] == g[t]; tr[t] = 1; for (j = 2; j <= NF; j++) sum[t, j] += $j }
    END { for (t in tr) { b = 2; for (j = 3; j <= NF; j++) if (sum[t, j] > sum[t, b]) b = j; n++; c += cls[b] == g[t] }
          printf "%.3f %.3f\n", ct / nt, c / n }' "$D/split.tsv" FS=, "$D/w$w.pred.csv")
  # neighbours of the test songs among all songs
  "$BIN/embed" -m "$M" --track-keys "$TILES" | "$BIN/pool" -o "$D/w$w.songs.ts" 2>/dev/null
  agree=$("$BIN/knn" --index "$D/w$w.songs.ts" --self -k 5 --tsv | awk -F'\t' 'NR == FNR { g[$1] = $2; s[$1] = $3; next }
    s[$1] == "test" && ($3 in g) { tot++; same += g[$1] == g[$3] } END { printf "%.3f", same / tot }' "$D/split.tsv" -)
  "$BIN/embed" -m "$M" "$TILES" > "$D/w$w.tiles-emb.ts"
  hv=$(halves "$D/w$w.tiles-emb.ts")
  printf '%-6s %9s %8s %8s %7s %9s %9s %9s %s\n' "$w" "$params" "$s_ep" "$total" "$n_ep/$best" "$tile_acc" "$track_acc" "$agree" "$hv"
done
echo "chance: tile/track acc 0.100, agree@5 0.089, halves 0.006"
