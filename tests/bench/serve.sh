#!/usr/bin/env bash
# bench/serve.sh - load test of serve on loopback with tests/bench/loadgen.c:
# REQUESTS (20000) requests over CONNS (32) keep-alive connections, a mix of
# the endpoints (similar by id and by name, both styles when learned ones
# exist, search with and without typos, a POST list, artist, styles, one
# expected 404), on the 28k songs of data/spotify_songs.csv; prints
# throughput, p50/p99 latency and errors.  Then the same /api/similar query
# mix through a Python web stack (ThreadingHTTPServer + numpy,
# serve_ref.py) when numpy is installed, and the ratio of requests per second.
# SAN=1 runs the ASan+UBSan build and fails on any sanitizer report.
. "$(dirname "$0")/prologue.bash"
REQUESTS=${REQUESTS:-20000}
CONNS=${CONNS:-32}
W=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$W"' EXIT
cc -O2 -pthread -o "$W/loadgen" "$ROOT/tests/bench/loadgen.c"

# the features artifacts, as pipelines/features.mk builds them
F=danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
mkdir -p "$W/out/features"
"$BIN/csv-clean" --key track_id --cols $F --display track_name,track_artist,track_album_release_date,playlist_genre,playlist_subgenre \
  --catalog "$W/out/features/songs.tsv" -o "$W/songs.ts" "$ROOT/data/spotify_songs.csv" 2>/dev/null
"$BIN/normalize" --method minmax --save "$W/stats.json" -o "$W/out/features/songs.norm.ts" "$W/songs.ts" 2>/dev/null
"$BIN/pool" --by track_artist --catalog "$W/out/features/songs.tsv" -o "$W/artists.ts" "$W/songs.ts" 2>/dev/null
"$BIN/normalize" --stats "$W/stats.json" -o "$W/out/features/artists.norm.ts" "$W/artists.ts" 2>/dev/null

ids=$(cut -f1 "$W/out/features/songs.tsv" | sed -n '2~2837p')      # ten songs spread over the table
{
  for id in $ids; do echo "200 GET /api/similar?id=$id&k=10"; done
  echo "200 GET /api/similar?id=Blinding%20Lights%20-%20The%20Weeknd&k=10"
  echo "200 GET /api/search?q=love&limit=10"
  echo "200 GET /api/search?q=yesterdy&limit=8"
  echo "200 POST /api/similar?k=10 [\"Take On Me - a-ha\", \"Africa - Toto\", \"Billie Jean - Michael Jackson\"]"
  echo "200 GET /api/artist?name=Daft%20Punk&k=10"
  echo "200 GET /api/styles"
  echo "404 GET /api/similar?id=zzqqxxyy"
} >"$W/mix.txt"
for id in $ids; do echo "200 GET /api/similar?id=$id&k=10"; done >"$W/similar.txt"

"$BIN/serve" --out "$W/out" --port 0 --threads 2 --max-conns 256 2>"$W/serve.log" &
PID=$!
for _ in $(seq 300); do grep -q 'listening on' "$W/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/^serve: listening on http:[^ ]*:\([0-9]*\)\/ .*/\1/p' "$W/serve.log")
echo "bench serve: $(nproc) cores, serve --threads 2, $REQUESTS requests, $CONNS connections"
echo "mix of $(grep -c '' "$W/mix.txt") requests (similar, search, POST list, artist, styles, 404):"
"$W/loadgen" 127.0.0.1 "$port" "$REQUESTS" "$CONNS" "$W/mix.txt" | sed 's/^/  serve   /' || echo "bench serve: FAIL: errors in the mix"
echo "/api/similar only:"
"$W/loadgen" 127.0.0.1 "$port" "$REQUESTS" "$CONNS" "$W/similar.txt" | tee "$W/c.txt" | sed 's/^/  serve   /'
kill -TERM "$PID"; wait "$PID" || echo "bench serve: FAIL: serve exited $?"; PID=
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$W/serve.log"; then
  echo "bench serve: FAIL: sanitizer report"; grep -m5 -E 'ERROR|runtime error' "$W/serve.log"; exit 1
fi
echo "  no sanitizer report, clean stop"

if "$PY" -c 'import numpy' 2>/dev/null; then
  pport=$((port + 1))
  "$PY" "$ROOT/tests/bench/serve_ref.py" "$W/out/features/songs.norm.ts" "$pport" 2>"$W/py.log" &
  PID=$!
  for _ in $(seq 100); do "$W/loadgen" 127.0.0.1 "$pport" 1 1 "$W/similar.txt" >/dev/null 2>&1 && break; sleep 0.2; done
  "$W/loadgen" 127.0.0.1 "$pport" "$((REQUESTS / 4))" "$CONNS" "$W/similar.txt" | tee "$W/p.txt" | sed 's/^/  python  /'
  c=$(sed -n 's/.*throughput \([0-9]*\) req.*/\1/p' "$W/c.txt"); p=$(sed -n 's/.*throughput \([0-9]*\) req.*/\1/p' "$W/p.txt")
  awk -v c="$c" -v p="$p" 'BEGIN { printf "  ratio: serve %.1fx the requests per second of http.server + numpy\n", c / p }'
else
  echo "  python reference skipped: no numpy (make bench installs python3-numpy)"
fi
