/* plneural.c - the neural playlist-continuation model (plneural.h): layers
 * from nn.h, loss through nn_softmax / nn_loss_ce of loss.h, the seed
 * pooling and the model file here. */
#include "plneural.h"
#include "errbuf.h"
#include "loss.h"
#include "nn.h"
#include "tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lays out parameters of arch a from base; returns the count */
static size_t layout(pln_params *p, const pln_arch *a, float *base) {
    size_t n = 0, V = (size_t)a->vocab, D = (size_t)a->dim, H = (size_t)a->hidden;
#define TAKE(field, count) do { p->field = base ? base + n : NULL; n += (count); } while (0)
    TAKE(E, V * D);
    TAKE(bout, V);
    TAKE(Win, H * 2 * D);
    TAKE(bin, H);
    for (int r = 0; r < a->blocks; r++) {
        TAKE(Wa[r], H * H); TAKE(ba[r], H);
        TAKE(Wb[r], H * H); TAKE(bb[r], H);
    }
    TAKE(Wp, D * H);
    TAKE(bp, D);
#undef TAKE
    return n;
}

static int check_arch(const pln_arch *a, char *err, size_t errlen) {
    if (a->dim < 1 || a->dim > 4096 || a->hidden < 1 || a->hidden > 65536 ||
        a->blocks < 0 || a->blocks > PLN_MAX_BLOCKS || a->vocab < 1 || a->vocab > INT32_MAX)
        return err_fail(err, errlen, "bad architecture: dim %d, hidden %d, blocks %d (at most %d), vocab %lld",
                    a->dim, a->hidden, a->blocks, PLN_MAX_BLOCKS, (long long)a->vocab);
    return 0;
}

static int alloc_model(pln_model *m, const pln_arch *a, const int32_t *tracks, int32_t ntracks,
                       char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (check_arch(a, err, errlen)) return -1;
    m->a = *a;
    m->nparams = layout(&m->p, a, NULL);
    m->params = calloc(m->nparams, sizeof *m->params);
    m->grads = calloc(m->nparams, sizeof *m->grads);
    m->track = malloc((size_t)a->vocab * sizeof *m->track);
    m->ntracks = ntracks;
    m->row_of = malloc((size_t)(ntracks ? ntracks : 1) * sizeof *m->row_of);
    if (!m->params || !m->grads || !m->track || !m->row_of) {
        pln_free(m);
        return err_fail(err, errlen, "out of memory (%zu parameters)", m->nparams);
    }
    layout(&m->p, a, m->params);
    layout(&m->g, a, m->grads);
    for (int32_t t = 0; t < ntracks; t++) m->row_of[t] = -1;
    for (int64_t v = 0; v < a->vocab; v++) {
        if (tracks[v] < 0 || tracks[v] >= ntracks || m->row_of[tracks[v]] >= 0) {
            pln_free(m);
            return err_fail(err, errlen, "vocabulary row %lld: track %d repeated or out of range", (long long)v, tracks[v]);
        }
        m->track[v] = tracks[v];
        m->row_of[tracks[v]] = (int32_t)v;
    }
    return 0;
}

int pln_init(pln_model *m, const pln_arch *a, const int32_t *tracks, int32_t ntracks,
             uint64_t seed, char *err, size_t errlen) {
    if (alloc_model(m, a, tracks, ntracks, err, errlen)) return -1;
    rng_state r;
    rng_seed(&r, seed);
    int D = a->dim, H = a->hidden;
    nn_embedding_init(m->p.E, a->vocab, D, &r);
    /* N(0,1) embeddings would give logits of size sqrt(dim) at the start */
    float s = 1.0f / sqrtf((float)D);
    for (size_t i = 0; i < (size_t)a->vocab * (size_t)D; i++) m->p.E[i] *= s;
    nn_dense_init(m->p.Win, m->p.bin, 2 * D, H, &r);
    for (int k = 0; k < a->blocks; k++) {
        nn_dense_init(m->p.Wa[k], m->p.ba[k], H, H, &r);
        nn_dense_init(m->p.Wb[k], m->p.bb[k], H, H, &r);
    }
    nn_dense_init(m->p.Wp, m->p.bp, H, D, &r);
    return 0;
}

void pln_free(pln_model *m) {
    free(m->params); free(m->grads); free(m->track); free(m->row_of); free(m->arena);
    memset(m, 0, sizeof *m);
}

int pln_reserve(pln_model *m, int B) {
    if (B <= m->cap) return 0;
    size_t D = (size_t)m->a.dim, H = (size_t)m->a.hidden, V = (size_t)m->a.vocab, R = (size_t)m->a.blocks;
    size_t per = 6 * D + H + (R + 1) * H + 2 * R * H + H + D + V   /* forward */
               + V + D + 3 * H + 2 * D;                           /* gradients */
    float *a = malloc((size_t)B * per * sizeof *a);
    if (!a) return -1;
    free(m->arena);
    m->arena = a;
    m->cap = B;
    float *q = a;
#define CUT(ptr, w) do { ptr = q; q += (size_t)B * (w); } while (0)
    CUT(m->x0, 2 * D);
    CUT(m->xd, 2 * D);
    CUT(m->keep, 2 * D);
    CUT(m->a0, H);
    for (size_t r = 0; r <= R; r++) CUT(m->h[r], H);
    for (size_t r = 0; r < R; r++) { CUT(m->ua[r], H); CUT(m->ur[r], H); }
    CUT(m->v, H);
    CUT(m->pr, D);
    CUT(m->z, V);
    CUT(m->dz, V);
    CUT(m->dp, D);
    CUT(m->dh, H);
    CUT(m->dt, H);
    CUT(m->du, H);
    CUT(m->dx0, 2 * D);
#undef CUT
    return 0;
}

/* ---- seed pooling: mean and population std of the seeds' embeddings ---- */

void pln_pool_forward(float *x0, const float *E, int D, const pln_batch *b) {
    for (int i = 0; i < b->B; i++) {
        float *mu = x0 + (size_t)i * 2 * D, *sd = mu + D;
        double acc[4096] = {0}, acc2[4096] = {0};
        int k = 0;
        for (int64_t j = b->off[i]; j < b->off[i + 1]; j++) {
            if (b->rows[j] < 0) continue;
            const float *e = E + (size_t)b->rows[j] * D;
            for (int d = 0; d < D; d++) { acc[d] += e[d]; acc2[d] += (double)e[d] * e[d]; }
            k++;
        }
        for (int d = 0; d < D; d++) {
            double m = k ? acc[d] / k : 0, var = k ? acc2[d] / k - m * m : 0;
            mu[d] = (float)m;
            sd[d] = sqrtf((float)(var > 0 ? var : 0) + PLN_STD_EPS);
        }
    }
}

/* d mean / d e_i = 1/k;  d std_d / d e_id = (e_id - mean_d) / (k std_d)
 * (the term through the mean vanishes: sum_i (e_i - mean) = 0) */
void pln_pool_backward(float *dE, const float *dx0, const float *x0, const float *E, int D,
                       const pln_batch *b) {
    for (int i = 0; i < b->B; i++) {
        const float *mu = x0 + (size_t)i * 2 * D, *sd = mu + D;
        const float *dmu = dx0 + (size_t)i * 2 * D, *dsd = dmu + D;
        int k = 0;
        for (int64_t j = b->off[i]; j < b->off[i + 1]; j++) k += b->rows[j] >= 0;
        if (!k) continue;
        for (int64_t j = b->off[i]; j < b->off[i + 1]; j++) {
            if (b->rows[j] < 0) continue;
            const float *e = E + (size_t)b->rows[j] * D;
            float *g = dE + (size_t)b->rows[j] * D;
            for (int d = 0; d < D; d++)
                g[d] += dmu[d] / (float)k + dsd[d] * (e[d] - mu[d]) / ((float)k * sd[d]);
        }
    }
}

/* ---- the network ---- */

void pln_forward(pln_model *m, const pln_batch *b) {
    int B = b->B, D = m->a.dim, H = m->a.hidden, V = (int)m->a.vocab, R = m->a.blocks;
    const pln_params *p = &m->p;
    pln_pool_forward(m->x0, p->E, D, b);
    const float *x = m->x0;
    if (m->training && m->dropout > 0) {
        float scale = 1.0f / (1.0f - m->dropout);
        for (size_t i = 0; i < (size_t)B * 2 * D; i++) {
            m->keep[i] = rng_float(m->rng) < m->dropout ? 0.0f : scale;
            m->xd[i] = m->x0[i] * m->keep[i];
        }
        x = m->xd;
    }
    nn_dense_forward(m->a0, x, p->Win, p->bin, B, 2 * D, H);
    nn_act_forward(NN_RELU, m->h[0], m->a0, (int64_t)B * H, 0);
    for (int r = 0; r < R; r++) {
        nn_dense_forward(m->ua[r], m->h[r], p->Wa[r], p->ba[r], B, H, H);
        nn_act_forward(NN_RELU, m->ur[r], m->ua[r], (int64_t)B * H, 0);
        nn_dense_forward(m->v, m->ur[r], p->Wb[r], p->bb[r], B, H, H);
        for (size_t i = 0; i < (size_t)B * H; i++) m->h[r + 1][i] = m->h[r][i] + m->v[i];
    }
    nn_dense_forward(m->pr, m->h[R], p->Wp, p->bp, B, H, D);
    /* tied output: z = p E^T + bout, a dense layer whose W[out=V, in=D] is E */
    nn_dense_forward(m->z, m->pr, p->E, p->bout, B, D, V);
}

/* cross-entropy against the target distribution w (1/count on each target):
 * -sum_t w_t log softmax(z)_t; gradient (softmax(z) - w) / B (the soft-label
 * form of torch.nn.CrossEntropyLoss; one target reduces to nn_loss_ce) */
static double soft_ce(pln_model *m, const pln_batch *b, int grads) {
    int B = b->B, V = (int)m->a.vocab;
    double loss = 0;
    for (int i = 0; i < B; i++) {
        int64_t nt = b->toff[i + 1] - b->toff[i];
        const float *z = m->z + (size_t)i * V;
        float *dz = m->dz + (size_t)i * V;
        if (nt == 1) {
            float t = (float)b->tgt[b->toff[i]];
            loss += nn_loss_ce(grads ? dz : NULL, z, V, &t, 1, 1, V, 1.0f / (float)B);
            continue;
        }
        nn_softmax(dz, V, z, V, 1, V);
        double w = nt ? 1.0 / (double)nt : 0;
        for (int64_t j = b->toff[i]; j < b->toff[i + 1]; j++) {
            int32_t t = b->tgt[j];
            loss -= w * log(fmax(dz[t], 1e-30));
        }
        if (grads) {
            for (int c = 0; c < V; c++) dz[c] /= (float)B;
            for (int64_t j = b->toff[i]; j < b->toff[i + 1]; j++) dz[b->tgt[j]] -= (float)(w / B);
        }
    }
    return loss / B;
}

double pln_loss_backward(pln_model *m, const pln_batch *b, int grads) {
    double loss = soft_ce(m, b, grads);
    if (!grads) return loss;
    int B = b->B, D = m->a.dim, H = m->a.hidden, V = (int)m->a.vocab, R = m->a.blocks;
    const pln_params *p = &m->p;
    pln_params *g = &m->g;
    nn_dense_backward(m->dp, g->E, g->bout, m->dz, m->pr, p->E, B, D, V);
    nn_dense_backward(m->dh, g->Wp, g->bp, m->dp, m->h[R], p->Wp, B, H, D);
    for (int r = R - 1; r >= 0; r--) {
        /* h[r+1] = h[r] + Wb relu(Wa h[r] + ba) + bb */
        nn_dense_backward(m->du, g->Wb[r], g->bb[r], m->dh, m->ur[r], p->Wb[r], B, H, H);
        nn_act_backward(NN_RELU, m->du, m->du, m->ua[r], m->ur[r], (int64_t)B * H, 0);
        nn_dense_backward(m->dt, g->Wa[r], g->ba[r], m->du, m->h[r], p->Wa[r], B, H, H);
        for (size_t i = 0; i < (size_t)B * H; i++) m->dh[i] += m->dt[i];
    }
    nn_act_backward(NN_RELU, m->dh, m->dh, m->a0, m->h[0], (int64_t)B * H, 0);
    int drop = m->training && m->dropout > 0;
    nn_dense_backward(m->dx0, g->Win, g->bin, m->dh, drop ? m->xd : m->x0, p->Win, B, 2 * D, H);
    if (drop)
        for (size_t i = 0; i < (size_t)B * 2 * D; i++) m->dx0[i] *= m->keep[i];
    pln_pool_backward(g->E, m->dx0, m->x0, p->E, D, b);
    return loss;
}

/* ---- model file ---- */

typedef struct { const char *name; int64_t rows, cols; int per_track; } pln_tensor;

static int tensors_of(const pln_model *m, pln_tensor *t, float **ptr) {
    const pln_arch *a = &m->a;
    int n = 0;
    static char names[PLN_MAX_BLOCKS][4][32];
#define ADD(nm, p, r, c, pt) do { t[n] = (pln_tensor){nm, r, c, pt}; ptr[n++] = (p); } while (0)
    ADD("emb.weight", m->p.E, a->vocab, a->dim, 1);
    ADD("out.bias", m->p.bout, a->vocab, 1, 1);
    ADD("in.weight", m->p.Win, a->hidden, 2 * a->dim, 0);
    ADD("in.bias", m->p.bin, 1, a->hidden, 0);
    for (int r = 0; r < a->blocks; r++) {
        snprintf(names[r][0], 32, "block.%d.fc1.weight", r);
        snprintf(names[r][1], 32, "block.%d.fc1.bias", r);
        snprintf(names[r][2], 32, "block.%d.fc2.weight", r);
        snprintf(names[r][3], 32, "block.%d.fc2.bias", r);
        ADD(names[r][0], m->p.Wa[r], a->hidden, a->hidden, 0);
        ADD(names[r][1], m->p.ba[r], 1, a->hidden, 0);
        ADD(names[r][2], m->p.Wb[r], a->hidden, a->hidden, 0);
        ADD(names[r][3], m->p.bb[r], 1, a->hidden, 0);
    }
    ADD("proj.weight", m->p.Wp, a->dim, a->hidden, 0);
    ADD("proj.bias", m->p.bp, 1, a->dim, 0);
#undef ADD
    return n;
}

int pln_save(const pln_model *m, const char *path, const char *meta_json, char *err, size_t errlen) {
    char why[512];
    ts_writer *w = ts_open_write(path, why, sizeof why);
    if (!w) return err_fail(err, errlen, "%s", why);
    pln_tensor t[4 * PLN_MAX_BLOCKS + 8];
    float *ptr[4 * PLN_MAX_BLOCKS + 8];
    int nt = tensors_of(m, t, ptr);
    for (int i = 0; i < nt; i++) {
        ts_header h;
        if (ts_header_init(&h, t[i].name, TS_F32, t[i].cols, NULL)) goto oom;
        h.key_name = strdup(t[i].per_track ? "track" : "row");
        if (i == 0) {
            cJSON *meta = cJSON_CreateObject(), *arch = cJSON_AddObjectToObject(meta, "arch");
            cJSON_AddStringToObject(meta, "model", "songpipe playlist neural v1");
            cJSON_AddNumberToObject(arch, "dim", m->a.dim);
            cJSON_AddNumberToObject(arch, "hidden", m->a.hidden);
            cJSON_AddNumberToObject(arch, "blocks", m->a.blocks);
            cJSON_AddNumberToObject(arch, "vocab", (double)m->a.vocab);
            cJSON_AddNumberToObject(arch, "ntracks", m->ntracks);
            cJSON *train = meta_json ? cJSON_Parse(meta_json) : NULL;
            if (train) cJSON_AddItemToObject(meta, "train", train);
            h.meta = meta;
        }
        int rc = ts_begin_tensor(w, &h);
        for (int64_t r = 0; !rc && r < t[i].rows; r++) {
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)(t[i].per_track ? m->track[r] : r));
            rc = ts_write_row(w, key, ptr[i] + r * t[i].cols);
        }
        rc = rc || ts_end_tensor(w);
        ts_header_free(&h);
        if (rc) { err_fail(err, errlen, "%s", ts_werror(w)); ts_abort(w); return -1; }
    }
    if (ts_close(w, why, sizeof why)) return err_fail(err, errlen, "%s", why);
    return 0;
oom:
    ts_abort(w);
    return err_fail(err, errlen, "%s: out of memory", path);
}

static int read_tensor(ts_reader *r, const char *path, const pln_tensor *want, float *dst,
                       int32_t *keys_out, char *err, size_t errlen) {
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) return err_fail(err, errlen, "%s", ts_error(r));
    if (rc == 0) return err_fail(err, errlen, "%s: ends before tensor '%s'; not a complete mpd-train model", path, want->name);
    if (strcmp(h->name, want->name) || h->dtype != TS_F32 || h->row_elems != want->cols)
        return err_fail(err, errlen, "%s: tensor '%s' (%s, %lld per row) where '%s' (f32, %lld per row) belongs; the file does not match its architecture",
                    path, h->name, ts_dtype_name(h->dtype), (long long)h->row_elems, want->name, (long long)want->cols);
    ts_block b;
    int64_t got = 0;
    while ((rc = ts_read_block(r, &b)) == 1) {
        if (got + b.nrows > want->rows) break;
        memcpy(dst + got * want->cols, b.data, (size_t)(b.nrows * want->cols) * sizeof *dst);
        for (int64_t i = 0; keys_out && i < b.nrows; i++) keys_out[got + i] = (int32_t)strtol(b.keys[i], NULL, 10);
        got += b.nrows;
    }
    if (rc < 0) return err_fail(err, errlen, "%s", ts_error(r));
    if (rc == 1 || got != want->rows)
        return err_fail(err, errlen, "%s: tensor '%s' has %s rows than the %lld of its architecture", path, want->name,
                    rc == 1 ? "more" : "fewer", (long long)want->rows);
    return 0;
}

pln_model *pln_load(const char *path, char *err, size_t errlen) {
    ts_reader *r = ts_open_read(path, err, errlen);
    if (!r) return NULL;
    pln_model *m = calloc(1, sizeof *m);
    int32_t *tracks = NULL;
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc <= 0) { err_fail(err, errlen, "%s: %s", path, rc ? ts_error(r) : "empty stream"); goto bad; }
    const cJSON *arch = h->meta ? cJSON_GetObjectItemCaseSensitive(h->meta, "arch") : NULL;
    pln_arch a = {0};
    int32_t ntracks = 0;
#define NUM(field, dst) do { const cJSON *v = cJSON_GetObjectItemCaseSensitive(arch, field); \
        if (!cJSON_IsNumber(v)) { err_fail(err, errlen, "%s: no arch.%s in the metadata; not an mpd-train model", path, field); goto bad; } \
        dst = v->valuedouble; } while (0)
    NUM("dim", a.dim); NUM("hidden", a.hidden); NUM("blocks", a.blocks); NUM("vocab", a.vocab); NUM("ntracks", ntracks);
#undef NUM
    if (!m || check_arch(&a, err, errlen)) goto bad;
    ts_close_read(r);
    /* read again from the start now that the sizes are known */
    if (!(r = ts_open_read(path, err, errlen))) goto bad;
    if (!(tracks = malloc((size_t)a.vocab * sizeof *tracks))) { err_fail(err, errlen, "out of memory"); goto bad; }
    pln_model tmp = {.a = a};
    pln_tensor t[4 * PLN_MAX_BLOCKS + 8];
    float *ptr[4 * PLN_MAX_BLOCKS + 8];
    size_t np = layout(&tmp.p, &a, NULL);
    float *buf = malloc(np * sizeof *buf);
    if (!buf) { err_fail(err, errlen, "out of memory"); goto bad; }
    layout(&tmp.p, &a, buf);
    int nt = tensors_of(&tmp, t, ptr);
    for (int i = 0; i < nt; i++)
        if (read_tensor(r, path, &t[i], ptr[i], i == 0 ? tracks : NULL, err, errlen)) { free(buf); goto bad; }
    ts_close_read(r);
    r = NULL;
    for (int64_t v = 0; v < a.vocab; v++)
        if (tracks[v] >= ntracks) ntracks = tracks[v] + 1;
    if (alloc_model(m, &a, tracks, ntracks, err, errlen)) { free(buf); goto bad; }
    memcpy(m->params, buf, np * sizeof *buf);
    free(buf);
    free(tracks);
    return m;
bad:
    if (r) ts_close_read(r);
    free(tracks);
    if (m) { pln_free(m); free(m); }
    return NULL;
}

/* ---- inference ---- */

/* the model's logits for one query in m->z (row 0) */
static int query_forward(pln_model *m, const int32_t *seeds, int64_t ns) {
    if (pln_reserve(m, 1)) return -1;
    int32_t *rows = malloc((size_t)(ns ? ns : 1) * sizeof *rows);
    if (!rows) return -1;
    for (int64_t i = 0; i < ns; i++)
        rows[i] = seeds[i] >= 0 && seeds[i] < m->ntracks ? m->row_of[seeds[i]] : -1;
    int64_t off[2] = {0, ns};
    pln_batch b = {.B = 1, .off = off, .rows = rows};
    int training = m->training;
    m->training = 0;
    pln_forward(m, &b);
    m->training = training;
    free(rows);
    return 0;
}

int64_t pln_recommend(pln_model *m, plm_model *base, const int32_t *seeds, int64_t ns,
                      int32_t *out, int64_t n) {
    float *score = malloc((size_t)(base->ntracks ? base->ntracks : 1) * sizeof *score);
    if (!score || query_forward(m, seeds, ns)) { free(score); return -1; }
    for (int32_t t = 0; t < base->ntracks; t++) score[t] = -INFINITY;
    for (int64_t v = 0; v < m->a.vocab; v++)
        if (m->track[v] < base->ntracks) score[m->track[v]] = m->z[v];
    int64_t k = plm_top_dense(base, score, seeds, ns, out, n);
    free(score);
    return k;
}

int64_t pln_recommend_blend(pln_model *m, plm_model *base, const int32_t *seeds, int64_t ns,
                            float w, int32_t *out, int64_t n) {
    int32_t nt = base->ntracks;
    float *score = calloc((size_t)(nt ? nt : 1), sizeof *score);
    double *c = calloc((size_t)(nt ? nt : 1), sizeof *c);
    int32_t *plw = calloc((size_t)(base->npl ? base->npl : 1), sizeof *plw);
    int64_t k = -1;
    if (!score || !c || !plw || query_forward(m, seeds, ns)) goto done;
    /* co-occurrence: each seed adds 1 to every training playlist holding it,
     * each track of such a playlist gains that weight (plmodel.h) */
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= nt) continue;
        for (int64_t j = base->tr_off[s]; j < base->tr_off[s + 1]; j++) plw[base->tr_pl[j]]++;
    }
    double total = 0;
    for (int64_t p = 0; p < base->npl; p++) {
        if (!plw[p]) continue;
        for (int64_t j = base->pl_off[p]; j < base->pl_off[p + 1]; j++) c[base->pl_tr[j]] += plw[p];
        total += (double)plw[p] * (double)(base->pl_off[p + 1] - base->pl_off[p]);
    }
    /* softmax of the logits (max-shifted) */
    int64_t V = m->a.vocab;
    double mx = -INFINITY, sum = 0;
    for (int64_t v = 0; v < V; v++) mx = fmax(mx, m->z[v]);
    for (int64_t v = 0; v < V; v++) sum += exp(m->z[v] - mx);
    int known = 0;
    for (int64_t i = 0; i < ns; i++) known |= seeds[i] >= 0 && seeds[i] < m->ntracks && m->row_of[seeds[i]] >= 0;
    double wn = known ? w : 0, wc = total > 0 ? 1 - wn : 0;
    if (total <= 0 && known) wn = 1;
    for (int32_t t = 0; t < nt; t++) score[t] = total > 0 ? (float)(wc * c[t] / total) : 0.0f;
    for (int64_t v = 0; v < V && wn > 0; v++)
        if (m->track[v] < nt) score[m->track[v]] += (float)(wn * exp(m->z[v] - mx) / sum);
    k = plm_top_dense(base, score, seeds, ns, out, n);
done:
    free(score); free(c); free(plw);
    return k;
}
