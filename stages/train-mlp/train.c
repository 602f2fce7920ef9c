/* train.c - train-mlp's training loop: a seeded shuffle and validation split,
 * mini-batches through forward/loss/backward/optimiser, evaluation on the
 * held-out rows, early stopping with restore-best-weights (Keras
 * EarlyStopping semantics), and a stop flag checked after every batch so
 * that Ctrl-C ends the run cleanly with the best model already saved. */
#include "mlp_train.h"
#include "errbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const float *x, *t;
    int ldx, ldt, B;
    float *xb, *tb;            /* one batch, gathered */
} batcher;

static void gather(batcher *b, const int64_t *idx, int n) {
    for (int i = 0; i < n; i++) {
        memcpy(b->xb + (size_t)i * b->ldx, b->x + idx[i] * b->ldx, sizeof(float) * (size_t)b->ldx);
        memcpy(b->tb + (size_t)i * b->ldt, b->t + idx[i] * b->ldt, sizeof(float) * (size_t)b->ldt);
    }
}

int nn_metric_parse(const char *s, nn_metric *m) {
    static const char *const names[] = {"auto", "mae", "accuracy"};
    for (int i = 0; i < 3; i++) if (strcmp(s, names[i]) == 0) { *m = (nn_metric)i; return 0; }
    return -1;
}

static int is_accuracy(const nn_mlp *net, nn_metric m) {
    const nn_loss l = net->arch.head[0].loss;
    return m == NN_METRIC_ACCURACY || (m == NN_METRIC_AUTO && (l == NN_LOSS_CE || l == NN_LOSS_BCE));
}

const char *nn_metric_name(const nn_mlp *net, nn_metric m) {
    return is_accuracy(net, m) ? "val_accuracy" : "val_mae";
}

/* the metric of the first head, summed over the n rows: accuracy for
 * classification (or when asked for a regression head: rounded prediction ==
 * rounded target, in target units), else mean absolute error in target units
 * for regression (standardised units for an autoencoder) */
static double metric_batch(const nn_mlp *net, nn_metric m, const float *tb, int ldt, int n) {
    const nn_head_spec *h = &net->arch.head[0];
    const int uo = nn_mlp_out_width(net), w = nn_head_width(h);
    const float *out = nn_mlp_output(net, net->arch.n_layers - 1);
    const float *sh = net->t_shift + net->head_toff[0], *sc = net->t_scale + net->head_toff[0];
    const int acc = is_accuracy(net, m);
    double s = 0;
    for (int i = 0; i < n; i++) {
        const float *o = out + (size_t)i * uo, *t = tb + (size_t)i * ldt;
        if (h->loss == NN_LOSS_CE) {
            int best = 0;
            for (int c = 1; c < w; c++) if (o[c] > o[best]) best = c;
            s += best == (int)t[0];
        } else if (h->loss == NN_LOSS_BCE) {
            for (int k = 0; k < w; k++) s += acc ? (o[k] >= 0.5f) == (t[k] >= 0.5f) : fabs((double)o[k] - t[k]);
        } else if (acc) {
            for (int k = 0; k < w; k++)
                s += round((double)o[k] * sc[k] + sh[k]) == round((double)t[k] * sc[k] + sh[k]);
        } else {
            /* autoencoder targets mix scales (ms next to [0,1]): keep them standardised */
            for (int k = 0; k < w; k++) s += fabs((double)o[k] - t[k]) * (h->from_inputs ? 1 : sc[k]);
        }
    }
    return h->loss == NN_LOSS_CE ? s : s / w;
}

/* mean loss and metric over rows idx[0..n) in evaluation mode */
static void evaluate(nn_mlp *net, nn_metric mk, batcher *b, const int64_t *idx, int64_t n,
                     double *loss, double *metric) {
    double ls = 0, ms = 0;
    for (int64_t i = 0; i < n; i += b->B) {
        int m = (int)(n - i < b->B ? n - i : b->B);
        gather(b, idx + i, m);
        nn_mlp_forward(net, b->xb, b->ldx, m, 0);
        ls += nn_mlp_loss(net, b->tb, b->ldt, m, NULL) * m;
        ms += metric_batch(net, mk, b->tb, b->ldt, m);
    }
    *loss = n ? ls / (double)n : NAN;
    *metric = n ? ms / (double)n : NAN;
}

static int has_batchnorm(const nn_mlp *net) {
    for (int l = 0; l < net->arch.n_layers; l++) if (net->arch.layer[l].batchnorm) return 1;
    return 0;
}

/* one pass over the training rows; returns the mean training loss, NAN when
 * interrupted, INFINITY when the loss diverged */
static double train_epoch(nn_mlp *net, batcher *b, int64_t *idx, int64_t n,
                          nn_optim *opt, rng_state *r, volatile sig_atomic_t *stop) {
    rng_shuffle_i64(r, idx, n);
    const int bn = has_batchnorm(net);
    double ls = 0;
    int64_t seen = 0;
    for (int64_t i = 0; i < n; i += b->B) {
        int m = (int)(n - i < b->B ? n - i : b->B);
        if (bn && m < 2) continue;             /* batch statistics need 2 rows */
        gather(b, idx + i, m);
        nn_mlp_zero_grad(net);
        nn_mlp_forward(net, b->xb, b->ldx, m, 1);
        double l = nn_mlp_loss(net, b->tb, b->ldt, m, NULL);
        if (!isfinite(l)) return INFINITY;
        nn_mlp_backward(net, m);
        nn_optim_step(opt, net->params, net->grads);
        ls += l * m;
        seen += m;
        if (stop && *stop) return NAN;
    }
    return seen ? ls / (double)seen : 0;
}

int nn_train_epoch_end(nn_train_cfg *cfg, nn_mlp *net, nn_early_stop *es, float *best_buf,
                       nn_epoch_stats *s, nn_train_result *res, char *err, size_t errlen) {
    int st = nn_early_stop_update(es, s->epoch, s->val_loss, net->params);
    s->improved = st == NN_ES_IMPROVED;
    if (s->improved) memcpy(best_buf, net->buffers, sizeof(float) * net->n_buffers);
    res->epochs_run = s->epoch;
    if (cfg->on_epoch && cfg->on_epoch(cfg->ctx, net, s)) {
        err_fail(err, errlen, "stopped at epoch %d", s->epoch);
        return -1;
    }
    if (st == NN_ES_STOP) { res->stopped_early = 1; return 1; }
    if (cfg->stop && *cfg->stop) { res->interrupted = 1; return 1; }
    return 0;
}

void nn_train_finish(nn_mlp *net, nn_early_stop *es, const float *best_buf, nn_train_result *res) {
    res->best_epoch = es->best_epoch;
    res->best_loss = es->best;
    if (es->best_epoch >= 0) {
        nn_early_stop_restore(es, net->params);
        memcpy(net->buffers, best_buf, sizeof(float) * net->n_buffers);
    }
}

int nn_mlp_train(nn_mlp *net, const float *x, const float *t, int64_t N,
                 nn_train_cfg *cfg, nn_train_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    res->best_epoch = -1;
    res->metric_name = nn_metric_name(net, cfg->metric);
    int rc = -1;
    batcher b = {x, t, net->arch.n_num + net->arch.n_cat, net->n_tcols, 0, NULL, NULL};
    int64_t *idx = malloc(sizeof *idx * (size_t)(N ? N : 1));
    float *best_buf = malloc(sizeof(float) * (net->n_buffers ? net->n_buffers : 1));
    nn_early_stop es = {0};
    nn_optim *opt = &cfg->optim;
    opt->m = opt->v = NULL;
    if (!idx || !best_buf || nn_early_stop_init(&es, cfg->patience, cfg->min_delta, net->n_params) ||
        nn_optim_init(opt, net->n_params)) {
        err_fail(err, errlen, "out of memory");
        goto done;
    }
    rng_state r;
    rng_seed(&r, cfg->seed);
    for (int64_t i = 0; i < N; i++) idx[i] = i;
    rng_shuffle_i64(&r, idx, N);
    int64_t n_val = (int64_t)llround((double)N * cfg->val_frac);
    if (cfg->val_frac > 0 && n_val == 0 && N >= 2) n_val = 1;
    int64_t n_train = N - n_val;
    const int64_t *val = idx + n_train;
    res->n_train = n_train;
    res->n_val = n_val;
    if (n_train < (has_batchnorm(net) ? 2 : 1)) {
        err_fail(err, errlen, "%lld rows leave %lld for training after holding out %lld for validation; give more rows or a smaller --val",
             (long long)N, (long long)n_train, (long long)n_val);
        goto done;
    }
    b.B = (int)(cfg->batch < n_train ? cfg->batch : n_train);
    b.xb = malloc(sizeof(float) * (size_t)b.B * (size_t)(b.ldx ? b.ldx : 1));
    b.tb = malloc(sizeof(float) * (size_t)b.B * (size_t)(b.ldt ? b.ldt : 1));
    if (!b.xb || !b.tb || nn_mlp_reserve(net, b.B)) { err_fail(err, errlen, "out of memory for batches of %d rows", b.B); goto done; }
    for (int e = 1; e <= cfg->epochs; e++) {
        double t0 = now_s();
        double tl = train_epoch(net, &b, idx, n_train, opt, &r, cfg->stop);
        if (isnan(tl)) { res->interrupted = 1; break; }
        if (isinf(tl)) {
            err_fail(err, errlen, "epoch %d: the training loss is no longer finite (diverged); lower --lr or check the inputs", e);
            goto done;
        }
        nn_epoch_stats s = {e, tl, tl, NAN, 0, 0};
        if (n_val) evaluate(net, cfg->metric, &b, val, n_val, &s.val_loss, &s.metric);
        else evaluate(net, cfg->metric, &b, idx, n_train, &s.val_loss, &s.metric);
        s.seconds = now_s() - t0;
        int end = nn_train_epoch_end(cfg, net, &es, best_buf, &s, res, err, errlen);
        if (end < 0) goto done;
        if (end) break;
    }
    nn_train_finish(net, &es, best_buf, res);
    rc = 0;
done:
    free(idx);
    free(best_buf);
    free(b.xb);
    free(b.tb);
    nn_early_stop_free(&es);
    nn_optim_free(opt);
    return rc;
}
