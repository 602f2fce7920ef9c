# test_taste.sh - taste (Spotify history -> scores, matching, train/test
# tables) and taste-rank (unheard list, candidates, evaluation) on the
# invented fixtures of tests/data/history, values worked out by hand; and the
# whole `make taste` pipeline with train-mlp and embed.
. "$(dirname "$0")/lib.sh"
# the fixtures are stored under names no real export has (so that a check
# for committed listening data never confuses them); the export's names are
# given back here
H=$T/history
mkdir -p "$H/basic" "$H/extended"
F=$ROOT/tests/data/history
cp "$F/songs.csv" "$F/ranked.csv" "$H/"
cp "$F/basic/YourLibrary.json" "$H/basic/"
cp "$F/basic/music_0.json.fixture" "$H/basic/StreamingHistory_music_0.json"
cp "$F/extended/audio_2023.json.fixture" "$H/extended/Streaming_History_Audio_2023.json"
for s in csv-clean taste taste-rank to-csv; do [ -x "$BIN/$s" ] || { skip taste "no $BIN/$s"; exit 0; }; done
csv-clean --key track_id --cols danceability,energy,valence,tempo,year:track_album_release_date,track_popularity \
  --display track_name,track_artist,playlist_genre --catalog "$T/cat.tsv" -o "$T/f.ts" "$H/songs.csv" 2>/dev/null
scores() { to-csv --no-header "$1" | awk -F, '{ printf "%s:%g:%g:%.4g:%.4g:%g ", $1, $2, $3, $4, $5, $6 }'; }

# basic history: plays = entries >= 30 s; ranked by plays, then total time:
# Paper Lanterns 3 plays, Neon Harbour 2 (370 s), Glass Orchard 2 (200 s),
# Slow Tide 1 (240 s), Copper Sky 1 -> (N - r) / N = 1 .. 0.2
taste --catalog "$T/cat.tsv" -o "$T/b.ts" "$H/basic" 2>"$T/err"
is "basic: scores, plays, minutes, skip rate, ranked" "$(scores "$T/b.ts")" \
  "trk01:1:3:10.08:0.25:1 trk02:0.8:2:6.167:0.3333:1 trk04:0.6:2:3.333:0:1 trk03:0.4:1:4:0:1 trk05:0.2:1:0.5167:0:1 "
like "basic: what was read" "$(cat "$T/err")" "read 1 file: 16 plays of music \(14 of 30 s or more\) from 2023-01-02 to 2023-01-09, 6 distinct tracks"
like "basic: match report" "$(cat "$T/err")" "matched 5 \(83\.3 %: 0 by uri, 3 by title\+artist, 2 by shortened title\) of 6 distinct tracks to 5 catalogue rows"
is "a file and its folder read the same" "$(taste --catalog "$T/cat.tsv" "$H/basic/StreamingHistory_music_0.json" 2>/dev/null | to-csv | md5sum)" "$(to-csv "$T/b.ts" | md5sum)"
is "--top 2" "$(taste --catalog "$T/cat.tsv" --top 2 "$H/basic" 2>/dev/null | to-csv --no-header | cut -d, -f1,2,6 | tr '\n' ' ')" \
  "trk01,1,1 trk02,0.5,1 trk04,0,0 trk03,0,0 trk05,0,0 "
is "--min-ms 150000 changes plays" "$(taste --catalog "$T/cat.tsv" --min-ms 150000 "$H/basic" 2>/dev/null | to-csv --no-header | cut -d, -f1,3 | tr '\n' ' ')" \
  "trk01,3 trk02,2 trk03,1 trk04,0 trk05,0 "
taste --catalog "$T/cat.tsv" --unmatched "$T/u.tsv" "$H/basic" >/dev/null 2>&1
is "--unmatched lists the missing track" "$(cat "$T/u.tsv")" $'artist\ttitle\tentries\tplays\nNobody Known\tUnknown Song\t5\t5'

# extended: matched by uri (the title differs), skipped true/false/null,
# the podcast episode counted apart
taste --catalog "$T/cat.tsv" -o "$T/e.ts" "$H/extended" 2>"$T/err"
is "extended: scores" "$(scores "$T/e.ts")" "trk07:1:2:6.833:0.3333:1 trk08:0.5:1:0.8333:0:1 "
like "extended: report" "$(tr '\n' ' ' < "$T/err")" "5 plays of music .* 3 distinct tracks.*skipped: 0 video files \(0 rows\), 1 podcast row, 0 other rows.*matched 2 \(66\.7 %: 2 by uri"
# plays score: (1 - skip rate) log1p(min) / max log1p(min)
want=$(awk 'BEGIN { m = log(1 + 410000/60000); printf "trk07:%.4f trk08:%.4f", (2/3) * m / m, log(1 + 50000/60000) / m }')
is "--score plays" "$(taste --catalog "$T/cat.tsv" --score plays "$H/extended" 2>/dev/null | to-csv --no-header | awk -F, '{ printf "%s%s:%.4f", (NR > 1 ? " " : ""), $1, $2 }')" "$want"
# a ranked CSV keeps its rank column's order, ranks among the matched
is "ranked CSV" "$(taste --catalog "$T/cat.tsv" "$H/ranked.csv" 2>/dev/null | to-csv --no-header | cut -d, -f1,2 | tr '\n' ' ')" "trk03,1 trk02,0.5 "
fails "ranked CSV with --score plays" 2 "needs play histories" taste --catalog "$T/cat.tsv" --score plays "$H/ranked.csv"
is "two folders add up" "$(taste --catalog "$T/cat.tsv" "$H/basic" "$H/extended" 2>/dev/null | to-csv --no-header | wc -l)" 7

# training tables: 5 scored + 5 unheard, 40 % of each to --test; negatives
# are never heard, nor trk06 (another id of the heard Paper Lanterns)
taste --catalog "$T/cat.tsv" --features "$T/f.ts" --train "$T/tr.ts" --test "$T/te.ts" --test-share 0.4 "$H/basic" >/dev/null 2>&1
is "train + test columns" "$(to-csv "$T/tr.ts" | head -1)" "track_id,danceability,energy,valence,tempo,year,track_popularity,taste,heard"
is "test: 2 heard + 2 unheard" "$(to-csv --no-header "$T/te.ts" | awk -F, '{ n[$NF]++ } END { print n[1] + 0, n[0] + 0 }')" "2 2"
is "train: 3 heard + 3 unheard" "$(to-csv --no-header "$T/tr.ts" | awk -F, '{ n[$NF]++ } END { print n[1] + 0, n[0] + 0 }')" "3 3"
bad=0
for seed in 1 2 3 4 5 6 7 8; do
  taste --catalog "$T/cat.tsv" --features "$T/f.ts" --train "$T/tr.ts" --test "$T/te.ts" --seed $seed "$H/basic" >/dev/null 2>&1
  bad=$((bad + $( { to-csv --no-header "$T/tr.ts"; to-csv --no-header "$T/te.ts"; } | awk -F, '$NF == 0 && $1 ~ /^trk0[1-6]$/' | wc -l)))
done
is "negatives never heard nor another id of a heard song (8 seeds)" "$bad" 0
is "heard rows carry their score" "$( { to-csv --no-header "$T/tr.ts"; to-csv --no-header "$T/te.ts"; } | awk -F, '$NF == 1 { print $1 ":" $(NF-1) }' | sort | tr '\n' ' ')" \
  "trk01:1 trk02:0.800000012 trk03:0.400000006 trk04:0.600000024 trk05:0.200000003 "
s1=$(taste --catalog "$T/cat.tsv" --features "$T/f.ts" --train "$T/tr.ts" --test "$T/te.ts" --seed 3 "$H/basic" 2>&1 >/dev/null; to-csv "$T/te.ts" | md5sum)
s2=$(taste --catalog "$T/cat.tsv" --features "$T/f.ts" --train "$T/tr.ts" --test "$T/te.ts" --seed 3 "$H/basic" 2>&1 >/dev/null; to-csv "$T/te.ts" | md5sum)
is "same seed, same split" "$s1" "$s2"

fails "no catalogue" 2 "--catalog" taste "$H/basic"
fails "no history" 2 "no history" taste --catalog "$T/cat.tsv"
fails "--train without --features" 2 "need --features" taste --catalog "$T/cat.tsv" --train x --test y "$H/basic"
printf '[{"endTime": "2023-01-01 00:00", "artistName": "A",\n "trackName": "B", "msPlayed": }]' > "$T/StreamingHistory0.json"
fails "broken JSON names the line" 1 "StreamingHistory0.json:2: invalid JSON" taste --catalog "$T/cat.tsv" "$T/StreamingHistory0.json"
# issue 14: trailing documents, keys twice, infinite play times, NULs
e1='{"endTime": "2023-01-01 00:00", "artistName": "The Invented Band", "trackName": "Paper Lanterns", "msPlayed": 200000}'
printf '[%s]\n[%s]\n' "$e1" "$e1" > "$T/StreamingHistory1.json"
fails "a second JSON document after the first" 1 "StreamingHistory1.json:2:1: data after the end of the JSON document" \
  taste --catalog "$T/cat.tsv" "$T/StreamingHistory1.json"
printf '[{"endTime": "x", "artistName": "The Invented Band", "trackName": "Slow Tide", "trackName": "Paper Lanterns", "msPlayed": 200000}]' > "$T/StreamingHistory2.json"
fails "a key twice in an entry" 1 "StreamingHistory2.json: in \\[0\\]: key \"trackName\" appears twice" \
  taste --catalog "$T/cat.tsv" "$T/StreamingHistory2.json"
printf '[{"endTime": "x", "artistName": "The Invented Band", "trackName": "Paper Lanterns", "msPlayed": 1e999}]' > "$T/StreamingHistory3.json"
fails "msPlayed 1e999 (infinite)" 1 "StreamingHistory3.json: at \\[0\\]\\.msPlayed: the number inf is outside the range of a double" \
  taste --catalog "$T/cat.tsv" "$T/StreamingHistory3.json"
printf '[{"ts": "x", "master_metadata_album_artist_name": "The Invented Band", "master_metadata_track_name": "Paper Lanterns", "ms_played": 1e400}]' > "$T/StreamingHistory4.json"
fails "ms_played 1e400 (infinite, extended history)" 1 "StreamingHistory4.json: at \\[0\\]\\.ms_played: the number inf is outside" \
  taste --catalog "$T/cat.tsv" "$T/StreamingHistory4.json"
printf '[{"endTime": "x",\n "artistName": "The Invented Band", "trackName": "Paper LanternsNULx", "msPlayed": 200000}]' | sed 's/NUL/\x00/' > "$T/StreamingHistory5.json"
fails "a NUL byte in a name" 1 "StreamingHistory5.json:2:[0-9]+: a NUL byte" taste --catalog "$T/cat.tsv" "$T/StreamingHistory5.json"
printf '[{"endTime": "x", "artistName": "The Invented Band", "trackName": "Paper Lanterns\\u0000x", "msPlayed": 200000}]' > "$T/StreamingHistory6.json"
fails "an escaped \\u0000 in a name" 1 "StreamingHistory6.json:1:[0-9]+: a \\\\u0000 escape" taste --catalog "$T/cat.tsv" "$T/StreamingHistory6.json"
printf '[{"foo": 1}]' > "$T/other.json"
fails "not a history" 1 "no msPlayed" taste --catalog "$T/cat.tsv" "$T/other.json"
mkdir -p "$T/empty"
fails "folder without history files" 1 "no streaming-history file" taste --catalog "$T/cat.tsv" "$T/empty"
printf 'track_name,artist\nNothing,Nobody\n' > "$T/none.csv"
fails "nothing matched" 1 "no history track matched" taste --catalog "$T/cat.tsv" -o "$T/fail.ts" "$T/none.csv"
is "no output or temporary file after failure" "$(cd "$T" && compgen -G 'fail.ts*')" ""
ok "--help" taste --help

# ---- exports as Spotify delivers them (issue 17): a zip or its extracted
# folder, history files in subfolders named with spaces.  Export A holds
# extended history (two file names), a video file, podcast and audiobook
# rows, and the basic files of the other download (skipped: same plays).
# 8 distinct tracks: by uri trk09 (another title), trk10; by folded
# title+artist Velvet Maps (case), Golden Room's (apostrophe, '!'), Slow
# Tide (accent); by shortened title Amber Letters feat. (title and artist)
# via an unknown uri, Silver Bridges - Remastered 2011; Lost Song: none.
command -v zip >/dev/null || { skip taste "exports: no zip command (make deps installs it)"; exit 0; }
ext() {   # ts ms title artist uri [episode] [audiobook]
  printf '{"ts": "%s", "platform": "x", "ms_played": %s, "master_metadata_track_name": %s, "master_metadata_album_artist_name": %s, "spotify_track_uri": %s, "episode_name": %s, "spotify_episode_uri": %s, "audiobook_title": %s, "skipped": false}' \
    "$1" "$2" "$3" "$4" "$5" "${6:-null}" "$( [ "${6:-null}" = null ] && echo null || echo '"spotify:episode:ep0"')" "${7:-null}"
}
A="$T/a/my_spotify_data"; XH="$A/Spotify Extended Streaming History"; AD="$A/Spotify Account Data"
mkdir -p "$XH" "$AD"
{ echo '['
  ext 2022-12-30T10:00:00Z 200000 '"Broken Engines (Live)"' '"The Placeholders"' '"spotify:track:trk09"'; echo ,
  ext 2022-12-30T10:05:00Z 200000 '"Broken Engines (Live)"' '"The Placeholders"' '"spotify:track:trk09"'; echo ,
  ext 2023-01-01T10:00:00Z 100000 '"Winter Fields"' '"Test Pattern"' '"spotify:track:trk10"'; echo ,
  ext 2023-01-02T10:00:00Z 10000 '"velvet MAPS"' '"NORA NOBODY"' null; echo ,
  ext 2023-01-03T10:00:00Z 900000 null null null '"Invented Episode"'; echo ,
  ext 2023-01-04T10:00:00Z 900000 null null null '"Invented Episode 2"'; echo ,
  ext 2023-01-05T10:00:00Z 600000 null null null null '"Invented Audiobook"'; echo ,
  ext 2023-01-06T10:00:00Z 120000 '"Lost Song"' '"Ghost Artist"' '"spotify:track:notincatalogue00000000"'
  echo ']'; } > "$XH/Streaming_History_Audio_2022-2023_0.json"
{ echo '['
  ext 2023-06-01T10:00:00Z 150000 '"Amber Letters feat. Someone"' '"Fictional Five feat. Someone"' '"spotify:track:unknownuri000000000000"'; echo ,
  ext 2023-06-02T10:00:00Z 150000 '"Silver Bridges - Remastered 2011"' '"Test Pattern"' null; echo ,
  ext 2023-06-03T10:00:00Z 150000 '"Golden Room'"'"'s!"' '"Fictional Five"' null; echo ,
  ext 2024-02-01T10:00:00Z 150000 '"Slow Tide"' '"MAREE BASSE"' null
  echo ']'; } > "$XH/endsong_0.json"
printf '[{"ts": "2023-01-01T00:00:00Z", "ms_played": 5000, "video": 1}, {"ts": "x"}, {"ts": "y"}]' > "$XH/Streaming_History_Video_2023.json"
cp "$F/basic/music_0.json.fixture" "$AD/StreamingHistory_music_0.json"
printf '[{"endTime": "2023-05-01 10:00", "podcastName": "Invented Show", "episodeName": "One", "msPlayed": 900000},\n {"endTime": "2023-05-02 10:00", "podcastName": "Invented Show", "episodeName": "Two", "msPlayed": 900000}]\n' \
  > "$AD/StreamingHistory_podcast_0.json"
cp "$F/basic/YourLibrary.json" "$AD/"
# export B: the basic download alone (music and podcast files)
B="$T/b/my_spotify_data"; mkdir -p "$B/Spotify Account Data"
cp "$AD"/* "$B/Spotify Account Data/"
(cd "$T/a" && zip -qr "$T/a.zip" my_spotify_data)                       # with the top folder
(cd "$B" && zip -qr "$T/b.zip" .)                                        # without it
# (the report names the output files on its last line: left out of .err)
ta() { taste --catalog "$T/cat.tsv" --features "$T/f.ts" --train "$T/$1.tr" --test "$T/$1.te" --unmatched "$T/$1.un" \
         -o "$T/$1.ts" "${@:2}" 2> "$T/$1.log" && grep -v '^taste: tables: ' "$T/$1.log" > "$T/$1.err"; }
ok "export A as a folder" ta afold "$T/a/my_spotify_data/"
ok "export A as a zip" ta azip "$T/a.zip"
r=$(cat "$T/afold.err")
like "export A: what was read" "$r" "read 2 files: 9 plays of music \\(8 of 30 s or more\\) from 2022-12-30 to 2024-02-01, 8 distinct tracks"
like "export A: what was skipped" "$r" "skipped: 1 video file \\(3 rows\\), 2 podcast rows, 1 other row without a track \\(audiobooks, ...\\), 2 basic files"
like "export A: matches by uri, folded name, shortened name" "$r" \
  "matched 7 \\(87\\.5 %: 2 by uri, 3 by title\\+artist, 2 by shortened title\\) of 8 distinct tracks to 7 catalogue rows"
is "export A: the matched catalogue rows" "$(to-csv --no-header "$T/afold.ts" | cut -d, -f1 | sort | tr '\n' ' ')" \
  "trk03 trk09 trk10 trk11 trk12 trk13 trk14 "
is "export A: unmatched" "$(tail -n +2 "$T/afold.un")" $'Ghost Artist\tLost Song\t1\t1'
for f in ts tr te un err; do
  ok "export A: zip and folder give the same bytes ($f)" cmp "$T/afold.$f" "$T/azip.$f"
done
ok "export B as a folder" ta bfold "$B"
ok "export B as a zip" ta bzip "$T/b.zip"
like "export B: basic files, podcast rows counted" "$(tr '\n' ' ' < "$T/bfold.err")" \
  "read 2 files: 16 plays of music .* 6 distinct tracks.*skipped: 0 video files \\(0 rows\\), 2 podcast rows, 0 other rows.*, 0 basic files.*matched 5 \\(83\\.3 %"
for f in ts tr te un err; do
  ok "export B: zip and folder give the same bytes ($f)" cmp "$T/bfold.$f" "$T/bzip.$f"
done
# the low-match warning: under --enough-tracks (200) or --enough-share (0.2)
like "low match: warned (7 tracks < 200)" "$(cat "$T/azip.err")" \
  "taste: warning: 7 matched tracks \\(87\\.5 % of the history's 8\\) are too few: the model cannot learn this listener from this catalogue.*make taste CATALOG="
taste --catalog "$T/cat.tsv" --enough-tracks 7 --enough-share 0.875 "$T/a.zip" 2>"$T/err" >/dev/null
is "enough matched: no warning" "$(grep -c warning "$T/err")" 0
taste --catalog "$T/cat.tsv" --enough-tracks 8 --enough-share 0.1 "$T/a.zip" 2>"$T/err" >/dev/null
is "one track short: warned" "$(grep -c 'cannot learn this listener' "$T/err")" 1
taste --catalog "$T/cat.tsv" --enough-tracks 1 --enough-share 0.9 "$T/a.zip" 2>"$T/err" >/dev/null
is "share short: warned" "$(grep -c 'cannot learn this listener' "$T/err")" 1

# hostile archives: a '..' member (zip-slip; renamed in place, same length),
# a member over --max-file; a plain file over it; no history in an archive
mkdir -p "$T/s/XX"; cp "$XH/endsong_0.json" "$T/s/XX/Streaming_History_Audio_2023.json"
(cd "$T/s" && zip -qr "$T/slip.zip" XX)
LC_ALL=C sed -i 's#XX/Streaming_History#../Streaming_History#g' "$T/slip.zip"
fails "zip-slip member refused" 1 "slip.zip: member '\\.\\./Streaming_History_Audio_2023\\.json' has a '\\.\\.' part" taste --catalog "$T/cat.tsv" "$T/slip.zip"
mkdir -p "$T/big/Spotify Extended Streaming History"
{ printf '['; head -c 2200000 /dev/zero | tr '\0' ' '; printf ']'; } > "$T/big/Spotify Extended Streaming History/Streaming_History_Audio_2023.json"
(cd "$T/big" && zip -qr "$T/big.zip" .)
fails "member over --max-file refused" 1 "big.zip:Spotify Extended Streaming History/Streaming_History_Audio_2023\\.json: larger than the 1 MiB limit" \
  taste --catalog "$T/cat.tsv" --max-file 1 -o "$T/big.ts" "$T/big.zip"
is "  no output" "$(cd "$T" && compgen -G 'big.ts*')" ""
fails "folder file over --max-file refused" 1 "Streaming_History_Audio_2023\\.json: larger than the 1 MiB limit" \
  taste --catalog "$T/cat.tsv" --max-file 1 "$T/big"
printf 'x' > "$T/s/readme.txt"; (cd "$T/s" && zip -q "$T/none.zip" readme.txt)
fails "archive without history" 1 "none.zip: no streaming-history file in the archive" taste --catalog "$T/cat.tsv" "$T/none.zip"
printf 'PK\003\004garbage' > "$T/bad.zip"
fails "damaged archive" 1 "bad.zip: not a readable zip archive" taste --catalog "$T/cat.tsv" "$T/bad.zip"

# ---- taste-rank: hand-made predictions ----
printf 'track_id,pred\n' > "$T/p.csv"
awk -F, 'NR > 1 { printf "%s,%.3f\n", $1, 1 - (NR - 2) / 40 }' "$H/songs.csv" >> "$T/p.csv"   # trk01 0.99 ... falling
csv-clean --key track_id --cols pred "$T/p.csv" -o "$T/p.ts" 2>/dev/null
out=$(taste-rank --pred "$T/p.ts" --catalog "$T/cat.tsv" --heard "$T/b.ts" -k 3 --tsv)
is "unheard list skips heard ids and other ids of heard songs" "$(cut -f1-3 <<<"$out" | tr '\t\n' ', ')" "rank,match_percent,key 1,85.0,trk07 2,82.5,trk08 3,80.0,trk09 "
like "readable list" "$(taste-rank --pred "$T/p.ts" --catalog "$T/cat.tsv" -k 1)" "^ +1 +100\.0 %  Paper Lanterns - The Invented Band  \[trk01\]$"
printf 'trk09\nspotify:track:trk10\nneon harbour - the invented band\nSlow Tide\nno such song\n' > "$T/cand.txt"
out=$(taste-rank --pred "$T/p.ts" --catalog "$T/cat.tsv" --candidates "$T/cand.txt" --tsv 2>"$T/err")
is "candidates: id, uri, title - artist, title, unknown" "$(cut -f2,3 <<<"$out" | tail -n +2 | tr '\t\n' ', ')" "80.0,trk09 77.5,trk10 97.5,trk02 95.0,trk03 , "
like "candidates: missing ones reported" "$(cat "$T/err")" "1 of 5 candidates are not in the catalogue"
printf 'id,name\ntrk09,\n,Neon Harbour\n' > "$T/cand.csv"
is "candidates CSV" "$(taste-rank --pred "$T/p.ts" --catalog "$T/cat.tsv" --candidates "$T/cand.csv" --tsv | cut -f3 | tail -n +2 | tr '\n' ' ')" "trk09 trk02 "

# evaluation, by hand: heard rows taste 1 .75 .5 .25, preds .9 .4 .7 .3,
# unheard preds .5 .1: AUC 6/8; rho = 1 - 6*2/60 = 0.8; rounded accuracy
# 4/6; MSE 0.435/6; baseline popularity 60 20 40 10 | 30 50: AUC 3/8, rho 0.8
printf 'track_id,taste,heard,track_popularity\nh1,1,1,60\nh2,0.75,1,20\nh3,0.5,1,40\nh4,0.25,1,10\nu1,0,0,30\nu2,0,0,50\n' > "$T/te.csv"
printf 'track_id,taste\nh1,0.9\nh2,0.4\nh3,0.7\nh4,0.3\nu1,0.5\nu2,0.1\nzz,0.3\n' > "$T/pe.csv"
csv-clean --key track_id --cols taste,heard,track_popularity "$T/te.csv" -o "$T/te.ts" 2>/dev/null
csv-clean --key track_id --cols taste "$T/pe.csv" -o "$T/pe.ts" 2>/dev/null
ev=$(taste-rank --pred "$T/pe.ts" --eval "$T/te.ts" --tsv)
get() { awk -F'\t' -v m="$1" -v c="$2" '$1 == m { print $c }' <<<"$ev"; }
near "eval: model AUC" "$(get auc_heard_vs_unheard 2)" 0.75 1e-6
near "eval: baseline AUC" "$(get auc_heard_vs_unheard 3)" 0.375 1e-6
near "eval: model Spearman over heard" "$(get spearman_score_heard 2)" 0.8 1e-6
near "eval: baseline Spearman" "$(get spearman_score_heard 3)" 0.8 1e-6
near "eval: rounded accuracy" "$(get accuracy_rounded 2)" 0.666667 1e-5
near "eval: majority class" "$(get accuracy_majority_class 2)" 0.5 1e-6
near "eval: MSE" "$(get mse 2)" 0.0725 1e-6
like "eval: readable report" "$(taste-rank --pred "$T/pe.ts" --eval "$T/te.ts")" "held-out rows: 6 \(4 heard, 2 unheard\)"
printf 'track_id,taste\nh1,0.9\n' > "$T/pshort.csv"; csv-clean --key track_id --cols taste "$T/pshort.csv" -o "$T/pshort.ts" 2>/dev/null
fails "eval: a test key without prediction" 1 "key 'h2' has no prediction" taste-rank --pred "$T/pshort.ts" --eval "$T/te.ts"
fails "eval: unknown baseline" 1 "no column 'plays'" taste-rank --pred "$T/pe.ts" --eval "$T/te.ts" --baseline plays
fails "list without catalogue" 2 "need --catalog" taste-rank --pred "$T/p.ts"
fails "no --pred" 2 "--pred" taste-rank --catalog "$T/cat.tsv"
ok "--help" taste-rank --help

# ---- make taste end to end on the invented history ----
for s in train-mlp embed; do [ -x "$BIN/$s" ] || { skip taste "make taste: no $BIN/$s"; exit 0; }; done
printf 'Paper Lanterns - The Invented Band\ntrk12\n' > "$T/cands.txt"
# the zipped basic export (export B above), the catalogue by CATALOG=
if make -s -C "$ROOT" taste HISTORY="$T/b.zip" CANDIDATES="$T/cands.txt" CATALOG="$H/songs.csv" \
     TASTE_INPUTS=danceability,energy,valence,tempo,year TASTE_TEST=0.4 TASTE_EPOCHS=50 \
     OUTDIR="$T/out" OUT="${OUT:-build}" SAN="${SAN:-0}" > "$T/make.log" 2>&1; then
  pass "make taste"
  D=$T/out/taste
  like "make taste: match report" "$(cat "$T/make.log")" "matched 5 \(83\.3 %"
  like "make taste: what was read" "$(cat "$T/make.log")" "read 2 files: 16 plays of music"
  like "make taste: the low-match warning" "$(cat "$T/make.log")" "the model cannot learn this listener from this catalogue"
  like "make taste: the catalogue was CATALOG" "$(cat "$D/songs.tsv")" "Paper Lanterns"
  like "make taste: evaluation" "$(cat "$D/eval.txt")" "auc_heard_vs_unheard +[0-9.]+ +[0-9.]+"
  ok "make taste: history has one row per epoch" test "$(to-csv --no-header "$D/history.ts" | wc -l)" -ge 1
  like "make taste: the history's metric is the accuracy of rounded predictions" \
    "$(grep -ao '"metric":"[a-z_]*"' "$D/history.ts")" '"metric":"val_accuracy"'
  ok "make taste: accuracy per epoch within [0, 1]" awk -F, 'NR > 1 && !($5 >= 0 && $5 <= 1) { bad = 1 } END { exit bad || NR < 2 }' <(to-csv "$D/history.ts")
  like "make taste: popularity is a model input (TASTE_BASELINE_INPUT=1)" \
    "$(grep -ao '"inputs":\[[^]]*\]' "$D/taste.model" | head -1)" '"year","track_popularity"\]$'
  is "make taste: unheard list leaves heard songs out" "$(grep -cE '\[trk0[1-6]\]' "$D/unheard.txt")" 0
  like "make taste: candidates" "$(cat "$D/candidates.txt")" "%  Paper Lanterns - The Invented Band  \[trk01\]"
  is "make taste: predictions for the whole catalogue" "$(to-csv --no-header "$D/pred.ts" | wc -l)" 30
else
  fail "make taste" "$(tail -5 "$T/make.log")"
fi
fails "make taste: CATALOG and TASTE_SONGS differ" 2 "CATALOG and TASTE_SONGS name two catalogues" \
  make -s -C "$ROOT" taste HISTORY="$T/b.zip" CATALOG="$H/songs.csv" TASTE_SONGS=data/spotify_songs.csv OUTDIR="$T/out3" OUT="${OUT:-build}" SAN="${SAN:-0}"
fails "make taste: a missing CATALOG is named" 2 "songpipe: CATALOG=$T/no such.csv: no such file or folder" \
  make -s -C "$ROOT" taste HISTORY="$T/b.zip" CATALOG="$T/no such.csv" OUTDIR="$T/out3" OUT="${OUT:-build}" SAN="${SAN:-0}"
fails "make taste without HISTORY" 2 "usage: make taste HISTORY=" make -s -C "$ROOT" taste OUTDIR="$T/out2" OUT="${OUT:-build}" SAN="${SAN:-0}"
