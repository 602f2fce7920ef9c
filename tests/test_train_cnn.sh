# test_train_cnn.sh - train-cnn on tiles of the shipped library (data/sounds):
# self-supervised and labelled runs, reproducibility, history, the split by
# track, embed on CNN models (embedding, logits, probabilities, track keys),
# pooling to songs, append, and the error paths.
. "$(dirname "$0")/lib.sh"
for s in spectro slice train-cnn embed pool to-csv inspect append; do
  [ -x "$BIN/$s" ] || { skip "train-cnn" "no $BIN/$s yet"; exit 0; }
done
cd "$T"
# ten of the shipped clips: all but eight of the Drascula ones
ls "$ROOT"/data/sounds/*.ogg | grep -vE '/drascula-track(1[0-9]|[679])\.ogg$' > files.list
spectro -q --fmax 8000 < files.list > mel.ts
slice --tiles 0..3 mel.ts > tiles.ts           # 4 tiles per song (trumpet: 2), 38 in all
ntiles=$(to-csv tiles.ts | tail -n +2 | wc -l)
is "tiles of the library" "$ntiles" 38
SMALL="--widths 4,4,8 --embed 6 --epochs 3 --batch 8 --threads 1"

ok "self-supervised training" train-cnn -q $SMALL --history h.ts -o a.model tiles.ts
ok "same seed, same model bytes" train-cnn -q $SMALL -o b.model tiles.ts
ok "  (identical)" cmp a.model b.model
train-cnn -q $SMALL --seed 2 -o c.model tiles.ts
# each batch split over threads: same bytes run after run, and the losses of
# the one-thread run up to rounding (batch-norm statistics are the batch's)
ok "two threads" train-cnn -q $SMALL --threads 2 --history h2.ts -o t2.model tiles.ts
ok "two threads again" train-cnn -q $SMALL --threads 2 -o t2b.model tiles.ts
ok "  (identical)" cmp t2.model t2b.model
ok "three threads, batch of 8 in 3, 3, 2" train-cnn -q $SMALL --threads 3 --history h3.ts -o t3.model tiles.ts
l1=$(to-csv h.ts | awk -F, 'NR == 2 { print $3 }')
for t in 2 3; do
  lt=$(to-csv h$t.ts | awk -F, 'NR == 2 { print $3 }')
  ok "  epoch-1 loss with $t threads ($lt) = one thread's ($l1)" awk -v a="$l1" -v b="$lt" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }'
done
if cmp -s a.model c.model; then fail "another seed, another model"; else pass "another seed, another model"; fi
is "history has one row per epoch" "$(to-csv h.ts | tail -n +2 | wc -l)" 3
like "history columns" "$(to-csv h.ts | head -1)" "^epoch,epoch,train_loss,val_loss,metric,seconds,train_accuracy$"
meta=$(inspect a.model 2>&1)
like "model meta: self-supervised, 10 classes = tracks" "$meta" '"classes":[[:space:]]*10'
like "model meta: class names are the tracks" "$meta" '"asc-frontiers"'
like "model meta: train/val tiles (last tiles of each track held out)" "$meta" '"val_tiles":[[:space:]]*10'
like "model meta: early stopping follows validation accuracy by default" "$meta" '"monitor":[[:space:]]*"accuracy"'
# --min-epochs N: no epoch before the N-th is kept (the N-th is the first
# judged, so with N = --epochs it is the one kept, whatever the scores)
best_epoch() { inspect "$1" 2>&1 | sed -n 's/.*"best_epoch":[[:space:]]*\([0-9]*\).*/\1/p' | head -1; }
like "model meta: --min-epochs default 8, at most --epochs (3)" "$meta" '"min_epochs":[[:space:]]*3'
like "model meta: --smooth default 3" "$meta" '"smooth":[[:space:]]*3'
ok "--min-epochs 4 of 4" train-cnn -q $SMALL --epochs 4 --min-epochs 4 --smooth 1 --history me.ts -o me.model tiles.ts
is "  keeps epoch 4" "$(best_epoch me.model)" 4
ok "--min-epochs 1 --smooth 1 (the old rule)" train-cnn -q $SMALL --epochs 4 --min-epochs 1 --smooth 1 -o me1.model tiles.ts
# (same seed: the same epochs as the run above; ties in accuracy go to the lower loss)
want=$(to-csv me.ts | awk -F, 'NR > 1 && (NR == 2 || $5 > a || ($5 == a && $4 < l)) { a = $5; l = $4; e = $2 } END { print e }')
is "  keeps the epoch of the best validation accuracy ($want)" "$(best_epoch me1.model)" "$want"

# labelled: two classes by track name; validation holds whole tracks
{ printf 'track\tkind\n'; for f in $(cat files.list); do s=$(basename "$f" .ogg);
  case $s in asc-*|vibeace|fishin) k=game;; *) k=other;; esac; printf '%s\t%s\n' "$s" "$k"; done; } > labels.tsv
ok "labelled training" train-cnn -q $SMALL --labels labels.tsv --val 0.3 -o l.model tiles.ts
lm=$(inspect l.model 2>&1)
like "labelled: 2 classes" "$lm" '"classes":[[:space:]]*2'
# 3 of 10 tracks held out, 4 tiles each
like "labelled: 12 validation tiles = 3 whole tracks" "$lm" '"val_tiles":[[:space:]]*12'
ok "label column by name" train-cnn -q $SMALL --labels labels.tsv --val 0.3 --label-column kind -o l2.model tiles.ts
ok "  (same model as the default column)" cmp l.model l2.model

# embed: the embedding per tile, logits, probabilities, track keys
is "embed: one row per tile" "$(embed -m a.model tiles.ts | to-csv | tail -n +2 | wc -l)" 38
is "embed: 6 columns" "$(embed -m a.model tiles.ts | to-csv | head -1)" "track#tile,embed.0,embed.1,embed.2,embed.3,embed.4,embed.5"
is "embed --layer output: 10 logits" "$(embed -m a.model --layer output tiles.ts | to-csv | head -1 | awk -F, '{print NF-1}')" 10
sums=$(embed -m l.model --predict tiles.ts | to-csv | tail -n +2 | awk -F, '{ s = $2 + $3; if (s < 0.9999 || s > 1.0001) bad++ } END { print bad + 0 }')
is "embed --predict: probabilities sum to 1" "$sums" 0
like "embed --predict: columns are class names" "$(embed -m l.model --predict tiles.ts | to-csv | head -1)" "^track#tile,(game,other|other,game)$"
b1=$(embed -m a.model --batch 1 tiles.ts | to-csv | sed -n 5p | cut -d, -f2)
b64=$(embed -m a.model tiles.ts | to-csv | sed -n 5p | cut -d, -f2)
near "embed: batch size does not change a tile's embedding" "$b1" "$b64" 1e-4
embed -m a.model --track-keys tiles.ts | pool > songs.ts 2>/dev/null
is "embed --track-keys | pool: one row per song" "$(to-csv songs.ts | tail -n +2 | wc -l)" 10
like "  keyed by track" "$(to-csv songs.ts | cut -d, -f1 | sort | tr '\n' ' ')" "asc-frontiers asc-machine_wars"

# append: a new song's row joins the index
slice --tiles 4..5 mel.ts | embed -m a.model --track-keys | pool > more.ts 2>/dev/null
fails "append: a key already in the table" 1 "already in" append -o x.ts songs.ts more.ts
ok "append --replace" append --replace -o x.ts songs.ts more.ts
is "  still one row per song" "$(to-csv x.ts | tail -n +2 | wc -l)" 10

# errors
fails "missing label" 1 "not in the label file" train-cnn -q $SMALL --labels <(head -5 labels.tsv) -o e.model tiles.ts
ok "--skip-unlabelled" train-cnn -q $SMALL --labels <(head -5 labels.tsv) --skip-unlabelled -o e.model tiles.ts
fails "one class only" 1 "at least 2" train-cnn -q $SMALL --labels <(printf 'track\tk\nvibeace\tx\n') -o e.model tiles.ts
fails "bad --widths" 2 "widths" train-cnn --widths 4,x -o e.model tiles.ts
fails "-o required" 2 "-o MODEL" train-cnn tiles.ts
fails "frames, not tiles" 1 "tiles of shape" train-cnn -q -o e.model mel.ts
fails "too many stages for the tile" 1 "too small" train-cnn -q --widths 2,2,2,2,2,2,2,2 -o e.model tiles.ts
slice --width 64 --tiles 0..1 mel.ts > t64.ts
fails "embed: tiles of another shape" 1 "as the model was trained on" embed -m a.model t64.ts
fails "embed: --shard is not for CNN models" 2 "train-mlp models" embed -m a.model --shard 0/2 tiles.ts
compgen -G "e.model.tmp*" >/dev/null && fail "no .tmp left behind" || pass "no .tmp left behind"

# ---- make sounds-like / add-song on the shipped library and model ----
# (the committed data/sound.model; the index is built in a scratch CNN_DIR;
# LIBRARY_DIR names no library, so sounds-like searches this index)
M="make --no-print-directory -s -C $ROOT OUT=${OUT:-build} SAN=${SAN:-0} CNN_DIR=$T/cnn LIBRARY_DIR=$T/no-library"
idx_sum() { sha256sum < "$T/cnn/index.ts"; }
top1() { awk '$1 == "1" { print $NF }' "$T/.out"; }
if $M sounds-like FILE="$ROOT/data/sounds/vibeace.ogg" > "$T/.out" 2> "$T/make.err"; then
  pass "make sounds-like"
  is "sounds-like: 5 songs" "$(awk '$1 ~ /^[0-9]+$/' "$T/.out" | wc -l)" 5
  # knn leaves out the query's own key: a library song is not its own match
  is "  not the query itself" "$(awk '$1 ~ /^[0-9]+$/ && $NF == "vibeace"' "$T/.out")" ""
  is "sounds-like: the index holds the library's 18 songs" "$(to-csv --no-header "$T/cnn/index.ts" | wc -l)" 18
  before=$(idx_sum)
  cp "$ROOT/data/sounds/vibeace.ogg" "$T/my song, 2.ogg"
  $M sounds-like FILE="$T/my song, 2.ogg" > "$T/.out" 2>&1
  is "sounds-like: a copy of a library song finds it first" "$(top1)" vibeace
  like "  with cosine ~1" "$(awk '$1 == "1" { print $2 }' "$T/.out")" "^(0\.99[0-9]*|1\.0*)$"
  is "sounds-like does not change the index" "$(idx_sum)" "$before"
  is "  nor add the song" "$(ls "$T/cnn/added" | wc -l)" 0
  ok "make add-song (a key with a comma and a space)" $M add-song FILE="$T/my song, 2.ogg"
  like "  reports the key" "$(cat "$T/.out")" "add-song: 'my song, 2' is in .* \(19 songs\)"
  is "  the index has the new row" "$(to-csv --tsv --no-header "$T/cnn/index.ts" | cut -f1 | grep -c '^my song, 2$')" 1
  ok "  its vector and its source are kept" test -s "$T/cnn/added/my song, 2.ts" -a -s "$T/cnn/added/my song, 2.src"
  $M add-song FILE="$T/my song, 2.ogg" > /dev/null 2>&1
  is "add-song again: replaced, not duplicated" "$(to-csv --no-header "$T/cnn/index.ts" | wc -l)" 19
  $M sounds-like FILE="$ROOT/data/sounds/vibeace.ogg" > "$T/.out" 2>&1
  like "sounds-like finds the added song" "$(awk '$1 == "1" || $1 == "2"' "$T/.out")" "my song, 2"
  before=$(idx_sum)
  printf 'not audio\n' > "$T/bad.mp3"
  fails "add-song: undecodable file" 2 "spectro: .*bad.mp3: cannot decode" $M add-song FILE="$T/bad.mp3"
  is "  index unchanged" "$(idx_sum)" "$before"
  fails "add-song: missing file" 2 "no such file" $M add-song FILE="$T/none.ogg"
  # two adds at once: the second waits for the library lock; each reports its own song
  cp "$ROOT/data/sounds/brahms.ogg" "$T/one.ogg"; cp "$ROOT/data/sounds/fishin.ogg" "$T/two.ogg"
  n0=$(to-csv --no-header "$T/cnn/index.ts" | wc -l)
  $M add-song FILE="$T/one.ogg" > "$T/a1.out" 2>&1 & p1=$!
  $M add-song FILE="$T/two.ogg" > "$T/a2.out" 2>&1 & p2=$!
  wait $p1; r1=$?; wait $p2; r2=$?
  is "two add-songs at once: both succeed" "$r1 $r2" "0 0"
  like "  the first reports its own song" "$(cat "$T/a1.out")" "^add-song: 'one' is in"
  like "  the second reports its own song" "$(cat "$T/a2.out")" "^add-song: 'two' is in"
  is "  the index has both" "$(to-csv --tsv --no-header "$T/cnn/index.ts" | cut -f1 | grep -cxE 'one|two')" 2
  is "  and the songs it had" "$(to-csv --no-header "$T/cnn/index.ts" | wc -l)" $((n0 + 2))
  is "  no temporary file left" "$(find "$T/cnn" -name 'tmp.*' -o -name '*.new' -o -name '*.tmp' -o -name 'index.ts.*' | wc -l)" 0
  # a key is unique: another folder's file with a taken name is refused, naming both
  before=$(idx_sum)
  mkdir -p "$T/other"; cp "$ROOT/data/sounds/trumpet.ogg" "$T/other/one.ogg"; cp "$ROOT/data/sounds/trumpet.ogg" "$T/other/brahms.ogg"
  fails "add-song: another file with an added song's name" 2 "add-song: 'one' is already in the library from $T/one.ogg; $T/other/one.ogg has the same name" \
    $M add-song FILE="$T/other/one.ogg"
  fails "add-song: another file with a library song's name" 2 "add-song: 'brahms' is already in the library from $ROOT/data/sounds/brahms.ogg; $T/other/brahms.ogg" \
    $M add-song FILE="$T/other/brahms.ogg"
  is "  the index is unchanged" "$(idx_sum)" "$before"
  is "  the first one's source is kept" "$(cat "$T/cnn/added/one.src")" "$T/one.ogg"
  fails "sounds-like: no FILE" 2 "usage: make sounds-like FILE=" $M sounds-like
  # a folder: one answer per audio file in it, keyed by its path; add-song
  # takes one file and says what to do with a folder
  mkdir -p "$T/q dir/sub" "$T/empty dir"; cp "$ROOT/data/sounds/vibeace.ogg" "$T/q dir/a.ogg"; cp "$ROOT/data/sounds/brahms.ogg" "$T/q dir/sub/b.ogg"
  $M sounds-like FILE="$T/q dir" CNN_K=2 > "$T/.out" 2>&1
  is "sounds-like FILE=<a folder>: one answer per file" "$(grep -c '^Songs like' "$T/.out")" 2
  is "  each file's copy first" "$(awk '$1 == "1" { print $NF }' "$T/.out" | LC_ALL=C sort | tr '\n' ' ')" "brahms vibeace "
  fails "sounds-like FILE=<a folder with no audio>" 2 "sounds-like: FILE=.*empty dir: no audio file" $M sounds-like FILE="$T/empty dir"
  fails "add-song FILE=<a folder>: refused, pointing at make library" 2 "add-song: .*q dir is a folder: .*make library MUSIC=" $M add-song FILE="$T/q dir"
  is "  the index is unchanged" "$(idx_sum)" "$before"
  # a newer model: added songs are recomputed from their audio, not mixed in
  cp "$ROOT/data/sound.model" "$T/m.model"; cp "$ROOT/data/sound.model.inputs" "$T/m.model.inputs"
  touch -d '-1 hour' "$T/cnn/added/my song, 2.ts"
  ok "sound-library after a new model" $M sound-library CNN_MODEL="$T/m.model"
  like "  recomputes the added song" "$(cat "$T/.err")" "recomputing .*my song, 2.ts"
  is "  still 21 songs (19, one and two)" "$(to-csv --no-header "$T/cnn/index.ts" | wc -l)" 21
  # odd formats from the shared data, when present: 5.1 FLAC, 8-bit WAV, MP3
  F="$SHARED/audio/formats"
  if [ -d "$F" ]; then
    for f in vibeace_5s_44k1_5.1.flac vibeace_10s_44k1_stereo_128k.mp3; do
      $M sounds-like FILE="$F/$f" CNN_MODEL="$T/m.model" > "$T/.out" 2>&1
      # vibeace and 'my song, 2' (its copy) tie
      like "sounds-like $f: nearest is vibeace" "$(awk '$1 == "1"' "$T/.out")" "(vibeace|my song, 2)$"
    done
    ok "add-song 8-bit WAV" $M add-song FILE="$F/trumpet_5s_22k05_mono_u8.wav" CNN_MODEL="$T/m.model"
    is "  22 songs" "$(to-csv --no-header "$T/cnn/index.ts" | wc -l)" 22
  else
    skip "sounds-like odd formats" "no $F"
  fi
else
  fail "make sounds-like" "$(tail -5 "$T/make.err")"
fi
