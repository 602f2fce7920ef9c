#!/usr/bin/env bash
# run.sh - runs every unit test binary ($UNITS/*) and every end-to-end test
# (tests/test_*.sh), counts PASS/FAIL lines, and ends with "N passed, N failed".
# A test program that exits non-zero without printing a FAIL counts as a failure.
# ONLY=pattern runs only the tests whose name matches.
set -u
cd "$(dirname "$0")/.."
export BIN=${BIN:-$PWD/bin} UNITS=${UNITS:-$PWD/build/rel/tests}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# tests that run make start a fresh one: under `make -j2 test` the parent's
# jobserver flags would otherwise leak in and make warns
unset MAKEFLAGS MFLAGS MAKELEVEL
passed=0 failed=0 skipped=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
run_one() {
  local name=$1; shift
  [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]] && return
  local t0=$SECONDS
  "$@" >"$log" 2>&1; local rc=$?
  local p f s
  p=$(grep -c '^PASS: ' "$log"); f=$(grep -c '^FAIL: ' "$log"); s=$(grep -c '^SKIP: ' "$log")
  grep -E '^(FAIL|SKIP): ' "$log"
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    echo "FAIL: $name: exited $rc without a FAIL line; its output ends:"; tail -n 15 "$log" | sed 's/^/    /'
    f=1
  elif grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
    echo "FAIL: $name: sanitizer report:"; grep -m5 -E 'ERROR: |runtime error:' "$log" | sed 's/^/    /'
    f=$((f + 1))
  fi
  printf '%-28s %4d passed %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}
for u in "$UNITS"/*; do [ -x "$u" ] && run_one "unit/$(basename "$u")" "$u"; done
for t in tests/test_*.sh; do [ -f "$t" ] && run_one "$(basename "$t" .sh)" bash "$t"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
