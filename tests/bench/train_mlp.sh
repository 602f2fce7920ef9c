#!/usr/bin/env bash
# bench/train_mlp.sh - train-mlp against PyTorch (Debian python3-torch, CPU)
# on the seed networks, same data, architecture, batch size, optimiser,
# validation split and thread count: seconds per epoch (training pass plus
# validation pass), and embed's rows per second against a torch forward.
#
# Data: data/spotify_songs.csv through csv-clean (28,356 unique tracks; the
# 12 non-popularity features, popularity, genre/subgenre/artist codes);
# PyTorch reads the very same floats (tests/ts_read.py) and standardises the
# inputs as train-mlp does.  PyTorch's loop is the fast idiomatic one: the
# whole table as one tensor, a randperm per epoch, slicing (no DataLoader).
# embed rows/s: the table stacked to ROWS rows; songpipe's time includes
# reading and writing the streams, torch's is the forward alone.
# Ratio = PyTorch time / songpipe time, or songpipe rows/s / PyTorch rows/s
# (above 1: songpipe is faster).
# Env: BIN, PY, EPOCHS (default 5), CATAE_EPOCHS (2), THREADS (1), ROWS (500000).
. "$(dirname "$0")/prologue.bash"
EPOCHS=${EPOCHS:-5}
CATAE_EPOCHS=${CATAE_EPOCHS:-2}
THREADS=${THREADS:-1}
ROWS=${ROWS:-500000}
CSV=$ROOT/data/spotify_songs.csv
[ -f "$CSV" ] || CSV=$ROOT/../shared/data/features/spotify_songs.csv
[ -f "$CSV" ] || { echo "bench train_mlp: skipped: no spotify_songs.csv"; exit 0; }
"$PY" -c "import torch, numpy" 2>/dev/null || { echo "bench train_mlp: skipped: python3-torch missing"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export W ROOT EPOCHS CATAE_EPOCHS THREADS ROWS
FEAT=valence,year:track_album_release_date,acousticness,danceability,duration_ms,energy,instrumentalness,key,liveness,loudness,speechiness,tempo
NUM=valence,year,acousticness,danceability,duration_ms,energy,instrumentalness,key,liveness,loudness,speechiness,tempo
"$BIN/csv-clean" --key track_id --cols $FEAT,track_popularity --category playlist_genre,playlist_subgenre,track_artist \
  -o "$W/songs.ts" "$CSV" 2>/dev/null

cat > "$W/catae.json" <<EOF
{"inputs": [$(echo $NUM | sed 's/[^,]*/"&"/g')],
 "categorical": [{"column": "track_artist", "dim": 16}, {"column": "playlist_genre", "dim": 4},
                 {"column": "playlist_subgenre", "dim": 8}],
 "layers": [{"units": 64, "act": "relu"}, {"units": 20, "act": "linear", "name": "latent"}, {"units": 64, "act": "relu"}],
 "outputs": [{"loss": "mse", "targets": "inputs"}, {"loss": "ce", "target": "track_artist"},
             {"loss": "ce", "target": "playlist_genre"}, {"loss": "ce", "target": "playlist_subgenre"}]}
EOF

# songpipe: mean seconds per epoch from the history stream
sp_epoch() {
  local name=$1; shift
  "$BIN/train-mlp" -q --threads "$THREADS" --patience 0 --val 0.2 --seed 1 "$@" -o "$W/$name.model" --history "$W/$name.hist" "$W/songs.ts"
  "$BIN/to-csv" "$W/$name.hist" | awk -F, 'NR > 1 { s += $6; n++ } END { printf "%.4f", s / n }'
}
sp_pred=$(sp_epoch pred --inputs $NUM --targets track_popularity --scale-targets --layers 10,8,6,1 \
  --act leaky_relu --loss mae --optim rmsprop --lr 1e-4 --batch 32 --epochs "$EPOCHS")
sp_ae=$(sp_epoch ae --inputs $NUM --autoencoder --layers 25,50,25,12 --act relu --dropout 0.3 \
  --loss mse --optim adam --lr 1e-3 --batch 32 --epochs "$EPOCHS")
sp_cat=$(sp_epoch catae --arch "$W/catae.json" --optim adam --lr 1e-3 --batch 256 --epochs "$CATAE_EPOCHS")

# the stacked table for embed
"$PY" - <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests"))
import numpy as np, ts_read
W, rows = os.environ["W"], int(os.environ["ROWS"])
hdr, keys, x = ts_read.load(f"{W}/songs.ts")
reps = -(-rows // len(x))
with open(f"{W}/big.csv", "w") as f:
    f.write("id," + ",".join(hdr["columns"]) + "\n")
    for r in range(reps):
        for i, row in enumerate(x):
            if r * len(x) + i >= rows: break
            f.write(f"{keys[i]}.{r}," + ",".join(repr(float(v)) for v in row) + "\n")
EOF
"$BIN/csv-clean" --key id --cols $(head -1 "$W/big.csv" | cut -d, -f2-) -o "$W/big.ts" "$W/big.csv" 2>/dev/null
t0=$(date +%s.%N)
"$BIN/embed" -m "$W/pred.model" --layer dense.1 --threads "$THREADS" "$W/big.ts" > "$W/big.emb.ts"
t1=$(date +%s.%N)
sp_embed=$(awk -v a="$t0" -v b="$t1" -v n="$ROWS" 'BEGIN { printf "%.0f", n / (b - a) }')

"$PY" - "$sp_pred" "$sp_ae" "$sp_cat" "$sp_embed" <<'EOF'
import os, sys, time
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests"))
import numpy as np, torch, ts_read
import torch.nn as nn
W = os.environ["W"]
EPOCHS, CATAE_EPOCHS, THREADS = int(os.environ["EPOCHS"]), int(os.environ["CATAE_EPOCHS"]), int(os.environ["THREADS"])
torch.set_num_threads(THREADS)
torch.manual_seed(1)
hdr, keys, data = ts_read.load(f"{W}/songs.ts")
cols = hdr["columns"]
num = ["valence", "year", "acousticness", "danceability", "duration_ms", "energy", "instrumentalness",
       "key", "liveness", "loudness", "speechiness", "tempo"]
X = data[:, [cols.index(c) for c in num]].astype(np.float64)
X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
pop = data[:, cols.index("track_popularity")].astype(np.float64)
Y = torch.tensor(((pop - pop.mean()) / pop.std())[:, None], dtype=torch.float32)
cats = {c: torch.tensor(data[:, cols.index(c)].astype(np.int64)) for c in ("track_artist", "playlist_genre", "playlist_subgenre")}
N = len(X)
perm = torch.randperm(N)
ntr = N - round(0.2 * N)
tr, va = perm[:ntr], perm[ntr:]

def epoch_time(model, opt, step, evaluate, B, epochs):
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        p = tr[torch.randperm(ntr)]
        for i in range(0, ntr, B):
            idx = p[i:i + B]
            opt.zero_grad()
            step(idx).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for i in range(0, len(va), B):
                evaluate(va[i:i + B])
        times.append(time.perf_counter() - t0)
    return sum(times) / len(times)

# predictor (seed 000): 12 -> 10 -> 8 -> 6 -> 1, leaky relu, MAE, RMSprop 1e-4
pred = nn.Sequential(nn.Linear(12, 10), nn.LeakyReLU(), nn.Linear(10, 8), nn.LeakyReLU(),
                     nn.Linear(8, 6), nn.LeakyReLU(), nn.Linear(6, 1))
o = torch.optim.RMSprop(pred.parameters(), lr=1e-4)
f = lambda idx: nn.functional.l1_loss(pred(X[idx]), Y[idx])
t_pred = epoch_time(pred, o, f, f, 32, EPOCHS)

# autoencoder (seed 000): 12 -> 25 -> 50 -> 25 -> 12, dropout 0.3, MSE, Adam
ae = nn.Sequential(nn.Linear(12, 25), nn.ReLU(), nn.Dropout(0.3), nn.Linear(25, 50), nn.ReLU(), nn.Dropout(0.3),
                   nn.Linear(50, 25), nn.ReLU(), nn.Dropout(0.3), nn.Linear(25, 12))
o = torch.optim.Adam(ae.parameters(), lr=1e-3)
f = lambda idx: nn.functional.mse_loss(ae(X[idx]), X[idx])
t_ae = epoch_time(ae, o, f, f, 32, EPOCHS)

# categorical autoencoder (seed 002): numeric + 3 embeddings -> 64 -> 20 -> 64 -> reconstruction
class CatAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.v = {c: int(t.max()) + 1 for c, t in cats.items()}
        self.emb = nn.ModuleDict({"track_artist": nn.Embedding(self.v["track_artist"], 16),
                                  "playlist_genre": nn.Embedding(self.v["playlist_genre"], 4),
                                  "playlist_subgenre": nn.Embedding(self.v["playlist_subgenre"], 8)})
        self.net = nn.Sequential(nn.Linear(12 + 28, 64), nn.ReLU(), nn.Linear(64, 20), nn.Linear(20, 64), nn.ReLU(),
                                 nn.Linear(64, 12 + sum(self.v.values())))
    def forward(self, idx):
        h = torch.cat([X[idx]] + [self.emb[c](cats[c][idx]) for c in self.emb], 1)
        return self.net(h)
    def loss(self, idx):
        out = self(idx)
        l, off = nn.functional.mse_loss(out[:, :12], X[idx]), 12
        for c in self.emb:
            l = l + nn.functional.cross_entropy(out[:, off:off + self.v[c]], cats[c][idx])
            off += self.v[c]
        return l
cae = CatAE()
o = torch.optim.Adam(cae.parameters(), lr=1e-3)
t_cat = epoch_time(cae, o, cae.loss, cae.loss, 256, CATAE_EPOCHS)

# embed: the predictor's 8-wide hidden layer over ROWS rows, batches of 4096;
# "with I/O" also reads the same stream (tests/ts_read.py), standardises,
# and saves the result (.npy), as a user's script would
rows = int(os.environ["ROWS"])
Xb = X.repeat(-(-rows // N), 1)[:rows]
hidden = pred[:4].eval()
t0 = time.perf_counter()
with torch.no_grad():
    for i in range(0, rows, 4096):
        hidden(Xb[i:i + 4096])
torch_rows = rows / (time.perf_counter() - t0)
mu, sd = data[:, [cols.index(c) for c in num]].mean(0), data[:, [cols.index(c) for c in num]].std(0)
t0 = time.perf_counter()
bh, bkeys, bx = ts_read.load(f"{W}/big.ts")
bx = torch.tensor((bx[:, [bh["columns"].index(c) for c in num]] - mu) / sd, dtype=torch.float32)
with torch.no_grad():
    out = torch.cat([hidden(bx[i:i + 4096]) for i in range(0, rows, 4096)])
np.save(f"{W}/torch_emb.npy", out.numpy())
torch_io_rows = rows / (time.perf_counter() - t0)

sp_pred, sp_ae, sp_cat, sp_embed = map(float, sys.argv[1:5])
for what, s, t in (("predictor 12-10-8-6-1 batch 32 rmsprop", sp_pred, t_pred),
                   ("autoencoder 12-25-50-25-12 dropout batch 32 adam", sp_ae, t_ae),
                   ("categorical autoencoder (artist/genre/subgenre ce) batch 256 adam", sp_cat, t_cat)):
    print(f"bench train-mlp {what}, {THREADS} thread(s): songpipe {s:.3f} s/epoch, "
          f"pytorch {torch.__version__} {t:.3f} s/epoch, ratio {t / s:.1f} x")
print(f"bench embed predictor dense.1, {rows} rows, with I/O: songpipe {sp_embed:.0f} rows/s, "
      f"pytorch+ts_read+np.save {torch_io_rows:.0f} rows/s, ratio {sp_embed / torch_io_rows:.2f} x")
print(f"bench embed predictor dense.1, {rows} rows: songpipe {sp_embed:.0f} rows/s (with stream I/O), "
      f"pytorch {torch_rows:.0f} rows/s (forward alone, data in memory), ratio {sp_embed / torch_rows:.2f} x")
EOF
