# lib.sh - helpers for the end-to-end tests.  Each check prints one
# "PASS: name" or "FAIL: name: why" line; tests/run.sh counts them.
# Variables: BIN (the binaries), T (a scratch folder removed at exit),
# ROOT (the project), SHARED (../shared/data, may be absent).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
SHARED=${SHARED:-$ROOT/../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PATH="$BIN:$PATH"
_name=$(basename "$0" .sh)

pass() { echo "PASS: $_name: $1"; }
fail() { echo "FAIL: $_name: $1${2:+: $2}"; }

# sanitized NAME: the stderr a check kept holds no sanitizer report (run.sh
# sees only what a test prints, so a report from a command whose stderr
# went to a file would otherwise go unseen)
sanitized() {
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/.err" 2>/dev/null; then
    fail "$1" "sanitizer report: $(grep -m2 -E 'ERROR: |runtime error:' "$T/.err")"; return 1
  fi
}
# ok NAME CMD...: passes when CMD exits 0
ok() {
  local n=$1; shift
  if "$@" >"$T/.out" 2>"$T/.err"; then sanitized "$n" && pass "$n"; else fail "$n" "exit $? : $(head -c 400 "$T/.err")"; fi
}
# is NAME GOT WANT: string equality
is() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# like NAME TEXT REGEX
like() { if grep -Eq -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "'$(head -c 300 <<<"$2")' does not match /$3/"; fi; }
# fails NAME CODE REGEX CMD...: CMD exits with CODE and stderr matches REGEX
fails() {
  local n=$1 code=$2 re=$3; shift 3
  "$@" >"$T/.out" 2>"$T/.err"; local rc=$?
  if [ "$rc" != "$code" ]; then fail "$n" "exit $rc, want $code; stderr: $(head -c 300 "$T/.err")"
  elif ! grep -Eq -- "$re" "$T/.err"; then fail "$n" "stderr '$(head -c 300 "$T/.err")' does not match /$re/"
  elif sanitized "$n"; then pass "$n"; fi
}
# near NAME GOT WANT TOL: numbers within TOL
near() { if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN{d=a-b; if(d<0)d=-d; exit !(d<=t)}'; then pass "$1"; else fail "$1" "got $2, want $3 +- $4"; fi; }
# skip NAME WHY: a check that cannot run here (counted as skipped)
skip() { echo "SKIP: $_name: $1: $2"; }
