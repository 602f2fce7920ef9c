# test_hostile.sh - no user value runs as code (issue 14, part 2): every make
# setting with code-like payloads, on the command line and in the
# environment, never creates the canary file and either runs with the literal
# value or stops with a message; real files and folders with hostile names
# (spaces, quotes, $, backticks, line ends, a leading -) are processed as
# ordinary names.  Small inputs, one scratch OUTDIR and CNN_DIR.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
for s in csv-clean normalize knn pool spectro slice embed taste train-mlp taste-rank merge to-csv mpd-ingest mpd-recommend; do
  [ -x "$BIN/$s" ] || { skip hostile "no $BIN/$s yet"; exit 0; }
done
CAN=$T/CANARY
O=$T/out
# a copy of the shipped sound model, so that nothing here can retrain data/sound.model
cp data/sound.model "$T/m.model"; cp data/sound.model.inputs "$T/m.model.inputs"
# a file with a leading - must sit where make runs (the project folder)
DASH=-rf-$$.ogg DASHCSV=-songs-$$.csv
trap 'rm -rf "$T" "$ROOT/$DASH" "$ROOT/$DASHCSV"' EXIT
M=(make --no-print-directory -s -C "$ROOT" OUT="${OUT:-build}" SAN="${SAN:-0}" OUTDIR="$O" CNN_DIR="$T/cnn" CNN_MODEL="$T/m.model")
P_SHELL='$(shell touch '"$CAN"')'
payloads=("$P_SHELL" '$$(touch '"$CAN"')' '$(touch '"$CAN"')' '`touch '"$CAN"'`' "'; touch $CAN; '"
          '" ] && touch '"$CAN"' [ "' "2; touch $CAN;" "\$(touch $CAN)"$'\n'"touch $CAN")
# every form at once, for the values that are refused as a whole; a few
# where a stage, not make, reads the value (the same path for every value)
P_ALL=$(printf '%s' "${payloads[@]}")
few=("$P_SHELL" "'; touch $CAN; '" "$P_ALL")

# canary NAME: passes when no canary file appeared anywhere (then removes it)
canary() {
  local found
  found=$(find "$T" "$ROOT" -maxdepth 2 -name 'CANARY*' 2>/dev/null | head -3)
  if [ -n "$found" ]; then fail "$1" "canary file: $found"; rm -f $found; else pass "$1"; fi
}
# run OUTFILE ARGS...: make with ARGS, stdout+stderr to OUTFILE, returns its status
run() { local f=$1; shift; "${M[@]}" "$@" > "$f" 2>&1; }

# ---- every setting, at parse time --------------------------------------------
# the settings: the ?= variables of the Makefile and pipelines, and the values
# the recipes read
mapfile -t settings < <(sed -n 's/^\([A-Z][A-Z0-9_]*\) *?=.*/\1/p' Makefile pipelines/*.mk | sort -u)
settings+=(SONG ARTIST PLAYLIST FILE)
# the ones checked to a number, a word list or a safe path are refused
checked=(SAN OUT OUTDIR BENCH_SCALE BENCH_SCALE_SEED BENCH_SCALE_VAL_TEST BENCH_MEM_GB BENCH_SCALE_MODELS CNN_DIR CNN_MODEL CNN_K K MAX_PER_ARTIST FIRST FORMAT HYBRID_BLEND HYBRID_MPD HYBRID_SOUND HYBRID_SOUND_SHARE METRIC NORM STYLE LEARN_METRIC LEARN_SEED
         TASTE_K TASTE_SEED CONTINUE_N PL_SEED CONTINUE_MODEL PL_MODELS SHARDS SHARD_RETRIES SLURM_POLL SLURM_PATIENCE SLURM_THROTTLE
         SHARD_THREADS SOUND_SHARDS SOUND_J YEAR_MIN_TRACKS CHART_TOP_ARTISTS CHART_EPOCHS CLUSTER
         SIM_PLAYLISTS SIM_HOLDOUT SIM_SEED SIM_ROWS SIM_HYBRID_CONTENT PL_VAL_SEEDS PL_RERANK_GENS PL_RERANK_KS
         LIBRARY_DIR LIBRARY_PARTS LIBRARY_NPARTS LIBRARY_J LIBRARY_PROGRESS)
free=()
for v in "${settings[@]}"; do [[ " ${checked[*]} " == *" $v "* ]] || free+=("$v"); done
is "the settings are many" "$([ "${#settings[@]}" -gt 60 ] && echo yes)" yes
# all free settings at once hold one payload: make help parses every file
bad=0
for p in "${payloads[@]}"; do
  args=(); for v in "${free[@]}"; do args+=("$v=$p"); done
  run "$T/h.out" help "${args[@]}" || bad=$((bad + 1))
  ( for v in "${free[@]}"; do export "$v=$p"; done; run "$T/h.env" help ) || bad=$((bad + 1))
done
is "make help with every free setting = each payload (command line, environment): runs" "$bad" 0
like "  and prints the targets" "$(cat "$T/h.env")" "songpipe targets"
canary "  no canary"
# the checked ones: exit 2, a message naming the setting, nothing run
bad=
for v in "${checked[@]}"; do
  "${M[@]}" help "$v=$P_ALL" > /dev/null 2> "$T/c.err"; rc=$?
  { [ "$rc" = 2 ] && grep -q "\b$v=" "$T/c.err"; } || bad+=" $v(cmdline:$rc)"
done
# and in the environment (a few: the same code reads both)
for v in K STYLE SHARDS CNN_K CLUSTER; do
  env "$v=$P_ALL" "${M[@]}" help > /dev/null 2> "$T/c.err"; rc=$?
  { [ "$rc" = 2 ] && grep -q "\b$v=" "$T/c.err"; } || bad+=" $v(env:$rc)"
done
is "checked settings with payloads: exit 2 naming the setting" "${bad:-none}" none
canary "  no canary"
fails "K='2; touch CANARY;' is not a number" 2 "songpipe: K='2; touch .*': not a whole number" "${M[@]}" recommend SONG=x "K=2; touch $CAN;"
fails "METRIC: one of a list" 2 "METRIC=.*not one of: cosine euclidean dot mad" "${M[@]}" recommend SONG=x METRIC=cos
fails "SHARDS=0" 2 "SHARDS='0': not a whole number from 1 up" "${M[@]}" knn-all SHARDS=0
fails "OUTDIR with a space: refused, saying why" 2 "OUTDIR='a b': make names this in its rules" "${M[@]}" features OUTDIR='a b'
fails "an internal variable is not a setting" 2 "KNN_OPTS is not a setting" "${M[@]}" recommend SONG=x "KNN_OPTS=; touch $CAN"
fails "a goal that is no target name" 2 "not a target name" "${M[@]}" "$O/x;touch $CAN"
# the compiler command: CC and CFLAGS are words for the shell, not code
mode=rel; [ "${SAN:-0}" = 1 ] && mode=san
"${M[@]}" OUT="$T/b" "$T/b/$mode/common/rng.o" "CFLAGS=-O0 $P_SHELL" > "$T/b.out" 2>&1; rc=$?
like "compiling with CFLAGS=<payload>: the compiler refuses the words" "$rc $(cat "$T/b.out")" "^2 .*(cc|gcc): .*shell"
"${M[@]}" OUT="$T/b" "$T/b/$mode/common/rng.o" "CC=cc; touch $CAN;" > "$T/b.out" 2>&1; rc=$?
like "compiling with CC='cc; touch CANARY;': no such command" "$rc $(cat "$T/b.out")" "^2 .*cc;: command not found"
canary "  no canary"

# ---- the features pipeline on a small table with a hostile name ---------------
D="$T/my spotify data/bob's_data"
mkdir -p "$D"
SONGS="$D/q\"uote \$HOME \`x\`.csv"
head -n 400 data/spotify_songs.csv > "$SONGS"
ok "features from SONGS_CSV='$SONGS'" "${M[@]}" features SONGS_CSV="$SONGS"
ok "  its rows" test "$(grep -c '' "$O/features/songs.tsv")" -gt 300
song=$(awk -F'\t' 'NR == 2 { print $2 " - " $3 }' "$O/features/songs.tsv")
run "$T/r.out" recommend SONGS_CSV="$SONGS" SONG="$song" K=3
is "recommend SONG='$song' K=3 from that table: 3 songs" "$(grep -cE '^ *[0-9]+ ' "$T/r.out")" 3
before=$(stat -c %Y "$O/features/songs.ts")
sleep 1; touch "$SONGS"
run "$T/r.out" features SONGS_CSV="$SONGS"
is "  a newer table (same name) rebuilds" "$([ "$(stat -c %Y "$O/features/songs.ts")" != "$before" ] && echo yes)" yes
cp "$SONGS" "$ROOT/$DASHCSV"
ok "features from SONGS_CSV=$DASHCSV (relative, a leading -)" "${M[@]}" features OUTDIR="$T/out-dash" SONGS_CSV="$DASHCSV"
ok "  the same table" cmp "$T/out-dash/features/songs.tsv" "$O/features/songs.tsv"
for v in SONG ARTIST PLAYLIST; do
  [ $v = SONG ] && set -- "${payloads[@]}" || set -- "${few[@]}"
  for p; do
    "${M[@]}" recommend SONGS_CSV="$SONGS" "$v=$p" > /dev/null 2> "$T/r.err"; rc=$?
    [ "$rc" = 2 ] && grep -q "^knn: " "$T/r.err" || { fail "recommend $v=$p" "exit $rc: $(head -c 300 "$T/r.err")"; continue 2; }
  done
  pass "recommend $v=<payloads>: exit 2, knn finds no such song"
done
SONG="$P_ALL" "${M[@]}" recommend SONGS_CSV="$SONGS" > /dev/null 2> "$T/r.err"; rc=$?
like "recommend with SONG=<payloads> in the environment: knn finds no such song" "$(cat "$T/r.err")" "^knn: "; is "  exit 2" "$rc" 2
canary "  no canary"
for v in SONG_KEY FEATURES DISPLAY NORM ARTISTS_CSV; do
  run "$T/r.out" features SONGS_CSV="$SONGS" "$v=$P_ALL"
  like "features $v=<payloads>: a message, not a shell error" "$(cat "$T/r.out")" "csv-clean|songpipe:|normalize"
done
canary "  no canary"
run "$T/r.out" features SONGS_CSV="$SONGS"
ok "knn-all SHARDS=2 from that table" "${M[@]}" knn-all SONGS_CSV="$SONGS" SHARDS=2 K=2
is "  every song's neighbours" "$(to-csv --no-header "$O/features/neighbours.ts" | wc -l)" "$(tail -n +2 "$O/features/songs.tsv" | wc -l)"
run "$T/r.out" recommend SONGS_CSV="$SONGS" SONG="$song" STYLE=predictor K=2 \
  PRED_OPTS='--layers 4,1 --epochs 1 --loss mae' LEARN_FEATURES='valence,energy,tempo' "PRED_LAYER=$P_ALL"
like "recommend STYLE=predictor PRED_LAYER=<payloads>: embed refuses the layer" "$(cat "$T/r.out")" "embed: "
canary "  no canary"

# ---- make taste with history folders named 'my spotify data/' and bob's_data ----
H=$ROOT/tests/data/history
for h in "$T/my spotify data/" "$T/bob's_data \$(touch $CAN)"; do
  mkdir -p "$h"
  cp "$H/basic/YourLibrary.json" "$h/"; cp "$H/basic/music_0.json.fixture" "$h/StreamingHistory_music_0.json"
  printf 'Paper Lanterns - The Invented Band\ntrk12\n' > "$h/cands \`x\`.txt"
  if run "$T/t.out" taste HISTORY="$h" CANDIDATES="$h/cands \`x\`.txt" TASTE_SONGS="$H/songs.csv" \
       TASTE_INPUTS=danceability,energy,valence,tempo,year TASTE_TEST=0.4 TASTE_EPOCHS=5; then
    like "make taste HISTORY='$h'" "$(cat "$T/t.out")" "matched 5 \(83\.3 %"
    like "  candidates" "$(cat "$T/t.out")" "Paper Lanterns - The Invented Band"
  else fail "make taste HISTORY='$h'" "$(tail -c 400 "$T/t.out")"; fi
done
for p in "${few[@]}"; do
  "${M[@]}" taste HISTORY="$p" TASTE_SONGS="$H/songs.csv" > /dev/null 2> "$T/t.err"; rc=$?
  [ "$rc" = 2 ] && grep -q "no such file or folder" "$T/t.err" || { fail "taste HISTORY=$p" "exit $rc: $(head -c 300 "$T/t.err")"; break; }
done
[ "$rc" = 2 ] && pass "taste HISTORY=<payloads>: no such folder, exit 2"
HISTORY="$P_ALL" "${M[@]}" taste TASTE_SONGS="$H/songs.csv" > /dev/null 2> "$T/t.err"; rc=$?
like "taste with HISTORY=<payloads> in the environment: no such folder" "$(cat "$T/t.err")" "songpipe: HISTORY="; is "  exit 2" "$rc" 2
canary "  no canary"

# ---- sound: files with hostile names ---------------------------------------
A="$T/audio \$HOME 'q'"
mkdir -p "$A/x"
# (a name holds no /: these canaries are made in the folder make runs in)
names=('x/`touch CANARY`.ogg' 'q"uote.ogg' 'dollar$HOME.ogg' $'new\nline.ogg' '-rf.ogg' "it's \$(touch CANARY).ogg")
for n in "${names[@]}"; do cp data/sounds/trumpet.ogg "$A/$n"; done
cp data/sounds/trumpet.ogg "$ROOT/$DASH"
if run "$T/s.out" sounds-like FILE="$A/${names[0]}" CNN_K=2; then
  like "sounds-like FILE='${names[0]}': trumpet first" "$(awk '$1 == "1"' "$T/s.out")" "trumpet$"
  for n in "${names[@]:1:3}"; do
    run "$T/s.out" sounds-like FILE="$A/$n" CNN_K=2
    like "sounds-like FILE='${n//$'\n'/\\n}'" "$(awk '$1 == "1"' "$T/s.out")" "trumpet$"
  done
  run "$T/s.out" sounds-like FILE="$DASH" CNN_K=1
  like "sounds-like FILE=$DASH (relative, a leading -)" "$(cat "$T/s.out")" "trumpet$"
  run "$T/s.out" add-song FILE="$A/dollar\$HOME.ogg"
  like "add-song FILE='dollar\$HOME.ogg': its own key" "$(cat "$T/s.out")" "add-song: 'dollar\\\$HOME' is in"
  ok "  its source is recorded as given" grep -qxF -- "$A/dollar\$HOME.ogg" "$T/cnn/added/dollar\$HOME.src"
else fail "sounds-like FILE='${names[0]}'" "$(tail -c 400 "$T/s.out")"; fi
for p in "${few[@]}"; do
  "${M[@]}" sounds-like FILE="$p" > /dev/null 2> "$T/s.err"; rc=$?
  [ "$rc" = 2 ] && grep -q "no such file" "$T/s.err" || { fail "sounds-like FILE=$p" "exit $rc: $(head -c 300 "$T/s.err")"; break; }
done
[ "$rc" = 2 ] && pass "sounds-like FILE=<payloads>: no such file, exit 2"
FILE="$P_ALL" "${M[@]}" add-song > /dev/null 2> "$T/s.err"; rc=$?
like "add-song with FILE=<payloads> in the environment: no such file" "$(cat "$T/s.err")" "no such file"; is "  exit 2" "$rc" 2
for v in CNN_SPECTRO_OPTS CNN_SLICE_OPTS; do
  run "$T/s.out" sounds-like FILE="$A/q\"uote.ogg" "$v=--fmax 8000 $P_SHELL"
  like "sounds-like $v=<payload>: the stage refuses the literal words" "$(cat "$T/s.out")" "(spectro|slice): "
done
canary "  no canary"

# spectro -0: a NUL-separated list keeps a name with a line end whole
is "spectro -0 reads a name with a line end" \
  "$(printf '%s\0' "$A/new"$'\n'"line.ogg" | spectro -q -0 | to-csv --tsv --no-header | cut -f1 | sort -u)" "new line"
printf '%s\n' "$A/new"$'\n'"line.ogg" | spectro -q > /dev/null 2> "$T/s.err"
like "  a line list cannot (the reason for -0)" "$(cat "$T/s.err")" "spectro: .*new"

# spectro-library over a folder of such names, unsharded and in 2 parts
run "$T/s.out" spectro-library AUDIO_DIR="$A" SLICE_OPTS='--tiles 0..1'
is "spectro-library AUDIO_DIR with hostile names: one track per file" \
  "$(to-csv --tsv --no-header "$O/sound/mel.ts" | cut -f1 | sort -u | wc -l)" "${#names[@]}"
cp "$O/sound/mel.ts" "$T/mel1.ts"; rm -rf "$O/sound"
run "$T/s.out" spectro-library AUDIO_DIR="$A" SLICE_OPTS='--tiles 0..1' SOUND_SHARDS=2
ok "  in 2 shards: the same bytes" cmp "$O/sound/mel.ts" "$T/mel1.ts"
run "$T/s.out" spectro-library AUDIO_DIR="$A" "AUDIO_EXT=ogg $P_SHELL" "SPECTRO_OPTS=--fmax 8000 $P_SHELL"
like "spectro-library SPECTRO_OPTS=<payload>: spectro refuses the literal words" "$(cat "$T/s.out")" "spectro: .*shell"
canary "  no canary"

# ---- playlists: an MPD folder with a hostile name ---------------------------
MP="$T/mpd \$HOME \`x\` 'q'"
mkdir -p "$MP"
cp tests/data/mpd/slices/slice.0-4.json.fixture "$MP/mpd.slice.0-4.json"
run "$T/p.out" continue MPD_DIR="$MP" PLAYLIST=1 CONTINUE_N=3
is "continue PLAYLIST=1 from MPD_DIR='$MP': 3 songs" "$(grep -cE '^ +[0-9]+\. .* Song - Fixture' "$T/p.out")" 3
for p in "${few[@]}"; do
  "${M[@]}" continue MPD_DIR="$MP" PLAYLIST="$p" > /dev/null 2> "$T/p.err"; rc=$?
  [ "$rc" = 2 ] && grep -q "mpd-recommend" "$T/p.err" || { fail "continue PLAYLIST=$p" "exit $rc: $(head -c 300 "$T/p.err")"; break; }
done
[ "$rc" = 2 ] && pass "continue PLAYLIST=<payloads>: mpd-recommend says no such song, exit 2"
run "$T/p.out" continue MPD_DIR="$T/none $P_SHELL" PLAYLIST=1
like "continue with an MPD_DIR that holds no slices: skipped, the name as given" "$(cat "$T/p.out")" "skipped: no MPD slices .* in $T/none \\\$\(shell"
canary "  no canary"
