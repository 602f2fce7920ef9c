/* contrastive.c - the pair losses of common/contrastive.h: hand-computed
 * cases, PyTorch golden values (tests/ref/make_contrastive_golden.py) and
 * central finite differences of every gradient. */
#include "check.h"
#include "../../common/contrastive.h"
#include "../../common/rng.h"
#include "../ref/contrastive_golden.h"

#include <stdint.h>
#include <string.h>

static float work[4096];

static void test_hand(void) {
    /* orthonormal rows, tau 1: cosines are exactly 0 or 1 */
    const float I[] = {1, 0, 0, 1}, J[] = {0, 1, 1, 0};
    double l = nn_infonce(NULL, NULL, I, I, 2, 2, NULL, NULL, 1.0f, 1.0f, work);
    CHECK(CLOSE(l, log(1 + exp(-1.0)), 1e-6, 0), "infonce, aligned pairs: log(1 + e^-1) = %.6f", l);
    l = nn_infonce(NULL, NULL, I, J, 2, 2, NULL, NULL, 1.0f, 1.0f, work);
    CHECK(CLOSE(l, log(1 + exp(1.0)), 1e-6, 0), "infonce, swapped pairs: log(1 + e) = %.6f", l);
    /* logq: subtracting log 2 from one logit of each row */
    const float lq[] = {0, (float)log(2.0)};
    l = nn_infonce(NULL, NULL, I, I, 2, 2, lq, NULL, 1.0f, 1.0f, work);
    double want = 0.5 * (log(exp(1.0) + exp(-log(2.0))) - 1) + 0.5 * (log(1 + exp(1 - log(2.0))) - (1 - log(2.0)));
    CHECK(CLOSE(l, want, 1e-6, 0), "infonce with logq: %.6f (hand %.6f)", l, want);
    /* the same song twice: no negatives left, loss 0 */
    const int32_t same[] = {5, 5};
    l = nn_infonce(NULL, NULL, I, J, 2, 2, NULL, same, 1.0f, 1.0f, work);
    CHECK(CLOSE(l, 0, 1e-7, 0), "infonce, both positives the same song: 0 (%g)", l);
    l = nn_triplet(NULL, NULL, I, I, 2, 2, NULL, 0.3f, 1.0f, work);
    CHECK(l == 0, "triplet, aligned pairs beyond the margin: 0 (%g)", l);
    l = nn_triplet(NULL, NULL, I, J, 2, 2, NULL, 0.3f, 1.0f, work);
    CHECK(CLOSE(l, 1.3, 1e-6, 0), "triplet, swapped pairs: 0.3 - 0 + 1 = %.6f", l);
    /* scaled rows give the same loss (cosine) */
    const float I3[] = {3, 0, 0, 0.5f};
    double l3 = nn_infonce(NULL, NULL, I3, I, 2, 2, NULL, NULL, 1.0f, 1.0f, work);
    CHECK(CLOSE(l3, log(1 + exp(-1.0)), 1e-6, 0), "infonce is scale-free: %.6f", l3);
}

static double max_err(const float *a, const float *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) if (fabs((double)a[i] - b[i]) > w) w = fabs((double)a[i] - b[i]);
    return w;
}

static void test_golden(void) {
    float dA[GB * GD], dP[GB * GD];
    double l = nn_infonce(dA, dP, g_A, g_P, GB, GD, g_logq, g_ids, g_tau, 1.0f, work);
    CHECK(CLOSE(l, g_logq_loss, 1e-5, 1e-5), "infonce logq+ids: %.7f vs torch %.7f", l, g_logq_loss);
    CHECK(max_err(dA, g_logq_dA, GB * GD) < 2e-5 && max_err(dP, g_logq_dP, GB * GD) < 2e-5,
          "infonce logq+ids gradients vs torch (max err %.2g, %.2g)", max_err(dA, g_logq_dA, GB * GD), max_err(dP, g_logq_dP, GB * GD));
    l = nn_infonce(dA, dP, g_A, g_P, GB, GD, NULL, NULL, g_tau, 1.0f, work);
    CHECK(CLOSE(l, g_plain_loss, 1e-5, 1e-5), "infonce plain: %.7f vs torch %.7f", l, g_plain_loss);
    CHECK(max_err(dA, g_plain_dA, GB * GD) < 2e-5 && max_err(dP, g_plain_dP, GB * GD) < 2e-5,
          "infonce plain gradients vs torch (max err %.2g, %.2g)", max_err(dA, g_plain_dA, GB * GD), max_err(dP, g_plain_dP, GB * GD));
    l = nn_triplet(dA, dP, g_A, g_P, GB, GD, g_ids, g_margin, 1.0f, work);
    CHECK(CLOSE(l, g_triplet_loss, 1e-5, 1e-5), "triplet: %.7f vs torch %.7f", l, g_triplet_loss);
    CHECK(max_err(dA, g_triplet_dA, GB * GD) < 2e-5 && max_err(dP, g_triplet_dP, GB * GD) < 2e-5,
          "triplet gradients vs torch (max err %.2g, %.2g)", max_err(dA, g_triplet_dA, GB * GD), max_err(dP, g_triplet_dP, GB * GD));
    /* scale multiplies the gradient, not the loss */
    float dA2[GB * GD], dP2[GB * GD];
    nn_infonce(dA, dP, g_A, g_P, GB, GD, g_logq, g_ids, g_tau, 1.0f, work);
    double l2 = nn_infonce(dA2, dP2, g_A, g_P, GB, GD, g_logq, g_ids, g_tau, 0.5f, work);
    CHECK(CLOSE(l2, g_logq_loss, 1e-5, 1e-5) && CLOSE(dA2[3], 0.5 * dA[3], 1e-7, 1e-5), "scale halves the gradient only");
}

/* finite differences on random pairs, in double-checked float */
enum { FB = 7, FD = 5 };
static float A[FB * FD], P[FB * FD], LQ[FB];
static const int32_t IDS[FB] = {1, 2, 3, 1, 4, 5, 2};
static int which;
static double L(void) {
    return which ? nn_triplet(NULL, NULL, A, P, FB, FD, IDS, 0.5f, 1.0f, work)
                 : nn_infonce(NULL, NULL, A, P, FB, FD, LQ, IDS, 0.3f, 1.0f, work);
}

static double fd_check(float *v, const float *g, int n) {
    double worst = 0;
    const float eps = 1e-2f;
    for (int i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + eps; double up = L();
        v[i] = keep - eps; double dn = L();
        v[i] = keep;
        double fd = (up - dn) / (2.0 * eps);
        double e = fabs(fd - g[i]) / fmax(fmax(fabs(fd), fabs(g[i])), 1e-2);
        if (e > worst) worst = e;
    }
    return worst;
}

static void test_finite(void) {
    rng_state r;
    rng_seed(&r, 11);
    for (int i = 0; i < FB * FD; i++) { A[i] = 2 * rng_float(&r) - 1; P[i] = 0.6f * A[i] + 0.8f * (2 * rng_float(&r) - 1); }
    for (int i = 0; i < FB; i++) LQ[i] = logf(0.05f + 0.2f * rng_float(&r));
    for (which = 0; which < 2; which++) {
        float dA[FB * FD], dP[FB * FD];
        if (which) nn_triplet(dA, dP, A, P, FB, FD, IDS, 0.5f, 1.0f, work);
        else nn_infonce(dA, dP, A, P, FB, FD, LQ, IDS, 0.3f, 1.0f, work);
        double ea = fd_check(A, dA, FB * FD), ep = fd_check(P, dP, FB * FD);
        /* the triplet hinge has kinks: a finite step across one is off by a
         * bounded amount, so its tolerance is wider */
        double tol = which ? 5e-2 : 2e-2;
        CHECK(ea < tol && ep < tol, "%s: finite differences of dA, dP (worst relative error %.2g, %.2g)",
              which ? "triplet" : "infonce", ea, ep);
    }
}

int main(void) {
    test_hand();
    test_golden();
    test_finite();
    return CHECK_DONE();
}
