#!/usr/bin/env bash
# test_csv_clean.sh - csv-clean end to end: counts, messages with physical
# line numbers, strict mode, empty policies, catalogue and vocabulary files,
# missing columns, exit codes, nothing half-written, and the real files.
# Exact cell values: tests/unit/csv_clean_stage.c.
source "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
S=$D/spotify-2023-dirty-slice.csv
C=streams,in_shazam_charts,bpm

# --help / -V
out=$(csv-clean --help); rc=$?
is "help exits 0" "$rc" 0
for o in --key --cols --category --vocab --catalog --display --empty --strict --name --delim -o; do
  like "help lists $o" "$out" "(^| )$o[ ,]"
done
like "help states the defaults" "$out" "drop the row \(default\)"
like "version" "$(csv-clean -V)" "^csv-clean \(songpipe\) [0-9]"

# the slice: BOM, CRLF, "1,021", mojibake, empty cells, line 576's value now on line 41
ok "slice runs" csv-clean --cols $C --catalog "$T/cat.tsv" --display artist_name -o "$T/s.ts" "$S"
err=$(cat "$T/.err")
like "summary line" "$err" "^csv-clean: .*spotify-2023-dirty-slice.csv: 42 rows in, 38 out; dropped: 1 empty, 1 unparsable, 2 duplicate keys$"
like "warning names file:line:column" "$err" "slice.csv:41: column 'streams': cannot parse 'BPM110KeyAModeMajor.*'; row dropped"
ok "output written" test -s "$T/s.ts"
is "catalogue header" "$(head -1 "$T/cat.tsv")" "track_name	artist_name"
is "catalogue has one line per row" "$(wc -l < "$T/cat.tsv")" 39
is "catalogue known row" "$(grep '^Flowers	' "$T/cat.tsv")" "Flowers	Miley Cyrus"
is "catalogue keeps mojibake bytes" "$(grep -c $'^Calm Down (with Selena Gomez)\tR\xef\xbf\xbd\xef\xbf\xbdma, Selena G$' "$T/cat.tsv")" 1
is "catalogue first row is the first kept row" "$(sed -n 2p "$T/cat.tsv")" "Seven (feat. Latto) (Explicit Ver.)	Latto, Jung Kook"
ls "$T" | grep -q '\.tmp' && fail "no .tmp after success" "$(ls "$T")" || pass "no .tmp after success"

# strict: the exact message, exit 1, nothing left behind
fails "strict stops at line 41" 1 "^csv-clean: $S:41: column 'streams': cannot parse 'BPM110KeyAModeMajorDanceability53" \
  csv-clean --strict --cols $C -o "$T/x.ts" --catalog "$T/x.tsv" --category key --vocab "$T/xv.tsv" "$S"
is "strict leaves no files" "$(ls "$T" | grep -c '^x')" 0

# empty policies: counts (exact filled values are in tests/unit/csv_clean_stage.c)
for p in mean median zero; do
  csv-clean --cols $C --empty $p "$S" 2>"$T/e.err" >/dev/null
  like "--empty $p summary" "$(cat "$T/e.err")" "42 rows in, 39 out; dropped: 0 empty, 1 unparsable, 2 duplicate keys; filled: 1 cells \($p\)$"
done
cat "$S" | csv-clean --cols $C --empty median 2>"$T/p.err" >/dev/null
like "median from a pipe" "$(cat "$T/p.err")" "^csv-clean: <stdin>: 42 rows in, 39 out.*filled: 1 cells \(median\)"

# category vocabulary: first-seen order, header line
ok "category run" csv-clean --cols bpm --category key,mode --vocab "$T/v.tsv" -o "$T/v.ts" "$S"
is "vocab header" "$(head -1 "$T/v.tsv")" "column	code	value"
is "vocab key head" "$(grep '^key	' "$T/v.tsv" | head -3 | tr '\t\n' ':;')" "key:0:B;key:1:C#;key:2:F;"
is "vocab empty key value has a code" "$(grep -c $'^key\t6\t$' "$T/v.tsv")" 1
is "vocab mode" "$(grep '^mode	' "$T/v.tsv" | tr '\t\n' ':;')" "mode:0:Major;mode:1:Minor;"

# missing columns: exit 1, names it and lists the real ones
fails "missing --cols column" 1 "no column 'nope' \(named by --cols\); the columns are: track_name, artist_name, artist_count" \
  csv-clean --cols bpm,nope -o "$T/m.ts" "$S"
fails "missing --key column" 1 "no column 'id' \(named by --key\)" csv-clean --key id --cols bpm -o "$T/m.ts" "$S"
fails "missing --display column" 1 "no column 'genre' \(named by --display\)" csv-clean --cols bpm --catalog "$T/m.tsv" --display genre -o "$T/m.ts" "$S"
is "missing column leaves no files" "$(ls "$T" | grep -c '^m')" 0

# usage errors: exit 2
fails "no --cols" 2 "--cols is required" csv-clean "$S"
fails "bad --empty" 2 "--empty: 'avg' is not one of drop, mean, median, zero" csv-clean --cols bpm --empty avg "$S"
fails "unknown option" 2 "unknown option '--bogus'" csv-clean --cols bpm --bogus "$S"
fails "bad year spec" 2 "only year:DATECOL" csv-clean --cols month:released_year "$S"
fails "missing file" 1 "nope.csv: No such file" csv-clean --cols bpm "$T/nope.csv"
fails "empty input" 1 "empty input: no header line" csv-clean --cols bpm /dev/null

# made-up table: quoted newlines, lists, tabs, NA, exponent, ragged and bad rows
printf 'id,name,genres,x,released\n"a","Multi\nline name","[%s, %s]",1.16E-06,2019-06-14\nb,NA,"[%s]",NA,2001\nc,"tab\there",[],"2,500",1999-03\nd,extra,[],1,2,3\ne,ok,[],abc,2000\n' \
  "'pop'" "'rock'" "'hip hop'" > "$T/m.csv"
ok "made-up table" csv-clean --cols x,year:released --catalog "$T/mc.tsv" --display name,genres -o "$T/mo.ts" "$T/m.csv"
err=$(cat "$T/.err")
like "made-up summary" "$err" "5 rows in, 2 out; dropped: 1 empty, 2 unparsable, 0 duplicate keys$"
like "ragged row at its physical line" "$err" "m.csv:6: 6 fields where the header has 5; row dropped"
like "bad value at its physical line" "$err" "m.csv:7: column 'x': cannot parse 'abc'"
is "list and newline flattened" "$(sed -n 2p "$T/mc.tsv")" "a	Multi line name	pop, rock"
is "tab to space, empty list" "$(sed -n 3p "$T/mc.tsv")" "c	tab here	"
csv-clean --cols x --empty zero --catalog "$T/mz.tsv" --display name,genres "$T/m.csv" >/dev/null 2>&1
is "NA text becomes empty" "$(grep '^b' "$T/mz.tsv")" "b		hip hop"
fails "strict ragged row" 1 "m.csv:6: 6 fields where the header has 5$" csv-clean --strict --cols x -o "$T/r.ts" "$T/m.csv"
fails "year needs 4 digits" 1 "column 'released': cannot parse '19-3'" \
  csv-clean --strict --cols year:released -o "$T/r.ts" <(printf 'id,released\na,19-3\n')
fails "no values to fill with" 1 "column 'x' has no values among the kept rows, so no mean" \
  csv-clean --empty mean --cols x -o "$T/r.ts" <(printf 'id,x\na,\nb,NA\n')
tr ',' '\t' < <(printf 'id,x\nk1,2.5\nk2,3\nk1,4\n') > "$T/t.tsv"
csv-clean --delim tab --cols x "$T/t.tsv" 2>"$T/t.err" >/dev/null
like "tab delimiter and duplicate keys" "$(cat "$T/t.err")" "3 rows in, 2 out; dropped: 0 empty, 0 unparsable, 1 duplicate keys$"

# | head: quiet
csv-clean --cols $C "$S" 2>"$T/h.err" | head -c 10 >/dev/null
like "survives | head" "$(cat "$T/h.err")" "^csv-clean: .*42 rows in"

# to-csv, when another stage provides it: the quoted thousands cell comes back as 1021
if [ -x "$BIN/to-csv" ]; then
  like "to-csv shows Flowers' in_shazam_charts" "$(to-csv < "$T/s.ts" | grep '^"\?Flowers"\?,')" ',1021(\.0*)?,'
else
  skip "to-csv cross-check" "no $BIN/to-csv yet (exact cells: unit/csv_clean_stage)"
fi

# the real files
F=$SHARED/features
if [ -f "$F/spotify_songs.csv" ]; then
  cols=track_popularity,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms,year:track_album_release_date
  ok "spotify_songs.csv" csv-clean --key track_id --cols $cols --category playlist_genre -o "$T/songs.ts" "$F/spotify_songs.csv"
  like "spotify_songs counts" "$(cat "$T/.err")" "32833 rows in, 28356 out; dropped: 0 empty, 0 unparsable, 4477 duplicate keys$"
  fails "full dirty file, strict" 1 "spotify-2023-dirty.csv:576: column 'streams': cannot parse 'BPM110" \
    csv-clean --strict --cols streams,in_deezer_playlists -o "$T/d.ts" "$F/spotify-2023-dirty.csv"
  ok "full dirty file" csv-clean --cols streams,in_deezer_playlists,in_shazam_charts --empty median -o "$T/d.ts" "$F/spotify-2023-dirty.csv"
  like "full dirty counts" "$(cat "$T/.err")" "953 rows in, 942 out; dropped: 0 empty, 1 unparsable, 10 duplicate keys; filled: 50 cells"
  ok "data_by_artist (CRLF, no final newline, 1.16E-06)" csv-clean --cols acousticness,instrumentalness,count -o "$T/a.ts" "$F/data_by_artist.csv"
  like "data_by_artist counts" "$(cat "$T/.err")" "32539 rows in, 32539 out; dropped: 0 empty, 0 unparsable, 0 duplicate keys$"
else
  skip "real data" "no $F/spotify_songs.csv"
fi

# common/csvin.c parses in a reader thread, in batches: a file of many batches
# (two copies of spotify_songs.csv, a quoted field over two lines near the top)
# must give the same rows, physical lines and errors from a file and from a
# pipe that stalls mid-row; --strict stops on a late row; a late unclosed quote
if [ -f "$F/spotify_songs.csv" ]; then
  cols=track_popularity,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
  B=$T/many.csv
  { head -n 1000 "$F/spotify_songs.csv"
    printf 'zz1,"a name\nover two lines",x,1,a,b,2001,p,q,pop,dance,0.5,0.5,1,-5,1,0.1,0.1,0,0.1,0.5,120,200000\n'
    tail -n +1001 "$F/spotify_songs.csv"
    tail -n +2 "$F/spotify_songs.csv" | sed 's/^\([^,]*\),/\1_2,/'; } > "$B"
  awk 'NR == 60000 { sub(/,[^,]*$/, ",abc") } { print }' "$B" > "$T/many-bad.csv"
  ok "many batches: file" csv-clean --key track_id --cols $cols -o "$T/many.ts" "$B"
  like "many batches: counts" "$(cat "$T/.err")" "65667 rows in, 56713 out; dropped: 0 empty, 0 unparsable, 8954 duplicate keys$"
  { head -c 3000000 "$B"; sleep 0.3; tail -c +3000001 "$B"; } |
    csv-clean --key track_id --cols $cols -o "$T/many-pipe.ts" 2>"$T/mp.err"
  like "many batches: a stalling pipe, same counts" "$(cat "$T/mp.err")" "<stdin>: 65667 rows in, 56713 out; dropped: 0 empty, 0 unparsable, 8954 duplicate keys$"
  if [ -x "$BIN/to-csv" ]; then
    is "many batches: a stalling pipe, same rows" "$(to-csv < "$T/many-pipe.ts" | md5sum)" "$(to-csv < "$T/many.ts" | md5sum)"
  fi
  fails "many batches: --strict stops at a late row" 1 "many-bad.csv:60000: column 'duration_ms': cannot parse 'abc'$" \
    csv-clean --strict --key track_id --cols $cols -o "$T/mb.ts" "$T/many-bad.csv"
  is "many batches: --strict leaves no files" "$(ls "$T" | grep -c '^mb')" 0
  out=$(cat "$T/many-bad.csv" | csv-clean --strict --key track_id --cols $cols 2>&1 >/dev/null); rc=$?
  is "many batches: --strict from a pipe exits 1" "$rc" 1
  like "many batches: --strict from a pipe" "$out" "<stdin>:60000: column 'duration_ms': cannot parse 'abc'$"
  like "many batches: the late row dropped without --strict" \
    "$(csv-clean --key track_id --cols $cols "$T/many-bad.csv" 2>&1 >/dev/null)" "65667 rows in, 56712 out; dropped: 0 empty, 1 unparsable, 8954 duplicate keys$"
  { cat "$B"; printf 'x,"open\n1,2\n'; } > "$T/many-quote.csv"
  fails "many batches: a late unclosed quote" 1 "many-quote.csv:65670: a quoted field that opens on or after this line is never closed" \
    csv-clean --key track_id --cols $cols -o "$T/mq.ts" "$T/many-quote.csv"
fi

# the same without shared data: 60,000 invented rows (every 7th id repeated,
# a quoted name over two lines at row 100), many reader batches
G=$T/gen.csv
awk 'BEGIN { print "id,name,x,y"; for (i = 1; i <= 60000; i++) {
       id = (i % 7 == 0) ? i - 1 : i
       if (i == 100) printf "t%d,\"two\nlines\",%d,%.3f\n", id, i, i / 7
       else printf "t%d,n%d,%d,%.3f\n", id, i, i, i / 7 } }' > "$G"
awk 'NR == 50001 { sub(/,[^,]*$/, ",abc") } { print }' "$G" > "$T/gen-bad.csv"
ok "invented many batches: file" csv-clean --key id --cols x,y -o "$T/gen.ts" "$G"
like "invented many batches: counts" "$(cat "$T/.err")" "60000 rows in, 51429 out; dropped: 0 empty, 0 unparsable, 8571 duplicate keys$"
{ head -c 700000 "$G"; sleep 0.3; tail -c +700001 "$G"; } | csv-clean --key id --cols x,y -o "$T/gen-pipe.ts" 2>/dev/null
if [ -x "$BIN/to-csv" ]; then
  is "invented many batches: a stalling pipe, same rows" "$(to-csv < "$T/gen-pipe.ts" | md5sum)" "$(to-csv < "$T/gen.ts" | md5sum)"
fi
fails "invented many batches: --strict names the late line" 1 "gen-bad.csv:50001: column 'y': cannot parse 'abc'$" \
  csv-clean --strict --key id --cols x,y -o "$T/gb.ts" "$T/gen-bad.csv"

# issue 14: a NUL byte in a key cut it short and merged two keys into one
printf 'id,name,x\nNUL1,a,1\nNUL2,b,2\n' | sed 's/NUL/a\x00/' > "$T/nul.csv"
fails "a NUL byte in a key: file and line" 1 "^csv-clean: .*nul.csv:2: a NUL byte in field 1; CSV text cannot hold one" \
  csv-clean --key id --cols x --display name -o "$T/nul.ts" "$T/nul.csv"
ok "no output after it" test ! -e "$T/nul.ts" -a ! -e "$T/nul.ts.tmp"
printf 'id,name,x\n1,aNULb,1\n' | sed 's/NUL/\x00/' > "$T/nul2.csv"
fails "a NUL byte in a display field" 1 "nul2.csv:2: a NUL byte in field 2" csv-clean --key id --cols x --display name --catalog "$T/nul2.tsv" "$T/nul2.csv"
printf 'id,junk,x\n1,aNULb,1\n' | sed 's/NUL/\x00/' > "$T/nul3.csv"
fails "a NUL in a column not read is an error too (the rows do not depend on the columns read)" 1 "nul3.csv:2: a NUL byte in field 2" csv-clean --key id --cols x "$T/nul3.csv"
# inf, -inf and 1e999 are unparsable (dropped, --strict stops), nan is missing
printf 'id,x\n1,inf\n2,-inf\n3,1e999\n4,nan\n5,2.5\n' > "$T/inf.csv"
is "non-finite numbers never reach the tensor" "$(csv-clean --key id --cols x "$T/inf.csv" 2>/dev/null | to-csv --no-header)" "5,2.5"
fails "--strict stops at inf" 1 "inf.csv:2: column 'x': cannot parse 'inf'" csv-clean --strict --key id --cols x "$T/inf.csv"
printf 'id,x\n1,2\n3,1e999\n' > "$T/big.csv"
fails "--strict stops at 1e999" 1 "big.csv:3: column 'x': cannot parse '1e999' \\(outside the f32 range\\)" csv-clean --strict --key id --cols x "$T/big.csv"

# --threads: a file of 2 MiB or more is parsed in parts at once, each part
# after the first starting at a line start, used only when the part before it
# ends between two rows there.  Invented rows, made the same way everywhere (so
# where the middle falls is known); "same" = the same tensor bytes, catalogue, vocabulary and messages
# as one reader.  A: a quoted field of 300 lines that look like rows spans
# the middle (a part started there would read them as rows; libcsv grows a
# field 128 bytes at a time, so a much longer one is slow under SAN); B: quoted
# newlines, a bad cell and a ragged row just after the cut (of 2 parts); C: a
# quoted field of 4 lines from the line before the cut; D: from the cut on.
mkrows() {  # mkrows FILE ROWS QUOTE_AT_ROW QUOTE_LINES
  awk -v n="$2" -v q="$3" -v k="$4" 'BEGIN {
    print "id,name,x,y,z"
    for (i = 0; i < n; i++) {
      name = sprintf("n%06d", i % 5000)
      if (i == q) { name = "\"q"; for (m = 0; m < k; m++) name = name sprintf("\nf%06d,fake,1.5,2,3", m); name = name "\"" }
      if (i == q + 2) { printf "id%06d,%s,bad,1,2\n", i, name; continue }
      if (i == q + 3) { printf "id%06d,%s,1,2\n", i, name; continue }
      printf "id%06d,%s,%d.25,%d,%d\n", i % 66000, name, i % 97, i % 13, i
    }
  }' > "$1"
}
mkrows "$T/pa.csv" 70000 35150 300
mkrows "$T/pb.csv" 110000 55345 3
mkrows "$T/pc.csv" 110000 55340 3
mkrows "$T/pd.csv" 110000 55341 3
for f in pa pb pc pd; do
  for t in 1 2 3; do
    csv-clean --threads $t --key id --cols x,y,z --category name --vocab "$T/$f$t.voc" --catalog "$T/$f$t.cat" \
      --display name -o "$T/$f$t.ts" "$T/$f.csv" 2>"$T/$f$t.err"
    csv-clean --threads $t --key id --cols x,y,z --empty mean "$T/$f.csv" 2>/dev/null > "$T/$f$t.mean.ts"
  done
  for t in 2 3; do
    for x in ts voc cat err mean.ts; do
      ok "parts: $f --threads $t: same $x as one reader" cmp "$T/${f}1.$x" "$T/$f$t.$x"
    done
  done
done
like "parts: A's summary" "$(cat "$T/pa2.err")" "70000 rows in, 65998 out; dropped: 0 empty, 2 unparsable, 4000 duplicate keys"
like "parts: B's bad cell on its physical line" "$(cat "$T/pb2.err")" "pb.csv:55352: column 'x': cannot parse 'bad'"
like "parts: B's ragged row on its physical line" "$(cat "$T/pb2.err")" "pb.csv:55353: 4 fields where the header has 5"
is "parts: A's quoted field is one name" "$(grep -c $'^id035150\tq f000000,fake,1.5,2,3 f000001' "$T/pa2.cat")" 1
v=$(csv-clean --verbose --threads 2 --key id --cols x "$T/pa.csv" 2>&1 >/dev/null)
like "parts: A is cut in the quoted field, so part 2 is not used" "$v" "part 2 of 2 starts at byte [0-9]+: not used"
v=$(csv-clean --verbose --threads 2 --key id --cols x "$T/pb.csv" 2>&1 >/dev/null)
like "parts: B's part 2 is used, before the bad cell after the cut" "$(tr '\n' ' ' <<<"$v")" "part 2 of 2 starts at byte [0-9]+: used .*:55352: column 'x'"
v=$(csv-clean --verbose --threads 2 --key id --cols x "$T/pc.csv" 2>&1 >/dev/null)
like "parts: C's part 2 is not used" "$v" "part 2 of 2 starts at byte [0-9]+: not used"
v=$(csv-clean --verbose --threads 2 --key id --cols x "$T/pd.csv" 2>&1 >/dev/null)
like "parts: D's part 2 is used" "$v" "part 2 of 2 starts at byte [0-9]+: used"
v=$(csv-clean --verbose --threads 3 --key id --cols x "$T/pb.csv" 2>&1 >/dev/null)
like "parts: 3 parts of B used" "$(grep -c ': used' <<<"$v")" "^2$"
v=$(head -c 1500000 "$T/pb.csv" | csv-clean --verbose --threads 2 --key id --cols x 2>&1 >/dev/null)
like "parts: not from a pipe" "$v" "^csv-clean: <stdin>: [0-9]+ rows in"
fails "parts: --threads 0 is a usage error" 2 "--threads" csv-clean --threads 0 --cols x "$T/pb.csv"
