# test_serve.sh - the HTTP API of serve with curl, on artifacts built from
# the knn fixture (35 songs; style raw = the normalised features, style pca =
# a 2-d projection standing in for a learned embedding): the same answers
# as knn for the same queries, JSON shapes, every error status (400 404 405
# 409 413), path traversal, malformed JSON, a slow client and too many
# connections refused while the server keeps answering, reloading rebuilt
# artifacts without a failed request, and a clean stop (no sanitizer report).
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
for b in serve knn csv-clean normalize pool pca mpd-ingest mpd-train mpd-recommend spectro slice embed train-mlp; do
  [ -x "$BIN/$b" ] || { skip "serve" "no $BIN/$b"; exit 0; }
done
command -v curl >/dev/null || { skip "serve" "no curl"; exit 0; }
command -v jq >/dev/null || { skip "serve" "no jq (make deps installs it)"; exit 0; }

# ---- artifacts, laid out as the pipelines do under OUT ----
O=$T/out
mkdir -p "$O/features" "$O/learned" "$O/charts"
COLS=danceability,energy,valence,acousticness
csv-clean --key track_id --cols $COLS --catalog "$O/features/songs.tsv" --display track_name,track_artist \
  -o "$T/songs.ts" "$D/knn_songs.csv" 2>/dev/null
normalize --save "$T/stats.json" -o "$O/features/songs.norm.ts" "$T/songs.ts" 2>/dev/null
pool --by track_artist --catalog "$O/features/songs.tsv" -o "$T/artists.ts" "$T/songs.ts" 2>/dev/null
normalize --stats "$T/stats.json" -o "$O/features/artists.norm.ts" "$T/artists.ts" 2>/dev/null
cp "$O/features/songs.tsv" "$O/learned/songs.tsv"
pca -k 2 -o "$O/learned/pca.emb.ts" "$O/features/songs.norm.ts" 2>/dev/null
# a learned style as make learned builds one: train-mlp (a tiny autoencoder,
# 20 epochs) on the songs, embed at its bottleneck
train-mlp -q --inputs $COLS --autoencoder --layers 6,3,6,4 --act relu --epochs 20 --batch 8 --seed 1 \
  -o "$T/ae.model" "$T/songs.ts" 2>/dev/null
embed -m "$T/ae.model" --layer dense.1 -o "$O/learned/ae.emb.ts" "$T/songs.ts" 2>/dev/null
printf '\x89PNG\r\n\x1a\nfixture' >"$O/charts/years.png"
ln -s /etc/passwd "$O/charts/link.png"
# playlists: the invented MPD slices of tests/data/mpd, under their real names
mkdir -p "$T/mpd" "$O/playlists"
cp "$D/mpd/slices/slice.0-4.json.fixture" "$T/mpd/mpd.slice.0-4.json"
cp "$D/mpd/slices/slice.5-6.json.zst.fixture" "$T/mpd/mpd.slice.5-6.json.zst"
mpd-ingest --tracks "$O/playlists/tracks.tsv" --names "$O/playlists/names.tsv" -o "$O/playlists/playlists.ts" "$T/mpd" 2>/dev/null
# the sound library: three shipped clips, one link out of the folder and one
# listed path outside it (neither may be served)
mkdir -p "$T/sounds" "$O/cnn" "$T/tmp"
for f in brahms trumpet fishin; do cp "$ROOT/data/sounds/$f.ogg" "$T/sounds/"; done
ln -s /etc/passwd "$T/sounds/evil.ogg"
printf '%s\n' "$T/sounds/brahms.ogg" "$T/sounds/trumpet.ogg" "$T/sounds/fishin.ogg" >"$T/lib.list"
spectro -q --fmax 8000 <"$T/lib.list" 2>/dev/null | slice 2>/dev/null | embed -m "$ROOT/data/sound.model" --track-keys 2>/dev/null |
  pool -o "$O/cnn/index.ts" 2>/dev/null
{ cat "$T/lib.list"; echo "$T/sounds/evil.ogg"; echo /etc/passwd; } >"$O/cnn/library.list"
ok "fixture artifacts built" test -s "$O/learned/pca.emb.ts" -a -s "$O/learned/ae.emb.ts" -a -s "$O/features/artists.norm.ts"
KR="knn --index $O/features/songs.norm.ts --catalog $O/features/songs.tsv"
KP="knn --index $O/learned/pca.emb.ts --catalog $O/learned/songs.tsv"
KA="knn --index $O/learned/ae.emb.ts --catalog $O/learned/songs.tsv"

# ---- the server: port 0 = a free port, read back from its first line ----
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
start() {   # start LOG [serve options]: sets PID and U
  local log=$1; shift
  serve --out "$O" --port 0 "$@" 2>"$log" &
  PID=$!
  for _ in $(seq 100); do grep -q 'listening on' "$log" 2>/dev/null && break; sleep 0.1; done
  U=$(sed -n 's/^serve: listening on \(http:[^ ]*\)\/ .*/\1/p' "$log")
}
stop() {    # stop NAME LOG: SIGTERM, exit 0, no sanitizer report
  kill -TERM "$PID"; wait "$PID"; local rc=$?; PID=
  is "$1: stops on SIGTERM with exit 0" "$rc" 0
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$2"; then
    fail "$1: sanitizer report" "$(grep -m3 -E 'ERROR|runtime error' "$2")"
  else pass "$1: no sanitizer report"; fi
}
TMPDIR=$T/tmp start "$T/s1.log" --timeout 2 --max-conns 6 --max-body 2048 --poll 0.3 --max-upload 400000 \
  --sound-model "$ROOT/data/sound.model" --sounds-dir "$T/sounds"
like "listens on 127.0.0.1 by default" "$U" '^http://127\.0\.0\.1:[0-9]+$'
get() { curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$@"; }    # prints the status
body() { cat "$T/body"; }

is "styles: 200" "$(get "$U/api/styles")" 200
is "styles: raw and the learned ones" "$(body | jq -c '[.styles[].name]')" '["raw","ae","pca"]'
is "styles: rows, dims, metric" "$(body | jq -c '[.styles[0].rows, .styles[0].dims, .styles[1].dims, .styles[2].dims, .styles[0].metric]')" '[35,4,3,2,"cosine"]'
is "styles: artists loaded, generation 1" "$(body | jq -c '[.artists, .generation]')" '[true,1]'

# ---- search ----
is "search: 200" "$(get "$U/api/search?q=paper%20boats")" 200
is "search: the title, its id" "$(body | jq -c '[.match, .results[0].id, .results[0].title, .results[0].artist]')" \
   '["title","t002","Paper Boats","Indigo Fern"]'
get "$U/api/search?q=heartbeat" >/dev/null
is "search: every song of an ambiguous title" "$(body | jq -c '[.results[].id]')" '["t003","t004"]'
get "$U/api/search?q=papr%20bots" >/dev/null
is "search: typo -> did you mean" "$(body | jq -r '.match + " " + .results[0].id')" "did you mean t002"
is "search: nothing close -> none, empty list" "$(get "$U/api/search?q=zzzzqqqqxxxx"; body | jq -c '[.match, .results]')" '200["none",[]]'
is "search: limit" "$(get "$U/api/search?q=e&limit=3"; body | jq '.results | length')" '2003'
is "search: missing q -> 400" "$(get "$U/api/search")" 400
like "search: missing q says what to give" "$(body | jq -r .error)" "missing parameter 'q'"
is "search: bad UTF-8 -> 400" "$(get "$U/api/search?q=%ff%fe")" 400
is "search: limit=0 -> 400" "$(get "$U/api/search?q=a&limit=0")" 400

# ---- similar: the same neighbours as knn ----
same_as_knn() {   # NAME STYLE_ARGS KNN_CMD URL
  local n=$1 url=$3; shift 3
  local want got
  want=$("$@" --tsv | cut -f3,4)
  get "$url" >/dev/null
  got=$(body | jq -r '.results[] | "\(.id)\t\(.score)"')
  # the same ids in the same order; scores as knn prints them (%.6g)
  if [ -n "$want" ] && [ "$(cut -f1 <<<"$got")" == "$(cut -f1 <<<"$want")" ] &&
     paste <(cut -f2 <<<"$got") <(cut -f2 <<<"$want") | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 2e-6 * (1 + ($2 < 0 ? -$2 : $2))) bad = 1 } END { exit bad }'
  then pass "$n"; else fail "$n" "serve: $(tr '\n\t' ' :' <<<"$got") knn: $(tr '\n\t' ' :' <<<"$want")"; fi
}
same_as_knn "similar raw t002 k=5 = knn --song" x "$U/api/similar?id=t002&k=5" $KR --song t002 -k 5
same_as_knn "similar raw by title = knn --song" x "$U/api/similar?id=Sunrise%20Drive&k=10" $KR --song "Sunrise Drive" -k 10
same_as_knn "similar raw k=34 (all songs) = knn" x "$U/api/similar?id=t032&k=34" $KR --song t032 -k 34
same_as_knn "similar pca style = knn on its table" x "$U/api/similar?id=t010&style=pca&k=7" $KP --song t010 -k 7
same_as_knn "similar ae style (train-mlp + embed) = knn on its embedding" x "$U/api/similar?id=t010&style=ae&k=7" $KA --song t010 -k 7
same_as_knn "similar ae style, all songs = knn" x "$U/api/similar?id=Sunrise%20Drive&style=ae&k=34" $KA --song "Sunrise Drive" -k 34
same_as_knn "similar 'TITLE - ARTIST' = knn" x "$U/api/similar?id=Heartbeat%20-%20Northbound%20Owls&k=4" $KR --song "Heartbeat - Northbound Owls" -k 4
get "$U/api/similar?id=t002&k=3" >/dev/null
is "similar: JSON shape" "$(body | jq -c '[.style, .metric, .k, .query.id, (.results | length), ([.results[0] | has("rank", "score", "reason", "title", "artist", "columns")] | all)]')" \
   '["raw","cosine",3,"t002",3,true]'
is "similar: a one-line reason each" "$(body | jq -r '.results[].reason' | grep -c .)" 3
get "$U/api/similar?id=t001&k=10" >/dev/null
like "reasons of raw name the shared features" "$(body | jq -r '.results[].reason')" "both (high|low) (danceability|energy|valence|acousticness) \("
get "$U/api/similar?id=t001&k=10&style=pca" >/dev/null
is "reasons of an embedding never name its columns" "$(body | jq -r '.results[].reason' | grep -c 'pc[12]')" 0
get "$U/api/similar?id=t001&k=10&style=ae" >/dev/null
is "... nor the learned style's" "$(body | jq -r '.results[].reason' | grep -c 'dense')" 0
is "similar: default k is 10" "$(get "$U/api/similar?id=t002"; body | jq '.results | length')" 20010

# errors carry knn's words
$KR --song "papr bots" >/dev/null 2>"$T/knn.err"
is "unknown song -> 404" "$(get "$U/api/similar?id=papr%20bots")" 404
is "404 says what knn says" "knn: $(body | jq -r .error)" "$(cat "$T/knn.err")"
is "ambiguous song -> 409" "$(get "$U/api/similar?id=heartbeat")" 409
like "409 has knn's words" "$(body | jq -r .error)" "^'heartbeat' matches 2 songs; name one"
is "409 lists the candidates" "$(body | jq -c '[.candidates[].id]')" '["t003","t004"]'
is "k=0 -> 400" "$(get "$U/api/similar?id=t002&k=0")" 400
like "k=0 names k and the range" "$(body | jq -r .error)" "^k: '0' is not an integer between 1 and 1000"
is "k=abc -> 400" "$(get "$U/api/similar?id=t002&k=abc")" 400
is "k too large -> 400" "$(get "$U/api/similar?id=t002&k=99999999999999999999")" 400
is "unknown style -> 400" "$(get "$U/api/similar?id=t002&style=nope")" 400
like "unknown style lists the styles" "$(body | jq -r .error)" "the styles built are: raw, ae, pca"
is "missing id -> 400" "$(get "$U/api/similar")" 400

# ---- a list of songs (POST) = knn --playlist ----
want=$($KR --playlist "t001;Paper Boats;t010" -k 6 --tsv | cut -f3 | tr '\n' ' ')
code=$(get -H 'Content-Type: application/json' -d '["t001", "Paper Boats", "t010"]' "$U/api/similar?k=6")
is "POST list: 200" "$code" 200
is "POST list = knn --playlist" "$(body | jq -r '.results[].id' | tr '\n' ' ')" "$want"
like "POST list: reason names the member it is nearest to" "$(body | jq -r '.results[].reason')" "nearest to '"
code=$(get -d '{"ids": ["t001", "t020", "t033"], "style": "ae", "k": 5}' "$U/api/similar")
is "POST list in the ae style = knn --playlist on its embedding" "$code $(body | jq -r '.results[].id' | tr '\n' ' ')" \
   "200 $($KA --playlist 't001;t020;t033' -k 5 --tsv | cut -f3 | tr '\n' ' ')"
code=$(get -d '{"ids": ["t001", "t002"], "style": "pca", "k": 3}' "$U/api/similar")
is "POST object with style and k = knn" "$code $(body | jq -r '.results[].id' | tr '\n' ' ')" \
   "200 $($KP --playlist 't001;t002' -k 3 --tsv | cut -f3 | tr '\n' ' ')"
is "POST malformed JSON -> 400" "$(get -d '["t001",' "$U/api/similar")" 400
like "malformed JSON says where" "$(body | jq -r .error)" 'malformed JSON body near byte'
is "POST numbers -> 400" "$(get -d '[1, 2]' "$U/api/similar")" 400
is "POST empty list -> 400" "$(get -d '[]' "$U/api/similar")" 400
is "POST k as text -> 400" "$(get -d '{"ids": ["t001"], "k": "9"}' "$U/api/similar")" 400
is "POST unknown member -> 404 with its place" "$(get -d '["t001", "zzqqxx"]' "$U/api/similar"; body | jq -r .error)" \
   "404playlist song 2: no song matches 'zzqqxx' (titles are searched; add ' - ARTIST' to narrow, or give a track id)"
is "POST without a body -> 400" "$(get -X POST "$U/api/similar")" 400
head -c 5000 /dev/zero | tr '\0' ' ' >"$T/big"
is "body over --max-body -> 413" "$(get --data-binary @"$T/big" "$U/api/similar")" 413
is "chunked body over --max-body -> 413" "$(get -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$U/api/similar")" 413
like "413 says the limit" "$(body | jq -r .error)" 'larger than 2048 bytes'
exec 9<>/dev/tcp/127.0.0.1/"${U##*:}"
printf 'POST /api/similar HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n[' >&9
like "a huge Content-Length is refused at once" "$(timeout 5 head -1 <&9)" '^HTTP/1.1 413'
exec 9>&-

# ---- artist = knn --artist ----
aname=$(jq -r '.' <<<'"Marlow Kite"')
want=$($KR --artist "$aname" --artists "$O/features/artists.norm.ts" -k 5 --tsv 2>/dev/null | cut -f3 | tr '\n' ' ')
is "artist: 200" "$(get "$U/api/artist?name=marlow%20kite&k=5")" 200
is "artist = knn --artist" "$(body | jq -r '.results[].id' | tr '\n' ' ')" "$want"
is "artist: unknown -> 404" "$(get "$U/api/artist?name=zzqq")" 404
like "artist 404 has knn's words" "$(body | jq -r .error)" "^no artist matches 'zzqq' in .*names are matched ignoring case"

# ---- playlist continuation = mpd-recommend --songs ----
MR="mpd-recommend --model cooc --train $O/playlists/playlists.ts --names $O/playlists/names.tsv --tracks $O/playlists/tracks.tsv"
want=$($MR -n 4 --songs 'alpha song; Bravo Song - fixture artist one' | sed -n 's/^ *[0-9]*\. //p' | tail -4 | tr '\n' '|')
code=$(get -d '{"songs": ["alpha song", "Bravo Song - fixture artist one"], "n": 4}' "$U/api/continue")
is "continue: 200" "$code" 200
is "continue = mpd-recommend --songs (cooc)" "$(body | jq -r '.results[] | .title + " - " + .artist' | tr '\n' '|')" "$want"
is "continue: seeds resolved, model named" "$(body | jq -c '[.model, [.seeds[].title], ([.results[0] | has("uri", "reason", "rank")] | all)]')" \
   '["cooc",["Alpha Song","Bravo Song"],true]'
like "continue: the reason counts playlists with the seeds" "$(body | jq -r '.results[0].reason')" '^in [0-9]+ of the [0-9]+ training playlists with your songs$'
is "styles: the playlist model" "$(get "$U/api/styles"; body | jq -c '.playlists')" '200{"model":"cooc","playlists":7,"tracks":10}'
$MR --songs 'Alfa Song' 2>"$T/mr.err" >/dev/null
is "continue: unknown song -> 404 with mpd-recommend's words" \
   "$(get -d '{"songs": ["Alfa Song"]}' "$U/api/continue"; body | jq -r .error)" "404song 1: $(sed 's/^mpd-recommend: //' "$T/mr.err")"
is "continue lenient: unknown songs skipped and listed" \
   "$(get -d '{"songs": ["zzqq", "alpha song"], "lenient": true, "n": 2}' "$U/api/continue"; body | jq -c '[.unmatched, (.results | length)]')" \
   '200[["zzqq"],2]'
is "continue: GET -> 405" "$(get "$U/api/continue")" 405
is "continue: n=0 -> 400" "$(get -d '{"songs": ["alpha song"], "n": 0}' "$U/api/continue")" 400
is "continue: malformed -> 400" "$(get -d '{"songs": [' "$U/api/continue")" 400

# ---- sounds like an uploaded file = the sound pipeline + knn ----
is "sounds-like: 200" "$(get --data-binary @"$T/sounds/trumpet.ogg" "$U/api/sounds-like?k=3")" 200
is "sounds-like: the same clip comes first, score 1" "$(body | jq -r '.results[0] | "\(.id) \(.score * 10000 | round)"')" "trumpet 10000"
spectro -q --fmax 8000 "$T/sounds/trumpet.ogg" 2>/dev/null | slice 2>/dev/null | embed -m "$ROOT/data/sound.model" --track-keys 2>/dev/null |
  pool -o "$T/q.ts" 2>/dev/null
# knn leaves out the index song with the query's key (trumpet): the rest
# must be serve's ranks 2 and 3
want=$(knn --index "$O/cnn/index.ts" --batch "$T/q.ts" -k 2 --tsv | awk -F'\t' '{ printf "%s %.4f\n", $3, $4 }')
is "sounds-like: the others as knn on the pipeline's vector" "$(body | jq -r '.results[1:][] | "\(.id) \(.score)"' | awk '{ printf "%s %.4f\n", $1, $2 }')" "$want"
is "sounds-like: a link to play each" "$(body | jq -r '[.results[].audio] | join(" ")')" "$(body | jq -r '[.results[].id | "/audio/" + .] | join(" ")')"
is "sounds-like: not audio -> 400" "$(get --data-binary @"$D/knn_songs.csv" "$U/api/sounds-like")" 400
like "... with spectro's words, no temporary path" "$(body | jq -r .error)" "^spectro: the uploaded file: cannot decode"
is "sounds-like: empty body -> 400" "$(get -X POST "$U/api/sounds-like")" 400
head -c 500000 /dev/urandom >"$T/big.ogg"
is "sounds-like: over --max-upload -> 413" "$(get --data-binary @"$T/big.ogg" "$U/api/sounds-like")" 413
is "sounds-like: GET -> 405" "$(get "$U/api/sounds-like")" 405
is "sounds-like: no temporary file left" "$(ls -A "$T/tmp" | wc -l)" 0
is "audio: a library file, as it is" "$(get "$U/audio/brahms")$(cmp -s "$T/body" "$T/sounds/brahms.ogg" && echo same)" 200same
like "audio: served as audio/ogg" "$(curl -s -D - -o /dev/null "$U/audio/brahms")" 'Content-Type: audio/ogg'
# byte ranges (a player seeking): one range, 206 with Content-Range, 416 past the end
sz=$(stat -c %s "$T/sounds/brahms.ogg")
hdr() { curl -s -D - -o "$T/body" "$@" | tr -d '\r'; }
like "audio: Accept-Ranges: bytes" "$(hdr "$U/audio/brahms")" 'Accept-Ranges: bytes'
h=$(hdr -r 0-99 "$U/audio/brahms")
is "range 0-99: 206, Content-Range, the first 100 bytes" \
   "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' <<<"$h") $(grep -i '^Content-Range' <<<"$h") $(cmp -s "$T/body" <(head -c 100 "$T/sounds/brahms.ogg") && echo same)" \
   "206 Content-Range: bytes 0-99/$sz same"
h=$(hdr -r 1000- "$U/audio/brahms")
is "range 1000-: the rest of the file" "$(grep -i '^Content-Range' <<<"$h") $(cmp -s "$T/body" <(tail -c +1001 "$T/sounds/brahms.ogg") && echo same)" \
   "Content-Range: bytes 1000-$((sz - 1))/$sz same"
h=$(hdr -r -77 "$U/audio/brahms")
is "range -77: the last 77 bytes" "$(grep -i '^Content-Range' <<<"$h") $(cmp -s "$T/body" <(tail -c 77 "$T/sounds/brahms.ogg") && echo same)" \
   "Content-Range: bytes $((sz - 77))-$((sz - 1))/$sz same"
h=$(hdr -r "$((sz - 10))-99999999999999999999999" "$U/audio/brahms")
is "range past the end: cut at the end" "$(grep -i '^Content-Range' <<<"$h") $(stat -c %s "$T/body")" "Content-Range: bytes $((sz - 10))-$((sz - 1))/$sz 10"
h=$(hdr -r "$sz-" "$U/audio/brahms")
is "range starting past the end: 416, Content-Range */size" "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' <<<"$h") $(grep -i '^Content-Range' <<<"$h")" \
   "416 Content-Range: bytes */$sz"
like "416 says the file's size as JSON" "$(body | jq -r .error)" "outside the file \($sz bytes\)"
is "range -0: 416" "$(get -r -0 "$U/audio/brahms")" 416
is "several ranges: the whole file (one range only)" "$(get -r 0-9,20-29 "$U/audio/brahms") $(stat -c %s "$T/body")" "200 $sz"
is "a malformed range is ignored: the whole file" "$(get -H 'Range: bytes=9-2' "$U/audio/brahms") $(stat -c %s "$T/body")" "200 $sz"
is "another unit is ignored" "$(get -H 'Range: lines=1-2' "$U/audio/brahms") $(stat -c %s "$T/body")" "200 $sz"
for p in /audio/evil /audio/passwd /audio/../../etc/passwd /audio/..%2f..%2fetc%2fpasswd /audio/%2e%2e /audio/ /audio/brahms%00; do
  code=$(get "$U$p")
  if [ "$code" = 404 ] && ! grep -q 'root:' "$T/body"; then pass "audio outside the library refused: $p"; else fail "audio outside the library refused: $p" "status $code"; fi
done

# ---- methods, unknown pages, traversal ----
is "unknown page -> 404" "$(get "$U/api/nope")" 404
is "DELETE -> 405" "$(get -X DELETE "$U/api/search?q=a")" 405
like "405 sends Allow" "$(curl -s -D - -o /dev/null -X PUT "$U/api/similar")" 'Allow: GET, HEAD, POST'
is "POST on the page -> 405" "$(get -d x "$U/")" 405
for p in '/../../etc/passwd' '/%2e%2e/%2e%2e/etc/passwd' '/charts/../../../etc/passwd' '/charts/..%2f..%2f..%2fetc%2fpasswd' \
         '/charts/%2e%2e%2f%2e%2e%2fetc%2fpasswd' '/charts/..%252f..%252fetc%252fpasswd' '/charts/.hidden.png' \
         '/charts/years.png%00.txt' '/..%5c..%5cetc%5cpasswd' '//etc/passwd' '/charts//etc/passwd' '/charts/link.png'; do
  code=$(get "$U$p")
  if [ "$code" = 404 ] && ! grep -q 'root:' "$T/body"; then pass "traversal refused: $p"; else fail "traversal refused: $p" "status $code"; fi
done
is "a chart by its name" "$(get "$U/charts/years.png")$(head -c 4 "$T/body" | tail -c 3)" 200PNG
is "charts listed (not the link out of the folder)" "$(get "$U/api/charts"; body | jq -c .charts)" '200["years.png"]'

# ---- the page ----
is "page: 200" "$(get "$U/")" 200
like "page: HTML with a search box" "$(body)" '<input[^>]+id="q"'
is "page: nothing fetched from elsewhere" "$(grep -cE '(src|href)="(https?:)?//' "$T/body")" 0
like "page: served as HTML, external fetches forbidden" "$(curl -s -D - -o /dev/null "$U/")" "Content-Security-Policy: default-src 'self'"

# ---- slow clients, too many connections: refused, the server answers ----
exec 7<>/dev/tcp/127.0.0.1/"${U##*:}"
printf 'GET /api/styles HTTP/1.1\r\nHost: x\r\n' >&7        # never finished
is "a slow client does not block others" "$(get "$U/api/styles")" 200
t0=$SECONDS
timeout 8 cat <&7 >"$T/slow.out"; rc=$?
like "the slow client is cut off by --timeout (2 s)" "$rc $((SECONDS - t0))" '^0 [1-5]$'
exec 7>&-

# ---- a short load (the full one is tests/bench/serve.sh, make bench) ----
if cc -O2 -pthread -o "$T/loadgen" "$ROOT/tests/bench/loadgen.c" 2>"$T/cc.err"; then
  { for id in t001 t002 t010 t020 t033; do echo "200 GET /api/similar?id=$id&k=5"; done
    echo "200 GET /api/similar?id=t004&style=pca&k=3"; echo "200 GET /api/search?q=papr"
    echo '200 POST /api/similar?k=4 ["t001", "t002"]'; echo "200 GET /api/artist?name=Marlow%20Kite"
    echo "409 GET /api/similar?id=heartbeat"; echo "404 GET /nope"; echo '400 POST /api/similar [1'; } >"$T/mix"
  out=$("$T/loadgen" 127.0.0.1 "${U##*:}" 600 3 "$T/mix"); rc=$?
  is "600 mixed requests over 3 connections: no error" "$rc $(grep -o 'errors [0-9]*' <<<"$out")" "0 errors 0"
else skip "short load" "cannot compile tests/bench/loadgen.c: $(head -c 200 "$T/cc.err")"; fi

cp -r "$O" "$T/good"
# ---- reload: rebuilt artifacts swapped in, no request dropped ----
head -31 "$D/knn_songs.csv" >"$T/fewer.csv"
( for i in $(seq 60); do curl -s -o /dev/null -w '%{http_code}\n' "$U/api/similar?id=t002&k=3"; done >"$T/during" ) &
loop=$!
csv-clean --key track_id --cols $COLS --catalog "$T/new.tsv" --display track_name,track_artist \
  -o "$T/fewer.ts" "$T/fewer.csv" 2>/dev/null
normalize -o "$T/new.norm.ts" "$T/fewer.ts" 2>/dev/null
mv "$T/new.tsv" "$O/features/songs.tsv"; mv "$T/new.norm.ts" "$O/features/songs.norm.ts"
for _ in $(seq 50); do get "$U/api/styles" >/dev/null; [ "$(body | jq .generation)" = 2 ] && break; sleep 0.1; done
is "reload: new generation, new rows" "$(body | jq -c '[.generation, .styles[0].rows]')" '[2,30]'
wait $loop
is "reload: every request during it answered 200" "$(sort -u "$T/during" | tr '\n' ' ')" "200 "
same_as_knn "after reload: the new table's neighbours" x "$U/api/similar?id=t002&k=5" $KR --song t002 -k 5
printf 'not a tensor stream\n' >"$T/bad"; mv "$T/bad" "$O/features/songs.norm.ts"
for _ in $(seq 50); do grep -q 'reload failed' "$T/s1.log" && break; sleep 0.1; done
like "a broken rebuild is reported" "$(cat "$T/s1.log")" 'reload failed, still serving the previous artifacts: .*songs.norm.ts'
is "... and the previous set still answers" "$(get "$U/api/styles"; body | jq -c '[.generation, .styles[0].rows]')" '200[2,30]'
is "the server never died" "$(kill -0 "$PID" && echo alive)" alive
stop "server" "$T/s1.log"

# every model of mpd-recommend, with its defaults (plrec.c, one list): the
# same list as mpd-recommend (on the copy made before the broken rebuild
# above); neural and blend read playlists/model.ts, a tiny mpd-train network
O=$T/good
mpd-train --dim 4 --hidden 8 --min-count 1 --epochs 2 --valid-frac 0 --seed 3 -o "$O/playlists/model.ts" \
  "$O/playlists/playlists.ts" 2>/dev/null
for m in pop title neural blend itemknn rp3beta ease als; do
  start "$T/s-$m.log" --continue-model $m --poll 60
  w=; case $m in neural|blend) w="--weights $O/playlists/model.ts";; esac
  for seeds in '"alpha song", "Bravo Song - fixture artist one"' '"Bravo Song - fixture artist one"'; do
    want=$(mpd-recommend --model $m $w --train "$O/playlists/playlists.ts" --names "$O/playlists/names.tsv" \
             --tracks "$O/playlists/tracks.tsv" -n 4 --songs "$(jq -r 'join("; ")' <<<"[$seeds]")" 2>/dev/null |
           sed -n 's/^ *[0-9]*\. //p' | tail -4 | tr '\n' '|')
    code=$(get -d "{\"songs\": [$seeds], \"n\": 4}" "$U/api/continue")
    is "continue --continue-model $m = mpd-recommend --model $m (${seeds%%,*})" \
       "$code $(body | jq -r '.model + " " + ([.results[] | .title + " - " + .artist] | join("|"))')|" "200 $m $want"
  done
  stop "server ($m)" "$T/s-$m.log"
done
mv "$O/playlists/model.ts" "$T/model.ts"
fails "--continue-model neural without playlists/model.ts: exit 1, says what to build" 1 \
  "continue-model neural needs .*playlists/model.ts.*make eval-playlists" serve --out "$O" --port 0 --continue-model neural
fails "--continue-model bogus: exit 2, every model listed" 2 "use pop, title, cooc, neural, blend, itemknn, rp3beta, ease or als" \
  serve --out "$O" --port 0 --continue-model bogus

# ---- startup and usage errors ----
fails "missing artifacts: exit 1, names the file" 1 "$T/none/features/songs.tsv: cannot open.*make features" serve --out "$T/none" --port 0
O=$T/good
fails "--port abc: exit 2" 2 "--port: 'abc' is not an integer" serve --out "$O" --port abc
fails "--listen bogus: exit 2" 2 "--listen: 'nowhere' is not an IPv4 or IPv6 address" serve --out "$O" --listen nowhere
start "$T/s2.log" --poll 60 --max-conns 4 --timeout 30
fails "a port in use: exit 1" 1 "cannot listen on 127.0.0.1 port ${U##*:}" serve --out "$O" --port "${U##*:}"
# ---- too many connections: the bounded pool (--max-conns 4) ----
opened() {  # the descriptors of $@ still open (a read times out instead of ending)
  local fd n=0; for fd in "$@"; do timeout 0.2 cat <&"$fd" >/dev/null; [ $? = 124 ] && n=$((n + 1)); done; echo $n
}
for fd in 10 11 12 13; do eval "exec $fd<>/dev/tcp/127.0.0.1/${U##*:}"; done
sleep 0.3
is "four idle connections, all held" "$(opened 10 11 12 13)" 4
t0=$(date +%s%N)
h=$(curl -s -m 8 -D - -o "$T/body" "$U/api/styles" | tr -d '\r')
ms=$((($(date +%s%N) - t0) / 1000000))
is "the fifth: 503 at once, closed, with the reason as JSON" \
   "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' <<<"$h") $(grep -ci '^Connection: close' <<<"$h") $(body | jq -r .error)" \
   "503 1 too many connections: serve answers 4 at once (--max-conns); try again"
like "... promptly" "$ms" '^[0-9]{1,4}$'
is "a POST past the limit: 503 too" "$(get -d '["t001"]' "$U/api/similar")" 503
exec 14<>/dev/tcp/127.0.0.1/"${U##*:}"
t0=$SECONDS
timeout 10 cat <&14 >/dev/null; rc=$?
like "an idle connection past the limit is closed after 1 s" "$rc $((SECONDS - t0))" '^0 [0-4]$'
is "... while the four stay open" "$(opened 10 11 12 13)" 4
exec 10>&-
sleep 0.3
is "one closes: the next request is answered" "$(get "$U/api/styles")" 200
for fd in 11 12 13 14; do eval "exec $fd>&-"; done
sleep 0.3
is "all close: answered" "$(get "$U/api/styles")" 200
stop "second server" "$T/s2.log"
# per address (--max-conns-per-ip 2): the third from 127.0.0.1 is closed unanswered
start "$T/s3.log" --poll 60 --max-conns-per-ip 2
for fd in 10 11 12; do eval "exec $fd<>/dev/tcp/127.0.0.1/${U##*:}"; done
sleep 0.3
# "at once": well before serve's 1 s idle close (timed in ms: whole seconds
# from $SECONDS can read 1 for a close that took 20 ms across a tick)
t0=$(date +%s%N)
timeout 10 cat <&12 >/dev/null; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
is "past --max-conns-per-ip: closed at once, the two held" \
   "$rc $([ "$ms" -lt 900 ] && echo fast || echo "slow ($ms ms)") $(opened 10 11)" "0 fast 2"
code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' "$U/api/styles"); rc=$?
like "... a request gets no answer (curl: empty reply or reset)" "$rc $code" '^(52|56) 000$'
for fd in 10 11 12; do eval "exec $fd>&-"; done
sleep 0.3
is "... and is answered once they close" "$(get "$U/api/styles")" 200
stop "third server" "$T/s3.log"
ok "--help" serve --help

# make serve: PORT reaches the recipe as data and is checked
fails "make serve PORT=abc: refused" 2 "PORT must be a number" make -s -C "$ROOT" serve PORT='8080; touch '"$T/pwned" \
  OUTDIR="$T/mk" SONGS_CSV="$D/knn_songs.csv" FEATURES=$COLS DISPLAY=track_name,track_artist
is "make serve: nothing ran from PORT" "$([ -e "$T/pwned" ] && echo ran || echo no)" no
