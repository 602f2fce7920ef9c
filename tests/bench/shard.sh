#!/usr/bin/env bash
# shard.sh - sharded knn all-pairs: 2 local workers (knn --shard I/2
# --threads 1 each, then merge) against one process (knn --threads 2), on
# the shipped Spotify songs; the merge's share of the sharded wall time; and
# a projection (not a measurement) of the wall time for 1M and 10M rows at
# 64 and 512 shards from the measured cost per query-index pair.
. "$(dirname "$0")/prologue.bash"; set -u
CSV=${CSV:-$ROOT/data/spotify_songs.csv}
K=${K:-10}
for s in csv-clean normalize knn merge; do [ -x "$BIN/$s" ] || { echo "bench shard: no $BIN/$s" >&2; exit 1; }; done
[ -f "$CSV" ] || { echo "bench shard: no $CSV" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"
FEAT=danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
"$BIN/csv-clean" --key track_id --cols $FEAT -o s.ts "$CSV" 2>/dev/null
"$BIN/normalize" --method zscore -o idx.ts s.ts
n=$("$BIN/inspect" idx.ts | awk '$1 == "rows" { print $2; exit }')
now() { date +%s.%N; }

t0=$(now); "$BIN/knn" --index idx.ts --self -k $K --threads 2 -o one.ts; t1=$(now)
"$BIN/knn" --index idx.ts --self -k $K --threads 1 --shard 0/2 -o p0.ts & a=$!
"$BIN/knn" --index idx.ts --self -k $K --threads 1 --shard 1/2 -o p1.ts & b=$!
wait $a; wait $b; t2=$(now)
"$BIN/merge" -o merged.ts p0.ts p1.ts; t3=$(now)
cmp -s merged.ts one.ts || { echo "bench shard: merged output differs from the one-process output" >&2; exit 1; }
# per-shard cost alone (one worker, no competition): cost of one query-index pair
t4=$(now); "$BIN/knn" --index idx.ts --self -k $K --threads 1 --shard 0/2 -o p0b.ts; t5=$(now)

awk -v n="$n" -v one="$t0 $t1" -v sh="$t1 $t2" -v mg="$t2 $t3" -v solo="$t4 $t5" -v k="$K" '
function span(s,  a) { split(s, a, " "); return a[2] - a[1] }
BEGIN {
  one = span(one); sh = span(sh); mg = span(mg); solo = span(solo)
  wall = sh + mg
  printf "bench knn all-pairs %d rows, k=%d: songpipe 2 shards x 1 thread + merge %.2f s (merge %.3f s = %.1f%%), one process x 2 threads %.2f s, ratio %.2f x\n",
         n, k, wall, mg, 100 * mg / wall, one, one / wall
  pair = solo / ((n / 2) * n)              # seconds per query-index pair on one core
  mrow = mg / n                           # merge seconds per output row
  printf "bench shard cost: %.3g ns per query-index pair (d=10, one core), merge %.3g us per row\n", pair * 1e9, mrow * 1e6
  split("1000000 10000000", rows, " "); split("64 512", shards, " ")
  for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
    r = rows[i]; s = shards[j]
    t = r * r * pair / s; m = r * mrow
    printf "bench shard projection (not measured): %d rows, %d shards on %d cores: %.0f s per shard + merge %.0f s = %.1f min wall; index %.0f MiB per shard\n",
           r, s, s, t, m, (t + m) / 60, r * 10 * 4 * 2 / 1048576
  }
}'
