# prologue.bash - the start every tests/bench/*.sh shares (it sources this
# file first): strict mode and where things are.  BIN and PY come from
# `make bench` (the built stages, the Python of the references); SHARED is
# the shared data folder beside the checkout (may be absent).
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
PY=${PY:-/usr/bin/python3}
SHARED=${SHARED:-$ROOT/../shared/data}
