#!/usr/bin/env bash
# bench/stats.sh - corr against pandas.DataFrame.corr (pearson, spearman,
# kendall) and pca against sklearn.decomposition.PCA on the same table:
#   songpipe: corr IN.ts -o OUT.ts / pca -k 2 IN.ts -o OUT.ts
#   Python:   numpy.load(IN.npy) -> DataFrame.corr(method) / PCA(2).fit_transform
#             (float32 in, no keys: the cheapest input Python has)
# Input: shared/data/features/spotify_songs.csv stacked COPIES times (default
# 10: 328,330 rows; KCOPIES for kendall, default 3) with uniform noise of
# +-0.5 % of each column's standard deviation added so that the copies are
# not exact ties, 10 audio-feature columns.  Python is timed inside the
# script (load to result, no interpreter start-up or import) and as the whole
# command; songpipe as the whole command (process start-up, reading the
# compressed stream, writing the result), timed with bash's $EPOCHREALTIME.  Best of $REPS runs; ratio = songpipe / Python (below 1: songpipe
# is faster).  Also prints the largest difference between the two results.
. "$(dirname "$0")/prologue.bash"
COPIES=${COPIES:-10}
KCOPIES=${KCOPIES:-3}
REPS=${REPS:-3}
SRC=$SHARED/features/spotify_songs.csv
[ -f "$SRC" ] || SRC=$ROOT/data/spotify_songs.csv
"$PY" -c "import sklearn, pandas" 2>/dev/null || { echo "bench stats: skipped: python3 sklearn/pandas missing"; exit 0; }
for s in corr pca csv-clean to-npy; do
  [ -x "$BIN/$s" ] || { echo "bench stats: no $BIN/$s; run make first" >&2; exit 1; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
COLS=danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms

# the noisy stacked table, written by numpy as CSV; csv-clean makes the
# tensor, and the tensor's rows become the .npy Python reads
make_table() {   # $1 copies, $2 name
  "$PY" - "$SRC" "$1" "$W/$2.csv" "$COLS" <<'EOF'
import sys, numpy as np, pandas as pd
src, copies, out, cols = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
d = pd.read_csv(src)[cols].to_numpy("float64")
rng = np.random.default_rng(7)
x = np.concatenate([d + rng.uniform(-0.005, 0.005, d.shape) * d.std(axis=0) for _ in range(copies)])
pd.DataFrame(x, columns=cols, index=pd.Index(["r%d" % i for i in range(len(x))], name="id")).to_csv(out, float_format="%.9g")
EOF
  "$BIN/csv-clean" --key id --cols $COLS -o "$W/$2.ts" "$W/$2.csv" 2>/dev/null
  "$BIN/to-npy" -o "$W/$2.npy" "$W/$2.ts" 2>/dev/null
}
make_table "$COPIES" big
make_table "$KCOPIES" small
rows() { "$PY" -c "import numpy; print(len(numpy.load('$W/$1.npy')))"; }

since() { local t1=$EPOCHREALTIME; awk -v a="$1" -v b="$t1" 'BEGIN{printf "%.3f", b - a}'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a < b) ? a : b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
time_sp() {
  local best= t0
  # the stage runs from this shell (eval, no extra bash -c): the span is the
  # stage's own process, start-up included
  for ((r = 0; r < REPS; r++)); do t0=$EPOCHREALTIME; eval "$1"; best=$(min "$(since "$t0")" "$best"); done
  echo "$best"
}
time_py() {
  local bi= bw= t0 t
  for ((r = 0; r < REPS; r++)); do
    t0=$EPOCHREALTIME; t=$("$PY" -c "$1"); bw=$(min "$(since "$t0")" "$bw"); bi=$(min "$t" "$bi")
  done
  echo "$bi $bw"
}

for m in pearson spearman kendall; do
  t=big; [ $m = kendall ] && t=small
  sp=$(time_sp "'$BIN/corr' --method $m -o '$W/c.ts' '$W/$t.ts'")
  read -r pi pw < <(time_py "
import time, numpy, pandas
t = time.perf_counter()
r = pandas.DataFrame(numpy.load('$W/$t.npy')).corr(method='$m').to_numpy()
numpy.save('$W/pyc.npy', r)
print('%.3f' % (time.perf_counter() - t))")
  "$BIN/to-npy" -o "$W/spc.npy" "$W/c.ts" 2>/dev/null
  diff=$("$PY" -c "import numpy; print('%.2g' % numpy.abs(numpy.load('$W/spc.npy').reshape(10, 10) - numpy.load('$W/pyc.npy')).max())")
  echo "bench corr $m ($(rows $t) x 10): songpipe $sp s, pandas DataFrame.corr $pi s in-script ($pw s with start-up), ratio $(ratio "$sp" "$pi") x ($(ratio "$sp" "$pw") x); max |difference| $diff"
done

sp=$(time_sp "'$BIN/pca' -k 2 -o '$W/p.ts' '$W/big.ts'")
read -r pi pw < <(time_py "
import time, numpy
from sklearn.decomposition import PCA
t = time.perf_counter()
y = PCA(n_components=2, svd_solver='full').fit_transform(numpy.load('$W/big.npy').astype('float64'))
numpy.save('$W/pyp.npy', y.astype('float32'))
print('%.3f' % (time.perf_counter() - t))")
"$BIN/to-npy" -o "$W/spp.npy" "$W/p.ts" 2>/dev/null
# sklearn's sign convention differs by version: compare each component up to sign
diff=$("$PY" -c "
import numpy
a = numpy.load('$W/spp.npy'); b = numpy.load('$W/pyp.npy')
print('%.2g' % max(min(numpy.abs(a[:, j] - b[:, j]).max(), numpy.abs(a[:, j] + b[:, j]).max()) / numpy.abs(b[:, j]).max() for j in range(2)))")
echo "bench pca k=2 ($(rows big) x 10): songpipe $sp s, sklearn PCA(svd_solver=full) $pi s in-script ($pw s with start-up), ratio $(ratio "$sp" "$pi") x ($(ratio "$sp" "$pw") x); max |difference| / max |score| $diff"
