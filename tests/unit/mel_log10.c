/* mel_log10.c - unit test of mel_power_to_db's 16-lane log10f (common/mel.c):
 * its bytes are libm's, 10 log10f(max(amin, x)) - off, on every float in
 * [0.5, 2) (every mantissa the inner logf sees), on a stride through all
 * positive floats, and on vectors holding infinities, NaNs, zeros and
 * values below amin (which take libm's path). */
#include "check.h"
#include "mel.h"

#include <float.h>
#include <gnu/libc-version.h>
#include <stdint.h>
#include <string.h>

enum { N = 4096 };

/* the scalar definition, as mel.c had it before the vector path */
static float ref_db(float x, float fa, float off) { return 10.0f * log10f(x > fa ? x : fa) - off; }

/* floats with bits lo, lo+step, ... below hi, N at a time through
 * mel_power_to_db; returns how many differ from ref_db */
static long sweep(uint32_t lo, uint32_t hi, uint32_t step, double ref, double amin, long *count) {
    static float x[N], want[N];
    const float fa = (float)amin, off = (float)(10.0 * log10(ref > amin ? ref : amin));
    long bad = 0;
    uint64_t b = lo;
    while (b < hi) {
        int n = 0;
        for (; n < N && b < hi; n++, b += step) {
            uint32_t u = (uint32_t)b;
            memcpy(&x[n], &u, sizeof u);
            want[n] = ref_db(x[n], fa, off);
        }
        mel_power_to_db(x, (size_t)n, ref, amin);
        for (int i = 0; i < n; i++) bad += memcmp(&x[i], &want[i], sizeof x[i]) != 0;
        *count += n;
    }
    return bad;
}

int main(void) {
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
    /* glibc 2.28 .. 2.40 compute log10f as mel.c's copy does: in use there */
    int minor = 0;
    sscanf(gnu_get_libc_version(), "2.%d", &minor);
    if (minor >= 28 && minor <= 40)
        CHECK(mel_vec_log10_used(), "glibc %s: the 16-lane log10f matches libm's and is used", gnu_get_libc_version());
#endif
    long n = 0, bad = sweep(0x3f000000u, 0x40000000u, 1, 1.0, 1e-10, &n);
    CHECK(bad == 0, "every float in [0.5, 2): %ld of %ld differ from libm's 10 log10f (16-lane log10f %s)",
          bad, n, mel_vec_log10_used() ? "in use" : "not in use: libm's");
    n = 0;
    bad = sweep(0x00000001u, 0x7f800000u, 251, 1.0, 1e-30, &n);
    CHECK(bad == 0, "every 251st positive float, 1e-30 floor: %ld of %ld differ", bad, n);
    n = 0;
    bad = sweep(0x2edbe6ffu, 0x7f800000u, 1009, 3.5, 1e-10, &n);
    CHECK(bad == 0, "every 1009th float above 1e-10, ref 3.5: %ld of %ld differ", bad, n);

    float x[48], want[48];
    for (int i = 0; i < 48; i++) x[i] = (float)(i + 1) * 0.37f;
    x[3] = INFINITY; x[17] = NAN; x[20] = 0.0f; x[21] = -5.0f; x[22] = 1e-12f; x[40] = FLT_MAX; x[41] = FLT_MIN;
    for (int i = 0; i < 48; i++) want[i] = ref_db(x[i], 1e-10f, 0.0f);
    float mx = mel_power_to_db(x, 48, 1.0, 1e-10);
    CHECK(memcmp(x, want, sizeof x) == 0 && isinf(mx), "infinity, NaN, zero, negative, below amin, FLT_MAX: libm's bytes, max inf");
    for (int i = 0; i < 48; i++) x[i] = (float)(i + 1) * 1e-39f;     /* subnormal, amin below them */
    for (int i = 0; i < 48; i++) want[i] = ref_db(x[i], 1e-45f, (float)(10.0 * log10(1.0)));
    mel_power_to_db(x, 48, 1.0, 1e-45);
    CHECK(memcmp(x, want, sizeof x) == 0, "subnormal powers with a subnormal amin: libm's bytes");
    return CHECK_DONE();
}
