#!/usr/bin/env bash
# test_to_csv.sh - to-csv on streams made by csv-clean: values, quoting, TSV,
# header options, multi-tensor streams, and the error paths.
. "$(dirname "$0")/lib.sh"
command -v csv-clean >/dev/null || { skip all "csv-clean is not built"; exit 0; }

printf 'id,tempo,energy\na1,120,0.1\n"b,2",7,0.25\n"c""3",-98.5,1e-7\n"tab\there",3,4\n' > "$T/in.csv"
csv-clean --key id --cols tempo,energy "$T/in.csv" > "$T/a.ts" 2>/dev/null
csv-clean --key id --cols energy --name second "$T/in.csv" > "$T/b.ts" 2>/dev/null
cat "$T/a.ts" "$T/b.ts" > "$T/ab.ts"

want='id,tempo,energy
a1,120,0.100000001
"b,2",7,0.25
"c""3",-98.5,1.00000001e-07
tab here,3,4'
is "csv: key first, quoted per RFC 4180, %.9g floats" "$(to-csv "$T/a.ts")" "$want"
is "stdin is the default input" "$(to-csv < "$T/a.ts")" "$want"
is "- is stdin" "$(to-csv - < "$T/a.ts")" "$want"
is "--no-header drops the header line" "$(to-csv --no-header "$T/a.ts" | head -1)" "a1,120,0.100000001"
is "tsv: tabs, no quoting" "$(to-csv --tsv "$T/a.ts" | sed -n 4p)" "$(printf 'c"3\t-98.5\t1.00000001e-07')"
is "tsv: 4 lines of 3 fields" "$(to-csv --tsv --no-header "$T/a.ts" | awk -F'\t' '{n+=NF} END{print NR, n}')" "4 12"
is "multi-tensor: the first tensor by default" "$(to-csv "$T/ab.ts")" "$want"
is "--tensor picks another" "$(to-csv --tensor second "$T/ab.ts" | head -2 | tr '\n' ' ')" "id,energy a1,0.100000001 "
ok "-o FILE writes FILE" to-csv -o "$T/o.csv" "$T/a.ts"
is "-o FILE content" "$(cat "$T/o.csv")" "$want"
is "-o leaves no .tmp" "$(ls "$T" | grep -c 'o.csv.tmp')" "0"

# errors
fails "unknown tensor name" 1 "no tensor named 'nope'" to-csv --tensor nope "$T/ab.ts"
fails "a CSV piped by mistake" 1 "^to-csv: <stdin>: not a tensor stream: it starts with text" to-csv < "$T/in.csv"
fails "empty input" 1 "empty input" to-csv < /dev/null
head -c 60 "$T/a.ts" > "$T/cut.ts"
fails "truncated stream" 1 "truncated stream" to-csv "$T/cut.ts"
fails "truncated stream with -o" 1 "truncated stream" to-csv -o "$T/cut.csv" "$T/cut.ts"
is "no output file after a failure" "$(ls "$T" | grep -c '^cut.csv')" "0"
n=$(stat -c %s "$T/ab.ts"); head -c $((n - 3)) "$T/ab.ts" > "$T/cut2.ts"
fails "a stream cut after the tensor written still fails" 1 "truncated stream" to-csv "$T/cut2.ts"
fails "missing file" 1 "cannot open" to-csv "$T/nope.ts"
fails "bad option" 2 "unknown option '--bogus'" to-csv --bogus "$T/a.ts"
fails "two inputs" 2 "one input at most" to-csv "$T/a.ts" "$T/b.ts"
ok "--help exits 0" to-csv --help
like "--help lists --tsv" "$(to-csv --help)" "--tsv"
like "-V prints the version" "$(to-csv -V)" "^to-csv \(songpipe\)"
# | head: no message, no error status other than SIGPIPE
seq 1 30000 | awk 'BEGIN{print "id,v"} {print "k"$1","$1}' > "$T/big.csv"
csv-clean --cols v "$T/big.csv" > "$T/big.ts" 2>/dev/null
is "| head -1 is quiet" "$(to-csv "$T/big.ts" 2>&1 | head -1)" "id,v"
is "30000 rows" "$(to-csv --no-header "$T/big.ts" | wc -l)" "30000"
ln -s /dev/null "$T/null"
ok "-o a device (via a symlink to /dev/null) works" to-csv -o "$T/null" "$T/a.ts"
ok "and writes in place: the link is still there" test -L "$T/null"
