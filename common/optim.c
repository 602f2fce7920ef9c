/* optim.c - optimisers and early stopping of optim.h.  Each update cites the
 * algorithm box of its PyTorch documentation page (torch 2.x). */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const optim_names[NN_NOPTIM] = {"sgd", "rmsprop", "adam", "adamw"};

const char *nn_optim_name(nn_optim_kind k) { return (unsigned)k < NN_NOPTIM ? optim_names[k] : "?"; }

int nn_optim_parse(const char *s, nn_optim_kind *k) {
    for (int i = 0; i < NN_NOPTIM; i++)
        if (strcmp(s, optim_names[i]) == 0) { *k = (nn_optim_kind)i; return 0; }
    return -1;
}

void nn_optim_defaults(nn_optim *o, nn_optim_kind kind) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->alpha = 0.99f;
    switch (kind) {
    case NN_SGD: o->lr = 1e-3f; break;
    case NN_RMSPROP: o->lr = 1e-2f; break;
    case NN_ADAM: o->lr = 1e-3f; break;
    case NN_ADAMW: o->lr = 1e-3f; o->weight_decay = 1e-2f; break;
    default: break;
    }
}

int nn_optim_init(nn_optim *o, size_t n) {
    o->n = n;
    o->t = 0;
    int need_m = o->kind == NN_ADAM || o->kind == NN_ADAMW || o->momentum != 0;
    int need_v = o->kind != NN_SGD;
    o->m = need_m ? calloc(n ? n : 1, sizeof *o->m) : NULL;
    o->v = need_v ? calloc(n ? n : 1, sizeof *o->v) : NULL;
    if ((need_m && !o->m) || (need_v && !o->v)) { nn_optim_free(o); return -1; }
    return 0;
}

void nn_optim_free(nn_optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* torch.optim.SGD: g += lambda*p; b = g (t=1) or mu*b + (1-tau)*g; p -= lr*b */
static void sgd_step(nn_optim *o, float *p, const float *g) {
    const float lr = o->lr, wd = o->weight_decay, mu = o->momentum, damp = 1.0f - o->dampening;
    for (size_t i = 0; i < o->n; i++) {
        float gi = g[i];
        if (wd != 0) gi += wd * p[i];
        if (mu != 0) {
            o->m[i] = o->t == 1 ? gi : mu * o->m[i] + damp * gi;
            gi = o->m[i];
        }
        p[i] -= lr * gi;
    }
}

/* torch.optim.RMSprop: g += lambda*p; v = alpha*v + (1-alpha)*g^2;
 * mu > 0: b = mu*b + g/(sqrt(v)+eps), p -= lr*b;  else p -= lr*g/(sqrt(v)+eps) */
static void rmsprop_step(nn_optim *o, float *p, const float *g) {
    const float lr = o->lr, wd = o->weight_decay, mu = o->momentum, a = o->alpha, eps = o->eps;
    for (size_t i = 0; i < o->n; i++) {
        float gi = g[i];
        if (wd != 0) gi += wd * p[i];
        o->v[i] = o->v[i] * a + (1.0f - a) * gi * gi;
        float avg = sqrtf(o->v[i]) + eps;
        if (mu > 0) {
            o->m[i] = o->m[i] * mu + gi / avg;
            p[i] -= lr * o->m[i];
        } else {
            p[i] -= lr * (gi / avg);
        }
    }
}

/* one pass of the update over n values; mode 0: no weight decay, 1: L2
 * (Adam), 2: decoupled (AdamW).  Called with a constant mode so each copy is
 * a straight loop that vectorises (the same IEEE operations, lane by lane;
 * restrict: the state never aliases the parameters; v >= 0, so sqrtf needs
 * no errno path, which would keep the loop scalar) */
static void
adam_loop(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
          size_t n, int mode, float lr, float wd, float b1, float b2, float eps,
          float bc2_sqrt, float step) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        if (mode == 2) p[i] *= 1.0f - lr * wd;
        else if (mode == 1) gi += wd * p[i];
        m[i] = m[i] * b1 + (1.0f - b1) * gi;
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step * (m[i] / denom);
    }
}

/* torch.optim.Adam / AdamW:
 *   AdamW: p -= lr*lambda*p (decoupled);  Adam: g += lambda*p
 *   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2
 *   p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
 * (the last line is torch's arrangement of m_hat/(sqrt(v_hat)+eps)). */
static void adam_step(nn_optim *o, float *p, const float *g) {
    const float lr = o->lr, wd = o->weight_decay, b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float bc1 = (float)(1.0 - pow((double)b1, (double)o->t));
    const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, (double)o->t));
    const float step = lr / bc1;
    if (wd == 0) adam_loop(p, g, o->m, o->v, o->n, 0, lr, wd, b1, b2, eps, bc2_sqrt, step);
    else if (o->kind == NN_ADAMW) adam_loop(p, g, o->m, o->v, o->n, 2, lr, wd, b1, b2, eps, bc2_sqrt, step);
    else adam_loop(p, g, o->m, o->v, o->n, 1, lr, wd, b1, b2, eps, bc2_sqrt, step);
}

void nn_optim_step(nn_optim *o, float *p, const float *g) {
    o->t++;
    switch (o->kind) {
    case NN_SGD: sgd_step(o, p, g); break;
    case NN_RMSPROP: rmsprop_step(o, p, g); break;
    case NN_ADAM: case NN_ADAMW: adam_step(o, p, g); break;
    default: break;
    }
}

/* ---------- early stopping ---------- */
int nn_early_stop_init(nn_early_stop *e, int patience, double min_delta, size_t n) {
    memset(e, 0, sizeof *e);
    e->patience = patience;
    e->min_delta = min_delta;
    e->best = INFINITY;
    e->best_epoch = -1;
    e->n = n;
    e->best_params = malloc((n ? n : 1) * sizeof *e->best_params);
    return e->best_params ? 0 : -1;
}

void nn_early_stop_free(nn_early_stop *e) {
    free(e->best_params);
    e->best_params = NULL;
}

int nn_early_stop_update(nn_early_stop *e, int epoch, double loss, const float *params) {
    if (e->best_epoch < 0 || loss < e->best - e->min_delta) {
        e->best = loss;
        e->best_epoch = epoch;
        e->bad_epochs = 0;
        memcpy(e->best_params, params, e->n * sizeof *params);
        return NN_ES_IMPROVED;
    }
    e->bad_epochs++;
    return e->patience > 0 && e->bad_epochs >= e->patience ? NN_ES_STOP : NN_ES_WORSE;
}

void nn_early_stop_restore(const nn_early_stop *e, float *params) {
    if (e->best_epoch >= 0) memcpy(params, e->best_params, e->n * sizeof *params);
}
