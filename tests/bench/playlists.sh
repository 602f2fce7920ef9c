#!/usr/bin/env bash
# bench/playlists.sh - playlist continuation on the shared MPD files (never
# copied into the repository; skipped when absent):
#   ingest  mpd-ingest (zstd + cJSON) against python3 json.loads of the same
#           decompressed text building the same vocabulary and rows;
#   cooc    the co-occurrence model: build time, and queries per second,
#           against scipy.sparse (C = A^T A, scores = C[seeds].sum(0),
#           argpartition top 500), the tool a Python user would reach for.
#           "build" is mpd-recommend's CSR index (it never forms C) against
#           scipy forming C; "counts" is mpd-train --model cooc forming the
#           upper triangle of C and writing it as a tensor stream;
#   eval    rec-eval playlists/s against the challenge formulas in numpy-free
#           Python (as metrics.py computes them) on the same recommendations.
# Ratio = songpipe time / reference time (below 1: songpipe is faster), except
# ingest's, which is reference time / songpipe time (above 1: faster).
# Env: BIN, PY, SHARED, MPD_DIR.
. "$(dirname "$0")/prologue.bash"
MPD_DIR=${MPD_DIR:-$SHARED/mpd/soundscout-followers10}
ls "$MPD_DIR"/*.json* >/dev/null 2>&1 || { echo "bench playlists: skipped: no MPD slices in $MPD_DIR"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }

# ---- ingest ----
# wall and CPU (user+sys) seconds of each, with the load average: wall times
# mean little when other work shares the cores.  songpipe -j 1 reads, parses
# and ingests one slice after the other; -j 2 reads and parses the next slice
# on a second thread while one is ingested.
timed() {   # OUT CMD...: "wall cpu" of CMD into OUT, its stderr into OUT.err
  local out=$1; shift
  /usr/bin/time -o "$out" -f '%e %U %S' "$@" 2>"$out.err" >/dev/null || { cat "$out.err" >&2; return 1; }
  awk '{ print $1, $2 + $3 }' "$out" > "$out.t" && mv "$out.t" "$out"
}
load() { cut -d' ' -f1 /proc/loadavg; }
timed "$W/j1" "$BIN/mpd-ingest" -j 1 --tracks "$W/tracks.tsv" --names "$W/names.tsv" -o "$W/pl.ts" "$MPD_DIR"
timed "$W/j2" "$BIN/mpd-ingest" -j 2 --tracks "$W/tracks.tsv" --names "$W/names.tsv" -o "$W/pl.ts" "$MPD_DIR"
mb=$(grep -o '[0-9.]* MB of JSON' "$W/j2.err" | cut -d' ' -f1)
read -r sw1 sc1 <"$W/j1"; read -r sw2 sc2 <"$W/j2"
if command -v zstd >/dev/null; then
  for f in "$MPD_DIR"/*.json*; do case $f in *.zst) zstd -dcq "$f";; *) cat "$f";; esac > "$W/$(basename "${f%.zst}")"; done
  cat > "$W/ref.py" <<'X'
import json, sys
vocab, rows = {}, []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        d = json.loads(f.read())
    for p in d["playlists"]:
        for t in p["tracks"]:
            rows.append((p["pid"], vocab.setdefault(t["track_uri"], len(vocab))))
X
  # the reference reads already-decompressed files: its time excludes zstd
  timed "$W/py" "$PY" "$W/ref.py" "$W"/*.json
  read -r rw rc <"$W/py"
  for j in 1 2; do
    eval "sw=\$sw$j sc=\$sc$j"
    echo "bench ingest -j $j ($mb MB JSON): songpipe wall $sw s ($(awk -v m="$mb" -v t="$sw" 'BEGIN{printf "%.0f", m / t}') MB/s, zstd included), CPU $sc s; python json wall $rw s, CPU $rc s (decompressed input); ratio wall $(ratio "$rw" "$sw") x, CPU $(ratio "$rc" "$sc") x (load $(load))"
  done
else
  echo "bench ingest ($mb MB JSON): songpipe -j 1 wall $sw1 s, CPU $sc1 s; -j 2 wall $sw2 s, CPU $sc2 s; reference skipped: no zstd command"
fi

# ---- co-occurrence ----
"$BIN/mpd-split" --names "$W/names.tsv" --queries "$W/q.tsv" --seeds "$W/s.ts" --truth "$W/t.ts" -o "$W/train.ts" "$W/pl.ts" 2>/dev/null
t0=$(now)
"$BIN/mpd-recommend" --model cooc --train "$W/train.ts" --names "$W/names.tsv" --queries "$W/q.tsv" --seeds "$W/s.ts" -o "$W/cooc.ts" 2>"$W/cooc.err"
t1=$(now)
build=$(grep -o 'built in [0-9.]*' "$W/cooc.err" | cut -d' ' -f3)
qps=$(grep -o '([0-9]* queries/s)' "$W/cooc.err" | tr -d '(' | cut -d' ' -f1)
sp=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
nq=$(($(wc -l < "$W/q.tsv") - 1))
if "$PY" -c 'import scipy.sparse, numpy' 2>/dev/null; then
  "$BIN/to-csv" --no-header "$W/train.ts" > "$W/train.csv"
  "$BIN/to-csv" --no-header "$W/s.ts" > "$W/seeds.csv"
  out=$("$PY" - "$W/train.csv" "$W/seeds.csv" "$W/q.tsv" <<'X'
import sys, time, numpy as np, scipy.sparse as sp
pid, tr = np.loadtxt(sys.argv[1], delimiter=",", usecols=(0, 1), dtype=np.int64, unpack=True)
t0 = time.perf_counter()                        # both sides: build time after loading
_, row = np.unique(pid, return_inverse=True)
n = int(tr.max()) + 1
A = sp.csr_matrix((np.ones(len(tr), np.float32), (row, tr)), shape=(row.max() + 1, n))
A.data[:] = 1                                   # distinct tracks per playlist
C = (A.T @ A).tocsr()
t1 = time.perf_counter()
seeds = {}
for line in open(sys.argv[2]):
    q, t, _ = line.rstrip("\n").split(",")
    seeds.setdefault(q, []).append(int(t))
queries = [l.split("\t")[0] for l in open(sys.argv[3]).read().splitlines()[1:]]
for q in queries:
    s = [t for t in seeds.get(q, []) if t < n]
    if not s:
        continue
    score = np.asarray(C[s].sum(0)).ravel()
    score[s] = -1
    top = np.argpartition(-score, 500)[:500]
    top = top[np.argsort(-score[top], kind="stable")]
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
X
)
  rb=${out% *}; rq=${out#* }
  echo "bench cooc build: songpipe $build s (CSR index, C not formed), scipy A^T A $rb s, ratio $(ratio "$build" "$rb") x"
  t0=$(now)
  "$BIN/mpd-train" --model cooc -o "$W/cooc-model.ts" "$W/train.ts" 2>"$W/counts.err"
  t1=$(now)
  ct=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
  echo "bench cooc counts: songpipe mpd-train --model cooc $ct s ($(grep -o '[0-9]* pairs' "$W/counts.err"), C[a,b] a<=b written and compressed), scipy A^T A in memory $rb s, ratio $(ratio "$ct" "$rb") x"
  echo "bench cooc $nq queries: songpipe $sp s whole command ($qps queries/s), scipy queries alone $rq s, ratio $(ratio "$sp" "$rq") x"
else
  echo "bench cooc build: songpipe $build s; $nq queries: $sp s ($qps queries/s); reference skipped: no scipy"
fi

# ---- evaluation ----
t0=$(now)
"$BIN/rec-eval" --truth "$W/t.ts" --queries "$W/q.tsv" "$W/cooc.ts" > /dev/null 2>&1
t1=$(now)
sp=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
"$BIN/to-csv" --no-header "$W/cooc.ts" > "$W/recs.csv"
"$BIN/to-csv" --no-header "$W/t.ts" > "$W/truth.csv"
t0=$(now)
"$PY" - "$W/recs.csv" "$W/truth.csv" 2>/dev/null <<'X'
import sys, math
from collections import OrderedDict
def load(p):
    d = {}
    for line in open(p):
        q, t = line.split(",")[:2]
        d.setdefault(q, []).append(int(t))
    return d
R, G = load(sys.argv[1]), load(sys.argv[2])
def ndcg(g, r, k=500):
    r = list(OrderedDict.fromkeys(r[:k])); gs = set(g)
    dcg = sum((x in gs) / math.log2(i + 2) for i, x in enumerate(r))
    return dcg / sum(1 / math.log2(i + 2) for i in range(len(set(g[:k]))))
tot = [0, 0, 0]
for q, g in G.items():
    r = R.get(q, [])[:500]; gs = set(g)
    tot[0] += len(set(r[:len(g)]) & gs) / len(g)
    tot[1] += ndcg(g, r)
    tot[2] += next((i // 10 for i, x in enumerate(r) if x in gs), 51)
print([x / len(G) for x in tot], file=sys.stderr)
X

t1=$(now)
ref=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
echo "bench eval $nq playlists: songpipe $sp s ($(awk -v n="$nq" -v t="$sp" 'BEGIN{printf "%.0f", n / t}') playlists/s), python $ref s, ratio $(ratio "$sp" "$ref") x"

# ---- training: one epoch of the neural model (one example per playlist),
# with OpenBLAS's SSE3 Prescott kernels (what Debian's OpenBLAS 0.3.21 falls
# back to on CPUs it does not recognise; mpd-train then re-executes itself
# with a better OPENBLAS_CORETYPE, common/cli.c cli_blas_tune, so it is forced
# here) and with OPENBLAS_CORETYPE=SkylakeX ----
for ct in Prescott SkylakeX; do
  if [ "$ct" = SkylakeX ] && ! grep -q avx512f /proc/cpuinfo; then echo "bench train SkylakeX: skipped: no avx512f"; continue; fi
  set -- OPENBLAS_CORETYPE=$ct
  env "$@" "$BIN/mpd-train" --epochs 1 --samples 1 --valid-frac 0 \
    -o "$W/model.ts" "$W/train.ts" 2>"$W/train.err"
  line=$(grep 'epoch 1:' "$W/train.err" | sed 's/.*, \([0-9.]* s (.*examples\/s)\)/\1/')
  echo "bench train epoch ($ct coretype): songpipe $line; no PyTorch reference in this script yet"
done
