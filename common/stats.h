/* stats.h - descriptive statistics over columns of doubles: a streaming
 * covariance accumulator (Pearson), average ranks (Spearman), Kendall's
 * tau-b in O(n log n) (Knight 1966), and the ROC AUC of a score (Mann-
 * Whitney U).  Definitions follow scipy.stats / pandas.DataFrame.corr. */
#ifndef SONGPIPE_STATS_H
#define SONGPIPE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Means and co-moments of d columns, fed a block of rows at a time.
 * Blocks are merged with the pairwise update of Chan, Golub & LeVeque
 * (1979): M = Ma + Mb + delta delta^T * na nb / (na + nb); each block's
 * own co-moment is one cblas_dsyrk over its centred rows. */
typedef struct {
    int d;
    int64_t n;
    double *mean;       /* d */
    double *m2;         /* d x d co-moments, upper triangle valid (row-major) */
    double *work;       /* block scratch: centred rows, block co-moment */
    int64_t work_rows;
} stats_cov;

/* 0 ok, -1 out of memory.  Scratch grows with the largest block fed. */
int stats_cov_init(stats_cov *c, int d);
void stats_cov_free(stats_cov *c);
/* rows: n x d, row-major with leading dimension ld (>= d).  0 or -1 (OOM) */
int stats_cov_add(stats_cov *c, const double *rows, int64_t n, int64_t ld);
/* Pearson correlation matrix (d x d, full, diagonal 1; NaN where a column
 * is constant).  Needs n >= 2 (else every entry is NaN). */
void stats_cov_corr(const stats_cov *c, double *r);
/* Sample covariance (divisor n - 1), full d x d. */
void stats_cov_matrix(const stats_cov *c, double *cov);

/* Average ranks, 1-based, ties share the mean of their positions (as
 * scipy.stats.rankdata(method='average')), by an LSD radix sort of the
 * doubles' order-preserving bit patterns (O(n); 32 bytes per value of heap
 * scratch, a merge sort when that is not available).  idx: n int64, left
 * holding the sort order.  NaN must not occur. */
void stats_rank_average(const double *x, int64_t n, double *rank, int64_t *idx);
/* idx = 0..n-1 sorted by x, stable (a merge sort); tmp: n int64 scratch */
void stats_sort_index(const double *x, int64_t n, int64_t *idx, int64_t *tmp);

/* Pearson correlation of two columns (two passes, double). */
double stats_pearson(const double *x, const double *y, int64_t n);

/* Kendall's tau-b (scipy.stats.kendalltau, variant 'b'):
 *   tau_b = (n0 - n1 - n2 + n3 - 2 D) / sqrt((n0 - n1)(n0 - n2))
 * n0 = n(n-1)/2, n1/n2 = pairs tied in x/y, n3 = pairs tied in both,
 * D = discordant pairs, counted as the inversions of y after sorting by
 * (x, y) with a merge sort: O(n log n) (Knight 1966).  work:
 * stats_kendall_work_bytes(n).  NaN when x or y is constant or n < 2.
 * _sorted takes xorder = stats_sort_index(x), so a matrix sorts each
 * column once instead of once per pair. */
size_t stats_kendall_work_bytes(int64_t n);
double stats_kendall_tau_b(const double *x, const double *y, int64_t n, void *work);
double stats_kendall_tau_b_sorted(const double *x, const double *y, int64_t n, const int64_t *xorder, void *work);

/* ROC AUC of score for label (nonzero = positive) = P(score_pos >
 * score_neg) + P(tie)/2, from the Mann-Whitney U over average ranks.
 * idx, rank: n scratch each.  NaN without both classes. */
double stats_auc(const double *score, const int *label, int64_t n, int64_t *idx, double *rank);

#endif
