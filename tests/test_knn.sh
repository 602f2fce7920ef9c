# test_knn.sh - knn end to end on an invented fixture (tests/data/knn_songs.csv:
# 35 songs, one song under two ids, one artist with many songs): exact results
# against an awk brute force, name resolution, filters, every query kind and
# output format, error paths; then a run on the real spotify_songs data.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
[ -x "$BIN/knn" ] || { skip "knn" "no $BIN/knn"; exit 0; }
[ -x "$BIN/csv-clean" ] || { skip "knn" "no $BIN/csv-clean yet (builds the index)"; exit 0; }
COLS=danceability,energy,valence,acousticness
csv-clean --key track_id --cols $COLS --catalog "$T/cat.tsv" --display track_name,track_artist \
  "$D/knn_songs.csv" >"$T/idx.ts" 2>/dev/null
ok "index built" test -s "$T/idx.ts"
K="knn --index $T/idx.ts --catalog $T/cat.tsv"

# brute force: euclidean distances from song $1 to every other row of the
# CSV, one line per (title, artist), sorted (ties to the earlier row)
brute() {
  awk -F, -v q="$1" 'NR == 1 { next } { id[NR] = $1; song[NR] = $2 "|" $3; for (i = 4; i <= 7; i++) x[NR, i] = $i; if ($1 == q) qr = NR }
    END { for (r in id) { if (song[r] == song[qr]) continue; d = 0; for (i = 4; i <= 7; i++) d += (x[r, i] - x[qr, i]) ^ 2
          printf "%.9f %05d %s %s\n", sqrt(d), r, id[r], song[r] } }' "$D/knn_songs.csv" |
    sort -k1,1g -k2,2n | awk '!seen[$4]++ { print $3, $1 }'
}
out=$($K --song "Paper Boats" --metric euclidean -k 5 --tsv)
is "song: exact neighbours (euclidean) match brute force" "$(cut -f3 <<<"$out" | tr '\n' ' ')" "$(brute t002 | head -5 | cut -d' ' -f1 | tr '\n' ' ')"
near "song: true (not squared) distance" "$(head -1 <<<"$out" | cut -f4)" "$(brute t002 | head -1 | cut -d' ' -f2)" 1e-5
like "tsv of a single query: source and reason follow" "$(head -1 <<<"$out" | cut -f7,8)" '^features	closest in [a-z]+ and [a-z]+$'
is "tsv: query key, rank, title, artist" "$(head -1 <<<"$out" | cut -f1,2,5,6 | tr '\t' '|')" \
   "t002|1|$(grep "^$(head -1 <<<"$out" | cut -f3)," "$D/knn_songs.csv" | cut -d, -f2,3 | tr , '|')"
out=$($K --song "Sunrise Drive" --metric euclidean -k 6 --tsv)
is "dedupe: Golden Hour (two ids) appears once" "$(grep -c 'Golden Hour' <<<"$out")" 1
like "dedupe: the lower id is kept" "$(grep 'Golden Hour' <<<"$out" | cut -f3)" '^t031$'
is "dedupe: matches brute force" "$(cut -f3 <<<"$out" | tr '\n' ' ')" "$(brute t001 | head -6 | cut -d' ' -f1 | tr '\n' ' ')"
out=$($K --song t032 --metric euclidean -k 34 --tsv)
is "query song excluded with its other id" "$(cut -f3 <<<"$out" | grep -c -E '^t03[12]$')" 0
is "all other songs listed when k exceeds them" "$(grep -c '' <<<"$out")" 33

# name resolution
fails "ambiguous title lists candidates, exit 1" 1 'Heartbeat by Cora Vale +\[t003\]' $K --song heartbeat
like "ambiguous listing is numbered with the other artist" "$(cat "$T/.err")" '2\. Heartbeat by Northbound Owls +\[t004\]'
out=$($K --song heartbeat --first --text -k 3)
like "--first takes the first candidate" "$out" "^Songs like 'Heartbeat' by Cora Vale"
out=$($K --song "heartbeat - northbound" --text -k 3)
like "'title - artist' narrows" "$out" "^Songs like 'Heartbeat' by Northbound Owls"
out=$($K --song "CAFE NOCTURNE by zoe" --text -k 3)
like "accents and case folded" "$out" "^Songs like 'Café Nocturne' by Zoë Mirage \(cosine similarity"
fails "no match suggests a title" 1 "no song matches 'yesterdy'; did you mean: Yesterday Once \(Amber Rook\)\?" $K --song yesterdy
fails "no catalogue: names need one" 1 "not a key of .*--catalog" knn --index "$T/idx.ts" --song "Paper Boats"
out=$(knn --index "$T/idx.ts" --song t002 -k 5 --metric euclidean --tsv)
is "no catalogue: keys work, same neighbours" "$(cut -f3 <<<"$out" | head -3 | tr '\n' ' ')" "$(brute t002 | head -3 | cut -d' ' -f1 | tr '\n' ' ')"

# artist flooding
out=$($K --song "Rain Again" -k 5 --tsv)
ok "without a cap The Flood fills the list" test "$(cut -f6 <<<"$out" | grep -c 'The Flood$')" -ge 4
out=$($K --song "Rain Again" -k 5 --tsv --max-per-artist 1)
is "--max-per-artist 1: one song by The Flood" "$(cut -f6 <<<"$out" | grep -c 'The Flood$')" 1
is "--max-per-artist still returns k results" "$(grep -c '' <<<"$out")" 5

# playlist
out=$($K --playlist "Sunrise Drive; Paper Boats" -k 6 --tsv)
is "playlist: k results" "$(grep -c '' <<<"$out")" 6
is "playlist: members excluded" "$(cut -f3 <<<"$out" | grep -c -E '^t00[12]$')" 0
is "playlist: no duplicates" "$(cut -f3 <<<"$out" | sort -u | grep -c '')" 6
like "playlist: the nearest song to a member is in" "$(cut -f3 <<<"$out")" "$(brute t001 | head -1 | cut -d' ' -f1)"
printf '# my mix\nSunrise Drive\n\nPaper Boats\r\n' >"$T/pl.txt"
is "--playlist-file gives the same" "$($K --playlist-file "$T/pl.txt" -k 6 --tsv)" "$out"
like "playlist text notes the member neighbours" "$($K --playlist "Sunrise Drive;Paper Boats" --text -k 6)" "nearest to 'Sunrise Drive'"

# artist table: columns in another order, matched by name
printf 'artist,acousticness,valence,extra,energy,danceability\n' >"$T/artists.csv"
grep 'Zoë Mirage' "$D/knn_songs.csv" | awk -F, '{ print $3 "," $7 "," $6 ",1," $5 "," $4 }' >>"$T/artists.csv"
printf 'Someone Else,0.1,0.2,0.3,0.4,0.5\n' >>"$T/artists.csv"
csv-clean --key artist --cols acousticness,valence,extra,energy,danceability "$T/artists.csv" >"$T/artists.ts" 2>/dev/null
out=$($K --artist "zoe mirage" --artists "$T/artists.ts" -k 3 --tsv)
like "artist: its own song is nearest" "$(head -1 <<<"$out" | cut -f1,3,5)" "^Zoë Mirage	t005	Café Nocturne$"
csv-clean --key artist --cols acousticness,energy,danceability "$T/artists.csv" >"$T/artists2.ts" 2>/dev/null
fails "artist table missing a column" 1 "no column 'valence'" $K --artist "zoe mirage" --artists "$T/artists2.ts"
fails "--artist needs --artists" 2 "needs --artists" $K --artist x

# batch and all pairs
awk -F, 'NR == 1 || $1 == "t002" { if (NR > 1) $1 = "q-paper"; print }' OFS=, "$D/knn_songs.csv" >"$T/q.csv"
csv-clean --key track_id --cols valence,acousticness,danceability,energy "$T/q.csv" >"$T/q.ts" 2>/dev/null
out=$($K --batch "$T/q.ts" -k 3 --metric euclidean --tsv)
like "batch: a copy of a song finds it at distance 0" "$(head -1 <<<"$out" | cut -f1-4)" '^q-paper	1	t002	0$'
is "batch from stdin" "$($K --batch - -k 3 --metric euclidean --tsv <"$T/q.ts")" "$out"
out=$($K --self -k 3 --tsv)
is "--self: 3 results for each of 35 rows" "$(grep -c '' <<<"$out")" 105
is "--self: no row is its own neighbour" "$(awk -F'\t' '$1 == $3' <<<"$out" | grep -c '')" 0
is "--self: nor its other id" "$(awk -F'\t' '$1 ~ /^t03[12]$/ && $3 ~ /^t03[12]$/' <<<"$out" | grep -c '')" 0
is "--batch of the index file itself is --self" "$($K --batch "$T/idx.ts" -k 3 --tsv)" "$out"
is "thread count does not change results" "$($K --self -k 3 --tsv --threads 1)" "$out"
out=$($K --self -k 3 --tsv --max-per-artist 1)
is "--self --max-per-artist: at most one song per artist per query" \
   "$(awk -F'\t' '{ n[$1 "|" $6]++ } END { m = 0; for (x in n) if (n[x] > m) m = n[x]; print m }' <<<"$out")" 1

# outputs
knn --index "$T/idx.ts" --self -k 40 -o "$T/nb.ts"
is "tensor output written, no temporary file left" "$(cd "$T" && compgen -G 'nb.ts*')" "nb.ts"
if [ -x "$BIN/inspect" ]; then
  ins=$(inspect --all "$T/nb.ts")
  like "tensor: neighbors f64 [k, 2]" "$ins" 'shape +\[40, 2\]'
  like "tensor: metadata" "$ins" '"index_rows": +35'
  like "tensor: padding is (-1, NaN) past the 34 other rows" "$(grep -E '^ +c79 ' <<<"$ins")" 'c79 +35 .* 35$'
  like "tensor: padding index -1" "$(grep -E '^ +c78 ' <<<"$ins")" 'c78 +35 +-1 +-1 +-1 +0$'
else skip "tensor inspect" "no $BIN/inspect"; fi
$K --song "Paper Boats" --text -o "$T/out.txt"
like "text to -o FILE" "$(cat "$T/out.txt")" "^Songs like 'Paper Boats' by Indigo Fern"
like "text table header" "$(sed -n 2p "$T/out.txt")" '^rank +score +title +artist +key$'
$K --self --tsv 2>"$T/pipe.err" | head -1 >/dev/null
is "| head ends quietly" "$(cat "$T/pipe.err")" ""

# usage and data errors
fails "bad metric: exit 2" 2 "unknown metric 'l3'" $K --song t001 --metric l3
fails "no query: exit 2" 2 "no query" $K
fails "two queries: exit 2" 2 "exactly one query" $K --song t001 --self
fails "no --index: exit 2" 2 "--index" knn --song x
fails "bad -k: exit 2" 2 "-k" $K --song t001 -k 0
fails "index is a CSV" 1 "not a tensor stream" knn --index "$D/knn_songs.csv" --song t001
fails "missing catalogue" 1 "cannot open" knn --index "$T/idx.ts" --catalog "$T/nope.tsv" --song t001
printf 'track_id\ttrack_name\nt001\tA\tB\n' >"$T/bad.tsv"
fails "ragged catalogue line" 1 'bad.tsv:2: 3 cells' knn --index "$T/idx.ts" --catalog "$T/bad.tsv" --song t001
ok "--help" knn --help
like "--help lists the options with defaults" "$(knn --help)" 'max-per-artist N .*default 0'

# the real data
if [ -f "$SHARED/features/spotify_songs.csv" ] && [ -x "$BIN/normalize" ]; then
  F=danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo
  csv-clean --key track_id --cols $F --catalog "$T/songs.tsv" --display track_name,track_artist \
    "$SHARED/features/spotify_songs.csv" 2>/dev/null | normalize >"$T/songs.ts" 2>/dev/null
  out=$(knn --index "$T/songs.ts" --catalog "$T/songs.tsv" --song "Smells Like Teen Spirit - Nirvana" --text)
  like "real data: query resolved" "$out" "^Songs like 'Smells Like Teen Spirit' by Nirvana"
  is "real data: 10 results" "$(grep -cE '^ +[0-9]+  ' <<<"$out")" 10
  out=$(knn --index "$T/songs.ts" --catalog "$T/songs.tsv" --song "Smells Like Teen Spirit - Nirvana" --tsv)
  is "real data: scores sorted" "$(cut -f4 <<<"$out" | sort -gr | tr '\n' ' ')" "$(cut -f4 <<<"$out" | tr '\n' ' ')"
  n=$(knn --index "$T/songs.ts" --self -k 2 --tsv | grep -c '')
  is "real data: all pairs over 28,356 songs" "$n" 56712
else skip "real data" "no $SHARED/features/spotify_songs.csv"; fi

# issue 14: the index is held whole; the memory bomb (four zstd frames of
# zeros, 1 GiB each) is refused at its first block, and an index that fits
# but whose engine copy does not is refused before the copy
CRAFT=${UNITS:-$ROOT/build/rel/tests}/memlimit
if [ -x "$CRAFT" ] && "$CRAFT" --write-bomb "$T/bomb.ts"; then
  fails "a memory bomb as --index" 1 "^knn: .*bomb.ts: tensor 'zeros', block 1: .*needs 1073479000 bytes .*memory limit is 1048576 bytes .*--mem-limit SIZE" \
    knn --mem-limit 1M --index "$T/bomb.ts" --self -k 1 -o "$T/nb2.ts"
else skip "memory bomb" "no $CRAFT"; fi
fails "the engine's copy counts too" 1 "idx.ts: the index table and the search engine's copy of it needs" \
  knn --mem-limit 1500 --index "$T/idx.ts" --self -k 3 -o "$T/nb3.ts"
ok "no output after it" test ! -e "$T/nb3.ts" -a ! -e "$T/nb3.ts.tmp"
