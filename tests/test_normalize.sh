# test_normalize.sh - normalize end to end: CSV fixture -> csv-clean ->
# normalize -> to-csv, values against hand-computed statistics, --stats
# reproducing the fit's bytes, per-column methods, errors, temporary files.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
N=normalize

help=$($N --help)
for o in --method --col --exclude --log --save --stats --fit-only -o songpipe_normalize 'default minmax' 'holds every value'; do
  like "--help mentions $o" "$help" "$o"
done
like "-V prints the version" "$($N -V)" '^normalize .*[0-9]'
fails "unknown option is a usage error" 2 "unknown option '--bogus'" $N --bogus
fails "unknown method is a usage error" 2 "maxabs" $N --method maxabs
fails "--col without = is a usage error" 2 "NAME=METHOD" $N --col tempo
fails "--fit-only needs --save" 2 "needs --save" $N --fit-only
fails "--stats excludes --method" 2 "drop --method" $N --stats x.json --method zscore
fails "--exclude and --log on one column" 2 "both in --exclude and in --log" $N --exclude a --log a
fails "a CSV is not a stream" 1 "not a tensor stream.*csv-clean" $N "$D/normalize_songs.csv"
fails "missing stats file" 1 "nope.json: cannot open" $N --stats "$T/nope.json" "$D/normalize_songs.csv"
printf '{"songpipe_normalize": 1,\n "columns": [\n' > "$T/bad.json"
fails "truncated stats file names file and line" 1 "bad.json:3: invalid JSON" $N --stats "$T/bad.json" -
printf '{"songpipe_normalize": 1, "columns": [{"name": "tempo", "method": "minmax", "log": "no", "center": 0, "scale": 1}]}' > "$T/bad2.json"
fails "stats file with a bad member" 1 "bad2.json: column 'tempo': \"log\" must be true or false" $N --stats "$T/bad2.json" -

# issue 14: a second document, a key twice, a NUL: errors naming the file
c='{"name": "tempo", "method": "minmax", "log": false, "center": 0, "scale": 1}'
printf '{"songpipe_normalize": 1, "columns": [%s]}\n{"songpipe_normalize": 1, "columns": []}\n' "$c" > "$T/two.json"
fails "stats file holding two documents" 1 "two.json:2:1: data after the end of the JSON document" $N --stats "$T/two.json" -
printf '{"songpipe_normalize": 1, "columns": [], "columns": [%s]}' "$c" > "$T/dup.json"
fails "stats file with a key twice" 1 "dup.json: in the top-level object: key \"columns\" appears twice" $N --stats "$T/dup.json" -
printf '{"songpipe_normalize": 1, "columns": [{"name": "tempo\\u0000x", "method": "minmax", "log": false, "center": 0, "scale": 1}]}' > "$T/nul.json"
fails "stats file with a \\u0000 in a name" 1 "nul.json:1:[0-9]+: a \\\\u0000 escape" $N --stats "$T/nul.json" -

for s in csv-clean to-csv; do
  [ -x "$BIN/$s" ] || { skip "end to end" "$BIN/$s not built yet"; exit 0; }
done

COLS=energy,tempo,loudness,mode,duration_ms
csv-clean --key id --cols $COLS "$D/normalize_songs.csv" > "$T/in.ts" 2>/dev/null
to-csv "$T/in.ts" > "$T/in.csv"
# col FILE.csv KEY NAME: one value of the to-csv output
col() { awk -F, -v k="$2" -v c="$3" 'NR==1{for(i=1;i<=NF;i++) if($i==c) j=i; next} $1==k{print $j}' "$1"; }
# stat FILE.json COLUMN FIELD: a member of one column of a statistics file
stat() { tr -d ' \t\n' < "$1" | sed 's/},{/}\n{/g' | grep "\"name\":\"$2\"" | sed -E "s/.*\"$3\":\"?([^,}\"]*).*/\1/"; }

# fit and apply on a stream (csv-clean piped in), minmax by default
mkdir -p "$T/tmp"
export TMPDIR=$T/tmp
csv-clean --key id --cols $COLS "$D/normalize_songs.csv" 2>/dev/null | $N --save "$T/mm.json" > "$T/mm.ts"
is "fit+apply on a stream exits 0" "$?" 0
to-csv "$T/mm.ts" > "$T/mm.csv"
is "same keys and columns" "$(cut -d, -f1 "$T/mm.csv" | tr '\n' ' ')$(head -1 "$T/mm.csv")" \
   "$(cut -d, -f1 "$T/in.csv" | tr '\n' ' ')$(head -1 "$T/in.csv")"
near "minmax: the max maps to 1" "$(col "$T/mm.csv" s4 energy)" 1 1e-6
near "minmax: the min maps to 0" "$(col "$T/mm.csv" s6 tempo)" 0 1e-6
near "minmax: energy 0.3 -> (0.3-0.1)/0.8" "$(col "$T/mm.csv" s3 energy)" 0.25 1e-6
near "minmax: loudness -5 -> (-5+15)/12" "$(col "$T/mm.csv" s5 loudness)" 0.8333333 1e-6
is "a constant column maps to 0" "$(cut -d, -f5 "$T/mm.csv" | sort -u | tr '\n' ' ')" "0 mode "
like "stats: tempo minmax center 80" "$(stat "$T/mm.json" tempo center)" '^80$'
like "stats: constant column scale 1" "$(stat "$T/mm.json" mode scale)" '^1$'
like "meta gains the normalize object" "$(head -c 2000 "$T/mm.ts" | tr -d '\0' | grep -ao '"normalize":{"songpipe_normalize":1')" normalize

# the same bytes from saved statistics, from a file, from a redirect, from a pipe
$N --stats "$T/mm.json" "$T/in.ts" > "$T/st.ts"
ok "--stats gives identical bytes to the fit run" cmp "$T/mm.ts" "$T/st.ts"
$N "$T/in.ts" > "$T/file.ts"; cat "$T/in.ts" | $N > "$T/pipe.ts"; $N - < "$T/in.ts" > "$T/redir.ts"
ok "file and pipe give identical output" cmp "$T/file.ts" "$T/pipe.ts"
ok "a redirect gives identical output" cmp "$T/file.ts" "$T/redir.ts"
$N --fit-only --save "$T/fo.json" "$T/in.ts" > "$T/fo.out"
ok "--fit-only saves the same statistics" cmp "$T/mm.json" "$T/fo.json"
is "--fit-only writes no rows" "$(wc -c < "$T/fo.out")" 0

# per-column methods, exclusion, log
$N --method zscore --col tempo=robust --col energy=minmax --exclude mode --log duration_ms \
   --save "$T/pc.json" -o "$T/pc.ts" "$T/in.ts"
to-csv "$T/pc.ts" > "$T/pc.csv"
like "stats: tempo is robust" "$(stat "$T/pc.json" tempo method)" '^robust$'
like "stats: robust center = median (110+120)/2" "$(stat "$T/pc.json" tempo center)" '^115$'
like "stats: robust scale = q75-q25 = 131-97.5" "$(stat "$T/pc.json" tempo scale)" '^33.5$'
like "stats: duration_ms has log" "$(stat "$T/pc.json" duration_ms log)" '^true$'
like "stats: excluded column is none" "$(stat "$T/pc.json" mode method)" '^none$'
near "robust: tempo 110 -> (110-115)/33.5" "$(col "$T/pc.csv" s8 tempo)" -0.14925373 1e-6
near "zscore: loudness -15 -> (-15+7.5)/sqrt(14.75)" "$(col "$T/pc.csv" s6 loudness)" -1.9528 1e-4
read -r mean sd < <(awk -F, 'NR>1{s+=$4; q+=$4*$4; n++} END{m=s/n; printf "%.9f %.9f\n", m, sqrt(q/n-m*m)}' "$T/pc.csv")
near "zscore column has mean 0" "$mean" 0 1e-6
near "zscore column has population std 1" "$sd" 1 1e-6
want=$(awk -F, 'NR>1{v[NR]=log(1+$6); s+=v[NR]; n++; if($1=="s7") k=NR} END{m=s/n; for(i in v) q+=(v[i]-m)^2; printf "%.9f", (v[k]-m)/sqrt(q/n)}' "$T/in.csv")
near "log zscore: duration s7 = zscore of log1p" "$(col "$T/pc.csv" s7 duration_ms)" "$want" 1e-5
is "excluded column passes unchanged" "$(cut -d, -f5 "$T/pc.csv")" "$(cut -d, -f5 "$T/in.csv")"
$N --stats "$T/pc.json" -o "$T/pc2.ts" "$T/in.ts"
ok "per-column statistics reproduce the same bytes" cmp "$T/pc.ts" "$T/pc2.ts"

# statistics and inputs whose columns differ
csv-clean --key id --cols energy,tempo "$D/normalize_songs.csv" > "$T/small.ts" 2>/dev/null
fails "a statistics column missing from the input is named" 1 "column 'loudness' of the statistics is not in the input" \
  $N --stats "$T/pc.json" "$T/small.ts"
$N --fit-only --save "$T/small.json" "$T/small.ts"
fails "input columns without statistics: said once" 0 "3 input columns not in the statistics pass through unchanged: loudness, mode, duration_ms" \
  $N --stats "$T/small.json" -o "$T/part.ts" "$T/in.ts"
is "...and they pass unchanged" "$(to-csv "$T/part.ts" | cut -d, -f4-)" "$(cut -d, -f4- "$T/in.csv")"
fails "--col naming a missing column" 1 "--col 'nosuch': no such column" $N --col nosuch=zscore "$T/in.ts"

# errors leave nothing behind: no output, no .tmp, no spooled copy in TMPDIR
mkdir -p "$T/out"
fails "log of a value <= -1 names the row key and column" 1 "row 's1' \(row 1\), column 'loudness'.*> -1" \
  bash -c "cat '$T/in.ts' | $N --log loudness -o '$T/out/x.ts'"
fails "bad stats fail before any output" 1 "bad.json:3" $N --stats "$T/bad.json" -o "$T/out/y.ts" "$T/in.ts"
is "no output or .tmp after failures" "$(ls -A "$T/out")" ""
is "no temporary file left in TMPDIR" "$(ls -A "$T/tmp")" ""

# | head: a larger table, output cut short
awk 'BEGIN{print "id,energy,tempo,loudness,mode,duration_ms"; for(i=0;i<200000;i++) printf "k%d,%.3f,%d,%.2f,%d,%d\n", i, (i%1000)/1000, 60+i%140, -(i%300)/10, i%2, 100000+i}' \
  > "$T/big.csv"
csv-clean --key id --cols $COLS "$T/big.csv" > "$T/big.ts" 2>/dev/null
lines=$( { $N "$T/big.ts" | to-csv | head -3; } 2>"$T/head.err" | wc -l)
is "| head gets its lines" "$lines" 3
is "| head: no error message" "$(cat "$T/head.err")" ""
cat "$T/big.ts" | $N --method robust 2>"$T/head2.err" | head -c 100 > /dev/null
is "pipe in, | head -c out: no error message" "$(cat "$T/head2.err")" ""
is "| head leaves no temporary file" "$(ls -A "$T/tmp")" ""
