/* corr.c - unit tests of common/stats: Pearson (blocked merge vs two-pass),
 * average ranks, Spearman, Kendall tau-b (O(n log n) vs the naive O(n^2)
 * pair loop, with many ties) and AUC (vs counting pairs), plus small cases
 * worked out by hand. */
#include "check.h"
#include "stats.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {            /* xorshift64, [0,1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* tau-b by its definition: every pair once */
static double kendall_naive(const double *x, const double *y, int n) {
    double c = 0, d = 0, tx = 0, ty = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double a = x[i] - x[j], b = y[i] - y[j];
            if (a == 0 && b == 0) continue;
            if (a == 0) tx++;
            else if (b == 0) ty++;
            else if ((a > 0) == (b > 0)) c++;
            else d++;
        }
    return (c - d) / sqrt((c + d + tx) * (c + d + ty));
}

/* rank of x[i] = 1 + #(smaller) + (#(equal) - 1) / 2 */
static void rank_naive(const double *x, int n, double *r) {
    for (int i = 0; i < n; i++) {
        double less = 0, eq = 0;
        for (int j = 0; j < n; j++) { less += x[j] < x[i]; eq += x[j] == x[i]; }
        r[i] = 1 + less + (eq - 1) / 2;
    }
}

static void hand_cases(void) {
    /* x = 1..5, y = 2 1 4 3 5: D = 2 of 10 pairs -> tau = 0.6;
     * sum d^2 = 4 -> rho = 1 - 6*4/(5*24) = 0.8 = Pearson here */
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {2, 1, 4, 3, 5}, w[64], rx[5], ry[5];   /* w: 4n */
    int64_t idx[5];
    CHECK(CLOSE(stats_kendall_tau_b(x, y, 5, w), 0.6, 1e-15, 0), "hand: tau 0.6");
    CHECK(CLOSE(stats_pearson(x, y, 5), 0.8, 1e-15, 0), "hand: pearson 0.8");
    stats_rank_average(x, 5, rx, idx);
    stats_rank_average(y, 5, ry, idx);
    CHECK(CLOSE(stats_pearson(rx, ry, 5), 0.8, 1e-15, 0), "hand: spearman 0.8");
    /* x = 1 1 2 3, y = 1 2 2 3: C = 4, D = 0, n0 = 6, n1 = n2 = 1 -> 4/5 */
    double a[4] = {1, 1, 2, 3}, b[4] = {1, 2, 2, 3}, ra[4];
    CHECK(CLOSE(stats_kendall_tau_b(a, b, 4, w), 0.8, 1e-15, 0), "hand: tau-b with ties 0.8");
    stats_rank_average(a, 4, ra, idx);
    CHECK(ra[0] == 1.5 && ra[1] == 1.5 && ra[2] == 3 && ra[3] == 4, "hand: average ranks 1.5 1.5 3 4");
    /* reversed order: tau = -1; constant column: NaN */
    double r[5] = {5, 4, 3, 2, 1}, k[5] = {7, 7, 7, 7, 7};
    CHECK(stats_kendall_tau_b(x, r, 5, w) == -1, "hand: reversed tau -1");
    CHECK(isnan(stats_kendall_tau_b(x, k, 5, w)), "constant column gives NaN tau");
    CHECK(isnan(stats_pearson(x, k, 5)), "constant column gives NaN pearson");
    /* AUC: scores 0.1 0.4 0.35 0.8, labels 0 0 1 1 -> pairs (pos > neg):
     * 0.35 > 0.1; 0.8 > both -> 3 of 4 = 0.75 */
    double s[4] = {0.1, 0.4, 0.35, 0.8}, rk[4];
    int lab[4] = {0, 0, 1, 1};
    int64_t ix[4];
    CHECK(CLOSE(stats_auc(s, lab, 4, ix, rk), 0.75, 1e-15, 0), "hand: AUC 0.75");
}

static void random_cases(void) {
    enum { N = 701, D = 4 };
    static double X[N * D], col[D][N], w[N * 4], r1[N], r2[N], rk[N];
    static int64_t order[N], tmp[N];
    static int64_t idx[N];
    static int lab[N];
    for (int i = 0; i < N; i++) {
        double z = urand();
        X[i * D + 0] = z * 10 - 3;
        X[i * D + 1] = 2 * z + urand();              /* correlated */
        X[i * D + 2] = floor(urand() * 5);           /* many ties */
        X[i * D + 3] = floor((z + urand()) * 3);     /* ties, correlated */
        for (int j = 0; j < D; j++) col[j][i] = X[i * D + j];
    }
    /* Pearson: blocks of uneven sizes merged vs two-pass per pair */
    stats_cov c;
    CHECK(stats_cov_init(&c, D) == 0, "cov init");
    int64_t sizes[] = {1, 7, 300, 2, 391}, at = 0;
    for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b++) { stats_cov_add(&c, X + at * D, sizes[b], D); at += sizes[b]; }
    CHECK(at == N && c.n == N, "blocks cover the table");
    double R[D * D], worst = 0;
    stats_cov_corr(&c, R);
    for (int j = 0; j < D; j++)
        for (int k = 0; k < D; k++) worst = fmax(worst, fabs(R[j * D + k] - (j == k ? 1 : stats_pearson(col[j], col[k], N))));
    CHECK(worst < 1e-12, "blocked pearson matches two-pass (max diff %.2g)", worst);
    CHECK(fabs(R[1]) > 0.5, "correlated columns found (r = %.3f)", R[1]);
    /* covariance vs two-pass */
    double C[D * D], m0 = 0, m1 = 0, s01 = 0;
    stats_cov_matrix(&c, C);
    for (int i = 0; i < N; i++) { m0 += col[0][i]; m1 += col[1][i]; }
    m0 /= N; m1 /= N;
    for (int i = 0; i < N; i++) s01 += (col[0][i] - m0) * (col[1][i] - m1);
    CHECK(CLOSE(C[1], s01 / (N - 1), 1e-12, 1e-12), "sample covariance (n - 1)");
    stats_cov_free(&c);
    /* ranks and Kendall on every pair, ties included */
    int rank_ok = 1;
    double kworst = 0;
    for (int j = 0; j < D; j++) {
        stats_rank_average(col[j], N, r1, idx);
        rank_naive(col[j], N, r2);
        for (int i = 0; i < N; i++) rank_ok &= r1[i] == r2[i];
        for (int k = 0; k < D; k++)
            kworst = fmax(kworst, fabs(stats_kendall_tau_b(col[j], col[k], N, w) - kendall_naive(col[j], col[k], N)));
    }
    CHECK(rank_ok, "average ranks match the naive count");
    /* the presorted variant gives the same numbers */
    double sworst = 0;
    for (int j = 0; j < D; j++) {
        stats_sort_index(col[j], N, order, tmp);
        for (int k = 0; k < D; k++)
            sworst = fmax(sworst, fabs(stats_kendall_tau_b_sorted(col[j], col[k], N, order, w) - kendall_naive(col[j], col[k], N)));
    }
    CHECK(sworst < 1e-12, "kendall with a presorted x matches naive (max diff %.2g)", sworst);
    CHECK(kworst < 1e-12, "kendall tau-b O(n log n) matches naive O(n^2) on all pairs (max diff %.2g)", kworst);
    /* AUC vs counting positive/negative pairs (ties = 1/2) */
    for (int i = 0; i < N; i++) lab[i] = col[3][i] >= 2;
    double wins = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++)
            if (lab[i] && !lab[k]) { pairs++; wins += col[2][i] > col[2][k] ? 1 : col[2][i] == col[2][k] ? 0.5 : 0; }
    CHECK(CLOSE(stats_auc(col[2], lab, N, idx, rk), wins / pairs, 1e-12, 0), "AUC matches pair counting with ties (%.4f)", wins / pairs);
}

int main(void) {
    hand_cases();
    random_cases();
    return CHECK_DONE();
}
