# test_mpd_synth.sh - mpd-synth, the invented MPD-shaped collection of make
# bench-scale: its slices are what mpd-ingest reads; playlist lengths in
# 5..250 with the MPD's mean; the counts it reports are the ingested ones;
# the top tracks hold the share of rows the Zipf-Mandelbrot law gives; the
# same seed gives the same bytes (whatever the slice size), another seed
# other playlists; and the bench-scale chain runs on a tiny one and prints
# its table.
. "$(dirname "$0")/lib.sh"
for s in mpd-synth mpd-ingest mpd-split mpd-recommend mpd-rerank rec-eval; do [ -x "$BIN/$s" ] || { skip synth "no $BIN/$s"; exit 0; }; done
syn=(--scale 0.002 --universe 20000 --seed 7)
ok "2,000 playlists in slices of 500" mpd-synth "${syn[@]}" --slice-size 500 -o "$T/a"
like "  it says how many rows" "$(cat "$T/.err")" "2000 playlists, [0-9]+ rows \\(universe 20000 tracks, 4898 albums, 1972 artists\\)"
reported=$(grep -o '2000 playlists, [0-9]* rows' "$T/.err" | cut -d' ' -f3)
is "  four zstd files named as MPD slices" "$(cd "$T/a" && ls | tr '\n' ' ')" \
   "mpd.slice.0-499.json.zst mpd.slice.1000-1499.json.zst mpd.slice.1500-1999.json.zst mpd.slice.500-999.json.zst "
ok "mpd-ingest reads them" mpd-ingest --tracks "$T/tr.tsv" --names "$T/nm.tsv" -o "$T/pl.ts" "$T/a"
like "  every playlist and row" "$(cat "$T/.err")" "4 files .*: 2000 playlists, $reported rows"
stats=$(awk -F'\t' 'NR > 1 { n = $3; if (n < 5 || n > 250) bad++; s += n; c++ }
  END { printf "%d %d %.0f", bad, c, s / c }' "$T/nm.tsv")
read -r bad npl mean <<< "$stats"
is "  lengths all within 5..250" "$bad" 0
is "  num_tracks of each playlist sums to the rows" "$(awk -F'\t' 'NR > 1 { s += $3 } END { print s }' "$T/nm.tsv")" "$reported"
near "  mean length as the MPD's (66.3)" "$mean" 66.3 4
# the 100 most played tracks: their share of rows against the law's (the sum
# of (r + 400)^-1.25 over ranks 1..100 over the same sum up to the universe);
# a playlist holds a track once (redrawn), which can only flatten the head:
# 0.6 to 1 times the law's share.  And counts fall as a power of the rank:
# from rank 100 to 3000 as rank^-0.4 .. rank^-1 (the law: -0.70; uniform: 0)
want=$(awk 'BEGIN { for (r = 1; r <= 20000; r++) { w = (r + 400) ^ -1.25; t += w; if (r <= 100) h += w }; printf "%.4f", h / t }')
awk -F'\t' 'NR > 1 { print $7 }' "$T/tr.tsv" | sort -nr > "$T/counts"
got=$(head -100 "$T/counts" | awk -v n="$reported" '{ s += $1 } END { printf "%.4f", s / n }')
like "  the top 100 tracks hold 0.6..1 x the law's share of rows ($want): $got" \
  "$(awk -v g="$got" -v w="$want" 'BEGIN { if (g >= 0.6 * w && g <= w) print "yes" }')" yes
slope=$(awk 'NR == 100 { a = $1 } NR == 3000 { b = $1 } END { printf "%.2f", log(a / b) / log(30) }' "$T/counts")
like "  counts fall as rank^-$slope from rank 100 to 3000" "$(awk -v s="$slope" 'BEGIN { if (s >= 0.4 && s <= 1) print "yes" }')" yes
distinct=$(($(wc -l < "$T/tr.tsv") - 1))
like "  distinct tracks fewer than rows and than the universe" "$([ "$distinct" -lt 20000 ] && [ "$distinct" -gt 5000 ] && echo yes)" yes
titles=$(awk -F'\t' 'NR > 1 { print $2 }' "$T/nm.tsv" | sort -u | wc -l)
like "  titles from a small vocabulary ($titles)" "$([ "$titles" -ge 40 ] && [ "$titles" -le 240 ] && echo yes)" yes
ok "the same seed, one slice" mpd-synth "${syn[@]}" --slice-size 2000 --plain -o "$T/b"
ok "  ingested: the same tracks and names" mpd-ingest --tracks "$T/tr2.tsv" --names "$T/nm2.tsv" -o "$T/pl2.ts" "$T/b"
is "  tracks.tsv identical" "$(cmp "$T/tr.tsv" "$T/tr2.tsv" && echo same)" same
is "  names.tsv identical" "$(cmp "$T/nm.tsv" "$T/nm2.tsv" && echo same)" same
ok "a second run" mpd-synth "${syn[@]}" --slice-size 500 -o "$T/c"
is "  the same bytes" "$(for f in "$T"/a/*; do cmp "$f" "$T/c/${f##*/}" || echo "$f differs"; done; echo done)" done
ok "another seed" mpd-synth --scale 0.002 --universe 20000 --seed 8 --slice-size 500 -o "$T/d"
is "  other playlists" "$(cmp -s "$T/a/mpd.slice.0-499.json.zst" "$T/d/mpd.slice.0-499.json.zst" && echo same || echo other)" other
fails "an input is refused" 2 "no input: the collection is invented" mpd-synth -o "$T/e" extra
fails "no -o" 2 "-o DIR is required" mpd-synth --scale 0.001
fails "a scale of 0" 2 "--scale" mpd-synth --scale 0 -o "$T/e"

# the bench-scale chain on 1,000 playlists, two models and the re-ranker
if [ -x /usr/bin/time ]; then
  out=$(env BIN="$BIN" SP_SCALE_OUT="$T/scale" BENCH_SCALE=0.001 BENCH_SCALE_SEED=1 BENCH_SCALE_MODELS='cooc itemknn' \
        BENCH_SCALE_TRAIN_OPTS= BENCH_SCALE_RERANK_OPTS='--trees 5 --threads 1' BENCH_SCALE_VAL_TEST=30 BENCH_MEM_GB=24 SP_SCALE_REAL= \
        bash "$ROOT/pipelines/bench-scale.sh" 2> "$T/.err")
  is "bench-scale chain on scale 0.001: exit 0" "$?" 0
  cp "$T/.err" "$T/chain.err"
  sanitized "bench-scale chain"
  for s in synth ingest split split-val cooc cooc/val itemknn itemknn/val rerank-fit rerank-apply rec-eval; do
    like "  table row $s: wall s and peak MB" "$out" "^$s +[0-9]+\\.[0-9] +[0-9]+\\.[0-9] +[0-9]+ +[0-9]+ +[0-9]+  (yes|at scale 1 maybe not: )"
  done
  like "  the collection and the queries" "$out" "mpd-synth --scale 0.001: 1000 playlists, [0-9]+ rows, [0-9]+ distinct tracks; [0-9]+ test queries"
  like "  the machine's load" "$out" "machine: [0-9]+ cores, load [0-9.]+"
  for m in cooc itemknn rerank; do like "  rec-eval scored $m" "$out" "^$m +all +[0-9]+ +0\\.[0-9]+"; done
else skip "bench-scale chain" "no /usr/bin/time"; fi
