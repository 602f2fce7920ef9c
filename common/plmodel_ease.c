/* plmodel_ease.c - EASE^R playlist continuation (plmodel.h: plm_ease_*): the
 * closed-form linear item-item model of Steck 2019, over the V most
 * played tracks, with OpenBLAS's Cholesky factorisation and inverse. */
#include "plmodel.h"
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (in OpenBLAS): Cholesky factor and inverse of a symmetric
 * positive definite matrix, column-major */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

int plm_ease_init(plm_ease_model *e, const plm_model *m, int32_t V, char *err, size_t errlen) {
    memset(e, 0, sizeof *e);
    int32_t played = 0;                     /* tracks in at least one training playlist */
    while (played < m->ntracks && m->pop[m->by_pop[played]] > 0) played++;
    if (V > played) V = played;
    if (V < 1) { snprintf(err, errlen, "EASE: the training playlists hold no track"); return -1; }
    int32_t *vocab = malloc((size_t)V * sizeof *vocab);
    if (!vocab) { snprintf(err, errlen, "EASE: out of memory"); return -1; }
    memcpy(vocab, m->by_pop, (size_t)V * sizeof *vocab);
    int rc = plm_ease_alloc(e, m->ntracks, vocab, V, err, errlen);
    free(vocab);
    return rc;
}

int plm_ease_alloc(plm_ease_model *e, int32_t ntracks, const int32_t *vocab, int32_t V, char *err, size_t errlen) {
    memset(e, 0, sizeof *e);
    e->V = V;
    e->ntracks = ntracks;
    e->col_of = malloc((size_t)(ntracks ? ntracks : 1) * sizeof *e->col_of);
    e->vocab = malloc((size_t)V * sizeof *e->vocab);
    e->B = calloc((size_t)V * (size_t)V, sizeof *e->B);
    e->score = malloc((size_t)(ntracks ? ntracks : 1) * sizeof *e->score);
    e->nscore = ntracks;
    e->vscore = malloc((size_t)V * sizeof *e->vscore);
    if (!e->col_of || !e->vocab || !e->B || !e->score || !e->vscore) {
        snprintf(err, errlen, "EASE: out of memory for a %d x %d matrix (%.1f GB; lower --ease-tracks)", V, V,
                 (double)V * V * 4 / 1e9);
        plm_ease_free(e);
        return -1;
    }
    for (int32_t t = 0; t < ntracks; t++) e->col_of[t] = -1;
    for (int32_t i = 0; i < V; i++) {
        if (vocab[i] < 0 || vocab[i] >= ntracks || e->col_of[vocab[i]] >= 0) {
            snprintf(err, errlen, "EASE: vocabulary entry %d is track %d: outside 0..%d or repeated", i, vocab[i], ntracks - 1);
            plm_ease_free(e);
            return -1;
        }
        e->col_of[vocab[i]] = i;
        e->vocab[i] = vocab[i];
    }
    return 0;
}

void plm_ease_gram(plm_ease_model *e, const plm_model *m, int (*owns)(void *ctx, int64_t p), void *ctx) {
    const int32_t V = e->V;
    float *G = e->B;
    int32_t *cols = (int32_t *)e->vscore;   /* scratch of V entries */
    for (int64_t p = 0; p < m->npl; p++) {
        if (owns && !owns(ctx, p)) continue;
        int64_t nc = 0;
        for (int64_t i = m->pl_off[p]; i < m->pl_off[p + 1]; i++)
            if (m->pl_tr[i] < e->ntracks && e->col_of[m->pl_tr[i]] >= 0) cols[nc++] = e->col_of[m->pl_tr[i]];
        for (int64_t a = 0; a < nc; a++) {
            float *row = G + (size_t)cols[a] * (size_t)V;
            for (int64_t b = 0; b < nc; b++) row[cols[b]] += 1.0f;
        }
    }
}

int plm_ease_solve(plm_ease_model *e, double lambda, char *err, size_t errlen) {
    const int32_t V = e->V;
    float *G = e->B;
    for (int32_t i = 0; i < V; i++) G[(size_t)i * V + i] += (float)lambda;
    /* P = G^-1: G is symmetric, so row- and column-major are the same
     * matrix; spotri leaves P in the lower triangle (column-major), that
     * is the upper triangle of our rows */
    int n = V, info = 0;
    spotrf_("L", &n, G, &n, &info);
    if (info == 0) spotri_("L", &n, G, &n, &info);
    if (info != 0) {
        snprintf(err, errlen, "EASE: X'X + lambda I is not positive definite (LAPACK info %d); raise --lambda", info);
        return -1;
    }
    for (int32_t i = 0; i < V; i++)
        for (int32_t j = 0; j < i; j++) G[(size_t)i * V + j] = G[(size_t)j * V + i];
    /* B = I - P diag(1 / diag P): B[i][j] = -P[i][j] / P[j][j], B[j][j] = 0 */
    float *inv_diag = e->vscore;
    for (int32_t j = 0; j < V; j++) inv_diag[j] = -1.0f / G[(size_t)j * V + j];
    for (int32_t i = 0; i < V; i++) {
        float *row = G + (size_t)i * V;
        for (int32_t j = 0; j < V; j++) row[j] *= inv_diag[j];
        row[i] = 0;
    }
    e->lambda = lambda;
    return 0;
}

int plm_ease_build(plm_ease_model *e, const plm_model *m, int32_t V, double lambda, char *err, size_t errlen) {
    if (plm_ease_init(e, m, V, err, errlen)) return -1;
    plm_ease_gram(e, m, NULL, NULL);
    if (plm_ease_solve(e, lambda, err, errlen)) { plm_ease_free(e); return -1; }
    return 0;
}

void plm_ease_free(plm_ease_model *e) {
    free(e->col_of); free(e->vocab); free(e->B); free(e->score); free(e->vscore);
    memset(e, 0, sizeof *e);
}

int64_t plm_ease(plm_ease_model *e, plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                 int32_t *out, int64_t n) {
    const int32_t V = e->V;
    float *acc = e->vscore;                 /* the vocabulary's scores */
    int known = 0;
    memset(acc, 0, (size_t)V * sizeof *acc);
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks || s >= e->ntracks || e->col_of[s] < 0) continue;
        int dup = 0;                        /* x_u is binary: a repeated seed counts once */
        for (int64_t j = 0; j < i; j++) dup |= seeds[j] == s;
        if (dup) continue;
        const float *row = e->B + (size_t)e->col_of[s] * (size_t)V;
        for (int32_t j = 0; j < V; j++) acc[j] += row[j];
        known++;
    }
    if (!known) return plm_title(m, title, seeds, ns, out, n);
    if (m->ntracks > e->nscore) {           /* a loaded model covers only up to its largest track */
        float *sc = realloc(e->score, (size_t)m->ntracks * sizeof *sc);
        if (!sc) return -1;
        e->score = sc, e->nscore = m->ntracks;
    }
    /* over every track: outside the vocabulary -inf, so those come after
     * it, by popularity (plm_top_dense's tie order) */
    for (int32_t t = 0; t < m->ntracks; t++) e->score[t] = -INFINITY;
    for (int32_t j = 0; j < V; j++) if (e->vocab[j] < m->ntracks) e->score[e->vocab[j]] = acc[j];
    return plm_top_dense(m, e->score, seeds, ns, out, n);
}

int plm_ease_load(plm_ease_model *e, const char *path, const char *tensor, int32_t ntracks, char *err, size_t errlen) {
    memset(e, 0, sizeof *e);
    ts_table t;
    if (ts_load_table(path, tensor, &t, err, errlen)) return -1;
    int is_b = !strcmp(tensor, "ease.B");
    int32_t *vocab = NULL;
    int rc = -1;
    if (t.h.dtype != (is_b ? TS_F32 : TS_I32) || t.nrows < 1 || t.nrows > 65536 || t.h.row_elems != t.nrows) {
        snprintf(err, errlen, "%s: tensor %s is %lld rows of %lld %s; an EASE file holds V rows of V %s (mpd-train --model ease)",
                 path, tensor, (long long)t.nrows, (long long)t.h.row_elems, ts_dtype_name(t.h.dtype), is_b ? "f32" : "i32");
        goto done;
    }
    const cJSON *lam = t.h.meta ? cJSON_GetObjectItemCaseSensitive(t.h.meta, "lambda") : NULL;
    if (is_b && !cJSON_IsNumber(lam)) {
        snprintf(err, errlen, "%s: no lambda in the metadata of tensor ease.B; not an mpd-train --model ease file", path);
        goto done;
    }
    if (!(vocab = malloc((size_t)t.nrows * sizeof *vocab))) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    for (int64_t i = 0; i < t.nrows; i++) {
        char *end;
        long k = strtol(t.keys[i], &end, 10);
        if (*end || end == t.keys[i] || k < 0 || k >= ntracks) {
            snprintf(err, errlen, "%s: row %lld of %s has key '%s', not a track index below %d; the file does not belong to this training set",
                     path, (long long)i, tensor, t.keys[i], ntracks);
            goto done;
        }
        vocab[i] = (int32_t)k;
    }
    int32_t bound = 0;                      /* col_of covers the tracks up to the largest key */
    for (int64_t i = 0; i < t.nrows; i++) if (vocab[i] >= bound) bound = vocab[i] + 1;
    if (plm_ease_alloc(e, bound, vocab, (int32_t)t.nrows, err, errlen)) goto done;
    size_t n = (size_t)t.nrows * (size_t)t.nrows;
    if (is_b) {
        memcpy(e->B, t.data, n * sizeof *e->B);
        e->lambda = lam->valuedouble;
    } else
        for (size_t i = 0; i < n; i++) e->B[i] = (float)((const int32_t *)t.data)[i];
    rc = 0;
done:
    free(vocab);
    ts_table_free(&t);
    return rc;
}
