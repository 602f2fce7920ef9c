/* plmodel_graph.c - the item-to-item continuation models over the training
 * playlists' graph (plmodel.h: plm_graph): item kNN with asymmetric cosine
 * and shrinkage, and RP3beta.  Both build, at query time, each seed's row
 * of an item-item matrix from the playlists that hold the seed, keep its N
 * best entries and add the rows up, each weighted by its seed's place. */
#include "plmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float s; int32_t t; } entry;

/* a before b: plmodel's one ranking rule (plm_ahead) */
static int ahead(const plm_model *m, entry a, entry b) { return plm_ahead(m, a.s, a.t, b.s, b.t); }

/* moves the n best of e[0..len) to e[0..n) (any order), n < len */
static void keep_best(const plm_model *m, entry *e, int64_t len, int64_t n) {
    int64_t lo = 0, hi = len - 1;
    while (lo < hi) {
        entry pv = e[lo + (hi - lo) / 2], x;
        e[lo + (hi - lo) / 2] = e[hi], e[hi] = pv;
        int64_t s = lo;
        for (int64_t i = lo; i < hi; i++)
            if (ahead(m, e[i], pv)) x = e[i], e[i] = e[s], e[s++] = x;
        x = e[s], e[s] = e[hi], e[hi] = x;
        if (s == n || s == n - 1) return;
        if (s < n) lo = s + 1; else hi = s - 1;
    }
}

static int cmp_entry_desc(const void *a, const void *b, void *ctx) {
    const plm_model *m = ctx;
    const entry *x = a, *y = b;
    return ahead(m, *x, *y) ? -1 : ahead(m, *y, *x);
}

static int reserve(plm_model *m) {
    if (m->g_row) return 0;
    size_t nt = (size_t)(m->ntracks ? m->ntracks : 1);
    m->g_row = calloc(nt, sizeof *m->g_row);
    m->g_q = calloc(nt, sizeof *m->g_q);
    m->g_rowt = malloc(nt * sizeof *m->g_rowt);
    m->g_qt = malloc(nt * sizeof *m->g_qt);
    m->g_e = malloc(nt * sizeof(entry));
    return m->g_row && m->g_q && m->g_rowt && m->g_qt && m->g_e ? 0 : -1;
}

plm_graph_opts plm_graph_defaults(plm_graph_kind kind) {
    if (kind == PLM_RP3BETA) return (plm_graph_opts){PLM_RP3BETA, 0.5, 0, 0, 0, 1, 0, 0, 0};
    return (plm_graph_opts){PLM_ITEMKNN, 0.7, 0, 10, 0, 1, 0, 0, 0};
}

static double degree(const plm_model *m, int32_t t) { return (double)(m->tr_off[t + 1] - m->tr_off[t]); }

/* m->g_dpow[t] = degree(t)^x for every track: a row's normalisation takes
 * d_t^(1 - alpha) (itemknn) or d_t^beta (rp3beta) for each of its entries,
 * so pow runs once per track instead of once per (seed, track) pair (the
 * same doubles: the table holds what pow returned).  Made again only when
 * x changes. */
static int degree_pow_table(plm_model *m, double x) {
    if (m->g_dpow && m->g_dpow_x == x) return 0;
    if (!m->g_dpow && !(m->g_dpow = malloc((size_t)(m->ntracks ? m->ntracks : 1) * sizeof *m->g_dpow))) return -1;
    for (int32_t t = 0; t < m->ntracks; t++) m->g_dpow[t] = pow(degree(m, t), x);
    m->g_dpow_x = x;
    return 0;
}

/* seed s's row: r[t] = sum over the playlists p holding s and t of
 * weight(p), then the model's normalisation of (s, t); the N best are
 * added to the query's scores */
static void add_row(plm_model *m, const plm_graph_opts *o, int32_t s, float weight) {
    int64_t nr = 0;
    double ds = degree(m, s);
    for (int64_t j = m->tr_off[s]; j < m->tr_off[s + 1]; j++) {
        int32_t p = m->tr_pl[j];
        double len = (double)(m->pl_off[p + 1] - m->pl_off[p]);
        /* RP3beta: P(s -> p) P(p -> t), each raised to alpha */
        float w = o->kind == PLM_RP3BETA ? (float)pow(1.0 / (ds * len), o->alpha)
                : o->pl_pow != 0 ? (float)pow(len, -o->pl_pow) : 1.0f;
        for (int64_t i = m->pl_off[p]; i < m->pl_off[p + 1]; i++) {
            int32_t t = m->pl_tr[i];
            if (t == s) continue;
            if (m->g_row[t] == 0) m->g_rowt[nr++] = t;
            m->g_row[t] += w;
        }
    }
    entry *e = m->g_e;
    const double *dpow = m->g_dpow, ds_a = pow(ds, o->alpha);
    for (int64_t i = 0; i < nr; i++) {
        int32_t t = m->g_rowt[i];
        double c = m->g_row[t], v;
        m->g_row[t] = 0;
        if (o->kind == PLM_RP3BETA) v = c / dpow[t];                        /* d_t^beta */
        else v = c / (ds_a * dpow[t] + o->shrink);                          /* d_s^alpha d_t^(1-alpha) */
        if (o->power != 1) v = pow(v, o->power);
        e[i] = (entry){(float)v, t};
    }
    int64_t keep = o->neighbours > 0 && nr > o->neighbours ? o->neighbours : nr;
    if (keep < nr) keep_best(m, e, nr, keep);
    float scale = 1;
    if (o->row_norm) {
        float top = 0;
        for (int64_t i = 0; i < keep; i++) if (e[i].s > top) top = e[i].s;
        if (top > 0) scale = 1 / top;
    }
    scale *= weight;                    /* the seed's place (plm_seed_weight): 1 without recency */
    for (int64_t i = 0; i < keep; i++) {
        int32_t t = e[i].t;
        float v = e[i].s * scale;
        /* nothing to add (a far seed's weight underflowed): a track with
         * g_q 0 is listed once per adding row, so adding 0 would list it
         * again and again past the ntracks g_qt holds */
        if (!(v > 0)) continue;
        if (m->g_q[t] == 0) m->g_qt[m->g_nq++] = t;
        m->g_q[t] += v;
    }
}

int64_t plm_graph(plm_model *m, const plm_graph_opts *o, const char *title, const int32_t *seeds, int64_t ns,
                  int32_t *out, int64_t n) {
    if (reserve(m) || degree_pow_table(m, o->kind == PLM_RP3BETA ? o->beta : 1.0 - o->alpha)) return -1;
    int64_t known = 0;
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks || m->taken[s]) continue;   /* unknown, or a repeated seed */
        m->taken[s] = 1;
        known += m->tr_off[s + 1] > m->tr_off[s];
        add_row(m, o, s, (float)plm_seed_weight(o->recency, seeds, ns, i));
    }
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks) m->taken[seeds[i]] = 0;
    if (!known) {
        for (int64_t i = 0; i < m->g_nq; i++) m->g_q[m->g_qt[i]] = 0;
        m->g_nq = 0;
        return plm_title(m, title, seeds, ns, out, n);
    }
    /* the candidates: every track with a positive score that is no seed */
    entry *e = m->g_e;
    int64_t ne = 0;
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks) m->taken[seeds[i]] = 1;
    for (int64_t i = 0; i < m->g_nq; i++) {
        int32_t t = m->g_qt[i];
        if (m->g_q[t] > 0 && !m->taken[t]) e[ne++] = (entry){m->g_q[t], t};
        m->g_q[t] = 0;
    }
    m->g_nq = 0;
    int64_t k = ne < n ? ne : n;
    if (k < ne) keep_best(m, e, ne, k);
    qsort_r(e, (size_t)k, sizeof *e, cmp_entry_desc, m);
    for (int64_t i = 0; i < k; i++) { out[i] = e[i].t; m->taken[out[i]] = 1; }
    /* then the most popular tracks; every mark is undone before returning */
    for (int64_t i = 0; i < m->ntracks && k < n; i++)
        if (!m->taken[m->by_pop[i]]) { out[k] = m->by_pop[i]; m->taken[out[k++]] = 1; }
    for (int64_t i = 0; i < k; i++) m->taken[out[i]] = 0;
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks) m->taken[seeds[i]] = 0;
    return k;
}
