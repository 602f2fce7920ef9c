#!/usr/bin/env bash
# bench/csv_clean.sh - CSV to a numeric table: csv-clean against
# pandas.read_csv on the same file, doing the same work: parse every row,
# keep the 13 numeric feature columns, drop repeated track ids (first kept),
# produce float32 values (csv-clean also compresses and writes its tensor).
#
# Input: shared/data/features/spotify_songs.csv stacked COPIES times (default
# 10: 328,330 rows, ~80 MB) in a scratch folder under $TMPDIR or /tmp; copy k>0
# has "_k" appended to its track ids, so each copy keeps its 4,477 repeats.
# pandas is timed inside Python (read_csv + drop_duplicates + to_numpy, no
# interpreter start-up or import) and as the whole `python3 -c` command.
# Best of $REPS runs.  Ratio = songpipe time / pandas time (below 1: faster).
set -eo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
PY=${PY:-/usr/bin/python3}
SHARED=${SHARED:-$ROOT/../shared/data}
COPIES=${COPIES:-10}
REPS=${REPS:-3}
SRC=$SHARED/features/spotify_songs.csv
[ -f "$SRC" ] || { echo "bench csv-clean: skipped: no $SRC"; exit 0; }
"$PY" -c "import pandas" 2>/dev/null || { echo "bench csv-clean: skipped: python3 pandas missing"; exit 0; }
[ -x "$BIN/csv-clean" ] || { echo "bench csv-clean: no $BIN/csv-clean; run make first" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

CSV=$W/songs_x$COPIES.csv
{ head -1 "$SRC"
  for ((k = 0; k < COPIES; k++)); do
    if [ $k = 0 ]; then tail -n +2 "$SRC"; else tail -n +2 "$SRC" | sed "s/^\([^,]*\),/\1_$k,/"; fi
  done; } > "$CSV"
rows=$(($(wc -l < "$CSV") - 1))
mb=$(awk -v b="$(stat -c %s "$CSV")" 'BEGIN{printf "%.0f", b / 1e6}')
COLS=track_popularity,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms

now() { date +%s.%N; }
best=
for ((r = 0; r < REPS; r++)); do
  t0=$(now)
  "$BIN/csv-clean" --key track_id --cols $COLS -o "$W/out.ts" "$CSV" 2>"$W/sp.err"
  t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b - a}')
  best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (b == "" || a < b) ? a : b}')
done
sp=$best
kept=$(grep -o '[0-9]* out' "$W/sp.err" | cut -d' ' -f1)

PYCODE="
import time
import pandas
t = time.perf_counter()
cols = '$COLS'.split(',')
d = pandas.read_csv('$CSV')
x = d.drop_duplicates('track_id')[cols].to_numpy('float32')
print(time.perf_counter() - t, x.shape[0])
"
inproc= whole=
for ((r = 0; r < REPS; r++)); do
  t0=$(now)
  read -r t n < <("$PY" -c "$PYCODE")
  tw=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b - a}')
  inproc=$(awk -v a="$t" -v b="$inproc" 'BEGIN{print (b == "" || a < b) ? a : b}')
  whole=$(awk -v a="$tw" -v b="$whole" 'BEGIN{print (b == "" || a < b) ? a : b}')
done
[ "$n" = "$kept" ] || echo "bench csv-clean: WARNING: pandas kept $n rows, csv-clean $kept"

awk -v sp="$sp" -v pi="$inproc" -v pw="$whole" -v rows="$rows" -v kept="$kept" -v mb="$mb" -v c="$COPIES" 'BEGIN{
  what = sprintf("%d rows (%d MB, spotify_songs.csv x%d stacked), %d kept", rows, mb, c, kept)
  printf "bench csv-clean %s: songpipe %.3f s, pandas in-process %.3f s, ratio %.2f x (pandas takes %.1f x as long)\n", what, sp, pi, sp / pi, pi / sp
  printf "bench csv-clean %s: songpipe %.3f s, pandas with python start-up %.3f s, ratio %.2f x (pandas takes %.1f x as long)\n", what, sp, pw, sp / pw, pw / sp
}'
