/* knn.h - exact k-nearest-neighbour search over a table of float vectors,
 * the way faiss's IndexFlat does it (utils/distances.cpp): a blocked SGEMM
 * of a query block against index blocks into a cache-sized buffer, then a
 * per-query top-k selection that rejects most candidates with one vector
 * compare against the current k-th best.
 *
 * Metrics and the score each result carries:
 *   cosine     q.x / (|q| |x|), higher is better (a zero vector scores 0)
 *   dot        q.x, higher is better
 *   euclidean  |q - x|, the true distance (not squared), lower is better;
 *              computed as sqrt(max(0, |q|^2 + |x|^2 - 2 q.x)) like faiss
 *   mad        mean over dimensions of |q_i - x_i|, lower is better (no
 *              GEMM form: a vectorised loop over 16-row panels)
 * Ties (equal scores) go to the lower row index, so results are a pure
 * function of the data: the same for any thread count or block size of the
 * caller.
 *
 * Memory: the index (n*d floats, plus n norms or an n*d transposed copy for
 * mad) and, per thread, one QB x XB score buffer and the queries' top-k
 * lists; nothing grows with n*n, so all-pairs over 200k rows is fine. */
#ifndef SONGPIPE_KNN_H
#define SONGPIPE_KNN_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KNN_COSINE, KNN_EUCLIDEAN, KNN_DOT, KNN_MAD, KNN_NMETRICS } knn_metric;

const char *knn_metric_name(knn_metric m);
int knn_metric_parse(const char *s, knn_metric *m);     /* 0 ok, -1 unknown */
int knn_metric_lower_is_better(knn_metric m);

typedef struct {
    knn_metric metric;
    int64_t n;
    int d;
    float *x;           /* n*d row-major copy; rows scaled to unit length for cosine */
    float *norm2;       /* euclidean: |x|^2 per row */
    float *xt;          /* mad: ceil(n/16) panels, each [d][16] (rows transposed) */
    int borrowed;       /* the arrays belong to someone else (knn_index_wrap) */
} knn_index;

/* Copies x (n rows of d floats).  0 ok, -1 out of memory. */
int knn_index_build(knn_index *ix, const float *x, int64_t n, int d, knn_metric m);
void knn_index_free(knn_index *ix);

/* The floats of each array knn_index_build makes for n rows of d under m
 * (norm2, xt: 0 when the metric and build do not use them).  -1 when n*d
 * overflows. */
int knn_index_layout(int64_t n, int d, knn_metric m, size_t *x, size_t *norm2, size_t *xt);
/* An index over arrays laid out as knn_index_build lays them out (a
 * read-only mapping of common/knncache.h); knn_index_free leaves them. */
void knn_index_wrap(knn_index *ix, int64_t n, int d, knn_metric m,
                    const float *x, const float *norm2, const float *xt);

typedef struct {
    int k;              /* results per query (>= 1) */
    int threads;        /* worker threads (>= 1); results do not depend on it */
    int64_t self_first; /* >= 0: query i is index row self_first + i and is
                         * never its own neighbour (all-pairs); -1: none */
} knn_opts;

/* Searches nq queries (row-major nq*d, raw: the engine normalises them for
 * cosine).  Writes, per query, k row indices into labels and k scores into
 * scores (each nq*k, best first); when fewer than k rows qualify the rest
 * are labels -1, scores NaN.  0 ok, -1 out of memory or no thread. */
int knn_search(const knn_index *ix, const float *q, int64_t nq, const knn_opts *o,
               int64_t *labels, float *scores);

/* knn_search, and also each result's selection value (values, nq*k, may be
 * NULL): the "higher is better" number the results are ordered by, ties to
 * the lower row (q.x; 2 q.x - |x|^2 for euclidean; -sum |q_i - x_i| for
 * mad; NaN where the label is -1).  Two metric scores can be equal where
 * the values differ, so whoever merges result lists of parts of an index
 * (knn --index-shard, merge) orders by the value, not the score. */
int knn_search_values(const knn_index *ix, const float *q, int64_t nq, const knn_opts *o,
                      int64_t *labels, float *scores, float *values);

/* Where a (query, row) value comes from.  The fused kernel (AVX-512, d <=
 * 64, not mad) and mad compute each value alone (a sequential sum over the
 * dimensions), the same in any search.  The BLAS path computes a block of
 * queries against a block of rows in one SGEMM whose summation order
 * depends on the shapes (OpenBLAS takes another kernel for one query), so
 * a value is reproduced only by the same query block against the same
 * index block.  knn_values_need_blocks: 1 for the BLAS path.
 * knn_part_rows: a part of the index that starts at a multiple of this many
 * rows (and ends at one, or at the end) computes every value as the whole
 * index does: 16 for the exact-alone paths, the index block otherwise. */
int knn_values_need_blocks(const knn_index *ix);
int64_t knn_part_rows(knn_metric m, int d);

/* Block sizes (rows); tests shrink them to exercise block edges.  Both are
 * rounded to multiples of 16. */
void knn_set_blocks(int query_rows, int index_rows);
/* 1 (default): the fused register kernel where it applies (AVX-512 builds,
 * d <= 64, k <= 100, not mad); 0: always GEMM + selection. */
void knn_set_fused(int on);

#endif
