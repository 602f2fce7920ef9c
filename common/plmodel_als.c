/* plmodel_als.c - implicit-feedback matrix factorisation for playlist
 * continuation (plmodel.h: plm_als_*): Hu, Koren, Volinsky 2008,
 * "Collaborative filtering for implicit feedback datasets", with the
 * conjugate-gradient updates of Takacs, Pilaszy, Tikk 2011 ("Applications of
 * the conjugate gradient method for implicit feedback collaborative
 * filtering"), as the `implicit` library's least_squares_cg does them.
 * Dense parts (Y'Y, the per-row products, the fold-in solve and the
 * scores) through CBLAS and LAPACK in OpenBLAS. */
#include "plmodel.h"
#include "rng.h"
#include "tensor.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda, float *b,
             const int *ldb, int *info);

/* rows per block of the conjugate-gradient updates */
#define CG_BLOCK 256

plm_als_opts plm_als_defaults(void) {
    return (plm_als_opts){.factors = 128, .iterations = 15, .cg_steps = 3, .lambda = 10, .alpha = 40, .seed = 1};
}

static int alloc_items(plm_als_model *a, int32_t ntracks, int f) {
    size_t nt = (size_t)(ntracks ? ntracks : 1), ff = (size_t)f * (size_t)f;
    a->Y = calloc(nt * (size_t)f, sizeof *a->Y);
    a->G = malloc(ff * sizeof *a->G);
    a->A = malloc(ff * sizeof *a->A);
    a->xq = malloc((size_t)f * sizeof *a->xq);
    a->score = malloc(nt * sizeof *a->score);
    a->nscore = (int32_t)nt;
    a->work = malloc((3 * (size_t)CG_BLOCK * (size_t)f + 2 * CG_BLOCK) * sizeof *a->work);
    return a->Y && a->G && a->A && a->xq && a->score && a->work ? 0 : -1;
}

/* G = Y'Y + lambda I over the n rows of Y (f columns) */
static void gram(float *G, const float *Y, int64_t n, int f, double lambda) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, f, f, (int)n, 1.0f, Y, f, Y, f, 0.0f, G, f);
    for (int i = 0; i < f; i++) G[(size_t)i * f + i] += (float)lambda;
}

static inline float dot(const float *a, const float *b, int f) {
    float s = 0;
    for (int i = 0; i < f; i++) s += a[i] * b[i];
    return s;
}

static inline void axpy(float a, const float *x, float *y, int f) {
    for (int i = 0; i < f; i++) y[i] += a * x[i];
}

/* One side's update: for every row u (a playlist, or a track) with the
 * observed columns idx[off[u]..off[u+1]) of the other side's factors Y,
 * `steps` conjugate-gradient steps from the current x_u towards the
 * solution of (Y'Y + lambda I + alpha sum_i y_i y_i') x = (1 + alpha) sum_i y_i
 * (confidence c = 1 + alpha on the observed cells, preference 1; 0 and
 * confidence 1 elsewhere).  G = Y'Y + lambda I.  Rows go in blocks of
 * CG_BLOCK, so the dense product with G is one sgemm per block and step;
 * the sparse part (the observed cells) is a dot and an axpy per cell. */
static void cg_side(float *X, int64_t nrows, const int64_t *off, const int32_t *idx, const float *Y,
                    const float *G, int f, double alpha, int steps, float *work) {
    float *R = work, *P = R + (size_t)CG_BLOCK * f, *AP = P + (size_t)CG_BLOCK * f;
    double *rs = (double *)(AP + (size_t)CG_BLOCK * f);
    const float a1 = (float)(1 + alpha), al = (float)alpha;
    for (int64_t u0 = 0; u0 < nrows; u0 += CG_BLOCK) {
        int nb = (int)(nrows - u0 < CG_BLOCK ? nrows - u0 : CG_BLOCK);
        float *Xb = X + (size_t)u0 * f;
        /* R = B - X A: first -X G for the block, then the observed cells */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, f, f, -1.0f, Xb, f, G, f, 0.0f, R, f);
        for (int b = 0; b < nb; b++) {
            const float *x = Xb + (size_t)b * f;
            float *r = R + (size_t)b * f;
            for (int64_t j = off[u0 + b]; j < off[u0 + b + 1]; j++) {
                const float *y = Y + (size_t)idx[j] * f;
                axpy(a1 - al * dot(y, x, f), y, r, f);
            }
            rs[b] = dot(r, r, f);
        }
        memcpy(P, R, (size_t)nb * f * sizeof *P);
        for (int s = 0; s < steps; s++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, f, f, 1.0f, P, f, G, f, 0.0f, AP, f);
            for (int b = 0; b < nb; b++) {
                if (rs[b] <= 1e-20) continue;       /* converged */
                float *p = P + (size_t)b * f, *ap = AP + (size_t)b * f, *r = R + (size_t)b * f;
                float *x = Xb + (size_t)b * f;
                for (int64_t j = off[u0 + b]; j < off[u0 + b + 1]; j++) {
                    const float *y = Y + (size_t)idx[j] * f;
                    axpy(al * dot(y, p, f), y, ap, f);
                }
                double pap = dot(p, ap, f);
                if (!(pap > 0)) { rs[b] = 0; continue; }
                float step = (float)(rs[b] / pap);
                axpy(step, p, x, f);
                axpy(-step, ap, r, f);
                double rs2 = dot(r, r, f);
                float beta = (float)(rs2 / rs[b]);
                for (int i = 0; i < f; i++) p[i] = r[i] + beta * p[i];
                rs[b] = rs2;
            }
        }
    }
}

double plm_als_loss(const plm_als_model *a, const plm_model *m) {
    const int f = a->factors;
    double loss = 0, reg = 0;
    float *Gx = malloc((size_t)f * sizeof *Gx), *G = malloc((size_t)f * f * sizeof *G);
    if (!Gx || !G) { free(Gx); free(G); return NAN; }
    gram(G, a->Y, m->ntracks, f, 0);
    for (int64_t u = 0; u < m->npl; u++) {
        const float *x = a->X + (size_t)u * f;
        /* every cell as unobserved: sum_i (x.y_i)^2 = x' Y'Y x */
        cblas_ssymv(CblasRowMajor, CblasUpper, f, 1.0f, G, f, x, 1, 0.0f, Gx, 1);
        loss += cblas_sdot(f, x, 1, Gx, 1);
        for (int64_t j = m->pl_off[u]; j < m->pl_off[u + 1]; j++) {
            double s = cblas_sdot(f, x, 1, a->Y + (size_t)m->pl_tr[j] * f, 1);
            loss += (1 + a->alpha) * (1 - s) * (1 - s) - s * s;
        }
        reg += cblas_sdot(f, x, 1, x, 1);
    }
    for (int32_t t = 0; t < m->ntracks; t++) {
        const float *y = a->Y + (size_t)t * f;
        reg += cblas_sdot(f, y, 1, y, 1);
    }
    free(Gx); free(G);
    return loss + a->lambda * reg;
}

int plm_als_train(plm_als_model *a, const plm_model *m, const plm_als_opts *o,
                  void (*report)(void *ctx, int iter, const plm_als_model *a), void *ctx,
                  char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    const int f = o->factors;
    a->factors = f, a->ntracks = m->ntracks, a->lambda = o->lambda, a->alpha = o->alpha;
    a->iterations = o->iterations;
    a->X = calloc((size_t)(m->npl ? m->npl : 1) * (size_t)f, sizeof *a->X);
    if (alloc_items(a, m->ntracks, f) || !a->X) {
        snprintf(err, errlen, "ALS: out of memory for %lld + %d rows of %d factors (%.1f GB)", (long long)m->npl,
                 m->ntracks, f, ((double)m->npl + m->ntracks) * f * 4 / 1e9);
        plm_als_free(a);
        return -1;
    }
    /* items start small and random (as implicit does: 0.01 x uniform),
     * playlists at 0: the first half-step solves them from Y */
    rng_state r;
    rng_seed(&r, o->seed);
    for (size_t i = 0; i < (size_t)m->ntracks * (size_t)f; i++) a->Y[i] = (float)(rng_double(&r) * 0.01);
    for (int it = 0; it < o->iterations; it++) {
        gram(a->G, a->Y, m->ntracks, f, o->lambda);
        cg_side(a->X, m->npl, m->pl_off, m->pl_tr, a->Y, a->G, f, o->alpha, o->cg_steps, a->work);
        gram(a->G, a->X, m->npl, f, o->lambda);
        cg_side(a->Y, m->ntracks, m->tr_off, m->tr_pl, a->X, a->G, f, o->alpha, o->cg_steps, a->work);
        if (report) report(ctx, it + 1, a);
    }
    gram(a->G, a->Y, m->ntracks, f, o->lambda);
    return 0;
}

void plm_als_free(plm_als_model *a) {
    free(a->X); free(a->Y); free(a->G); free(a->A); free(a->xq); free(a->score); free(a->work);
    free(a->qx); free(a->qs);
    memset(a, 0, sizeof *a);
}

int plm_als_fold_in(plm_als_model *a, const int32_t *seeds, int64_t ns, float *x) {
    const int f = a->factors;
    memcpy(a->A, a->G, (size_t)f * f * sizeof *a->A);
    memset(x, 0, (size_t)f * sizeof *x);
    int known = 0;
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= a->ntracks) continue;
        int dup = 0;                        /* binary: a repeated seed counts once */
        for (int64_t j = 0; j < i; j++) dup |= seeds[j] == s;
        if (dup) continue;
        const float *y = a->Y + (size_t)s * f;
        /* confidence 1 + alpha w: w the seed's place (1 without recency) */
        double aw = a->alpha * plm_seed_weight(a->recency, seeds, ns, i);
        cblas_ssyr(CblasColMajor, CblasLower, f, (float)aw, y, 1, a->A, f);
        cblas_saxpy(f, (float)(1 + aw), y, 1, x, 1);
        known++;
    }
    if (!known) return 0;
    int n = f, one = 1, info = 0;
    spotrf_("L", &n, a->A, &n, &info);
    if (info == 0) spotrs_("L", &n, &one, a->A, &n, x, &n, &info);
    return info == 0 ? known : -1;
}

/* the score buffer covers every track of m: a loaded model may know fewer
 * tracks than the training set and the vocabulary of the caller */
static int reserve_score(plm_als_model *a, const plm_model *m) {
    if (m->ntracks <= a->nscore) return 0;
    float *sc = realloc(a->score, (size_t)m->ntracks * sizeof *sc);
    if (!sc) return -1;
    a->score = sc, a->nscore = m->ntracks;
    return 0;
}

/* a query's list from its scores (score[t] = y_t . x for the tracks both
 * know): the tracks no training playlist holds, and those the factors do
 * not cover, come after every played one, by the tie order (popularity,
 * then index) */
static int64_t top_of_scores(const plm_als_model *a, plm_model *m, float *score, const int32_t *seeds, int64_t ns,
                             int32_t *out, int64_t n) {
    int32_t nt = a->ntracks < m->ntracks ? a->ntracks : m->ntracks;
    for (int32_t t = 0; t < nt; t++) if (m->pop[t] == 0) score[t] = -INFINITY;
    for (int32_t t = nt; t < m->ntracks; t++) score[t] = -INFINITY;
    return plm_top_dense(m, score, seeds, ns, out, n);
}

/* 1 when a seed is a track both the model and the training set know */
static int any_known(const plm_als_model *a, const plm_model *m, const int32_t *seeds, int64_t ns) {
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks && seeds[i] < a->ntracks && m->pop[seeds[i]] > 0) return 1;
    return 0;
}

int64_t plm_als(plm_als_model *a, plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                int32_t *out, int64_t n) {
    if (!any_known(a, m, seeds, ns)) return plm_title(m, title, seeds, ns, out, n);
    if (reserve_score(a, m)) return -1;
    if (plm_als_fold_in(a, seeds, ns, a->xq) < 0) return -1;
    int32_t nt = a->ntracks < m->ntracks ? a->ntracks : m->ntracks;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, nt, a->factors, 1.0f, a->Y, a->factors, a->xq, 1, 0.0f, a->score, 1);
    return top_of_scores(a, m, a->score, seeds, ns, out, n);
}

/* *p holds at least need floats (its contents are not kept) */
static int grow(float **p, int64_t *cap, int64_t need) {
    if (need <= *cap) return 0;
    free(*p);
    if (!(*p = malloc((size_t)need * sizeof **p))) { *cap = 0; return -1; }
    *cap = need;
    return 0;
}

int plm_als_many(plm_als_model *a, plm_model *m, int64_t nq, const char *const *titles, const int32_t *const *seeds,
                 const int64_t *ns, int32_t *out, int64_t n, int64_t *k) {
    const int f = a->factors;
    const int32_t nt = a->ntracks < m->ntracks ? a->ntracks : m->ntracks, ld = m->ntracks ? m->ntracks : 1;
    int64_t rows = PLM_ALS_SCORE_BYTES / ((int64_t)ld * (int64_t)sizeof(float));
    if (rows < 1) rows = 1;
    if (rows > nq) rows = nq;
    int64_t *row_q = malloc((size_t)(nq ? nq : 1) * sizeof *row_q), nrow = 0;
    int rc = -1;
    /* the batch's factors and the chunk's scores: kept from batch to batch */
    if (!row_q || grow(&a->qx, &a->nqx, (nq ? nq : 1) * f) || grow(&a->qs, &a->nqs, (rows ? rows : 1) * (int64_t)ld))
        goto done;
    float *xb = a->qx, *sb = a->qs;
    /* every query with a known seed folded in (a row of xb); the others
     * answered by the title model now */
    for (int64_t q = 0; q < nq; q++) {
        int32_t *o = out + q * n;
        if (!any_known(a, m, seeds[q], ns[q])) {
            if ((k[q] = plm_title(m, titles[q], seeds[q], ns[q], o, n)) < 0) goto done;
            continue;
        }
        if (plm_als_fold_in(a, seeds[q], ns[q], xb + (size_t)nrow * f) < 0) goto done;
        row_q[nrow++] = q;
    }
    /* scores of a chunk of rows against every track in one sgemm (S = Xb Y'),
     * then each row's list; the rows split evenly over the fewest chunks
     * that keep to the bound (each chunk's sgemm packs all of Y once) */
    if (nrow > 0) {
        int64_t chunks = (nrow + rows - 1) / rows;
        rows = (nrow + chunks - 1) / chunks;
    }
    for (int64_t r0 = 0; r0 < nrow; r0 += rows) {
        int nr = (int)(nrow - r0 < rows ? nrow - r0 : rows);
        if (nt > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nt, f, 1.0f, xb + (size_t)r0 * f, f, a->Y, f,
                        0.0f, sb, ld);
        for (int i = 0; i < nr; i++) {
            int64_t q = row_q[r0 + i];
            if ((k[q] = top_of_scores(a, m, sb + (size_t)i * ld, seeds[q], ns[q], out + q * n, n)) < 0) goto done;
        }
    }
    rc = 0;
done:
    free(row_q);
    return rc;
}

/* ---- the model file: tensor 'als.items', f32 rows of `factors` keyed by
 * track index, the parameters in the metadata ---- */

int plm_als_save(const plm_als_model *a, const char *path, cJSON *extra, char *err, size_t errlen) {
    char why[512];
    ts_writer *w = ts_open_write(path, why, sizeof why);
    if (!w) { snprintf(err, errlen, "%s", why); cJSON_Delete(extra); return -1; }
    ts_header h;
    if (ts_header_init(&h, "als.items", TS_F32, a->factors, NULL)) {
        ts_abort(w); cJSON_Delete(extra);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    h.key_name = strdup("track");
    cJSON *meta = ts_header_meta(&h);
    cJSON_AddStringToObject(meta, "model", "songpipe playlist als v1");
    cJSON_AddNumberToObject(meta, "factors", a->factors);
    cJSON_AddNumberToObject(meta, "ntracks", a->ntracks);
    cJSON_AddNumberToObject(meta, "lambda", a->lambda);
    cJSON_AddNumberToObject(meta, "alpha", a->alpha);
    cJSON_AddNumberToObject(meta, "iterations", a->iterations);
    if (extra) cJSON_AddItemToObject(meta, "train", extra);
    int rc = ts_begin_tensor(w, &h);
    char key[16];
    for (int32_t t = 0; !rc && t < a->ntracks; t++) {
        snprintf(key, sizeof key, "%d", t);
        rc = ts_write_row(w, key, a->Y + (size_t)t * a->factors);
    }
    rc = rc || ts_end_tensor(w);
    ts_header_free(&h);
    if (rc) { snprintf(err, errlen, "%s", ts_werror(w)); ts_abort(w); return -1; }
    if (ts_close(w, why, sizeof why)) { snprintf(err, errlen, "%s", why); return -1; }
    return 0;
}

int plm_als_load(plm_als_model *a, const char *path, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    ts_table t;
    if (ts_load_table(path, "als.items", &t, err, errlen)) return -1;
    const cJSON *meta = t.h.meta;
    double v[4];
    static const char *const field[] = {"factors", "ntracks", "lambda", "alpha"};
    for (int i = 0; i < 4; i++) {
        const cJSON *x = meta ? cJSON_GetObjectItemCaseSensitive(meta, field[i]) : NULL;
        if (!cJSON_IsNumber(x)) {
            snprintf(err, errlen, "%s: no '%s' in the metadata of tensor als.items; not an mpd-train --model als file", path, field[i]);
            ts_table_free(&t);
            return -1;
        }
        v[i] = x->valuedouble;
    }
    if (t.h.dtype != TS_F32 || t.h.row_elems != (int64_t)v[0] || v[0] < 1 || v[0] > 4096 || v[1] < 0 || v[1] > INT32_MAX ||
        t.nrows != (int64_t)v[1] || !(v[2] >= 0)) {
        snprintf(err, errlen, "%s: tensor als.items is %s x %lld with %lld rows, its metadata says f32 x %g with %g rows; the file is damaged",
                 path, ts_dtype_name(t.h.dtype), (long long)t.h.row_elems, (long long)t.nrows, v[0], v[1]);
        ts_table_free(&t);
        return -1;
    }
    a->factors = (int)v[0], a->ntracks = (int32_t)v[1], a->lambda = v[2], a->alpha = v[3];
    if (alloc_items(a, a->ntracks, a->factors)) {
        snprintf(err, errlen, "%s: out of memory for %d x %d factors", path, a->ntracks, a->factors);
        ts_table_free(&t);
        plm_als_free(a);
        return -1;
    }
    for (int64_t i = 0; i < t.nrows; i++) {
        char *end;
        long k = strtol(t.keys[i], &end, 10);
        if (*end || k != i) {
            snprintf(err, errlen, "%s: row %lld of als.items has key '%s' where track %lld belongs; the file is damaged",
                     path, (long long)i, t.keys[i], (long long)i);
            ts_table_free(&t);
            plm_als_free(a);
            return -1;
        }
    }
    memcpy(a->Y, t.data, (size_t)t.nrows * (size_t)a->factors * sizeof *a->Y);
    ts_table_free(&t);
    gram(a->G, a->Y, a->ntracks, a->factors, a->lambda);
    return 0;
}
