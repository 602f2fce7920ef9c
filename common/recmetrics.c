/* recmetrics.c - RecSys Challenge 2018 metrics (recmetrics.h).  Sets are
 * small open-addressing hash sets of the item ids, built per call: a query
 * costs O(|G| + |R|) hash probes (the sorted-copy version spent most of
 * rec-eval's time in qsort). */
#include "recmetrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a set of int32 items, with a mark per member (hit / seen) */
typedef struct {
    int64_t *slot;          /* item, or EMPTY */
    unsigned char *mark;
    uint32_t mask;
    int shift;
} iset;

#define EMPTY INT64_MIN

static int iset_init(iset *s, int64_t n) {
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * n) bits++;
    size_t cap = (size_t)1 << bits;
    s->slot = malloc(cap * sizeof *s->slot);
    s->mark = calloc(cap, 1);
    if (!s->slot || !s->mark) { free(s->slot); free(s->mark); return -1; }
    for (size_t i = 0; i < cap; i++) s->slot[i] = EMPTY;
    s->mask = (uint32_t)(cap - 1);
    s->shift = 32 - bits;
    return 0;
}

static void iset_free(iset *s) { free(s->slot); free(s->mark); }

/* the slot of x: where it is, or the empty slot where it would go */
static inline uint32_t iset_slot(const iset *s, int32_t x) {
    uint32_t i = ((uint32_t)x * 2654435769u) >> s->shift;
    while (s->slot[i] != EMPTY && s->slot[i] != x) i = (i + 1) & s->mask;
    return i;
}

/* adds x; 1 when it was new */
static inline int iset_add(iset *s, int32_t x) {
    uint32_t i = iset_slot(s, x);
    if (s->slot[i] != EMPTY) return 0;
    s->slot[i] = x;
    return 1;
}

/* the slot holding x, or -1 */
static inline int64_t iset_find(const iset *s, int32_t x) {
    uint32_t i = iset_slot(s, x);
    return s->slot[i] == EMPTY ? -1 : (int64_t)i;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

double rm_r_precision(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t max_n) {
    if (ng <= 0) return NAN;
    iset g;
    if (iset_init(&g, ng)) return NAN;
    int64_t u = 0;                          /* |set(G)| */
    for (int64_t i = 0; i < ng; i++) u += iset_add(&g, G[i]);
    int64_t h = 0, n = min64(min64(nr, max_n), u);
    for (int64_t i = 0; i < n; i++) {       /* distinct items of R[1:|set(G)|] in G */
        int64_t j = iset_find(&g, R[i]);
        if (j >= 0 && !g.mark[j]) { g.mark[j] = 1; h++; }
    }
    iset_free(&g);
    return (double)h / (double)u;
}

double rm_ndcg(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t k) {
    if (ng <= 0) return NAN;
    int64_t n = min64(nr, k), u = 0;
    iset g, r;
    if (iset_init(&g, ng)) return NAN;
    if (iset_init(&r, n)) { iset_free(&g); return NAN; }
    /* u = distinct items of G[1:min(k, |G|)]: the first min(k, |G|) adds */
    for (int64_t i = 0; i < ng; i++) {
        int fresh = iset_add(&g, G[i]);
        if (i < k) u += fresh;
    }
    double idcg = 0, dcg = 0;
    for (int64_t i = 1; i <= u; i++) idcg += 1.0 / log2((double)i + 1.0);
    int64_t place = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!iset_add(&r, R[i])) continue;  /* a repeat: R is de-duplicated first */
        place++;    /* 1-based place in the de-duplicated list */
        if (iset_find(&g, R[i]) >= 0) dcg += 1.0 / log2((double)place + 1.0);
    }
    iset_free(&g); iset_free(&r);
    return dcg / idcg;
}

double rm_clicks(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t max_n) {
    if (ng <= 0) return NAN;
    iset g;
    if (iset_init(&g, ng)) return NAN;
    for (int64_t i = 0; i < ng; i++) iset_add(&g, G[i]);
    int64_t n = min64(nr, max_n);
    double c = (double)max_n / 10.0 + 1.0;
    for (int64_t i = 0; i < n; i++)
        if (iset_find(&g, R[i]) >= 0) { c = (double)(i / 10); break; }
    iset_free(&g);
    return c;
}

double rm_r_precision_artist(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr,
                             int64_t max_n, const int32_t *artist, int64_t nartist) {
    if (ng <= 0) return NAN;
    int64_t u = 0, th = 0, ah = 0;
    iset g, ga, sa;
    if (iset_init(&g, ng)) return NAN;
    if (iset_init(&ga, ng)) { iset_free(&g); return NAN; }
    for (int64_t i = 0; i < ng; i++) {
        u += iset_add(&g, G[i]);
        int32_t a = G[i] < nartist ? artist[G[i]] : -1;
        if (a >= 0) iset_add(&ga, a);
    }
    int64_t n = min64(min64(nr, max_n), u);
    if (iset_init(&sa, n)) { iset_free(&g); iset_free(&ga); return NAN; }
    for (int64_t i = 0; i < n; i++) {
        int64_t j = iset_find(&g, R[i]);
        if (j >= 0) { if (!g.mark[j]) { g.mark[j] = 1; th++; } continue; }
        int32_t a = R[i] < nartist ? artist[R[i]] : -1;
        /* a distinct artist of the misses that is an artist of G */
        if (a >= 0 && iset_add(&sa, a) && iset_find(&ga, a) >= 0) ah++;
    }
    iset_free(&g); iset_free(&ga); iset_free(&sa);
    return ((double)th + 0.25 * (double)ah) / (double)u;
}
