/* mlp.c - the network of mlp.h: parameter layout, forward, loss, backward. */
#include "mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- layout ---------- */
static void add_tensor(nn_mlp *net, const char *name, float *p, float *g,
                       int64_t rows, int64_t cols) {
    /* matrices are passed with rows > 0 and vectors with rows == 1; a
     * weight is always a matrix, even with one row */
    nn_tensor *t = &net->tensors[net->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->p = p;
    t->g = g;
    t->rows = rows;
    t->cols = cols;
    size_t n = strlen(name);
    t->ndim = n > 7 && strcmp(name + n - 7, ".weight") == 0 && strncmp(name, "bn.", 3) != 0 ? 2 : 1;
}

/* Walk the layout once to count (base == NULL) and once to assign pointers. */
static size_t layout_params(nn_mlp *net, float *base, float *gbase) {
    const nn_arch *a = &net->arch;
    size_t off = 0;
    char name[64];
#define TAKE(ptr, gptr, n) do { if (base) { ptr = base + off; gptr = gbase + off; } off += (size_t)(n); } while (0)
    for (int c = 0; c < a->n_cat; c++) {
        TAKE(net->emb[c], net->demb[c], a->cat[c].vocab * a->cat[c].dim);
        if (base) {
            snprintf(name, sizeof name, "emb.%d.weight", c);
            add_tensor(net, name, net->emb[c], net->demb[c], a->cat[c].vocab, a->cat[c].dim);
        }
    }
    for (int l = 0; l < a->n_layers; l++) {
        int u = a->layer[l].units, in = net->in_dim[l];
        TAKE(net->W[l], net->dW[l], (size_t)u * in);
        if (base) {
            snprintf(name, sizeof name, "dense.%d.weight", l);
            add_tensor(net, name, net->W[l], net->dW[l], u, in);
        }
        /* a dense layer feeding batchnorm has no bias: the batch mean would
         * cancel it, and its gradient is rounding noise that Adam and RMSprop
         * would blow up to full-size steps (torch users write bias=False) */
        if (!a->layer[l].batchnorm) {
            TAKE(net->b[l], net->db[l], u);
            if (base) {
                snprintf(name, sizeof name, "dense.%d.bias", l);
                add_tensor(net, name, net->b[l], net->db[l], 1, u);
            }
            continue;
        }
        TAKE(net->gamma[l], net->dgamma[l], u);
        TAKE(net->beta[l], net->dbeta[l], u);
        if (base) {
            snprintf(name, sizeof name, "bn.%d.weight", l);
            add_tensor(net, name, net->gamma[l], net->dgamma[l], 1, u);
            snprintf(name, sizeof name, "bn.%d.bias", l);
            add_tensor(net, name, net->beta[l], net->dbeta[l], 1, u);
        }
    }
#undef TAKE
    return off;
}

static size_t layout_buffers(nn_mlp *net, float *base) {
    const nn_arch *a = &net->arch;
    size_t off = 0;
    char name[64];
    for (int l = 0; l < a->n_layers; l++) {
        if (!a->layer[l].batchnorm) continue;
        int u = a->layer[l].units;
        if (base) {
            net->run_mean[l] = base + off;
            net->run_var[l] = base + off + u;
            snprintf(name, sizeof name, "bn.%d.running_mean", l);
            add_tensor(net, name, net->run_mean[l], NULL, 1, u);
            snprintf(name, sizeof name, "bn.%d.running_var", l);
            add_tensor(net, name, net->run_var[l], NULL, 1, u);
        }
        off += 2 * (size_t)u;
    }
    if (base) {
        net->norm_mean = base + off;
        net->norm_std = base + off + a->n_num;
        net->t_shift = base + off + 2 * (size_t)a->n_num;
        net->t_scale = net->t_shift + net->n_tcols;
    }
    return off + 2 * (size_t)a->n_num + 2 * (size_t)net->n_tcols;
}

int nn_mlp_create(nn_mlp *net, const nn_arch *arch, char *err, size_t errlen) {
    memset(net, 0, sizeof *net);
    if (nn_arch_check(arch, 1, err, errlen)) return -1;
    if (nn_arch_copy(&net->arch, arch)) goto oom;
    const nn_arch *a = &net->arch;
    net->bn_momentum = 0.1f;
    net->bn_eps = 1e-5f;
    net->in_width = a->n_num;
    for (int c = 0; c < a->n_cat; c++) {
        net->emb_off[c] = net->in_width;
        net->in_width += a->cat[c].dim;
    }
    for (int l = 0; l < a->n_layers; l++)
        net->in_dim[l] = l ? a->layer[l - 1].units : net->in_width;
    int off = 0, toff = 0;
    for (int h = 0; h < a->n_heads; h++) {
        net->head_off[h] = off;
        net->head_toff[h] = toff;
        off += nn_head_width(&a->head[h]);
        toff += nn_head_tcols(&a->head[h]);
    }
    net->n_tcols = toff;
    int max_tensors = a->n_cat + 6 * a->n_layers;
    if (!(net->tensors = calloc((size_t)max_tensors, sizeof *net->tensors))) goto oom;
    net->n_params = layout_params(net, NULL, NULL);
    net->n_buffers = layout_buffers(net, NULL);
    net->params = calloc(net->n_params, sizeof *net->params);
    net->grads = calloc(net->n_params, sizeof *net->grads);
    net->buffers = calloc(net->n_buffers, sizeof *net->buffers);
    if (!net->params || !net->grads || !net->buffers) goto oom;
    layout_params(net, net->params, net->grads);
    layout_buffers(net, net->buffers);
    for (int j = 0; j < a->n_num; j++) net->norm_std[j] = 1;
    for (int j = 0; j < net->n_tcols; j++) net->t_scale[j] = 1;
    for (int l = 0; l < a->n_layers; l++)
        if (a->layer[l].batchnorm)
            for (int k = 0; k < a->layer[l].units; k++) net->run_var[l][k] = 1;
    rng_seed(&net->rng, 0);
    return 0;
oom:
    snprintf(err, errlen, "out of memory for a network of %zu parameters", net->n_params);
    nn_mlp_free(net);
    return -1;
}

void nn_mlp_free(nn_mlp *net) {
    nn_arch_free(&net->arch);
    free(net->tensors);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net->arena);
    free(net->ids);
    memset(net, 0, sizeof *net);
}

void nn_mlp_init_params(nn_mlp *net, uint64_t seed) {
    const nn_arch *a = &net->arch;
    rng_state r;
    rng_seed(&r, seed);
    for (int c = 0; c < a->n_cat; c++)
        nn_embedding_init(net->emb[c], a->cat[c].vocab, a->cat[c].dim, &r);
    for (int l = 0; l < a->n_layers; l++) {
        nn_dense_init(net->W[l], net->b[l], net->in_dim[l], a->layer[l].units, &r);
        if (!a->layer[l].batchnorm) continue;
        for (int k = 0; k < a->layer[l].units; k++) {
            net->gamma[l][k] = 1;
            net->beta[l][k] = 0;
            net->run_mean[l][k] = 0;
            net->run_var[l][k] = 1;
        }
    }
    /* dropout masks get their own stream, derived from the same seed */
    rng_seed(&net->rng, seed ^ 0x6a09e667f3bcc909ull);
}

nn_tensor *nn_mlp_tensor(nn_mlp *net, const char *name) {
    for (int i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0) return &net->tensors[i];
    return NULL;
}

int nn_mlp_out_width(const nn_mlp *net) {
    return net->arch.layer[net->arch.n_layers - 1].units;
}

/* ---------- activation arena ---------- */
int nn_mlp_reserve(nn_mlp *net, int B) {
    if (B <= net->B) return 0;
    const nn_arch *a = &net->arch;
    size_t maxw = (size_t)net->in_width, per_row = 2 * (size_t)net->in_width, per_batch = 0;
    for (int l = 0; l < a->n_layers; l++) {
        const nn_layer_spec *s = &a->layer[l];
        size_t u = (size_t)s->units;
        if (u > maxw) maxw = u;
        per_row += 2 * u;                               /* z, a */
        if (s->batchnorm) { per_row += 2 * u; per_batch += u; }   /* xhat, bn; invstd */
        if (s->dropout > 0) per_row += 2 * u;           /* mask, h */
    }
    per_row += 2 * maxw + (size_t)nn_mlp_out_width(net);        /* g0, g1, dpred */
    if (per_row > SIZE_MAX / sizeof(float) / (size_t)B) return -1;
    float *arena = malloc((per_row * (size_t)B + per_batch) * sizeof *arena);
    int32_t *ids = malloc(((size_t)B * (size_t)a->n_cat + 1) * sizeof *ids);
    if (!arena || !ids) { free(arena); free(ids); return -1; }
    free(net->arena);
    free(net->ids);
    net->arena = arena;
    net->ids = ids;
    net->B = B;
    float *p = arena;
#define CARVE(ptr, n) do { ptr = p; p += (size_t)(n); } while (0)
    CARVE(net->x0, (size_t)B * net->in_width);
    CARVE(net->dx0, (size_t)B * net->in_width);
    CARVE(net->g0, (size_t)B * maxw);
    CARVE(net->g1, (size_t)B * maxw);
    CARVE(net->dpred, (size_t)B * nn_mlp_out_width(net));
    for (int l = 0; l < a->n_layers; l++) {
        const nn_layer_spec *s = &a->layer[l];
        size_t n = (size_t)B * s->units;
        CARVE(net->z[l], n);
        CARVE(net->a[l], n);
        net->xhat[l] = net->bn[l] = net->invstd[l] = net->mask[l] = net->h[l] = NULL;
        if (s->batchnorm) { CARVE(net->xhat[l], n); CARVE(net->bn[l], n); CARVE(net->invstd[l], s->units); }
        if (s->dropout > 0) { CARVE(net->mask[l], n); CARVE(net->h[l], n); }
    }
#undef CARVE
    /* when every head of the last layer is linear (ce heads are logits),
     * its output is its pre-activation: share the memory instead of copying
     * B x width floats per batch (thousands of classes per row) */
    int all_linear = 1;
    for (int h = 0; h < a->n_heads; h++)
        if (a->head[h].loss != NN_LOSS_CE && a->head[h].act != NN_LINEAR) all_linear = 0;
    if (all_linear) net->a[a->n_layers - 1] = net->z[a->n_layers - 1];
    return 0;
}

/* ---------- forward ---------- */
int nn_mlp_check_input(const nn_mlp *net, const float *x, int ldx, int B,
                       int *bad_row, int *bad_col) {
    const nn_arch *a = &net->arch;
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * ldx;
        for (int j = 0; j < a->n_num; j++)
            if (!isfinite(r[j])) { *bad_row = i; *bad_col = j; return -1; }
        for (int c = 0; c < a->n_cat; c++) {
            float v = r[a->n_num + c];
            if (!(v >= 0 && v < (float)a->cat[c].vocab) || v != floorf(v)) {
                *bad_row = i; *bad_col = a->n_num + c; return -1;
            }
        }
    }
    return 0;
}

/* act on columns [off, off+w) of each of B rows of width ld */
static void segment_act(nn_act act, float *y, const float *x, int ld, int off, int w,
                        int B, float slope) {
    for (int i = 0; i < B; i++)
        nn_act_forward(act, y + (size_t)i * ld + off, x + (size_t)i * ld + off, w, slope);
}

static void segment_act_backward(nn_act act, float *g, const float *x, const float *y,
                                 int ld, int off, int w, int B, float slope) {
    for (int i = 0; i < B; i++) {
        size_t k = (size_t)i * ld + off;
        nn_act_backward(act, g + k, g + k, x + k, y + k, w, slope);
    }
}

void nn_mlp_forward(nn_mlp *net, const float *x, int ldx, int B, int train) {
    const nn_arch *a = &net->arch;
    const int W0 = net->in_width, last = a->n_layers - 1;
    nn_norm_apply(net->x0, W0, x, ldx, B, a->n_num, net->norm_mean, net->norm_std);
    for (int c = 0; c < a->n_cat; c++) {
        for (int i = 0; i < B; i++)
            net->ids[(size_t)i * a->n_cat + c] = (int32_t)x[(size_t)i * ldx + a->n_num + c];
        nn_embedding_forward(net->x0 + net->emb_off[c], W0, net->ids + c, a->n_cat,
                             net->emb[c], B, a->cat[c].dim);
    }
    const float *in = net->x0;
    for (int l = 0; l <= last; l++) {
        const nn_layer_spec *s = &a->layer[l];
        const int u = s->units;
        net->inp[l] = in;
        nn_dense_forward(net->z[l], in, net->W[l], net->b[l], B, net->in_dim[l], u);
        if (l == last) {
            for (int h = 0; h < a->n_heads; h++) {
                const nn_head_spec *hs = &a->head[h];
                nn_act act = hs->loss == NN_LOSS_CE ? NN_LINEAR : hs->act;
                segment_act(act, net->a[l], net->z[l], u, net->head_off[h],
                            nn_head_width(hs), B, hs->slope);
            }
            break;
        }
        const float *v = net->z[l];
        if (s->batchnorm) {
            if (train)
                nn_batchnorm_forward_train(net->bn[l], net->xhat[l], net->invstd[l],
                                           net->run_mean[l], net->run_var[l], v,
                                           net->gamma[l], net->beta[l], B, u,
                                           net->bn_momentum, net->bn_eps);
            else
                nn_batchnorm_forward_eval(net->bn[l], v, net->gamma[l], net->beta[l],
                                          net->run_mean[l], net->run_var[l], B, u, net->bn_eps);
            v = net->bn[l];
        }
        nn_act_forward(s->act, net->a[l], v, (int64_t)B * u, s->slope);
        in = net->a[l];
        if (train && s->dropout > 0) {
            nn_dropout_forward(net->h[l], net->mask[l], net->a[l], (int64_t)B * u, s->dropout, &net->rng);
            in = net->h[l];
        }
    }
    net->last_train = train;
}

const float *nn_mlp_output(const nn_mlp *net, int l) { return net->a[l]; }

/* ---------- loss and backward ---------- */
double nn_mlp_loss(nn_mlp *net, const float *t, int ldt, int B, double *head_loss) {
    const nn_arch *a = &net->arch;
    const int last = a->n_layers - 1, uo = a->layer[last].units;
    const float *pred = net->a[last];
    double total = 0;
    for (int h = 0; h < a->n_heads; h++) {
        const nn_head_spec *hs = &a->head[h];
        int off = net->head_off[h], w = nn_head_width(hs);
        const float *th = t + net->head_toff[h];
        float *dp = net->dpred + off;
        double l = 0;
        switch (hs->loss) {
        case NN_LOSS_MSE: l = nn_loss_mse(dp, pred + off, uo, th, ldt, B, w, hs->weight); break;
        case NN_LOSS_MAE: l = nn_loss_mae(dp, pred + off, uo, th, ldt, B, w, hs->weight); break;
        case NN_LOSS_BCE: l = nn_loss_bce(dp, pred + off, uo, th, ldt, B, w, hs->weight); break;
        case NN_LOSS_CE: l = nn_loss_ce(dp, pred + off, uo, th, ldt, B, w, hs->weight); break;
        default: break;
        }
        if (head_loss) head_loss[h] = l;
        total += hs->weight * l;
    }
    return total;
}

void nn_mlp_zero_grad(nn_mlp *net) {
    memset(net->grads, 0, net->n_params * sizeof *net->grads);
}

void nn_mlp_backward(nn_mlp *net, int B) {
    const nn_arch *a = &net->arch;
    const int last = a->n_layers - 1, uo = a->layer[last].units;
    /* the output gradient is worked on where the loss wrote it (dpred), then
     * g0 and g1 take turns */
    float *gz = net->dpred, *gin = net->g0;
    for (int h = 0; h < a->n_heads; h++)
        if (a->head[h].loss != NN_LOSS_CE)
            segment_act_backward(a->head[h].act, gz, net->z[last], net->a[last], uo,
                                 net->head_off[h], nn_head_width(&a->head[h]), B,
                                 a->head[h].slope);
    for (int l = last; l >= 0; l--) {
        float *dx = l > 0 ? gin : a->n_cat > 0 ? net->dx0 : NULL;
        nn_dense_backward(dx, net->dW[l], net->db[l], gz, net->inp[l], net->W[l],
                          B, net->in_dim[l], a->layer[l].units);
        if (l == 0) break;
        /* back through layer l-1's dropout, activation and batchnorm, in place */
        const nn_layer_spec *s = &a->layer[l - 1];
        const int64_t n = (int64_t)B * s->units;
        if (net->last_train && s->dropout > 0) nn_dropout_backward(gin, gin, net->mask[l - 1], n);
        const float *v = s->batchnorm ? net->bn[l - 1] : net->z[l - 1];
        nn_act_backward(s->act, gin, gin, v, net->a[l - 1], n, s->slope);
        if (s->batchnorm)
            nn_batchnorm_backward(gin, net->dgamma[l - 1], net->dbeta[l - 1], gin,
                                  net->xhat[l - 1], net->invstd[l - 1], net->gamma[l - 1],
                                  B, s->units);
        gz = gin;
        gin = gin == net->g0 ? net->g1 : net->g0;
    }
    for (int c = 0; c < a->n_cat; c++)
        nn_embedding_backward(net->demb[c], net->dx0 + net->emb_off[c], net->in_width,
                              net->ids + c, a->n_cat, B, a->cat[c].dim);
}

void nn_mlp_predict(const nn_mlp *net, float *y, int B) {
    const nn_arch *a = &net->arch;
    const int last = a->n_layers - 1, uo = a->layer[last].units;
    const float *out = net->a[last];
    for (int h = 0; h < a->n_heads; h++) {
        const nn_head_spec *hs = &a->head[h];
        int off = net->head_off[h], w = nn_head_width(hs), toff = net->head_toff[h];
        if (hs->loss == NN_LOSS_CE) {
            nn_softmax(y + off, uo, out + off, uo, B, w);
            continue;
        }
        if (nn_loss_is_pair(hs->loss)) {        /* the embedding itself */
            for (int i = 0; i < B; i++)
                memcpy(y + (size_t)i * uo + off, out + (size_t)i * uo + off, sizeof *y * (size_t)w);
            continue;
        }
        for (int i = 0; i < B; i++)
            for (int j = 0; j < w; j++) {
                size_t k = (size_t)i * uo + off + j;
                y[k] = hs->loss == NN_LOSS_BCE ? out[k]
                     : out[k] * net->t_scale[toff + j] + net->t_shift[toff + j];
            }
    }
}
