/* plmodel_als.c - implicit ALS (plmodel.h: plm_als_*) on random playlists:
 * the loss, computed here cell by cell in double, never rises from one
 * iteration to the next (each conjugate-gradient step lowers a row's
 * quadratic); with as many CG steps as factors every track's factors
 * solve the normal equations of Hu et al. (a direct solve in double);
 * the query fold-in matches the same direct solve; the ranking follows the
 * scores Y x; the model file reads back bit for bit.  plm_als_many (a
 * batch in one sgemm) gives plm_als's lists up to near-ties, on a larger
 * random model too; a model that knows fewer tracks than the training set
 * (a file of mpd-train on fewer tracks) scores only what it knows (under
 * SAN=1 this caught a score buffer sized by the model's tracks). */
#include "check.h"
#include "plmodel.h"
#include "rng.h"

#include <string.h>
#include <unistd.h>

#define NT 30
#define NP 70
#define F 5

static double Xb[NP][NT];

/* the loss of Hu et al., every cell */
static double naive_loss(const plm_als_model *a) {
    double loss = 0, reg = 0;
    for (int p = 0; p < NP; p++) {
        for (int t = 0; t < NT; t++) {
            double s = 0;
            for (int k = 0; k < F; k++) s += (double)a->X[p * F + k] * a->Y[t * F + k];
            double c = 1 + a->alpha * Xb[p][t];
            loss += c * (Xb[p][t] - s) * (Xb[p][t] - s);
        }
        for (int k = 0; k < F; k++) reg += (double)a->X[p * F + k] * a->X[p * F + k];
    }
    for (int i = 0; i < NT * F; i++) reg += (double)a->Y[i] * a->Y[i];
    return loss + a->lambda * reg;
}

/* solves the n x n system A x = b in double (Gauss with pivoting) */
static void solve(int n, double A[F][F], double *b, double *x) {
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++) if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
        for (int j = 0; j < n; j++) { double t = A[c][j]; A[c][j] = A[piv][j]; A[piv][j] = t; }
        double t = b[c]; b[c] = b[piv]; b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r][c] / A[c][c];
            for (int j = c; j < n; j++) A[r][j] -= f * A[c][j];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int j = r + 1; j < n; j++) s -= A[r][j] * x[j];
        x[r] = s / A[r][r];
    }
}

/* the exact factors of a row holding the columns obs (nobs of them) of the
 * other side's factors Z (nz rows) */
static void direct(const float *Z, int nz, const int *obs, int nobs, double lambda, double alpha, double *x) {
    double A[F][F] = {{0}}, b[F] = {0};
    for (int r = 0; r < nz; r++)
        for (int i = 0; i < F; i++)
            for (int j = 0; j < F; j++) A[i][j] += (double)Z[r * F + i] * Z[r * F + j];
    for (int i = 0; i < F; i++) A[i][i] += lambda;
    for (int o = 0; o < nobs; o++) {
        const float *z = Z + obs[o] * F;
        for (int i = 0; i < F; i++) {
            b[i] += (1 + alpha) * z[i];
            for (int j = 0; j < F; j++) A[i][j] += alpha * (double)z[i] * z[j];
        }
    }
    solve(F, A, b, x);
}

/* the score y_t . x in double */
static double score_of(const plm_als_model *a, int32_t t, const float *x) {
    double s = 0;
    for (int j = 0; j < a->factors; j++) s += (double)a->Y[(size_t)t * a->factors + j] * x[j];
    return s;
}

/* plm_als_many's lists against plm_als's, query by query: equal, except
 * that where they differ the two tracks' scores (y . x in double) are
 * within tol x the largest |score| of the list (a near-tie the two kernels
 * round apart; tracks the model cannot score must match exactly).  Returns
 * the queries that break the rule; *swapped counts the differing places. */
static int batch_vs_single(plm_als_model *a, plm_model *m, int64_t nq, const int32_t *const *seeds, const int64_t *ns,
                           int64_t n, double tol, int64_t *swapped) {
    const char **titles = calloc((size_t)nq, sizeof *titles);
    int32_t *many = malloc((size_t)(nq * n) * sizeof *many), *one = malloc((size_t)n * sizeof *one);
    int64_t *k = malloc((size_t)nq * sizeof *k);
    float *x = malloc((size_t)a->factors * sizeof *x);
    int bad = 0;
    *swapped = 0;
    for (int64_t q = 0; q < nq; q++) titles[q] = "";
    if (plm_als_many(a, m, nq, titles, seeds, ns, many, n, k)) bad = (int)nq;
    for (int64_t q = 0; !bad && q < nq; q++) {
        int64_t k1 = plm_als(a, m, "", seeds[q], ns[q], one, n);
        if (k1 != k[q]) { bad++; continue; }
        int known = plm_als_fold_in(a, seeds[q], ns[q], x);
        double scale = 0;
        for (int64_t i = 0; known > 0 && i < k1; i++)
            if (one[i] < a->ntracks && m->pop[one[i]] > 0 && fabs(score_of(a, one[i], x)) > scale) scale = fabs(score_of(a, one[i], x));
        int ok = 1;
        for (int64_t i = 0; i < k1; i++) {
            const int32_t *mq = many + q * n;
            if (mq[i] == one[i]) continue;
            (*swapped)++;
            int scored = known > 0 && mq[i] < a->ntracks && one[i] < a->ntracks && m->pop[mq[i]] > 0 && m->pop[one[i]] > 0;
            ok &= scored && fabs(score_of(a, mq[i], x) - score_of(a, one[i], x)) <= tol * scale;
        }
        bad += !ok;
    }
    free(titles); free(many); free(one); free(k); free(x);
    return bad;
}

typedef struct { double loss[40]; int n; } trace;

static void record(void *ctx, int iter, const plm_als_model *a) {
    trace *t = ctx;
    if (t->n < 40) t->loss[t->n++] = naive_loss(a);
    (void)iter;
}

int main(void) {
    rng_state r;
    rng_seed(&r, 5);
    char err[256], key[16];
    pl_set train;
    pl_init(&train);
    int added = 0;
    for (int p = 0; p < NP; p++) {
        int32_t t[10];
        int n = 2 + (int)rng_below(&r, 8);
        for (int i = 0; i < n; i++) t[i] = (int32_t)(rng_below(&r, 2) ? rng_below(&r, 10) : rng_below(&r, NT - 3));
        snprintf(key, sizeof key, "p%d", p);
        added += pl_add(&train, key, t, n, err, sizeof err) == 0;
        for (int i = 0; i < n; i++) Xb[p][t[i]] = 1;
    }
    CHECK(added == NP, "%d random playlists (tracks %d..%d never played)", added, NT - 3, NT - 1);
    plm_model m;
    CHECK(plm_build(&m, &train, NULL, NT, err, sizeof err) == 0, "model built");

    /* the loss falls iteration by iteration, with few CG steps too */
    plm_als_opts o = {.factors = F, .iterations = 12, .cg_steps = 2, .lambda = 0.5, .alpha = 8, .seed = 3};
    plm_als_model a;
    trace tr = {0};
    int rc = plm_als_train(&a, &m, &o, record, &tr, err, sizeof err);
    CHECK(rc == 0 && tr.n == 12, "12 iterations with 2 CG steps (%s)", rc ? err : "ok");
    int rises = 0;
    for (int i = 1; i < tr.n; i++) rises += tr.loss[i] > tr.loss[i - 1] * (1 + 1e-5);
    CHECK(!rises && tr.loss[tr.n - 1] < 0.8 * tr.loss[0], "the loss never rises (%.4f after the first iteration, %.4f after the last)",
          tr.loss[0], tr.loss[tr.n - 1]);
    double fast = plm_als_loss(&a, &m);
    CHECK(CLOSE(fast, tr.loss[tr.n - 1], 1e-6, 1e-4), "plm_als_loss %.6f = the loss cell by cell %.6f", fast, tr.loss[tr.n - 1]);
    plm_als_free(&a);

    /* with F CG steps each row is solved: the track side (updated last)
     * satisfies its normal equations given the playlist factors */
    o.cg_steps = F;
    o.iterations = 4;
    rc = plm_als_train(&a, &m, &o, NULL, NULL, err, sizeof err);
    double worst = 0;
    for (int t = 0; t < NT; t++) {
        int obs[NP], nobs = 0;
        for (int p = 0; p < NP; p++) if (Xb[p][t]) obs[nobs++] = p;
        double x[F];
        direct(a.X, NP, obs, nobs, o.lambda, o.alpha, x);
        for (int k = 0; k < F; k++) {
            double d = fabs(x[k] - a.Y[t * F + k]);
            if (d > worst) worst = d;
        }
    }
    CHECK(rc == 0 && worst < 1e-3, "CG with %d steps = the direct solve of every track's system (worst |difference| %.2g)", F, worst);

    /* the fold-in of a query = the direct solve against the track factors */
    int32_t seeds[] = {1, 4, 4, 7};
    int obs[] = {1, 4, 7};
    float xq[F];
    double want[F];
    int known = plm_als_fold_in(&a, seeds, 4, xq);
    direct(a.Y, NT, obs, 3, o.lambda, o.alpha, want);
    worst = 0;
    for (int k = 0; k < F; k++) if (fabs(want[k] - xq[k]) > worst) worst = fabs(want[k] - xq[k]);
    CHECK(known == 3 && worst < 1e-4, "the fold-in of 3 distinct seeds (one repeated) = the direct solve (worst %.2g)", worst);

    /* the list: non-seed played tracks by Y x, best first, then the rest */
    int32_t out[NT];
    int64_t k = plm_als(&a, &m, "", seeds, 4, out, 20);
    int ok = k == 20;
    double prev = INFINITY;
    for (int64_t i = 0; ok && i < k; i++) {
        int32_t t = out[i];
        ok &= t != 1 && t != 4 && t != 7;
        if (m.pop[t] == 0) continue;
        double s = 0;
        for (int j = 0; j < F; j++) s += (double)a.Y[t * F + j] * xq[j];
        ok &= s <= prev + 1e-5;
        prev = s;
    }
    int played = 0;
    for (int t = 0; t < NT; t++) played += m.pop[t] > 0;
    for (int64_t i = 0; ok && i < k && i < played - 3; i++) ok &= m.pop[out[i]] > 0;
    CHECK(ok, "20 tracks by descending score, no seed, played tracks first");
    int32_t unknown[] = {NT + 3}, pop[10], o2[10];
    CHECK(plm_als(&a, &m, "", unknown, 1, o2, 10) == 10 && plm_popular(&m, unknown, 1, pop, 10) == 10 &&
          !memcmp(o2, pop, sizeof pop), "no known seed: the title model (here popularity)");

    /* the model file */
    char path[] = "/tmp/plmodel_als_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    plm_als_model b;
    rc = fd < 0 || plm_als_save(&a, path, NULL, err, sizeof err) || plm_als_load(&b, path, err, sizeof err);
    CHECK(!rc && b.factors == F && b.ntracks == NT && b.lambda == o.lambda && b.alpha == o.alpha &&
          !memcmp(b.Y, a.Y, sizeof(float) * NT * F), "the model file reads back bit for bit (%s)", rc ? err : "ok");
    if (!rc) {
        int32_t o3[20];
        CHECK(plm_als(&b, &m, "", seeds, 4, o3, 20) == 20 && !memcmp(o3, out, sizeof o3), "the loaded model gives the same list");
        plm_als_free(&b);
    }
    unlink(path);

    /* a batch: known seeds, a repeated seed, no seed, only unknown seeds */
    int32_t q0[] = {1, 4, 7}, q1[] = {2, 2, 9}, q3[] = {NT + 5, -1}, q4[] = {0}, q5[] = {3, 11, 12, 20, 25};
    const int32_t *bs[] = {q0, q1, NULL, q3, q4, q5};
    int64_t bn[] = {3, 3, 0, 2, 1, 5}, sw;
    CHECK(batch_vs_single(&a, &m, 6, bs, bn, 20, 1e-5, &sw) == 0,
          "plm_als_many = plm_als on 6 queries (title model for 2) up to near-ties (%lld places differ)", (long long)sw);

    /* the training set and vocabulary know NT + 200 tracks, the model NT:
     * the tracks past NT come after every scored one (the lists of 20 are
     * the same as with the model's own vocabulary), in a batch too */
    plm_model wide;
    CHECK(plm_build(&wide, &train, NULL, NT + 200, err, sizeof err) == 0, "a vocabulary of %d tracks", NT + 200);
    int32_t w1[20], w2[20], wm[2 * 20];
    int64_t wk[2];
    const char *wt[] = {"", ""};
    const int32_t *ws[] = {seeds, q5};
    int64_t wn[] = {4, 5};
    int64_t k1 = plm_als(&a, &wide, "", seeds, 4, w1, 20), k2 = plm_als(&a, &m, "", q5, 5, w2, 20);
    CHECK(k1 == 20 && !memcmp(w1, out, sizeof w1) && k2 == 20, "a model of %d tracks over %d: the same list as over its own", NT, NT + 200);
    int64_t k5 = plm_als(&a, &wide, "", q5, 5, w1, 20);
    CHECK(plm_als_many(&a, &wide, 2, wt, ws, wn, wm, 20, wk) == 0 && wk[0] == 20 && wk[1] == 20 && k5 == 20 &&
          !memcmp(wm, out, sizeof w1) && !memcmp(wm + 20, w2, sizeof w2) && !memcmp(w1, w2, sizeof w2),
          "and in a batch of 2");
    plm_free(&wide);
    plm_als_free(&a);
    plm_free(&m);
    pl_free(&train);

    /* a larger random model (2,000 tracks, 16 factors): 150 queries of
     * 1-30 seeds in one batch, against one at a time */
    enum { NT2 = 2000, NP2 = 600, NQ = 150 };
    pl_init(&train);
    int32_t buf[40];
    for (int p = 0; p < NP2; p++) {
        int n = 5 + (int)rng_below(&r, 35);
        int32_t base = (int32_t)rng_below(&r, NT2 - 200);   /* a neighbourhood: some structure to learn */
        for (int i = 0; i < n; i++) buf[i] = base + (int32_t)rng_below(&r, 200);
        snprintf(key, sizeof key, "p%d", p);
        pl_add(&train, key, buf, n, err, sizeof err);
    }
    plm_als_opts ob = {.factors = 16, .iterations = 4, .cg_steps = 3, .lambda = 1, .alpha = 20, .seed = 2};
    rc = plm_build(&m, &train, NULL, NT2, err, sizeof err) || plm_als_train(&a, &m, &ob, NULL, NULL, err, sizeof err);
    CHECK(rc == 0, "a model of %d tracks, %d playlists, 16 factors (%s)", NT2, NP2, rc ? err : "ok");
    if (rc == 0) {
        int32_t *qs = malloc(NQ * 30 * sizeof *qs);
        const int32_t *qp[NQ];
        int64_t qn[NQ];
        for (int q = 0; q < NQ; q++) {
            qn[q] = 1 + (int64_t)rng_below(&r, 30);
            int32_t base = (int32_t)rng_below(&r, NT2 - 200);
            for (int64_t i = 0; i < qn[q]; i++) qs[q * 30 + i] = base + (int32_t)rng_below(&r, 200);
            qp[q] = qs + q * 30;
        }
        int bad = batch_vs_single(&a, &m, NQ, qp, qn, 300, 1e-5, &sw);
        CHECK(bad == 0, "plm_als_many = plm_als on %d queries of 300 tracks up to near-ties (scores within 1e-5 of the "
              "list's largest; %lld of %d places differ, %d queries break the rule)", NQ, (long long)sw, NQ * 300, bad);
        free(qs);
    }
    plm_als_free(&a);
    plm_free(&m);
    pl_free(&train);
    return CHECK_DONE();
}
