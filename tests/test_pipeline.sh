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

like "z-score by default (centred columns: cosine spreads over [-1, 1])" "$(cat "$O/features/songs.stats.json")" 'zscore'
# scores that mean something: the 10th and the 10,000th neighbours of
# Blinding Lights differ visibly (min-max: 0.998 and 0.947; z-score: 0.97, 0.12)
KN=(knn --index "$O/features/songs.norm.ts" --catalog "$O/features/songs.tsv")
sc=$("${KN[@]}" --song 'Blinding Lights - The Weeknd' -k 10000 --tsv | awk -F'\t' '$2 == 10 || $2 == 10000 { printf "%s ", $4 }')
ok "scores: rank 10 above 0.9, rank 10,000 below 0.3 ($sc)" awk -v a="${sc% *}" -v b="${sc#* }" 'BEGIN { exit !(a > 0.9 && b < 0.3) }'

# none of the demo's queries returns a version of itself in its top 10: no
# result by a query song's artist whose title starts with the query's title
# (an independent check of songversion.h's rule, on the demo's own queries)
not_self() {   # stdin: TSV results; args: title artist pairs
  awk -F'\t' -v q="$(printf '%s\t' "$@")" 'BEGIN { n = split(q, a, "\t") - 1 }
    { for (i = 1; i < n; i += 2) if (tolower($6) == tolower(a[i + 1]) && index(tolower($5), tolower(a[i])) == 1) { print $5 " by " $6; bad = 1 } }
    END { exit bad }'
}
bad=""
IFS=';' read -ra demo <<<"$(sed -n 's/^DEMO_SONGS ?= //p' pipelines/features.mk)"
for s in "${demo[@]}"; do
  s=${s# }; t=${s% - *}; a=${s##* - }
  "${KN[@]}" --song "$s" -k 10 --tsv | not_self "$t" "$a" > "$T/self" || bad+="$s: $(head -1 "$T/self"); "
done
is "the demo's songs (${#demo[@]}): no version of themselves in their top 10" "$bad" ""
pl=$(sed -n 's/^DEMO_PLAYLIST ?= //p' pipelines/features.mk)
IFS=';' read -ra mem <<<"$pl"; pairs=()
for s in "${mem[@]}"; do s=${s# }; pairs+=("${s% - *}" "${s##* - }"); done
ok "the demo's playlist: no version of a member in its top 10" bash -c "$(declare -f not_self); \"\$@\" | not_self ${pairs[*]@Q}" \
  _ "${KN[@]}" --playlist "$pl" -k 10 --tsv
# the query's versions (2011 Mix, Remastered 2011, 2011 Remaster) are one
# song: the name is not ambiguous, the most popular is the query, none is a result
out=$("${KN[@]}" --song 'Bohemian Rhapsody - Queen' -k 10000 --tsv)
is "Bohemian Rhapsody: its versions fold into the most popular (2011 Mix, popularity 84)" "$(head -1 <<<"$out" | cut -f1)" 4u7EnebtmKWzUH433cf5Qv
is "  and none of them is among 10,000 results" "$(cut -f5,6 <<<"$out" | grep -ci '^bohemian rhapsody.*	queen$')" 0

# FIRST, FORMAT and Spotify links through make
fails "an ambiguous name lists the songs" 2 "'Blinding Lights' matches 2 songs" $M recommend SONG='Blinding Lights'
out=$($M recommend SONG='Blinding Lights' FIRST=1 FORMAT=json K=3 2>/dev/null)
is "FIRST=1: the most popular original (The Weeknd, 98; not Lucas Estrada, 65)" "$(jq -r .query <<<"$out" | sort -u)" 0sf12qNH5qcw8qpgymFOqD
is "FORMAT=json: 3 JSON lines with title, artist, id, score, source, reason" \
  "$(jq -c 'select((.title|type) == "string" and (.artist|type) == "string" and (.id|type) == "string" and (.score|type) == "number"
               and .source == "features" and (.reason|test("^closest in [a-z_]+ and [a-z_]+$")))' <<<"$out" | grep -c .)" 3
out=$($M recommend SONG='https://open.spotify.com/track/0sf12qNH5qcw8qpgymFOqD?si=1a2b3c' FORMAT=tsv K=2 2>/dev/null)
is "an open.spotify.com link names the track (FORMAT=tsv: 8 columns)" "$(cut -f1 <<<"$out" | sort -u) $(awk -F'\t' '{ print NF }' <<<"$out" | sort -u)" "0sf12qNH5qcw8qpgymFOqD 8"
out=$($M recommend PLAYLIST='spotify:track:0sf12qNH5qcw8qpgymFOqD; Africa - TOTO' FORMAT=json K=4 2>/dev/null)
is "playlist seeds as uris; each result names the seed it is nearest to" "$(jq -r .reason <<<"$out" | sed 's/nearest to .Blinding Lights./B/; s/nearest to .Africa./A/' | sort -u | tr -d '\n')" AB
fails "FORMAT is checked" 2 "FORMAT='xml': not one of: text tsv json" $M recommend SONG=x FORMAT=xml
fails "FIRST is checked" 2 "FIRST='yes': not one of: 0 1" $M recommend SONG=x FIRST=yes

# changing the normalisation rebuilds normalize's outputs but not csv-clean's
t_clean=$(stat -c %Y "$O/features/songs.ts")
ok "NORM=minmax rebuild" $M features NORM=minmax
is "csv-clean output untouched" "$(stat -c %Y "$O/features/songs.ts")" "$t_clean"
like "stats now min-max" "$(cat "$O/features/songs.stats.json")" 'minmax'
ok "back to NORM=zscore" $M features

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
