/* pca - principal component projection of an embedding or feature table:
 * covariance by cblas_dsyrk, eigenvectors by LAPACK dsyevd (OpenBLAS), rows
 * projected on the top k components by cblas_dgemm (as sklearn.decomposition.PCA). */
#include "cli.h"
#include "stats.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (in libopenblas): symmetric eigen-decomposition, divide and conquer.
 * Declared here because Debian ships lapacke.h in a separate package. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);

static const char HELP[] =
"Usage: pca [options] [IN.ts | -]\n"
"Projects the rows of the first tensor of a stream (f32/f64, any row shape,\n"
"flattened) on their k principal components: one row per input row, same key.\n"
"\n"
"  -k N           components (default 2; at most the row width)\n"
"  --tensor NAME  read the tensor NAME (default: the first)\n"
"  --name NAME    output tensor name (default pca)\n"
"  -o FILE        output (default stdout; FILE.tmp.* until complete)\n"
CLI_MEM_HELP
"  -h, --help     this help;  -V, --version\n"
"\n"
"As sklearn.decomposition.PCA(n_components=k): rows centred on the column\n"
"means, covariance with divisor n - 1, components = its eigenvectors with the\n"
"largest eigenvalues (LAPACK dsyevd), scores = centred rows x components.\n"
"Sign: each component's largest-magnitude loading is positive (sklearn >= 1.5\n"
"svd_flip on the components; older sklearn may flip a component's sign).\n"
"Output: f32 columns pc1..pck; meta.pca = {rows, explained_variance,\n"
"explained_variance_ratio, mean, components (k rows of d)}.\n"
"\n"
"Memory: the whole table (the projection needs the components first, and a\n"
"pipe cannot be read twice) plus a d x d covariance matrix; a table larger than\n"
"--mem-limit is refused while it is read, before it is held.\n"
"Example:\n"
"  embed -m genre.model songs.ts | pca -k 2 | to-csv > latent.csv\n";

struct opts { long k; const char *tensor, *name, *out, *in; };

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.k = 2, .name = "pca"};
    static const struct option lo[] = {
        {"tensor", 1, 0, 'T'}, {"name", 1, 0, 'n'}, {"output", 1, 0, 'o'},
        {"mem-limit", 1, 0, 'M'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'k': o.k = cli_long("-k", optarg, 1, 1L << 20); break;
        case 'T': o.tensor = optarg; break;
        case 'n': o.name = optarg; break;
        case 'o': o.out = optarg; break;
        case 'M': cli_mem_limit_opt("--mem-limit", optarg); break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o.in = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    return o;
}

enum { BLOCK = 2048 };

/* rows [i0, i0 + m) of the table as doubles into dst (m x d) */
static void rows_f64(const ts_table *t, int64_t i0, int64_t m, double *dst) {
    const int64_t d = t->h.row_elems;
    for (int64_t i = 0; i < m; i++) {
        const char *row = (const char *)t->data + (size_t)(i0 + i) * t->h.row_bytes;
        for (int64_t j = 0; j < d; j++) {
            double v = t->h.dtype == TS_F32 ? ((const float *)row)[j] : ((const double *)row)[j];
            if (!isfinite(v))
                cli_die("row %lld (key '%s'), element %lld: %g; pca needs finite values",
                        (long long)(i0 + i + 1), t->keys[i0 + i], (long long)j, v);
            dst[i * d + j] = v;
        }
    }
}

/* eigenvalues (descending) and eigenvectors (rows of vec, k x d) of the
 * symmetric d x d matrix a (destroyed) */
static void top_eigen(double *a, int d, int k, double *val, double *vec) {
    double *w = malloc((size_t)d * sizeof *w), wq;
    int lwork = -1, liwork = -1, iwq, info = 0;
    if (!w) cli_die("out of memory");
    dsyevd_("V", "U", &d, a, &d, w, &wq, &lwork, &iwq, &liwork, &info);   /* workspace query */
    lwork = (int)wq;
    liwork = iwq;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    if (!work || !iwork) cli_die("out of memory");
    dsyevd_("V", "U", &d, a, &d, w, work, &lwork, iwork, &liwork, &info);
    if (info != 0) cli_die("LAPACK dsyevd failed (info %d)", info);
    /* ascending order, column-major: eigenvector i is a[i*d .. i*d + d) */
    for (int c = 0; c < k; c++) {
        int src = d - 1 - c;
        val[c] = w[src] > 0 ? w[src] : 0;       /* a PSD matrix: round-off below 0 */
        const double *v = a + (size_t)src * (size_t)d;
        int big = 0;
        for (int j = 1; j < d; j++) if (fabs(v[j]) > fabs(v[big])) big = j;
        double s = v[big] < 0 ? -1 : 1;
        for (int j = 0; j < d; j++) vec[(size_t)c * (size_t)d + j] = s * v[j];
    }
    free(w); free(work); free(iwork);
}

static cJSON *json_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateNumber(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) cli_die("out of memory");
    }
    if (!a) cli_die("out of memory");
    return a;
}

static void out_header(ts_header *oh, const struct opts *o, const ts_table *t, int k, int d,
                       const double *mean, const double *val, double total, const double *vec) {
    char **cols = calloc((size_t)k, sizeof *cols);
    if (!cols) cli_die("out of memory");
    for (int c = 0; c < k; c++) {
        if (!(cols[c] = malloc(24))) cli_die("out of memory");
        snprintf(cols[c], 24, "pc%d", c + 1);
    }
    if (ts_header_init(oh, o->name, TS_F32, k, (const char *const *)cols)) cli_die("out of memory");
    for (int c = 0; c < k; c++) free(cols[c]);
    free(cols);
    if (t->h.key_name && !(oh->key_name = strdup(t->h.key_name))) cli_die("out of memory");
    cJSON *m = cJSON_AddObjectToObject(ts_header_meta(oh), "pca");
    if (!m) cli_die("out of memory");
    double *ratio = calloc((size_t)k, sizeof *ratio);
    if (!ratio) cli_die("out of memory");
    for (int c = 0; c < k; c++) ratio[c] = total > 0 ? val[c] / total : NAN;
    cJSON_AddNumberToObject(m, "rows", (double)t->nrows);
    cJSON_AddItemToObject(m, "explained_variance", json_array(val, k));
    cJSON_AddItemToObject(m, "explained_variance_ratio", json_array(ratio, k));
    cJSON_AddItemToObject(m, "mean", json_array(mean, d));
    cJSON *comp = cJSON_AddArrayToObject(m, "components");
    if (!comp) cli_die("out of memory");
    for (int c = 0; c < k; c++) cJSON_AddItemToArray(comp, json_array(vec + (size_t)c * (size_t)d, d));
    free(ratio);
}

int main(int argc, char **argv) {
    cli_init("pca", argc, argv, HELP);
    cli_blas_tune(argv);
    struct opts o = parse_opts(argc, argv);
    ts_reader *r = cli_open_read(o.in);
    const ts_header *h = cli_find_tensor(r, o.tensor);
    if (h->dtype != TS_F32 && h->dtype != TS_F64)
        cli_die("%s: tensor '%s' is %s; pca needs f32 or f64 rows", ts_reader_name(r), h->name, ts_dtype_name(h->dtype));
    if (h->row_elems > 32768) cli_die("%s: rows of %lld elements; pca handles at most 32768", ts_reader_name(r), (long long)h->row_elems);
    ts_table t;
    if (ts_read_table(r, &t)) cli_die("%s", ts_error(r));
    const int d = (int)t.h.row_elems;
    if (o.k > d) cli_usage("-k %ld: the rows have only %d elements", o.k, d);
    if (t.nrows < 2) cli_die("%s: %lld rows; pca needs at least 2", ts_reader_name(r), (long long)t.nrows);
    const int k = (int)o.k;
    /* beside the table: the co-moments and the matrix handed to dsyevd (d x d
     * each) and dsyevd's workspace (1 + 6d + 2d^2 doubles) */
    uint64_t dd = (uint64_t)d * (uint64_t)d;
    cli_mem_need(ts_reader_name(r), "the covariance and its eigen-decomposition beside the table",
                 (uint64_t)t.nrows * (t.h.row_bytes + 2 * sizeof(size_t)) + (4 * dd + 6 * (uint64_t)d) * sizeof(double));

    stats_cov cov;
    double *buf = malloc((size_t)BLOCK * (size_t)d * sizeof *buf), *y = malloc((size_t)BLOCK * (size_t)k * sizeof *y);
    double *a = malloc((size_t)d * (size_t)d * sizeof *a), *val = malloc((size_t)k * sizeof *val);
    double *vec = malloc((size_t)k * (size_t)d * sizeof *vec);
    float *yf = malloc((size_t)BLOCK * (size_t)k * sizeof *yf);
    if (!buf || !y || !a || !val || !vec || !yf || stats_cov_init(&cov, d)) cli_die("out of memory");
    for (int64_t i = 0; i < t.nrows; i += BLOCK) {
        int64_t m = t.nrows - i < BLOCK ? t.nrows - i : BLOCK;
        rows_f64(&t, i, m, buf);
        if (stats_cov_add(&cov, buf, m, d)) cli_die("out of memory");
    }
    stats_cov_matrix(&cov, a);
    double total = 0;
    for (int j = 0; j < d; j++) total += a[(size_t)j * (size_t)d + j];
    top_eigen(a, d, k, val, vec);
    cli_blas_idle();    /* the projection's small gemms run beside the async writer */

    ts_header oh;
    out_header(&oh, &o, &t, k, d, cov.mean, val, total, vec);
    ts_writer *w = cli_open_write(o.out);
    ts_writer_set_async(w);     /* blocks compressed and written while the next are projected */
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    for (int64_t i = 0; i < t.nrows; i += BLOCK) {
        int64_t m = t.nrows - i < BLOCK ? t.nrows - i : BLOCK;
        rows_f64(&t, i, m, buf);
        for (int64_t q = 0; q < m; q++)
            for (int j = 0; j < d; j++) buf[q * d + j] -= cov.mean[j];
        /* y[m,k] = centred[m,d] * vec^T[d,k] */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, k, d, 1.0, buf, d, vec, d, 0.0, y, k);
        for (int64_t q = 0; q < m * k; q++) yf[q] = (float)y[q];
        if (ts_write_rows(w, m, (const char *const *)t.keys + i, yf)) cli_die("%s", ts_werror(w));
    }
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    ts_close_read(r);
    ts_header_free(&oh);
    ts_table_free(&t);
    stats_cov_free(&cov);
    free(buf); free(y); free(a); free(val); free(vec); free(yf);
    return 0;
}
