#!/usr/bin/env bash
# test_inspect.sh - inspect on streams made by csv-clean: headers, metadata,
# column statistics against awk, multi-tensor streams, wide rows, errors.
. "$(dirname "$0")/lib.sh"
command -v csv-clean >/dev/null || { skip all "csv-clean is not built"; exit 0; }

# 500 rows of 3 columns with known statistics
awk 'BEGIN{print "id,a,b,c"; for(i=1;i<=500;i++) printf "k%d,%d,%.3f,%d\n", i, i, i/7.0, (i*37)%101-50}' > "$T/in.csv"
csv-clean --key id --cols a,b,c "$T/in.csv" > "$T/x.ts" 2>/dev/null
out=$(inspect "$T/x.ts")
like "header: name" "$out" "^# tensor 1: features$"
like "header: dtype" "$out" "  dtype   f32"
like "header: shape" "$out" "  shape   \[3\]  \(3 elements, 12 bytes per row\)"
like "header: key name" "$out" "  key     id"
like "header: columns" "$out" "  columns a,b,c"
like "header: metadata pretty-printed" "$out" '"source": '
like "rows" "$out" "  rows    500 \("
line() { awk -v c="$1" '$1==c' <<<"$out"; }
is "column a: rows min mean max nan" "$(line a | awk '{print $2, $3, $4, $5, $6}')" "500 1 250.5 500 0"
ref=$(awk -F, 'NR>1{x=$4+0; s+=x; if(NR==2||x<mn)mn=x; if(NR==2||x>mx)mx=x} END{printf "%d %.4f %d", mn, s/500, mx}' "$T/in.csv")
is "column c: min mean max vs awk" "$(line c | awk '{printf "%d %.4f %d", $3, $4, $5}')" "$ref"
near "column b: mean vs awk" "$(line b | awk '{print $4}')" "$(awk -F, 'NR>1{s+=$3} END{print s/500}' "$T/in.csv")" 1e-4
is "sortable: sort -k5 -g puts the largest max last" "$(grep -E '^  [abc] ' <<<"$out" | sort -k5 -g | tail -1 | awk '{print $1}')" "a"

hdr=$(inspect --header "$T/x.ts")
like "--header prints the header" "$hdr" "columns a,b,c"
is "--header prints no statistics" "$(grep -c '^  rows' <<<"$hdr")" "0"

# multi-tensor: two streams concatenated, a summary per tensor
csv-clean --key id --cols c --name other "$T/in.csv" > "$T/y.ts" 2>/dev/null
cat "$T/x.ts" "$T/y.ts" > "$T/xy.ts"
out2=$(inspect "$T/xy.ts")
is "multi-tensor: both headers" "$(grep '^# tensor' <<<"$out2" | tr '\n' '|')" "# tensor 1: features|# tensor 2: other|"
is "multi-tensor: a summary per tensor" "$(grep -c '^  rows    500' <<<"$out2")" "2"

# wide rows: 100 columns -> one line over all elements plus the first 8
awk 'BEGIN{printf "id"; for(j=0;j<100;j++) printf ",v%d", j; print ""; for(i=0;i<20;i++){printf "r%d", i; for(j=0;j<100;j++) printf ",%d", i*100+j; print ""}}' > "$T/wide.csv"
cols=$(head -1 "$T/wide.csv" | cut -d, -f2- )
csv-clean --cols "$cols" "$T/wide.csv" > "$T/w.ts" 2>/dev/null
w=$(inspect "$T/w.ts")
is "wide: all elements in one line" "$(grep '(all)' <<<"$w" | awk '{print $2, $3, $4, $5, $6}')" "2000 0 999.5 1999 0"
is "wide: the first 8 columns" "$(grep -cE '^  v[0-9]+ ' <<<"$w")" "8"
like "wide: says how many are left out" "$w" "\.\.\. 92 more columns"
is "wide --all: every column" "$(inspect --all "$T/w.ts" | grep -cE '^  v[0-9]+ ')" "100"
is "wide --first 3" "$(inspect --first 3 "$T/w.ts" | grep -cE '^  v[0-9]+ ')" "3"
is "wide: column v99 with --all" "$(inspect --all "$T/w.ts" | awk '$1=="v99"{print $3, $4, $5}')" "99 1049 1999"

# errors
fails "a CSV piped by mistake" 1 "^inspect: <stdin>: not a tensor stream: it starts with text" inspect < "$T/in.csv"
fails "empty input" 1 "empty input" inspect < /dev/null
head -c 80 "$T/x.ts" > "$T/cut.ts"
fails "truncated stream" 1 "truncated stream" inspect "$T/cut.ts"
n=$(stat -c %s "$T/x.ts"); head -c $((n - 1)) "$T/x.ts" > "$T/cut2.ts"
fails "truncated in the end record: statistics printed, then exit 1" 1 "ends inside the end-of-stream record" inspect "$T/cut2.ts"
fails "bad option" 2 "unknown option" inspect --bogus
fails "bad --first" 2 "--first" inspect --first x "$T/x.ts"
ok "--help exits 0" inspect --help
like "-V" "$(inspect -V)" "^inspect \(songpipe\)"
is "| head -1 is quiet" "$(inspect "$T/xy.ts" 2>&1 | head -1)" "# tensor 1: features"
