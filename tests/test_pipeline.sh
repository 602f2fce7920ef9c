# test_pipeline.sh - the features pipeline end to end on the shipped data:
# artifacts, incremental rebuilds, recommendations, and failure cleanup.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
O=$T/out
M="make --no-print-directory -s SAN=${SAN:-0} OUT=${OUT:-build} OUTDIR=$O"
for s in csv-clean normalize knn pool; do
  [ -x "$BIN/$s" ] || { skip "pipeline" "no $BIN/$s yet"; exit 0; }
done

ok "features builds" $M features
is "songs table rows" "$(grep -c '' "$O/features/songs.tsv")" 28357   # header + unique tracks
ok "stats saved" test -s "$O/features/songs.stats.json"
ok "artist profiles" test -s "$O/features/artists.norm.ts"

# nothing changed: nothing is rebuilt
before=$(stat -c %Y "$O/features/songs.norm.ts")
sleep 1
out=$($M features 2>&1)
is "no-op rebuild is silent" "$out" ""
is "no-op rebuild keeps artifacts" "$(stat -c %Y "$O/features/songs.norm.ts")" "$before"

# changing the normalisation rebuilds normalize's outputs but not csv-clean's
t_clean=$(stat -c %Y "$O/features/songs.ts")
ok "NORM=zscore rebuild" $M features NORM=zscore
is "csv-clean output untouched" "$(stat -c %Y "$O/features/songs.ts")" "$t_clean"
like "stats now z-score" "$(cat "$O/features/songs.stats.json")" 'zscore'

out=$($M recommend SONG='Smells Like Teen Spirit - Nirvana' K=5 2>/dev/null)
like "song recommendation names the query" "$out" "^Songs like 'Smells Like Teen Spirit' by Nirvana"
is "song recommendation has 5 ranks" "$(grep -cE '^ *[0-9]+ ' <<<"$out")" 5
out=$($M recommend ARTIST='Daft Punk' K=5 2>/dev/null)
like "artist recommendation" "$out" "^Songs like the artist 'Daft Punk'"
is "artist recommendation has 5 ranks" "$(grep -cE '^ *[0-9]+ ' <<<"$out")" 5
out=$($M recommend PLAYLIST='Take On Me - a-ha; Billie Jean - Michael Jackson' K=5 2>/dev/null)
like "playlist recommendation" "$out" "Take on Me"
fails "ambiguous playlist member lists candidates" 2 "matches 2 songs" $M recommend PLAYLIST='Take On Me; Billie Jean'
fails "recommend without a query is a usage error" 2 "usage: make recommend" $M recommend

# a failing stage leaves no half-written artifact
rm -rf "$O"
fails "bad feature name fails" 2 "no|not" $M features FEATURES=danceability,nosuchcolumn
ok "no half-written table after failure" test ! -e "$O/features/songs.ts"
ok "no .tmp left after failure" test -z "$(find "$O" -name '*.tmp*' 2>/dev/null)"
