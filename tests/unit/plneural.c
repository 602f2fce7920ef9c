/* plneural.c - the neural playlist model: every parameter group's gradient
 * (embeddings through both the seed pooling and the tied output, residual
 * blocks, biases) against central finite differences of the loss, with one
 * and with several targets, and through input dropout; a save/load round
 * trip; recommendations that exclude seeds and repeat nothing; the blend
 * with co-occurrence at both ends of its weight; and a tiny training run
 * that must learn two clusters. */
#include "check.h"
#include "optim.h"
#include "plneural.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* three examples: seeds (vocab rows; -1 = unknown track) and targets */
static const int64_t off[] = {0, 3, 4, 6};
static const int32_t rows[] = {0, 2, 2, 5, -1, 1};
static const int64_t toff1[] = {0, 1, 2, 3}, toffm[] = {0, 2, 3, 6};
static const int32_t tgt1[] = {4, 0, 6}, tgtm[] = {4, 1, 0, 6, 3, 2};

/* with dropout, every forward re-seeds the mask generator: the same mask */
static rng_state drop_rng;
static uint64_t drop_seed;

static double loss_at(pln_model *m, const pln_batch *b) {
    if (m->training) rng_seed(&drop_rng, drop_seed);
    pln_forward(m, b);
    return pln_loss_backward(m, b, 0);
}

/* max relative error of the analytic gradient over `count` parameters from p */
static double grad_error(pln_model *m, const pln_batch *b, float *p, size_t count, double *gmax) {
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    if (m->training) rng_seed(&drop_rng, drop_seed);
    pln_forward(m, b);
    pln_loss_backward(m, b, 1);
    float *g = m->grads + (p - m->params);
    double worst = 0;
    *gmax = 0;
    for (size_t i = 0; i < count; i++) {
        float keep = p[i];
        const float h = 1e-3f;
        p[i] = keep + h; double lp = loss_at(m, b);
        p[i] = keep - h; double lm = loss_at(m, b);
        p[i] = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - g[i]) / fmax(1e-3, fabs(num) + fabs(g[i]));
        if (err > worst) worst = err;
        if (fabs(g[i]) > *gmax) *gmax = fabs(g[i]);
    }
    return worst;
}

int main(void) {
    pln_arch a = {.dim = 3, .hidden = 4, .blocks = 2, .vocab = 7};
    int32_t tracks[7] = {10, 11, 12, 13, 14, 15, 16};
    pln_model m;
    char err[512];
    pln_batch b1 = {.B = 3, .off = off, .rows = rows, .toff = toff1, .tgt = tgt1};
    pln_batch bm = {.B = 3, .off = off, .rows = rows, .toff = toffm, .tgt = tgtm};
    /* finite differences are only valid away from the relus' kink: take the
     * first seed whose pre-activations all lie at least 0.02 from 0 */
    uint64_t seed = 1;
    double gap = 0;
    for (; seed < 200; seed++) {
        if (pln_init(&m, &a, tracks, 20, seed, err, sizeof err) || pln_reserve(&m, 3)) break;
        pln_forward(&m, &b1);
        gap = 1e9;
        for (int i = 0; i < 3 * a.hidden; i++) {
            gap = fmin(gap, fabs(m.a0[i]));
            for (int r = 0; r < a.blocks; r++) gap = fmin(gap, fabs(m.ua[r][i]));
        }
        int live = 0;
        for (int i = 0; i < 3 * a.hidden; i++) for (int r = 0; r < a.blocks; r++) live += m.ua[r][i] > 0;
        if (gap > 0.02 && live >= a.blocks * 3) break;
        pln_free(&m);
    }
    CHECK(seed < 200, "a tiny model with every pre-activation >= 0.02 from the relu kink (seed %llu, gap %.3f)",
          (unsigned long long)seed, gap);
    struct { const char *name; float *p; size_t n; } groups[] = {
        {"embeddings (pooling and tied output)", m.p.E, 21}, {"output bias", m.p.bout, 7},
        {"input dense", m.p.Win, 24}, {"input bias", m.p.bin, 4},
        {"block 0 fc1", m.p.Wa[0], 16}, {"block 0 fc2", m.p.Wb[0], 16}, {"block 1 fc2 bias", m.p.bb[1], 4},
        {"projection", m.p.Wp, 12}, {"projection bias", m.p.bp, 3}};
    for (size_t k = 0; k < sizeof groups / sizeof *groups; k++) {
        double g1, gm;
        double e1 = grad_error(&m, &b1, groups[k].p, groups[k].n, &g1);
        double em = grad_error(&m, &bm, groups[k].p, groups[k].n, &gm);
        CHECK(e1 < 2e-2 && em < 2e-2 && g1 > 1e-4 && gm > 1e-4,
              "gradient of %s = finite differences (rel. error %.2g one target, %.2g several; max |g| %.2g)",
              groups[k].name, e1, em, g1);
    }
    /* dropout on the pooled input: a fixed mask, gradients through it; the
     * mask zeroes about half the inputs and scales the rest by 2 */
    m.dropout = 0.5f;
    m.training = 1;
    m.rng = &drop_rng;
    drop_seed = 3;
    {
        double g1, gm;
        double e1 = grad_error(&m, &b1, m.p.E, 21, &g1), ew = grad_error(&m, &bm, m.p.Win, 24, &gm);
        int zero = 0, scaled = 0;
        for (int i = 0; i < 3 * 6; i++) {
            zero += m.xd[i] == 0.0f;
            scaled += m.xd[i] != 0.0f && CLOSE(m.xd[i], 2 * m.x0[i], 1e-6, 1e-6);
        }
        CHECK(e1 < 2e-2 && ew < 2e-2 && zero >= 3 && zero <= 15 && zero + scaled == 18,
              "dropout 0.5: gradients = finite differences (rel. error %.2g embeddings, %.2g input dense); %d of 18 inputs dropped, the rest doubled",
              e1, ew, zero);
        m.training = 0;
        pln_forward(&m, &b1);
        double l_eval = pln_loss_backward(&m, &b1, 0);
        m.dropout = 0;
        pln_forward(&m, &b1);
        CHECK(l_eval == pln_loss_backward(&m, &b1, 0), "dropout is off outside training");
    }
    /* a one-target loss is log-sum-exp minus the target logit */
    pln_forward(&m, &b1);
    double lse = 0, mx = -1e30;
    for (int c = 0; c < 7; c++) mx = fmax(mx, m.z[c]);
    for (int c = 0; c < 7; c++) lse += exp(m.z[c] - mx);
    double l0 = mx + log(lse) - m.z[4];
    double want = l0;
    for (int i = 1; i < 3; i++) {
        double mxi = -1e30, s = 0;
        for (int c = 0; c < 7; c++) mxi = fmax(mxi, m.z[i * 7 + c]);
        for (int c = 0; c < 7; c++) s += exp(m.z[i * 7 + c] - mxi);
        want += mxi + log(s) - m.z[i * 7 + tgt1[i]];
    }
    CHECK(CLOSE(pln_loss_backward(&m, &b1, 0), want / 3, 1e-5, 1e-5), "loss = mean cross-entropy of the targets");
    /* pooling: mean and std of the known seeds; no known seed -> zeros, std sqrt(eps) */
    float x0[3 * 6];
    pln_pool_forward(x0, m.p.E, 3, &b1);
    float e0 = m.p.E[0], e2 = m.p.E[6];
    CHECK(CLOSE(x0[0], (e0 + 2 * e2) / 3, 1e-6, 1e-5), "pool: mean counts a repeated seed twice");
    double mu = (e0 + 2 * e2) / 3, var = ((e0 - mu) * (e0 - mu) + 2 * (e2 - mu) * (e2 - mu)) / 3;
    CHECK(CLOSE(x0[3], sqrt(var + PLN_STD_EPS), 1e-6, 1e-4), "pool: population std");
    CHECK(x0[12 + 0] == m.p.E[3] && CLOSE(x0[12 + 3], sqrt(PLN_STD_EPS), 1e-7, 1e-4), "pool: unknown seed (-1) skipped");

    /* save and load give the same logits */
    char path[] = "/tmp/plneural_test_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(pln_save(&m, path, "{\"epochs\": 1}", err, sizeof err) == 0, "save (%s)", err);
    pln_model *l = pln_load(path, err, sizeof err);
    CHECK(l != NULL, "load (%s)", l ? "" : err);
    if (l) {
        pln_reserve(l, 3);
        pln_forward(&m, &b1);
        pln_forward(l, &b1);
        CHECK(memcmp(m.z, l->z, 21 * sizeof(float)) == 0 && l->track[6] == 16 && l->row_of[13] == 3,
              "round trip: identical logits and vocabulary");
        /* recommendations: seeds excluded, no repeats, the best logit first */
        pl_set train;
        pl_init(&train);
        int32_t t1[] = {10, 11, 12}, t2[] = {13, 14, 15, 16, 17};
        pl_add(&train, "a", t1, 3, err, sizeof err);
        pl_add(&train, "b", t2, 5, err, sizeof err);
        plm_model base;
        CHECK(plm_build(&base, &train, NULL, 20, err, sizeof err) == 0, "base model");
        int32_t seeds[] = {12, 15}, out[20];
        int64_t k = pln_recommend(l, &base, seeds, 2, out, 20);
        int ok = k == 18;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < i; j++) ok &= out[i] != out[j];
        for (int64_t i = 0; i < k; i++) ok &= out[i] != 12 && out[i] != 15;
        /* the first five are model tracks in logit order */
        int64_t rowsb[] = {0, 2};
        int32_t rs[] = {2, 5};
        pln_batch qb = {.B = 1, .off = rowsb, .rows = rs};
        pln_forward(l, &qb);
        for (int i = 0; i < 4; i++) ok &= l->z[l->row_of[out[i]]] >= l->z[l->row_of[out[i + 1]]];
        ok &= l->row_of[out[4]] >= 0 && l->row_of[out[5]] < 0;
        CHECK(ok, "recommend: 18 distinct tracks, no seed, model tracks by logit, then the rest");
        /* the blend: w = 1 is the neural ranking, w = 0 the co-occurrence one */
        int32_t outb[20], outc[20];
        int64_t kb = pln_recommend_blend(l, &base, seeds, 2, 1.0f, outb, 20);
        CHECK(kb == 18 && memcmp(outb, out, 5 * sizeof *out) == 0, "blend 1.0 = the neural model's ranking of its tracks");
        kb = pln_recommend_blend(l, &base, seeds, 2, 0.0f, outb, 20);
        int64_t kc = plm_cooc(&base, "", seeds, 2, outc, 20);
        CHECK(kb == 18 && kc == 18 && memcmp(outb, outc, 18 * sizeof *out) == 0, "blend 0.0 = co-occurrence");
        /* halfway: the tracks of the seeds' playlists (cooc > 0; 10-17) come
         * before the tracks outside the model's vocabulary that share no
         * playlist with a seed (score 0, popularity order) */
        kb = pln_recommend_blend(l, &base, seeds, 2, 0.5f, outb, 20);
        int ok2 = kb == 18, seen_other = 0;
        for (int64_t i = 0; i < kb; i++) {
            int co = outb[i] >= 10 && outb[i] <= 17;
            if (!co) seen_other = 1;
            else ok2 &= !seen_other;
        }
        CHECK(ok2, "blend 0.5: the 6 co-occurring tracks first");
        plm_free(&base);
        pl_free(&train);
        pln_free(l);
        free(l);
    }
    unlink(path);
    FILE *f = fopen(path, "w");
    fputs("not a model", f);
    fclose(f);
    pln_model *bad = pln_load(path, err, sizeof err);
    CHECK(!bad && strstr(err, path), "a file that is not a model is refused: %s", err);
    unlink(path);
    pln_free(&m);

    /* learning: 12 tracks in two clusters (0-5, 6-11); an example is 2 seeds
     * of one cluster, its targets the other 4 of that cluster.  After 300
     * Adam steps on one fixed batch per cluster, the 4 best logits after
     * seeds of a cluster are the rest of that cluster. */
    pln_arch sa = {.dim = 6, .hidden = 16, .blocks = 1, .vocab = 12};
    int32_t st[12];
    for (int i = 0; i < 12; i++) st[i] = i;
    CHECK(pln_init(&m, &sa, st, 12, 7, err, sizeof err) == 0 && pln_reserve(&m, 12) == 0, "tiny model");
    int64_t so[13], to[13];
    int32_t sr[24], tr[48];
    for (int i = 0; i < 12; i++) {
        int c = i < 6 ? 0 : 6, a = i % 6, bq = (i + 1 + i / 6) % 6;
        if (bq == a) bq = (bq + 1) % 6;
        so[i] = 2 * i; sr[2 * i] = c + a; sr[2 * i + 1] = c + bq;
        to[i] = 4 * i;
        for (int j = 0, n = 0; j < 6; j++) if (j != a && j != bq) tr[4 * i + n++] = c + j;
    }
    so[12] = 24; to[12] = 48;
    pln_batch sb = {.B = 12, .off = so, .rows = sr, .toff = to, .tgt = tr};
    nn_optim opt;
    nn_optim_defaults(&opt, NN_ADAM);
    opt.lr = 0.01f;
    CHECK(nn_optim_init(&opt, m.nparams) == 0, "optimiser");
    pln_forward(&m, &sb);
    double l0s = pln_loss_backward(&m, &sb, 0), ls = 0;
    for (int step = 0; step < 300; step++) {
        memset(m.grads, 0, m.nparams * sizeof *m.grads);
        pln_forward(&m, &sb);
        ls = pln_loss_backward(&m, &sb, 1);
        nn_optim_step(&opt, m.params, m.grads);
    }
    pln_forward(&m, &sb);
    int learned = 1;
    for (int i = 0; i < 12; i++) {
        const float *z = m.z + i * 12;
        int lo = i < 6 ? 0 : 6;
        /* the worst in-cluster target beats every track of the other cluster */
        float worst = INFINITY, best_out = -INFINITY;
        for (int j = 0; j < 4; j++) worst = fminf(worst, z[tr[4 * i + j]]);
        for (int t = 0; t < 12; t++) if (t < lo || t >= lo + 6) best_out = fmaxf(best_out, z[t]);
        learned &= worst > best_out;
    }
    /* the best possible loss is ln 4 (the targets' own entropy) */
    CHECK(learned && ls < 1.1 * log(4.0) + 0.05 && ls < l0s,
          "tiny model learns two clusters (loss %.3f -> %.3f, floor ln 4 = %.3f)", l0s, ls, log(4.0));
    nn_optim_free(&opt);
    pln_free(&m);
    return CHECK_DONE();
}
