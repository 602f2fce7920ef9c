# test_pool.sh - pool: group means and maxima, by key or by catalogue column.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
for s in csv-clean to-csv; do [ -x "$BIN/$s" ] || { skip pool "no $BIN/$s"; exit 0; }; done
csv-clean --key id --cols a,b --catalog "$T/cat.tsv" --display title,artist "$D/pool_songs.csv" > "$T/s.ts" 2>/dev/null

out=$(pool --by artist --catalog "$T/cat.tsv" "$T/s.ts" 2>"$T/err" | to-csv --no-header)
is "mean per artist, first-appearance order" "$out" $'Alpha,3,-6.66666651\nBeta,4,40\nGamma,4,40'
like "summary line" "$(cat "$T/err")" "6 rows in, 3 groups out"
out=$(pool --by artist --catalog "$T/cat.tsv" --op max "$T/s.ts" 2>/dev/null | to-csv --no-header | head -1)
is "max per artist" "$out" "Alpha,5,30"
out=$(pool --by artist --catalog "$T/cat.tsv" --op meanmax "$T/s.ts" 2>/dev/null | to-csv | head -1)
is "meanmax column names" "$out" "artist,a_mean,b_mean,a_max,b_max"
out=$(pool --by artist --catalog "$T/cat.tsv" --min-rows 2 "$T/s.ts" 2>/dev/null | to-csv --no-header | cut -d, -f1 | tr '\n' ' ')
is "min-rows drops small groups" "$out" "Alpha Beta "

# by key: the artist profiles re-keyed by artist, pooled again, are unchanged
pool --by artist --catalog "$T/cat.tsv" "$T/s.ts" 2>/dev/null > "$T/a.ts"
is "pool by key is idempotent on unique keys" "$(pool < "$T/a.ts" 2>/dev/null | to-csv)" "$(to-csv < "$T/a.ts")"
# --sorted streams contiguous groups, and refuses a non-grouped input
is "--sorted on grouped input" "$(pool --sorted "$T/a.ts" 2>/dev/null | to-csv)" "$(to-csv < "$T/a.ts")"
fails "--sorted refuses ungrouped input" 1 "appears again.*drop --sorted" \
  pool --sorted --by artist --catalog "$T/cat.tsv" "$T/s.ts"

fails "unknown catalogue column" 1 "no column 'genre'" pool --by genre --catalog "$T/cat.tsv" "$T/s.ts"
grep -v '^s4' "$T/cat.tsv" > "$T/cat2.tsv"
fails "key missing from the catalogue" 1 "key 's4' is not in the catalogue" pool --by artist --catalog "$T/cat2.tsv" "$T/s.ts"
fails "--by without --catalog" 2 "go together" pool --by artist "$T/s.ts"
fails "bad --op" 2 "--op" pool --op median "$T/s.ts"
fails "CSV piped by mistake" 1 "not a tensor stream" pool < "$D/pool_songs.csv"
fails "empty input" 1 "empty input" pool < /dev/null
ok "--help" pool --help
pool --by artist --catalog "$T/cat2.tsv" -o "$T/fail.ts" "$T/s.ts" 2>/dev/null
is "no output or temporary file after failure" "$(cd "$T" && compgen -G 'fail.ts*')" ""

# issue 14: the sums of every group count against the memory limit
fails "group sums over --mem-limit" 1 "^pool: .*s.ts: holding the sums of every group .*needs [0-9]+ bytes .*memory limit is 4096 bytes .*--mem-limit" \
  pool --mem-limit 4K "$T/s.ts"
is "a limit that fits changes nothing" "$(pool --mem-limit 1M --by artist --catalog "$T/cat.tsv" "$T/s.ts" 2>/dev/null | to-csv --no-header)" \
  "$(pool --by artist --catalog "$T/cat.tsv" "$T/s.ts" 2>/dev/null | to-csv --no-header)"
