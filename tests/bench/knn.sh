#!/usr/bin/env bash
# bench/knn.sh - all-pairs top-10 neighbours, songpipe knn against faiss
# (IndexFlatIP on unit vectors for cosine, IndexFlatL2 for euclidean) and
# scikit-learn NearestNeighbors(algorithm='brute'), on the same float32
# vectors, same k, same thread count.
#
# Vectors: the 12 audio features of shared/data/features/spotify_songs.csv,
# track ids deduplicated, min-max scaled to [0,1]; sizes above the 28,356
# real rows are real rows stacked with Gaussian noise (sd 0.01) added.
# Times: "search" = the search alone on both sides (knn --timing, the
# Python call), "command" = the whole knn command (load, search, write).
# Ratio = songpipe time / reference time (below 1: songpipe is faster).
# Env: BIN, PY, SIZES (default "8000 28356 100000 200000"), THREADS (2),
# SKLEARN_MAX (largest size given to scikit-learn, default 28356).
. "$(dirname "$0")/prologue.bash"
SIZES=${SIZES:-8000 28356 100000 200000}
THREADS=${THREADS:-2}
SKLEARN_MAX=${SKLEARN_MAX:-28356}
CSV=$SHARED/features/spotify_songs.csv
[ -f "$CSV" ] || { echo "bench knn: skipped: no $CSV"; exit 0; }
for m in faiss sklearn numpy pandas; do
  "$PY" -c "import $m" 2>/dev/null || { echo "bench knn: skipped: python module $m missing"; exit 0; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W ROOT PY THREADS SKLEARN_MAX

# 1. the vectors, as a CSV for csv-clean (exact float32 text) and raw float32
"$PY" - "$CSV" $SIZES <<'EOF'
import os, sys, numpy as np, pandas as pd
W = os.environ["W"]
cols = ["danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
        "instrumentalness", "liveness", "valence", "tempo", "duration_ms"]
df = pd.read_csv(sys.argv[1]).drop_duplicates("track_id")
x = df[cols].to_numpy(np.float64)
x = (x - x.min(0)) / (x.max(0) - x.min(0))
rng = np.random.default_rng(1)
for n in map(int, sys.argv[2:]):
    reps = -(-n // len(x))
    v = np.concatenate([x] + [x + rng.normal(0, 0.01, x.shape) for _ in range(reps - 1)])[:n]
    v = v.astype(np.float32)
    v.tofile(f"{W}/x{n}.f32")
    with open(f"{W}/x{n}.csv", "w") as f:
        f.write("id," + ",".join(cols) + "\n")
        for i, row in enumerate(v):
            f.write(f"r{i:07d}," + ",".join(repr(float(a)) for a in row) + "\n")
EOF
echo "bench knn: vectors: 12 audio features of spotify_songs.csv (28,356 unique tracks, min-max scaled);"
echo "bench knn: sizes above 28,356 stack real rows with Gaussian noise (sd 0.01); all pairs, k=10, $THREADS threads"

for n in $SIZES; do
  "$BIN/csv-clean" --key id --cols danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms \
    "$W/x$n.csv" >"$W/idx$n.ts" 2>/dev/null
  for metric in cosine euclidean; do
    t0=$(date +%s.%N)
    "$BIN/knn" --index "$W/idx$n.ts" --self -k 10 --metric $metric --threads "$THREADS" --timing \
      -o "$W/nb.ts" 2>"$W/err"
    t1=$(date +%s.%N)
    search=$(sed -n 's/.*search: \([0-9.]*\) s.*/\1/p' "$W/err")
    cmd=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    "$PY" - "$n" "$metric" "$search" "$cmd" <<'EOF'
import os, sys, time
import numpy as np
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests"))
import faiss, ts_read
from sklearn.neighbors import NearestNeighbors
W, threads = os.environ["W"], int(os.environ["THREADS"])
n, metric, sp_search, sp_cmd = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
k = 10
x = np.fromfile(f"{W}/x{n}.f32", dtype=np.float32).reshape(n, 12)
faiss.omp_set_num_threads(threads)
if metric == "cosine":
    xs = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    index = faiss.IndexFlatIP(12)
else:
    xs = x
    index = faiss.IndexFlatL2(12)
index.add(xs)
t0 = time.perf_counter()
D, I = index.search(xs, k + 1)
t_faiss = time.perf_counter() - t0

def drop_self(I):      # the row itself, or the last column when it ties out
    own = I == np.arange(len(I))[:, None]
    own[~own.any(1), -1] = True
    return I[~own].reshape(len(I), k)

If = drop_self(I)
hdr, keys, nb = ts_read.load(f"{W}/nb.ts")
Is = nb[:, :, 0].astype(np.int64)
recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(Is, If)])
# Near-ties at the 10th place may swap either way in float32; a songpipe
# neighbour missing from faiss's list still agrees when its exact (float64)
# score ties faiss's 10th within 1e-6.
def exact(q, js):
    a, b = x[q].astype(np.float64), x[js].astype(np.float64)
    if metric == "cosine":
        return b @ a / (np.linalg.norm(b, axis=1) * np.linalg.norm(a))
    return np.sqrt(((b - a) ** 2).sum(1))
agree = 0
for q in range(n):
    miss = np.setdiff1d(Is[q], If[q])
    agree += k - len(miss)
    if len(miss):
        t = exact(q, If[q][-1:])[0]
        agree += int(np.sum(np.abs(exact(q, miss) - t) <= 1e-6 * max(1.0, abs(t))))
tie_recall = agree / (n * k)
print(f"bench knn {metric} n={n}: songpipe {sp_search:.3f} s, faiss {t_faiss:.3f} s, ratio {sp_search / t_faiss:.2f} x"
      f"  (search only; recall vs faiss {recall:.4f}, counting exact ties {tie_recall:.4f})")
print(f"bench knn {metric} n={n} command: songpipe {sp_cmd:.3f} s (load+search+write), faiss {t_faiss:.3f} s (search), ratio {sp_cmd / t_faiss:.2f} x")
if tie_recall < 0.999:
    print(f"bench knn {metric} n={n}: WARNING recall vs faiss {tie_recall:.4f} < 0.999")
if n <= int(os.environ["SKLEARN_MAX"]):
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric=metric, n_jobs=threads).fit(x)
    t0 = time.perf_counter()
    nn.kneighbors(x)
    t_sk = time.perf_counter() - t0
    print(f"bench knn {metric} n={n}: songpipe {sp_search:.3f} s, sklearn-brute {t_sk:.3f} s, ratio {sp_search / t_sk:.2f} x")
EOF
  done
done
