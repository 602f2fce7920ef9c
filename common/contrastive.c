/* contrastive.c - the pair losses of contrastive.h.  Similarities come from
 * one sgemm (C = U V^T), gradients from two more; per-row work is O(B). */
#include "contrastive.h"
#include "loss.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* U = rows of X divided by max(|x|, 1e-12); norm[i] keeps the divisor */
static void normalize_rows(float *U, float *norm, const float *X, int B, int d) {
    for (int i = 0; i < B; i++) {
        const float *x = X + (size_t)i * d;
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)x[k] * x[k];
        float n = (float)fmax(sqrt(s), 1e-12);
        norm[i] = n;
        for (int k = 0; k < d; k++) U[(size_t)i * d + k] = x[k] / n;
    }
}

/* dX = (dU - u (u . dU)) / |x| in place over dU (the normalisation's Jacobian);
 * below eps torch's clamp makes the divisor constant: dX = dU / eps */
static void normalize_backward(float *dX, const float *U, const float *norm, int B, int d) {
    for (int i = 0; i < B; i++) {
        float *g = dX + (size_t)i * d;
        const float *u = U + (size_t)i * d;
        if (norm[i] <= 1e-12f) { for (int k = 0; k < d; k++) g[k] /= norm[i]; continue; }
        double p = 0;
        for (int k = 0; k < d; k++) p += (double)u[k] * g[k];
        for (int k = 0; k < d; k++) g[k] = (g[k] - u[k] * (float)p) / norm[i];
    }
}

static int valid(const int32_t *ids, int i, int j) { return i == j || !ids || ids[i] != ids[j]; }

/* C[B,B] = U V^T with U, V the normalised A, P; work layout: C, G, U, V */
static void cosines(float *work, const float *A, const float *P, int B, int d, float *na, float *np) {
    float *C = work, *U = work + 2 * (size_t)B * B, *V = U + (size_t)B * d;
    normalize_rows(U, na, A, B, d);
    normalize_rows(V, np, P, B, d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, d, 1.0f, U, d, V, d, 0.0f, C, B);
}

/* dA = G V, dP = G^T U, then back through the normalisation */
static void grads(float *dA, float *dP, float *work, int B, int d, const float *na, const float *np) {
    const float *G = work + (size_t)B * B, *U = work + 2 * (size_t)B * B, *V = U + (size_t)B * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, 1.0f, G, B, V, d, 0.0f, dA, d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, d, B, 1.0f, G, B, U, d, 0.0f, dP, d);
    normalize_backward(dA, U, na, B, d);
    normalize_backward(dP, V, np, B, d);
}

double nn_infonce(float *dA, float *dP, const float *A, const float *P, int B, int d,
                  const float *logq, const int32_t *ids, float tau, float scale, float *work) {
    float *na = work + 2 * (size_t)B * B + 2 * (size_t)B * d, *np = na + B;
    cosines(work, A, P, B, d, na, np);
    float *C = work, *G = work + (size_t)B * B;
    double sum = 0;
    const float inv = 1.0f / tau, g = scale / (float)B;
    for (int i = 0; i < B; i++) {
        float *c = C + (size_t)i * B, *gr = G + (size_t)i * B;
        /* logits in gr, then softmax */
        float mx = -INFINITY;
        for (int j = 0; j < B; j++) {
            if (!valid(ids, i, j)) { gr[j] = -INFINITY; continue; }
            gr[j] = c[j] * inv - (logq ? logq[j] : 0.0f);
            if (gr[j] > mx) mx = gr[j];
        }
        /* the exponentials into c (its cosines are read): expf's bits, the
         * masked (-inf) logits 0, vectorised (loss.h) */
        const float sii = gr[i];
        nn_expf_shifted(c, gr, mx, B);
        double se = 0;
        for (int j = 0; j < B; j++) se += c[j];
        sum += (double)mx + log(se) - sii;
        /* dL/dc_ij = (softmax_ij - [i == j]) / tau / B */
        const float f = g * inv / (float)se;
        for (int j = 0; j < B; j++) gr[j] = c[j] * f;
        gr[i] -= g * inv;
    }
    if (dA && dP) grads(dA, dP, work, B, d, na, np);
    return sum / B;
}

double nn_triplet(float *dA, float *dP, const float *A, const float *P, int B, int d,
                  const int32_t *ids, float margin, float scale, float *work) {
    float *na = work + 2 * (size_t)B * B + 2 * (size_t)B * d, *np = na + B;
    cosines(work, A, P, B, d, na, np);
    float *C = work, *G = work + (size_t)B * B;
    double sum = 0;
    const float g = scale / (float)B;
    for (int i = 0; i < B; i++) {
        const float *c = C + (size_t)i * B;
        float *gr = G + (size_t)i * B;
        int nv = 0;
        for (int j = 0; j < B; j++) nv += j != i && valid(ids, i, j);
        memset(gr, 0, sizeof *gr * (size_t)B);
        if (!nv) continue;
        double row = 0;
        const float w = g / (float)nv;
        for (int j = 0; j < B; j++) {
            if (j == i || !valid(ids, i, j)) continue;
            float h = margin - c[i] + c[j];
            if (h > 0) {             /* torch's relu: gradient 0 at exactly 0 */
                row += h;
                gr[j] += w;
                gr[i] -= w;
            }
        }
        sum += row / nv;
    }
    if (dA && dP) grads(dA, dP, work, B, d, na, np);
    return sum / B;
}
