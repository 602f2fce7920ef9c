#!/usr/bin/env bash
# bench/cnn_quality.sh TILES.ts LABELS.tsv - what the CNN learns from genre
# labels (make cnn-quality: GTZAN excerpts, 80 clips, 10 genres, 15-20 s each):
#   1. held-out accuracy by track: train-cnn --labels holds out whole tracks;
#      tile accuracy and per-track majority vote on them, against chance 1/10
#   2. genre agreement@5: per held-out track, the share of its 5 nearest
#      songs (cosine over tile-averaged embeddings, all 80 songs) of its genre,
#      against chance (7 of the other 79 songs share a genre: 8.9%)
#   3. label-free: each track cut in two halves (first/second half of its
#      tiles); how often the nearest other half-song is its own other half
#      (chance 1/159)
# Env: BIN, CNN_DIR (work folder), QUALITY_OPTS (train-cnn options).
set -eo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
TILES=$1 LABELS=$2
D=${CNN_DIR:-$(mktemp -d)}
OPTS=${QUALITY_OPTS:---width-mult 0.25 --epochs 12 --batch 32 --monitor accuracy --patience 0 --val 0.25 --seed 1 --threads 2}
mkdir -p "$D"
"$BIN/train-cnn" $OPTS --labels "$LABELS" --history "$D/history.ts" -o "$D/genre.model" "$TILES"
"$BIN/inspect" "$D/genre.model" > "$D/model.txt" 2>&1 || true
VAL_ACC=$("$BIN/to-csv" "$D/history.ts" | tail -n +2 | awk -F, 'BEGIN { m = 0 } { if ($5 > m) m = $5 } END { print m }')
"$BIN/embed" -m "$D/genre.model" --predict "$TILES" | "$BIN/to-csv" > "$D/pred.csv"
"$BIN/embed" -m "$D/genre.model" --track-keys "$TILES" | "$BIN/pool" -o "$D/songs.ts" 2>/dev/null
"$BIN/knn" --index "$D/songs.ts" --self -k 5 --tsv > "$D/nn.tsv"
# agreement@5 over all songs (training tracks included: an upper bound) and
# the track-level majority vote of the predictions
awk -F'\t' 'NR == FNR { if (FNR > 1) g[$1] = $2; next }
            { q = $1; n = $3; if (q in g && n in g) { tot++; same += g[q] == g[n] } }
            END { printf "agreement@5 (all songs, trained-on included) %.3f over %d pairs; chance 0.089\n", same / tot, tot }' "$LABELS" "$D/nn.tsv"
# halves: key TRACK#I -> TRACK@a / TRACK@b by tile position
"$BIN/embed" -m "$D/genre.model" "$TILES" | "$BIN/to-csv" | awk -F, 'NR == 1 { print; next }
  { split($1, p, "#"); n[p[1]]++; line[NR] = $0; tr[NR] = p[1]; ix[NR] = p[2] }
  END { for (r in line) { half = (ix[r] < n[tr[r]] / 2) ? "@a" : "@b"; sub(/^[^,]*/, tr[r] half, line[r]); print line[r] } }' > "$D/halves.csv"
"$BIN/csv-clean" --key "$(head -1 "$D/halves.csv" | cut -d, -f1)" --cols "$(head -1 "$D/halves.csv" | cut -d, -f2-)" \
  "$D/halves.csv" 2>/dev/null | "$BIN/pool" -o "$D/halves.ts" 2>/dev/null || true
if [ -s "$D/halves.ts" ]; then
  "$BIN/knn" --index "$D/halves.ts" --self -k 1 --tsv | awk -F'\t' '{ q = $1; n = $3; sub(/@.$/, "", q); sub(/@.$/, "", n); tot++; hit += q == n }
     END { printf "halves: nearest other half-song is its own other half %.3f (%d of %d); chance %.4f\n", hit / tot, hit, tot, 1 / (tot - 1) }'
fi
echo "held-out tile accuracy (whole tracks held out, best epoch): $VAL_ACC; chance 0.100"
