/* cnn_golden.c - two small versions of the CNN of cnn.h against PyTorch:
 * training-mode logits and cross-entropy, every gradient, parameters and
 * batch-norm running statistics after two AdamW steps, evaluation-mode logits
 * and embedding after the steps; and a model file round trip.  Reference
 * values: tests/ref/cnn_golden.h, generated once by
 * tests/ref/make_cnn_golden.py with Debian's python3-torch. */
#include "check.h"
#include "../../common/cnn.h"
#include "../../common/optim.h"
#include "../ref/cnn_golden.h"

#include <string.h>
#include <unistd.h>

#define ATOL 2e-5
#define RTOL 2e-4

/* largest |a-b| / (ATOL + RTOL |b|): <= 1 passes */
static double worst_ratio(const float *a, const float *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        double r = d / (ATOL + RTOL * fabs((double)b[i]));
        if (isnan(d)) return INFINITY;
        if (r > w) w = r;
    }
    return w;
}

typedef struct {
    const char *tag;
    const int *widths;
    int nstages, residual, maxpool, H, W, B, classes, embed, adapt;
    float mean, std;
    const float *x;
    const int *y;
    const golden_tensor *init, *grad, *after;
    const float *logits, *eval_logits, *eval_embed;
    double loss;
} gcase;

#define GCASE(T) {#T, golden_##T##_widths, golden_##T##_nstages, golden_##T##_residual, golden_##T##_maxpool, \
    golden_##T##_H, golden_##T##_W, golden_##T##_B, golden_##T##_classes, golden_##T##_embed, golden_##T##_adapt, \
    golden_##T##_mean, golden_##T##_std, golden_##T##_x, golden_##T##_y, golden_##T##_init, golden_##T##_grad, \
    golden_##T##_after, golden_##T##_logits, golden_##T##_eval_logits, golden_##T##_eval_embed, golden_##T##_loss}

/* check every tensor of g (params or grads) against the net; returns the worst ratio */
static double compare(cnn_net *net, const golden_tensor *g, int grads, const char **where) {
    double w = 0;
    for (; g->name; g++) {
        cnn_tensor *t = cnn_tensor_find(net, g->name);
        if (!t || (int)t->n != g->n) { *where = g->name; return INFINITY; }
        double r = worst_ratio(grads ? net->grads + (t->g - net->grads) : t->p, g->v, g->n);
        if (r > w) w = r, *where = g->name;
    }
    return w;
}

/* threads > 1: the batch split over that many workers (cnn_set_threads) */
static void run(const gcase *cs, int threads) {
    gcase cc = *cs, *c = &cc;
    char tag[64];
    snprintf(tag, sizeof tag, "%s, %d thread%s", cs->tag, threads, threads > 1 ? "s" : "");
    cc.tag = tag;
    char widths[128] = "", err[512];
    size_t k = 0;
    for (int s = 0; s < c->nstages; s++) k += (size_t)snprintf(widths + k, sizeof widths - k, "%s%d", s ? "," : "", c->widths[s]);
    cnn_arch a = {.residual = c->residual, .pool = c->maxpool ? CNN_POOL_MAX : CNN_POOL_AVG, .adapt = c->adapt,
                  .embed = c->embed, .classes = c->classes};
    cnn_net net;
    int ok = cnn_arch_set(&a, widths, 1.0f, c->H, c->W, err, sizeof err) == 0 &&
             cnn_create(&net, &a, err, sizeof err) == 0;
    if (ok) cnn_set_threads(&net, threads);
    ok = ok && cnn_reserve(&net, c->B) == 0;
    CHECK(ok, "%s: build the network (%s)", c->tag, ok ? "ok" : err);
    if (!ok) return;
    net.norm_mean = c->mean, net.norm_std = c->std;
    int n = 0, missing = 0;
    for (const golden_tensor *g = c->init; g->name; g++, n++) {
        cnn_tensor *t = cnn_tensor_find(&net, g->name);
        if (!t || (int)t->n != g->n) { missing++; continue; }
        memcpy(t->p, g->v, sizeof(float) * (size_t)g->n);
    }
    CHECK(!missing && n == net.n_tensors, "%s: torch's state_dict names and sizes match ours (%d tensors)", c->tag, n);
    int32_t y[64];
    for (int b = 0; b < c->B; b++) y[b] = c->y[b];
    nn_optim opt;
    nn_optim_defaults(&opt, NN_ADAMW);
    CHECK(nn_optim_init(&opt, net.n_params) == 0, "%s: optimiser state", c->tag);
    const char *where = "";
    for (int step = 0; step < 2; step++) {
        cnn_forward(&net, c->x, c->B, 1);
        double loss = cnn_loss(&net, y, c->B, NULL);
        cnn_zero_grad(&net);
        cnn_backward(&net, c->B);
        if (step == 0) {
            double wl = worst_ratio(net.logits, c->logits, c->B * c->classes);
            CHECK(wl <= 1, "%s: training-mode logits match torch (worst %.3g of tolerance)", c->tag, wl);
            CHECK(CLOSE(loss, c->loss, 1e-6, 1e-5), "%s: cross-entropy %.9g vs torch %.9g", c->tag, loss, c->loss);
            double wg = compare(&net, c->grad, 1, &where);
            CHECK(wg <= 1, "%s: every gradient matches torch (worst %.3g of tolerance, %s)", c->tag, wg, where);
        }
        nn_optim_step(&opt, net.params, net.grads);
    }
    double wa = compare(&net, c->after, 0, &where);
    CHECK(wa <= 1, "%s: parameters and running statistics after two AdamW steps match torch (worst %.3g, %s)", c->tag, wa, where);
    cnn_forward(&net, c->x, c->B, 0);
    double we = worst_ratio(net.logits, c->eval_logits, c->B * c->classes);
    double wm = worst_ratio(net.emb, c->eval_embed, c->B * c->embed);
    CHECK(we <= 1 && wm <= 1, "%s: evaluation-mode logits and embedding match torch (worst %.3g, %.3g)", c->tag, we, wm);

    /* model file round trip: same bytes of every tensor, same eval output */
    char path[] = "/tmp/cnn_golden_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    cnn_net back;
    float keep[256];
    memcpy(keep, net.logits, sizeof(float) * (size_t)(c->B * c->classes));
    ok = fd >= 0 && cnn_save(&net, path, NULL, err, sizeof err) == 0 && cnn_load(&back, path, err, sizeof err) == 0;
    CHECK(ok, "%s: model file save and load (%s)", c->tag, ok ? "ok" : err);
    if (ok) {
        int same = back.n_params == net.n_params && back.n_buffers == net.n_buffers &&
                   memcmp(back.params, net.params, sizeof(float) * net.n_params) == 0 &&
                   memcmp(back.buffers, net.buffers, sizeof(float) * net.n_buffers) == 0 &&
                   back.norm_mean == net.norm_mean && back.norm_std == net.norm_std;
        CHECK(same, "%s: the loaded model has the same parameters, buffers and normalisation", c->tag);
        /* bit-identical only with the same split: each worker's im2col GEMM
         * has as many rows as its share of the batch, and OpenBLAS may pick
         * another micro-kernel (another summation order) for other row
         * counts, so the loaded model runs with the thread count of the
         * one it was saved from */
        cnn_set_threads(&back, threads);
        CHECK(cnn_reserve(&back, c->B) == 0, "%s: reserve the loaded model", c->tag);
        cnn_forward(&back, c->x, c->B, 0);
        CHECK(memcmp(back.logits, keep, sizeof(float) * (size_t)(c->B * c->classes)) == 0,
              "%s: the loaded model gives the same evaluation logits", c->tag);
        cnn_free(&back);
    }
    unlink(path);
    nn_optim_free(&opt);
    cnn_free(&net);
}

int main(void) {
    static const gcase cases[] = {GCASE(A), GCASE(B)};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 1; t <= 3; t++) run(&cases[i], t);
    return CHECK_DONE();
}
