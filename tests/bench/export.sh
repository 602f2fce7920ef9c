#!/usr/bin/env bash
# bench/export.sh - to-npy and to-csv against the Python a user would write:
# tests/ts_read.py (numpy; CRC check off, TS_READ_VERIFY=0, since pure-Python
# CRC-32C would dominate) then np.save / np.savetxt.  BIN, PY from the caller.
. "$(dirname "$0")/prologue.bash"; set -u
ROWS=${ROWS:-200000}; COLS=${COLS:-32}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
awk -v n="$ROWS" -v c="$COLS" 'BEGIN{srand(1); printf "id"; for(j=0;j<c;j++) printf ",v%d", j; print "";
  for(i=0;i<n;i++){printf "k%d", i; for(j=0;j<c;j++) printf ",%.6f", rand(); print ""}}' > "$T/in.csv"
cols=$(head -1 "$T/in.csv" | cut -d, -f2-)
"$BIN/csv-clean" --cols "$cols" "$T/in.csv" > "$T/x.ts" 2>/dev/null
t() { local s=$(date +%s.%N); "$@" > /dev/null; awk -v a="$(date +%s.%N)" -v b="$s" 'BEGIN{print a-b}'; }
ratio() { awk -v a="$2" -v b="$3" -v w="$1" 'BEGIN{printf "bench %s: songpipe %.3f s, python %.3f s, ratio %.1f x\n", w, a, b, b/a}'; }
export PYTHONPATH=$ROOT/tests TS_READ_VERIFY=0
a=$(t "$BIN/to-npy" -o "$T/a.npy" "$T/x.ts")
b=$(t "$PY" -c "import ts_read, numpy as np; h,k,d=ts_read.load('$T/x.ts'); np.save('$T/b.npy', d)")
cmp "$T/a.npy" "$T/b.npy" >/dev/null || echo "bench to-npy: WARNING: outputs differ"
ratio "to-npy ${ROWS}x${COLS} f32" "$a" "$b"
a=$(t "$BIN/to-csv" -o "$T/a.csv" "$T/x.ts")
b=$(t "$PY" -c "
import ts_read, numpy as np
h,k,d=ts_read.load('$T/x.ts')
with open('$T/b.csv','w') as f:
    f.write('key,'+','.join(h['columns'])+'\n')
    np.savetxt(f, d, fmt='%.9g', delimiter=',')")
ratio "to-csv ${ROWS}x${COLS} f32" "$a" "$b"
a=$(t "$BIN/inspect" "$T/x.ts")
b=$(t "$PY" -c "
import ts_read, numpy as np
h,k,d=ts_read.load('$T/x.ts'); d=d.astype(np.float64)
print(np.nanmin(d,0), np.nanmean(d,0), np.nanmax(d,0), np.isnan(d).sum(0))")
ratio "inspect ${ROWS}x${COLS} f32" "$a" "$b"
