/* fdcheck.h - what the gradient tests share: random fills, a dot product
 * and the central finite-difference check.  The scalar checked is
 * L = sum(y * R) for a fixed random R, so dy = R.   */
#ifndef SONGPIPE_FDCHECK_H
#define SONGPIPE_FDCHECK_H
#include "check.h"
#include "../../common/rng.h"

#include <math.h>
#include <stddef.h>

static rng_state R;

static void fill(float *v, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng_float(&R);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Compare analytic gradient g[0..n) of f's scalar with respect to v[0..n)
 * against (f(v+e) - f(v-e)) / 2e; returns the largest error relative to
 * max(|fd|, |g|, 1e-2) (float arithmetic bounds how small it can get). */
typedef double (*scalar_fn)(void *ctx);
static double fd_error(float *v, const float *g, size_t n, scalar_fn f, void *ctx, float eps) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + eps;
        double up = f(ctx);
        v[i] = keep - eps;
        double down = f(ctx);
        v[i] = keep;
        double fd = (up - down) / (2.0 * eps);
        double e = fabs(fd - g[i]) / fmax(fmax(fabs(fd), fabs(g[i])), 1e-2);
        if (e > worst) worst = e;
    }
    return worst;
}
#endif
