/* plmodel_recency.c - seed position weighting (plmodel.h: plm_seed_weight,
 * plm_graph_opts.recency, plm_als_model.recency) on random playlists: the
 * weights themselves (exp(-R (ns - 1 - i)), a repeated seed at its last
 * place, exactly 1 at R = 0); itemknn and RP3beta rank as the dense sum of
 * the seeds' rows each times its weight, and not as the unweighted sum;
 * the ALS fold-in equals a direct solve with confidence 1 + alpha w per
 * seed, its list is not the unweighted one, and R = 0 gives that one back. */
#include "check.h"
#include "plmodel.h"
#include "rng.h"

#include <string.h>

#define NT 40
#define NP 60
#define F 5

static double A[NP][NT];          /* binary playlist x track */
static double len[NP], deg[NT];

/* the graph models' row of seed s (neighbours 0, power 1), times w, added to score */
static void add_naive_row(const plm_graph_opts *o, int s, double w, double *score) {
    double row[NT] = {0}, top = 0;
    for (int t = 0; t < NT; t++) {
        if (t == s) continue;
        double c = 0;
        int has = 0;
        for (int p = 0; p < NP; p++) {
            if (!A[p][s] || !A[p][t]) continue;
            has = 1;
            c += o->kind == PLM_RP3BETA ? pow(1.0 / (deg[s] * len[p]), o->alpha) : 1;
        }
        if (!has) continue;
        row[t] = o->kind == PLM_RP3BETA ? c / pow(deg[t], o->beta)
                                        : c / (pow(deg[s], o->alpha) * pow(deg[t], 1 - o->alpha) + o->shrink);
        if (row[t] > top) top = row[t];
    }
    for (int t = 0; t < NT; t++) score[t] += w * (o->row_norm && top > 0 ? row[t] / top : row[t]);
}

/* the weighted (R) or unweighted (R = 0) naive score; -1 for a seed */
static void naive(const plm_graph_opts *o, double R, const int32_t *seeds, int ns, double *score) {
    for (int t = 0; t < NT; t++) score[t] = 0;
    for (int i = 0; i < ns; i++) {
        int first = 1, last = i;
        for (int j = 0; j < i; j++) first &= seeds[j] != seeds[i];
        if (!first) continue;
        for (int j = i + 1; j < ns; j++) if (seeds[j] == seeds[i]) last = j;
        add_naive_row(o, seeds[i], exp(-R * (ns - 1 - last)), score);
    }
    for (int i = 0; i < ns; i++) score[seeds[i]] = -1;
}

/* every scored place of out holds a track whose naive score is the one
 * ranked there (ties within rounding may go either way) */
static int ranked_like(const double *score, const int32_t *out, int64_t k) {
    double sorted[NT];
    int n = 0;
    for (int t = 0; t < NT; t++) if (score[t] > 0) sorted[n++] = score[t];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) if (sorted[j] > sorted[i]) { double x = sorted[i]; sorted[i] = sorted[j]; sorted[j] = x; }
    for (int64_t i = 0; i < k && i < n; i++)
        if (out[i] < 0 || out[i] >= NT || !CLOSE(score[out[i]], sorted[i], 1e-12, 1e-5)) return 0;
    return k == 20;
}

/* solves the n x n system A x = b in double (Gauss with pivoting) */
static void solve(int n, double M[F][F], double *b, double *x) {
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++) if (fabs(M[r][c]) > fabs(M[piv][c])) piv = r;
        for (int j = 0; j < n; j++) { double t = M[c][j]; M[c][j] = M[piv][j]; M[piv][j] = t; }
        double t = b[c]; b[c] = b[piv]; b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = M[r][c] / M[c][c];
            for (int j = c; j < n; j++) M[r][j] -= f * M[c][j];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int j = r + 1; j < n; j++) s -= M[r][j] * x[j];
        x[r] = s / M[r][r];
    }
}

/* the fold-in of Hu et al. with confidence 1 + alpha w[i] on seed obs[i] */
static void direct_weighted(const plm_als_model *a, const int *obs, const double *w, int nobs, double *x) {
    double M[F][F] = {{0}}, b[F] = {0};
    for (int r = 0; r < a->ntracks; r++)
        for (int i = 0; i < F; i++)
            for (int j = 0; j < F; j++) M[i][j] += (double)a->Y[r * F + i] * a->Y[r * F + j];
    for (int i = 0; i < F; i++) M[i][i] += a->lambda;
    for (int o = 0; o < nobs; o++) {
        const float *y = a->Y + obs[o] * F;
        for (int i = 0; i < F; i++) {
            b[i] += (1 + a->alpha * w[o]) * y[i];
            for (int j = 0; j < F; j++) M[i][j] += a->alpha * w[o] * (double)y[i] * y[j];
        }
    }
    solve(F, M, b, x);
}

int main(void) {
    /* the weights */
    int32_t s5[] = {3, 8, 3, 9, 1};
    CHECK(plm_seed_weight(0, s5, 5, 0) == 1 && plm_seed_weight(0, s5, 5, 4) == 1, "recency 0: every seed weighs exactly 1");
    CHECK(plm_seed_weight(0.5, s5, 5, 4) == 1 && CLOSE(plm_seed_weight(0.5, s5, 5, 1), exp(-1.5), 0, 1e-15) &&
          CLOSE(plm_seed_weight(0.5, s5, 5, 3), exp(-0.5), 0, 1e-15),
          "recency 0.5: the last seed 1, three places back exp(-1.5)");
    CHECK(CLOSE(plm_seed_weight(0.5, s5, 5, 0), exp(-1.0), 0, 1e-15), "a repeated seed (places 1 and 3 of 5) weighs as at its last place");

    rng_state r;
    rng_seed(&r, 11);
    char err[256], key[16];
    pl_set train;
    pl_init(&train);
    for (int p = 0; p < NP; p++) {
        int32_t t[12];
        int n = 2 + (int)rng_below(&r, 10);
        for (int i = 0; i < n; i++) t[i] = (int32_t)(rng_below(&r, 3) ? rng_below(&r, NT / 2) : rng_below(&r, NT));
        snprintf(key, sizeof key, "p%d", p);
        pl_add(&train, key, t, n, err, sizeof err);
        for (int i = 0; i < n; i++) A[p][t[i]] = 1;
    }
    for (int p = 0; p < NP; p++) for (int t = 0; t < NT; t++) { len[p] += A[p][t]; deg[t] += A[p][t]; }
    plm_model m;
    CHECK(plm_build(&m, &train, NULL, NT, err, sizeof err) == 0, "model built");

    /* the graph models: the weighted sum, which is not the plain sum */
    plm_graph_opts cases[] = {plm_graph_defaults(PLM_ITEMKNN), plm_graph_defaults(PLM_RP3BETA),
                              {PLM_ITEMKNN, 0.5, 0, 0, 0, 1, 0, 1, 0}, {PLM_RP3BETA, 0.7, 0.3, 0, 0, 1, 0, 0, 0}};
    const double rates[] = {0.3, 1.0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (size_t ri = 0; ri < 2; ri++) {
            plm_graph_opts o = cases[c];
            o.recency = rates[ri];
            int bad = 0, unlike_plain = 0;
            for (int q = 0; q < 40; q++) {
                int32_t seeds[8], out[NT];
                int ns = 2 + (int)rng_below(&r, 5);
                for (int i = 0; i < ns; i++) seeds[i] = (int32_t)rng_below(&r, NT / 2);
                if (q % 8 == 0) seeds[ns++] = seeds[0];        /* repeated: weighs as its last place */
                double score[NT], plain[NT];
                naive(&o, o.recency, seeds, ns, score);
                naive(&o, 0, seeds, ns, plain);
                int64_t k = plm_graph(&m, &o, "", seeds, ns, out, 20);
                bad += !ranked_like(score, out, k);
                unlike_plain += !ranked_like(plain, out, k);
            }
            CHECK(!bad && unlike_plain >= 5,
                  "%s alpha %.1f row_norm %d recency %.1f: %d of 40 queries ranked as the weighted rows, %d not as the plain sum",
                  o.kind == PLM_ITEMKNN ? "itemknn" : "rp3beta", o.alpha, o.row_norm, o.recency, 40 - bad, unlike_plain);
        }

    /* a large R over many seeds: every weight but the last ones underflows
     * to 0 (under SAN=1 this caught g_qt written past its ntracks tracks,
     * a track listed again by every row adding 0 to it) */
    for (size_t c = 0; c < 2; c++) {
        plm_graph_opts o = cases[c];
        o.recency = 100;
        int32_t many[NT / 2], out[NT];
        for (int i = 0; i < NT / 2; i++) many[i] = (int32_t)i;
        double score[NT];
        naive(&o, o.recency, many, NT / 2, score);
        int64_t k = plm_graph(&m, &o, "", many, NT / 2, out, 20);
        CHECK(ranked_like(score, out, k), "%s recency 100 over %d seeds: the weights of all but the last underflow; ranked as the formula",
              o.kind == PLM_ITEMKNN ? "itemknn" : "rp3beta", NT / 2);
    }

    /* ALS: the weighted fold-in = the direct solve with per-seed confidences */
    plm_als_opts ao = {.factors = F, .iterations = 6, .cg_steps = 3, .lambda = 0.5, .alpha = 8, .seed = 3};
    plm_als_model a;
    CHECK(plm_als_train(&a, &m, &ao, NULL, NULL, err, sizeof err) == 0 && a.recency == 0, "ALS trained, recency 0");
    int32_t seeds[] = {1, 4, 9, 4, 7};
    int obs[] = {1, 4, 9, 7};
    double w[] = {exp(-0.8 * 4), exp(-0.8 * 1), exp(-0.8 * 2), 1}, want[F];
    float x0[F], xw[F];
    int32_t l0[20], lw[20];
    int k0 = plm_als_fold_in(&a, seeds, 5, x0);
    int64_t n0 = plm_als(&a, &m, "", seeds, 5, l0, 20);
    a.recency = 0.8;
    int kw = plm_als_fold_in(&a, seeds, 5, xw);
    int64_t nw = plm_als(&a, &m, "", seeds, 5, lw, 20);
    direct_weighted(&a, obs, w, 4, want);
    double worst = 0, moved = 0;
    for (int k = 0; k < F; k++) {
        if (fabs(want[k] - xw[k]) > worst) worst = fabs(want[k] - xw[k]);
        if (fabs(x0[k] - xw[k]) > moved) moved = fabs(x0[k] - xw[k]);
    }
    CHECK(k0 == 4 && kw == 4 && worst < 1e-4 && moved > 1e-3,
          "recency 0.8: the fold-in of 4 distinct seeds = the direct solve with confidences 1 + alpha w (worst %.2g; %.2g from the unweighted)",
          worst, moved);
    CHECK(n0 == 20 && nw == 20 && memcmp(l0, lw, sizeof l0), "and its list is not the unweighted one");
    a.recency = 0;
    int32_t l00[20];
    CHECK(plm_als(&a, &m, "", seeds, 5, l00, 20) == 20 && !memcmp(l00, l0, sizeof l0), "recency 0 again: the unweighted list");
    plm_als_free(&a);
    plm_free(&m);
    pl_free(&train);
    return CHECK_DONE();
}
