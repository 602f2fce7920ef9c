/* cnn.c - the network of cnn.h: parameter layout, arena, forward, loss,
 * backward.  Shapes follow the torch module the reference script builds
 * (tests/ref/make_cnn_golden.py), so state_dict names and values line up. */
#include "cnn.h"
#include "errbuf.h"
#include "loss.h"
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cnn_arch_set(cnn_arch *a, const char *widths, float mult, int in_h, int in_w,
                 char *err, size_t errlen) {
    const char *p = widths;
    a->n_stages = 0;
    a->width_mult = mult;
    a->in_h = in_h, a->in_w = in_w;
    if (!(mult > 0 && mult <= 64)) return err_fail(err, errlen, "width multiplier %g: give a number in (0, 64]", mult);
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65536 || (*end && *end != ','))
            return err_fail(err, errlen, "widths '%s': give positive integers separated by commas, e.g. 64,64,128,256,512", widths);
        if (a->n_stages == CNN_MAX_STAGES) return err_fail(err, errlen, "widths '%s': at most %d stages", widths, CNN_MAX_STAGES);
        a->base[a->n_stages] = (int)v;
        long w = lroundf((float)v * mult);
        a->width[a->n_stages++] = w < 1 ? 1 : (int)w;
        p = *end ? end + 1 : end;
    }
    if (a->n_stages == 0) return err_fail(err, errlen, "widths: give at least one stage");
    int h = in_h, w = in_w;
    for (int s = 0; s < a->n_stages; s++) {
        if (h < 2 || w < 2)
            return err_fail(err, errlen, "a %dx%d tile is too small for %d stages of 2x2 pooling (stage %d gets %dx%d); use fewer --widths or larger tiles",
                        in_h, in_w, a->n_stages, s, h, w);
        h /= 2, w /= 2;
    }
    if (a->adapt > h || a->adapt > w)
        return err_fail(err, errlen, "adaptive pool to %dx%d needs at least that much after the stages (%dx%d)", a->adapt, a->adapt, h, w);
    return 0;
}

/* ---------- parameter layout: one pass counts, the next assigns ---------- */
typedef struct {
    cnn_net *net;
    int assign;
    size_t np, nb;
    int nt;
} layout;

static float *add(layout *L, float **grad, const char *name, int ndim, int64_t d0, int64_t d1,
                  int64_t d2, int64_t d3, int buffer) {
    int64_t shape[4] = {d0, d1, d2, d3};
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    float *p = NULL;
    if (L->assign) {
        cnn_tensor *t = &L->net->tensors[L->nt];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->ndim = ndim;
        memcpy(t->shape, shape, sizeof shape);
        t->n = n;
        if (buffer) { t->p = L->net->buffers + L->nb; t->g = NULL; }
        else { t->p = L->net->params + L->np; t->g = L->net->grads + L->np; }
        p = t->p;
        if (grad) *grad = t->g;
    }
    if (buffer) L->nb += n;
    else L->np += n;
    L->nt++;
    return p;
}

static void add_conv(layout *L, cnn_conv *c, const char *pre, int O, int C) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.weight", pre);
    c->w = add(L, &c->dw, nm, 4, O, C, 3, 3, 0);
}

static void add_bn(layout *L, cnn_bn *b, const char *pre, int C) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.weight", pre);
    b->gamma = add(L, &b->dgamma, nm, 1, C, 0, 0, 0, 0);
    snprintf(nm, sizeof nm, "%s.bias", pre);
    b->beta = add(L, &b->dbeta, nm, 1, C, 0, 0, 0, 0);
    snprintf(nm, sizeof nm, "%s.running_mean", pre);
    b->run_mean = add(L, NULL, nm, 1, C, 0, 0, 0, 1);
    snprintf(nm, sizeof nm, "%s.running_var", pre);
    b->run_var = add(L, NULL, nm, 1, C, 0, 0, 0, 1);
}

static void do_layout(layout *L) {
    cnn_net *n = L->net;
    const cnn_arch *a = &n->arch;
    char pre[48];
    for (int s = 0; s < a->n_stages; s++) {
        cnn_stage *st = &n->st[s];
        snprintf(pre, sizeof pre, "stage.%d.conv", s);
        add_conv(L, &st->conv, pre, st->C, st->Cin);
        snprintf(pre, sizeof pre, "stage.%d.bn", s);
        add_bn(L, &st->bn, pre, st->C);
        if (!a->residual) continue;
        snprintf(pre, sizeof pre, "stage.%d.res.conv1", s);
        add_conv(L, &st->rc1, pre, st->C, st->C);
        snprintf(pre, sizeof pre, "stage.%d.res.bn1", s);
        add_bn(L, &st->bn1, pre, st->C);
        snprintf(pre, sizeof pre, "stage.%d.res.conv2", s);
        add_conv(L, &st->rc2, pre, st->C, st->C);
        snprintf(pre, sizeof pre, "stage.%d.res.bn2", s);
        add_bn(L, &st->bn2, pre, st->C);
    }
    n->We = add(L, &n->dWe, "embed.weight", 2, a->embed, n->feat, 0, 0, 0);
    n->be = add(L, &n->dbe, "embed.bias", 1, a->embed, 0, 0, 0, 0);
    n->Wo = add(L, &n->dWo, "out.weight", 2, a->classes, a->embed, 0, 0, 0);
    n->bo = add(L, &n->dbo, "out.bias", 1, a->classes, 0, 0, 0, 0);
}

int cnn_create(cnn_net *net, const cnn_arch *a, char *err, size_t errlen) {
    memset(net, 0, sizeof *net);
    net->arch = *a;
    net->bn_momentum = 0.1f, net->bn_eps = 1e-5f;
    net->norm_std = 1;
    if (a->n_stages < 1 || a->n_stages > CNN_MAX_STAGES || a->embed < 1 || a->embed > 65536 ||
        a->classes < 2 || a->classes > CNN_MAX_CLASSES || a->adapt < 1 || a->in_h < 2 || a->in_w < 2)
        return err_fail(err, errlen, "architecture out of range (stages 1..%d, embed >= 1, classes >= 2, adapt >= 1)", CNN_MAX_STAGES);
    int C = 1, H = a->in_h, W = a->in_w;
    for (int s = 0; s < a->n_stages; s++) {
        cnn_stage *st = &net->st[s];
        st->Cin = C, st->H = H, st->W = W, st->C = a->width[s];
        st->Hp = H / 2, st->Wp = W / 2;
        if (st->Hp < 1 || st->Wp < 1) return err_fail(err, errlen, "tile %dx%d too small for %d stages", a->in_h, a->in_w, a->n_stages);
        C = st->C, H = st->Hp, W = st->Wp;
    }
    if (a->adapt > H || a->adapt > W) return err_fail(err, errlen, "adaptive pool %d larger than the last stage's %dx%d", a->adapt, H, W);
    net->feat = C * a->adapt * a->adapt;
    layout L = {net, 0, 0, 0, 0};
    do_layout(&L);
    net->n_params = L.np, net->n_buffers = L.nb, net->n_tensors = L.nt;
    net->params = calloc(L.np, sizeof(float));
    net->grads = calloc(L.np, sizeof(float));
    net->buffers = calloc(L.nb ? L.nb : 1, sizeof(float));
    net->tensors = calloc((size_t)L.nt, sizeof *net->tensors);
    if (!net->params || !net->grads || !net->buffers || !net->tensors) {
        cnn_free(net);
        return err_fail(err, errlen, "out of memory for %zu parameters", L.np);
    }
    layout A = {net, 1, 0, 0, 0};
    do_layout(&A);
    return 0;
}

struct cnn_sync {
    pthread_barrier_t bar;
    pthread_mutex_t mu;     /* the start gate: the workers begin when all have started */
    pthread_cond_t cv;
    int go;                 /* 0 wait, 1 run, -1 one could not start: return at once */
};

static void free_workers(cnn_net *net) {
    for (int r = 0; r < net->nrep; r++) {
        cnn_net *w = &net->rep[r];
        free(w->arena), free(w->argmax_arena);
        if (r) free(w->grads), free(w->tensors);
    }
    if (net->sync) pthread_mutex_destroy(&net->sync->mu), pthread_cond_destroy(&net->sync->cv);
    free(net->rep), free(net->sync);
    net->rep = NULL, net->sync = NULL, net->nrep = 0;
}

void cnn_free(cnn_net *net) {
    free_workers(net);
    free(net->params), free(net->grads), free(net->buffers), free(net->tensors);
    free(net->arena), free(net->argmax_arena), free(net->bnbuf[0]);
    if (net->class_names) {
        for (int i = 0; i < net->arch.classes; i++) free(net->class_names[i]);
        free(net->class_names);
    }
    memset(net, 0, sizeof *net);
}

void cnn_init_params(cnn_net *net, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed);
    int64_t fan_in = 1;
    for (int i = 0; i < net->n_tensors; i++) {
        cnn_tensor *t = &net->tensors[i];
        const char *dot = strrchr(t->name, '.');
        int is_bn = strstr(t->name, ".bn") != NULL;
        if (!t->g) {                                        /* running mean 0, var 1 */
            float v = strcmp(dot, ".running_var") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->n; j++) t->p[j] = v;
        } else if (is_bn) {                                 /* gamma 1, beta 0 */
            float v = strcmp(dot, ".weight") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->n; j++) t->p[j] = v;
        } else {
            /* conv and dense weights, then a dense bias with its weight's fan-in */
            if (t->ndim > 1) fan_in = (int64_t)(t->n / (size_t)t->shape[0]);
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t j = 0; j < t->n; j++) t->p[j] = (2.0f * rng_float(&r) - 1.0f) * bound;
        }
    }
}

cnn_tensor *cnn_tensor_find(cnn_net *net, const char *name) {
    for (int i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0) return &net->tensors[i];
    return NULL;
}

/* ---------- arena ---------- */
static size_t stage_floats(const cnn_stage *st, int B, int residual) {
    size_t full = (size_t)B * st->C * st->H * st->W, quarter = (size_t)B * st->C * st->Hp * st->Wp;
    return 2 * full + (residual ? 5 : 1) * quarter + 6 * (size_t)st->C;
}

static int shapes(cnn_net *net, int B) {
    const cnn_arch *a = &net->arch;
    for (int s = 0; s < a->n_stages; s++) {
        cnn_stage *st = &net->st[s];
        if (nn_conv_shape_init(&st->conv.s, st->Cin, st->H, st->W, st->C, 3, 1, 1, B) ||
            (a->residual && (nn_conv_shape_init(&st->rc1.s, st->C, st->Hp, st->Wp, st->C, 3, 1, 1, B) ||
                             nn_conv_shape_init(&st->rc2.s, st->C, st->Hp, st->Wp, st->C, 3, 1, 1, B))))
            return -1;
    }
    return 0;
}

static size_t arena_floats(cnn_net *net, int B, size_t *gmax, size_t *wsmax) {
    const cnn_arch *a = &net->arch;
    size_t n = (size_t)B * a->in_h * a->in_w, g = n, ws = 0;
    for (int s = 0; s < a->n_stages; s++) {
        const cnn_stage *st = &net->st[s];
        n += stage_floats(st, B, a->residual);
        size_t full = (size_t)B * st->C * st->H * st->W;
        if (full > g) g = full;
        size_t w = nn_conv_workspace(&st->conv.s);
        if (a->residual && nn_conv_workspace(&st->rc1.s) > w) w = nn_conv_workspace(&st->rc1.s);
        if (w > ws) ws = w;
    }
    if ((size_t)B * net->feat > g) g = (size_t)B * net->feat;
    n += (size_t)B * (net->feat + a->embed + 2 * (size_t)a->classes + 1);
    *gmax = g, *wsmax = ws;
    return n + 3 * g + ws;
}

size_t cnn_arena_bytes(const cnn_net *net, int B) {
    cnn_net tmp = *net;
    size_t g, ws;
    if (shapes(&tmp, B)) return 0;
    return sizeof(float) * arena_floats(&tmp, B, &g, &ws);
}

static int max_width(const cnn_net *net) {
    int c = 1;
    for (int s = 0; s < net->arch.n_stages; s++) if (net->st[s].C > c) c = net->st[s].C;
    return c;
}

/* the per-sample batch-norm sums of a batch of B: two arrays of 2 B C doubles */
static int alloc_bnbuf(cnn_net *net, int B) {
    size_t n = 2 * (size_t)B * max_width(net);
    free(net->bnbuf[0]);
    if (!(net->bnbuf[0] = malloc(2 * n * sizeof(double)))) return -1;
    net->bnbuf[1] = net->bnbuf[0] + n;
    return 0;
}

static int reserve_one(cnn_net *net, int B) {
    free(net->arena), free(net->argmax_arena);
    net->arena = NULL, net->argmax_arena = NULL;
    const cnn_arch *a = &net->arch;
    if (shapes(net, B)) return -1;
    size_t g, ws, n = arena_floats(net, B, &g, &ws);
    float *p = net->arena = malloc(n * sizeof(float));
    if (!p) return -1;
    if (a->pool == CNN_POOL_MAX) {
        size_t m = 0;
        for (int s = 0; s < a->n_stages; s++) m += (size_t)B * net->st[s].C * net->st[s].Hp * net->st[s].Wp;
        if (!(net->argmax_arena = malloc(m * sizeof(int32_t)))) return -1;
    }
    int32_t *am = net->argmax_arena;
    net->x0 = p; p += (size_t)B * a->in_h * a->in_w;
    for (int s = 0; s < a->n_stages; s++) {
        cnn_stage *st = &net->st[s];
        size_t full = (size_t)B * st->C * st->H * st->W, quarter = (size_t)B * st->C * st->Hp * st->Wp;
        st->z1 = p; p += full;
        st->a1 = p; p += full;
        st->p = p; p += quarter;
        if (a->residual) {
            st->z2 = p; p += quarter;
            st->a2 = p; p += quarter;
            st->z3 = p; p += quarter;
            st->out = p; p += quarter;
        } else {
            st->out = st->p;
        }
        cnn_bn *bns[3] = {&st->bn, &st->bn1, &st->bn2};
        for (int k = 0; k < 3; k++) { bns[k]->mean = p; p += st->C; bns[k]->invstd = p; p += st->C; }
        if (am) { st->argmax = am; am += quarter; }
    }
    net->ad = p; p += (size_t)B * net->feat;
    net->emb = p; p += (size_t)B * a->embed;
    net->logits = p; p += (size_t)B * a->classes;
    net->dlogits = p; p += (size_t)B * a->classes;
    net->tlab = p; p += B;
    for (int k = 0; k < 3; k++) { net->g[k] = p; p += g; }
    net->ws = p;
    net->B = B;
    return 0;
}

void cnn_set_threads(cnn_net *net, int T) {
    net->threads = T < 1 ? 1 : T;
    openblas_set_num_threads(1);
}

/* worker nets: a copy of the master whose gradients (worker 0: the
 * master's own) and arena are its own; the master keeps the head outputs
 * (embedding, logits, their gradient) of the whole batch */
static int reserve_workers(cnn_net *net, int B) {
    const int T = net->threads, Bw = (B + T - 1) / T;
    const cnn_arch *a = &net->arch;
    free_workers(net);
    free(net->arena), free(net->argmax_arena);
    net->arena = NULL, net->argmax_arena = NULL;
    if (!(net->rep = calloc((size_t)T, sizeof *net->rep)) || !(net->sync = calloc(1, sizeof *net->sync)))
        return -1;
    pthread_mutex_init(&net->sync->mu, NULL);
    pthread_cond_init(&net->sync->cv, NULL);
    net->nrep = T;
    if (alloc_bnbuf(net, B)) return -1;
    for (int r = 0; r < T; r++) {
        cnn_net *w = &net->rep[r];
        *w = *net;
        w->arena = NULL, w->argmax_arena = NULL, w->class_names = NULL;
        w->rep = NULL, w->sync = net->sync, w->nrep = 0, w->threads = 1, w->rank = r, w->B = 0;
        if (r) {
            w->grads = calloc(net->n_params ? net->n_params : 1, sizeof(float));
            w->tensors = calloc((size_t)net->n_tensors, sizeof *w->tensors);
            if (!w->grads || !w->tensors) { free(w->grads), free(w->tensors); net->nrep = r; return -1; }
            layout L = {w, 1, 0, 0, 0};
            do_layout(&L);
        }
        if (reserve_one(w, Bw)) { net->nrep = r + 1; return -1; }
    }
    size_t n = (size_t)B * (a->embed + 2 * (size_t)a->classes + 1);
    float *p = net->arena = malloc(n * sizeof(float));
    if (!p) return -1;
    net->emb = p; p += (size_t)B * a->embed;
    net->logits = p; p += (size_t)B * a->classes;
    net->dlogits = p; p += (size_t)B * a->classes;
    net->tlab = p;
    net->B = B;
    return 0;
}

int cnn_reserve(cnn_net *net, int B) {
    if (net->arena && net->B >= B) return 0;
    if (net->threads > 1) return reserve_workers(net, B);
    if (alloc_bnbuf(net, B)) return -1;
    return reserve_one(net, B);
}

/* ---------- forward ---------- */
/* Batch norm in parts (conv.h): per-sample sums into the shared array
 * at this worker's samples, a barrier, totals over the whole batch.  The
 * two arrays alternate so that a worker running ahead never overwrites
 * sums another is still reading.  Worker 0 moves the running statistics
 * and owns the parameter gradients. */
static double *bn_sums(cnn_net *net) { return net->bnbuf[net->bnphase++ & 1]; }
static void bn_wait(cnn_net *net) { if (net->sync) pthread_barrier_wait(&net->sync->bar); }

static void bn_fwd(cnn_net *net, float *y, const float *x, cnn_bn *b, int B, int C, int HW, int train) {
    if (!train) {
        nn_bn2d_forward_eval(y, x, b->gamma, b->beta, b->run_mean, b->run_var, B, C, HW, net->bn_eps);
        return;
    }
    const int lead = net->rank == 0;
    double *s = bn_sums(net);
    nn_bn2d_sums(s + (size_t)net->b0 * C, x, B, C, HW);
    bn_wait(net);
    nn_bn2d_mean(b->mean, s, net->btot, C, HW);
    double *q = bn_sums(net);
    nn_bn2d_sqdevs(q + (size_t)net->b0 * C, x, b->mean, B, C, HW);
    bn_wait(net);
    nn_bn2d_finish(b->invstd, lead ? b->run_mean : NULL, lead ? b->run_var : NULL, b->mean, q,
                   net->btot, C, HW, net->bn_momentum, net->bn_eps);
    nn_bn2d_apply(y, x, b->mean, b->invstd, b->gamma, b->beta, B, C, HW);
}

/* dx may be dy */
static void bn_bwd(cnn_net *net, float *dx, cnn_bn *b, const float *dy, const float *x, int B, int C, int HW) {
    double *d = bn_sums(net);
    nn_bn2d_dsums(d + 2 * (size_t)net->b0 * C, dy, x, b->mean, b->invstd, B, C, HW);
    bn_wait(net);
    nn_bn2d_backward_apply(dx, net->rank == 0 ? b->dgamma : NULL, b->dbeta, dy, x, b->mean, b->invstd,
                           b->gamma, d, net->btot, B, C, HW);
}

static void stage_forward(cnn_net *net, cnn_stage *st, const float *in, int B, int train) {
    const int HW = st->H * st->W, HWp = st->Hp * st->Wp, N = B * st->C;
    nn_conv2d_forward(st->z1, in, st->conv.w, NULL, net->ws, &st->conv.s, B);
    bn_fwd(net, st->a1, st->z1, &st->bn, B, st->C, HW, train);
    nn_relu_inplace(st->a1, (int64_t)N * HW);
    if (net->arch.pool == CNN_POOL_MAX) nn_maxpool_forward(st->p, st->argmax, st->a1, N, st->H, st->W, 2, 2);
    else nn_avgpool_forward(st->p, st->a1, N, st->H, st->W, 2, 2);
    if (!net->arch.residual) return;
    nn_conv2d_forward(st->z2, st->p, st->rc1.w, NULL, net->ws, &st->rc1.s, B);
    bn_fwd(net, st->a2, st->z2, &st->bn1, B, st->C, HWp, train);
    nn_relu_inplace(st->a2, (int64_t)N * HWp);
    nn_conv2d_forward(st->z3, st->a2, st->rc2.w, NULL, net->ws, &st->rc2.s, B);
    bn_fwd(net, st->out, st->z3, &st->bn2, B, st->C, HWp, train);
    size_t n = (size_t)N * HWp;
    for (size_t i = 0; i < n; i++) {
        float v = st->out[i] + st->p[i];
        st->out[i] = v > 0 ? v : 0.0f;
    }
}

static void forward_one(cnn_net *net, const float *x, int B, int train) {
    const cnn_arch *a = &net->arch;
    net->bnphase = 0;
    size_t n = (size_t)B * a->in_h * a->in_w;
    const float m = net->norm_mean, inv = 1.0f / net->norm_std;
    for (size_t i = 0; i < n; i++) net->x0[i] = (x[i] - m) * inv;
    const float *in = net->x0;
    for (int s = 0; s < a->n_stages; s++) {
        stage_forward(net, &net->st[s], in, B, train);
        in = net->st[s].out;
    }
    const cnn_stage *last = &net->st[a->n_stages - 1];
    nn_adaptive_avgpool_forward(net->ad, in, B * last->C, last->Hp, last->Wp, a->adapt, a->adapt);
    nn_dense_forward(net->emb, net->ad, net->We, net->be, B, net->feat, a->embed);
    nn_dense_forward(net->logits, net->emb, net->Wo, net->bo, B, a->embed, a->classes);
}

double cnn_loss(cnn_net *net, const int32_t *labels, int B, int *correct) {
    const int K = net->arch.classes;
    double loss;
    int hits = 0;
    for (int b = 0; b < B; b++) {
        const float *z = net->logits + (size_t)b * K;
        int best = 0;
        for (int k = 1; k < K; k++) if (z[k] > z[best]) best = k;
        hits += best == labels[b];
    }
    /* nn_loss_ce takes the class indices as floats */
    for (int b = 0; b < B; b++) net->tlab[b] = (float)labels[b];
    loss = nn_loss_ce(net->dlogits, net->logits, K, net->tlab, 1, B, K, 1.0f);
    if (correct) *correct = hits;
    return loss;
}

void cnn_zero_grad(cnn_net *net) {
    memset(net->grads, 0, sizeof(float) * net->n_params);
}

/* ---------- backward ---------- */
/* g: the gradient of the stage output (overwritten, then reused for the
 * gradient of the stage input, dx != NULL); t1, t2: scratch */
static void stage_backward(cnn_net *net, cnn_stage *st, const float *in, float *g, int want_dx, int B) {
    const int HW = st->H * st->W, HWp = st->Hp * st->Wp, N = B * st->C;
    float *t1 = net->g[1], *t2 = net->g[2];
    if (net->arch.residual) {
        nn_relu_backward_inplace(g, st->out, (int64_t)N * HWp);              /* d(bn2 + p) */
        bn_bwd(net, t1, &st->bn2, g, st->z3, B, st->C, HWp);
        nn_conv2d_backward(t2, st->rc2.dw, NULL, t1, st->a2, st->rc2.w, net->ws, &st->rc2.s, B);
        nn_relu_backward_inplace(t2, st->a2, (int64_t)N * HWp);
        bn_bwd(net, t2, &st->bn1, t2, st->z2, B, st->C, HWp);
        nn_conv2d_backward(t1, st->rc1.dw, NULL, t2, st->p, st->rc1.w, net->ws, &st->rc1.s, B);
        size_t n = (size_t)N * HWp;
        for (size_t i = 0; i < n; i++) g[i] += t1[i];                        /* skip + branch */
    }
    if (net->arch.pool == CNN_POOL_MAX) nn_maxpool_backward(t1, g, st->argmax, N, st->H, st->W, 2, 2);
    else nn_avgpool_backward(t1, g, N, st->H, st->W, 2, 2);
    nn_relu_backward_inplace(t1, st->a1, (int64_t)N * HW);
    bn_bwd(net, t1, &st->bn, t1, st->z1, B, st->C, HW);
    nn_conv2d_backward(want_dx ? g : NULL, st->conv.dw, NULL, t1, in, st->conv.w, net->ws, &st->conv.s, B);
}

static void backward_one(cnn_net *net, int B) {
    const cnn_arch *a = &net->arch;
    net->bnphase = 0;
    float *demb = net->g[1], *dad = net->g[2];
    nn_dense_backward(demb, net->dWo, net->dbo, net->dlogits, net->emb, net->Wo, B, a->embed, a->classes);
    nn_dense_backward(dad, net->dWe, net->dbe, demb, net->ad, net->We, B, net->feat, a->embed);
    const cnn_stage *last = &net->st[a->n_stages - 1];
    float *g = net->g[0];
    nn_adaptive_avgpool_backward(g, dad, B * last->C, last->Hp, last->Wp, a->adapt, a->adapt);
    for (int s = a->n_stages - 1; s >= 0; s--)
        stage_backward(net, &net->st[s], s ? net->st[s - 1].out : net->x0, g, s > 0, B);
}

/* ---------- the batch over the workers ---------- */
typedef struct {
    cnn_net *master, *w;
    const float *x;
    int B, train, backward, nw;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    cnn_net *m = j->master, *w = j->w;
    const cnn_arch *a = &m->arch;
    const size_t E = (size_t)a->embed, K = (size_t)a->classes;
    if (!j->backward) {
        forward_one(w, j->x, j->B, j->train);
        memcpy(m->emb + (size_t)w->b0 * E, w->emb, sizeof(float) * (size_t)j->B * E);
        memcpy(m->logits + (size_t)w->b0 * K, w->logits, sizeof(float) * (size_t)j->B * K);
        return NULL;
    }
    memcpy(w->dlogits, m->dlogits + (size_t)w->b0 * K, sizeof(float) * (size_t)j->B * K);
    if (w->rank) memset(w->grads, 0, sizeof(float) * m->n_params);
    backward_one(w, j->B);
    /* every worker's gradients are in: each adds up a slice of them into
     * the master's (worker 0's), in worker order */
    pthread_barrier_wait(&m->sync->bar);
    size_t n = m->n_params, lo = n * (size_t)w->rank / (size_t)j->nw, hi = n * (size_t)(w->rank + 1) / (size_t)j->nw;
    for (int r = 1; r < j->nw; r++) {
        const float *g = m->rep[r].grads;
        for (size_t i = lo; i < hi; i++) m->grads[i] += g[i];
    }
    return NULL;
}

/* a started worker waits at the gate until every one has started (the
 * barriers count on all T), or returns when one could not */
static void *run_gated(void *arg) {
    cnn_sync *s = ((job *)arg)->master->sync;
    pthread_mutex_lock(&s->mu);
    while (!s->go) pthread_cond_wait(&s->cv, &s->mu);
    int go = s->go;
    pthread_mutex_unlock(&s->mu);
    return go > 0 ? run_job(arg) : NULL;
}

static void open_gate(cnn_sync *s, int go) {
    pthread_mutex_lock(&s->mu);
    s->go = go;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int run_workers(cnn_net *net, const float *x, int B, int train, int backward) {
    const int T = net->nrep < B ? net->nrep : B;
    const size_t tile = (size_t)net->arch.in_h * net->arch.in_w;
    job jobs[T];
    pthread_t tid[T];
    for (int r = 0, b0 = 0; r < T; r++) {
        int n = B / T + (r < B % T);
        cnn_net *w = &net->rep[r];
        w->b0 = b0, w->btot = B, w->bnbuf[0] = net->bnbuf[0], w->bnbuf[1] = net->bnbuf[1];
        w->norm_mean = net->norm_mean, w->norm_std = net->norm_std;     /* may change after reserve */
        w->bn_momentum = net->bn_momentum, w->bn_eps = net->bn_eps;
        jobs[r] = (job){net, w, x ? x + (size_t)b0 * tile : NULL, n, train, backward, T};
        b0 += n;
    }
    net->sync->go = 0;
    int started = 1;
    for (; started < T; started++)
        if (pthread_create(&tid[started], NULL, run_gated, &jobs[started])) break;
    if (started < T) {
        open_gate(net->sync, -1);
        for (int r = 1; r < started; r++) pthread_join(tid[r], NULL);
        return -1;
    }
    pthread_barrier_init(&net->sync->bar, NULL, (unsigned)T);
    open_gate(net->sync, 1);
    run_job(&jobs[0]);
    for (int r = 1; r < T; r++) pthread_join(tid[r], NULL);
    pthread_barrier_destroy(&net->sync->bar);
    return 0;
}

int cnn_forward(cnn_net *net, const float *x, int B, int train) {
    if (net->nrep) return run_workers(net, x, B, train, 0);
    net->b0 = 0, net->btot = B;
    forward_one(net, x, B, train);
    return 0;
}

int cnn_backward(cnn_net *net, int B) {
    if (net->nrep) return run_workers(net, NULL, B, 1, 1);
    net->b0 = 0, net->btot = B;
    backward_one(net, B);
    return 0;
}
