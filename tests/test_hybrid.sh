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
out=$("${H[@]}" --playlist '4hy4fb5D1KL50b3sng9cjw; Blinding Lights - The Weeknd' -k 6 --tsv 2>/dev/null)
like "--playlist: the first seed's playlist mates, saying which seed" "$(head -2 <<<"$out" | cut -f7,8 | sort -u)" "^playlists	in 1 playlist with 'Smells Like Teen Spirit'$"
is "  no version of a seed" "$(cut -f5 <<<"$out" | grep -ci 'teen spirit\|blinding lights')" 0
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
fails "a CSV without playlist_id" 1 "bad.csv:1: no column 'playlist_id'" hybrid --index "$T/songs.ts" --catalog "$T/songs.tsv" --playlists "$T/bad.csv" --song x
fails "no query" 2 "give one query" "${H[@]}"
fails "--blend out of range" 2 "--blend" "${H[@]}" --blend 2 --song x

# MPD playlists (invented, written here in the slice format): joined to the
# index by track id; and `continue` lists one version per song
for s in mpd-ingest mpd-recommend; do [ -x "$BIN/$s" ] || { skip hybrid-mpd "no $BIN/$s"; exit 0; }; done
mkdir -p "$T/mpd"
slice() {   # pid:uri|title|artist,uri|title|artist;pid:...
  printf '{"info": {"slice": "0-9", "version": "v1"}, "playlists": ['
  local first=1 pl
  for pl in "$@"; do
    [ $first = 1 ] || printf ','; first=0
    printf '{"name": "p%s", "pid": %s, "num_followers": 1, "tracks": [' "${pl%%:*}" "${pl%%:*}"
    local i=0 t; IFS=',' read -ra tr <<<"${pl#*:}"
    for t in "${tr[@]}"; do
      IFS='|' read -r u n a <<<"$t"
      [ $i = 0 ] || printf ','
      printf '{"pos": %d, "track_uri": "spotify:track:%s", "track_name": "%s", "artist_name": "%s"}' $i "$u" "$n" "$a"
      i=$((i + 1))
    done
    printf ']}'
  done
  printf ']}\n'
}
BL='0sf12qNH5qcw8qpgymFOqD|Blinding Lights|The Weeknd' BJ='5ChkMS8OtdzJeqyybCc9R5|Billie Jean|Michael Jackson'
slice "0:$BL,$BJ,zzNotInTheIndex0000001|Elsewhere|Nobody" "1:$BL,$BJ" > "$T/mpd/mpd.slice.0-9.json"
mpd-ingest --tracks "$T/tr.tsv" --names "$T/nm.tsv" -o "$T/pl.ts" -- "$T/mpd" 2>/dev/null
"${H[@]}" --mpd-playlists "$T/pl.ts" --mpd-tracks "$T/tr.tsv" --song 0sf12qNH5qcw8qpgymFOqD -k 3 --tsv > "$T/h.tsv" 2> "$T/h.err"
like "MPD join reported" "$(cat "$T/h.err")" "4 of 5 playlist rows \(80.0%\) join the index by track id, 2 distinct songs, 2 playlists"
is "MPD playlist mate first, from the playlists" "$(head -1 "$T/h.tsv" | cut -f3,7)" "5ChkMS8OtdzJeqyybCc9R5	playlists"

rm -f "$T/mpd"/*
A1='v01|Song A|Band' A2='v02|Song A - Remastered 2011|Band' A3='v03|Song A (feat. Guest)|Band'
B1='v04|Song B|Band' B2='v05|Song B - Live|Band' C1='v06|Song C|Other' X1='v07|Song X|Other'
slice "0:$X1,$A1,$A2,$B1" "1:$X1,$A1,$B2,$C1" "2:$X1,$A2,$B1" "3:$B1,$A3" > "$T/mpd/mpd.slice.0-9.json"
mpd-ingest --tracks "$T/tr.tsv" --names "$T/nm.tsv" -o "$T/pl.ts" -- "$T/mpd" 2>/dev/null
out=$(mpd-recommend --model cooc --train "$T/pl.ts" --tracks "$T/tr.tsv" -n 5 --songs 'Song X' --format json 2>/dev/null)
is "continue: one version per song (Song A, B, C once each)" "$(jq -r .title <<<"$out" | sed 's/ [-(].*//' | sort | uniq -c | awk '{ print $1 }' | tr -d '\n')" 111
is "continue JSON: source playlists, score null" "$(jq -r '.source + " " + (.score|tostring)' <<<"$out" | sort -u)" "playlists null"
out=$(mpd-recommend --model cooc --train "$T/pl.ts" --tracks "$T/tr.tsv" -n 5 --songs 'Song A - Band' --format tsv 2>/dev/null)
is "continue: no version of a seed" "$(cut -f3 <<<"$out" | grep -c 'Song A')" 0

# --playlist with more than 255 seeds: a song among every seed's candidates
# (here all 300 share one playlist) is listed once; a one-byte count of the
# seeds that listed it wrapped at 256 and listed it again, past the end of
# the list (heap corruption): 30 results, ids unique, scores <= 1
awk 'BEGIN { srand(7); OFS = ","
  print "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms"
  for (i = 0; i < 300; i++)
    print sprintf("t%03d", i), "Tune " i, "Band " int(i / 3), 50, "a" i, "Album " i, "2000-01-01", "mix", "p0", "pop", "dance pop",
      rand(), rand(), 5, -10 * rand(), 1, rand() / 5, rand(), rand() / 2, rand() / 3, rand(), 90 + 60 * rand(), 180000 + int(60000 * rand()) }' > "$T/many.csv"
csv-clean --key track_id --cols $COLS --display track_name,track_artist,playlist_id,track_popularity \
  --catalog "$T/many.tsv" -- "$T/many.csv" 2>/dev/null | normalize --method zscore -o "$T/many.ts"
seeds=$(seq -f 't%03.0f' 0 259 | paste -sd';')
out=$(hybrid --index "$T/many.ts" --catalog "$T/many.tsv" --playlists "$T/many.csv" --playlist "$seeds" -k 30 --tsv 2>&1)
is "--playlist with 260 seeds: 30 results, each song once" "$(cut -f3 <<<"$out" | sort -u | grep -c '^t')" 30
is "  every score at most 1 (the mean of the seeds' blends)" "$(awk -F'\t' '$4 > 1' <<<"$out" | wc -l)" 0
