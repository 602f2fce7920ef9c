/* plmodel_ease.c - EASE^R playlist continuation (plmodel.h: plm_ease_*): the
 * closed-form linear item-item model of Steck 2019, over the V most
 * played tracks, with OpenBLAS's Cholesky factorisation and inverse. */
#include "plmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (in OpenBLAS): Cholesky factor and inverse of a symmetric
 * positive definite matrix, column-major */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

int plm_ease_build(plm_ease_model *e, const plm_model *m, int32_t V, double lambda, char *err, size_t errlen) {
    memset(e, 0, sizeof *e);
    int32_t played = 0;                     /* tracks in at least one training playlist */
    while (played < m->ntracks && m->pop[m->by_pop[played]] > 0) played++;
    if (V > played) V = played;
    if (V < 1) { snprintf(err, errlen, "EASE: the training playlists hold no track"); return -1; }
    e->V = V;
    e->col_of = malloc((size_t)(m->ntracks ? m->ntracks : 1) * sizeof *e->col_of);
    e->B = malloc((size_t)V * (size_t)V * sizeof *e->B);
    e->score = malloc((size_t)(m->ntracks ? m->ntracks : 1) * sizeof *e->score);
    e->vscore = malloc((size_t)V * sizeof *e->vscore);
    if (!e->col_of || !e->B || !e->score || !e->vscore) {
        snprintf(err, errlen, "EASE: out of memory for a %d x %d matrix (%.1f GB; lower --ease-tracks)", V, V,
                 (double)V * V * 4 / 1e9);
        plm_ease_free(e);
        return -1;
    }
    for (int32_t t = 0; t < m->ntracks; t++) e->col_of[t] = -1;
    for (int32_t i = 0; i < V; i++) e->col_of[m->by_pop[i]] = i;
    /* G = X'X + lambda I over the vocabulary (X binary: playlists x tracks;
     * pl_tr holds each playlist's distinct tracks) */
    float *G = e->B;
    memset(G, 0, (size_t)V * (size_t)V * sizeof *G);
    int32_t *cols = malloc((size_t)V * sizeof *cols);
    if (!cols) { snprintf(err, errlen, "EASE: out of memory"); plm_ease_free(e); return -1; }
    for (int64_t p = 0; p < m->npl; p++) {
        int64_t nc = 0;
        for (int64_t i = m->pl_off[p]; i < m->pl_off[p + 1]; i++)
            if (e->col_of[m->pl_tr[i]] >= 0) cols[nc++] = e->col_of[m->pl_tr[i]];
        for (int64_t a = 0; a < nc; a++) {
            float *row = G + (size_t)cols[a] * (size_t)V;
            for (int64_t b = 0; b < nc; b++) row[cols[b]] += 1.0f;
        }
    }
    free(cols);
    for (int32_t i = 0; i < V; i++) G[(size_t)i * V + i] += (float)lambda;
    /* P = G^-1: G is symmetric, so row- and column-major are the same
     * matrix; spotri leaves P in the lower triangle (column-major), that
     * is the upper triangle of our rows */
    int n = V, info = 0;
    spotrf_("L", &n, G, &n, &info);
    if (info == 0) spotri_("L", &n, G, &n, &info);
    if (info != 0) {
        snprintf(err, errlen, "EASE: X'X + lambda I is not positive definite (LAPACK info %d); raise --lambda", info);
        plm_ease_free(e);
        return -1;
    }
    for (int32_t i = 0; i < V; i++)
        for (int32_t j = 0; j < i; j++) G[(size_t)i * V + j] = G[(size_t)j * V + i];
    /* B = I - P diag(1 / diag P): B[i][j] = -P[i][j] / P[j][j], B[j][j] = 0 */
    float *inv_diag = malloc((size_t)V * sizeof *inv_diag);
    if (!inv_diag) { snprintf(err, errlen, "EASE: out of memory"); plm_ease_free(e); return -1; }
    for (int32_t j = 0; j < V; j++) inv_diag[j] = -1.0f / G[(size_t)j * V + j];
    for (int32_t i = 0; i < V; i++) {
        float *row = G + (size_t)i * V;
        for (int32_t j = 0; j < V; j++) row[j] *= inv_diag[j];
        row[i] = 0;
    }
    free(inv_diag);
    e->lambda = lambda;
    return 0;
}

void plm_ease_free(plm_ease_model *e) {
    free(e->col_of); free(e->B); free(e->score); free(e->vscore);
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
        if (s < 0 || s >= m->ntracks || e->col_of[s] < 0) continue;
        int dup = 0;                        /* x_u is binary: a repeated seed counts once */
        for (int64_t j = 0; j < i; j++) dup |= seeds[j] == s;
        if (dup) continue;
        const float *row = e->B + (size_t)e->col_of[s] * (size_t)V;
        for (int32_t j = 0; j < V; j++) acc[j] += row[j];
        known++;
    }
    if (!known) return plm_title(m, title, seeds, ns, out, n);
    /* over every track: outside the vocabulary -inf, so those come after
     * it, by popularity (plm_top_dense's tie order) */
    for (int32_t t = 0; t < m->ntracks; t++) e->score[t] = -INFINITY;
    for (int32_t j = 0; j < V; j++) e->score[m->by_pop[j]] = acc[j];
    return plm_top_dense(m, e->score, seeds, ns, out, n);
}
