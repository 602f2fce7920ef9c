/* recmetrics.c - RecSys Challenge 2018 metrics (recmetrics.h).  Sets are
 * sorted, de-duplicated copies searched with bsearch: |G| <= 250 and
 * |R| <= 500 in the challenge, so a query costs microseconds. */
#include "recmetrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* sorted distinct copy of v[0..n); returns its length, -1 out of memory */
static int64_t sorted_set(const int32_t *v, int64_t n, int32_t **out) {
    int32_t *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) return -1;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_i32);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (!u || s[u - 1] != s[i]) s[u++] = s[i];
    *out = s;
    return u;
}

static int64_t find(const int32_t *set, int64_t n, int32_t x) {
    const int32_t *p = bsearch(&x, set, (size_t)n, sizeof x, cmp_i32);
    return p ? p - set : -1;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* number of distinct items of R[0..n) that are in the set */
static int64_t distinct_hits(const int32_t *set, int64_t ns, const int32_t *R, int64_t n, unsigned char *hit) {
    int64_t h = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = find(set, ns, R[i]);
        if (j >= 0 && !hit[j]) { hit[j] = 1; h++; }
    }
    return h;
}

double rm_r_precision(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t max_n) {
    if (ng <= 0) return NAN;
    int32_t *gs;
    int64_t ns = sorted_set(G, ng, &gs);
    if (ns < 0) return NAN;
    unsigned char *hit = calloc((size_t)ns, 1);
    if (!hit) { free(gs); return NAN; }
    int64_t h = distinct_hits(gs, ns, R, min64(min64(nr, max_n), ng), hit);
    free(gs); free(hit);
    return (double)h / (double)ng;
}

double rm_ndcg(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t k) {
    if (ng <= 0) return NAN;
    int32_t *gs, *ideal;
    int64_t u = sorted_set(G, min64(k, ng), &ideal);
    if (u < 0) return NAN;
    free(ideal);
    double idcg = 0, dcg = 0;
    for (int64_t i = 1; i <= u; i++) idcg += 1.0 / log2((double)i + 1.0);
    int64_t ns = sorted_set(G, ng, &gs);
    int64_t n = min64(nr, k);
    uint64_t *vi = malloc((size_t)(n ? n : 1) * sizeof *vi);
    unsigned char *first = malloc((size_t)(n ? n : 1));
    if (ns < 0 || !vi || !first) { if (ns >= 0) free(gs); free(vi); free(first); return NAN; }
    /* de-duplicate R[1:k] keeping first occurrences: sort (item, place)
     * pairs; the first pair of each item is its first occurrence */
    for (int64_t i = 0; i < n; i++) vi[i] = (uint64_t)(uint32_t)((uint32_t)R[i] ^ 0x80000000u) << 32 | (uint64_t)i;
    qsort(vi, (size_t)n, sizeof *vi, cmp_u64);
    for (int64_t i = 0; i < n; i++) first[vi[i] & 0xffffffffu] = !i || (vi[i] >> 32) != (vi[i - 1] >> 32);
    int64_t place = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!first[i]) continue;
        place++;    /* 1-based place in the de-duplicated list */
        if (find(gs, ns, R[i]) >= 0) dcg += 1.0 / log2((double)place + 1.0);
    }
    free(gs); free(vi); free(first);
    return dcg / idcg;
}

double rm_clicks(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t max_n) {
    if (ng <= 0) return NAN;
    int32_t *gs;
    int64_t ns = sorted_set(G, ng, &gs);
    if (ns < 0) return NAN;
    int64_t n = min64(nr, max_n);
    double c = (double)max_n / 10.0 + 1.0;
    for (int64_t i = 0; i < n; i++)
        if (find(gs, ns, R[i]) >= 0) { c = (double)(i / 10); break; }
    free(gs);
    return c;
}

double rm_r_precision_artist(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr,
                             int64_t max_n, const int32_t *artist, int64_t nartist) {
    if (ng <= 0) return NAN;
    int64_t n = min64(min64(nr, max_n), ng);
    int32_t *gs, *ga = malloc((size_t)ng * sizeof *ga), *sa = malloc((size_t)(n ? n : 1) * sizeof *sa);
    int64_t ns = sorted_set(G, ng, &gs);
    unsigned char *hit = ns >= 0 ? calloc((size_t)(ns ? ns : 1), 1) : NULL;
    double r = NAN;
    if (!ga || !sa || ns < 0 || !hit) goto done;
    int64_t th = 0, nsa = 0, nga = 0;
    for (int64_t i = 0; i < ng; i++) {
        int32_t a = G[i] < nartist ? artist[G[i]] : -1;
        if (a >= 0) ga[nga++] = a;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t j = find(gs, ns, R[i]);
        if (j >= 0) { if (!hit[j]) { hit[j] = 1; th++; } continue; }
        int32_t a = R[i] < nartist ? artist[R[i]] : -1;
        if (a >= 0) sa[nsa++] = a;
    }
    int32_t *gas, *sas;
    int64_t nga_u = sorted_set(ga, nga, &gas), nsa_u = sorted_set(sa, nsa, &sas);
    if (nga_u >= 0 && nsa_u >= 0) {
        int64_t ah = 0;
        for (int64_t i = 0; i < nsa_u; i++) ah += find(gas, nga_u, sas[i]) >= 0;
        r = ((double)th + 0.25 * (double)ah) / (double)ng;
    }
    if (nga_u >= 0) free(gas);
    if (nsa_u >= 0) free(sas);
done:
    free(ga); free(sa); free(hit);
    if (ns >= 0) free(gs);
    return r;
}
