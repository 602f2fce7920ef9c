#!/usr/bin/env bash
# bench/rerank.sh - the re-ranker's training time (mpd-rerank: XGBoost's C
# API, rank:pairwise) against python3-xgboost training the same model on the
# same matrix: mpd-rerank --features writes the candidates' features and
# labels, Python builds the DMatrix with the same query groups and trains
# with the same parameters (hist, rank:pairwise (the default), depth 6, eta 0.1, seed, threads).
# Both times cover the matrix, the groups and the boosting rounds.  The data
# are the invented playlists of tests/data/mpd/synth.awk, bigger (N
# playlists, N/10 artists), with pop and cooc as generators.
# Ratio = songpipe time / reference time (below 1: songpipe is faster).
# Env: BIN, PY, RERANK_N (playlists, default 2000), RERANK_TREES (100), RERANK_THREADS (2).
. "$(dirname "$0")/prologue.bash"
N=${RERANK_N:-2000}
TREES=${RERANK_TREES:-100}
THREADS=${RERANK_THREADS:-2}
"$PY" -c 'import xgboost' 2>/dev/null || { echo "bench rerank: skipped: no python3-xgboost for $PY (make deps EXTRA_DEB_PKGS=python3-xgboost)"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir "$W/slices"
awk -v N="$N" -v ARTISTS=$((N / 10)) -v SEED=1 -f "$ROOT/tests/data/mpd/synth.awk" > "$W/slices/mpd.slice.0-$((N - 1)).json"
"$BIN/mpd-ingest" --tracks "$W/tr.tsv" --names "$W/nm.tsv" -o "$W/pl.ts" "$W/slices" 2>/dev/null
"$BIN/mpd-split" --ks 0,1,5 --test-frac 0.25 --max-test 100000 --seed 2 --names "$W/nm.tsv" --queries "$W/q.tsv" --seeds "$W/s.ts" \
  --truth "$W/t.ts" -o "$W/train.ts" "$W/pl.ts" 2>/dev/null
gens=()
for m in pop cooc; do
  "$BIN/mpd-recommend" --model $m --train "$W/train.ts" --names "$W/nm.tsv" --tracks "$W/tr.tsv" --queries "$W/q.tsv" \
    --seeds "$W/s.ts" -o "$W/r-$m.ts" 2>/dev/null
  gens+=(--gen "$m=$W/r-$m.ts")
done
"$BIN/mpd-rerank" --train "$W/train.ts" --names "$W/nm.tsv" --tracks "$W/tr.tsv" --queries "$W/q.tsv" --seeds "$W/s.ts" "${gens[@]}" \
  --truth "$W/t.ts" --trees "$TREES" --threads "$THREADS" --seed 1 --features "$W/features.ts" --save "$W/m.json" 2>"$W/fit.err"
sp=$(sed -n 's/.*training time \([0-9.]*\) s.*/\1/p' "$W/fit.err")
rows=$(sed -n 's/.*features of \([0-9]*\) candidates.*of \([0-9]*\) queries.*/\1 rows, \2 queries/p' "$W/fit.err")
ref=$(PYTHONPATH="$ROOT/tests" "$PY" - "$W/features.ts" "$TREES" "$THREADS" <<'X'
import sys, time
import numpy as np
import xgboost as xgb
import ts_read
hdr, keys, data = ts_read.load(sys.argv[1])
X, y = data[:, :-1], data[:, -1]
# one group per run of equal keys (a query's candidates are contiguous)
starts = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
groups = np.diff(starts + [len(keys)])
params = {"objective": "rank:pairwise", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "min_child_weight": 1,
          "seed": 1, "nthread": int(sys.argv[3]), "eval_metric": "ndcg@500"}
t0 = time.perf_counter()
d = xgb.DMatrix(X, label=y, missing=np.nan)
d.set_group(groups)
xgb.train(params, d, num_boost_round=int(sys.argv[2]))
print("%.3f" % (time.perf_counter() - t0))
X
)
echo "rerank fit ($rows, $TREES trees, $THREADS threads): mpd-rerank ${sp} s, python3-xgboost ${ref} s, ratio $(awk -v a="$sp" -v b="$ref" 'BEGIN{printf "%.2f", a / b}')"
