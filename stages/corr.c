/* corr - the correlation matrix (Pearson, Spearman or Kendall tau-b) of chosen
 * columns of a tensor, as pandas.DataFrame.corr computes it. */
#include "cli.h"
#include "outfile.h"
#include "stats.h"

#include <cblas.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: corr [options] [IN.ts | -]\n"
"The correlation matrix of columns of the first tensor of a stream (rows of\n"
"named numeric elements), one row per column, keyed by the column name.\n"
"\n"
"  --method M     pearson | spearman | kendall (default pearson)\n"
"  --cols A,B,C   columns, in this order (default: every column)\n"
"  --tensor NAME  read the tensor NAME (default: the first)\n"
"  --text         a readable table instead of the tensor stream (the\n"
"                 default when stdout is a terminal)\n"
"  --digits N     decimals of --text (default 3)\n"
"  -o FILE        output (default stdout; FILE.tmp.* until complete)\n"
CLI_MEM_HELP
"  -h, --help     this help;  -V, --version\n"
"\n"
"Definitions (pandas.DataFrame.corr, scipy.stats):\n"
"  pearson   sum (x - mx)(y - my) / sqrt(sum (x - mx)^2 sum (y - my)^2),\n"
"            blocks merged with Chan-Golub-LeVeque, each by cblas_dsyrk\n"
"  spearman  pearson of the average ranks (ties share their mean rank;\n"
"            radix-sorted, then one cblas_dsyrk over the centred ranks)\n"
"  kendall   tau-b = (C - D) / sqrt((C + D + Tx)(C + D + Ty)), O(n log n)\n"
"            per pair (Knight 1966, as scipy.stats.kendalltau)\n"
"Rows with a NaN in any chosen column are left out (counted on stderr); a\n"
"constant column correlates as NaN.  Output: tensor 'corr', f64 rows of d\n"
"values, columns and keys = the chosen column names, key name 'column',\n"
"meta.corr = {method, rows, skipped}.\n"
"\n"
"Memory: pearson streams (one block); spearman and kendall hold the chosen\n"
"columns (8 bytes per row and column; kendall twice that plus 32 bytes per\n"
"row), as ranks need every value; each block takes 8 bytes per row and column\n"
"(16 for pearson), in pieces of at most 2^20 rows.  All of it counts against\n"
"--mem-limit.\n"
"Example:\n"
"  csv-clean --cols energy,valence,tempo songs.csv | corr --method kendall --text\n";

enum { M_PEARSON, M_SPEARMAN, M_KENDALL };
static const char *const METHOD_NAMES[] = {"pearson", "spearman", "kendall"};

struct opts {
    int method, text, digits;
    const char *cols, *tensor, *out, *in;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.method = M_PEARSON, .text = -1, .digits = 3};
    static const struct option lo[] = {
        {"method", 1, 0, 'm'}, {"cols", 1, 0, 'c'}, {"tensor", 1, 0, 'T'},
        {"text", 0, 0, 't'}, {"digits", 1, 0, 'd'}, {"output", 1, 0, 'o'},
        {"mem-limit", 1, 0, 'M'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.method = -1;
            for (int i = 0; i < 3; i++) if (!strcmp(optarg, METHOD_NAMES[i])) o.method = i;
            if (o.method < 0) cli_usage("--method: '%s' is not one of pearson, spearman, kendall", optarg);
            break;
        case 'c': o.cols = optarg; break;
        case 'T': o.tensor = optarg; break;
        case 't': o.text = 1; break;
        case 'd': o.digits = (int)cli_long("--digits", optarg, 0, 15); break;
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

static double elem(const ts_header *h, const void *row, int64_t j) {
    switch (h->dtype) {
    case TS_F32: return ((const float *)row)[j];
    case TS_F64: return ((const double *)row)[j];
    case TS_I32: return ((const int32_t *)row)[j];
    case TS_I64: return (double)((const int64_t *)row)[j];
    case TS_U8: return ((const uint8_t *)row)[j];
    default: return NAN;
    }
}

/* the chosen columns: indices into the row and their names */
static int pick_columns(const ts_header *h, const char *list, int64_t **idx, char ***names, const char *src) {
    int n = 0;
    if (!list) {
        if (h->row_elems > 4096) cli_die("%s: tensor '%s' has %lld elements per row; choose columns with --cols",
                                         src, h->name, (long long)h->row_elems);
        n = (int)h->row_elems;
        *idx = malloc((size_t)n * sizeof **idx);
        *names = calloc((size_t)n, sizeof **names);
        if (!*idx || !*names) cli_die("out of memory");
        for (int j = 0; j < n; j++) {
            (*idx)[j] = j;
            char buf[32];
            snprintf(buf, sizeof buf, "c%d", j);
            if (!((*names)[j] = strdup(h->ncols ? h->columns[j] : buf))) cli_die("out of memory");
        }
        return n;
    }
    char *copy = strdup(list);
    if (!copy) cli_die("out of memory");
    for (char *s = copy; *s; s++) n += *s == ',';
    n++;
    *idx = malloc((size_t)n * sizeof **idx);
    *names = calloc((size_t)n, sizeof **names);
    if (!*idx || !*names) cli_die("out of memory");
    int k = 0;
    for (char *s = strtok(copy, ","); s; s = strtok(NULL, ",")) {
        int j = ts_header_column(h, s);
        if (j < 0) cli_die("%s: no column '%s' in tensor '%s' (inspect --header lists the columns)", src, s, h->name);
        (*idx)[k] = j;
        if (!((*names)[k++] = strdup(s))) cli_die("out of memory");
    }
    free(copy);
    if (k < 1) cli_usage("--cols: no column named");
    return k;
}

typedef struct {
    int d;
    const char *src;    /* the input's name, for messages */
    int64_t n, cap, skipped;
    double *cols;       /* d columns of cap values (spearman, kendall) */
    stats_cov cov;      /* pearson */
    double *blk;        /* one block of chosen values, row-major */
    int64_t blk_cap;
} accum;

static void keep_values(accum *a, const double *rows, int64_t m) {
    if (a->n + m > a->cap) {
        int64_t c = a->cap ? a->cap : 4096;
        while (c < a->n + m) c *= 2;
        cli_mem_need(a->src, "keeping the chosen columns for the ranks",
                     ((uint64_t)c + (uint64_t)a->cap) * (uint64_t)a->d * sizeof(double));
        double *p = malloc((size_t)c * (size_t)a->d * sizeof *p);
        if (!p) cli_die("out of memory (%lld rows x %d columns)", (long long)c, a->d);
        for (int j = 0; j < a->d; j++) if (a->n) memcpy(p + (size_t)j * (size_t)c, a->cols + (size_t)j * (size_t)a->cap, (size_t)a->n * sizeof *p);
        free(a->cols);
        a->cols = p;
        a->cap = c;
    }
    for (int64_t i = 0; i < m; i++)
        for (int j = 0; j < a->d; j++) a->cols[(size_t)j * (size_t)a->cap + (size_t)(a->n + i)] = rows[i * a->d + j];
    a->n += m;
}

/* Rows are taken in pieces of at most PIECE rows: the C writer never puts
 * more in one block (TENSOR.md 2.4), so a block it wrote is one piece and is
 * merged as before, while a crafted block of millions of narrow rows does
 * not turn into gigabytes of doubles at once. */
enum { PIECE = 1 << 20 };

static void read_rows(ts_reader *r, const ts_header *h, const int64_t *idx, int method, accum *a) {
    ts_block b;
    int rc;
    while ((rc = ts_read_block(r, &b)) == 1) {
        for (int64_t at = 0; at < b.nrows; at += PIECE) {
            int64_t rows = b.nrows - at < PIECE ? b.nrows - at : PIECE;
            if (rows > a->blk_cap) {
                /* the piece's values as doubles, and for pearson the centred copy */
                uint64_t row = (uint64_t)a->d * sizeof(double) * (method == M_PEARSON ? 2 : 1);
                cli_mem_need(a->src, "a block of this many rows", (uint64_t)rows * row + (uint64_t)a->cap * (uint64_t)a->d * sizeof(double));
                free(a->blk);
                if (!(a->blk = malloc((size_t)rows * (size_t)a->d * sizeof *a->blk))) cli_die("out of memory");
                a->blk_cap = rows;
            }
            int64_t m = 0;
            for (int64_t i = at; i < at + rows; i++) {
                const char *row = (const char *)b.data + (size_t)i * h->row_bytes;
                double *dst = a->blk + m * a->d;
                int nan = 0;
                for (int j = 0; j < a->d; j++) nan |= isnan(dst[j] = elem(h, row, idx[j]));
                if (nan) a->skipped++;
                else m++;
            }
            if (method == M_PEARSON) {
                if (stats_cov_add(&a->cov, a->blk, m, a->d)) cli_die("out of memory");
                a->n += m;
            } else keep_values(a, a->blk, m);
        }
    }
    if (rc < 0) cli_die("%s", ts_error(r));
}

static void rank_corr(accum *a, int method, double *R) {
    const int d = a->d;
    const int64_t n = a->n;
    double *col = a->cols;
    size_t c = (size_t)a->cap;
    if (method == M_SPEARMAN) {
        int64_t *idx = malloc((size_t)n * sizeof *idx + 1);
        double *rk = malloc((size_t)n * sizeof *rk + 1);
        if (!idx || !rk) cli_die("out of memory");
        /* average ranks, centred: their mean is exactly (n + 1) / 2 */
        for (int j = 0; j < d; j++) {
            stats_rank_average(col + j * c, n, rk, idx);
            for (int64_t i = 0; i < n; i++) col[j * c + (size_t)i] = rk[i] - 0.5 * (double)(n + 1);
        }
        free(idx); free(rk);
        /* pearson of the centred ranks: S = R^T R by one cblas_dsyrk over
         * the columns (column-major, leading dimension cap) */
        double *S = malloc((size_t)d * (size_t)d * sizeof *S);
        if (!S) cli_die("out of memory");
        if (c > INT_MAX) cli_die("%lld rows: spearman handles at most %d", (long long)n, INT_MAX);
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, d, (int)n, 1.0, col, (int)c, 0.0, S, d);
        for (int j = 0; j < d; j++)
            for (int k = j; k < d; k++) {
                double den = sqrt(S[j + (size_t)j * d] * S[k + (size_t)k * d]);
                double v = den > 0 ? S[j + (size_t)k * d] / den : NAN;
                if (j == k && !isnan(v)) v = 1;
                R[j * d + k] = R[k * d + j] = v > 1 ? 1 : v < -1 ? -1 : v;
            }
        free(S);
        return;
    }
    void *work = NULL;
    int64_t *order = NULL;      /* kendall: each column's sort order, made once */
    if (method == M_KENDALL) {
        cli_mem_need(a->src, "kendall's sort orders beside the kept columns",
                     (uint64_t)stats_kendall_work_bytes(n) + (uint64_t)n * (uint64_t)d * sizeof *order + (uint64_t)c * (uint64_t)d * sizeof(double));
        work = malloc(stats_kendall_work_bytes(n));
        order = malloc((size_t)n * (size_t)d * sizeof *order);
        if (!work || !order) cli_die("out of memory");
        for (int j = 0; j < d; j++) stats_sort_index(col + j * c, n, order + (size_t)j * (size_t)n, work);
    }
    for (int j = 0; j < d; j++)
        for (int k = j; k < d; k++) {
            double v = method == M_KENDALL
                ? stats_kendall_tau_b_sorted(col + j * c, col + k * c, n, order + (size_t)j * (size_t)n, work)
                : NAN;
            if (j == k && !isnan(v)) v = 1;
            R[j * d + k] = R[k * d + j] = v;
        }
    free(work);
    free(order);
}

static void write_text(const char *path, char **names, int d, const double *R, int digits) {
    FILE *f = outfile_open(path, 0);
    /* columns as wide as the longest name, up to 12 (longer names are cut) */
    int w = digits + 4, nw = 4;
    for (int j = 0; j < d; j++) {
        int len = (int)strlen(names[j]);
        if (len > nw) nw = len;
        if (len > w) w = len < 12 ? len : 12;
    }
    if (w < 6) w = 6;
    fprintf(f, "%-*s", nw, "");
    for (int k = 0; k < d; k++) fprintf(f, " %*.*s", w, w, names[k]);
    putc('\n', f);
    for (int j = 0; j < d; j++) {
        fprintf(f, "%-*s", nw, names[j]);
        for (int k = 0; k < d; k++) fprintf(f, " %*.*f", w, digits, R[j * d + k]);
        putc('\n', f);
    }
    outfile_close(f);
}

static void write_stream(const char *path, char **names, int d, const double *R, int method, int64_t n, int64_t skipped) {
    ts_header oh;
    if (ts_header_init(&oh, "corr", TS_F64, d, (const char *const *)names)) cli_die("out of memory");
    if (!(oh.key_name = strdup("column"))) cli_die("out of memory");
    cJSON *m = cJSON_AddObjectToObject(ts_header_meta(&oh), "corr");
    if (!m || !cJSON_AddStringToObject(m, "method", METHOD_NAMES[method]) ||
        !cJSON_AddNumberToObject(m, "rows", (double)n) || !cJSON_AddNumberToObject(m, "skipped", (double)skipped))
        cli_die("out of memory");
    ts_writer *w = cli_open_write(path);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    for (int j = 0; j < d; j++)
        if (ts_write_row(w, names[j], R + (size_t)j * (size_t)d)) cli_die("%s", ts_werror(w));
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    ts_header_free(&oh);
}

int main(int argc, char **argv) {
    cli_init("corr", argc, argv, HELP);
    cli_blas_tune(argv);
    struct opts o = parse_opts(argc, argv);
    if (o.text < 0) o.text = !o.out && cli_stdout_tty();
    ts_reader *r = cli_open_read(o.in);
    const ts_header *h = cli_find_tensor(r, o.tensor);
    if (h->dtype >= TS_NDTYPES) cli_die("%s: unknown dtype", ts_reader_name(r));
    int64_t *idx;
    char **names;
    int d = pick_columns(h, o.cols, &idx, &names, ts_reader_name(r));
    accum a = {.d = d, .src = ts_reader_name(r)};
    if (o.method == M_PEARSON && stats_cov_init(&a.cov, d)) cli_die("out of memory");
    read_rows(r, h, idx, o.method, &a);
    ts_close_read(r);
    if (a.n < 2) cli_die("%s: %lld complete rows (%lld with NaN left out); a correlation needs at least 2",
                         o.in ? o.in : "<stdin>", (long long)a.n, (long long)a.skipped);
    double *R = malloc((size_t)d * (size_t)d * sizeof *R);
    if (!R) cli_die("out of memory");
    if (o.method == M_PEARSON) stats_cov_corr(&a.cov, R);
    else rank_corr(&a, o.method, R);
    if (a.skipped) cli_warn("%lld rows with NaN left out, %lld used", (long long)a.skipped, (long long)a.n);
    if (o.text) write_text(o.out, names, d, R, o.digits);
    else write_stream(o.out, names, d, R, o.method, a.n, a.skipped);
    for (int j = 0; j < d; j++) free(names[j]);
    free(names); free(idx); free(R); free(a.cols); free(a.blk);
    if (o.method == M_PEARSON) stats_cov_free(&a.cov);
    return 0;
}
