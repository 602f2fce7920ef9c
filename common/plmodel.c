/* plmodel.c - popularity, title and co-occurrence playlist continuation
 * (plmodel.h). */
#include "plmodel.h"
#include "text.h"

#include <math.h>
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
    m->keys = malloc(nt * sizeof *m->keys);
    m->rank = malloc(nt * sizeof *m->rank);
    m->taken = calloc(nt, 1);
    m->plw = calloc(np, sizeof *m->plw);
    m->pl_touched = malloc(np * sizeof *m->pl_touched);
    if (!m->pop || !m->by_pop || !m->pl_off || !m->pl_tr || !m->score || !m->cand || !m->keys || !m->rank || !m->taken ||
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
    for (int32_t i = 0; i < ntracks; i++) m->rank[m->by_pop[i]] = i;
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
    free(m->score); free(m->cand); free(m->keys); free(m->rank); free(m->plw); free(m->pl_touched); free(m->taken);
    free(m->g_row); free(m->g_q); free(m->g_rowt); free(m->g_qt); free(m->g_e); free(m->g_dpow);
    strmap_free(&m->title_id);
    memset(m, 0, sizeof *m);
}

/* ---- ranking ----
 * The count models (pop, title, cooc) have integer scores, so a candidate's
 * whole ordering fits one u64: score << 32 | (UINT32_MAX - rank), rank =
 * place in by_pop (popularity, then lower index: the tie order).  A larger
 * key is better; the top n are found by quickselect, then only they are
 * sorted.  Dense float scores (plm_top_dense) keep the heap below. */

static inline uint64_t count_key(const plm_model *m, int32_t t) {
    return (uint64_t)m->score[t] << 32 | (uint64_t)(UINT32_MAX - (uint32_t)m->rank[t]);
}

static inline int32_t key_track(const plm_model *m, uint64_t k) {
    return m->by_pop[UINT32_MAX - (uint32_t)k];
}

static void swap_u64(uint64_t *a, uint64_t *b) { uint64_t x = *a; *a = *b; *b = x; }

/* moves the n largest of k[0..len) to k[0..n) (any order), n < len */
static void select_largest(uint64_t *k, int64_t len, int64_t n) {
    int64_t lo = 0, hi = len - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;   /* median of three as pivot, at hi */
        if (k[mid] < k[lo]) swap_u64(&k[mid], &k[lo]);
        if (k[hi] < k[lo]) swap_u64(&k[hi], &k[lo]);
        if (k[mid] < k[hi]) swap_u64(&k[mid], &k[hi]);
        uint64_t pv = k[hi];
        int64_t s = lo;                     /* larger than the pivot to the front */
        for (int64_t i = lo; i < hi; i++) if (k[i] > pv) swap_u64(&k[i], &k[s++]);
        swap_u64(&k[s], &k[hi]);
        if (s == n || s == n - 1) return;
        if (s < n) lo = s + 1; else hi = s - 1;
    }
}

static int cmp_u64_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* the rest after k picks: the most popular untaken tracks */
static int64_t fill_popular(plm_model *m, int32_t *out, int64_t k, int64_t n) {
    for (int64_t i = 0; i < m->ntracks && k < n; i++)
        if (!m->taken[m->by_pop[i]]) { out[k] = m->by_pop[i]; m->taken[out[k++]] = 1; }
    return k;
}

/* the n best untaken candidates by integer score, then popularity.  A
 * histogram of the scores first gives the lowest score that can make the
 * top n, so keys are built only for the few candidates above it. */
#define SCORE_BINS 1024
static int64_t select_counts(plm_model *m, int32_t *out, int64_t n) {
    if (n <= 0) return 0;
    int64_t hist[SCORE_BINS] = {0}, len = 0;
    for (int64_t i = 0; i < m->ncand; i++) {
        int32_t t = m->cand[i];
        uint32_t s = m->score[t];
        if (!m->taken[t]) hist[s < SCORE_BINS ? s : SCORE_BINS - 1]++;
    }
    uint32_t floor_score = 1;
    for (int64_t b = SCORE_BINS - 1, above = 0; b > 1; b--)
        if ((above += hist[b]) >= n) { floor_score = (uint32_t)b; break; }
    for (int64_t i = 0; i < m->ncand; i++) {
        int32_t t = m->cand[i];
        if (m->score[t] >= floor_score && !m->taken[t]) m->keys[len++] = count_key(m, t);
    }
    if (len > n) select_largest(m->keys, len, n), len = n;
    qsort(m->keys, (size_t)len, sizeof *m->keys, cmp_u64_desc);
    for (int64_t i = 0; i < len; i++) { out[i] = key_track(m, m->keys[i]); m->taken[out[i]] = 1; }
    return fill_popular(m, out, len, n);
}

typedef struct { float s; int32_t t; } scored;

/* heap of the n best seen so far, worst at the root */
static void sift_down(const plm_model *m, scored *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && plm_ahead(m, h[w].s, h[w].t, h[l].s, h[l].t)) w = l;
        if (r < n && plm_ahead(m, h[w].s, h[w].t, h[r].s, h[r].t)) w = r;
        if (w == i) return;
        scored x = h[i]; h[i] = h[w]; h[w] = x;
        i = w;
    }
}

/* the n best untaken tracks by a dense float score: the heap ends sorted
 * worst-first by popping */
static int64_t select_dense(plm_model *m, const float *sf, int32_t *out, int64_t n) {
    if (n <= 0) return 0;
    scored *h = malloc((size_t)n * sizeof *h);
    if (!h) return -1;
    int64_t nh = 0;
    for (int32_t t = 0; t < m->ntracks; t++) {
        if (m->taken[t]) continue;
        float s = sf[t];
        if (nh < n) {
            h[nh++] = (scored){s, t};
            if (nh == n) for (int64_t j = n / 2; j-- > 0;) sift_down(m, h, n, j);
        } else if (plm_ahead(m, s, t, h[0].s, h[0].t)) {
            h[0] = (scored){s, t};
            sift_down(m, h, n, 0);
        }
    }
    if (nh < n) for (int64_t j = nh / 2; j-- > 0;) sift_down(m, h, nh, j);
    for (int64_t k = nh; k-- > 0;) {
        out[k] = h[0].t;
        h[0] = h[k];
        sift_down(m, h, k, 0);
    }
    free(h);
    for (int64_t k = 0; k < nh; k++) m->taken[out[k]] = 1;
    return fill_popular(m, out, nh, n);
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

static inline void add_score(plm_model *m, int32_t t, uint32_t w) {
    if (m->score[t] == 0) m->cand[m->ncand++] = t;
    m->score[t] += w;
}

int64_t plm_popular(plm_model *m, const int32_t *seeds, int64_t ns, int32_t *out, int64_t n) {
    mark_seeds(m, seeds, ns, 1);
    int64_t k = n > 0 ? fill_popular(m, out, 0, n) : 0;
    finish(m, seeds, ns, out, k);
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
    int64_t k = select_counts(m, out, n);
    finish(m, seeds, ns, out, k);
    return k;
}

int64_t plm_cooc(plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                 int32_t *out, int64_t n) {
    int64_t ntouched = 0, known = 0;
    uint64_t bound = 0;     /* sum of the weights: no score exceeds it */
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks) continue;
        known++;
        bound += (uint64_t)(m->tr_off[s + 1] - m->tr_off[s]);
        for (int64_t j = m->tr_off[s]; j < m->tr_off[s + 1]; j++) {
            int32_t p = m->tr_pl[j];
            if (!m->plw[p]++) m->pl_touched[ntouched++] = p;
        }
    }
    if (bound > UINT32_MAX) {
        for (int64_t i = 0; i < ntouched; i++) m->plw[m->pl_touched[i]] = 0;
        return -2;
    }
    if (!known) return plm_title(m, title, seeds, ns, out, n);
    for (int64_t i = 0; i < ntouched; i++) {
        int32_t p = m->pl_touched[i];
        uint32_t w = (uint32_t)m->plw[p];
        m->plw[p] = 0;
        for (int64_t j = m->pl_off[p]; j < m->pl_off[p + 1]; j++) add_score(m, m->pl_tr[j], w);
    }
    mark_seeds(m, seeds, ns, 1);
    int64_t k = select_counts(m, out, n);
    finish(m, seeds, ns, out, k);
    return k;
}

int64_t plm_top_dense(plm_model *m, const float *score, const int32_t *seeds, int64_t ns,
                      int32_t *out, int64_t n) {
    mark_seeds(m, seeds, ns, 1);
    int64_t k = select_dense(m, score, out, n);
    if (k >= 0) finish(m, seeds, ns, out, k);
    else mark_seeds(m, seeds, ns, 0);
    return k;
}

/* ---- co-occurrence counts as a model file ---- */

int plm_cooc_counts(const pl_set *train, int (*owns)(void *ctx, int64_t p), void *owns_ctx,
                    int (*emit)(void *ctx, int32_t a, int32_t b, int32_t count), void *emit_ctx,
                    int64_t *nplaylists, char *err, size_t errlen) {
    int32_t nt = train->ntracks;
    int64_t np = 0, rows = 0;
    for (int64_t p = 0; p < train->n; p++)
        if (!owns || owns(owns_ctx, p)) { np++; rows += pl_len(train, p); }
    if (np > INT32_MAX) { snprintf(err, errlen, "more than 2^31 - 1 playlists: counts would overflow i32"); return -1; }
    int64_t *off = malloc((size_t)(np + 1) * sizeof *off), *toff = NULL;
    int32_t *tr = malloc((size_t)(rows ? rows : 1) * sizeof *tr), *tpl = NULL;
    int32_t *acc = calloc((size_t)(nt ? nt : 1), sizeof *acc), *cand = malloc((size_t)(nt ? nt : 1) * sizeof *cand);
    uint64_t *bits = calloc((size_t)nt / 64 + 1, sizeof *bits);
    int rc = -1;
    if (!off || !tr || !acc || !cand || !bits) goto oom;
    /* the owned playlists' distinct tracks, sorted: A's rows */
    off[0] = 0;
    for (int64_t p = 0, q = 0; p < train->n; p++) {
        if (owns && !owns(owns_ctx, p)) continue;
        int64_t o = off[q], len = pl_len(train, p), u = 0;
        memcpy(tr + o, pl_tracks(train, p), (size_t)len * sizeof *tr);
        qsort(tr + o, (size_t)len, sizeof *tr, cmp_i32);
        for (int64_t i = 0; i < len; i++)
            if (!u || tr[o + u - 1] != tr[o + i]) tr[o + u++] = tr[o + i];
        off[++q] = o + u;
    }
    if (transpose(off, tr, np, nt, &toff, &tpl)) goto oom;
    /* row a of C, b >= a: for every playlist holding a, its tracks from a on */
    for (int32_t a = 0; a < nt; a++) {
        int64_t nc = 0;
        for (int64_t j = toff[a]; j < toff[a + 1]; j++) {
            int32_t p = tpl[j];
            const int32_t *t = tr + off[p], *e = tr + off[p + 1];
            while (*t < a) t++;
            for (; t < e; t++) if (!acc[*t]++) cand[nc++] = *t;
        }
        /* the row's columns in order: a bitmap over [a, max] when it has
         * few words per column, else a sort */
        int32_t hi = a;
        for (int64_t i = 0; i < nc; i++) if (cand[i] > hi) hi = cand[i];
        int64_t w0 = a >> 6, w1 = hi >> 6;
        if (w1 - w0 < nc * 8) {
            for (int64_t i = 0; i < nc; i++) bits[cand[i] >> 6] |= (uint64_t)1 << (cand[i] & 63);
            nc = 0;
            for (int64_t w = w0; w <= w1; w++)
                for (uint64_t x = bits[w]; x; x &= x - 1) cand[nc++] = (int32_t)(w << 6 | __builtin_ctzll(x));
            memset(bits + w0, 0, (size_t)(w1 - w0 + 1) * sizeof *bits);
        } else qsort(cand, (size_t)nc, sizeof *cand, cmp_i32);
        for (int64_t i = 0; i < nc; i++) {
            int32_t b = cand[i], c = acc[b];
            acc[b] = 0;
            if (emit(emit_ctx, a, b, c)) { snprintf(err, errlen, "cannot write the counts"); goto done; }
        }
    }
    *nplaylists = np;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory counting co-occurrences (%d tracks, %lld playlist rows)", nt, (long long)rows);
done:
    free(off); free(tr); free(toff); free(tpl); free(acc); free(cand); free(bits);
    return rc;
}

double plm_seed_weight(double recency, const int32_t *seeds, int64_t ns, int64_t i) {
    if (recency == 0) return 1;
    int64_t last = i;                   /* a repeated seed: its last place */
    for (int64_t j = i + 1; j < ns; j++)
        if (seeds[j] == seeds[i]) last = j;
    return exp(-recency * (double)(ns - 1 - last));
}
