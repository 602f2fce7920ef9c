/* knn.c - the exact search engine: blocked SGEMM + top-k selection, after
 * faiss's exhaustive_inner_product_blas / exhaustive_L2sqr_blas
 * (faiss/utils/distances.cpp) with HeapBlockResultHandler for small k and
 * a reservoir (collect above a threshold, compact by sorting) for large k.
 *
 * Every candidate score is first turned into a "higher is better" value v:
 *   cosine, dot  v = q.x                 (q, x unit rows for cosine)
 *   euclidean    v = 2 q.x - |x|^2       so |q-x|^2 = |q|^2 - v
 *   mad          v = -sum_i |q_i - x_i|
 * and selection keeps the k largest v, ties to the lower row. */
#include "knn.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define HEAP_MAX_K 100          /* above: reservoir selection (faiss uses the same cut) */
#ifdef __AVX512F__
#define FUSED 1                 /* small d: dot products and threshold test in registers */
#else
#define FUSED 0
#endif
#define FUSED_MAX_D 64          /* above it the GEMM path is faster */

static int block_q = 128, block_x = 2048;   /* 1 MiB score buffer per thread */
static int use_fused = 1;

void knn_set_fused(int on) { use_fused = on; }

void knn_set_blocks(int query_rows, int index_rows) {
    block_q = query_rows < 16 ? 16 : (query_rows + 15) / 16 * 16;
    block_x = index_rows < 16 ? 16 : (index_rows + 15) / 16 * 16;
}

static const char *const metric_names[KNN_NMETRICS] = {"cosine", "euclidean", "dot", "mad"};

const char *knn_metric_name(knn_metric m) { return (unsigned)m < KNN_NMETRICS ? metric_names[m] : "?"; }
int knn_metric_parse(const char *s, knn_metric *m) {
    for (int i = 0; i < KNN_NMETRICS; i++)
        if (strcmp(s, metric_names[i]) == 0) { *m = (knn_metric)i; return 0; }
    return -1;
}
int knn_metric_lower_is_better(knn_metric m) { return m == KNN_EUCLIDEAN || m == KNN_MAD; }

/* dst = src / |src| (|.| in double); a zero row stays zero. */
static void unit_row(float *dst, const float *src, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)src[i] * src[i];
    double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
    for (int i = 0; i < d; i++) dst[i] = (float)(src[i] * inv);
}

static float norm2_row(const float *x, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)x[i] * x[i];
    return (float)s;
}

int knn_index_build(knn_index *ix, const float *x, int64_t n, int d, knn_metric m) {
    memset(ix, 0, sizeof *ix);
    ix->metric = m; ix->n = n; ix->d = d;
    if (n < 0 || d < 1 || (n && (size_t)n > SIZE_MAX / sizeof(float) / (size_t)d - 16)) return -1;
    size_t nd = (size_t)n * (size_t)d;
    if (!(ix->x = malloc((nd ? nd : 1) * sizeof *ix->x))) goto oom;
    for (int64_t r = 0; r < n; r++) {
        if (m == KNN_COSINE) unit_row(ix->x + r * d, x + r * d, d);
        else memcpy(ix->x + r * d, x + r * d, (size_t)d * sizeof *x);
    }
    size_t panels = ((size_t)(n + 15) / 16 + 1) / 2 * 2 + 2;   /* even, padded with zeros */
    if (m == KNN_EUCLIDEAN) {
        if (!(ix->norm2 = calloc(panels * 16, sizeof *ix->norm2))) goto oom;
        for (int64_t r = 0; r < n; r++) ix->norm2[r] = norm2_row(x + r * d, d);
    }
    if (m == KNN_MAD || (FUSED && d <= FUSED_MAX_D)) {
        if (!(ix->xt = calloc(panels * 16 * (size_t)d, sizeof *ix->xt))) goto oom;
        for (int64_t r = 0; r < n; r++)
            for (int t = 0; t < d; t++)
                ix->xt[((size_t)(r / 16) * (size_t)d + (size_t)t) * 16 + (size_t)(r % 16)] = ix->x[r * d + t];
    }
    return 0;
oom:
    knn_index_free(ix);
    return -1;
}

int knn_index_layout(int64_t n, int d, knn_metric m, size_t *x, size_t *norm2, size_t *xt) {
    if (n < 0 || d < 1 || (n && (size_t)n > SIZE_MAX / sizeof(float) / (size_t)d - 16)) return -1;
    size_t panels = ((size_t)(n + 15) / 16 + 1) / 2 * 2 + 2;   /* as knn_index_build */
    *x = (size_t)n * (size_t)d;
    *norm2 = m == KNN_EUCLIDEAN ? panels * 16 : 0;
    *xt = m == KNN_MAD || (FUSED && d <= FUSED_MAX_D) ? panels * 16 * (size_t)d : 0;
    return 0;
}

void knn_index_wrap(knn_index *ix, int64_t n, int d, knn_metric m,
                    const float *x, const float *norm2, const float *xt) {
    memset(ix, 0, sizeof *ix);
    ix->metric = m; ix->n = n; ix->d = d;
    /* never written through: the search only reads the index */
    ix->x = (float *)x; ix->norm2 = (float *)norm2; ix->xt = (float *)xt;
    ix->borrowed = 1;
}

void knn_index_free(knn_index *ix) {
    if (!ix) return;
    if (!ix->borrowed) { free(ix->x); free(ix->norm2); free(ix->xt); }
    memset(ix, 0, sizeof *ix);
}

/* ---- selection ---- */

/* a worse than b: lower value, or the same value at a higher row */
static inline int worse(float va, int64_t ia, float vb, int64_t ib) {
    return va < vb || (va == vb && ia > ib);
}

/* Min-heap of the k best so far, the worst on top (faiss's CMin heap). */
static inline void heap_replace_top(float *hv, int64_t *hi, int k, float v, int64_t i) {
    int pos = 0;
    for (;;) {
        int c = 2 * pos + 1;
        if (c >= k) break;
        if (c + 1 < k && worse(hv[c + 1], hi[c + 1], hv[c], hi[c])) c++;
        if (!worse(hv[c], hi[c], v, i)) break;
        hv[pos] = hv[c]; hi[pos] = hi[c];
        pos = c;
    }
    hv[pos] = v; hi[pos] = i;
}

/* Offers the values of bits in mask (chunk starting at vals[0], row j). */
static inline void offer_mask(unsigned mask, const float *c, const float *xn, int64_t j,
                              float *hv, int64_t *hi, int k) {
    while (mask) {
        int b = __builtin_ctz(mask);
        mask &= mask - 1;
        float v = xn ? 2.0f * c[b] - xn[b] : c[b];
        if (v > hv[0]) heap_replace_top(hv, hi, k, v, j + b);
    }
}

/* Scans one query's len scores c[] (rows j0...), xn = |x|^2 of those rows
 * for euclidean (else NULL), into its heap.  Nearly every candidate fails
 * the threshold test, so the loop compares 64 values per branch. */
static void scan_heap(const float *c, int len, int64_t j0, const float *xn,
                      float *hv, int64_t *hi, int k) {
    int j = 0;
#ifdef __AVX512F__
    __m512 thr = _mm512_set1_ps(hv[0]), two = _mm512_set1_ps(2.0f);
    for (; j + 64 <= len; j += 64) {
        __m512 a = _mm512_loadu_ps(c + j), b = _mm512_loadu_ps(c + j + 16);
        __m512 e = _mm512_loadu_ps(c + j + 32), f = _mm512_loadu_ps(c + j + 48);
        if (xn) {
            a = _mm512_fmsub_ps(two, a, _mm512_loadu_ps(xn + j));
            b = _mm512_fmsub_ps(two, b, _mm512_loadu_ps(xn + j + 16));
            e = _mm512_fmsub_ps(two, e, _mm512_loadu_ps(xn + j + 32));
            f = _mm512_fmsub_ps(two, f, _mm512_loadu_ps(xn + j + 48));
        }
        __mmask16 ma = _mm512_cmp_ps_mask(a, thr, _CMP_GT_OQ), mb = _mm512_cmp_ps_mask(b, thr, _CMP_GT_OQ);
        __mmask16 me = _mm512_cmp_ps_mask(e, thr, _CMP_GT_OQ), mf = _mm512_cmp_ps_mask(f, thr, _CMP_GT_OQ);
        if (__builtin_expect(!(ma | mb | me | mf), 1)) continue;
        for (int p = 0; p < 4; p++) {
            unsigned m = p == 0 ? ma : p == 1 ? mb : p == 2 ? me : mf;
            offer_mask(m, c + j + 16 * p, xn ? xn + j + 16 * p : NULL, j0 + j + 16 * p, hv, hi, k);
        }
        thr = _mm512_set1_ps(hv[0]);
    }
#else
    for (; j + 16 <= len; j += 16) {            /* portable: a branch-free test GCC vectorises */
        float thr = hv[0];
        int any = 0;
        if (xn) for (int l = 0; l < 16; l++) any |= 2.0f * c[j + l] - xn[j + l] > thr;
        else for (int l = 0; l < 16; l++) any |= c[j + l] > thr;
        if (any) offer_mask(0xFFFFu, c + j, xn ? xn + j : NULL, j0 + j, hv, hi, k);
    }
#endif
    for (; j < len; j++) {
        float v = xn ? 2.0f * c[j] - xn[j] : c[j];
        if (v > hv[0]) heap_replace_top(hv, hi, k, v, j0 + j);
    }
}

/* Reservoir for large k: up to 2k candidates above thr; when full, keep
 * the best k (sorted) and raise thr to the k-th value. */
typedef struct { float v; int64_t i; } cand;

static int cand_better_first(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

typedef struct { cand *c; int n; float thr; } reservoir;

static void reservoir_compact(reservoir *r, int k) {
    qsort(r->c, (size_t)r->n, sizeof *r->c, cand_better_first);
    if (r->n > k) r->n = k;
    if (r->n == k) r->thr = r->c[k - 1].v;
}

static void scan_reservoir(const float *c, int len, int64_t j0, const float *xn, reservoir *r, int k) {
    for (int j = 0; j < len; j++) {
        float v = xn ? 2.0f * c[j] - xn[j] : c[j];
        if (!(v > r->thr)) continue;
        r->c[r->n].v = v;
        r->c[r->n].i = j0 + j;
        if (++r->n == 2 * k) reservoir_compact(r, k);
    }
}

/* ---- block computation ---- */

/* C[qi][j] = -sum_t |q_t - x_t| for nx rows from j0 (j0 % 16 == 0). */
static void mad_block(const knn_index *ix, const float *q, int mq, int64_t j0, int nx, float *C, int ldc) {
    int d = ix->d;
    for (int p = 0; p < (nx + 15) / 16; p++) {
        const float *panel = ix->xt + ((size_t)(j0 / 16) + (size_t)p) * (size_t)d * 16;
        for (int qi = 0; qi < mq; qi++) {
            const float *qq = q + (size_t)qi * d;
            float acc[16] = {0};
            for (int t = 0; t < d; t++) {
                float qt = qq[t];
                for (int l = 0; l < 16; l++) acc[l] += fabsf(qt - panel[t * 16 + l]);
            }
            float *out = C + (size_t)qi * ldc + p * 16;
            for (int l = 0; l < 16; l++) out[l] = -acc[l];
        }
    }
}

typedef struct job {
    const knn_index *ix;
    const float *q;
    int64_t nq;
    const knn_opts *o;
    int64_t *labels;
    float *scores, *values;     /* values may be NULL */
    atomic_long next;           /* next query block to take */
    atomic_int failed;
} job;


typedef struct work {
    float *C, *qbuf, *qn2, *hv;
    int64_t *hi;
    reservoir *res;
} work;

static void work_free(work *w) {
    free(w->C); free(w->qbuf); free(w->qn2); free(w->hv); free(w->hi);
    if (w->res) for (int i = 0; i < block_q; i++) free(w->res[i].c);
    free(w->res);
}

static int work_alloc(work *w, const job *jb) {
    int k = jb->o->k, d = jb->ix->d;
    memset(w, 0, sizeof *w);
    w->C = malloc((size_t)block_q * (size_t)block_x * sizeof *w->C);
    w->qbuf = malloc((size_t)block_q * (size_t)d * sizeof *w->qbuf);
    w->qn2 = malloc((size_t)block_q * sizeof *w->qn2);
    if (!w->C || !w->qbuf || !w->qn2) return -1;
    if (k <= HEAP_MAX_K) {
        w->hv = malloc((size_t)block_q * (size_t)k * sizeof *w->hv);
        w->hi = malloc((size_t)block_q * (size_t)k * sizeof *w->hi);
        return w->hv && w->hi ? 0 : -1;
    }
    if (!(w->res = calloc((size_t)block_q, sizeof *w->res))) return -1;
    for (int i = 0; i < block_q; i++)
        if (!(w->res[i].c = malloc((size_t)k * 2 * sizeof *w->res[i].c))) return -1;
    return 0;
}

/* The metric's score from the selection value v. */
static float final_score(knn_metric m, float v, float qn2, int d) {
    switch (m) {
    case KNN_EUCLIDEAN: { double s = (double)qn2 - v; return (float)sqrt(s > 0 ? s : 0); }
    case KNN_MAD: return -v / (float)d;
    default: return v;
    }
}

/* Writes query q's sorted results into labels/scores. */
static void finish_query(const job *jb, work *w, int qi, int64_t q) {
    int k = jb->o->k;
    int64_t *lab = jb->labels + q * k;
    float *sc = jb->scores + q * k, *val = jb->values ? jb->values + q * k : NULL;
    cand tmp[HEAP_MAX_K];
    cand *c;
    int n;
    if (k <= HEAP_MAX_K) {
        float *hv = w->hv + (size_t)qi * k;
        int64_t *hi = w->hi + (size_t)qi * k;
        for (int i = 0; i < k; i++) { tmp[i].v = hv[i]; tmp[i].i = hi[i]; }
        qsort(tmp, (size_t)k, sizeof *tmp, cand_better_first);
        c = tmp; n = k;
    } else {
        reservoir *r = &w->res[qi];
        reservoir_compact(r, k);
        c = r->c; n = r->n;
    }
    for (int i = 0; i < k; i++) {
        if (i < n && c[i].i >= 0) {
            lab[i] = c[i].i;
            sc[i] = final_score(jb->ix->metric, c[i].v, w->qn2[qi], jb->ix->d);
            if (val) val[i] = c[i].v;
        } else {
            lab[i] = -1;
            sc[i] = NAN;
            if (val) val[i] = NAN;
        }
    }
}

static void prepare_queries(const job *jb, work *w, int64_t q0, int mq) {
    const knn_index *ix = jb->ix;
    int d = ix->d, k = jb->o->k;
    for (int qi = 0; qi < mq; qi++) {
        const float *src = jb->q + (q0 + qi) * d;
        float *dst = w->qbuf + (size_t)qi * d;
        if (ix->metric == KNN_COSINE) unit_row(dst, src, d);
        else memcpy(dst, src, (size_t)d * sizeof *dst);
        w->qn2[qi] = ix->metric == KNN_EUCLIDEAN ? norm2_row(src, d) : 0;
        if (k <= HEAP_MAX_K) {
            for (int i = 0; i < k; i++) { w->hv[(size_t)qi * k + i] = -INFINITY; w->hi[(size_t)qi * k + i] = -1; }
        } else {
            w->res[qi].n = 0;
            w->res[qi].thr = -INFINITY;
        }
    }
}

#if FUSED
/* The fused kernel for small d (cosine, dot, euclidean; any k: the heap or,
 * above HEAP_MAX_K, the reservoir, so a pair's value never depends on k):
 * 4 queries x 32 index rows per step, the dot products accumulated in 8
 * AVX-512 registers from the transposed panels (xt), turned into v and
 * compared with each query's threshold without ever being stored.  The
 * score buffer of the GEMM path, OpenBLAS's zeroing of it and the second
 * pass over it disappear; what remains is d FMAs per 16 pairs. */
static void fused_block(const job *jb, work *w, int64_t q0, int mq, int64_t j0, int nx) {
    const knn_index *ix = jb->ix;
    int d = ix->d, k = jb->o->k, euclid = ix->metric == KNN_EUCLIDEAN;
    int64_t self = jb->o->self_first, jend = j0 + nx;
    const __m512 two = _mm512_set1_ps(2.0f);
    for (int qi = 0; qi < mq; qi += 4) {
        int nqq = mq - qi < 4 ? mq - qi : 4;
        const float *q[4];
        float *hv[4] = {0};
        int64_t *hi[4] = {0}, selfrow[4];
        reservoir *res[4] = {0};
        __m512 thr[4];
        for (int u = 0; u < 4; u++) {
            int qq = qi + (u < nqq ? u : 0);
            q[u] = w->qbuf + (size_t)qq * d;
            if (w->res) res[u] = &w->res[qq];
            else { hv[u] = w->hv + (size_t)qq * k; hi[u] = w->hi + (size_t)qq * k; }
            selfrow[u] = self >= 0 ? self + q0 + qq : -1;
            thr[u] = u < nqq ? _mm512_set1_ps(res[u] ? res[u]->thr : hv[u][0]) : _mm512_set1_ps(INFINITY);
        }
        for (int64_t j = j0; j < jend; j += 32) {
            const float *x0 = ix->xt + (size_t)(j / 16) * (size_t)d * 16, *x1 = x0 + (size_t)d * 16;
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
            __m512 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (int t = 0; t < d; t++) {
                __m512 v0 = _mm512_loadu_ps(x0 + t * 16), v1 = _mm512_loadu_ps(x1 + t * 16), b;
                b = _mm512_set1_ps(q[0][t]); a00 = _mm512_fmadd_ps(b, v0, a00); a01 = _mm512_fmadd_ps(b, v1, a01);
                b = _mm512_set1_ps(q[1][t]); a10 = _mm512_fmadd_ps(b, v0, a10); a11 = _mm512_fmadd_ps(b, v1, a11);
                b = _mm512_set1_ps(q[2][t]); a20 = _mm512_fmadd_ps(b, v0, a20); a21 = _mm512_fmadd_ps(b, v1, a21);
                b = _mm512_set1_ps(q[3][t]); a30 = _mm512_fmadd_ps(b, v0, a30); a31 = _mm512_fmadd_ps(b, v1, a31);
            }
            if (euclid) {
                __m512 n0 = _mm512_loadu_ps(ix->norm2 + j), n1 = _mm512_loadu_ps(ix->norm2 + j + 16);
                a00 = _mm512_fmsub_ps(two, a00, n0); a01 = _mm512_fmsub_ps(two, a01, n1);
                a10 = _mm512_fmsub_ps(two, a10, n0); a11 = _mm512_fmsub_ps(two, a11, n1);
                a20 = _mm512_fmsub_ps(two, a20, n0); a21 = _mm512_fmsub_ps(two, a21, n1);
                a30 = _mm512_fmsub_ps(two, a30, n0); a31 = _mm512_fmsub_ps(two, a31, n1);
            }
            uint32_t m[4];
            m[0] = _mm512_cmp_ps_mask(a00, thr[0], _CMP_GT_OQ) | (uint32_t)_mm512_cmp_ps_mask(a01, thr[0], _CMP_GT_OQ) << 16;
            m[1] = _mm512_cmp_ps_mask(a10, thr[1], _CMP_GT_OQ) | (uint32_t)_mm512_cmp_ps_mask(a11, thr[1], _CMP_GT_OQ) << 16;
            m[2] = _mm512_cmp_ps_mask(a20, thr[2], _CMP_GT_OQ) | (uint32_t)_mm512_cmp_ps_mask(a21, thr[2], _CMP_GT_OQ) << 16;
            m[3] = _mm512_cmp_ps_mask(a30, thr[3], _CMP_GT_OQ) | (uint32_t)_mm512_cmp_ps_mask(a31, thr[3], _CMP_GT_OQ) << 16;
            if (__builtin_expect(!(m[0] | m[1] | m[2] | m[3]), 1)) continue;
            float vals[4][32];
            _mm512_storeu_ps(vals[0], a00); _mm512_storeu_ps(vals[0] + 16, a01);
            _mm512_storeu_ps(vals[1], a10); _mm512_storeu_ps(vals[1] + 16, a11);
            _mm512_storeu_ps(vals[2], a20); _mm512_storeu_ps(vals[2] + 16, a21);
            _mm512_storeu_ps(vals[3], a30); _mm512_storeu_ps(vals[3] + 16, a31);
            for (int u = 0; u < nqq; u++) {
                for (uint32_t mm = m[u]; mm; mm &= mm - 1) {
                    int b = __builtin_ctz(mm);
                    int64_t r = j + b;
                    if (r >= jend || r == selfrow[u]) continue;   /* padding, the query itself */
                    float v = vals[u][b];
                    if (res[u]) {
                        if (!(v > res[u]->thr)) continue;
                        res[u]->c[res[u]->n].v = v;
                        res[u]->c[res[u]->n].i = r;
                        if (++res[u]->n == 2 * k) reservoir_compact(res[u], k);
                    } else if (v > hv[u][0]) {
                        heap_replace_top(hv[u], hi[u], k, v, r);
                    }
                }
                thr[u] = _mm512_set1_ps(res[u] ? res[u]->thr : hv[u][0]);
            }
        }
    }
}
#endif

static void search_block(const job *jb, work *w, int64_t q0, int mq) {
    const knn_index *ix = jb->ix;
    int d = ix->d, k = jb->o->k;
    int64_t self = jb->o->self_first;
    prepare_queries(jb, w, q0, mq);
    for (int64_t j0 = 0; j0 < ix->n; j0 += block_x) {
        int nx = ix->n - j0 < block_x ? (int)(ix->n - j0) : block_x;
#if FUSED
        if (use_fused && ix->xt && ix->metric != KNN_MAD) {
            fused_block(jb, w, q0, mq, j0, nx);
            continue;
        }
#endif
        if (ix->metric == KNN_MAD)
            mad_block(ix, w->qbuf, mq, j0, nx, w->C, block_x);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mq, nx, d, 1.0f, w->qbuf, d,
                        ix->x + j0 * d, d, 0.0f, w->C, block_x);
        if (self >= 0)
            for (int qi = 0; qi < mq; qi++) {
                int64_t r = self + q0 + qi - j0;
                if (r >= 0 && r < nx) w->C[(size_t)qi * block_x + (size_t)r] = -INFINITY;
            }
        const float *xn = ix->norm2 ? ix->norm2 + j0 : NULL;
        for (int qi = 0; qi < mq; qi++) {
            const float *c = w->C + (size_t)qi * block_x;
            if (k <= HEAP_MAX_K)
                scan_heap(c, nx, j0, xn, w->hv + (size_t)qi * k, w->hi + (size_t)qi * k, k);
            else
                scan_reservoir(c, nx, j0, xn, &w->res[qi], k);
        }
    }
    for (int qi = 0; qi < mq; qi++) finish_query(jb, w, qi, q0 + qi);
}

static void *worker(void *arg) {
    job *jb = arg;
    work w;
    if (work_alloc(&w, jb)) {
        atomic_store(&jb->failed, 1);
    } else {
        int64_t nblocks = (jb->nq + block_q - 1) / block_q;
        for (;;) {
            int64_t b = atomic_fetch_add(&jb->next, 1);
            if (b >= nblocks || atomic_load(&jb->failed)) break;
            int64_t q0 = b * block_q;
            int mq = jb->nq - q0 < block_q ? (int)(jb->nq - q0) : block_q;
            search_block(jb, &w, q0, mq);
        }
    }
    work_free(&w);
    return NULL;
}

int knn_values_need_blocks(const knn_index *ix) {
    return !(ix->metric == KNN_MAD || (FUSED && use_fused && ix->xt));
}

int64_t knn_part_rows(knn_metric m, int d) {
    return m == KNN_MAD || (FUSED && use_fused && d <= FUSED_MAX_D) ? 16 : block_x;
}

int knn_search(const knn_index *ix, const float *q, int64_t nq, const knn_opts *o,
               int64_t *labels, float *scores) {
    return knn_search_values(ix, q, nq, o, labels, scores, NULL);
}

int knn_search_values(const knn_index *ix, const float *q, int64_t nq, const knn_opts *o,
                      int64_t *labels, float *scores, float *values) {
    job jb = {.ix = ix, .q = q, .nq = nq, .o = o, .labels = labels, .scores = scores, .values = values};
    atomic_init(&jb.next, 0);
    atomic_init(&jb.failed, 0);
    if (o->k < 1 || nq <= 0) return o->k < 1 ? -1 : 0;
#ifdef OPENBLAS_VERSION
    /* Parallelism is over query blocks; OpenBLAS's own threads inside each
     * small GEMM would oversubscribe the cores ours already use. */
    openblas_set_num_threads(1);
#endif
    int64_t nblocks = (nq + block_q - 1) / block_q;
    int nt = o->threads < 1 ? 1 : o->threads;
    if (nt > nblocks) nt = (int)nblocks;
    pthread_t tid[64];
    if (nt > 64) nt = 64;
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&tid[started], NULL, worker, &jb) != 0) break;
        started++;
    }
    worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    return atomic_load(&jb.failed) ? -1 : 0;
}
