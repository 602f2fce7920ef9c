#!/usr/bin/env bash
# bench/normalize.sh - normalize against scikit-learn's MinMaxScaler and
# StandardScaler fit_transform on the same table, both reading their input
# and writing their output:
#   binary: normalize IN.ts -o OUT.ts (zstd blocks with keys, two passes)
#           vs numpy.load(IN.npy) -> fit_transform -> numpy.save(OUT.npy)
#           (float32, no keys: the cheapest I/O Python has)
#   csv:    csv-clean | normalize | to-csv  vs  pandas.read_csv ->
#           fit_transform -> DataFrame.to_csv (float_format %.9g, as to-csv)
# Input: shared/data/features/spotify_songs.csv stacked COPIES times (default
# 10: 328,330 rows) with "_<row>" appended to each track id so every row is
# kept, 12 numeric columns, in a scratch folder under $TMPDIR or /tmp.
# Python is timed inside the script (load to save, no interpreter start-up or
# import) and as the whole command.  Best of $REPS runs; ratio = songpipe /
# Python (below 1: songpipe is faster).  Also prints the largest difference
# between the two CSV outputs.
. "$(dirname "$0")/prologue.bash"
COPIES=${COPIES:-10}
REPS=${REPS:-3}
SRC=$SHARED/features/spotify_songs.csv
[ -f "$SRC" ] || { echo "bench normalize: skipped: no $SRC"; exit 0; }
"$PY" -c "import sklearn, pandas" 2>/dev/null || { echo "bench normalize: skipped: python3 sklearn/pandas missing"; exit 0; }
for s in normalize csv-clean to-csv; do
  [ -x "$BIN/$s" ] || { echo "bench normalize: no $BIN/$s; run make first" >&2; exit 1; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
COLS=track_popularity,danceability,energy,key,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms

CSV=$W/songs.csv
{ head -1 "$SRC"
  for ((k = 0; k < COPIES; k++)); do tail -n +2 "$SRC"; done | awk '{ i = index($0, ","); print substr($0, 1, i - 1) "_" NR substr($0, i) }'
} > "$CSV"
"$BIN/csv-clean" --key track_id --cols $COLS -o "$W/in.ts" "$CSV" 2>/dev/null
"$BIN/to-csv" "$W/in.ts" > "$W/clean.csv"          # the same table for both
"$PY" -c "import numpy, pandas; numpy.save('$W/in.npy', pandas.read_csv('$W/clean.csv', index_col=0).to_numpy('float32'))"
rows=$(($(wc -l < "$W/clean.csv") - 1))

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.3f", b - a}'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a < b) ? a : b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }

# best wall time of a songpipe command line
time_sp() {
  local best= t0
  for ((r = 0; r < REPS; r++)); do t0=$(now); bash -c "$1"; best=$(min "$(since "$t0")" "$best"); done
  echo "$best"
}

# prints "in-script whole" best times of a Python program that prints its own time
time_py() {
  local bi= bw= t0 t
  for ((r = 0; r < REPS; r++)); do
    t0=$(now); t=$("$PY" -c "$1"); bw=$(min "$(since "$t0")" "$bw"); bi=$(min "$t" "$bi")
  done
  echo "$bi $bw"
}

py_npy() {     # $1 = scaler class
  cat <<EOF
import time, numpy
from sklearn.preprocessing import $1
t = time.perf_counter()
x = numpy.load('$W/in.npy')
y = $1().fit_transform(x)
numpy.save('$W/py.npy', y)
print('%.3f' % (time.perf_counter() - t))
EOF
}

py_csv() {
  cat <<EOF
import time, pandas
from sklearn.preprocessing import $1
t = time.perf_counter()
d = pandas.read_csv('$W/clean.csv', index_col=0, dtype={c: 'float32' for c in '$COLS'.split(',')})
d[d.columns] = $1().fit_transform(d.to_numpy())
d.to_csv('$W/py.csv', float_format='%.9g')
print('%.3f' % (time.perf_counter() - t))
EOF
}

for m in minmax:MinMaxScaler zscore:StandardScaler; do
  meth=${m%%:*} cls=${m#*:}
  sp=$(time_sp "'$BIN/normalize' --method $meth -o '$W/sp.ts' '$W/in.ts'")
  read -r pi pw < <(time_py "$(py_npy "$cls")")
  echo "bench normalize $meth binary ($rows x 12, spotify_songs x$COPIES): songpipe $sp s, sklearn $cls+numpy.load/save $pi s in-script ($pw s with start-up), ratio $(ratio "$sp" "$pi") x ($(ratio "$sp" "$pw") x)"
  sp=$(time_sp "'$BIN/csv-clean' --key track_id --cols $COLS '$W/clean.csv' 2>/dev/null | '$BIN/normalize' --method $meth | '$BIN/to-csv' > '$W/sp.csv'")
  read -r pi pw < <(time_py "$(py_csv "$cls")")
  diff=$("$PY" -c "
import pandas, numpy
a = pandas.read_csv('$W/sp.csv', index_col=0); b = pandas.read_csv('$W/py.csv', index_col=0)
print('%.2g' % numpy.nanmax(numpy.abs(a.to_numpy() - b.loc[a.index].to_numpy())))")
  echo "bench normalize $meth csv ($rows x 12): songpipe csv-clean|normalize|to-csv $sp s, pandas+sklearn $cls $pi s in-script ($pw s with start-up), ratio $(ratio "$sp" "$pi") x ($(ratio "$sp" "$pw") x); max |difference| $diff"
done
