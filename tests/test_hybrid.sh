# test_hybrid.sh - hybrid (playlists + features) on real catalogue rows
# (tests/data/versions_songs.csv, 106 rows of data/spotify_songs.csv): the
# blend lifts a query's playlist mates, a song in no playlist falls back to
# the feature order, output formats, every song's list, error paths.
. "$(dirname "$0")/lib.sh"
for s in csv-clean normalize knn hybrid; do [ -x "$BIN/$s" ] || { skip hybrid "no $BIN/$s"; exit 0; }; done
CSV=$ROOT/tests/data/versions_songs.csv
COLS=danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
csv-clean --key track_id --cols $COLS --display track_name,track_artist,playlist_id,track_popularity \
  --catalog "$T/songs.tsv" -- "$CSV" 2>/dev/null | normalize --method zscore -o "$T/songs.ts"
H=(hybrid --index "$T/songs.ts" --catalog "$T/songs.tsv" --playlists "$CSV")

# Smells Like Teen Spirit (4hy4fb5D1KL50b3sng9cjw) shares playlist 65HtIbyFkaQPflCa4oW8KO
# with Take On Me (1nbMkRhfldXcmCyB83x8lK) and Africa (28o8m1o9RGtySbmQJtAvym)
out=$("${H[@]}" --song 4hy4fb5D1KL50b3sng9cjw -k 5 --json 2>/dev/null)
is "the playlist mates come first, from the playlists" \
  "$(jq -r 'select(.rank <= 2) | .id + " " + .source' <<<"$out" | sort | tr '\n' ';')" \
  "1nbMkRhfldXcmCyB83x8lK playlists;28o8m1o9RGtySbmQJtAvym playlists;"
is "JSON lines: query, rank, id, title, artist, score in [0, 1], source, reason" \
  "$(jq -c 'select((.title|type) == "string" and (.artist|type) == "string" and .score >= 0 and .score <= 1
                   and (.source == "playlists" or .source == "features") and (.reason|length) > 0)' <<<"$out" | grep -c .)" 5
like "a playlist result says which playlists" "$(jq -r 'select(.rank == 1) | .reason' <<<"$out")" "^in 1 playlist with 'Smells Like Teen Spirit'$"
is "no version of the query (Nirvana's other two ids of the song)" "$(jq -r .title <<<"$out" | grep -ci 'teen spirit')" 0
# --blend 0: the feature order, the same songs as knn's
ids() { cut -f3 | tr '\n' ' '; }
is "--blend 0 is knn's feature order" "$("${H[@]}" --song 4hy4fb5D1KL50b3sng9cjw -k 5 --blend 0 --tsv 2>/dev/null | ids)" \
  "$(knn --index "$T/songs.ts" --catalog "$T/songs.tsv" --song 4hy4fb5D1KL50b3sng9cjw -k 5 --tsv | ids)"
# a song alone in its playlist (among these rows) falls back to the features
lone=$(awk -F'\t' 'NR > 1 { n[$4]++; k[$4] = $1 } END { for (p in n) if (n[p] == 1) print k[p] }' "$T/songs.tsv" | sort | head -1)
is "a song in no shared playlist ($lone): the feature order, source features" \
  "$("${H[@]}" --song "$lone" -k 5 --tsv 2>/dev/null | cut -f3,7 | tr '\n' ' ')" \
  "$(knn --index "$T/songs.ts" --catalog "$T/songs.tsv" --song "$lone" -k 5 --tsv | cut -f3,7 | tr '\n' ' ')"
# every song's neighbours, for other scorers
"${H[@]}" --all -k 3 -o "$T/all.tsv" 2>/dev/null
is "--all: 3 neighbours for each of the 106 songs" "$(cut -f1 "$T/all.tsv" | sort -u | wc -l) $(wc -l < "$T/all.tsv")" "106 318"
is "  never the song itself" "$(awk -F'\t' '$1 == $3' "$T/all.tsv" | wc -l)" 0
out=$("${H[@]}" --eval 2>/dev/null)
like "--eval: the blend chosen on validation playlists, test rates of both" "$out" "features only +[01][.][0-9]{4}"
printf 'track_id,name\nx,y\n' > "$T/bad.csv"
fails "a CSV without playlist_id" 1 "bad.csv:1: no track_id and playlist_id columns" hybrid --index "$T/songs.ts" --catalog "$T/songs.tsv" --playlists "$T/bad.csv" --song x
fails "no query" 2 "give one query" "${H[@]}"
fails "--blend out of range" 2 "--blend" "${H[@]}" --blend 2 --song x
