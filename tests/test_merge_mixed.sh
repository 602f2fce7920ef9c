# test_merge_mixed.sh - merge refuses parts of one input made with different
# options, naming both parts and the option: each stage records in
# meta.shard.options what changes its rows without showing in its header
# (knn --max-per-artist, --title-col, --artist-col, --self; pool --op,
# --min-rows; embed --batch), and merge names the first
# differing member of the metadata, nested ones included.  The same options
# in every part still merge into the unsharded bytes.
. "$(dirname "$0")/lib.sh"
for s in merge knn csv-clean pool normalize; do [ -x "$BIN/$s" ] || { skip "merge_mixed" "no $BIN/$s yet"; exit 0; }; done
cd "$T"
awk 'BEGIN { srand(5); printf "id,name"; for (j = 0; j < 6; j++) printf ",f%d", j; print ""
  for (i = 0; i < 300; i++) { printf "k%03d,song %d", i, i % 40
    for (j = 0; j < 6; j++) printf ",%g", int(rand() * 5) / 4; print "" } }' > d.csv
csv-clean --key id --cols f0,f1,f2,f3,f4,f5 -o d.ts d.csv 2>/dev/null
printf 'id\tname\tartist\n' > cat.tsv; awk -F, 'NR > 1 { print $1 "\t" $2 "\ta" (NR % 3) }' d.csv >> cat.tsv
RE="were they made with other options\? re-run every shard with the same command"

# knn --shard: --max-per-artist 1 in part 0, none in part 1 (the issue's case)
K="knn --index d.ts --catalog cat.tsv --self -k 5"
$K --max-per-artist 1 --shard 0/2 -o m0.ts; $K --shard 1/2 -o m1.ts
fails "knn parts of another --max-per-artist" 1 \
  "mixed shard outputs: m0.ts and m1.ts differ in their meta.shard.options.max_per_artist \(1 in m0.ts, 0 in m1.ts\); $RE" merge -o x.ts m0.ts m1.ts
is "no output after the refusal" "$(ls x.ts* 2>/dev/null)" ""
$K --max-per-artist 1 -o u.ts; $K --max-per-artist 1 --shard 1/2 -o m1.ts
ok "the same --max-per-artist merges" merge -o x.ts m0.ts m1.ts
ok "... into the unsharded bytes" cmp x.ts u.ts
$K --max-per-artist 1 --title-col artist --shard 1/2 -o t1.ts
fails "knn parts of another --title-col" 1 "differ in their meta.shard.options.title_col \(\"\" in m0.ts, \"artist\" in t1.ts\)" merge m0.ts t1.ts
$K --max-per-artist 1 --artist-col name --shard 1/2 -o t1.ts
fails "knn parts of another --artist-col" 1 "differ in their meta.shard.options.artist_col" merge m0.ts t1.ts
# knn --index-shard, one --candidates for both: only --max-per-artist differs
$K --candidates 40 --max-per-artist 2 --index-shard 0/2 -o i0.ts; $K --candidates 40 --index-shard 1/2 -o i1.ts
fails "knn --index-shard parts of another --max-per-artist" 1 \
  "i0.ts and i1.ts differ in their meta.shard.max_per_artist \(2 in i0.ts, 0 in i1.ts\)" merge i0.ts i1.ts

# two indexes whose streams differ in content but not in any record's length
# (the same CSV under two names of one length: only the header's source name
# differs): every record ends with its own CRC, so their whole-file CRC-32C
# is the same; the FNV-1a hash of the identity tells them apart
cp d.csv e.csv; csv-clean --key id --cols f0,f1,f2,f3,f4,f5 -o e.ts e.csv 2>/dev/null
is "two streams of the same size" "$(stat -c %s e.ts)" "$(stat -c %s d.ts)"
is "  and different bytes" "$(cmp -s d.ts e.ts; echo $?)" 1
# part 0 from d.ts, then d.ts replaced by the other stream and part 1 made
knn --index d.ts --catalog cat.tsv --self -k 5 --shard 0/2 -o n0.ts
cp d.ts d.keep; cp e.ts d.ts
knn --index d.ts --catalog cat.tsv --self -k 5 --shard 1/2 -o n1.ts
cp d.keep d.ts; rm -f x.ts
fails "knn parts of two indexes with one whole-file CRC: mixed inputs" 1 "mixed inputs: n0.ts .*fnv1a64" merge -o x.ts n0.ts n1.ts
is "  no output after the refusal" "$(ls x.ts* 2>/dev/null)" ""

# pool: mean and max have the same columns, --min-rows shows nowhere else
P="pool --by name --catalog cat.tsv"
$P --shard 0/2 -o p0.ts d.ts 2>/dev/null; $P --op max --shard 1/2 -o p1.ts d.ts 2>/dev/null
fails "pool parts of another --op" 1 "p0.ts and p1.ts differ in their meta.shard.options.op \(\"mean\" in p0.ts, \"max\" in p1.ts\)" merge p0.ts p1.ts
$P --min-rows 9 --shard 1/2 -o p1.ts d.ts 2>/dev/null
fails "pool parts of another --min-rows" 1 "differ in their meta.shard.options.min_rows \(1 in p0.ts, 9 in p1.ts\)" merge p0.ts p1.ts
$P -o u.ts d.ts 2>/dev/null; $P --shard 1/2 -o p1.ts d.ts 2>/dev/null
ok "pool, same options: merged = unsharded" bash -c "merge p0.ts p1.ts | cmp - u.ts"

# embed: --batch decides which rows a shard owns
if [ -x "$BIN/embed" ] && [ -x "$BIN/train-mlp" ]; then
  train-mlp -q --inputs f0,f1,f2,f3 --targets f5 --layers 6,3,1 --epochs 1 -o m.model d.ts 2>/dev/null
  embed -m m.model --batch 64 --shard 0/2 -o e0.ts d.ts; embed -m m.model --batch 50 --shard 1/2 -o e1.ts d.ts
  fails "embed parts of another --batch" 1 "e0.ts and e1.ts differ in their meta.shard.options.batch \(64 in e0.ts, 50 in e1.ts\)" merge e0.ts e1.ts
else
  skip "embed" "no embed or train-mlp"
fi

# nested metadata: normalize statistics with another --exclude
normalize --method zscore --fit-only --save st.json d.ts 2>/dev/null
normalize --stats st.json --shard 0/2 -o n0.ts d.ts; normalize --stats st.json --exclude f1 --shard 1/2 -o n1.ts d.ts
fails "normalize parts: the differing column named" 1 \
  "n0.ts and n1.ts differ in their meta.normalize.columns\[1\].method \(\"zscore\" in n0.ts, \"none\" in n1.ts\)" merge n0.ts n1.ts
