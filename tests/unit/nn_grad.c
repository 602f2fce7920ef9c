/* nn_grad.c - every backward pass of nn.h, loss.h and the whole network of
 * mlp.h checked against central finite differences, plus properties of
 * dropout, the optimisers' first steps, early stopping and the rng.
 * The scalar checked is L = sum(y * R) for a fixed random R, so dy = R. */
#include "check.h"
#include "fdcheck.h"
#include "../../common/mlp.h"

#include <string.h>

#define TOL 2e-2

/* ---------- dense ---------- */
enum { B = 5, IN = 7, OUT = 4 };
static float x[B * IN], W[OUT * IN], b[OUT], y[B * OUT], r[B * OUT];

static double dense_L(void *ctx) {
    (void)ctx;
    nn_dense_forward(y, x, W, b, B, IN, OUT);
    return dot(y, r, B * OUT);
}

static void test_dense(void) {
    float dx[B * IN], dW[OUT * IN] = {0}, db[OUT] = {0};
    fill(x, B * IN, -1, 1); fill(W, OUT * IN, -1, 1); fill(b, OUT, -1, 1); fill(r, B * OUT, -1, 1);
    nn_dense_forward(y, x, W, b, B, IN, OUT);
    /* against a naive loop */
    double worst = 0;
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int k = 0; k < IN; k++) s += (double)x[i * IN + k] * W[o * IN + k];
            worst = fmax(worst, fabs(s - y[i * OUT + o]));
        }
    CHECK(worst < 1e-5, "dense forward equals x W^T + b (max diff %.2g)", worst);
    nn_dense_backward(dx, dW, db, r, x, W, B, IN, OUT);
    double ex = fd_error(x, dx, B * IN, dense_L, NULL, 1e-2f);
    double eW = fd_error(W, dW, OUT * IN, dense_L, NULL, 1e-2f);
    double eb = fd_error(b, db, OUT, dense_L, NULL, 1e-2f);
    CHECK(ex < TOL && eW < TOL && eb < TOL, "dense backward vs finite differences: dx %.2g dW %.2g db %.2g", ex, eW, eb);
    /* accumulation: a second backward doubles dW */
    float dW2[OUT * IN];
    memcpy(dW2, dW, sizeof dW);
    nn_dense_backward(NULL, dW2, NULL, r, x, W, B, IN, OUT);
    CHECK(CLOSE(dW2[3], 2 * dW[3], 1e-6, 1e-5), "dense backward accumulates into dW");
}

/* ---------- activations ---------- */
enum { NA = 40 };
static float ax[NA], ay[NA], ar[NA];
static nn_act cur_act;

static double act_L(void *ctx) {
    (void)ctx;
    nn_act_forward(cur_act, ay, ax, NA, 0.1f);
    return dot(ay, ar, NA);
}

static void test_activations(void) {
    fill(ar, NA, -1, 1);
    for (int a = 0; a < NN_NACT; a++) {
        cur_act = (nn_act)a;
        fill(ax, NA, -3, 3);
        for (int i = 0; i < NA; i++)           /* keep away from the kink at 0 */
            if (fabsf(ax[i]) < 0.05f) ax[i] = 0.5f;
        float dx[NA];
        nn_act_forward(cur_act, ay, ax, NA, 0.1f);
        nn_act_backward(cur_act, dx, ar, ax, ay, NA, 0.1f);
        double e = fd_error(ax, dx, NA, act_L, NULL, 1e-2f);
        CHECK(e < TOL, "%s backward vs finite differences: %.2g", nn_act_name(cur_act), e);
    }
    float in[3] = {-2, 0, 3}, out[3];
    nn_act_forward(NN_LEAKY_RELU, out, in, 3, 0.01f);
    CHECK(out[0] == -0.02f && out[1] == 0 && out[2] == 3, "leaky_relu(-2, 0, 3) = (-0.02, 0, 3)");
    nn_act_forward(NN_SIGMOID, out, (float[]){-100, 0, 100}, 3, 0);
    CHECK(out[0] >= 0 && out[0] < 1e-30f && out[1] == 0.5f && out[2] == 1.0f, "sigmoid saturates without overflow");
}

/* ---------- dropout ---------- */
static void test_dropout(void) {
    enum { N = 100000 };
    static float xs[N], ys[N], mask[N], dy[N], dx[N];
    for (int i = 0; i < N; i++) { xs[i] = 1; dy[i] = 2; }
    nn_dropout_forward(ys, mask, xs, N, 0.3f, &R);
    int zeros = 0;
    double mean = 0;
    for (int i = 0; i < N; i++) { zeros += ys[i] == 0; mean += ys[i]; }
    mean /= N;
    CHECK(fabs(zeros / (double)N - 0.3) < 0.01, "dropout 0.3 zeroes %.3f of the values", zeros / (double)N);
    CHECK(fabs(mean - 1) < 0.02, "dropout keeps the expectation (mean %.4f)", mean);
    nn_dropout_backward(dx, dy, mask, N);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= ys[i] == 0 ? dx[i] == 0 : CLOSE(dx[i], 2 / 0.7, 1e-6, 1e-6);
    CHECK(ok, "dropout backward passes the gradient through kept units, scaled by 1/(1-p)");
}

/* ---------- batch norm ---------- */
enum { BB = 6, BC = 3 };
static float bx[BB * BC], by[BB * BC], bxhat[BB * BC], binv[BC], bg[BC], bb[BC], brm[BC], brv[BC], br[BB * BC];

static double bn_L(void *ctx) {
    (void)ctx;
    nn_batchnorm_forward_train(by, bxhat, binv, brm, brv, bx, bg, bb, BB, BC, 0.1f, 1e-5f);
    return dot(by, br, BB * BC);
}

static void test_batchnorm(void) {
    fill(bx, BB * BC, -2, 2); fill(bg, BC, 0.5f, 1.5f); fill(bb, BC, -1, 1); fill(br, BB * BC, -1, 1);
    for (int c = 0; c < BC; c++) { brm[c] = 0; brv[c] = 1; }
    bn_L(NULL);
    double m0 = 0, v0 = 0;
    for (int i = 0; i < BB; i++) m0 += bxhat[i * BC];
    for (int i = 0; i < BB; i++) v0 += bxhat[i * BC] * bxhat[i * BC];
    CHECK(fabs(m0 / BB) < 1e-6 && fabs(v0 / BB - 1) < 1e-3, "batchnorm normalises to mean 0 variance 1");
    float dx[BB * BC], dg[BC] = {0}, db[BC] = {0};
    nn_batchnorm_backward(dx, dg, db, br, bxhat, binv, bg, BB, BC);
    double ex = fd_error(bx, dx, BB * BC, bn_L, NULL, 1e-2f);
    double eg = fd_error(bg, dg, BC, bn_L, NULL, 1e-2f);
    double eb = fd_error(bb, db, BC, bn_L, NULL, 1e-2f);
    CHECK(ex < TOL && eg < TOL && eb < TOL, "batchnorm backward vs finite differences: dx %.2g dgamma %.2g dbeta %.2g", ex, eg, eb);
    /* running statistics: mean moves 10% towards the batch mean, var towards
     * the unbiased variance (torch.nn.BatchNorm1d) */
    for (int c = 0; c < BC; c++) { brm[c] = 0; brv[c] = 1; }
    nn_batchnorm_forward_train(by, bxhat, binv, brm, brv, bx, bg, bb, BB, BC, 0.1f, 1e-5f);
    double s = 0, ss = 0;
    for (int i = 0; i < BB; i++) s += bx[i * BC];
    for (int i = 0; i < BB; i++) ss += (bx[i * BC] - s / BB) * (bx[i * BC] - s / BB);
    CHECK(CLOSE(brm[0], 0.1 * s / BB, 1e-6, 1e-5) && CLOSE(brv[0], 0.9 + 0.1 * ss / (BB - 1), 1e-6, 1e-5),
          "batchnorm running mean and unbiased running variance");
}

/* ---------- embedding and concatenation ---------- */
enum { EV = 5, ED = 3, EB = 6, EW = 8 };
static float etab[EV * ED], ey[EB * EW], er[EB * EW];
static int32_t eids[EB] = {1, 4, 1, 0, 3, 1};

static double emb_L(void *ctx) {
    (void)ctx;
    memset(ey, 0, sizeof ey);
    nn_embedding_forward(ey + 2, EW, eids, 1, etab, EB, ED);
    return dot(ey, er, EB * EW);
}

static void test_embedding(void) {
    fill(etab, EV * ED, -1, 1); fill(er, EB * EW, -1, 1);
    float dtab[EV * ED] = {0};
    emb_L(NULL);
    CHECK(ey[2 * EW + 2] == etab[1 * ED] && ey[1 * EW + 4] == etab[4 * ED + 2], "embedding forward copies the table rows");
    nn_embedding_backward(dtab, er + 2, EW, eids, 1, EB, ED);
    double e = fd_error(etab, dtab, EV * ED, emb_L, NULL, 1e-2f);
    CHECK(e < TOL, "embedding backward vs finite differences (repeated ids accumulate): %.2g", e);
    CHECK(dtab[2 * ED] == 0, "embedding backward leaves unused rows at 0");
    float src[2 * 3] = {1, 2, 3, 4, 5, 6}, dst[2 * 5] = {0}, back[2 * 3];
    nn_concat_forward(dst, 5, 2, src, 3, 2, 3);
    nn_concat_backward(back, 3, dst, 5, 2, 2, 3);
    CHECK(dst[2] == 1 && dst[9] == 6 && dst[0] == 0 && memcmp(back, src, sizeof src) == 0,
          "concatenation places columns and its backward takes them back");
}

/* ---------- losses ---------- */
enum { LB = 4, LN = 5 };
static float lp[LB * LN], lt[LB * LN];
static nn_loss cur_loss;

static double loss_L(void *ctx) {
    (void)ctx;
    switch (cur_loss) {
    case NN_LOSS_MSE: return nn_loss_mse(NULL, lp, LN, lt, LN, LB, LN, 1);
    case NN_LOSS_MAE: return nn_loss_mae(NULL, lp, LN, lt, LN, LB, LN, 1);
    case NN_LOSS_BCE: return nn_loss_bce(NULL, lp, LN, lt, LN, LB, LN, 1);
    default: return nn_loss_ce(NULL, lp, LN, lt, 1, LB, LN, 1);
    }
}

static void test_losses(void) {
    /* the elementwise losses; the pair losses (infonce, triplet) are
     * checked in tests/unit/contrastive.c */
    for (int k = 0; k < NN_NLOSS; k++) {
        if (nn_loss_is_pair((nn_loss)k)) continue;
        cur_loss = (nn_loss)k;
        fill(lp, LB * LN, 0.05f, 0.95f);
        fill(lt, LB * LN, 0, 1);
        if (cur_loss == NN_LOSS_MAE)
            for (int i = 0; i < LB * LN; i++) if (fabsf(lp[i] - lt[i]) < 0.05f) lt[i] = lp[i] + 0.3f;
        if (cur_loss == NN_LOSS_CE) {
            fill(lp, LB * LN, -3, 3);
            for (int i = 0; i < LB; i++) lt[i] = (float)(i % LN);
        }
        float g[LB * LN];
        double l0 = cur_loss == NN_LOSS_CE ? nn_loss_ce(g, lp, LN, lt, 1, LB, LN, 1)
                  : cur_loss == NN_LOSS_MSE ? nn_loss_mse(g, lp, LN, lt, LN, LB, LN, 1)
                  : cur_loss == NN_LOSS_MAE ? nn_loss_mae(g, lp, LN, lt, LN, LB, LN, 1)
                  : nn_loss_bce(g, lp, LN, lt, LN, LB, LN, 1);
        double e = fd_error(lp, g, LB * LN, loss_L, NULL, 1e-3f);
        CHECK(e < TOL && isfinite(l0), "%s gradient vs finite differences: %.2g", nn_loss_name(cur_loss), e);
    }
    float p1[2] = {1.0f, 0.0f}, t1[2] = {0, 1};
    double l = nn_loss_bce(NULL, p1, 2, t1, 2, 1, 2, 1);
    CHECK(l == 100, "bce clamps log(0) to -100 as torch.nn.BCELoss (got %g)", l);
    float z[3] = {1000, 0, -1000}, t0 = 0;
    l = nn_loss_ce(NULL, z, 3, &t0, 1, 1, 3, 1);
    CHECK(l < 1e-12 && isfinite(l), "ce on huge logits stays finite (%g)", l);
}

/* ---------- whole network ---------- */
static nn_mlp net;
static float nx[6 * 4], nt[6 * 4];
enum { NB = 6 };

static double net_L(void *ctx) {
    (void)ctx;
    rng_seed(&net.rng, 99);              /* the same dropout mask every time */
    nn_mlp_forward(&net, nx, 4, NB, 1);
    return nn_mlp_loss(&net, nt, net.n_tcols, NB, NULL);
}

static void test_network(void) {
    const char *js = "{\"inputs\": [\"a\", \"b\"],"
        "\"categorical\": [{\"column\": \"c\", \"dim\": 3, \"vocab\": 4}, {\"column\": \"d\", \"dim\": 2, \"vocab\": 3}],"
        "\"layers\": [{\"units\": 6, \"act\": \"tanh\", \"batchnorm\": true},"
        "             {\"units\": 5, \"act\": \"leaky_relu\", \"dropout\": 0.3, \"slope\": 0.2},"
        "             {\"units\": 4, \"act\": \"sigmoid\"}],"
        "\"outputs\": [{\"loss\": \"mse\", \"targets\": \"inputs\"},"
        "             {\"loss\": \"ce\", \"target\": \"c\", \"classes\": 4},"
        "             {\"loss\": \"bce\", \"targets\": [\"e\"], \"weight\": 0.5}]}";
    cJSON *j = cJSON_Parse(js);
    nn_arch a;
    char err[512] = "";
    int ok = j && nn_arch_from_json(&a, j, "test", err, sizeof err) == 0 &&
             nn_arch_resolve_output(&a, err, sizeof err) == 0 &&
             nn_mlp_create(&net, &a, err, sizeof err) == 0;
    CHECK(ok, "network with embeddings, batchnorm, dropout and three heads builds %s", err);
    if (!ok) return;
    nn_arch_free(&a);
    cJSON_Delete(j);
    nn_mlp_init_params(&net, 7);
    CHECK(nn_mlp_reserve(&net, NB) == 0 && net.n_tcols == 4 && nn_mlp_out_width(&net) == 7,
          "heads: 2 + 4 + 1 outputs read 2 + 1 + 1 target columns");
    for (int i = 0; i < NB; i++) {
        nx[i * 4 + 0] = rng_float(&R) * 4 - 2;
        nx[i * 4 + 1] = rng_float(&R) * 10;
        nx[i * 4 + 2] = (float)(i % 4);
        nx[i * 4 + 3] = (float)((i * 7) % 3);
        nt[i * 4 + 0] = rng_float(&R);
        nt[i * 4 + 1] = rng_float(&R);
        nt[i * 4 + 2] = (float)((i + 1) % 4);
        nt[i * 4 + 3] = (float)(i % 2);
    }
    net.norm_mean[1] = 5;
    net.norm_std[1] = 3;
    net_L(NULL);
    nn_mlp_zero_grad(&net);
    nn_mlp_backward(&net, NB);
    float *g = malloc(net.n_params * sizeof *g);
    memcpy(g, net.grads, net.n_params * sizeof *g);
    for (int i = 0; i < net.n_tensors; i++) {
        nn_tensor *t = &net.tensors[i];
        if (!t->g) continue;
        int n = (int)(t->rows * t->cols);
        double e = fd_error(t->p, g + (t->p - net.params), n, net_L, NULL, 5e-3f);
        CHECK(e < 5e-2, "network gradient of %s vs finite differences: %.2g", t->name, e);
    }
    free(g);
    nn_mlp_free(&net);
}

/* ---------- optimisers, early stopping, rng ---------- */
static void test_optim(void) {
    float p[2] = {1, -2}, gr[2] = {0.5f, -0.25f};
    nn_optim o;
    nn_optim_defaults(&o, NN_ADAM);
    o.lr = 0.1f;
    nn_optim_init(&o, 2);
    nn_optim_step(&o, p, gr);
    /* Adam's first step moves each parameter by lr * sign(g) (up to eps) */
    CHECK(CLOSE(p[0], 0.9, 1e-6, 1e-5) && CLOSE(p[1], -1.9, 1e-6, 1e-5), "adam first step is lr*sign(g): %g %g", p[0], p[1]);
    nn_optim_free(&o);
    p[0] = 1;
    nn_optim_defaults(&o, NN_SGD);
    o.lr = 0.1f; o.momentum = 0.9f;
    nn_optim_init(&o, 1);
    nn_optim_step(&o, p, gr);
    nn_optim_step(&o, p, gr);
    /* b1 = g, b2 = 0.9 g + g: p = 1 - 0.1*0.5 - 0.1*0.95 */
    CHECK(CLOSE(p[0], 1 - 0.05 - 0.095, 1e-6, 1e-5), "sgd momentum two steps: %g", p[0]);
    nn_optim_free(&o);

    nn_early_stop es;
    float params[1] = {0};
    nn_early_stop_init(&es, 2, 0.0, 1);
    double losses[] = {5, 4, 4.5, 3, 3.5, 3.2, 1};
    int stopped_at = 0;
    for (int e = 0; e < 7 && !stopped_at; e++) {
        params[0] = (float)e;
        if (nn_early_stop_update(&es, e + 1, losses[e], params) == NN_ES_STOP) stopped_at = e + 1;
    }
    nn_early_stop_restore(&es, params);
    CHECK(stopped_at == 6 && es.best_epoch == 4 && params[0] == 3, "early stopping: patience 2 stops at epoch 6, restores epoch 4 (%d, %d, %g)",
          stopped_at, es.best_epoch, params[0]);
    nn_early_stop_free(&es);

    rng_state a, b2;
    rng_seed(&a, 0);
    uint64_t first = rng_u64(&a);
    /* xoshiro256** seeded by splitmix64(0): first splitmix64 output is
     * 0xe220a8397b1dcdaf (Vigna's reference), the state words follow */
    uint64_t sm = 0;
    CHECK(rng_splitmix64(&sm) == 0xe220a8397b1dcdafull, "splitmix64(0) matches the reference value");
    rng_seed(&b2, 0);
    CHECK(rng_u64(&b2) == first, "same seed, same stream");
    int64_t idx[10];
    for (int i = 0; i < 10; i++) idx[i] = i;
    rng_shuffle_i64(&a, idx, 10);
    int sum = 0;
    for (int i = 0; i < 10; i++) sum += (int)idx[i];
    CHECK(sum == 45, "shuffle is a permutation");
}

int main(void) {
    rng_seed(&R, 12345);
    test_dense();
    test_activations();
    test_dropout();
    test_batchnorm();
    test_embedding();
    test_losses();
    test_network();
    test_optim();
    return CHECK_DONE();
}
