# test_corr.sh - corr: Pearson, Spearman and Kendall tau-b matrices against
# pandas.DataFrame.corr values computed once (tests/ref/make_stats_ref.py) on
# the invented table tests/data/stats_table.csv (ties included), and errors.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
for s in csv-clean corr to-csv; do [ -x "$BIN/$s" ] || { skip corr "no $BIN/$s"; exit 0; }; done
csv-clean --key id --cols a,b,c,d,e "$D/stats_table.csv" > "$T/s.ts" 2>/dev/null

# every entry of the three matrices against pandas (1e-6: f32 inputs on both sides)
for m in pearson spearman kendall; do
  corr --method $m "$T/s.ts" -o "$T/$m.ts"
  to-csv --no-header "$T/$m.ts" | awk -F, -v m=$m 'NR==FNR { if ($1 == m) ref[$2 " " $3] = $4; next }
    FNR == 1 { split("a b c d e", names, " ") }
    { for (j = 2; j <= NF; j++) { k = $1 " " names[j-1]; if (!(k in ref)) { print "missing " k; bad++; continue }
        d = $j - ref[k]; if (d < 0) d = -d; if (d > 1e-6) { print k ": " $j " vs " ref[k]; bad++ } n++ } }
    END { print n " checked, " bad+0 " off" }' FS=' ' "$D/stats_ref.txt" FS=, - > "$T/cmp.txt"
  is "$m matrix matches pandas" "$(tail -1 "$T/cmp.txt")" "25 checked, 0 off"
done
# the three methods differ where they should (kendall < spearman on ranks)
ab_k=$(to-csv --no-header "$T/kendall.ts" | awk -F, '$1=="a"{print $3}')
ab_s=$(to-csv --no-header "$T/spearman.ts" | awk -F, '$1=="a"{print $3}')
ok "|tau| < |rho| for a,b" awk -v k="$ab_k" -v s="$ab_s" 'BEGIN{exit !(k*k < s*s)}'

# --cols picks and orders; header, key name and meta
out=$(corr --cols e,a "$T/s.ts" | to-csv)
like "--cols order and key name" "$out" $'^column,e,a\ne,1,-?0\\.[0-9]+\na,-?0\\.[0-9]+,1$'
ok "meta names the method" grep -q '"method": "kendall"' <(inspect --header "$T/kendall.ts")
txt=$(corr --text --digits 2 --cols a,b "$T/s.ts")
like "--text table" "$txt" $'^ +a +b\na +1\\.00 +0\\.[0-9]{2}\nb +0\\.[0-9]{2} +1\\.00$'
# a constant column correlates as NaN
printf 'id,x,y\n1,1,5\n2,2,5\n3,3,5\n' | csv-clean --key id --cols x,y 2>/dev/null > "$T/c.ts"
is "constant column gives nan" "$(corr --method kendall "$T/c.ts" | to-csv --no-header | head -1)" "x,1,nan"

fails "unknown column" 1 "no column 'zz'" corr --cols a,zz "$T/s.ts"
fails "bad method" 2 "--method" corr --method cosine "$T/s.ts"
fails "CSV piped by mistake" 1 "not a tensor stream|tensor stream" corr < "$D/stats_table.csv"
printf 'id,x,y\n1,1,2\n' | csv-clean --key id --cols x,y 2>/dev/null > "$T/one.ts"
fails "one row" 1 "at least 2" corr "$T/one.ts"
corr --cols zz -o "$T/fail.ts" "$T/s.ts" 2>/dev/null
is "no output or temporary file after failure" "$(cd "$T" && compgen -G 'fail.ts*')" ""
ok "--help" corr --help

# issue 14: a 130 KB stream of four zstd frames of zeros (1 GiB each) is
# refused at its first block header, before the block is allocated
CRAFT=${UNITS:-$ROOT/build/rel/tests}/memlimit
if [ -x "$CRAFT" ] && "$CRAFT" --write-bomb "$T/bomb.ts"; then
  fails "memory bomb refused under --mem-limit" 1 "^corr: .*bomb.ts: tensor 'zeros', block 1: .*needs 1073479000 bytes .*memory limit is 1048576 bytes .*--mem-limit SIZE or SONGPIPE_MEM_LIMIT" \
    corr --mem-limit 1M "$T/bomb.ts"
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$T/rss" corr --mem-limit 64M --method spearman "$T/bomb.ts" 2>/dev/null
    ok "the refusal comes before the memory is used (peak RSS $(cat "$T/rss") KB < 300 MB)" test "$(tail -1 "$T/rss")" -lt 300000
  fi
  fails "SONGPIPE_MEM_LIMIT sets it too" 1 "memory limit is 2097152 bytes \(2.0 MiB, SONGPIPE_MEM_LIMIT\)" env SONGPIPE_MEM_LIMIT=2M corr "$T/bomb.ts"
else skip "memory bomb" "no $CRAFT"; fi
# spearman keeps its columns: a limit below them stops it with what it needs
fails "spearman's kept columns count against the limit" 1 "keeping the chosen columns for the ranks needs [0-9]+ bytes" \
  corr --method spearman --mem-limit 2K "$T/s.ts"
is "a limit that fits changes nothing" "$(corr --mem-limit 1M --method spearman "$T/s.ts" | md5sum)" "$(md5sum < "$T/spearman.ts")"
fails "a malformed --mem-limit" 2 "--mem-limit: '12Q' is not a size" corr --mem-limit 12Q "$T/s.ts"
fails "a malformed SONGPIPE_MEM_LIMIT" 2 "SONGPIPE_MEM_LIMIT: 'lots' is not a size" env SONGPIPE_MEM_LIMIT=lots corr "$T/s.ts"
