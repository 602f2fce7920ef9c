/* plmodel.c - popularity, title and co-occurrence playlist continuation
 * (plmodel.h). */
#include "plmodel.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void plm_norm_title(const char *title, char *out, size_t cap) { text_fold(title ? title : "", out, cap, 1); }

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static const int64_t *g_pop;    /* qsort has no context argument */
static int cmp_pop(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (g_pop[x] != g_pop[y]) return g_pop[x] < g_pop[y] ? 1 : -1;
    return (x > y) - (x < y);
}

/* CSR of the transpose: for each of nrow rows of (off, idx), column -> rows */
static int transpose(const int64_t *off, const int32_t *idx, int64_t nrow, int64_t ncol,
                     int64_t **toff, int32_t **tidx) {
    int64_t nnz = off[nrow];
    *toff = calloc((size_t)ncol + 1, sizeof **toff);
    *tidx = malloc((size_t)(nnz ? nnz : 1) * sizeof **tidx);
    if (!*toff || !*tidx) return -1;
    for (int64_t i = 0; i < nnz; i++) (*toff)[idx[i] + 1]++;
    for (int64_t c = 0; c < ncol; c++) (*toff)[c + 1] += (*toff)[c];
    int64_t *fill = malloc((size_t)(ncol ? ncol : 1) * sizeof *fill);
    if (!fill) return -1;
    memcpy(fill, *toff, (size_t)ncol * sizeof *fill);
    for (int64_t r = 0; r < nrow; r++)
        for (int64_t i = off[r]; i < off[r + 1]; i++) (*tidx)[fill[idx[i]]++] = (int32_t)r;
    free(fill);
    return 0;
}

static int build_titles(plm_model *m, const char *const *titles) {
    strmap_init(&m->title_id);
    int64_t *tid = malloc((size_t)(m->npl ? m->npl : 1) * sizeof *tid), nt = 0;
    if (!tid) return -1;
    char norm[1024];
    for (int64_t p = 0; p < m->npl; p++) {
        tid[p] = -1;
        if (!titles || !titles[p]) continue;
        plm_norm_title(titles[p], norm, sizeof norm);
        if (!norm[0]) continue;
        int64_t had = strmap_put(&m->title_id, norm, nt);
        if (had == -2) { free(tid); return -1; }
        tid[p] = had >= 0 ? had : nt++;
    }
    m->title_off = calloc((size_t)nt + 1, sizeof *m->title_off);
    m->title_pl = malloc((size_t)(m->npl ? m->npl : 1) * sizeof *m->title_pl);
    if (!m->title_off || !m->title_pl) { free(tid); return -1; }
    for (int64_t p = 0; p < m->npl; p++) if (tid[p] >= 0) m->title_off[tid[p] + 1]++;
    for (int64_t t = 0; t < nt; t++) m->title_off[t + 1] += m->title_off[t];
    int64_t *fill = malloc((size_t)(nt ? nt : 1) * sizeof *fill);
    if (!fill) { free(tid); return -1; }
    memcpy(fill, m->title_off, (size_t)nt * sizeof *fill);
    for (int64_t p = 0; p < m->npl; p++) if (tid[p] >= 0) m->title_pl[fill[tid[p]]++] = (int32_t)p;
    free(fill); free(tid);
    return 0;
}

int plm_build(plm_model *m, const pl_set *train, const char *const *titles,
              int32_t ntracks, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (ntracks < train->ntracks) ntracks = train->ntracks;
    m->ntracks = ntracks;
    m->npl = train->n;
    size_t nt = (size_t)(ntracks ? ntracks : 1), np = (size_t)(m->npl ? m->npl : 1);
    m->pop = calloc(nt, sizeof *m->pop);
    m->by_pop = malloc(nt * sizeof *m->by_pop);
    m->pl_off = malloc((np + 1) * sizeof *m->pl_off);
    m->pl_tr = malloc((size_t)(train->off[train->n] ? train->off[train->n] : 1) * sizeof *m->pl_tr);
    m->score = calloc(nt, sizeof *m->score);
    m->cand = malloc(nt * sizeof *m->cand);
    m->taken = calloc(nt, 1);
    m->plw = calloc(np, sizeof *m->plw);
    m->pl_touched = malloc(np * sizeof *m->pl_touched);
    if (!m->pop || !m->by_pop || !m->pl_off || !m->pl_tr || !m->score || !m->cand || !m->taken ||
        !m->plw || !m->pl_touched) goto oom;
    /* distinct tracks per playlist: co-occurrence counts playlists, not rows */
    m->pl_off[0] = 0;
    for (int64_t p = 0; p < train->n; p++) {
        int64_t o = m->pl_off[p], len = pl_len(train, p);
        const int32_t *t = pl_tracks(train, p);
        for (int64_t i = 0; i < len; i++) m->pop[t[i]]++;
        memcpy(m->pl_tr + o, t, (size_t)len * sizeof *t);
        qsort(m->pl_tr + o, (size_t)len, sizeof *t, cmp_i32);
        int64_t u = 0;
        for (int64_t i = 0; i < len; i++)
            if (!u || m->pl_tr[o + u - 1] != m->pl_tr[o + i]) m->pl_tr[o + u++] = m->pl_tr[o + i];
        m->pl_off[p + 1] = o + u;
    }
    if (transpose(m->pl_off, m->pl_tr, m->npl, ntracks, &m->tr_off, &m->tr_pl)) goto oom;
    for (int32_t t = 0; t < ntracks; t++) m->by_pop[t] = t;
    g_pop = m->pop;
    qsort(m->by_pop, nt, sizeof *m->by_pop, cmp_pop);
    if (build_titles(m, titles)) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory building the model (%d tracks, %lld playlists)", ntracks, (long long)m->npl);
    plm_free(m);
    return -1;
}

void plm_free(plm_model *m) {
    free(m->pl_off); free(m->pl_tr); free(m->tr_off); free(m->tr_pl);
    free(m->pop); free(m->by_pop); free(m->title_off); free(m->title_pl);
    free(m->score); free(m->cand); free(m->plw); free(m->pl_touched); free(m->taken);
    strmap_free(&m->title_id);
    memset(m, 0, sizeof *m);
}

/* ---- ranking ---- */

/* a before b: higher score, then more popular, then lower index */
static int better(const plm_model *m, double sa, int32_t a, double sb, int32_t b) {
    if (sa != sb) return sa > sb;
    if (m->pop[a] != m->pop[b]) return m->pop[a] > m->pop[b];
    return a < b;
}

typedef struct { double s; int32_t t; } scored;

/* heap of the n best seen so far, worst at the root */
static void sift_down(const plm_model *m, scored *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(m, h[w].s, h[w].t, h[l].s, h[l].t)) w = l;
        if (r < n && better(m, h[w].s, h[w].t, h[r].s, h[r].t)) w = r;
        if (w == i) return;
        scored x = h[i]; h[i] = h[w]; h[w] = x;
        i = w;
    }
}

static const plm_model *g_m;
static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    return better(g_m, x->s, x->t, y->s, y->t) ? -1 : better(g_m, y->s, y->t, x->s, x->t) ? 1 : 0;
}

/* the n best of `cand` (or of every track when cand is NULL) by score,
 * skipping taken tracks; then the most popular untaken tracks */
static int64_t select_top(plm_model *m, const double *sd, const float *sf, const int32_t *cand,
                          int64_t ncand, int32_t *out, int64_t n) {
    if (n <= 0) return 0;
    scored *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) return -1;
    int64_t nh = 0, total = cand ? ncand : m->ntracks;
    for (int64_t i = 0; i < total; i++) {
        int32_t t = cand ? cand[i] : (int32_t)i;
        if (m->taken[t]) continue;
        double s = sd ? sd[t] : sf[t];
        if (nh < n) {
            h[nh++] = (scored){s, t};
            if (nh == n) for (int64_t j = n / 2; j-- > 0;) sift_down(m, h, n, j);
        } else if (better(m, s, t, h[0].s, h[0].t)) {
            h[0] = (scored){s, t};
            sift_down(m, h, n, 0);
        }
    }
    g_m = m;
    qsort(h, (size_t)nh, sizeof *h, cmp_scored);
    int64_t k = 0;
    for (; k < nh; k++) { out[k] = h[k].t; m->taken[h[k].t] = 1; }
    free(h);
    for (int64_t i = 0; i < m->ntracks && k < n; i++)
        if (!m->taken[m->by_pop[i]]) { out[k] = m->by_pop[i]; m->taken[out[k++]] = 1; }
    return k;
}

static void mark_seeds(plm_model *m, const int32_t *seeds, int64_t ns, int on) {
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks) m->taken[seeds[i]] = (unsigned char)on;
}

static void finish(plm_model *m, const int32_t *seeds, int64_t ns, const int32_t *out, int64_t k) {
    for (int64_t i = 0; i < k; i++) m->taken[out[i]] = 0;
    mark_seeds(m, seeds, ns, 0);
    for (int64_t i = 0; i < m->ncand; i++) m->score[m->cand[i]] = 0;
    m->ncand = 0;
}

static void add_score(plm_model *m, int32_t t, double w) {
    if (m->score[t] == 0) m->cand[m->ncand++] = t;
    m->score[t] += w;
}

int64_t plm_popular(plm_model *m, const int32_t *seeds, int64_t ns, int32_t *out, int64_t n) {
    mark_seeds(m, seeds, ns, 1);
    int64_t k = select_top(m, m->score, NULL, m->cand, 0, out, n);
    if (k >= 0) finish(m, seeds, ns, out, k);
    return k;
}

int64_t plm_title(plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                  int32_t *out, int64_t n) {
    char norm[1024];
    plm_norm_title(title, norm, sizeof norm);
    int64_t id = norm[0] ? strmap_get(&m->title_id, norm) : -1;
    if (id >= 0)
        for (int64_t i = m->title_off[id]; i < m->title_off[id + 1]; i++) {
            int32_t p = m->title_pl[i];
            for (int64_t j = m->pl_off[p]; j < m->pl_off[p + 1]; j++) add_score(m, m->pl_tr[j], 1);
        }
    mark_seeds(m, seeds, ns, 1);
    int64_t k = select_top(m, m->score, NULL, m->cand, m->ncand, out, n);
    if (k >= 0) finish(m, seeds, ns, out, k);
    return k;
}

int64_t plm_cooc(plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                 int32_t *out, int64_t n) {
    int64_t ntouched = 0, known = 0;
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks) continue;
        known++;
        for (int64_t j = m->tr_off[s]; j < m->tr_off[s + 1]; j++) {
            int32_t p = m->tr_pl[j];
            if (!m->plw[p]++) m->pl_touched[ntouched++] = p;
        }
    }
    if (!known) return plm_title(m, title, seeds, ns, out, n);
    for (int64_t i = 0; i < ntouched; i++) {
        int32_t p = m->pl_touched[i];
        double w = m->plw[p];
        m->plw[p] = 0;
        for (int64_t j = m->pl_off[p]; j < m->pl_off[p + 1]; j++) add_score(m, m->pl_tr[j], w);
    }
    mark_seeds(m, seeds, ns, 1);
    int64_t k = select_top(m, m->score, NULL, m->cand, m->ncand, out, n);
    if (k >= 0) finish(m, seeds, ns, out, k);
    return k;
}

int64_t plm_top_dense(plm_model *m, const float *score, const int32_t *seeds, int64_t ns,
                      int32_t *out, int64_t n) {
    mark_seeds(m, seeds, ns, 1);
    int64_t k = select_top(m, NULL, score, NULL, 0, out, n);
    if (k >= 0) finish(m, seeds, ns, out, k);
    return k;
}
