/* loss.c - the losses of loss.h, accumulated in double. */
#include "loss.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static const char *const loss_names[NN_NLOSS] = {"mse", "mae", "bce", "ce", "infonce", "triplet"};

const char *nn_loss_name(nn_loss l) { return (unsigned)l < NN_NLOSS ? loss_names[l] : "?"; }

int nn_loss_parse(const char *s, nn_loss *l) {
    for (int i = 0; i < NN_NLOSS; i++)
        if (strcmp(s, loss_names[i]) == 0) { *l = (nn_loss)i; return 0; }
    if (strcmp(s, "cross_entropy") == 0 || strcmp(s, "softmax_ce") == 0) { *l = NN_LOSS_CE; return 0; }
    return -1;
}

double nn_loss_mse(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale) {
    double sum = 0, N = (double)B * n;
    float g = (float)(2.0 / N) * scale;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++) {
            float d = p[(size_t)i * ldp + j] - t[(size_t)i * ldt + j];
            sum += (double)d * d;
            if (dp) dp[(size_t)i * ldp + j] = g * d;
        }
    return sum / N;
}

double nn_loss_mae(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale) {
    double sum = 0, N = (double)B * n;
    float g = (float)(1.0 / N) * scale;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++) {
            float d = p[(size_t)i * ldp + j] - t[(size_t)i * ldt + j];
            sum += fabs((double)d);
            if (dp) dp[(size_t)i * ldp + j] = d > 0 ? g : d < 0 ? -g : 0.0f;
        }
    return sum / N;
}

double nn_loss_bce(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale) {
    double sum = 0, N = (double)B * n;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++) {
            double pv = p[(size_t)i * ldp + j], tv = t[(size_t)i * ldt + j];
            double lp = fmax(log(pv), -100.0), l1p = fmax(log1p(-pv), -100.0);
            sum -= tv * lp + (1 - tv) * l1p;
            if (dp)
                dp[(size_t)i * ldp + j] =
                    (float)((pv - tv) / fmax(pv * (1 - pv), 1e-12) / N) * scale;
        }
    return sum / N;
}

/* ---------- expf, many at a time ----------
 * glibc's expf (2.27 on, the Arm optimized-routines algorithm by Szabolcs
 * Nagy, e_expf.c): x*32/ln2 = k + r, exp(x) = 2^(k/32) * p(r) with a cubic
 * p in double, rounded once to float.  Written here as a branch-free loop
 * over an array so that GCC vectorises it (8 doubles a vector with AVX-512);
 * the operations are glibc's x86-64 FMA variant (__expf_fma) one for one, so
 * every result is the bit pattern expf returns there (tests/unit/loss_expf.c
 * compares them; an exhaustive pass over all 2^32 floats matched).  The
 * scalar expf call was most of the softmax heads' time. */
static const uint64_t exp2_tab[32] = {
    /* bits of 2^(i/32) rounded to double, minus i << 47 (glibc's __exp2f_data.tab) */
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

void nn_expf_shifted(float *restrict y, const float *restrict x, float shift, int n) {
    const double invln2n = 0x1.71547652b82fep+0 * 32, big = 0x1.8p+52;
    const double c0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32, c1 = 0x1.ebfce50fac4f3p-3 / 32 / 32,
                 c2 = 0x1.62e42ff0c52d6p-1 / 32;
    for (int i = 0; i < n; i++) {
        const float xf = x[i] - shift;
        const double xd = xf;
        double kd = fma(invln2n, xd, big);           /* k in the low bits */
        uint64_t ki, t;
        memcpy(&ki, &kd, sizeof ki);
        kd -= big;
        const double r = fma(invln2n, xd, -kd);
        t = exp2_tab[ki & 31] + (ki << 47);           /* 2^(k/32) */
        double s;
        memcpy(&s, &t, sizeof s);
        const double z = fma(c0, r, c1), r2 = r * r;
        const double p = fma(z, r2, fma(c2, r, 1.0)) * s;
        const float v = (float)p;
        /* below -103.97 the result is 0 (and -inf), above 88.72 +inf; as
         * masks, not branches, so the loop stays vectorised */
        const uint32_t lo = xf < -0x1.9fe368p6f, hi = xf > 0x1.62e42ep6f;
        uint32_t vb;
        memcpy(&vb, &v, sizeof vb);
        vb = (vb & ~(-(lo | hi))) | (0x7f800000u & -hi);
        memcpy(&y[i], &vb, sizeof vb);
    }
}

/* the largest of z[0..C): as the scalar loop `if (z[c] > m) m = z[c]` (a NaN
 * at z[0] stays, later ones are skipped), in 16 lanes so it vectorises */
static float row_max(const float *z, int C) {
    float m[16];
    for (int j = 0; j < 16; j++) m[j] = z[0];
    int c = 0;
    for (; c + 16 <= C; c += 16)
        for (int j = 0; j < 16; j++) m[j] = z[c + j] > m[j] ? z[c + j] : m[j];
    float mx = m[0];
    for (int j = 1; j < 16; j++) mx = m[j] > mx ? m[j] : mx;
    for (; c < C; c++) mx = z[c] > mx ? z[c] : mx;
    return mx;
}

enum { CE_CHUNK = 1024 };       /* a multiple of 8: the lanes of the sum */

double nn_loss_ce(float *dz, const float *z, int ldz, const float *t, int ldt,
                  int B, int C, float scale) {
    double sum = 0;
    const float g = scale / (float)B;
    float e[CE_CHUNK];
    for (int i = 0; i < B; i++) {
        const float *zr = z + (size_t)i * ldz;
        float *dr = dz ? dz + (size_t)i * ldz : NULL;
        const int y = (int)t[(size_t)i * ldt];
        const float zy = zr[y];
        const float mx = row_max(zr, C);
        /* one exp per logit: kept in dz (when asked) and normalised below.
         * The sum runs in 8 double lanes (logit c into lane c % 8), added
         * pairwise at the end: a fixed order, no longer left to right */
        double lane[8] = {0};
        /* straight into dz when it does not overlap z, else through e */
        const int direct = dr && (dr + C <= zr || zr + C <= dr);
        for (int c0 = 0; c0 < C; c0 += CE_CHUNK) {
            const int n = C - c0 < CE_CHUNK ? C - c0 : CE_CHUNK;
            float *ec = direct ? dr + c0 : e;
            nn_expf_shifted(ec, zr + c0, mx, n);
            int k = 0;
            for (; k + 8 <= n; k += 8)
                for (int j = 0; j < 8; j++) lane[j] += ec[k + j];
            for (int j = 0; k < n; k++, j++) lane[j] += ec[k];
            if (dr && !direct) memcpy(dr + c0, e, sizeof *e * (size_t)n);
        }
        const double se = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                          ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        sum += (double)mx + log(se) - zy;
        if (dr) {
            const float f = g / (float)se;
            for (int c = 0; c < C; c++) dr[c] *= f;
            dr[y] -= g;
        }
    }
    return sum / B;
}

void nn_softmax(float *y, int ldy, const float *z, int ldz, int B, int C) {
    for (int i = 0; i < B; i++) {
        const float *zr = z + (size_t)i * ldz;
        float *yr = y + (size_t)i * ldy;
        float mx = zr[0];
        for (int c = 1; c < C; c++) if (zr[c] > mx) mx = zr[c];
        double se = 0;
        for (int c = 0; c < C; c++) se += exp((double)zr[c] - mx);
        for (int c = 0; c < C; c++) yr[c] = (float)(exp((double)zr[c] - mx) / se);
    }
}
