#!/usr/bin/env bash
# bench/train_cnn.sh - train-cnn and embed (CNN) against PyTorch (Debian
# python3-torch, CPU) on seed 003's architecture at width multiplier MULT:
# same tiles, batch, AdamW, thread count.  Reported: seconds per training
# epoch (no validation pass: --val 0 on both sides; the first epoch, with
# its warm-up, left out) and embedding tiles per second (evaluation mode).
# Tiles: the shipped library (data/sounds, 95 tiles of 128x128).  songpipe's times include
# reading the stream (train: spilling it to the mmapped file; embed: writing
# the output); torch's loop is the idiomatic fast one (one tensor, randperm,
# slicing) and its embed time is the forward alone.
# Ratio = PyTorch time / songpipe time (above 1: songpipe is faster).
# Env: BIN, PY, MULT (0.25), BATCH (32), THREADS (2), EPOCHS (3).
. "$(dirname "$0")/prologue.bash"
MULT=${MULT:-0.25}
BATCH=${BATCH:-32}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-3}
"$PY" -c "import torch, numpy" 2>/dev/null || { echo "bench train_cnn: skipped: python3-torch missing"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ls "$ROOT"/data/sounds/*.ogg > "$W/files"
"$BIN/spectro" -q --fmax 8000 < "$W/files" | "$BIN/slice" > "$W/tiles.ts"
"$BIN/to-npy" "$W/tiles.ts" -o "$W/tiles.npy"
N=$("$PY" -c "import numpy; print(numpy.load('$W/tiles.npy').shape[0])")

# songpipe: per-epoch seconds from the history (training pass only, val 0)
"$BIN/train-cnn" -q --width-mult "$MULT" --batch "$BATCH" --threads "$THREADS" --epochs "$EPOCHS" \
  --val 0 --patience 0 --history "$W/h.ts" -o "$W/m.model" "$W/tiles.ts"
SP_EPOCH=$("$BIN/to-csv" "$W/h.ts" | tail -n +2 | awk -F, 'NR > 1 { s += $6; n++ } END { printf "%.3f", n ? s / n : 0 }')
[ "$SP_EPOCH" != "0.000" ] || SP_EPOCH=$("$BIN/to-csv" "$W/h.ts" | tail -n +2 | awk -F, '{ printf "%.3f", $6 }')

# embed: repeat the tiles to ~8 batches' worth of work
t0=$(date +%s.%N)
for i in 1 2 3 4; do "$BIN/embed" -m "$W/m.model" --threads "$THREADS" "$W/tiles.ts" > /dev/null; done
t1=$(date +%s.%N)
SP_EMB=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "%.1f", 4 * n / (b - a) }')

PT=$(ROOT="$ROOT" MULT=$MULT BATCH=$BATCH THREADS=$THREADS EPOCHS=$EPOCHS TILES="$W/tiles.npy" "$PY" - <<'EOF'
import os, sys, time
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "ref"))
from cnn_torch import SongCNN, scaled_widths
th, mult, B, E = int(os.environ["THREADS"]), float(os.environ["MULT"]), int(os.environ["BATCH"]), int(os.environ["EPOCHS"])
torch.set_num_threads(th)
torch.manual_seed(1)
x = torch.from_numpy(np.load(os.environ["TILES"])).unsqueeze(1)
x = (x - x.mean()) / x.std()
n = x.shape[0]
y = torch.arange(n) % 10
net = SongCNN(scaled_widths([64, 64, 128, 256, 512], mult), True, "avg", 2, 40, 10)
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
times = []
for e in range(E):
    t = time.time()
    perm = torch.randperm(n)
    for i in range(0, n, B):
        idx = perm[i:i + B]
        if len(idx) < 2:
            break
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    times.append(time.time() - t)
epoch = sum(times[1:]) / (len(times) - 1) if len(times) > 1 else times[0]
net.eval()
with torch.no_grad():
    t = time.time()
    for r in range(4):
        for i in range(0, n, 64):
            net.embedding(x[i:i + 64])
    emb = 4 * n / (time.time() - t)
print("%.3f %.1f" % (epoch, emb))
EOF
)
read -r PT_EPOCH PT_EMB <<<"$PT"
awk -v s="$SP_EPOCH" -v p="$PT_EPOCH" -v n="$N" -v m="$MULT" -v b="$BATCH" -v t="$THREADS" 'BEGIN {
  printf "bench train-cnn epoch (%d tiles, width x%s, batch %d, %d threads): songpipe %.2f s, pytorch %.2f s, ratio %.2f x\n", n, m, b, t, s, p, p / s }'
awk -v s="$SP_EMB" -v p="$PT_EMB" -v m="$MULT" -v t="$THREADS" 'BEGIN {
  printf "bench embed cnn tiles/s (width x%s, %d threads): songpipe %.1f, pytorch %.1f, ratio %.2f x\n", m, t, s, p, s / p }'
