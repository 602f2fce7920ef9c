# test_serve_browser.sh - the serve page in a real browser: Debian's chromium,
# headless, driven over the DevTools protocol by tests/tools/browser.c
# ($TOOLS/browser, built by `make test`).  It types a song, clicks a
# suggestion, waits for ten results in every style, checks the reasons, no
# sideways scrolling at phone width, and that the screenshot is not blank, and
# gives an audio file to the sounds-like box.  Skips when chromium is absent
# (CI: `make deps EXTRA_DEB_PKGS=chromium`).
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { skip "browser" "no chromium (apt-get install chromium)"; exit 0; }
DRIVER=${TOOLS:-$ROOT/build/rel/tools}/browser
[ -x "$DRIVER" ] || { fail "browser driver" "no $DRIVER: run 'make test' (it builds tests/tools)"; exit 1; }
for b in serve csv-clean normalize pca spectro slice embed pool; do [ -x "$BIN/$b" ] || { skip "browser" "no $BIN/$b"; exit 0; }; done

O=$T/out
mkdir -p "$O/features" "$O/learned"
csv-clean --key track_id --cols danceability,energy,valence,acousticness --catalog "$O/features/songs.tsv" \
  --display track_name,track_artist -o "$T/songs.ts" "$D/knn_songs.csv" 2>/dev/null
normalize -o "$O/features/songs.norm.ts" "$T/songs.ts" 2>/dev/null
cp "$O/features/songs.tsv" "$O/learned/songs.tsv"
pca -k 2 -o "$O/learned/pca.emb.ts" "$O/features/songs.norm.ts" 2>/dev/null
mkdir -p "$O/cnn"
for f in brahms trumpet fishin; do echo "$ROOT/data/sounds/$f.ogg"; done >"$O/cnn/library.list"
spectro -q --fmax 8000 <"$O/cnn/library.list" 2>/dev/null | slice 2>/dev/null |
  embed -m "$ROOT/data/sound.model" --track-keys 2>/dev/null | pool -o "$O/cnn/index.ts" 2>/dev/null

PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
serve --out "$O" --port 0 --sound-model "$ROOT/data/sound.model" --sounds-dir "$ROOT/data/sounds" 2>"$T/serve.log" &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$T/serve.log" && break; sleep 0.1; done
U=$(sed -n 's/^serve: listening on \(http:[^ ]*\) .*/\1/p' "$T/serve.log")

"$DRIVER" "$CHROMIUM" "$U" "paper" "Paper Boats" "$T/desktop.png" 1280 "$ROOT/data/sounds/trumpet.ogg"
"$DRIVER" "$CHROMIUM" "$U" "sunrise d" "Sunrise Drive" "$T/phone.png" 390
[ -n "${SCREENSHOT_DIR:-}" ] && cp "$T/desktop.png" "$T/phone.png" "$SCREENSHOT_DIR"/
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
is "server stopped cleanly after the browser" "$rc" 0
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/serve.log"; then fail "no sanitizer report" "$(grep -m3 ERROR "$T/serve.log")"
else pass "no sanitizer report"; fi
