#!/usr/bin/env bash
# hostile-campaign.sh - the hostile-input and fault campaign of issue 14, run
# by hand against the build of a checkout (not part of `make test`: it takes
# minutes and, on an old checkout, gigabytes).  Usage:
#
#   tests/tools/hostile-campaign.sh [-q] CHECKOUT        (CHECKOUT built: make -j2)
#
# It prints one row per input class: cases tried, crashes (a signal nobody
# sent, or a sanitizer report), hangs (over the time limit), wrong exit codes
# (0 on bad input, not 1 from a stage, 0 from make on a refused value, not 0
# on a good input with a hostile name), data lost (an output of a failed run
# left behind, half-written or stray; an existing output replaced; a canary
# file created by a value run as code).  A case whose feature the checkout
# lacks (no such stage, target or tool) counts as n/a.  -q: no per-case lines
# (they go to WORK/cases.log either way).
#
# Inputs are made from this script's checkout (tests/data, data/sounds) with
# the CHECKOUT's own stages, so that the stream format is the checkout's; the
# memory bomb comes from this checkout's build/rel/tests/memlimit.
# BIN=... runs another build of CHECKOUT (e.g. its sanitizer build:
# BIN=CHECKOUT/build/san/bin).  SEED (42) picks the damaged bytes.
# Root cannot be refused by a read-only folder: those cases run as nobody
# (setpriv) when run as root.
set -u
quiet=0; [ "${1:-}" = -q ] && { quiet=1; shift; }
[ $# = 1 ] || { sed -n '2,23s/^# \{0,1\}//p' "$0"; exit 2; }
CO=$(cd "$1" && pwd) || exit 2
SELF=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$CO/bin}
[ -x "$BIN/csv-clean" ] || { echo "hostile-campaign: no $BIN/csv-clean: build $CO first (make -j2)" >&2; exit 2; }
W=$(mktemp -d /tmp/hostile-campaign.XXXXXX)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"; rm -f "$CO/CANARY"* "$CO"/-rf-campaign.ogg' EXIT
LOG=$W/cases.log; : > "$LOG"
export SONGPIPE_MEM_LIMIT=256M      # the bomb rows: the limit a new checkout must keep (an old one ignores it)
RANDOM=${SEED:-42}
CAN=$W/CANARY
declare -A tried crash hang wrong lost na note

# ---- bookkeeping -----------------------------------------------------------
# canaries: any CANARY* under the work folder or the checkout; removed
canaries() {
  local f; f=$(find "$W" "$CO" -maxdepth 3 -name 'CANARY*' 2>/dev/null)
  [ -n "$f" ] && { rm -f $f; return 0; }; return 1
}
# verdict CLASS NAME RC EXPECT ERRFILE LOSTFLAG: count one case.  EXPECT is
# an extended regex the exit code must match; RC 124 is a hang; a signal
# (RC > 128) outside EXPECT or a sanitizer line in ERRFILE is a crash.
verdict() {
  local c=$1 n=$2 rc=$3 want=$4 err=$5 lostf=$6 why=""
  tried[$c]=$(( ${tried[$c]:-0} + 1 ))
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$err" 2>/dev/null; then
    crash[$c]=$(( ${crash[$c]:-0} + 1 )); why+=" sanitizer"
  fi
  if [ "$rc" = 124 ] || [ "$rc" = 137 -a "$want" != 137 ]; then hang[$c]=$(( ${hang[$c]:-0} + 1 )); why+=" hang"
  elif [[ ! $rc =~ ^($want)$ ]]; then
    if [ "$rc" -gt 128 ]; then crash[$c]=$(( ${crash[$c]:-0} + 1 )); why+=" signal$((rc - 128))"
    else wrong[$c]=$(( ${wrong[$c]:-0} + 1 )); why+=" exit$rc"; fi
  fi
  [ -n "$lostf" ] && { lost[$c]=$(( ${lost[$c]:-0} + 1 )); why+=" lost($lostf)"; }
  printf '%-8s %-60s rc=%-3s want=%-8s %s\n' "$c" "${n:0:60}" "$rc" "$want" "${why:-ok}" >> "$LOG"
  [ $quiet = 0 ] && [ -n "$why" ] && printf '  %-8s %-60s rc=%s%s\n' "$c" "${n:0:60}" "$rc" "$why" >&2
  return 0
}
skipcase() { na[$1]=$(( ${na[$1]:-0} + 1 )); echo "$1 n/a $2" >> "$LOG"; }
have() { [ -x "$BIN/$1" ]; }
# out-check DIR: what a failed run left in DIR besides old.* files that still
# hold "old" (empty when nothing); old.* changed counts too
leftovers() {
  local d=$1 f r=""
  for f in "$d"/* "$d"/.[!.]*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    case ${f##*/} in
      old.ts|old.tsv|old.json) [ "$(head -c 3 "$f")" = old ] || r+=" ${f##*/}(replaced)";;
      full.*) ;;
      *) r+=" ${f##*/}";;
    esac
  done
  echo "${r# }"
}
# fresh: an empty output folder with an existing output old.ts, old.tsv
fresh() { rm -rf "$W/o"; mkdir -p "$W/o"; printf 'old\n' > "$W/o/old.ts"; printf 'old\n' > "$W/o/old.tsv"; printf 'old\n' > "$W/o/old.json"; }
# stage CLASS NAME WANT CMD...: a stage run, 20 s limit, outputs in $W/o
stage() {
  local c=$1 n=$2 want=$3; shift 3
  timeout -k 2 20 "$@" > /dev/null 2> "$W/err"; local rc=$?
  local l; l=$(leftovers "$W/o"); canaries && l+=" canary"
  # a run that exits 0 may leave its outputs (on bad input, the exit code is what is wrong)
  [ "$rc" = 0 ] && { l=""; canaries && l=canary; }
  verdict "$c" "$n" "$rc" "$want" "$W/err" "$l"
}

# ---- inputs ------------------------------------------------------------------
P=$W/in; mkdir -p "$P"
awk 'BEGIN { print "id,name,a,b,c"; for (i = 0; i < 3000; i++) {
  n = sprintf("song %d ", i); while (length(n) < 60) n = n "la"; print "k" i "," n "," i % 7 "," i % 11 "," (i * 37) % 101 } }' > "$P/big.csv"
"$BIN/csv-clean" --key id --cols a,b,c --display name --catalog "$P/cat.tsv" -o "$P/good.ts" "$P/big.csv" 2>/dev/null ||
  { echo "hostile-campaign: csv-clean cannot make the base stream" >&2; exit 1; }
size=$(stat -c %s "$P/good.ts")
echo "hostile-campaign: checkout $CO ($(git -C "$CO" rev-parse --short HEAD 2>/dev/null)), bin $BIN, work $W" >&2

# ---- 1. damaged tensor streams -------------------------------------------------
C=tensor
stages_t=(to-csv normalize corr)
for ((i = 0; i < 90; i++)); do
  cp "$P/good.ts" "$P/bad.ts"
  if [ $i -lt 60 ]; then        # a bit flip
    off=$(( (RANDOM * 32768 + RANDOM) % size )); b=$(od -An -tu1 -j$off -N1 "$P/bad.ts" | tr -d ' ')
    printf "\\$(printf %03o $(( b ^ (1 << (RANDOM % 8)) )))" | dd of="$P/bad.ts" bs=1 seek=$off conv=notrunc status=none
    what="bit flip at $off"
  else                          # a truncation
    off=$(( (RANDOM * 32768 + RANDOM) % size )); truncate -s $off "$P/bad.ts"; what="cut at $off"
  fi
  s=${stages_t[$((i % 3))]}; fresh
  case $s in
    to-csv)    stage $C "$s: $what" 1 "$BIN/to-csv" -o "$W/o/old.tsv" "$P/bad.ts";;
    normalize) stage $C "$s: $what" 1 "$BIN/normalize" -o "$W/o/old.ts" "$P/bad.ts";;
    corr)      stage $C "$s: $what" 1 "$BIN/corr" -o "$W/o/old.ts" "$P/bad.ts";;
  esac
done
# the zstd bomb: four frames of zeros, 1 GiB each; peak memory noted
CRAFT=$SELF/build/rel/tests/memlimit
if [ -x "$CRAFT" ] && "$CRAFT" --write-bomb "$P/bomb.ts" 2>/dev/null; then
  maxrss=0
  for s in corr pca normalize; do
    have $s || { skipcase $C "bomb $s"; continue; }
    fresh
    ( ulimit -v 8000000; /usr/bin/time -f '%M' -o "$W/rss" timeout -k 2 60 "$BIN/$s" -o "$W/o/old.ts" "$P/bomb.ts" ) > /dev/null 2> "$W/err"; rc=$?
    r=$(tail -1 "$W/rss" 2>/dev/null); [[ $r =~ ^[0-9]+$ ]] || r=0; [ "$r" -gt $maxrss ] && maxrss=$r
    verdict $C "bomb: $s (peak $((r / 1024)) MB)" "$rc" 1 "$W/err" "$(leftovers "$W/o")"
  done
  note[$C]="bomb peak RSS $((maxrss / 1024)) MB"
else skipcase $C "bomb (no $CRAFT)"; fi

# ---- 2. CSV files --------------------------------------------------------------
C=csv
mk() { printf "$2" > "$P/$1.csv"; }
mk empty ''
mk header-only 'id,a,b\n'
mk nul-key 'id,a,b\nk1,1,2\nk\0x,3,4\n'
mk nul-cell 'id,a,b\nk1,1,2\nk2,3\0,4\n'
mk open-quote 'id,a,b\nk1,1,2\n"k2,3,4\nk3,5,6\n'
mk ragged 'id,a,b\nk1,1,2\nk2,3\nk3,5,6,7\n'
mk text-number 'id,a,b\nk1,1,2\nk2,three,4\n'
mk inf 'id,a,b\nk1,1,2\nk2,1e999,4\n'
mk nan 'id,a,b\nk1,1,2\nk2,nan,4\n'
mk dup-header 'id,a,a\nk1,1,2\n'
mk no-column 'id,x,y\nk1,1,2\n'
mk binary '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01'
mk bad-utf8 'id,a,b\nk\xff\xfe1,1,2\nk2,3,4\n'
head -c 200000 /dev/urandom > "$P/random.csv"
{ printf 'id,a,b\nk1,'; head -c 2000000 /dev/zero | tr '\0' 7; printf ',2\n'; } > "$P/long-field.csv"
for f in "$P"/*.csv; do
  n=$(basename "$f" .csv); [ "$n" = big ] && continue
  # no rows; a key that is bytes, not UTF-8; NaN is documented as an empty cell (dropped)
  want=1; case $n in header-only|bad-utf8|nan) want='0|1';; esac
  fresh; stage $C "csv-clean --strict $n.csv" "$want" "$BIN/csv-clean" --strict --key id --cols a,b --catalog "$W/o/old.tsv" -o "$W/o/old.ts" "$f"
done
# good tables that look odd: CRLF line ends, a BOM, quoted commas
printf 'id,a,b\r\nk1,1,2\r\nk2,3,4\r\n' > "$P/crlf.csv.ok"
printf '\xef\xbb\xbfid,a,b\nk1,1,2\nk2,3,4\n' > "$P/bom.csv.ok"
printf 'id,a,b\n"k,1",1,2\n"k""2",3,4\n' > "$P/quoted.csv.ok"
for f in "$P"/*.csv.ok; do
  fresh; stage $C "csv-clean $(basename "$f") (good)" 0 "$BIN/csv-clean" --key id --cols a,b -o "$W/o/new.ts" "$f"
done

# ---- 3. audio files (make sounds-like: the issue's reproducer) -----------------
C=audio
A=$W/audio; mkdir -p "$A"
cp "$SELF/data/sounds/trumpet.ogg" "$A/good.ogg"
cp "$SELF/tests/data/audio/brahms_4s.flac" "$A/good.flac"
: > "$A/empty.wav"
# a 44-byte WAV header, 22050 Hz mono 16-bit, no samples
printf 'RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x22\x56\0\0\x44\xac\0\0\x02\0\x10\0data\0\0\0\0' > "$A/nosamples.wav"
# 0.1 s of samples: shorter than one tile
{ printf 'RIFF\x4c\x11\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x22\x56\0\0\x44\xac\0\0\x02\0\x10\0data\x28\x11\0\0'; head -c 4392 /dev/urandom; } > "$A/short.wav"
# a header that promises 10 s, then 20 bytes
{ printf 'RIFF\x24\xb0\x06\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x22\x56\0\0\x44\xac\0\0\x02\0\x10\0data\0\xb0\x06\0'; head -c 20 /dev/urandom; } > "$A/cut.wav"
for k in 100 1000 4000; do head -c $k "$A/good.flac" > "$A/cut$k.flac"; head -c $k "$A/good.ogg" > "$A/cut$k.ogg"; done
head -c 5000 /dev/urandom > "$A/random.wav"; printf 'not audio\n' > "$A/text.ogg"
M=(make --no-print-directory -s -C "$CO" OUTDIR="$W/mk" CNN_DIR="$W/cnn" CNN_MODEL="$W/m.model")
cp "$SELF/data/sound.model" "$W/m.model"; cp "$SELF/data/sound.model.inputs" "$W/m.model.inputs"
if grep -qs '^sounds-like:' "$CO"/pipelines/*.mk "$CO/Makefile"; then
  timeout 600 "${M[@]}" sounds-like FILE="$A/good.ogg" CNN_K=1 > "$W/s.out" 2>&1; rc=$?
  grep -q trumpet "$W/s.out" || rc="$rc(no trumpet)"
  verdict $C "sounds-like good.ogg (builds the index)" "$rc" 0 "$W/s.out" ""
  for f in "$A"/*; do
    n=${f##*/}; case $n in good*) continue;; esac
    timeout -k 2 120 "${M[@]}" sounds-like FILE="$f" CNN_K=1 > /dev/null 2> "$W/err"; rc=$?
    l=""; canaries && l=canary
    verdict $C "sounds-like $n" "$rc" '[12]' "$W/err" "$l"
  done
else skipcase $C "sounds-like (no target)"; fi
# spectro on its own: no decodable sample is exit 1, nothing written
for f in "$A"/empty.wav "$A"/nosamples.wav "$A"/cut100.flac "$A"/cut100.ogg "$A"/text.ogg "$A"/random.wav; do
  fresh; stage $C "spectro ${f##*/}" 1 "$BIN/spectro" -q -o "$W/o/old.ts" "$f"
done

# ---- 4. JSON files -------------------------------------------------------------
C=json
J=$SELF/tests/data/mpd/slices/slice.0-4.json.fixture
Hj=$SELF/tests/data/history/basic/music_0.json.fixture
jcase() {  # jcase NAME CONTENT-FILE: mpd-ingest on a slice made of it
  rm -rf "$W/mpd"; mkdir -p "$W/mpd"; cp "$2" "$W/mpd/mpd.slice.0-4.json"
  fresh; stage $C "mpd-ingest $1" 1 "$BIN/mpd-ingest" --tracks "$W/o/old.tsv" -o "$W/o/old.ts" "$W/mpd"
}
if have mpd-ingest; then
  { cat "$J"; cat "$J"; } > "$P/j1"; jcase "trailing document" "$P/j1"
  { cat "$J"; printf '  garbage'; } > "$P/j1"; jcase "trailing garbage" "$P/j1"
  sed '0,/"playlists": \[/s//"playlists": [], "playlists": [/' "$J" > "$P/j1"; jcase "duplicate key: an empty playlists first" "$P/j1"
  sed '0,/"pid": 0,/s//"pid": 0, "pid": 7,/' "$J" > "$P/j1"; jcase "duplicate key: pid" "$P/j1"
  sed '0,/"pid": 0,/s//"pid": 1e999,/' "$J" > "$P/j1"; jcase "pid 1e999" "$P/j1"
  sed '0,/"num_tracks": 5/s//"num_tracks": 1e999/' "$J" > "$P/j1"; jcase "num_tracks 1e999" "$P/j1"
  sed '0,/"track_uri": "spotify:track:\([^"]*\)"/s//"track_uri": "spotify:track:\1\\u0000x"/' "$J" > "$P/j1"; jcase "NUL (\\u0000) in a track uri" "$P/j1"
  sed '0,/"track_uri"/s//"track\\u0000_uri"/' "$J" > "$P/j1"; jcase "NUL in a key" "$P/j1"
  head -c $(( $(stat -c %s "$J") / 2 )) "$J" > "$P/j1"; jcase "truncated" "$P/j1"
  : > "$P/j1"; jcase "empty" "$P/j1"
  printf '[1,2,3]' > "$P/j1"; jcase "an array, not an object" "$P/j1"
  { printf '{"playlists":'; head -c 100000 /dev/zero | tr '\0' '['; } > "$P/j1"; jcase "deep nesting" "$P/j1"
  { head -c 200; printf '\0'; tail -c +201 "$J"; } < "$J" > "$P/j1"; jcase "a raw NUL byte" "$P/j1"
else skipcase $C "mpd-ingest"; fi
if have taste; then
  "$BIN/csv-clean" --key track_id --cols danceability,energy --display track_name,track_artist --catalog "$P/hcat.tsv" \
    "$SELF/tests/data/history/songs.csv" > /dev/null 2>&1
  tcase() {
    rm -rf "$W/h"; mkdir -p "$W/h"; cp "$2" "$W/h/StreamingHistory_music_0.json"
    fresh; stage $C "taste $1" 1 "$BIN/taste" --catalog "$P/hcat.tsv" --unmatched "$W/o/old.tsv" -o "$W/o/old.ts" "$W/h/StreamingHistory_music_0.json"
  }
  sed '0,/"msPlayed": 200000/s//"msPlayed": 1e999/' "$Hj" > "$P/j1"; tcase "msPlayed 1e999" "$P/j1"
  sed '0,/"msPlayed": 200000/s//"msPlayed": -1e999/' "$Hj" > "$P/j1"; tcase "msPlayed -1e999" "$P/j1"
  { cat "$Hj"; cat "$Hj"; } > "$P/j1"; tcase "trailing document" "$P/j1"
  sed '0,/"msPlayed": 200000/s//"msPlayed": 1, "msPlayed": 200000/' "$Hj" > "$P/j1"; tcase "duplicate key" "$P/j1"
  sed '0,/"trackName": "Paper Lanterns"/s//"trackName": "Paper\\u0000Lanterns"/' "$Hj" > "$P/j1"; tcase "NUL in a track name" "$P/j1"
  head -c 150 "$Hj" > "$P/j1"; tcase "truncated" "$P/j1"
else skipcase $C "taste"; fi

# ---- 5. fault injections --------------------------------------------------------
C=faults
set -m                          # background jobs keep SIGINT (no job control ignores it)
Mi=$W/mpd-ok; mkdir -p "$Mi"; cp "$J" "$Mi/mpd.slice.0-4.json"
"$BIN/csv-clean" --key id --cols a,b,c -o "$P/n.ts" "$P/big.csv" 2>/dev/null
# a stage that waits on a FIFO, killed once its outputs are open
sig_case() {   # sig_case SIG WANT NAME CMD...  (CMD reads $W/fifo)
  local sig=$1 want=$2 n=$3; shift 3
  fresh; rm -f "$W/fifo"; mkfifo "$W/fifo"
  "$@" < "$W/fifo" > /dev/null 2> "$W/err" & local pid=$!
  exec 7> "$W/fifo"
  for ((k = 0; k < 250 && $(ls -A "$W/o" | wc -l) < 5; k++)); do sleep 0.02; done
  kill -"$sig" $pid; local t=0
  while kill -0 $pid 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
  kill -0 $pid 2>/dev/null && { kill -9 $pid; t=hang; }
  wait $pid; local rc=$?; exec 7>&-
  [ "$t" = hang ] && rc=124
  local l; l=$(leftovers "$W/o")
  # after kill -9 nothing can remove a temporary file (FILE.tmp, FILE.tmp.PID.X):
  # only a final name or a replaced file counts
  [ "$sig" = KILL ] && l=$(tr ' ' '\n' <<<"$l" | grep -v '\.tmp' | tr '\n' ' ' | sed 's/ $//')
  verdict $C "$sig $n" "$rc" "$want" "$W/err" "$l"
}
for sig in KILL INT TERM; do
  want=$(( 128 + $(kill -l $sig) ))
  sig_case $sig $want "csv-clean -o --catalog" "$BIN/csv-clean" --cols a,b --display name --catalog "$W/o/old.tsv" -o "$W/o/old.ts"
  sig_case $sig $want "normalize -o --save" "$BIN/normalize" --save "$W/o/old.json" -o "$W/o/old.ts"
  sig_case $sig $want "mpd-ingest --tracks --names -o" "$BIN/mpd-ingest" --tracks "$W/o/old.tsv" --names "$W/o/n.tsv" -o "$W/o/old.ts" -
done
set +m
# SIGPIPE: stdout to a pipe closed at once, the side outputs files
pipe_case() {
  local n=$1; shift; fresh
  ( "$@" 2> "$W/err" | head -c 1 > /dev/null; exit "${PIPESTATUS[0]}" ); local rc=$?
  verdict $C "SIGPIPE $n" "$rc" 141 "$W/err" "$(leftovers "$W/o")"
}
awk 'BEGIN { print "id,name,a,b,c"; for (i = 0; i < 100000; i++) print "k" i ",n" i "," i % 7 "," i % 11 "," i % 13 }' > "$P/huge.csv"
"$BIN/csv-clean" --key id --cols a,b,c -o "$P/huge.ts" "$P/huge.csv" 2>/dev/null
pipe_case "csv-clean --catalog" "$BIN/csv-clean" --key id --cols a,b --display name --catalog "$W/o/old.tsv" "$P/huge.csv"
pipe_case "normalize --save" "$BIN/normalize" --save "$W/o/old.json" "$P/huge.ts"
pipe_case "to-csv" "$BIN/to-csv" "$P/huge.ts"
# /dev/full, written in place through a symlink (a stage that renamed over it would replace the device)
full_case() {   # full_case NAME WANT-IN-MESSAGE CMD...
  local n=$1 name=$2; shift 2; fresh; ln -s /dev/full "$W/o/full.x"
  timeout -k 2 20 "$@" 2> "$W/err"; local rc=$?
  local l; l=$(leftovers "$W/o"); [ -c /dev/full ] || l+=" /dev/full-replaced"
  verdict $C "/dev/full $n" "$rc" 1 "$W/err" "$l"
  grep -qF -- "$name: write failed" "$W/err" || { note[$C]="${note[$C]:-} wrong-file-named:$n;"; echo "   message: $(head -c 200 "$W/err")" >> "$LOG"; }
}
full_case "csv-clean --catalog" "$W/o/full.x" "$BIN/csv-clean" --key id --cols a,b --display name --catalog "$W/o/full.x" -o "$W/o/old.ts" "$P/big.csv" > /dev/null
full_case "csv-clean stdout" "<stdout>" "$BIN/csv-clean" --key id --cols a,b --display name --catalog "$W/o/old.tsv" "$P/big.csv" > /dev/full
full_case "normalize --save, stdout" "<stdout>" "$BIN/normalize" --save "$W/o/old.json" "$P/n.ts" > /dev/full
full_case "normalize --save on it" "$W/o/full.x" "$BIN/normalize" --save "$W/o/full.x" -o "$W/o/old.ts" "$P/n.ts" > /dev/null
full_case "mpd-ingest --tracks --names, stdout" "<stdout>" "$BIN/mpd-ingest" --tracks "$W/o/old.tsv" --names "$W/o/n.tsv" "$Mi" > /dev/full
full_case "mpd-ingest --tracks on it" "$W/o/full.x" "$BIN/mpd-ingest" --tracks "$W/o/full.x" --names "$W/o/n.tsv" -o "$W/o/old.ts" "$Mi" > /dev/null
full_case "mpd-ingest --names on it" "$W/o/full.x" "$BIN/mpd-ingest" --tracks "$W/o/t.tsv" --names "$W/o/full.x" -o "$W/o/old.ts" "$Mi" > /dev/null
full_case "to-csv stdout" "<stdout>" "$BIN/to-csv" "$P/n.ts" > /dev/full
# a full disk (ulimit -f) for the catalogue: the existing -o file stays
fresh
( ulimit -f 100; trap '' XFSZ; exec timeout 20 "$BIN/csv-clean" --key id --cols a,b --display name --catalog "$W/o/cat.tsv" -o "$W/o/old.ts" "$P/big.csv" ) > /dev/null 2> "$W/err"
verdict $C "full disk for csv-clean --catalog" "$?" 1 "$W/err" "$(leftovers "$W/o")"
# a read-only folder for -o
asuser=(); [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null && asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fresh; chmod 755 "$W" "$P"; chmod 644 "$P"/*; chmod 555 "$W/o"
for s in csv-clean normalize; do
  if [ $s = csv-clean ]; then a=(--key id --cols a,b --catalog "$W/o/c.tsv" -o "$W/o/x.ts" "$P/big.csv"); else a=(--save "$W/o/s.json" -o "$W/o/x.ts" "$P/n.ts"); fi
  timeout 20 "${asuser[@]}" "$BIN/$s" "${a[@]}" > /dev/null 2> "$W/err"
  verdict $C "read-only folder: $s -o" "$?" 1 "$W/err" "$(leftovers "$W/o")"
done
chmod 755 "$W/o"
# two runs of the same -o at once: both succeed, one run's complete file
"$BIN/csv-clean" --key id --cols a,b -o "$P/k.ts" "$P/big.csv" 2>/dev/null
"$BIN/knn" --index "$P/k.ts" --self -k 5 --shard 0/16 -o "$P/ref.ts" 2>/dev/null
for ((i = 0; i < 5; i++)); do
  fresh
  "$BIN/knn" --index "$P/k.ts" --self -k 5 --shard 0/16 -o "$W/o/same.ts" 2> "$W/err" & a=$!
  "$BIN/knn" --index "$P/k.ts" --self -k 5 --shard 0/16 -o "$W/o/same.ts" 2>> "$W/err" & b=$!
  wait $a; ra=$?; wait $b; rb=$?
  l=""; cmp -s "$W/o/same.ts" "$P/ref.ts" || l="same.ts-differs"
  [ "$(leftovers "$W/o")" = same.ts ] || l+=" $(leftovers "$W/o")"
  verdict $C "two knn --shard 0/16 -o same.ts at once ($ra $rb)" "$([ $ra$rb = 00 ] && echo 0 || echo 1)" 0 "$W/err" "$l"
done
# two add-song at once into one library: both succeed, each its own song
if grep -qs '^add-song:' "$CO"/pipelines/*.mk && [ -d "$W/cnn" ]; then
  cp -a "$W/cnn" "$W/cnn2"      # (the library of the other rows stays as it was; times kept: nothing to rebuild)
  for ((i = 0; i < 2; i++)); do
    cp "$SELF/data/sounds/trumpet.ogg" "$A/add-a$i.ogg"; cp "$SELF/data/sounds/brahms.ogg" "$A/add-b$i.ogg"
    timeout 300 "${M[@]}" CNN_DIR="$W/cnn2" add-song FILE="$A/add-a$i.ogg" > "$W/a.out" 2>&1 & a=$!
    timeout 300 "${M[@]}" CNN_DIR="$W/cnn2" add-song FILE="$A/add-b$i.ogg" > "$W/b.out" 2>&1 & b=$!
    wait $a; ra=$?; wait $b; rb=$?
    l=""; grep -q "add-a$i" "$W/a.out" || l+="a-not-reported "; grep -q "add-b$i" "$W/b.out" || l+="b-not-reported "
    stray=$(find "$W/cnn2" -name '*.new' -o -name '*.tmp*' | head -3); [ -n "$stray" ] && l+="stray:${stray//$W\//}"
    cat "$W/a.out" "$W/b.out" > "$W/err"
    verdict $C "two make add-song at once ($ra $rb)" "$([ $ra$rb = 00 ] && echo 0 || echo 1)" 0 "$W/err" "$l"
  done
else skipcase $C "add-song at once"; fi

# ---- 6. make-variable payloads ---------------------------------------------------
C=make-vars
payloads=('$(shell touch '"$CAN"')' '$$(touch '"$CAN"')' '$(touch '"$CAN"')' '`touch '"$CAN"'`' "'; touch $CAN; '"
          '" ] && touch '"$CAN"' [ "' "2; touch $CAN;" "\$(touch $CAN)"$'\n'"touch $CAN")
P_ALL=$(printf '%s' "${payloads[@]}")
mapfile -t settings < <(cd "$CO" && sed -n 's/^\([A-Z][A-Z0-9_]*\) *?=.*/\1/p' Makefile pipelines/*.mk | sort -u)
settings+=(SONG ARTIST PLAYLIST FILE)
mrun() {   # mrun NAME WANT ARGS...: make in the checkout, 120 s limit
  local n=$1 want=$2; shift 2
  timeout -k 2 120 "${M[@]}" "$@" > "$W/m.out" 2>&1; local rc=$?
  local l=""; canaries && l=canary
  verdict $C "$n" "$rc" "$want" "$W/m.out" "$l"
}
# every setting alone with all payloads at once (make help parses every file):
# the value is either kept literally (0) or refused (2)
for v in "${settings[@]}"; do mrun "help $v=<all>" '0|2' help "$v=$P_ALL"; done
for p in "${payloads[@]}"; do
  args=(); for v in "${settings[@]}"; do args+=("$v=$p"); done
  mrun "help, every setting = ${p:0:30}" '0|2' help "${args[@]}"
done
# the recipes the issue names: no payload is a song, a number or a list member
"${M[@]}" features > /dev/null 2>&1
for v in SONG ARTIST PLAYLIST K METRIC MAX_PER_ARTIST STYLE; do
  for p in "${payloads[@]}"; do
    if [ $v = SONG ]; then mrun "recommend $v=${p:0:30}" '[12]' recommend "$v=$p"
    else mrun "recommend $v=${p:0:30}" '[12]' recommend SONG="Yesterday" "$v=$p"; fi
  done
done
for p in "${payloads[@]}"; do
  mrun "continue PLAYLIST=${p:0:30}" '[12]' continue MPD_DIR="$Mi" PLAYLIST="$p"
  mrun "taste HISTORY=${p:0:30}" '[12]' taste HISTORY="$p"
  mrun "sounds-like FILE=${p:0:30}" '[12]' sounds-like FILE="$p"
  mrun "spectro-library AUDIO_DIR=${p:0:30}" '[12]' spectro-library AUDIO_DIR="$p"
done

# ---- 7. hostile file names --------------------------------------------------------
C=names
mkdir -p "$A/n/x"
names=('x/`touch CANARY`.ogg' 'q"uote.ogg' 'dollar$HOME.ogg' $'new\nline.ogg' "it's \$(touch CANARY).ogg" 'sp ace $(shell touch CANARY).ogg')
for n in "${names[@]}"; do cp "$SELF/data/sounds/trumpet.ogg" "$A/n/$n"; done
cp "$SELF/data/sounds/trumpet.ogg" "$CO/-rf-campaign.ogg"
if [ -d "$W/cnn" ]; then
  for n in "${names[@]}" -rf-campaign.ogg; do
    f=$A/n/$n; [ "$n" = -rf-campaign.ogg ] && f=$n
    timeout -k 2 120 "${M[@]}" sounds-like FILE="$f" CNN_K=1 > "$W/s.out" 2>&1; rc=$?
    [ $rc = 0 ] && ! grep -q 'trumpet$' "$W/s.out" && rc=1
    l=""; canaries && l=canary
    verdict $C "sounds-like FILE='${n//$'\n'/\\n}'" "$rc" 0 "$W/s.out" "$l"
  done
else skipcase $C "sounds-like"; fi
Hd=$SELF/tests/data/history
for h in "$W/my spotify data/" "$W/bob's_data" "$W/d \$(touch $CAN) \`x\` \"q\""; do
  mkdir -p "$h"; cp "$Hd/basic/YourLibrary.json" "$h/"; cp "$Hd/basic/music_0.json.fixture" "$h/StreamingHistory_music_0.json"
  timeout -k 2 120 "${M[@]}" taste HISTORY="$h" TASTE_SONGS="$Hd/songs.csv" TASTE_INPUTS=danceability,energy,valence,tempo,year \
    TASTE_TEST=0.4 TASTE_EPOCHS=5 > "$W/t.out" 2>&1; rc=$?
  [ $rc = 0 ] && ! grep -q 'matched 5' "$W/t.out" && rc=1
  l=""; canaries && l=canary
  verdict $C "taste HISTORY='$h'" "$rc" 0 "$W/t.out" "$l"
done
SC="$W/my spotify data/q\"uote \$HOME \`touch CANARY\`.csv"; head -n 400 "$SELF/data/spotify_songs.csv" > "$SC"
timeout 120 "${M[@]}" features OUTDIR="$W/mk2" SONGS_CSV="$SC" > "$W/f.out" 2>&1; rc=$?
[ $rc = 0 ] && [ ! -s "$W/mk2/features/songs.ts" ] && rc=1
l=""; canaries && l=canary
verdict $C "features SONGS_CSV='${SC#$W/}'" "$rc" 0 "$W/f.out" "$l"
# stages take such names as ordinary operands
for n in "${names[@]}"; do
  cp "$P/big.csv" "$A/n/$n.csv"; fresh
  timeout 20 "$BIN/csv-clean" --key id --cols a,b -o "$W/o/${n//\//_}.ts" -- "$A/n/$n.csv" > /dev/null 2> "$W/err"; rc=$?
  [ $rc = 0 ] && [ ! -s "$W/o/${n//\//_}.ts" ] && rc=1
  verdict $C "csv-clean -o -- '${n//$'\n'/\\n}.csv'" "$rc" 0 "$W/err" "$(canaries && echo canary)"
done

# ---- the table ---------------------------------------------------------------------
printf '%-10s %6s %7s %6s %11s %9s %5s  %s\n' class cases crashes hangs wrong-exit data-lost n/a notes
tot=(0 0 0 0 0 0)
for c in tensor csv audio json faults make-vars names; do
  printf '%-10s %6d %7d %6d %11d %9d %5d  %s\n' $c ${tried[$c]:-0} ${crash[$c]:-0} ${hang[$c]:-0} ${wrong[$c]:-0} ${lost[$c]:-0} ${na[$c]:-0} "${note[$c]:-}"
  tot=($((tot[0] + ${tried[$c]:-0})) $((tot[1] + ${crash[$c]:-0})) $((tot[2] + ${hang[$c]:-0})) $((tot[3] + ${wrong[$c]:-0})) $((tot[4] + ${lost[$c]:-0})) $((tot[5] + ${na[$c]:-0})))
done
printf '%-10s %6d %7d %6d %11d %9d %5d\n' total "${tot[@]}"
cp "$LOG" "${CAMPAIGN_LOG:-/tmp/hostile-campaign.$(basename "$CO").log}" 2>/dev/null && echo "(cases: ${CAMPAIGN_LOG:-/tmp/hostile-campaign.$(basename "$CO").log})" >&2
