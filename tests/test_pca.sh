# test_pca.sh - pca: projection, explained variance and sign convention
# against numpy values computed once (tests/ref/make_stats_ref.py) on the
# invented table tests/data/stats_table.csv; properties and errors.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
for s in csv-clean pca to-csv; do [ -x "$BIN/$s" ] || { skip pca "no $BIN/$s"; exit 0; }; done
csv-clean --key id --cols a,b,c,d,e "$D/stats_table.csv" > "$T/s.ts" 2>/dev/null

pca "$T/s.ts" -o "$T/p.ts"
to-csv "$T/p.ts" > "$T/p.csv"
is "header and keys" "$(cut -d, -f1 "$T/p.csv" | tr '\n' ' ')" "$(cut -d, -f1 "$D/pca_ref.csv" | tr '\n' ' ')"
worst=$(paste -d, "$T/p.csv" "$D/pca_ref.csv" | awk -F, 'NR > 1 { for (j = 2; j <= 3; j++) { d = $j - $(j+3); if (d < 0) d = -d; if (d > w) w = d } } END { printf "%.3g", w }')
near "scores match numpy (max |diff|)" "$worst" 0 2e-5
meta=$(inspect --header "$T/p.ts" | tr -d ' \n')
ev=$(awk '/^explained_variance /{printf "%.6f,%.6f", $2, $3}' "$D/pca_ref_meta.txt")
got=$(grep -o '"explained_variance":\[[^]]*\]' <<<"$meta" | tr -d '"[]a-z_:' | awk -F, '{printf "%.6f,%.6f", $1, $2}')
is "explained variance matches numpy" "$got" "$ev"
ratio=$(grep -o '"explained_variance_ratio":\[[^]]*\]' <<<"$meta" | tr -d '"[]a-z_:' | cut -d, -f1)
near "explained variance ratio" "$ratio" "$(awk '/ratio/{print $2}' "$D/pca_ref_meta.txt")" 1e-9

# properties: scores have mean 0 and variance = explained variance; k = d
# keeps the total variance (sum of column variances)
m1=$(awk -F, 'NR>1{s+=$2; q+=$2*$2; n++} END{printf "%.6g %.6f", s/n, (q - s*s/n)/(n-1)}' "$T/p.csv")
near "pc1 mean 0" "${m1% *}" 0 1e-5
near "pc1 variance = eigenvalue" "${m1#* }" "${ev%,*}" 1e-3
tot=$(pca -k 5 "$T/s.ts" | to-csv | awk -F, 'NR>1{for(j=2;j<=6;j++){s[j]+=$j; q[j]+=$j*$j}; n++} END{for(j=2;j<=6;j++) t+=(q[j]-s[j]*s[j]/n)/(n-1); printf "%.4f", t}')
want=$(to-csv "$T/s.ts" | awk -F, 'NR>1{for(j=2;j<=6;j++){s[j]+=$j; q[j]+=$j*$j}; n++} END{for(j=2;j<=6;j++) t+=(q[j]-s[j]*s[j]/n)/(n-1); printf "%.4f", t}')
near "k = d keeps the total variance" "$tot" "$want" 1e-3
# a pipe works like a file; -k 1 is the first column of -k 2
is "stdin" "$(pca < "$T/s.ts" | to-csv | md5sum)" "$(md5sum < "$T/p.csv")"
# a file is read at its final size (block headers scanned first); a pipe grows the table: same bytes
is "pipe (no size hint) = file" "$(cat "$T/s.ts" | pca | md5sum)" "$(pca "$T/s.ts" | md5sum)"
is "-k 1 = first component" "$(pca -k 1 "$T/s.ts" | to-csv | md5sum)" "$(cut -d, -f1,2 "$T/p.csv" | md5sum)"

fails "-k above the width" 2 "only 5 elements" pca -k 6 "$T/s.ts"
fails "bad -k" 2 "-k" pca -k 0 "$T/s.ts"
printf 'id,x,y\n1,1,2\n' | csv-clean --key id --cols x,y 2>/dev/null > "$T/one.ts"
fails "one row" 1 "at least 2" pca "$T/one.ts"
fails "CSV piped by mistake" 1 "tensor stream" pca < "$D/stats_table.csv"
pca -k 9 -o "$T/fail.ts" "$T/s.ts" 2>/dev/null
is "no output or temporary file after failure" "$(cd "$T" && compgen -G 'fail.ts*')" ""
ok "--help" pca --help

# issue 14: the memory bomb (four zstd frames of zeros, 1 GiB each, 130 KB)
# and a table over the limit are refused before they are held
CRAFT=${UNITS:-$ROOT/build/rel/tests}/memlimit
if [ -x "$CRAFT" ] && "$CRAFT" --write-bomb "$T/bomb.ts"; then
  fails "memory bomb refused under --mem-limit" 1 "^pca: .*bomb.ts: tensor 'zeros', block 1: .*needs 1073479000 bytes .*memory limit is 16777216 bytes" \
    pca --mem-limit 16M "$T/bomb.ts"
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$T/rss" pca --mem-limit 16M "$T/bomb.ts" 2>/dev/null
    ok "the refusal comes before the memory is used (peak RSS $(tail -1 "$T/rss") KB < 300 MB)" test "$(tail -1 "$T/rss")" -lt 300000
  fi
else skip "memory bomb" "no $CRAFT"; fi
fails "a table over the limit" 1 "^pca: .*s.ts: tensor 'features'.*holding the whole tensor.*needs [0-9]+ bytes .*memory limit is 1500 bytes" \
  pca --mem-limit 1500 "$T/s.ts"
fails "the covariance of wide rows counts too" 1 "covariance and its eigen-decomposition beside the table needs" \
  pca --mem-limit 2500 "$T/s.ts"
is "a limit that fits changes nothing" "$(pca --mem-limit 1M "$T/s.ts" | to-csv | md5sum)" "$(md5sum < "$T/p.csv")"
