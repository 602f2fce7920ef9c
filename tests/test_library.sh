# test_library.sh - make library MUSIC=folder (pipelines/library.mk): a folder
# tree of generated audio (nested folders, names with spaces, quotes, $,
# backticks, a line end and a leading -, two files of one basename, one
# corrupt file) becomes a library keyed by relative path; a second run after
# adding one file and deleting another decodes exactly one file (counted from
# the part the run decoded, and from the list it decoded); sounds-like FILE=
# (a file, a folder) and SONG= search it; parts run by make -j and on (fake)
# Slurm; MUSIC holding code is a name, never run.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
for s in spectro slice embed pool append knn inspect to-csv; do
  [ -x "$BIN/$s" ] || { skip library "no $BIN/$s yet"; exit 0; }
done
GEN=${TOOLS:-$ROOT/build/rel/tools}/gen-audio
[ -x "$GEN" ] || { skip library "no $GEN (make tools)"; exit 0; }
# a copy of the shipped model: nothing here may retrain data/sound.model
cp data/sound.model "$T/m.model"; cp data/sound.model.inputs "$T/m.model.inputs"
L=$T/out/library
M=(make --no-print-directory -s -C "$ROOT" OUT="${OUT:-build}" SAN="${SAN:-0}" OUTDIR="$T/out" CNN_DIR="$T/cnn"
   CNN_MODEL="$T/m.model" LIBRARY_PARTS=3 LIBRARY_PROGRESS=0.001)
CAN=$T/CANARY
MU=$T/"my music"
odd="b's \"q\" \$(touch $CAN) \`touch $CAN\`"
mkdir -p "$MU/rock/live" "$MU/jazz" "$MU/$odd" "$MU/nested/a/b"
n=0
gen() { n=$((n + 1)); "$GEN" "$1" 4 "$2" "$n" || fail "gen-audio $1"; }
gen "$MU/rock/live/same.ogg" 220
gen "$MU/jazz/same.ogg" 660
gen "$MU/$odd/it's \"quoted\".flac" 330
gen "$MU/nested/a/b/-dash start.wav" 440
gen "$MU/nested/new"$'\n'"line.wav" 550
gen "$MU/top level.WAV" 880
printf 'this is not audio' > "$MU/jazz/corrupt.flac"
printf 'notes' > "$MU/jazz/readme.txt"

# nrows FILE: rows of the first tensor
nrows() { inspect "$1" | awk '$1 == "rows" && !n { print $2; n = 1 }'; }
keys() { to-csv --tsv --no-header "$L/index.ts" | cut -f1 | LC_ALL=C sort; }
plan() { awk -v k="$1" '$1 == k { print $2 }' "$L/work/plan.txt"; }

# ---- first run: every file, in 3 parts with make -j2 ----
if "${M[@]}" -j2 library MUSIC="$MU" > "$T/r1.out" 2>&1; then pass "make library MUSIC='$MU' -j2"
else fail "make library" "$(tail -c 600 "$T/r1.out")"; fi
is "  7 audio files found (the .txt is not one)" "$(plan scanned)" 7
is "  6 songs: every file but the corrupt one" "$(nrows "$L/index.ts")" 6
is "  keys are the paths relative to MUSIC (two same.ogg apart)" "$(keys | grep -c 'same\.ogg$')" 2
like "  a key with quotes, \$(...) and backticks, kept as written" "$(keys)" "^b's \"q\" \\\$\(touch .*CANARY\) \`touch .*CANARY\`/it's \"quoted\"\.flac$"
like "  a key with a leading -" "$(keys)" "^nested/a/b/-dash start\.wav$"
is "  a key with a line end" "$(to-csv --tsv --no-header "$L/index.ts" | grep -c '^nested/new.line\.wav')" 1
like "  the undecodable file is named at the end" "$(cat "$T/r1.out")" "could not be decoded .*skipped.txt.*"$'\n'"  jazz/corrupt\.flac"
is "  and listed in skipped.txt" "$(cat "$L/skipped.txt")" "jazz/corrupt.flac"
like "  progress: files done of total, rate, time left" "$(cat "$T/r1.out")" "spectro: [0-9]+/[0-9]+ files.*files/s.*(left|done)"
is "  tags.tsv: a header and a row per song whose path can be a TSV cell (not the one with a line end)" \
  "$(grep -c '' "$L/tags.tsv") $(cut -f1 "$L/tags.tsv" | grep -c '^nested/new')" "6 0"
canary() { if [ -e "$CAN" ]; then fail "$1" "canary file"; rm -f "$CAN"; else pass "$1"; fi; }
canary "  no name ran as code"

# ---- nothing changed: nothing decoded ----
"${M[@]}" library > "$T/r2.out" 2>&1
is "again, MUSIC remembered: nothing to decode (the corrupt file is not retried)" "$(plan to_decode) $(plan decoded)" "0 0"
is "  still 6 songs" "$(nrows "$L/index.ts")" 6

# ---- one file added, one deleted: exactly one file decoded ----
gen "$MU/jazz/new one.ogg" 990
rm -- "$MU/nested/a/b/-dash start.wav"
"${M[@]}" -j2 library MUSIC="$MU" > "$T/r3.out" 2>&1
is "one added, one deleted: 1 new, 1 gone, 1 to decode in 1 part" "$(plan new) $(plan gone) $(plan to_decode) $(plan parts)" "1 1 1 1"
is "  the run's spectro list held one file" "$(tr -cd '\0' < "$L/work/todo-0" | wc -c)" 1
is "  its part holds one decoded song" "$(nrows "$L/work/part-0.ts")" 1
is "  its key" "$(to-csv --tsv --no-header "$L/work/part-0.ts" | cut -f1)" "jazz/new one.ogg"
is "  6 songs: the new one in, the deleted one out" "$(keys | grep -cE '^(jazz/new one\.ogg|nested/a/b/-dash start\.wav)$') $(nrows "$L/index.ts")" "1 6"
is "  tags.tsv follows: the new file in, the deleted one out" \
  "$(cut -f1 "$L/tags.tsv" | grep -cE '^(jazz/new one\.ogg|nested/a/b/-dash start\.wav)$') $(grep -c '' "$L/tags.tsv")" "1 6"
like "  the summary says so" "$(cat "$T/r3.out")" "1 new, 0 changed, 1 gone, 6 unchanged \(1 of them undecodable\); decoding 1"
# a changed file (other size and time) is decoded again, under the same key
sleep 1; n=$((n + 1)); "$GEN" "$MU/jazz/same.ogg" 4 700 $n 'Now Tagged' 'Some Band'
"${M[@]}" library > "$T/r4.out" 2>&1
is "a changed file: decoded again, one row" "$(plan changed) $(plan decoded) $(keys | grep -c '^jazz/same\.ogg$')" "1 1 1"
is "  its new tags replace its old (empty) ones; the other songs keep theirs" \
  "$(grep -c '^jazz/same\.ogg	Now Tagged	Some Band$' "$L/tags.tsv") $(grep -c '' "$L/tags.tsv")" "1 6"

# ---- sounds-like on the library ----
cp "$MU/rock/live/same.ogg" "$T/copy of same.ogg"
"${M[@]}" sounds-like FILE="$T/copy of same.ogg" CNN_K=3 > "$T/q.out" 2> "$T/q.err"
is "sounds-like FILE=<a copy of a library file>: that file first, by path" \
  "$(awk '$1 == "1" { print $NF }' "$T/q.out")" "rock/live/same.ogg"
is "  3 results" "$(grep -cE '^ +[0-9]+ ' "$T/q.out")" 3
"${M[@]}" sounds-like FILE="$MU/rock/live/same.ogg" CNN_K=10 > "$T/q.out" 2>&1
is "sounds-like FILE=<a library file>: not its own neighbour" "$(grep -c 'rock/live/same\.ogg$' "$T/q.out")" 0
mkdir -p "$T/q dir"; cp "$MU/jazz/new one.ogg" "$T/q dir/"; cp "$MU/rock/live/same.ogg" "$T/q dir/x.ogg"
"${M[@]}" sounds-like FILE="$T/q dir/" CNN_K=2 > "$T/q.out" 2>&1
is "sounds-like FILE=<a folder>: one answer per file" "$(grep -c '^Songs like' "$T/q.out")" 2
"${M[@]}" sounds-like SONG='new one' CNN_K=2 > "$T/q.out" 2>&1
like "sounds-like SONG='new one': the songs nearest to that library song" "$(cat "$T/q.out")" "Songs like 'new one' by jazz"
is "  2 results, not itself" "$(grep -E '^ +[0-9]+ ' "$T/q.out" | grep -vc 'jazz/new one\.ogg$')" 2
fails "sounds-like SONG=<no such song>" 2 "^knn: " "${M[@]}" sounds-like SONG='no such song at all'
fails "make library MUSIC=<no such folder>" 2 "library: MUSIC=.*: no such folder" "${M[@]}" library MUSIC="$T/none"

# ---- MUSIC holding code is a folder name ----
P="$T/\$(touch $CAN) \`touch $CAN\`; touch $CAN"
mkdir -p "$P"; gen "$P/a.ogg" 300
ok "make library MUSIC=<a name with \$(...), backticks and ;> in its own LIBRARY_DIR" \
  "${M[@]}" library MUSIC="$P" LIBRARY_DIR="$T/lib2"
is "  one song" "$(nrows "$T/lib2/index.ts")" 1
canary "  no canary"

# ---- parts as a (fake) Slurm job array ----
export FAKE_SLURM=$T/fake; mkdir -p "$FAKE_SLURM"
gen "$MU/rock/slurm a.ogg" 250; gen "$MU/rock/slurm b.ogg" 260; rm -- "$MU/top level.WAV"
if env PATH="$ROOT/tests/fake-slurm:$PATH" SLURM_POLL=0.1 "${M[@]}" library CLUSTER=slurm > "$T/s.out" 2>&1; then
  is "CLUSTER=slurm: 2 new files in 2 tasks, 1 gone: 2 decoded" "$(plan to_decode) $(plan gone) $(plan decoded)" "2 1 2"
  is "  7 songs" "$(nrows "$L/index.ts") $(keys | grep -c '^rock/slurm')" "7 2"
else fail "make library CLUSTER=slurm (fake Slurm)" "$(tail -c 600 "$T/s.out")"; fi
