#!/usr/bin/env bash
# bench/train_supervised.sh - the supervised similarity style (train-mlp
# --pairs, InfoNCE with in-batch negatives and the logQ correction) against
# the same network, loss, sampling and optimiser in PyTorch (Debian
# python3-torch, CPU): seconds per epoch (training pass plus validation
# pass), same batch, same thread count.
#
# Data: data/spotify_songs.csv (28,356 tracks) through csv-clean, normalize
# and pool --concat: 12 z-scored features plus the artist's mean profile (24
# inputs); playlists: the CSV's, plus the MPD's from MPD_DIR when present
# (../shared/data/mpd/soundscout-followers10), through members.  PyTorch
# reads the very same floats and membership (tests/ts_read.py) and runs the
# idiomatic loop: the tables as tensors, per epoch a permutation of the
# training entries, the positives drawn with torch, one forward of the 2B
# rows, F.normalize, a masked cross-entropy, Adam.
# Ratio = PyTorch seconds per epoch / songpipe's (above 1: songpipe faster).
# User CPU seconds are printed too (the machine may be shared: see the load).
# Env: BIN, PY, EPOCHS (default 3), THREADS (1), BATCH (256), MPD_DIR.
. "$(dirname "$0")/prologue.bash"
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-1}
BATCH=${BATCH:-256}
MPD_DIR=${MPD_DIR:-$ROOT/../shared/data/mpd/soundscout-followers10}
CSV=$ROOT/data/spotify_songs.csv
[ -f "$CSV" ] || { echo "bench train_supervised: skipped: no data/spotify_songs.csv"; exit 0; }
"$PY" -c "import torch, numpy" 2>/dev/null || { echo "bench train_supervised: skipped: python3-torch missing"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W ROOT EPOCHS THREADS BATCH
FEAT=valence,year:track_album_release_date,acousticness,danceability,duration_ms,energy,instrumentalness,key,liveness,loudness,speechiness,tempo
"$BIN/csv-clean" --key track_id --cols $FEAT --display track_name,track_artist --catalog "$W/songs.tsv" -o "$W/songs.ts" "$CSV" 2>/dev/null
"$BIN/normalize" --method zscore -o "$W/z.ts" "$W/songs.ts" 2>/dev/null
"$BIN/pool" --by track_artist --catalog "$W/songs.tsv" --concat -o "$W/ap.ts" "$W/z.ts" 2>/dev/null
mpd=()
if ls "$MPD_DIR"/*.json* >/dev/null 2>&1; then
  "$BIN/mpd-ingest" --tracks "$W/tracks.tsv" -o "$W/pl.ts" -- "$MPD_DIR" 2>/dev/null
  mpd=(--mpd "$W/pl.ts" --mpd-tracks "$W/tracks.tsv")
fi
"$BIN/members" --catalog "$W/songs.tsv" --csv "$CSV" "${mpd[@]}" --holdout 0.2 -o "$W/members.ts" 2>/dev/null

load=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/time -f %U -o "$W/sp.user" "$BIN/train-mlp" -q --threads "$THREADS" --pairs "$W/members.ts" \
  --layers 256,64 --act relu --loss infonce --temperature 0.1 --optim adam --lr 1e-3 --batch "$BATCH" \
  --epochs "$EPOCHS" --patience 0 --val 0.2 --seed 1 -o "$W/sup.model" --history "$W/sup.hist" "$W/ap.ts"
sp=$("$BIN/to-csv" "$W/sup.hist" | awk -F, 'NR > 1 { s += $6; n++ } END { printf "%.4f", s / n }')
sp_user=$(awk -v e="$EPOCHS" '{ printf "%.4f", $1 / e }' "$W/sp.user")

"$PY" - "$sp" "$sp_user" "$load" <<'EOF'
import os, sys, time
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests"))
import numpy as np, torch, ts_read
import torch.nn as nn
import torch.nn.functional as F
W = os.environ["W"]
EPOCHS, THREADS, B = int(os.environ["EPOCHS"]), int(os.environ["THREADS"]), int(os.environ["BATCH"])
torch.set_num_threads(THREADS)
torch.manual_seed(1)
hdr, keys, data = ts_read.load(f"{W}/ap.ts")
X = data.astype(np.float64)
X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)   # train-mlp standardises its inputs
row = {k: i for i, k in enumerate(keys)}
_, mkeys, mdata = ts_read.load(f"{W}/members.ts")
song = torch.tensor([row[k] for k in mkeys])
lst = torch.tensor(mdata.reshape(-1).astype(np.int64))
# whole playlists held out for validation (20%), as train-mlp --val 0.2
L = int(lst.max()) + 1
sizes = torch.bincount(lst, minlength=L)
lists = torch.nonzero(sizes >= 2).reshape(-1)
lists = lists[torch.randperm(len(lists))]
nval = round(0.2 * len(lists))
is_val = torch.zeros(L, dtype=torch.bool)
is_val[lists[:nval]] = True
order = torch.argsort(lst, stable=True)
song, lst = song[order], lst[order]
start = torch.zeros(L + 1, dtype=torch.long)
start[1:] = torch.cumsum(sizes, 0)
tr = torch.nonzero(~is_val[lst] & (sizes[lst] >= 2)).reshape(-1)
va = torch.nonzero(is_val[lst]).reshape(-1)
count = torch.bincount(song[tr], minlength=len(X)).clamp(min=1).float()
logq = torch.log(count / len(tr))

def positives(e):
    """a random other entry of each entry's playlist (a retry when it is the same song)"""
    l = lst[e]
    n = sizes[l]
    p = song[start[l] + (torch.rand(len(e)) * n).long()]
    again = p == song[e]
    p2 = song[start[l] + (torch.rand(len(e)) * n).long()]
    p = torch.where(again, p2, p)
    keep = p != song[e]
    return song[e][keep], p[keep]

net = nn.Sequential(nn.Linear(X.shape[1], 256), nn.ReLU(), nn.Linear(256, 64))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
eye_cache = {}

def loss_of(a, p):
    m = len(a)
    e = net(X[torch.cat([a, p])])
    u, v = F.normalize(e[:m], dim=1), F.normalize(e[m:], dim=1)
    s = u @ v.T / 0.1 - logq[p][None, :]
    same = (p[:, None] == p[None, :])
    if m not in eye_cache: eye_cache[m] = torch.eye(m, dtype=torch.bool)
    s = s.masked_fill(same & ~eye_cache[m], float("-inf"))
    return F.cross_entropy(s, torch.arange(m))

va_a, va_p = positives(va)
walls, cpus = [], []
for ep in range(EPOCHS):
    t0, c0 = time.perf_counter(), time.process_time()
    net.train()
    a_all, p_all = positives(tr[torch.randperm(len(tr))])
    for i in range(0, len(a_all), B):
        a, p = a_all[i:i + B], p_all[i:i + B]
        if len(a) < 2: break
        opt.zero_grad()
        loss_of(a, p).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        for i in range(0, len(va_a), B):
            if len(va_a) - i >= 2: loss_of(va_a[i:i + B], va_p[i:i + B])
    walls.append(time.perf_counter() - t0)
    cpus.append(time.process_time() - c0)
sp, sp_user, load = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
pt, pt_user = sum(walls) / len(walls), sum(cpus) / len(cpus)
print(f"bench train_supervised: {len(tr)} training entries, {len(va_a)} validation pairs, batch {B}, "
      f"{THREADS} thread(s), {EPOCHS} epochs; load average before: {load}")
print(f"  supervised (infonce+logQ, 24->256->64)  songpipe {sp:.3f} s/epoch  PyTorch {pt:.3f} s/epoch  "
      f"ratio {pt / sp:.2f}x (PyTorch/songpipe; floor 2x)")
print(f"  user CPU per epoch: songpipe {sp_user:.3f} s (whole process, loading included)  PyTorch {pt_user:.3f} s "
      f"(loop only)  ratio {pt_user / sp_user:.2f}x")
EOF
