# test_blas_kernels.sh - the tests that compare floats bit for bit, run again
# with every other OpenBLAS kernel set this CPU can execute.  OpenBLAS picks
# its kernels by CPU model (DYNAMIC_ARCH), so a machine of another kind runs
# other micro-kernels, with other summation orders: a bitwise comparison that
# holds only for the kernels of the machine a test was written on fails
# there (a 2-thread CNN model reloaded with 1 thread did, on SkylakeX and
# Prescott kernels).  Forcing OPENBLAS_CORETYPE brings those kernels here.
. "$(dirname "$0")/lib.sh"
UNITS=${UNITS:-$ROOT/build/rel/tests}
[ -d "$UNITS" ] || { skip "kernels" "no unit tests built in $UNITS"; exit 0; }

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { local f; for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
cores=(Prescott)                                   # SSE3: every x86-64
has avx fma avx2 && cores+=(Haswell)
has avx512f avx512bw avx512vl avx512dq avx512cd && cores+=(SkylakeX)

# the unit tests that go through BLAS, and the end-to-end tests whose
# results must not depend on the kernels (merged shards = one run)
units=(cnn_golden nn_golden nn_grad conv_grad knn mlp_io plneural)
e2e=(test_knn_shard test_merge)
for c in "${cores[@]}"; do
  for u in "${units[@]}"; do
    [ -x "$UNITS/$u" ] || { skip "$c $u" "not built"; continue; }
    if out=$(OPENBLAS_CORETYPE=$c "$UNITS/$u" 2>&1); then pass "$c kernels: unit/$u"
    else fail "$c kernels: unit/$u" "$(grep -m3 '^FAIL' <<<"$out")"; fi
  done
  [ "$c" = Prescott ] || continue   # the e2e tests once, with the kernels least like AVX-512
  for t in "${e2e[@]}"; do
    out=$(OPENBLAS_CORETYPE=$c bash "$ROOT/tests/$t.sh" 2>&1)
    n=$(grep -c '^FAIL' <<<"$out")
    if [ "$n" = 0 ] && grep -q '^PASS' <<<"$out"; then pass "$c kernels: $t"
    else fail "$c kernels: $t" "$n failures: $(grep -m3 '^FAIL' <<<"$out")"; fi
  done
done
