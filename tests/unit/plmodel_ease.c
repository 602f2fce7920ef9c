/* plmodel_ease.c - EASE^R (plmodel.h: plm_ease_*) against its closed form
 * computed here in double precision with a Gauss-Jordan inverse, on random
 * playlists: the weights B, the vocabulary (the V most played tracks), and
 * the ranking of random queries (each place holds a track whose score
 * equals the score ranked there, within float rounding). */
#include "check.h"
#include "plmodel.h"
#include "rng.h"

#include <string.h>

#define NT 30
#define NP 80

static double X[NP][NT];

/* inverse of the n x n matrix a (destroyed) into inv; 0 ok */
static int invert(int n, double a[][NT], double inv[][NT]) {
    for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) inv[i][j] = i == j;
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++) if (fabs(a[r][c]) > fabs(a[piv][c])) piv = r;
        if (fabs(a[piv][c]) < 1e-12) return -1;
        for (int j = 0; j < n; j++) {
            double x = a[c][j]; a[c][j] = a[piv][j]; a[piv][j] = x;
            x = inv[c][j]; inv[c][j] = inv[piv][j]; inv[piv][j] = x;
        }
        double d = a[c][c];
        for (int j = 0; j < n; j++) a[c][j] /= d, inv[c][j] /= d;
        for (int r = 0; r < n; r++) {
            if (r == c) continue;
            double f = a[r][c];
            for (int j = 0; j < n; j++) a[r][j] -= f * a[c][j], inv[r][j] -= f * inv[c][j];
        }
    }
    return 0;
}

int main(void) {
    rng_state r;
    rng_seed(&r, 11);
    char err[256], key[16];
    pl_set train;
    pl_init(&train);
    int added = 0;
    for (int p = 0; p < NP; p++) {
        int32_t t[10];
        int n = 2 + (int)rng_below(&r, 8);
        for (int i = 0; i < n; i++) t[i] = (int32_t)(rng_below(&r, 2) ? rng_below(&r, 10) : rng_below(&r, NT - 5));
        snprintf(key, sizeof key, "p%d", p);
        added += pl_add(&train, key, t, n, err, sizeof err) == 0;
        for (int i = 0; i < n; i++) X[p][t[i]] = 1;
    }
    CHECK(added == NP, "%d random playlists (tracks %d..%d never played)", added, NT - 5, NT - 1);
    plm_model m;
    CHECK(plm_build(&m, &train, NULL, NT, err, sizeof err) == 0, "model built");

    const int V = 12;
    const double lambda = 3;
    plm_ease_model e;
    int rc = plm_ease_build(&e, &m, V, lambda, err, sizeof err);
    CHECK(rc == 0 && e.V == V, "EASE over the %d most played tracks (%s)", V, rc ? err : "ok");
    if (rc) return CHECK_DONE();
    /* the closed form in double: G = X_V' X_V + lambda I, P = G^-1 */
    static double G[NT][NT], P[NT][NT];
    int voc[NT];
    for (int i = 0; i < V; i++) voc[i] = m.by_pop[i];
    for (int i = 0; i < V; i++)
        for (int j = 0; j < V; j++) {
            double s = 0;
            for (int p = 0; p < NP; p++) s += X[p][voc[i]] * X[p][voc[j]];
            G[i][j] = s + (i == j ? lambda : 0);
        }
    CHECK(invert(V, G, P) == 0, "the reference inverse");
    double worst = 0;
    for (int i = 0; i < V; i++)
        for (int j = 0; j < V; j++) {
            double b = i == j ? 0 : -P[i][j] / P[j][j], got = e.B[(size_t)i * V + j];
            double d = fabs(got - b) / (1e-3 + fabs(b));
            if (d > worst) worst = d;
        }
    CHECK(worst < 1e-4, "B = I - P diag(1/diag P) with a zero diagonal (worst relative error %.2g)", worst);
    int cols_ok = 1;
    for (int t = 0; t < NT; t++) {
        int want = -1;
        for (int i = 0; i < V; i++) if (voc[i] == t) want = i;
        cols_ok &= e.col_of[t] == want;
    }
    CHECK(cols_ok, "the vocabulary is the %d most played tracks, in popularity order", V);

    int bad = 0;
    for (int q = 0; q < 60; q++) {
        int32_t seeds[6], out[NT];
        int ns = 1 + (int)rng_below(&r, 4);
        for (int i = 0; i < ns; i++) seeds[i] = (int32_t)rng_below(&r, NT);
        if (q % 7 == 0) seeds[ns++] = seeds[0];            /* a repeated seed counts once */
        double score[NT];
        int seen[NT] = {0}, isseed[NT] = {0}, known = 0;
        for (int i = 0; i < ns; i++) isseed[seeds[i]] = 1;
        for (int j = 0; j < V; j++) score[j] = 0;
        for (int i = 0; i < ns; i++) {
            int c = e.col_of[seeds[i]];
            if (c < 0 || seen[seeds[i]]++) continue;
            known++;
            for (int j = 0; j < V; j++) score[j] += j == c ? 0 : -P[c][j] / P[j][j];
        }
        int64_t n = 15, k = plm_ease(&e, &m, "", seeds, ns, out, n);
        if (!known) { int32_t pop[NT]; bad += plm_popular(&m, seeds, ns, pop, n) != k || memcmp(pop, out, sizeof *out * (size_t)k); continue; }
        /* expected: vocabulary non-seeds by score, then the rest by popularity */
        double want[NT];
        int nw = 0;
        for (int j = 0; j < V; j++) if (!isseed[voc[j]]) want[nw++] = score[j];
        for (int i = 0; i < nw; i++) for (int j = i + 1; j < nw; j++) if (want[j] > want[i]) { double x = want[i]; want[i] = want[j]; want[j] = x; }
        int ok = k == n;
        for (int64_t i = 0; ok && i < k; i++) {
            int32_t t = out[i];
            ok &= t >= 0 && t < NT && !isseed[t];
            int c = e.col_of[t];
            if (i < nw) ok &= c >= 0 && CLOSE(score[c], want[i], 1e-5, 1e-4);
            else ok &= c < 0 && (i == nw || m.rank[t] > m.rank[out[i - 1]]);
        }
        bad += !ok;
    }
    CHECK(!bad, "random queries ranked as the closed form, then by popularity (%d of 60 wrong)", bad);
    plm_ease_model z;
    CHECK(plm_ease_build(&z, &m, V, 1e-9, err, sizeof err) == 0 || strstr(err, "positive definite"),
          "a tiny lambda either factorises or says the matrix is not positive definite");
    plm_ease_free(&z);
    plm_ease_free(&e);
    plm_free(&m);
    pl_free(&train);
    return CHECK_DONE();
}
