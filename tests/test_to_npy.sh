#!/usr/bin/env bash
# test_to_npy.sh - to-npy on streams made by csv-clean: the .npy header and
# data bytes are parsed here (no Python), to files, pipes and -o; errors.
. "$(dirname "$0")/lib.sh"
command -v csv-clean >/dev/null || { skip all "csv-clean is not built"; exit 0; }

awk 'BEGIN{print "id,a,b,c"; for(i=0;i<1000;i++) printf "k%d,%d,%.2f,%d\n", i, i, i/4.0, -i}' > "$T/in.csv"
csv-clean --key id --cols a,b,c "$T/in.csv" > "$T/x.ts" 2>/dev/null

# npy_check FILE: prints "magic major minor headerlen datastart|dict"
npy_check() {
  local f=$1
  local magic ver hl
  magic=$(head -c 6 "$f" | od -An -c | tr -d ' ')
  ver=$(od -An -tu1 -j6 -N2 "$f" | tr -s ' ' | sed 's/^ //')
  hl=$(od -An -tu2 -j8 -N2 --endian=little "$f" | tr -d ' ')
  echo "$magic $ver $hl $(( (10 + hl) % 64 ))|$(dd if="$f" bs=1 skip=10 count="$hl" 2>/dev/null | sed 's/ *$//')"
}

to-npy "$T/x.ts" > "$T/a.npy"
chk=$(npy_check "$T/a.npy")
is "magic and version 1.0" "${chk%% *}" '223NUMPY'
like "version 1 0, data aligned to 64 bytes" "$chk" "^[^ ]+ 1 0 [0-9]+ 0\|"
like "header dict: dtype, C order, shape (1000, 3)" "$chk" "\{'descr': '<f4', 'fortran_order': False, 'shape': \(1000, 3\), \}$"
hl=$(od -An -tu2 -j8 -N2 --endian=little "$T/a.npy" | tr -d ' ')
is "file size = header + 1000*3*4" "$(stat -c %s "$T/a.npy")" "$((10 + hl + 12000))"
# the data, as floats, equals the CSV values row-major
got=$(tail -c 12000 "$T/a.npy" | od -An -v -tf4 -w12 | awk '{printf "%g,%g,%g\n", $1, $2, $3}' | md5sum)
want=$(awk -F, 'NR>1{printf "%g,%g,%g\n", $2, $3, $4}' "$T/in.csv" | md5sum)
is "data bytes equal the input values, row-major" "$got" "$want"

to-npy "$T/x.ts" | cat > "$T/pipe.npy"
ok "through a pipe (spooled) gives the same bytes" cmp "$T/a.npy" "$T/pipe.npy"
ok "-o FILE gives the same bytes" to-npy -o "$T/o.npy" "$T/x.ts"
ok "-o content" cmp "$T/a.npy" "$T/o.npy"
echo "previous" > "$T/app.npy"; to-npy "$T/x.ts" >> "$T/app.npy"
ok ">> (append) is spooled, not patched at the wrong place" cmp <(tail -c +10 "$T/app.npy") "$T/a.npy"
ok "--keys FILE" to-npy --keys "$T/k.txt" -o "$T/o2.npy" "$T/x.ts"
is "keys one per line in row order" "$(sed -n '1p;1000p' "$T/k.txt" | tr '\n' ' ')" "k0 k999 "
is "as many keys as rows" "$(wc -l < "$T/k.txt")" "1000"

csv-clean --key id --cols c --name second "$T/in.csv" > "$T/y.ts" 2>/dev/null
cat "$T/x.ts" "$T/y.ts" > "$T/xy.ts"
to-npy --tensor second "$T/xy.ts" > "$T/s.npy"
like "--tensor picks the second tensor" "$(npy_check "$T/s.npy")" "'shape': \(1000, 1\)"
to-npy "$T/xy.ts" > "$T/f.npy"
ok "default: the first tensor" cmp "$T/a.npy" "$T/f.npy"

# errors
fails "a CSV piped by mistake" 1 "^to-npy: <stdin>: not a tensor stream: it starts with text" to-npy -o "$T/e.npy" < "$T/in.csv"
fails "empty input" 1 "empty input" to-npy -o "$T/e.npy" < /dev/null
head -c 200 "$T/x.ts" > "$T/cut.ts"
fails "truncated stream" 1 "truncated stream" to-npy -o "$T/e.npy" "$T/cut.ts"
is "no output file after failures" "$(ls "$T" | grep -c '^e.npy')" "0"
n=$(stat -c %s "$T/x.ts"); head -c $((n - 100)) "$T/x.ts" > "$T/cut2.ts"
to-npy "$T/cut2.ts" > "$T/part.npy" 2>/dev/null
is "a stream cut inside its block fails" "$?" "1"
is "a failed write to stdout has no .npy magic" "$(head -c 6 "$T/part.npy" | od -An -c | tr -d ' ')" "INCOMP"
fails "unknown tensor" 1 "no tensor named 'zz'" to-npy --tensor zz -o "$T/e.npy" "$T/xy.ts"
fails "bad option" 2 "unknown option" to-npy --bogus
fails "missing -o value" 2 "needs a value" to-npy "$T/x.ts" -o
ok "--help exits 0" to-npy --help
like "-V" "$(to-npy -V)" "^to-npy \(songpipe\)"
if command -v script >/dev/null; then
  script -qec "$BIN/to-npy $T/x.ts" /dev/null > "$T/tty.out" 2>&1; rc=$?
  is "refuses to write binary to a terminal (exit 2)" "$rc" "2"
  like "with a message" "$(cat "$T/tty.out")" "refusing to write binary output to a terminal"
else
  skip "terminal refusal" "script(1) is not installed"
fi
ln -s /dev/null "$T/null"
ok "-o a device (via a symlink to /dev/null) works" to-npy -o "$T/null" "$T/x.ts"
ok "and writes in place: the link is still there" test -L "$T/null"
