# test_hybrid_sound.sh - the sound source of hybrid answers (issue 15): a
# generated music folder whose files carry the title and artist tags of real
# catalogue rows (tests/data/versions_songs.csv) in Ogg, FLAC, MP3 and WAV
# becomes a library (make library) with its tags beside the vectors
# (LIB/tags.tsv); hybrid ties the vectors to catalogue songs by title and
# artist (versions folded), reports the count, blends the sound neighbours in
# and labels them 'sound'; never without a library; a song without sound
# answers as without one; hostile names and tags (quotes, $, TAB, line end)
# keep the TSV whole; make recommend STYLE=hybrid HYBRID_SOUND=dir.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
for s in csv-clean normalize knn hybrid spectro slice embed pool append inspect; do
  [ -x "$BIN/$s" ] || { skip hybrid-sound "no $BIN/$s yet"; exit 0; }
done
GEN=${TOOLS:-$ROOT/build/rel/tools}/gen-audio
[ -x "$GEN" ] || { skip hybrid-sound "no $GEN (make tools)"; exit 0; }
cp data/sound.model "$T/m.model"; cp data/sound.model.inputs "$T/m.model.inputs"
CSV=$ROOT/tests/data/versions_songs.csv
M=(make --no-print-directory -s -C "$ROOT" OUT="${OUT:-build}" SAN="${SAN:-0}" OUTDIR="$T/out" CNN_DIR="$T/cnn"
   CNN_MODEL="$T/m.model" LIBRARY_PARTS=2 LIBRARY_PROGRESS=1000)
CAN=$T/CANARY

# ---- the music: tags of catalogue rows, one tagged file that is no catalogue
# song, one untagged, one whose name holds a TAB (no TSV cell: no tags row)
MU=$T/"my music"
odd="q \"\$(touch $CAN)\" \$HOME"
mkdir -p "$MU/rock" "$MU/$odd"
g() { "$GEN" "$@" || fail "gen-audio $1"; }
g "$MU/rock/teen spirit.ogg" 3 440 1 'Smells Like Teen Spirit' 'Nirvana'
g "$MU/rock/bj.flac" 3 445 2 'Billie Jean' 'Michael Jackson'
g "$MU/rock/queen.mp3" 3 2000 3 'Bohemian Rhapsody - Remastered 2011' 'Queen'
g "$MU/$odd/it's \"\$x\".wav" 3 1200 4 $'Take\tOn\nMe' 'a-ha'
g "$MU/rock/nobody.ogg" 3 700 5 "Nothing \"\$(touch $CAN)\" Here" 'Nobody'
g "$MU/rock/untagged.ogg" 3 900 6
g "$MU/rock/tab"$'\t'"name.ogg" 3 1500 7 'Africa' 'TOTO'
g "$MU/rock/blank.ogg" 3 1600 8 $'\t\n ' 'Only Artist'
g "$MU/rock/latin1.ogg" 3 1700 9 $'Caf\xe9' 'Nobody'
L=$T/lib
if "${M[@]}" library MUSIC="$MU" LIBRARY_DIR="$L" > "$T/lib.out" 2>&1; then pass "make library: 7 files with and without tags"
else fail "make library" "$(tail -c 600 "$T/lib.out")"; fi
like "  the tags count on stderr" "$(cat "$T/lib.out")" "tags.tsv: 5 of 9 songs carry both title and artist tags"
like "  a tag that is not UTF-8 is named on stderr" "$(cat "$T/lib.out")" "latin1.ogg: its title or artist tag is not UTF-8 text; left empty"
tagrow() { awk -F'\t' -v k="$1" '$1 == k { print $2 "|" $3 }' "$L/tags.tsv"; }
is "  Ogg (Vorbis comment)" "$(tagrow 'rock/teen spirit.ogg')" "Smells Like Teen Spirit|Nirvana"
is "  FLAC (Vorbis comment)" "$(tagrow rock/bj.flac)" "Billie Jean|Michael Jackson"
is "  MP3 (ID3, through libsndfile's mpg123)" "$(tagrow rock/queen.mp3)" "Bohemian Rhapsody - Remastered 2011|Queen"
is "  WAV (LIST INFO) under a hostile name; TAB and line end in a tag read as spaces" "$(tagrow "$odd/it's \"\$x\".wav")" "Take On Me|a-ha"
is "  quotes and \$(...) in a tag kept as text" "$(tagrow rock/nobody.ogg)" "Nothing \"\$(touch $CAN)\" Here|Nobody"
is "  an untagged file: empty cells" "$(tagrow rock/untagged.ogg)" "|"
is "  a title of TAB, line end and space alone: an empty cell" "$(tagrow rock/blank.ogg)" "|Only Artist"
is "  a tag that is not UTF-8 (Latin-1 e-acute): left empty" "$(tagrow rock/latin1.ogg)" "|"
is "  every line 3 cells, a header and 8 songs (the TAB-named file has none)" \
  "$(awk -F'\t' 'NF != 3 { bad++ } END { print NR, bad + 0 }' "$L/tags.tsv")" "9 0"
is "  the index holds all 9" "$(inspect "$L/index.ts" | awk '$1 == "rows" { print $2; exit }')" 9
[ -e "$CAN" ] && { fail "  no tag ran as code" "canary"; rm -f "$CAN"; } || pass "  no tag ran as code"

# ---- hybrid with the library ----
COLS=danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
csv-clean --key track_id --cols $COLS --display track_name,track_artist,playlist_id,track_popularity \
  --catalog "$T/songs.tsv" -- "$CSV" 2>/dev/null | normalize --method zscore -o "$T/songs.ts"
H=(hybrid --index "$T/songs.ts" --catalog "$T/songs.tsv" --playlists "$CSV")
SND=(--sound-index "$L/index.ts" --sound-tags "$L/tags.tsv")
STS=4hy4fb5D1KL50b3sng9cjw BJ=5ChkMS8OtdzJeqyybCc9R5 AFRICA=28o8m1o9RGtySbmQJtAvym
"${H[@]}" "${SND[@]}" --song $STS -k 5 --tsv > "$T/s.tsv" 2> "$T/s.err"
like "matches reported: 4 of the 5 tagged songs name catalogue songs (the remaster: Queen's song)" "$(cat "$T/s.err")" \
  "index.ts: 9 library songs, 5 with title and artist tags \(.*tags.tsv\), 4 match a catalogue song"
# W = 0, S = 1: the content of a pair with sound is its sound alone
"${H[@]}" "${SND[@]}" --song $STS -k 5 --tsv --blend 0 --sound-share 1 > "$T/s1.tsv" 2>/dev/null
is "--blend 0 --sound-share 1: the nearest sound first, labelled sound" "$(head -1 "$T/s1.tsv" | cut -f3,7)" "$BJ	sound"
like "  its reason names the query" "$(head -1 "$T/s1.tsv" | cut -f8)" "^sounds like 'Smells Like Teen Spirit' \(sound cosine [01][.][0-9]{2}\)$"
is "  the other matched songs come as sound too (Take On Me, Bohemian Rhapsody's version)" \
  "$(awk -F'\t' '$7 == "sound"' "$T/s1.tsv" | cut -f5 | sed 's/ - .*//' | sort | tr '\n' ';')" "Billie Jean;Bohemian Rhapsody;Take on Me;"
# the blend: a pair's score is linear in S, (1 - S) feature + S sound
sc() { "${H[@]}" "$@" --song $STS -k 100 --tsv --blend 0 2>/dev/null | awk -F'\t' -v id=$BJ '$3 == id { print $4 }'; }
s0=$(sc "${SND[@]}" --sound-share 0) s5=$(sc "${SND[@]}" --sound-share 0.5) s1=$(sc "${SND[@]}" --sound-share 1) sn=$(sc)
near "Billie Jean's score at S=0 is that of the features alone (no library)" "$s0" "$sn" 1e-6
near "  at S=0.5 the mean of S=0 and S=1 (the blend, not a swap)" "$s5" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print (a + b) / 2 }')" 2e-6
is "  and the sound moves it (S=1 differs from S=0 by more than 0.05)" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { d = b - a; print (d > 0.05 || d < -0.05) ? "yes" : "no " a " " b }')" yes
cos=$(awk -F'\t' -v id=$BJ '$3 == id { sub(/.*cosine /, "", $8); sub(/\).*/, "", $8); print $8 }' "$T/s1.tsv")
near "  at S=1, W=0 the score is (1 + sound cosine) / 2" "$s1" "$(awk -v c="$cos" 'BEGIN { print (1 + c) / 2 }')" 0.006
# a song without sound answers as without a library, byte for byte
is "a song without sound (Africa): the same answer as without the library" \
  "$("${H[@]}" "${SND[@]}" --song $AFRICA -k 8 --tsv 2>/dev/null | md5sum)" "$("${H[@]}" --song $AFRICA -k 8 --tsv 2>/dev/null | md5sum)"
# every song's list: sound only with a library, and only between songs with sound
"${H[@]}" --all -k 10 -o "$T/all0.tsv" 2>/dev/null
"${H[@]}" "${SND[@]}" --sound-share 0.8 --all -k 10 -o "$T/all1.tsv" 2>/dev/null
is "--all without a library: no result labelled sound" "$(cut -f5 "$T/all0.tsv" | sort -u | tr '\n' ' ')" "features playlists "
is "--all with it: sound results only from and to the matched songs (all their versions)" \
  "$(awk -F'\t' 'NR == FNR { t[$1] = $2; next } $5 == "sound" { sub(/ - .*/, "", t[$1]); sub(/ - .*/, "", t[$3]); print tolower(t[$1]); print tolower(t[$3]) }' \
     "$T/songs.tsv" "$T/all1.tsv" | sort -u | tr '\n' ';')" "billie jean;bohemian rhapsody;smells like teen spirit;take on me;"
n_snd=$(awk -F'\t' '$5 == "sound"' "$T/all1.tsv" | wc -l)
is "  some" "$([ "$n_snd" -gt 0 ] && echo yes)" yes
is "  never from a query without sound (Africa)" "$(awk -F'\t' -v q=$AFRICA '$1 == q && $5 == "sound"' "$T/all1.tsv" | wc -l)" 0
out=$("${H[@]}" "${SND[@]}" --playlist "$AFRICA; $STS" -k 6 --json --sound-share 1 2>/dev/null)
like "--playlist: a sound result names the seed it sounds like" "$(jq -r 'select(.source == "sound") | .reason' <<<"$out" | head -1)" \
  "^sounds like 'Smells Like Teen Spirit'"
out=$("${H[@]}" "${SND[@]}" --eval 2>/dev/null)
like "--eval (seed 1): no validation song has sound, so S cannot be chosen, and it says so" "$out" \
  "^sound: 0 of [0-9]+ validation and [0-9]+ of [0-9]+ test songs have a sound vector; with none in validation, S cannot be chosen"
is "  and W is chosen as without a library" "$(grep -- '<- chosen' <<<"$out")" "$("${H[@]}" --eval 2>/dev/null | grep -- '<- chosen')"
# seed 5, holdout 0.3: 2 validation and 1 test song have sound (these rows)
out=$("${H[@]}" "${SND[@]}" --eval --seed 5 --holdout 0.3 2>/dev/null)
like "--eval (seed 5): S chosen on the validation songs with sound" "$out" "by sound share S at W=[01][.][0-9] \(the 2 songs with a sound vector\)"
is "  11 shares, one chosen" "$(grep -cE '^  S=[01][.][0-9]  [01][.][0-9]{4}' <<<"$out") $(grep -c '^  S=.*<- chosen' <<<"$out")" "11 1"
like "  the test songs with sound, with and without it" "$out" "test hit rate@10 of the 1 songs with a sound vector:"
# a library without tags ties nothing
printf 'key\ttitle\tartist\n' > "$T/notags.tsv"
"${H[@]}" --sound-index "$L/index.ts" --sound-tags "$T/notags.tsv" --song $STS -k 5 --tsv > "$T/n.tsv" 2> "$T/n.err"
like "tags.tsv without rows: 0 matches" "$(cat "$T/n.err")" "9 library songs, 0 with title and artist tags .*, 0 match"
is "  no sound results" "$(cut -f7 "$T/n.tsv" | grep -c '^sound$')" 0
printf 'key\tname\n' > "$T/bad.tsv"
fails "tags without title/artist columns" 1 "bad.tsv:1: no 'title' and 'artist' columns" "${H[@]}" --sound-index "$L/index.ts" --sound-tags "$T/bad.tsv" --song $STS
fails "--sound-index alone" 2 "--sound-index and --sound-tags go together" "${H[@]}" --sound-index "$L/index.ts" --song $STS
fails "--sound-share out of range" 2 "--sound-share" "${H[@]}" "${SND[@]}" --sound-share 1.5 --song $STS

# ---- make recommend STYLE=hybrid HYBRID_SOUND=dir ----
"${M[@]}" recommend STYLE=hybrid SONGS_CSV="$CSV" SONG=$STS HYBRID_SOUND="$L" HYBRID_SOUND_SHARE=1 HYBRID_BLEND=0 \
  K=3 FORMAT=json > "$T/r.out" 2> "$T/r.err"
is "make recommend STYLE=hybrid HYBRID_SOUND=<library>: the nearest sound first, labelled sound" \
  "$(jq -r 'select(.rank == 1) | .id + " " + .source' "$T/r.out" 2>/dev/null)" "$BJ sound"
like "  the match count on stderr" "$(cat "$T/r.err")" "4 match a catalogue song"
"${M[@]}" recommend STYLE=hybrid SONGS_CSV="$CSV" SONG=$STS K=3 FORMAT=json > "$T/r.out" 2>/dev/null
is "  without HYBRID_SOUND: none" "$(jq -r .source "$T/r.out" | grep -c '^sound$')" 0
fails "HYBRID_SOUND=<a folder without a library>" 2 "HYBRID_SOUND=.*holds no sound library" \
  "${M[@]}" recommend STYLE=hybrid SONGS_CSV="$CSV" SONG=$STS HYBRID_SOUND="$T/none"
fails "HYBRID_SOUND_SHARE=<not a number>" 2 "HYBRID_SOUND_SHARE='x': not a decimal number" \
  "${M[@]}" recommend STYLE=hybrid SONG=$STS HYBRID_SOUND_SHARE=x
