/* inspect - print what a tensor stream holds: each tensor's header and a
 * summary per column (rows, min, mean, max, NaN count), in one pass with
 * double accumulators, so memory is bounded by one block. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: inspect [options] [IN.ts | -]\n"
"Print the header of every tensor of a stream (name, dtype, shape, key name,\n"
"column names, metadata) and a summary of each column: rows, min, mean, max\n"
"and NaN count (NaNs are left out of min, mean and max).  Reads the stream\n"
"once, one block at a time; checks it to the end (exit 1 when it is corrupt\n"
"or truncated, after printing what was read).\n"
"\n"
"  --header      headers only (the stream is still read to the end and checked)\n"
"  --all         one summary line per element, however wide the rows\n"
"  --first N     rows of more than 64 elements: summarise all elements together\n"
"                and the first N columns (default 8)\n"
"  -h, --help    this help;  -V, --version\n"
"\n"
"Output: '# tensor' lines, indented 'field value' lines, then one line per\n"
"column: name rows min mean max nan (whitespace-separated, for sort -k).\n"
"Columns without names are c0, c1, ... in row-major order.\n";

struct opts { int header_only, all; long first; const char *input; };

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {0, 0, 8, NULL};
    static const struct option lo[] = {
        {"header", no_argument, 0, 'H'}, {"all", no_argument, 0, 'a'},
        {"first", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        switch (c) {
        case 'H': o.header_only = 1; break;
        case 'a': o.all = 1; break;
        case 'f': o.first = cli_long("--first", optarg, 0, 1L << 30); break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    return o;
}

/* ---- headers ---- */
static void print_meta(const cJSON *meta) {
    char *s = cJSON_Print(meta);
    if (!s) cli_die("out of memory");
    fputs("  meta    ", stdout);
    for (const char *p = s; *p; p++) {
        if (*p == '\t' && p > s && p[-1] == ':') putchar(' ');
        else if (*p == '\t') fputs("  ", stdout);
        else if (*p == '\n') fputs("\n          ", stdout);
        else putchar(*p);
    }
    putchar('\n');
    free(s);
}

static void print_header(int n, const ts_header *h, int all) {
    printf("# tensor %d: %s\n", n, h->name);
    printf("  dtype   %s\n", ts_dtype_name(h->dtype));
    printf("  shape   [");
    for (int i = 0; i < h->ndim; i++) printf("%s%" PRId64, i ? ", " : "", h->shape[i]);
    printf("]  (%" PRId64 " elements, %zu bytes per row)\n", h->row_elems, h->row_bytes);
    printf("  key     %s\n", h->key_name ? h->key_name : "(unnamed)");
    if (h->ncols) {
        int show = all || h->ncols <= 64 ? h->ncols : 16;
        printf("  columns ");
        for (int i = 0; i < show; i++) printf("%s%s", i ? "," : "", h->columns[i]);
        if (show < h->ncols) printf(",... (%d in all; --all lists them)", h->ncols);
        putchar('\n');
    } else
        printf("  columns (unnamed)\n");
    if (h->meta) print_meta(h->meta);
}

/* ---- statistics ---- */
typedef struct {
    int64_t n, nan;
    double sum, min, max;        /* float dtypes */
    int64_t imin, imax;          /* integer dtypes: exact beyond 2^53 */
} acc;

static void acc_init(acc *a) {
    memset(a, 0, sizeof *a);
    a->min = INFINITY; a->max = -INFINITY;
    a->imin = INT64_MAX; a->imax = INT64_MIN;
}

/* Adds the first ncol elements of each of nrows rows (row_elems apart) to
 * cols[0..ncol), row by row so that memory is read in order. */
#define ADD_FLOAT(T) do { \
    for (int64_t i = 0; i < nrows; i++) { const T *x = (const T *)p + i * re; \
        for (int64_t j = 0; j < ncol; j++) { double v = x[j]; acc *a = &cols[j]; \
            if (v != v) { a->nan++; continue; } \
            a->sum += v; if (v < a->min) a->min = v; if (v > a->max) a->max = v; } } \
    } while (0)
#define ADD_INT(T) do { \
    for (int64_t i = 0; i < nrows; i++) { const T *x = (const T *)p + i * re; \
        for (int64_t j = 0; j < ncol; j++) { int64_t v = x[j]; acc *a = &cols[j]; \
            a->sum += (double)v; if (v < a->imin) a->imin = v; if (v > a->imax) a->imax = v; } } \
    } while (0)

static void acc_rows(acc *cols, int64_t ncol, ts_dtype t, const void *p, int64_t nrows, int64_t re) {
    switch (t) {
    case TS_F32: ADD_FLOAT(float); break;
    case TS_F64: ADD_FLOAT(double); break;
    case TS_I32: ADD_INT(int32_t); break;
    case TS_I64: ADD_INT(int64_t); break;
    case TS_U8: ADD_INT(uint8_t); break;
    default: break;
    }
    for (int64_t j = 0; j < ncol; j++) cols[j].n += nrows;
}

static void print_acc(const char *name, const acc *a, ts_dtype t, int64_t rows) {
    int64_t good = a->n - a->nan;
    printf("  %-24s %12" PRId64, name, rows);
    if (!good) printf(" %14s %14s %14s", "-", "-", "-");
    else if (t == TS_F32 || t == TS_F64)
        printf(" %14.7g %14.7g %14.7g", a->min, a->sum / (double)good, a->max);
    else
        printf(" %14" PRId64 " %14.7g %14" PRId64, a->imin, a->sum / (double)good, a->imax);
    printf(" %8" PRId64 "\n", a->nan);
}

typedef struct {
    const ts_header *h;
    int64_t ncol;                /* columns with their own line */
    int overall;                 /* one line over all elements too */
    acc *cols, all;
    int64_t rows, blocks;
} summary;

static void summary_init(summary *s, const ts_header *h, const struct opts *o) {
    memset(s, 0, sizeof *s);
    s->h = h;
    s->overall = !o->all && h->row_elems > 64;
    s->ncol = s->overall ? (o->first < h->row_elems ? o->first : h->row_elems) : h->row_elems;
    s->cols = malloc((size_t)(s->ncol ? s->ncol : 1) * sizeof *s->cols);
    if (!s->cols) cli_die("out of memory for %" PRId64 " column summaries", s->ncol);
    for (int64_t j = 0; j < s->ncol; j++) acc_init(&s->cols[j]);
    acc_init(&s->all);
}

static void summary_block(summary *s, const ts_block *b) {
    int64_t re = s->h->row_elems;
    acc_rows(s->cols, s->ncol, s->h->dtype, b->data, b->nrows, re);
    /* every element of the block as one long row */
    if (s->overall) acc_rows(&s->all, 1, s->h->dtype, b->data, b->nrows * re, 1);
    s->rows += b->nrows;
    s->blocks++;
}

static void summary_print(summary *s) {
    const ts_header *h = s->h;
    printf("  rows    %" PRId64 " (%" PRId64 " blocks)\n", s->rows, s->blocks);
    if (!h->row_elems) return;
    printf("  %-24s %12s %14s %14s %14s %8s\n", "column", "rows", "min", "mean", "max", "nan");
    char name[64];
    if (s->overall) {
        snprintf(name, sizeof name, "(all)");
        print_acc(name, &s->all, h->dtype, s->rows * h->row_elems);
    }
    for (int64_t j = 0; j < s->ncol; j++) {
        snprintf(name, sizeof name, "c%" PRId64, j);
        print_acc(h->ncols ? h->columns[j] : name, &s->cols[j], h->dtype, s->rows);
    }
    if (s->ncol < h->row_elems)
        printf("  ... %" PRId64 " more columns (--all shows each, --first N more of them)\n", h->row_elems - s->ncol);
}

int main(int argc, char **argv) {
    cli_init("inspect", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    ts_reader *in = cli_open_read(o.input);
    const ts_header *h;
    ts_block b;
    int rc, n = 0;
    while ((rc = ts_next_tensor(in, &h)) == 1) {
        print_header(++n, h, o.all);
        if (o.header_only) continue;
        summary s;
        summary_init(&s, h, &o);
        while ((rc = ts_read_block(in, &b)) == 1) summary_block(&s, &b);
        if (rc == 0) summary_print(&s);
        free(s.cols);
        if (rc < 0) break;
    }
    if (rc == 0 && n == 0) printf("# no tensor in the stream\n");
    if (fflush(stdout) != 0 || ferror(stdout)) cli_die("<stdout>: write failed: %s", strerror(errno ? errno : EIO));
    if (rc < 0) cli_die("%s", ts_error(in));
    ts_close_read(in);
    return 0;
}
