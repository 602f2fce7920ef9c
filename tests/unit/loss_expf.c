/* loss_expf.c - nn_expf_shifted (the vectorised expf of the softmax heads)
 * against the C library's expf, and nn_loss_ce against the plain loop it
 * replaced (scalar expf, one double sum left to right).
 *
 * The vector exp repeats glibc's x86-64 FMA expf operation for operation, so
 * where glibc runs that variant (a CPU with FMA) every result must be the
 * same bit pattern; elsewhere (another libm) within 1 ulp.  Inputs: a
 * stride through all 2^32 bit patterns, the edges of the special cases and
 * subnormal results.  (A one-off pass over all 2^32 floats matched too.) */
#include "check.h"
#include "../../common/loss.h"

#include <stdint.h>
#include <string.h>

static float f_of(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
static uint32_t u_of(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

static int64_t ulps(float a, float b) {
    int64_t ia = (int32_t)u_of(a), ib = (int32_t)u_of(b);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? ia - ib : ib - ia;
}

enum { NX = 1 << 16 };
static float xs[NX], ys[NX];

/* compares n values already in xs; returns the mismatches */
static long compare(int n, float shift, int exact, long *worst_ulp) {
    nn_expf_shifted(ys, xs, shift, n);
    long bad = 0;
    for (int i = 0; i < n; i++) {
        float want = expf(xs[i] - shift);
        if (isnan(want)) { bad += !isnan(ys[i]); continue; }
        int64_t d = ulps(ys[i], want);
        if (d > *worst_ulp) *worst_ulp = d;
        bad += exact ? u_of(ys[i]) != u_of(want) : d > 1;
    }
    return bad;
}

static void test_expf(void) {
    const int exact = __builtin_cpu_supports("fma");
    long bad = 0, worst = 0, n_checked = 0;
    /* a stride through every bit pattern (4099 is odd: all residues visited) */
    uint64_t u = 0;
    while (u < ((uint64_t)1 << 32)) {
        int n = 0;
        for (; n < NX && u < ((uint64_t)1 << 32); n++, u += 4099) xs[n] = f_of((uint32_t)u);
        bad += compare(n, 0.0f, exact, &worst);
        n_checked += n;
    }
    /* edges: overflow / underflow thresholds and their neighbours, zeros,
     * infinities, NaN, the subnormal results between -87.3 and -103.97 */
    const float edges[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 0x1.62e42ep6f, -0x1.9fe368p6f,
                           -0x1.9d1d9ep6f, -88.0f, 88.0f, 1e-30f, -1e-30f, 1.0f, -1.0f};
    int n = 0;
    for (size_t k = 0; k < sizeof edges / sizeof *edges; k++)
        for (int d = -3; d <= 3; d++) {
            float e = edges[k];
            if (isfinite(e) && e != 0) e = f_of(u_of(e) + (uint32_t)d);
            xs[n++] = e;
        }
    for (int k = 0; k < 2000; k++) xs[n++] = -87.0f - 17.0f * (float)k / 2000;
    bad += compare(n, 0.0f, exact, &worst);
    n_checked += n;
    CHECK(bad == 0, "expf of %ld floats: %ld differ from the C library's expf (%s; worst %ld ulp)",
          n_checked, bad, exact ? "bit for bit" : "within 1 ulp", worst);

    /* the shift is subtracted in float first, as expf(z - max) */
    for (int i = 0; i < 1000; i++) xs[i] = -50.0f + 0.1f * (float)i;
    worst = 0;
    bad = compare(1000, 3.3f, exact, &worst) + compare(1000, -7.25f, exact, &worst);
    CHECK(bad == 0, "expf(x - shift) as the C library computes it (%ld differ)", bad);
}

/* the loop nn_loss_ce had before its exponentials were vectorised */
static double ce_ref(float *dz, const float *z, int ldz, const float *t, int B, int C, float scale) {
    double sum = 0;
    const float g = scale / (float)B;
    for (int i = 0; i < B; i++) {
        const float *zr = z + (size_t)i * ldz;
        float *dr = dz + (size_t)i * ldz;
        const int y = (int)t[i];
        float mx = zr[0];
        for (int c = 1; c < C; c++) if (zr[c] > mx) mx = zr[c];
        double se = 0;
        for (int c = 0; c < C; c++) { float e = expf(zr[c] - mx); se += e; dr[c] = e; }
        sum += (double)mx + log(se) - zr[y];
        const float f = g / (float)se;
        for (int c = 0; c < C; c++) dr[c] *= f;
        dr[y] -= g;
    }
    return sum / B;
}

static void test_ce(void) {
    enum { B = 5, C = 2500, LD = 2503 };    /* past two 1024-wide chunks, odd tail */
    static float z[B * LD], dz[B * LD], dref[B * LD], zcopy[B * LD];
    float t[B] = {0, 1023, 1024, 2499, 7};
    uint64_t s = 12345;
    for (int i = 0; i < B * LD; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        z[i] = (float)((double)(s >> 40) / (double)(1 << 24) * 40.0 - 20.0);
    }
    double l = nn_loss_ce(dz, z, LD, t, 1, B, C, 0.7f);
    double lr = ce_ref(dref, z, LD, t, B, C, 0.7f);
    double worst = 0;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            double d = fabs((double)dz[i * LD + c] - dref[i * LD + c]);
            if (d > worst) worst = d;
        }
    /* the sum of the exponentials now runs in 8 lanes: the same terms, added
     * in another order, so equal to double rounding (then rounded to float) */
    CHECK(CLOSE(l, lr, 0, 1e-14), "ce loss %.17g, the plain loop %.17g", l, lr);
    CHECK(worst <= 1e-9, "ce gradient within 1e-9 of the plain loop's (worst %.3g)", worst);
    double l2 = nn_loss_ce(NULL, z, LD, t, 1, B, C, 0.7f);
    CHECK(l2 == l, "ce loss without the gradient is the same value (%.17g, %.17g)", l2, l);
    /* the gradient written over the logits themselves (dz == z) */
    memcpy(zcopy, z, sizeof z);
    double l3 = nn_loss_ce(zcopy, zcopy, LD, t, 1, B, C, 0.7f);
    int same = 1;
    for (int i = 0; i < B; i++) same &= memcmp(zcopy + i * LD, dz + i * LD, sizeof(float) * C) == 0;
    CHECK(l3 == l && same,
          "ce with dz over z: the same loss and gradient");
}

int main(void) {
    test_expf();
    test_ce();
    return CHECK_DONE();
}
