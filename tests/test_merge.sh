# test_merge.sh - --shard I/N and merge: for knn (every metric, --self and
# --batch), csv-clean, normalize --stats, spectro, embed, pool and slice, the merged
# output of N = 1, 2, 3, 7 shards (N above the row count included) is byte
# for byte the unsharded output; merge refuses a missing shard, a shard
# given twice, shards of another input or other options, and non-shards.
. "$(dirname "$0")/lib.sh"
for s in merge knn csv-clean normalize; do
  [ -x "$BIN/$s" ] || { skip "merge" "no $BIN/$s yet"; exit 0; }
done
cd "$T"

# shards NAME N CMD...: runs CMD --shard i/N -o NAME.i.ts for every i, then
# merges into NAME.merged.ts
shards() {
  local name=$1 n=$2 i; shift 2
  rm -f "$name".*.ts
  for ((i = 0; i < n; i++)); do "$@" --shard "$i/$n" -o "$name.$i.ts" 2>/dev/null || return 1; done
  merge -o "$name.merged.ts" $(for ((i = 0; i < n; i++)); do echo "$name.$i.ts"; done)
}
# same NAME N UNSHARDED CMD...: merged shards == unsharded output
same() {
  local what=$1 n=$2 ref=$3; shift 3
  if shards part "$n" "$@" && cmp -s part.merged.ts "$ref"; then pass "$what, N=$n: merged = unsharded"
  else fail "$what, N=$n: merged != unsharded" "$(cmp part.merged.ts "$ref" 2>&1 | head -1)"; fi
}

# 700 rows of 8 columns on a coarse grid (many equal scores, so ties are
# broken by row as in the unsharded run), exact duplicate vectors, a
# duplicated key, an empty cell and a ragged row (csv-clean's drops)
awk 'BEGIN { srand(11); printf "id,name"; for (j = 0; j < 8; j++) printf ",f%d", j; print ""
  for (i = 0; i < 700; i++) { printf "k%04d,song %d", (i == 650 ? 3 : i), i % 300
    for (j = 0; j < 8; j++) { v = int(rand() * 5) / 4; if (i % 50 == 7) v = j / 8
      if (i == 100 && j == 2) printf ","; else printf ",%g", v }; print "" }
  print "bad,row,1,2" }' > d.csv
COLS=f0,f1,f2,f3,f4,f5,f6,f7
csv-clean --key id --cols $COLS -o d.ts d.csv 2>/dev/null
ok "fixture built" test -s d.ts

# ---- knn ----
for m in cosine euclidean dot mad; do
  knn --index d.ts --self --metric $m -k 7 -o u.ts
  for n in 1 2 3 7; do same "knn --self --metric $m" $n u.ts knn --index d.ts --self --metric $m -k 7; done
done
awk -F, 'NR == 1 || NR % 3 == 0' d.csv | sed 's/^k/q/' > q.csv
csv-clean --key id --cols $COLS -o q.ts q.csv 2>/dev/null
printf 'id\tname\n' > cat.tsv; awk -F, 'NR > 1 && NF == 10 { print $1 "\t" $2 }' d.csv >> cat.tsv
knn --index d.ts --catalog cat.tsv --batch q.ts --metric euclidean -k 5 -o u.ts 2>/dev/null
for n in 1 2; do same "knn --batch with catalogue" $n u.ts knn --index d.ts --catalog cat.tsv --batch q.ts --metric euclidean -k 5; done
head -4 d.csv > tiny.csv
csv-clean --key id --cols $COLS -o tiny.ts tiny.csv 2>/dev/null
knn --index tiny.ts --self -k 5 -o u.ts
same "knn, 3 rows" 7 u.ts knn --index tiny.ts --self -k 5
like "empty shards still carry the neighbours tensor" "$(inspect part.6.ts 2>&1)" "neighbors"

# ---- csv-clean ----
csv-clean --key id --cols $COLS -o u.ts d.csv 2>/dev/null
for n in 1 2 3 7; do same "csv-clean" $n u.ts csv-clean --key id --cols $COLS d.csv; done
S=$ROOT/tests/data/spotify-2023-dirty-slice.csv
A="--key track_name --cols streams,bpm,danceability_%,in_shazam_charts,year:released_year"
csv-clean $A -o u.ts "$S" 2>/dev/null
for n in 3 7 50; do same "csv-clean, dirty slice" $n u.ts csv-clean $A "$S"; done
is "summed counts in the merged meta" "$(inspect part.merged.ts | grep -c '"rows_in": 42')" 1

# ---- normalize --stats ----
normalize --method robust --fit-only --save st.json d.ts
cat d.ts tiny.ts > two.ts                      # a second tensor passes through
normalize --stats st.json -o u.ts two.ts 2>/dev/null
for n in 1 2 3 7; do same "normalize --stats" $n u.ts normalize --stats st.json two.ts; done

# ---- spectro ----
if [ -x "$BIN/spectro" ] && spectro --help | grep -q -- --shard; then
  ls "$ROOT"/tests/data/audio/*.ogg "$ROOT"/tests/data/audio/*.flac > list.txt
  spectro -q --n-mels 32 -o u.ts < list.txt
  for n in 1 2 3 7; do same "spectro (paths on stdin unsharded, as arguments sharded)" $n u.ts spectro -q --n-mels 32 $(cat list.txt); done
else
  skip "spectro" "spectro has no --shard yet"
fi

# ---- embed ----
if [ -x "$BIN/embed" ] && [ -x "$BIN/train-mlp" ] && embed --help | grep -q -- --shard; then
  train-mlp -q --inputs f0,f1,f2,f3,f4,f5 --targets f7 --layers 8,4,1 --epochs 2 -o m.model d.ts 2>/dev/null
  embed -m m.model --batch 64 -o u.ts d.ts
  for n in 1 2 3 7; do same "embed" $n u.ts embed -m m.model --batch 64 d.ts; done
else
  skip "embed" "embed has no --shard yet"
fi

# ---- pool: groups by a stable hash of the group key ----
if [ -x "$BIN/pool" ] && pool --help | grep -q -- --shard; then
  printf 'id\tname\n' > pcat.tsv; awk -F, 'NR > 1 && NF == 10 { print $1 "\tsong " ($2 ~ /song 1[0-9]$/ ? 7 : substr($2, 6) % 40) }' d.csv >> pcat.tsv
  for a in "--by name --catalog pcat.tsv" "--by name --catalog pcat.tsv --op meanmax --min-rows 20" ""; do
    pool $a -o u.ts d.ts 2>/dev/null
    for n in 1 2 3 7; do same "pool ${a:-by key}" $n u.ts pool $a d.ts; done
  done
  printf 'id\tblock\n' > scat.tsv; awk -F, 'NR > 1 && NF == 10 { print $1 "\tb" int(NR / 7) }' d.csv >> scat.tsv
  pool --sorted --by block --catalog scat.tsv -o u.ts d.ts 2>/dev/null     # contiguous groups of 7 rows
  for n in 1 3 7; do same "pool --sorted" $n u.ts pool --sorted --by block --catalog scat.tsv d.ts; done
  is "pool shards partition the groups" "$(for i in 0 1 2; do pool --by name --catalog pcat.tsv --shard $i/3 d.ts 2>/dev/null | to-csv --no-header | wc -l; done | awk '{ s += $1 } END { print s }')" \
    "$(pool --by name --catalog pcat.tsv d.ts 2>/dev/null | to-csv --no-header | wc -l)"
  fails "pool --shard on stdin" 2 "named input" pool --shard 0/2 - < d.ts
else
  skip "pool" "pool has no --shard yet"
fi

# ---- slice: tracks by a stable hash of the track key ----
if [ -x "$BIN/slice" ] && [ -x "$BIN/spectro" ] && slice --help | grep -q -- --shard; then
  A=$ROOT/tests/data/audio
  spectro -q --n-mels 16 "$A/trumpet.ogg" "$A/robin.ogg" "$A/brahms_4s.flac" "$A/machine_wars_4s.flac" -o fr.ts
  for a in "--width 32" "--width 40 --hop 16 --last drop --key-format track" "--width 64 --tiles 1..2"; do
    slice $a -o u.ts fr.ts
    for n in 1 2 3 7; do same "slice $a" $n u.ts slice $a fr.ts; done
  done
  fails "slice --shard on stdin" 2 "named input" slice --shard 0/2 - < fr.ts
else
  skip "slice" "slice or spectro missing, or slice has no --shard yet"
fi

# ---- refusals ----
for i in 0 1 2; do knn --index d.ts --self -k 3 --shard $i/3 -o s$i.ts; done
fails "missing shard" 1 "1 of 3 shards missing \(shard 1 of 0\.\.2\)" merge -o x.ts s0.ts s2.ts
fails "shard given twice" 1 "shard 0 of 3 given twice: s0.ts and s0.ts" merge -o x.ts s0.ts s0.ts s1.ts
knn --index d.ts --self -k 3 --shard 1/2 -o t1.ts
fails "shards of another count" 1 "mixed shard sets: .*shard 1 of 2" merge -o x.ts s0.ts t1.ts s2.ts
knn --index d.ts --self -k 3 --metric dot --shard 1/3 -o t1.ts
fails "shards of other options" 1 "differ in their meta.metric" merge -o x.ts s0.ts t1.ts s2.ts
cp d.ts d2.ts; normalize --stats st.json -o d.ts d2.ts 2>/dev/null   # the index changes
knn --index d.ts --self -k 3 --shard 1/3 -o t1.ts
fails "stale shard: mixed inputs" 1 "mixed inputs: s0.ts \(shard 0\) was made from d.ts \([0-9]+ bytes, crc32c [0-9a-f]{8}, fnv1a64 [0-9a-f]{16}\), but t1.ts \(shard 1\) from d.ts" \
  merge -o x.ts s0.ts t1.ts s2.ts
is "no output after a refusal" "$(ls x.ts* 2>/dev/null)" ""
fails "not a shard output" 1 "u.ts: tensor .* has no meta.shard" merge u.ts
fails "truncated shard" 1 "truncated|ends" bash -c "head -c 300 s1.ts > s1t.ts; merge -o x.ts s0.ts s1t.ts s2.ts"
fails "bad --shard" 2 "expected I/N" knn --index d.ts --self --shard 3 -o x.ts
fails "--shard id out of range" 2 "numbered 0 to 2" knn --index d.ts --self --shard 3/3 -o x.ts
fails "--shard on stdin" 2 "named input" csv-clean --cols $COLS --shard 0/2 - < d.csv
fails "knn --shard needs the tensor output" 2 "drop --text/--tsv" knn --index d.ts --self --shard 0/2 --tsv
fails "normalize --shard needs --stats" 2 "applies saved statistics" normalize --shard 0/2 d.ts
fails "merge without files" 2 "no shard files" merge
