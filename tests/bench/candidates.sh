#!/usr/bin/env bash
# bench/candidates.sh - the candidate models of playlist continuation
# (mpd-recommend --model itemknn|rp3beta|ease|als) on the shared MPD files,
# training and query time against what a Python user would write with the
# Debian packages (python3-scipy, python3-numpy), same parameters:
#   itemknn  scipy.sparse C = A^T A, C / (d_s^a d_t^(1-a) + h) on its
#            nonzeros (a 0.7, h 10); songpipe builds a CSR index and forms a
#            seed's row when a query needs it, so compare build + queries;
#   rp3beta  scipy.sparse W = (P_tp)^a (P_pt)^a / d_t^b (a 0.5, b 0);
#   ease     numpy, Steck's reference code: G = X^T X over the V most played
#            tracks, P = inv(G + L I), B = P / -diag(P) (float32, L 2000);
#   als      numpy/scipy conjugate-gradient ALS (Takacs et al. 2011, as
#            the implicit package does it), every row's CG at once on the
#            whole matrix; songpipe's plmodel_als.c runs it in row blocks.
#            Same factors, alpha, lambda, iterations, CG steps; a query is
#            folded in with numpy.linalg.solve.
# Queries: each takes the seeds' scores, drops the seeds, the top 500 by
# argpartition + argsort.  Times after loading the data on both sides (the
# Python side from CSV; songpipe's "model built/fitted" and "queries in"
# lines).  Ratio = songpipe time / reference time (below 1: songpipe is
# faster); the reference's absolute time is printed beside it.
# Env: BIN, PY, SHARED, MPD_DIR, CAND_EASE_V (4096), CAND_ALS_ITERS (5),
# CAND_MODELS ('itemknn rp3beta ease als').
. "$(dirname "$0")/prologue.bash"
MPD_DIR=${MPD_DIR:-$SHARED/mpd/soundscout-followers10}
EV=${CAND_EASE_V:-4096}
IT=${CAND_ALS_ITERS:-5}
MODELS=${CAND_MODELS:-itemknn rp3beta ease als}
ls "$MPD_DIR"/*.json* >/dev/null 2>&1 || { echo "bench candidates: skipped: no MPD slices in $MPD_DIR"; exit 0; }
"$PY" -c 'import scipy.sparse, numpy' 2>/dev/null ||
  { echo "bench candidates: skipped: no python3-scipy/python3-numpy for $PY (make deps EXTRA_DEB_PKGS='python3-scipy python3-numpy')"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
echo "bench candidates: load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$BIN/mpd-ingest" --tracks "$W/tracks.tsv" --names "$W/names.tsv" -o "$W/pl.ts" "$MPD_DIR" 2>/dev/null
"$BIN/mpd-split" --names "$W/names.tsv" --queries "$W/q.tsv" --seeds "$W/s.ts" --truth "$W/t.ts" -o "$W/train.ts" "$W/pl.ts" 2>/dev/null
"$BIN/to-csv" --no-header "$W/train.ts" > "$W/train.csv"
"$BIN/to-csv" --no-header "$W/s.ts" > "$W/seeds.csv"
nq=$(($(wc -l < "$W/q.tsv") - 1))
for m in $MODELS; do
  set -- --model "$m"
  case $m in ease) set -- "$@" --ease-tracks "$EV";; als) set -- "$@" --iterations "$IT";; esac
  "$BIN/mpd-recommend" "$@" --train "$W/train.ts" --names "$W/names.tsv" --queries "$W/q.tsv" --seeds "$W/s.ts" \
    -o "$W/$m.ts" 2>"$W/$m.err"
  build=$(sed -n 's/.*model built in \([0-9.]*\) s.*/\1/p' "$W/$m.err")
  query=$(sed -n 's/.* queries in \([0-9.]*\) s .*/\1/p' "$W/$m.err")
  out=$("$PY" - "$m" "$W/train.csv" "$W/seeds.csv" "$W/q.tsv" "$EV" "$IT" <<'X'
import sys, time, numpy as np, scipy.sparse as sp
model, EV, IT = sys.argv[1], int(sys.argv[5]), int(sys.argv[6])
pid, tr = np.loadtxt(sys.argv[2], delimiter=",", usecols=(0, 1), dtype=np.int64, unpack=True)
seeds = {}
for line in open(sys.argv[3]):
    q, t, _ = line.rstrip("\n").split(",")
    seeds.setdefault(q, []).append(int(t))
queries = [l.split("\t")[0] for l in open(sys.argv[4]).read().splitlines()[1:]]
t0 = time.perf_counter()
_, row = np.unique(pid, return_inverse=True)
n = int(tr.max()) + 1
A = sp.csr_matrix((np.ones(len(tr), np.float32), (row, tr)), shape=(row.max() + 1, n))
A.data[:] = 1                                   # distinct tracks per playlist
d = np.asarray(A.sum(0)).ravel()                # playlists holding a track
if model == "itemknn":                          # alpha 0.7, shrink 10
    C = (A.T @ A).tocoo()
    keep = C.row != C.col
    r, c, v = C.row[keep], C.col[keep], C.data[keep]
    v = v / (d[r] ** 0.7 * d[c] ** 0.3 + 10)
    S = sp.csr_matrix((v.astype(np.float32), (r, c)), shape=(n, n))
elif model == "rp3beta":                        # alpha 0.5, beta 0
    plen = np.asarray(A.sum(1)).ravel()
    Ptp = sp.diags(1 / np.maximum(d, 1)) @ A.T.tocsr()   # track -> playlist
    Ppt = sp.diags(1 / plen) @ A                         # playlist -> track
    Ptp.data **= 0.5; Ppt.data **= 0.5
    S = (Ptp @ Ppt).tocoo()
    keep = S.row != S.col                       # a seed never scores itself
    S = sp.csr_matrix((S.data[keep], (S.row[keep], S.col[keep])), shape=(n, n))
elif model == "ease":                           # Steck 2019's code, float32
    vocab = np.argsort(-d, kind="stable")[:EV]
    X = A[:, vocab]
    G = (X.T @ X).toarray().astype(np.float32)
    G[np.diag_indices(EV)] += 2000
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    B[np.diag_indices(EV)] = 0
    col = np.full(n, -1); col[vocab] = np.arange(EV)
else:                                           # als: f 128, alpha 40, lambda 10, 3 CG steps
    f, alpha, lam, steps = 128, 40.0, 10.0, 3
    rng = np.random.default_rng(1)
    Y = (rng.random((n, f)) * 0.01).astype(np.float32)
    X = np.zeros((A.shape[0], f), np.float32)
    def half(R, X, Y):                          # the rows of R (binary) against fixed Y
        G = Y.T @ Y + lam * np.eye(f, dtype=np.float32)
        Rc = R.tocoo()
        def Av(V):                              # (G + Y^T (C_u - I) Y) v for every row u
            w = alpha * np.einsum("ij,ij->i", V[Rc.row], Y[Rc.col])
            return V @ G + sp.csr_matrix((w, (Rc.row, Rc.col)), shape=R.shape) @ Y
        b = (1 + alpha) * (R @ Y)
        r = b - Av(X); p = r.copy(); rs = np.einsum("ij,ij->i", r, r)
        for _ in range(steps):
            Ap = Av(p)
            a = rs / np.maximum(np.einsum("ij,ij->i", p, Ap), 1e-20)
            X += a[:, None] * p; r -= a[:, None] * Ap
            rn = np.einsum("ij,ij->i", r, r)
            p = r + (rn / np.maximum(rs, 1e-20))[:, None] * p; rs = rn
        return X
    AT = A.T.tocsr()
    for _ in range(IT):
        X = half(A, X, Y)
        Y = half(AT, Y, X)
    G = Y.T @ Y + lam * np.eye(f, dtype=np.float32)
t1 = time.perf_counter()
for q in queries:
    s = sorted(set(t for t in seeds.get(q, []) if t < n))
    if not s:
        continue
    if model == "ease":
        cs = col[s]; cs = cs[cs >= 0]
        score = np.full(n, -1e30, np.float32)
        score[vocab] = B[cs].sum(0)
    elif model == "als":
        Ys = Y[s]
        x = np.linalg.solve(G + alpha * Ys.T @ Ys, (1 + alpha) * Ys.sum(0))
        score = Y @ x
    else:
        score = np.asarray(S[s].sum(0)).ravel()
    score[s] = -1e30
    top = np.argpartition(-score, 500)[:500]
    top = top[np.argsort(-score[top], kind="stable")]
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
X
)
  rb=${out% *}; rq=${out#* }
  case $m in
    itemknn|rp3beta) what="songpipe CSR index (a seed's row formed at query time), scipy S = similarity matrix";;
    ease) what="V $EV";;
    als) what="128 factors, $IT iterations, 3 CG steps";;
  esac
  echo "bench $m train ($what): songpipe $build s, python $rb s, ratio $(ratio "$build" "$rb") x"
  echo "bench $m $nq queries: songpipe $query s, python $rq s, ratio $(ratio "$query" "$rq") x"
  echo "bench $m train + queries: songpipe $(awk -v a="$build" -v b="$query" 'BEGIN{print a + b}') s, python $(awk -v a="$rb" -v b="$rq" 'BEGIN{print a + b}') s, ratio $(ratio "$(awk -v a="$build" -v b="$query" 'BEGIN{print a + b}')" "$(awk -v a="$rb" -v b="$rq" 'BEGIN{print a + b}')") x"
done
echo "bench candidates: load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
