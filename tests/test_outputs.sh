# test_outputs.sh - every output of a stage appears only when all of them are
# complete (formats/outset.h): a side file or stdout that fails (/dev/full, a
# file over `ulimit -f`, a signal) leaves no output of the set behind, keeps an
# existing file at the target, exits 1 (or dies by the signal) and names the
# file that failed; concurrent runs writing the same -o file both succeed.
# Side outputs that fail are symlinks to /dev/full in $T (written in place),
# never /dev/full itself: a stage that renamed over its target would replace
# the device.
. "$(dirname "$0")/lib.sh"
for s in csv-clean normalize mpd-ingest mpd-split mpd-recommend taste to-npy knn inspect; do
  [ -x "$BIN/$s" ] || { skip outputs "no $BIN/$s"; exit 0; }
done
O=$T/out                        # where the outputs go: empty after a failure
mkdir -p "$O"
FULL=$T/full.tsv; ln -s /dev/full "$FULL"
# to FILE CMD...: CMD with stdout sent to FILE
to() { local f=$1; shift; "$@" > "$f"; }
# fsize KB CMD...: CMD where a regular file may not grow past KB kilobytes
# (a full disk: writes fail with EFBIG instead of killing with SIGXFSZ)
fsize() { local kb=$1; shift; ( ulimit -f "$kb"; trap '' XFSZ; "$@" ); }
# empty NAME: nothing at all was left in $O
# (and $FULL a symlink again, should a stage have renamed over it)
empty() { is "$1: nothing left behind" "$(ls -A "$O")" ""; rm -rf "${O:?}"/*; ln -sfn /dev/full "$FULL"; }

# ---- csv-clean: -o, --catalog, --vocab ----
S=$ROOT/tests/data/spotify-2023-dirty-slice.csv
C=streams,in_shazam_charts,bpm
fails "csv-clean: --catalog on /dev/full names it" 1 "^csv-clean: $FULL: write failed: No space left" \
  csv-clean --cols $C --catalog "$FULL" --display artist_name -o "$O/cc.ts" "$S"
empty "csv-clean --catalog /dev/full"
fails "csv-clean: --vocab on /dev/full names it" 1 "^csv-clean: $FULL: write failed: No space left" \
  csv-clean --cols $C --category key --vocab "$FULL" --catalog "$O/cat.tsv" -o "$O/cc.ts" "$S"
empty "csv-clean --vocab /dev/full"
fails "csv-clean: stdout on /dev/full" 1 "^csv-clean: <stdout>: write failed: No space left" \
  to /dev/full csv-clean --cols $C --category key --vocab "$O/v.tsv" --catalog "$O/cat.tsv" "$S"
empty "csv-clean > /dev/full"
# a full disk for the catalogue: 3000 rows with long names make a catalogue
# far over 200 KB and a tensor far under it
awk 'BEGIN { print "id,name,a,b"; for (i = 0; i < 3000; i++) {
  n = sprintf("song %d ", i); while (length(n) < 150) n = n "la"; print "k" i "," n "," i % 7 "," i % 11 } }' > "$T/big.csv"
printf 'old\n' > "$O/cc.ts"
fails "csv-clean: a full disk for --catalog names it" 1 "^csv-clean: $O/cat.tsv: write failed: File too large" \
  fsize 200 csv-clean --cols a,b --display name --catalog "$O/cat.tsv" -o "$O/cc.ts" "$T/big.csv"
is "csv-clean: the existing -o file is kept" "$(ls -A "$O"; tr -d '\0' < "$O/cc.ts" | head -c 8)" $'cc.ts\nold'
rm -f "$O/cc.ts"
ok "csv-clean: the same run succeeds without the limit" \
  csv-clean --cols a,b --display name --catalog "$O/cat.tsv" -o "$O/cc.ts" "$T/big.csv"
is "csv-clean: -o and --catalog, no temporary file" "$(ls -A "$O" | tr '\n' ' ')" "cat.tsv cc.ts "
rm -f "$O"/*

# ---- normalize: --save and the rows ----
csv-clean --key id --cols energy,tempo,loudness --category mode "$ROOT/tests/data/normalize_songs.csv" > "$T/n.ts" 2>/dev/null
fails "normalize: stdout on /dev/full" 1 "^normalize: <stdout>: write failed: No space left" \
  to /dev/full normalize --save "$O/st.json" "$T/n.ts"
empty "normalize --save > /dev/full"
fails "normalize: --save on /dev/full names it" 1 "^normalize: $FULL: write failed: No space left" \
  normalize --save "$FULL" -o "$O/n.ts" "$T/n.ts"
empty "normalize --save /dev/full"
ok "normalize: --save /dev/full left the device a device" test -c /dev/full
# a full disk for -o: the statistics fit in 4 KB, 3000 rows (10 KB) do not
csv-clean --key id --cols a,b "$T/big.csv" > "$T/big.ts" 2>/dev/null
fails "normalize: -o on a full disk names it" 1 "^normalize: $O/n.ts: write failed: File too large" \
  fsize 4 normalize --save "$O/st.json" -o "$O/n.ts" "$T/big.ts"
empty "normalize -o on a full disk"

# ---- mpd-ingest: -o, --tracks, --names, --popularity ----
mkdir -p "$T/mpd"
cp "$ROOT/tests/data/mpd/slices/slice.0-4.json.fixture" "$T/mpd/mpd.slice.0-4.json"
fails "mpd-ingest: stdout on /dev/full" 1 "^mpd-ingest: <stdout>: write failed: No space left" \
  to /dev/full mpd-ingest --tracks "$O/t.tsv" --names "$O/n.tsv" --popularity "$O/p.ts" "$T/mpd"
empty "mpd-ingest > /dev/full"
fails "mpd-ingest: --tracks on /dev/full names it" 1 "^mpd-ingest: $FULL: write failed: No space left" \
  mpd-ingest --tracks "$FULL" --names "$O/n.tsv" -o "$O/pl.ts" "$T/mpd"
empty "mpd-ingest --tracks /dev/full"
fails "mpd-ingest: --names on /dev/full names it" 1 "^mpd-ingest: $FULL: write failed: No space left" \
  mpd-ingest --tracks "$O/t.tsv" --names "$FULL" --popularity "$O/p.ts" -o "$O/pl.ts" "$T/mpd"
empty "mpd-ingest --names /dev/full"

# ---- mpd-split: -o, --seeds, --truth, --queries ----
mpd-ingest --tracks "$T/tr.tsv" -o "$T/pl.ts" "$T/mpd" 2>/dev/null
fails "mpd-split: --queries on /dev/full names it" 1 "^mpd-split: $FULL: write failed: No space left" \
  mpd-split --test-frac 1 --max-test 1 --ks 0,1,2 --queries "$FULL" --seeds "$O/s.ts" --truth "$O/t.ts" -o "$O/tr.ts" "$T/pl.ts"
empty "mpd-split --queries /dev/full"
fails "mpd-split: stdout on /dev/full" 1 "^mpd-split: <stdout>: write failed: No space left" \
  to /dev/full mpd-split --test-frac 1 --max-test 1 --ks 0,1,2 --queries "$O/q.tsv" --seeds "$O/s.ts" --truth "$O/t.ts" "$T/pl.ts"
empty "mpd-split > /dev/full"

# ---- taste: --unmatched and the scores ----
H=$T/history; mkdir -p "$H"
cp "$ROOT/tests/data/history/songs.csv" "$H/"
cp "$ROOT/tests/data/history/basic/music_0.json.fixture" "$H/StreamingHistory_music_0.json"
csv-clean --key track_id --cols danceability,energy --display track_name,track_artist --catalog "$T/cat.tsv" \
  "$H/songs.csv" > /dev/null 2>&1
fails "taste: stdout on /dev/full" 1 "^taste: <stdout>: write failed: No space left" \
  to /dev/full taste --catalog "$T/cat.tsv" --unmatched "$O/u.tsv" "$H/StreamingHistory_music_0.json"
empty "taste > /dev/full"

# ---- to-npy: -o and --keys ----
fails "to-npy: --keys on /dev/full names it" 1 "^to-npy: $FULL: write failed: No space left" \
  to-npy --keys "$FULL" -o "$O/x.npy" "$T/n.ts"
empty "to-npy --keys /dev/full"

# ---- text on stdout: a failed write names <stdout> ----
fails "inspect: stdout on /dev/full names it" 1 "^inspect: <stdout>: write failed: No space left" \
  to /dev/full inspect "$T/n.ts"
fails "mpd-recommend --songs: stdout on /dev/full names it" 1 "^mpd-recommend: <stdout>: write failed: No space left" \
  to /dev/full mpd-recommend --model pop --train "$T/pl.ts" --tracks "$T/tr.tsv" -n 3 --songs 'alpha song'

# ---- signals: the temporary files of every output go ----
# SIGTERM while csv-clean waits for its input (its outputs are open by then)
mkfifo "$T/in.fifo"
{ csv-clean --cols $C --display artist_name --catalog "$O/cat.tsv" -o "$O/cc.ts" < "$T/in.fifo" 2>/dev/null & echo $! > "$T/pid"; wait $!; echo $? > "$T/rc"; } &
waiter=$!
exec 3> "$T/in.fifo"            # the writer: csv-clean's input stays open
for ((i = 0; i < 500 && $(ls -A "$O" | wc -l) < 2; i++)); do sleep 0.02; done
is "SIGTERM: both temporary files were there" "$(ls -A "$O" | sed 's/\.tmp\.[0-9]*\.[0-9a-f]*$/.tmp/' | tr '\n' ' ')" "cat.tsv.tmp cc.ts.tmp "
kill -TERM "$(cat "$T/pid")"
wait "$waiter"
exec 3>&-
is "SIGTERM: csv-clean died by the signal" "$(cat "$T/rc")" 143
empty "csv-clean killed by SIGTERM"
# SIGPIPE: stdout is a pipe nobody reads (a FIFO opened by this shell, its
# reading end closed again), the catalogue a file
mkfifo "$T/out.fifo"
exec 4<> "$T/out.fifo" 5> "$T/out.fifo" 4<&-
csv-clean --cols $C --display artist_name --catalog "$O/cat.tsv" "$S" >&5 2>/dev/null
is "SIGPIPE: csv-clean died by the signal" "$?" 141
exec 5>&-
empty "csv-clean killed by SIGPIPE"
# `| head` on a table of many blocks: the tensor writer's thread (signals
# blocked) met the closed pipe; it said "<stdout>: write failed: Broken pipe"
# and exited 1
awk 'BEGIN { print "id,name,a,b"; for (i = 0; i < 100000; i++) print "k" i ",n" i "," i % 7 "," i % 11 }' > "$T/pipe.csv"
( csv-clean --key id --cols a,b --display name --catalog "$O/cat.tsv" "$T/pipe.csv" 2> "$T/pipe.err" | head -c 1 > /dev/null
  exit "${PIPESTATUS[0]}" )
is "| head -c 1 on many blocks: csv-clean dies by SIGPIPE, quietly" "$? $(cat "$T/pipe.err")" "141 "
empty "csv-clean | head -c 1"

# ---- concurrent runs of the same -o: both succeed, one complete file ----
csv-clean --key id --cols a,b -o "$T/k.ts" "$T/big.csv" 2>/dev/null
knn --index "$T/k.ts" --self -k 5 --shard 0/16 -o "$T/ref.ts"
bad=""
for ((i = 0; i < 6; i++)); do
  rm -f "$O/same.ts"
  knn --index "$T/k.ts" --self -k 5 --shard 0/16 -o "$O/same.ts" 2>"$T/a.err" & a=$!
  knn --index "$T/k.ts" --self -k 5 --shard 0/16 -o "$O/same.ts" 2>"$T/b.err" & b=$!
  wait $a; ra=$?; wait $b; rb=$?
  [ "$ra$rb" = 00 ] || bad="$bad run $i: exit $ra $rb: $(cat "$T/a.err" "$T/b.err" | head -c 200);"
  cmp -s "$O/same.ts" "$T/ref.ts" || bad="$bad run $i: the output differs from one run's;"
  [ "$(ls -A "$O")" = same.ts ] || bad="$bad run $i: left $(ls -A "$O" | tr '\n' ' ');"
done
is "two knn -o same.ts at once, 6 times: both exit 0, one run's complete file" "$bad" ""
