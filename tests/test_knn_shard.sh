# test_knn_shard.sh - knn --index-shard I/N and merge's "topk" combine: each
# part searches every query against a contiguous range of the index rows;
# merge picks each query's results from the parts' candidate lists with
# knn's filters (the query's song, one row per song, --max-per-artist) and
# must give byte for byte the unsharded output: all four metrics, N = 1, 2,
# 3, 7 (N above the row count included), --self and --batch, the GEMM path
# (d > 64), the large-k path (k > 100).  merge refuses missing, duplicate
# and mixed parts and a query that needs more candidates than were kept.
. "$(dirname "$0")/lib.sh"
for s in merge knn csv-clean; do
  [ -x "$BIN/$s" ] || { skip "knn_shard" "no $BIN/$s yet"; exit 0; }
done
cd "$T"

# parts NAME N CMD...: CMD --index-shard i/N -o NAME.i.ts for every i, then
# merge into NAME.merged.ts
parts() {
  local name=$1 n=$2 i; shift 2
  rm -f "$name".*.ts
  for ((i = 0; i < n; i++)); do "$@" --index-shard "$i/$n" -o "$name.$i.ts" 2>/dev/null || return 1; done
  merge -o "$name.merged.ts" $(for ((i = n - 1; i >= 0; i--)); do echo "$name.$i.ts"; done)
}
# same WHAT N UNSHARDED CMD...: merged parts == unsharded output
same() {
  local what=$1 n=$2 ref=$3; shift 3
  if parts part "$n" "$@" 2>"$T/.merr" && cmp -s part.merged.ts "$ref"; then pass "$what, N=$n: merged = unsharded"
  else fail "$what, N=$n: merged != unsharded" "$(head -c 300 "$T/.merr") $(cmp part.merged.ts "$ref" 2>&1 | head -1)"; fi
}

# 700 rows of 8 columns on a coarse grid (many equal scores: ties go to
# the lower row), exact duplicate vectors, a duplicated key (csv-clean drops
# it); the catalogue repeats every title and artist three times (rows i,
# i+300, i+600: one song under three ids) over 7 artists
awk 'BEGIN { srand(11); printf "id,name"; for (j = 0; j < 8; j++) printf ",f%d", j; print ""
  for (i = 0; i < 700; i++) { printf "k%04d,song %d", (i == 650 ? 3 : i), i % 300
    for (j = 0; j < 8; j++) { v = int(rand() * 5) / 4; if (i % 50 == 7) v = j / 8; printf ",%g", v }; print "" } }' > d.csv
COLS=f0,f1,f2,f3,f4,f5,f6,f7
csv-clean --key id --cols $COLS -o d.ts d.csv 2>/dev/null
printf 'id\tname\tartist\n' > cat.tsv
awk -F, 'NR > 1 { n = substr($2, 6) + 0; print $1 "\tsong " n "\tartist " n % 7 }' d.csv >> cat.tsv
awk -F, 'NR == 1 || NR % 3 == 0' d.csv | sed 's/^k/q/; s/^q0009,/k0009,/' > q.csv   # one query is an index song
csv-clean --key id --cols $COLS -o q.ts q.csv 2>/dev/null
ok "fixtures built" test -s d.ts -a -s q.ts

for m in cosine euclidean dot mad; do
  knn --index d.ts --self --metric $m -k 7 -o u.ts
  for n in 1 2 3 7; do same "--self --metric $m" $n u.ts knn --index d.ts --self --metric $m -k 7; done
  knn --index d.ts --catalog cat.tsv --batch q.ts --metric $m -k 5 -o u.ts 2>/dev/null
  for n in 1 2 3 7; do same "--batch with catalogue (songs under 3 ids) --metric $m" $n u.ts \
    knn --index d.ts --catalog cat.tsv --batch q.ts --metric $m -k 5; done
done

# --max-per-artist: 7 artists, so a cap of 1 takes one song per artist and
# the results reach far down the candidate lists
for m in cosine mad; do
  knn --index d.ts --catalog cat.tsv --self --max-per-artist 2 --metric $m -k 6 -o u.ts 2>/dev/null
  for n in 1 3 7; do same "--self --max-per-artist 2 --metric $m" $n u.ts \
    knn --index d.ts --catalog cat.tsv --self --max-per-artist 2 --metric $m -k 6; done
done
knn --index d.ts --catalog cat.tsv --self --max-per-artist 1 -k 7 -o u.ts 2>/dev/null
same "--max-per-artist 1 (every artist once), --candidates 400" 3 u.ts \
  knn --index d.ts --catalog cat.tsv --self --max-per-artist 1 -k 7 --candidates 400
# the batch file naming the index itself is an all-pairs search
knn --index d.ts --catalog cat.tsv --batch d.ts -k 4 -o u.ts 2>/dev/null
same "--batch INDEX (all pairs)" 3 u.ts knn --index d.ts --catalog cat.tsv --batch d.ts -k 4

# d = 80: the BLAS path (the fused kernel takes d <= 64), whose values
# depend on the SGEMM's shapes: parts start on the 2048-row index blocks,
# and a starving query is searched again within its query block; 4500 rows
# = 3 index blocks.  With 5 artists and --max-per-artist 1, most queries
# need more candidates than the first search fetched
awk 'BEGIN { srand(5); printf "id"; for (j = 0; j < 80; j++) printf ",w%d", j; print ""
  for (i = 0; i < 4500; i++) { printf "r%05d", i; for (j = 0; j < 80; j++) printf ",%.3f", rand() - 0.5; print "" } }' > w.csv
csv-clean --key id --cols "$(seq -s, -f 'w%g' 0 79)" -o w.ts w.csv 2>/dev/null
printf 'id\ttitle\tartist\n' > wcat.tsv
awk -F, 'NR > 1 { print $1 "\tt" NR % 1500 "\ta" NR % 5 }' w.csv >> wcat.tsv
for m in cosine euclidean dot; do
  knn --index w.ts --self --metric $m -k 5 -o u.ts
  for n in 2 3 7; do same "d=80 (BLAS), 4500 rows --metric $m" $n u.ts knn --index w.ts --self --metric $m -k 5; done
done
knn --index w.ts --catalog wcat.tsv --self --max-per-artist 1 -k 5 -o u.ts 2>/dev/null
for n in 1 3; do same "d=80 (BLAS), --max-per-artist 1 of 5 artists, --candidates 300" $n u.ts \
  knn --index w.ts --catalog wcat.tsv --self --max-per-artist 1 -k 5 --candidates 300; done
knn --index d.ts --self --metric euclidean -k 120 -o u.ts
same "k=120 (reservoir)" 3 u.ts knn --index d.ts --self --metric euclidean -k 120
head -4 d.csv > tiny.csv
csv-clean --key id --cols $COLS -o tiny.ts tiny.csv 2>/dev/null
knn --index tiny.ts --self -k 5 -o u.ts
same "3 rows, k=5" 7 u.ts knn --index tiny.ts --self -k 5

# a part's memory: only its rows of vectors (its index size in --timing);
# d = 80 cuts on 2048-row blocks: part 2 of 3 = rows 4096..4499
like "a part holds only its rows" "$(knn --index w.ts --self -k 3 --index-shard 2/3 --timing -o y.ts 2>&1)" "404 of 4500 index rows"

# ---- refusals ----
for i in 0 1 2; do knn --index d.ts --catalog cat.tsv --self -k 7 --max-per-artist 1 --candidates 10 --index-shard $i/3 -o s$i.ts 2>/dev/null; done
fails "too few candidates kept" 1 "query 'k[0-9]+' \(query [0-9]+\): its 7 results need more than the 10 candidates s[0-2].ts kept.*--candidates 20" \
  merge -o x.ts s0.ts s1.ts s2.ts
is "no output after a refusal" "$(ls x.ts* 2>/dev/null)" ""
for i in 0 1 2; do knn --index d.ts --self -k 3 --index-shard $i/3 -o s$i.ts; done
fails "missing part" 1 "1 of 3 shards missing \(shard 1 of 0\.\.2\)" merge -o x.ts s0.ts s2.ts
fails "part given twice" 1 "shard 0 of 3 given twice" merge -o x.ts s0.ts s0.ts s1.ts
knn --index d.ts --self -k 3 --shard 1/3 -o t1.ts
fails "index parts mixed with query shards" 1 "mixed shard kinds: s0.ts combines as 'topk' but t1.ts as 'rows'" merge -o x.ts s0.ts t1.ts s2.ts
knn --index d.ts --self -k 3 --index-shard 1/3 --candidates 50 -o t1.ts
fails "parts with other --candidates" 1 "differ in their (row shape|meta.shard)" merge -o x.ts s0.ts t1.ts s2.ts
knn --index d.ts --batch q.ts -k 3 --index-shard 1/3 -o t1.ts
fails "parts of another query set" 1 "mixed inputs" merge -o x.ts s0.ts t1.ts s2.ts
fails "--shard with --index-shard" 2 "not both" knn --index d.ts --self --shard 0/2 --index-shard 0/2 -o x.ts
fails "--candidates alone" 2 "goes with --index-shard" knn --index d.ts --self --candidates 5 -o x.ts
fails "--index-shard of one song" 2 "single query is not sharded" knn --index d.ts --song k0001 --index-shard 0/2 -o x.ts
fails "--index-shard on stdin" 2 "named input" knn --index d.ts --batch - --index-shard 0/2 -o x.ts
fails "bad --index-shard" 2 "index-shard '3': expected I/N" knn --index d.ts --self --index-shard 3 -o x.ts
