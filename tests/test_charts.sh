# test_charts.sh - chart (gnuplot PNG/SVG) on the invented table
# tests/data/stats_table.csv, and `make charts` on the shipped data: every
# file exists, has the asked size in pixels (PNG IHDR, SVG width/height) and
# is not blank: enough coloured (chromatic) pixels, read back through
# gnuplot's own PNG reader, and the expected labels in the SVG text.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data
for s in csv-clean corr chart pool to-csv; do [ -x "$BIN/$s" ] || { skip charts "no $BIN/$s"; exit 0; }; done
command -v "${GNUPLOT:-gnuplot}" >/dev/null || { skip charts "gnuplot not installed (make deps)"; exit 0; }

# "W H" of a PNG from its IHDR chunk (bytes 16..23, big-endian)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'; }
# "PIXELS CHROMATIC DISTINCT": pixel count, pixels whose channels differ by
# more than 60 (the data: axes and text are grey), distinct colours
png_stats() {
  "${GNUPLOT:-gnuplot}" -e "set table '$T/px.txt'; plot '$1' binary filetype=png with rgbalpha; unset table" 2>/dev/null || { echo "0 0 0"; return; }
  awk 'NF >= 6 && $1 ~ /^[0-9]/ { n++; mx = $3; mn = $3; if ($4 > mx) mx = $4; if ($5 > mx) mx = $5; if ($4 < mn) mn = $4; if ($5 < mn) mn = $5
       if (mx - mn > 60) c++; if (!(($3 "," $4 "," $5) in seen)) { seen[$3 "," $4 "," $5] = 1; k++ } }
       END { print n+0, c+0, k+0 }' "$T/px.txt"
}
# check_png NAME FILE W H MIN_CHROMATIC_PERMILLE
check_png() {
  if [ ! -s "$2" ]; then fail "$1 exists" "no $2"; return; fi
  is "$1 is ${3}x$4" "$(png_size "$2")" "$3 $4"
  local st; st=$(png_stats "$2")
  ok "$1 not blank ($st px/coloured/colours)" awk -v s="$st" -v m="$5" 'BEGIN { split(s, a, " "); exit !(a[1] > 0 && a[2] * 1000 >= m * a[1] && a[3] >= 16) }'
}
# check_svg NAME FILE W H TEXT...: size attributes and texts drawn
check_svg() {
  local n=$1 f=$2 w=$3 h=$4; shift 4
  if [ ! -s "$f" ]; then fail "$n exists" "no $f"; return; fi
  like "$n is ${w}x$h" "$(head -c 600 "$f" | tr '\n' ' ')" "<svg +width=\"$w\" height=\"$h\""
  local t; for t in "$@"; do ok "$n draws '$t'" grep -qF -- "$t" "$f"; done
}

csv-clean --key id --cols a,b,c,d,e "$D/stats_table.csv" > "$T/s.ts" 2>/dev/null
corr --method spearman "$T/s.ts" > "$T/c.ts"
chart --kind heatmap --size 400,300 --title 'fixture heat map' -o "$T/heat.png" "$T/c.ts"
check_png "heatmap png" "$T/heat.png" 400 300 100
chart --kind heatmap --size 500,320 --digits 3 -o "$T/heat.svg" "$T/c.ts"
v=$(to-csv --no-header "$T/c.ts" | awk -F, '$1 == "a" { printf "%.3f", $3 }')
check_svg "heatmap svg" "$T/heat.svg" 500 320 ">$v<" ">1.000<" "data:image/png"

chart --kind lines --x a --cols b,d --y2 d --minmax -o "$T/lines.png" "$T/s.ts"
check_png "lines png" "$T/lines.png" 900 600 5
chart --kind bars --rows 't03;t01;t02' --cols a,b,c -o "$T/bars.png" "$T/s.ts"
check_png "bars png" "$T/bars.png" 900 600 20
chart --kind bars --rows 't03;t01' --cols a,c -o "$T/bars.svg" "$T/s.ts"
check_svg "bars svg" "$T/bars.svg" 900 600 ">t03<" ">t01<"
awk -F, 'NR == 1 { print "id\tgroup"; next } { print $1 "\t" ($4 >= 2 ? "high" : "low") }' "$D/stats_table.csv" > "$T/cat.tsv"
chart --kind scatter --cols a,b --color-by group --catalog "$T/cat.tsv" -o "$T/sc.png" "$T/s.ts"
check_png "scatter png" "$T/sc.png" 900 600 0.5
n_high=$(grep -c $'\thigh$' "$T/cat.tsv")
chart --kind scatter --cols a,b --color-by group --catalog "$T/cat.tsv" -o "$T/sc.svg" "$T/s.ts"
check_svg "scatter svg legend counts" "$T/sc.svg" 900 600 "high ($n_high)" "low ($((48 - n_high)))"
chart --kind scatter --cols a,b --color-by group --catalog "$T/cat.tsv" --max-groups 1 --max-points 10 --script "$T/sc.gp" -o x.png "$T/s.ts"
is "sample of 10 points, one group + other" "$(grep -cE '^-?[0-9.]+(e[-+]?[0-9]+)? ' "$T/sc.gp")" 10
like "script: other drawn in grey" "$(grep -o "other ([0-9]*)" "$T/sc.gp")" "^other \([0-9]+\)$"
chart --kind scatter --cols a,b --color-by group --catalog "$T/cat.tsv" --script "$T/sc2.gp" -o x.png "$T/s.ts"
# drawn in one shuffled block (no group painted over by the next): the colour
# column changes more often than once per group
changes=$(awk '/^EOD/ { d = 0 } d && NF == 3 { if (NR > 1 && $3 != last) c++; last = $3 } /<< EOD/ { d = 1 } END { print c + 0 }' "$T/sc2.gp")
ok "scatter: groups interleaved ($changes colour changes)" test "$changes" -gt 4
chart --kind heatmap --script - -o y.svg "$T/c.ts" > "$T/h.gp"
like "--script -: the terminal and the data" "$(head -3 "$T/h.gp" | tr '\n' ' ')" "set terminal svg size 900,600"
ok "--script does not run gnuplot" test ! -e y.svg

# the checker itself: axes without data are blank
"${GNUPLOT:-gnuplot}" -e "set terminal pngcairo size 400,300; set output '$T/empty.png'; set xrange [0:1]; set yrange [0:1]; plot 5 notitle" 2>/dev/null
st=$(png_stats "$T/empty.png")
ok "checker: axes only count as blank ($st)" awk -v s="$st" 'BEGIN { split(s, a, " "); exit !(a[1] == 120000 && a[2] * 1000 < a[1]) }'

fails "no -o" 2 "-o OUT.png" chart --kind bars "$T/s.ts"
fails "no --kind" 2 "--kind is required" chart -o "$T/x.png" "$T/s.ts"
fails "bad extension" 2 "png or .svg" chart --kind bars -o "$T/x.jpg" "$T/s.ts"
fails "bad --size" 2 "--size" chart --kind bars --size 10x10 -o "$T/x.png" "$T/s.ts"
fails "unknown column" 1 "no column 'zz'" chart --kind bars --cols a,zz -o "$T/x.png" "$T/s.ts"
fails "unknown row" 1 "no row with key 'nope'" chart --kind bars --rows 'nope' -o "$T/x.png" "$T/s.ts"
fails "lines over text keys" 1 "not a number; give the x column with --x" chart --kind lines -o "$T/x.png" "$T/s.ts"
fails "missing gnuplot" 1 "cannot run" env GNUPLOT=/nonexistent/gnuplot chart --kind bars -o "$T/x.png" "$T/s.ts"
is "no output or temporary file after failure" "$(cd "$T" && compgen -G 'x.png*')" ""
# -o a device (here a symlink to /dev/null): gnuplot draws into it in place;
# renaming a finished file over it would replace the device (or the link)
ln -s /dev/null "$T/null.png"
ok "-o a device: drawn in place" chart --kind bars -o "$T/null.png" "$T/s.ts"
ok "-o a device: still a link to the device" test -L "$T/null.png" -a -c "$T/null.png"
fails "CSV piped by mistake" 1 "tensor stream" chart --kind bars -o "$T/x.png" < "$D/stats_table.csv"
ok "--help" chart --help

# make charts on the shipped data: 8 charts x (PNG, SVG)
if make -s -C "$ROOT" charts OUTDIR="$T/out" OUT="${OUT:-build}" SAN="${SAN:-0}" > "$T/make.log" 2>&1; then
  pass "make charts"
  C=$T/out/charts
  for n in corr-pearson corr-spearman corr-kendall years genres artists training latent; do
    check_png "charts $n.png" "$C/$n.png" 900 600 10
  done
  check_svg "charts corr-pearson.svg" "$C/corr-pearson.svg" 900 600 ">energy<" ">loudness<" ">1.00<"
  check_svg "charts years.svg" "$C/years.svg" 900 600 ">acousticness<" "min-max scaled"
  check_svg "charts genres.svg" "$C/genres.svg" 900 600 ">rock<" ">edm<" ">valence<"
  check_svg "charts artists.svg" "$C/artists.svg" 900 600 ">$(cut -d';' -f1 "$C/data/artists.txt")<"
  check_svg "charts training.svg" "$C/training.svg" 900 600 ">val_loss<" ">train_loss<"
  check_svg "charts latent.svg" "$C/latent.svg" 900 600 ">rock (" ">edm ("
  # the heat map shows the values corr computed
  e=$(to-csv --no-header "$C/data/corr-pearson.ts" | awk -F, '$1 == "energy" { printf "%.2f", $4 }')
  ok "corr-pearson.svg shows energy/loudness = $e" grep -qF ">$e<" "$C/corr-pearson.svg"
else
  fail "make charts" "$(tail -5 "$T/make.log")"
fi
