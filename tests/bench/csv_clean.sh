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
# csv-clean runs with its default --threads (the file in parts at once) and
# with --threads 1; CPU time (user + sys) is printed beside the wall time, with
# the load average, because on a shared machine wall times say little.
. "$(dirname "$0")/prologue.bash"
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
minof() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a < b) ? a : b}'; }
# best wall and best CPU (user + sys) of $REPS runs of csv-clean "$@"
time_sp() {
  local r bw= bc= w u s
  for ((r = 0; r < REPS; r++)); do
    { TIMEFORMAT='%R %U %S'; time "$BIN/csv-clean" "$@" --key track_id --cols $COLS -o "$W/out.ts" "$CSV" 2>"$W/sp.err"; } 2>"$W/time"
    read -r w u s < "$W/time"
    bw=$(minof "$w" "$bw")
    bc=$(minof "$(awk -v u="$u" -v s="$s" 'BEGIN{print u + s}')" "$bc")
  done
  echo "$bw $bc"
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r sp1 spc1 < <(time_sp --threads 1)
read -r sp spc < <(time_sp)
kept=$(grep -o '[0-9]* out' "$W/sp.err" | cut -d' ' -f1)

PYCODE="
import time
import pandas
t = time.perf_counter()
c = time.process_time()
cols = '$COLS'.split(',')
d = pandas.read_csv('$CSV')
x = d.drop_duplicates('track_id')[cols].to_numpy('float32')
print(time.perf_counter() - t, time.process_time() - c, x.shape[0])
"
inproc= whole= pcpu=
for ((r = 0; r < REPS; r++)); do
  t0=$(now)
  read -r t tc n < <("$PY" -c "$PYCODE")
  tw=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b - a}')
  inproc=$(minof "$t" "$inproc")
  pcpu=$(minof "$tc" "$pcpu")
  whole=$(minof "$tw" "$whole")
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$n" = "$kept" ] || echo "bench csv-clean: WARNING: pandas kept $n rows, csv-clean $kept"

threads=$(grep -c ^processor /proc/cpuinfo)
awk -v sp="$sp" -v pi="$inproc" -v pw="$whole" -v rows="$rows" -v kept="$kept" -v mb="$mb" -v c="$COPIES" \
    -v spc="$spc" -v sp1="$sp1" -v spc1="$spc1" -v pc="$pcpu" -v l0="$load0" -v l1="$load1" -v nt="$threads" 'BEGIN{
  what = sprintf("%d rows (%d MB, spotify_songs.csv x%d stacked), %d kept", rows, mb, c, kept)
  printf "bench csv-clean %s: songpipe %.3f s, pandas in-process %.3f s, ratio %.2f x (pandas takes %.1f x as long)\n", what, sp, pi, sp / pi, pi / sp
  printf "bench csv-clean %s: songpipe %.3f s, pandas with python start-up %.3f s, ratio %.2f x (pandas takes %.1f x as long)\n", what, sp, pw, sp / pw, pw / sp
  printf "bench csv-clean CPU (user+sys): songpipe %.3f s (%d processors; --threads 1: %.3f s CPU, %.3f s wall), pandas %.3f s: pandas takes %.1f x the CPU time (%.1f x with --threads 1)\n", spc, nt, spc1, sp1, pc, pc / spc, pc / spc1
  printf "bench csv-clean load average before / after: %s / %s\n", l0, l1
}'
