# test_knn_cache.sh - knn --index-cache (common/knncache.c): the raw mapped
# cache beside the index is made once, reused, remade when the index
# changes or the cache is damaged (flipped byte, truncated, garbage, a
# header that lies), shared by shards started at once (one of them makes
# it, under the lock), and every output is byte for byte the output
# without the cache: four metrics, --self, --batch with a catalogue,
# --song, --shard parts and their merge.
. "$(dirname "$0")/lib.sh"
for s in merge knn csv-clean; do
  [ -x "$BIN/$s" ] || { skip "knn_cache" "no $BIN/$s yet"; exit 0; }
done
cd "$T"

awk 'BEGIN { srand(3); printf "id,name"; for (j = 0; j < 8; j++) printf ",f%d", j; print ""
  for (i = 0; i < 900; i++) { printf "k%04d,song %d", i, i % 300
    for (j = 0; j < 8; j++) printf ",%.4f", rand() - 0.3; print "" } }' > d.csv
COLS=f0,f1,f2,f3,f4,f5,f6,f7
csv-clean --key id --cols $COLS -o d.ts d.csv 2>/dev/null
printf 'id\tname\tartist\n' > cat.tsv
awk -F, 'NR > 1 { n = substr($2, 6) + 0; print $1 "\tsong " n "\tartist " n % 7 }' d.csv >> cat.tsv
awk -F, 'NR == 1 || NR % 4 == 0' d.csv | sed 's/^k/q/' > q.csv
csv-clean --key id --cols $COLS -o q.ts q.csv 2>/dev/null
ok "fixtures built" test -s d.ts -a -s q.ts

# same WHAT ARGS...: knn ARGS with and without --index-cache give the same bytes
same() {
  local what=$1; shift
  knn "$@" -o plain.out 2>/dev/null
  if knn "$@" --index-cache -o cached.out 2>"$T/.err" && sanitized "$what" && cmp -s plain.out cached.out; then pass "$what: same bytes with the cache"
  else fail "$what: differs with the cache" "$(head -c 300 "$T/.err")"; fi
}
for m in cosine euclidean dot mad; do
  rm -f d.ts.knn-*
  knn --index d.ts --self --metric $m -k 6 --index-cache -o c.ts 2>"$T/.err"
  like "--metric $m: the cache is made and said" "$(cat "$T/.err")" "d.ts.knn-$m.cache: made"
  ok "--metric $m: cache file beside the index" test -s d.ts.knn-$m.cache
  same "--self --metric $m (cache made)" --index d.ts --self --metric $m -k 6
  same "--batch with catalogue --metric $m (cache reused)" --index d.ts --catalog cat.tsv --batch q.ts --metric $m -k 5
done
same "--song with catalogue" --index d.ts --catalog cat.tsv --song 'song 17' --first --tsv -k 5
same "--playlist" --index d.ts --catalog cat.tsv --playlist 'k0003;k0100' --tsv -k 5

# reused: no message, the same file (inode) and bytes
ino=$(stat -c %i d.ts.knn-cosine.cache); sum=$(cksum < d.ts.knn-cosine.cache)
knn --index d.ts --self -k 6 --index-cache -o c.ts 2>"$T/.err"
is "reused: nothing said" "$(cat "$T/.err")" ""
is "reused: the same cache file" "$(stat -c %i d.ts.knn-cosine.cache) $(cksum < d.ts.knn-cosine.cache)" "$ino $sum"

# a changed index (new rows, then the same size with one value changed)
# invalidates it: the new results, not the cached ones
head -700 d.csv > e.csv
csv-clean --key id --cols $COLS -o d.ts e.csv 2>/dev/null
knn --index d.ts --self -k 6 -o plain.ts
knn --index d.ts --self -k 6 --index-cache -o c.ts 2>"$T/.err"
like "changed index: remade" "$(cat "$T/.err")" "made: the index changed"
ok "changed index: the new results" cmp plain.ts c.ts
csv-clean --key id --cols $COLS -o d.ts d.csv 2>/dev/null
knn --index d.ts --self -k 6 --index-cache -o c.ts 2>/dev/null
sed '2s/,\(-*[0-9]\)\.\([0-9]\)/,\1.\2\2/' d.csv > f.csv       # one digit more in one value
csv-clean --key id --cols $COLS -o f.ts f.csv 2>/dev/null
cp d.ts.knn-cosine.cache f.ts.knn-cosine.cache
knn --index f.ts --self -k 6 -o plain.ts
knn --index f.ts --self -k 6 --index-cache -o c.ts 2>"$T/.err"
like "another stream under a cache: remade" "$(cat "$T/.err")" "the index changed"
ok "another stream: its own results" cmp plain.ts c.ts

# damaged caches are rebuilt, never used
knn --index d.ts --self -k 6 -o plain.ts
corrupt() {   # corrupt WHAT CMD: CMD damages d.ts.knn-cosine.cache
  local what=$1; shift
  knn --index d.ts --self -k 6 --index-cache -o c.ts 2>/dev/null
  "$@"
  knn --index d.ts --self -k 6 --index-cache -o c.ts 2>"$T/.err"
  like "$what: rebuilt" "$(cat "$T/.err")" "d.ts.knn-cosine.cache: damaged cache rebuilt"
  ok "$what: right results" cmp plain.ts c.ts
  knn --index d.ts --self -k 6 --index-cache -o c.ts 2>"$T/.err"
  is "$what: the rebuilt cache is used" "$(cat "$T/.err")" ""
}
flip() { printf '\x55' | dd of=d.ts.knn-cosine.cache bs=1 seek="$1" conv=notrunc 2>/dev/null; }
corrupt "a flipped byte in the rows" flip 5000
corrupt "a flipped byte in the keys" flip $(( $(stat -c %s d.ts.knn-cosine.cache) - 4097 ))
corrupt "a flipped byte in the header" flip 40
corrupt "truncated" truncate -s 8192 d.ts.knn-cosine.cache
corrupt "empty" truncate -s 0 d.ts.knn-cosine.cache
corrupt "garbage" dd if=/dev/urandom of=d.ts.knn-cosine.cache bs=4096 count=3 2>/dev/null

# shards started at once from no cache: one makes it, all map it, the
# merge is the unsharded output; the parts are the parts without the cache
rm -f d.ts.knn-*
knn --index d.ts --catalog cat.tsv --self -k 5 -o one.ts 2>/dev/null
pids=
for i in 0 1 2 3; do
  knn --index d.ts --catalog cat.tsv --self -k 5 --shard $i/4 --index-cache -o p$i.ts 2>e$i.txt & pids="$pids $!"
done
st=0; for p in $pids; do wait $p || st=1; done
is "4 shards at once: all succeed" "$st" 0
is "4 shards at once: one made the cache" "$(cat e0.txt e1.txt e2.txt e3.txt | grep -c 'made:')" 1
merge -o m.ts p0.ts p1.ts p2.ts p3.ts
ok "4 shards at once: merged = unsharded" cmp m.ts one.ts
knn --index d.ts --catalog cat.tsv --self -k 5 --shard 2/4 -o pp2.ts 2>/dev/null
ok "a part with the cache = the part without (meta.shard inputs included)" cmp p2.ts pp2.ts
ok "no temporary cache file left" test -z "$(ls | grep '\.tmp\.')"

fails "--index-cache with the index on stdin" 2 "not stdin" knn --index - --self --index-cache
fails "--index-cache with --index-shard" 2 "drop one" knn --index d.ts --self --index-shard 0/2 --index-cache
like "--help documents --index-cache" "$(knn --help)" "--index-cache"
