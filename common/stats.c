/* stats.c - covariance accumulator, ranks, Kendall's tau-b, AUC.  See stats.h
 * for the formulas and their references. */
#include "stats.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int stats_cov_init(stats_cov *c, int d) {
    memset(c, 0, sizeof *c);
    c->d = d;
    c->mean = calloc((size_t)d, sizeof *c->mean);
    c->m2 = calloc((size_t)d * (size_t)d, sizeof *c->m2);
    if (!c->mean || !c->m2) { stats_cov_free(c); return -1; }
    return 0;
}

void stats_cov_free(stats_cov *c) {
    free(c->mean); free(c->m2); free(c->work);
    memset(c, 0, sizeof *c);
}

int stats_cov_add(stats_cov *c, const double *rows, int64_t n, int64_t ld) {
    const int d = c->d;
    if (n <= 0) return 0;
    if (n > c->work_rows) {     /* centred rows, then d x d block co-moment, then d means */
        double *w = realloc(c->work, ((size_t)n * (size_t)d + (size_t)d * (size_t)d + (size_t)d) * sizeof *w);
        if (!w) return -1;
        c->work = w;
        c->work_rows = n;
    }
    double *xc = c->work, *mb = c->work + (size_t)c->work_rows * (size_t)d, *mu = mb + (size_t)d * (size_t)d;
    for (int j = 0; j < d; j++) mu[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mu[j] += rows[i * ld + j];
    for (int j = 0; j < d; j++) mu[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) xc[i * d + j] = rows[i * ld + j] - mu[j];
    /* mb = xc^T xc (upper triangle) */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)n, 1.0, xc, d, 0.0, mb, d);
    const double na = (double)c->n, nb = (double)n, f = na * nb / (na + nb);
    for (int j = 0; j < d; j++) {
        double dj = mu[j] - c->mean[j];
        for (int k = j; k < d; k++)
            c->m2[j * d + k] += mb[j * d + k] + (mu[k] - c->mean[k]) * dj * f;
    }
    for (int j = 0; j < d; j++) c->mean[j] += (mu[j] - c->mean[j]) * nb / (na + nb);
    c->n += n;
    return 0;
}

void stats_cov_matrix(const stats_cov *c, double *cov) {
    const int d = c->d;
    double div = c->n > 1 ? (double)(c->n - 1) : NAN;
    for (int j = 0; j < d; j++)
        for (int k = j; k < d; k++) cov[j * d + k] = cov[k * d + j] = c->m2[j * d + k] / div;
}

void stats_cov_corr(const stats_cov *c, double *r) {
    const int d = c->d;
    for (int j = 0; j < d; j++)
        for (int k = j; k < d; k++) {
            double den = sqrt(c->m2[j * d + j] * c->m2[k * d + k]);
            double v = c->n > 1 && den > 0 ? c->m2[j * d + k] / den : NAN;
            if (j == k && v == v) v = 1.0;
            if (v > 1) v = 1;           /* rounding */
            if (v < -1) v = -1;
            r[j * d + k] = r[k * d + j] = v;
        }
}

/* Stable bottom-up merge sort of idx[0..n) by key[idx[.]]: ties keep their
 * order.  Comparisons are inlined (no qsort callback): the hot loop of
 * ranks and Kendall's tau.  tmp: n int64. */
static void sort_index_by(const double *key, int64_t *idx, int64_t *tmp, int64_t n) {
    /* runs of 16 by insertion sort, then merges */
    for (int64_t lo = 0; lo < n; lo += 16) {
        int64_t hi = lo + 16 < n ? lo + 16 : n;
        for (int64_t i = lo + 1; i < hi; i++) {
            int64_t v = idx[i], k = i;
            double kv = key[v];
            while (k > lo && key[idx[k - 1]] > kv) { idx[k] = idx[k - 1]; k--; }
            idx[k] = v;
        }
    }
    int64_t *a = idx, *b = tmp;
    for (int64_t w = 16; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = key[a[j]] < key[a[i]] ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        int64_t *t = a; a = b; b = t;
    }
    if (a != idx) memcpy(idx, a, (size_t)n * sizeof *idx);
}

void stats_sort_index(const double *x, int64_t n, int64_t *idx, int64_t *tmp) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    sort_index_by(x, idx, tmp, n);
}

/* a double as an unsigned key with the same order (-0 taken as +0): flip
 * every bit of a negative, the sign bit of a positive */
static inline uint64_t order_key(double v) {
    uint64_t u;
    v += 0.0;
    memcpy(&u, &v, sizeof u);
    return u >> 63 ? ~u : u | 0x8000000000000000ull;
}

typedef struct { uint64_t k; int64_t i; } kpair;

enum { RADIX_BITS = 11, RADIX = 1 << RADIX_BITS, RADIX_PASSES = (64 + RADIX_BITS - 1) / RADIX_BITS };

/* LSD radix sort of (key, index) pairs, 6 passes of 11 bits; a pass whose
 * digit is the same for every key is skipped (f32 data widened to double:
 * the low 29 bits are zero).  Stable.  b: n scratch pairs.  Returns the
 * buffer holding the result (a or b).  O(n), against O(n log n) for the
 * merge sort: ranks of long columns. */
static kpair *radix_sort(kpair *a, kpair *b, int64_t n, int64_t *count) {
    memset(count, 0, sizeof(int64_t) * RADIX * RADIX_PASSES);
    for (int64_t i = 0; i < n; i++)
        for (int p = 0; p < RADIX_PASSES; p++) count[p * RADIX + ((a[i].k >> (p * RADIX_BITS)) & (RADIX - 1))]++;
    for (int p = 0; p < RADIX_PASSES; p++) {
        int64_t *c = count + p * RADIX;
        if (n && c[(a[0].k >> (p * RADIX_BITS)) & (RADIX - 1)] == n) continue;   /* one digit: nothing moves */
        int64_t sum = 0;
        for (int d = 0; d < RADIX; d++) { int64_t t = c[d]; c[d] = sum; sum += t; }
        for (int64_t i = 0; i < n; i++) b[c[(a[i].k >> (p * RADIX_BITS)) & (RADIX - 1)]++] = a[i];
        kpair *t = a; a = b; b = t;
    }
    return a;
}

void stats_rank_average(const double *x, int64_t n, double *rank, int64_t *idx) {
    kpair *p = malloc((size_t)(n ? n : 1) * 2 * sizeof *p);
    int64_t *count = malloc(sizeof(int64_t) * RADIX * RADIX_PASSES);
    if (p && count) {
        for (int64_t i = 0; i < n; i++) p[i] = (kpair){order_key(x[i]), i};
        kpair *r = radix_sort(p, p + n, n, count);
        /* ties: equal keys (== on the doubles, as -0 == +0) */
        for (int64_t i = 0; i < n;) {
            int64_t j = i + 1;
            while (j < n && r[j].k == r[i].k) j++;
            double rk = 0.5 * (double)(i + 1 + j);     /* mean of positions i+1 .. j */
            for (int64_t k = i; k < j; k++) { rank[r[k].i] = rk; idx[k] = r[k].i; }
            i = j;
        }
        free(p);
        free(count);
        return;
    }
    free(p);
    free(count);
    /* out of memory: the index merge sort needs less */
    int64_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    if (tmp) sort_index_by(x, idx, tmp, n);
    else
        for (int64_t i = 1; i < n; i++) {   /* insertion sort: no scratch (slow, rare) */
            int64_t v = idx[i], k = i;
            while (k > 0 && x[idx[k - 1]] > x[v]) { idx[k] = idx[k - 1]; k--; }
            idx[k] = v;
        }
    free(tmp);
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && x[idx[j]] == x[idx[i]]) j++;
        double r = 0.5 * (double)(i + 1 + j);     /* mean of positions i+1 .. j */
        for (int64_t k = i; k < j; k++) rank[idx[k]] = r;
        i = j;
    }
}

double stats_pearson(const double *x, const double *y, int64_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= (double)n; my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = x[i] - mx, b = y[i] - my;
        sxy += a * b; sxx += a * a; syy += b * b;
    }
    if (!(sxx > 0 && syy > 0)) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* pairs within runs of equal values of sorted v: sum t (t - 1) / 2 */
static double tied_pairs(const double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && v[j] == v[i]) j++;
        s += 0.5 * (double)(j - i) * (double)(j - i - 1);
        i = j;
    }
    return s;
}

/* bottom-up merge sort of v (n), returning the number of strict
 * inversions (i < j, v[i] > v[j]) */
static double sort_count_inversions(double *v, double *tmp, int64_t n) {
    double inv = 0;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (v[j] < v[i]) { inv += (double)(mid - i); tmp[k++] = v[j++]; }
                else tmp[k++] = v[i++];
            }
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
    return inv;
}

size_t stats_kendall_work_bytes(int64_t n) { return (size_t)(n ? n : 1) * 4 * 8; }

double stats_kendall_tau_b_sorted(const double *x, const double *y, int64_t n, const int64_t *xorder, void *work) {
    if (n < 2) return NAN;
    int64_t *idx = work, *itmp = idx + n;
    double *ys = (double *)(itmp + n), *tmp = ys + n;
    memcpy(idx, xorder, (size_t)n * sizeof *idx);
    /* order by (x, y): sort each run of equal x by y; n1 = ties in x,
     * n3 = ties in (x, y) */
    double n1 = 0, n3 = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && x[idx[j]] == x[idx[i]]) j++;
        if (j - i > 1) {
            sort_index_by(y, idx + i, itmp, j - i);
            n1 += 0.5 * (double)(j - i) * (double)(j - i - 1);
            for (int64_t a = i; a < j;) {
                int64_t b = a + 1;
                while (b < j && y[idx[b]] == y[idx[a]]) b++;
                n3 += 0.5 * (double)(b - a) * (double)(b - a - 1);
                a = b;
            }
        }
        i = j;
    }
    for (int64_t i = 0; i < n; i++) ys[i] = y[idx[i]];
    double disc = sort_count_inversions(ys, tmp, n);
    double n2 = tied_pairs(ys, n);
    double n0 = 0.5 * (double)n * (double)(n - 1);
    double den = sqrt((n0 - n1) * (n0 - n2));
    if (!(den > 0)) return NAN;
    double t = (n0 - n1 - n2 + n3 - 2 * disc) / den;
    return t > 1 ? 1 : t < -1 ? -1 : t;
}

double stats_kendall_tau_b(const double *x, const double *y, int64_t n, void *work) {
    if (n < 2) return NAN;
    int64_t *order = malloc((size_t)n * sizeof *order);
    if (!order) return NAN;
    int64_t *itmp = (int64_t *)work;       /* free until the call below */
    stats_sort_index(x, n, order, itmp);
    double t = stats_kendall_tau_b_sorted(x, y, n, order, work);
    free(order);
    return t;
}

double stats_auc(const double *score, const int *label, int64_t n, int64_t *idx, double *rank) {
    stats_rank_average(score, n, rank, idx);
    double npos = 0, nneg = 0, rsum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i]) { npos++; rsum += rank[i]; }
        else nneg++;
    }
    if (!(npos > 0 && nneg > 0)) return NAN;
    /* U of the positives = rank sum - npos (npos + 1) / 2 */
    return (rsum - npos * (npos + 1) / 2) / (npos * nneg);
}
