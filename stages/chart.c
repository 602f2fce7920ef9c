/* chart - render a tensor as a PNG or SVG chart with gnuplot: a heat map with
 * the values in the cells (a correlation matrix), lines over a numeric x
 * (features by year, training curves), grouped bars (features per genre or
 * artist), or a scatter coloured by a catalogue column (a PCA latent space). */
#include "catalog.h"
#include "cli.h"
#include "gplot.h"
#include "outfile.h"
#include "outset.h"
#include "rng.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
"Usage: chart --kind K -o OUT.png|OUT.svg [options] [IN.ts | -]\n"
"Draws the first tensor of a stream (named numeric columns, one row per key)\n"
"with gnuplot; the file format follows the extension of -o (or --format).\n"
"\n"
"  --kind K          heatmap | lines | bars | scatter (required)\n"
"     heatmap        rows x columns as coloured cells with the values written\n"
"                    in them (e.g. the output of corr)\n"
"     lines          one line per column over x = the key read as a number,\n"
"                    or --x COL; rows sorted by x\n"
"     bars           grouped bars: one group per row (key), one bar per column\n"
"     scatter        --cols X,Y as points, coloured by --color-by\n"
"  --cols A,B        columns to draw, in this order (default: all; scatter:\n"
"                    the first two)\n"
"  --rows 'A;B;C'    heatmap, bars: the rows (keys) to draw, in this order\n"
"                    (default: all, in stream order)\n"
"  --x COL           lines: the x column (default: the key as a number)\n"
"  --y2 A,B          lines: columns drawn against a right-hand axis\n"
"  --minmax          lines, bars: scale each column to [0, 1] over the rows\n"
"                    drawn: (v - min) / (max - min)\n"
"  --color-by COL    scatter: colour by this column of --catalog\n"
"  --catalog FILE    catalogue TSV (csv-clean --catalog; first column = key)\n"
"  --max-groups N    scatter: the N largest colour groups, the rest 'other'\n"
"                    (default 10)\n"
"  --max-points N    scatter: a seeded sample of at most N points (default\n"
"                    20000; 0 = all)\n"
"  --seed N          the sample's seed (default 1)\n"
"  --digits N        heatmap: decimals in the cells (default 2)\n"
"  --range LO,HI     heatmap colour range (default -1,1 when every value lies\n"
"                    in it, else the data's range)\n"
"  --title T, --xlabel T, --ylabel T, --y2label T   texts (default none)\n"
"  --size W,H        pixels (default 900,600)\n"
"  --format F        png | svg (default: from the extension of -o)\n"
"  --script FILE     write the gnuplot script (data inline) to FILE ('-' =\n"
"                    stdout) instead of running gnuplot\n"
"  -o FILE           the chart (required); FILE.tmp.* until gnuplot succeeds\n"
"  -h, --help        this help;  -V, --version\n"
"\n"
"Runs $GNUPLOT (default gnuplot; Debian package gnuplot-nox), pngcairo or svg\n"
"terminal.  NaN values are left out of lines and bars.  Memory: the whole\n"
"tensor (charts are small), scatter: the sample.\n"
"Example:\n"
"  corr --method spearman songs.ts | chart --kind heatmap -o corr.png\n";

enum { K_HEATMAP, K_LINES, K_BARS, K_SCATTER };

struct opts {
    int kind, minmax, digits, w, h, have_range;
    long max_groups, max_points, seed;
    double lo, hi;
    const char *cols, *rows, *x, *y2, *color_by, *catalog, *title, *xlabel, *ylabel, *y2label;
    const char *format, *script, *out, *in;
};

static void parse_pair(const char *opt, const char *s, double *a, double *b) {
    char *e;
    errno = 0;
    *a = strtod(s, &e);
    if (e == s || *e != ',') cli_usage("%s: '%s' is not two numbers A,B", opt, s);
    const char *t = e + 1;
    *b = strtod(t, &e);
    if (e == t || *e || errno) cli_usage("%s: '%s' is not two numbers A,B", opt, s);
}

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.kind = -1, .digits = 2, .w = 900, .h = 600, .max_groups = 10, .max_points = 20000, .seed = 1};
    static const struct option lo[] = {
        {"kind", 1, 0, 'k'}, {"cols", 1, 0, 'c'}, {"rows", 1, 0, 'r'}, {"x", 1, 0, 'x'},
        {"y2", 1, 0, 'Y'}, {"minmax", 0, 0, 'm'}, {"color-by", 1, 0, 'C'}, {"catalog", 1, 0, 'L'},
        {"max-groups", 1, 0, 'G'}, {"max-points", 1, 0, 'P'}, {"seed", 1, 0, 'S'},
        {"digits", 1, 0, 'd'}, {"range", 1, 0, 'R'}, {"title", 1, 0, 't'}, {"xlabel", 1, 0, 'X'},
        {"ylabel", 1, 0, 'y'}, {"y2label", 1, 0, '2'}, {"size", 1, 0, 'z'}, {"format", 1, 0, 'f'},
        {"script", 1, 0, 's'}, {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    static const char *const kinds[] = {"heatmap", "lines", "bars", "scatter"};
    int c;
    double a, b;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'k':
            for (int i = 0; i < 4; i++) if (!strcmp(optarg, kinds[i])) o.kind = i;
            if (o.kind < 0) cli_usage("--kind: '%s' is not one of heatmap, lines, bars, scatter", optarg);
            break;
        case 'c': o.cols = optarg; break;
        case 'r': o.rows = optarg; break;
        case 'x': o.x = optarg; break;
        case 'Y': o.y2 = optarg; break;
        case 'm': o.minmax = 1; break;
        case 'C': o.color_by = optarg; break;
        case 'L': o.catalog = optarg; break;
        case 'G': o.max_groups = cli_long("--max-groups", optarg, 1, 64); break;
        case 'P': o.max_points = cli_long("--max-points", optarg, 0, 1L << 30); break;
        case 'S': o.seed = cli_long("--seed", optarg, 0, 1L << 62); break;
        case 'd': o.digits = (int)cli_long("--digits", optarg, 0, 6); break;
        case 'R':
            parse_pair("--range", optarg, &o.lo, &o.hi);
            if (!(o.lo < o.hi)) cli_usage("--range: LO must be below HI");
            o.have_range = 1;
            break;
        case 't': o.title = optarg; break;
        case 'X': o.xlabel = optarg; break;
        case 'y': o.ylabel = optarg; break;
        case '2': o.y2label = optarg; break;
        case 'z':
            parse_pair("--size", optarg, &a, &b);
            if (a < 64 || b < 64 || a > 10000 || b > 10000 || a != floor(a) || b != floor(b))
                cli_usage("--size: '%s' must be two whole numbers from 64 to 10000", optarg);
            o.w = (int)a; o.h = (int)b;
            break;
        case 'f':
            if (strcmp(optarg, "png") && strcmp(optarg, "svg")) cli_usage("--format: '%s' is not png or svg", optarg);
            o.format = optarg;
            break;
        case 's': o.script = optarg; break;
        case 'o': o.out = optarg; break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o.in = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    if (o.kind < 0) cli_usage("--kind is required (heatmap, lines, bars or scatter)");
    if (!o.out) cli_usage("-o OUT.png or -o OUT.svg is required");
    if (!o.format) {
        const char *dot = strrchr(o.out, '.');
        if (dot && !strcasecmp(dot, ".svg")) o.format = "svg";
        else if (dot && !strcasecmp(dot, ".png")) o.format = "png";
        else cli_usage("-o %s: name it .png or .svg, or give --format", o.out);
    }
    if (o.kind == K_SCATTER && !!o.color_by != !!o.catalog) cli_usage("--color-by and --catalog go together");
    return o;
}

/* ---- the data: a loaded table and the chosen columns and rows ---- */
typedef struct {
    ts_table t;
    int ncols;
    int64_t *col;           /* element index of each chosen column */
    const char **name;      /* its name */
    int64_t nrows;
    int64_t *row;           /* chosen rows */
} chart_data;

static double cell(const chart_data *d, int64_t row, int64_t elem) {
    const char *p = (const char *)d->t.data + (size_t)row * d->t.h.row_bytes;
    switch (d->t.h.dtype) {
    case TS_F32: return ((const float *)p)[elem];
    case TS_F64: return ((const double *)p)[elem];
    case TS_I32: return ((const int32_t *)p)[elem];
    case TS_I64: return (double)((const int64_t *)p)[elem];
    default: return ((const uint8_t *)p)[elem];
    }
}

static int64_t column_index(const ts_header *h, const char *name) {
    int j = ts_header_column(h, name);
    if (j < 0) cli_die("no column '%s' in tensor '%s' (inspect --header lists the columns)", name, h->name);
    return j;
}

/* splits a copy of s at sep; returns the count, fields in *out (free(*out[0]) and *out) */
static int split_list(const char *s, char sep, char ***out) {
    char *copy = strdup(s);
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == sep;
    char **f = malloc((size_t)n * sizeof *f);
    if (!copy || !f) cli_die("out of memory");
    int k = 0;
    for (char *p = copy;; ) {
        char *e = strchr(p, sep);
        if (e) *e = 0;
        while (*p == ' ') p++;
        size_t len = strlen(p);
        while (len && p[len - 1] == ' ') p[--len] = 0;
        f[k++] = p;
        if (!e) break;
        p = e + 1;
    }
    *out = f;
    return k;
}

static void choose_columns(chart_data *d, const struct opts *o) {
    const ts_header *h = &d->t.h;
    if (o->cols) {
        char **f;
        d->ncols = split_list(o->cols, ',', &f);
        d->col = malloc((size_t)d->ncols * sizeof *d->col);
        d->name = malloc((size_t)d->ncols * sizeof *d->name);
        if (!d->col || !d->name) cli_die("out of memory");
        for (int j = 0; j < d->ncols; j++) {
            d->col[j] = column_index(h, f[j]);
            d->name[j] = h->columns[d->col[j]];
        }
        free(f[0]); free(f);
        return;
    }
    if (!h->ncols) cli_die("tensor '%s' has no column names; chart needs named columns", h->name);
    int skip_x = o->x ? (int)column_index(h, o->x) : -1;
    d->col = malloc((size_t)h->ncols * sizeof *d->col);
    d->name = malloc((size_t)h->ncols * sizeof *d->name);
    if (!d->col || !d->name) cli_die("out of memory");
    for (int j = 0; j < h->ncols; j++)
        if (j != skip_x) { d->col[d->ncols] = j; d->name[d->ncols++] = h->columns[j]; }
    if (o->kind == K_SCATTER && d->ncols > 2) d->ncols = 2;
}

static void choose_rows(chart_data *d, const struct opts *o) {
    d->row = malloc((size_t)(d->t.nrows ? d->t.nrows : 1) * sizeof *d->row);
    if (!d->row) cli_die("out of memory");
    if (!o->rows) {
        for (int64_t i = 0; i < d->t.nrows; i++) d->row[i] = i;
        d->nrows = d->t.nrows;
        return;
    }
    strmap m;
    strmap_init(&m);
    for (int64_t i = 0; i < d->t.nrows; i++) if (strmap_put(&m, d->t.keys[i], i) == -2) cli_die("out of memory");
    char **f;
    int n = split_list(o->rows, ';', &f);
    for (int i = 0; i < n; i++) {
        int64_t r = strmap_get(&m, f[i]);
        if (r < 0) cli_die("--rows: no row with key '%s' in tensor '%s'", f[i], d->t.h.name);
        if (d->nrows < d->t.nrows) d->row[d->nrows++] = r;
    }
    free(f[0]); free(f);
    strmap_free(&m);
}

/* per chosen column: min and max over the chosen rows (NaN skipped) */
static void column_range(const chart_data *d, int j, double *lo, double *hi) {
    *lo = INFINITY; *hi = -INFINITY;
    for (int64_t i = 0; i < d->nrows; i++) {
        double v = cell(d, d->row[i], d->col[j]);
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
}

static double scaled(double v, double lo, double hi) { return hi > lo ? (v - lo) / (hi - lo) : 0; }

static void put_texts(FILE *f, const struct opts *o) {
    const char *what[] = {"title", "xlabel", "ylabel", "y2label"};
    const char *text[] = {o->title, o->xlabel, o->ylabel, o->y2label};
    for (int i = 0; i < 4; i++)
        if (text[i]) { fprintf(f, "set %s ", what[i]); gp_put_string(f, text[i]); putc('\n', f); }
}

static void heatmap(FILE *f, const chart_data *d, const struct opts *o) {
    double lo = INFINITY, hi = -INFINITY;
    for (int j = 0; j < d->ncols; j++) { double a, b; column_range(d, j, &a, &b); lo = fmin(lo, a); hi = fmax(hi, b); }
    if (o->have_range) { lo = o->lo; hi = o->hi; }
    else if (lo >= -1 && hi <= 1) { lo = -1; hi = 1; }
    else if (!(lo < hi)) { lo -= 1; hi += 1; }
    fputs("$m << EOD\n\"\"", f);
    for (int j = 0; j < d->ncols; j++) { putc(' ', f); gp_put_field(f, d->name[j]); }
    putc('\n', f);
    for (int64_t i = 0; i < d->nrows; i++) {
        gp_put_field(f, d->t.keys[d->row[i]]);
        for (int j = 0; j < d->ncols; j++) { putc(' ', f); gp_put_number(f, cell(d, d->row[i], d->col[j])); }
        putc('\n', f);
    }
    fputs("EOD\n", f);
    /* blue - white - red (Moreland's cool-warm end points) */
    fprintf(f, "set palette defined (0 '#3b4cc0', 0.5 '#f2f2f2', 1 '#b40426')\n"
               "set cbrange [%.9g:%.9g]\nset xrange [-0.5:%g]\nset yrange [%g:-0.5]\n"
               "set xtics rotate by 35 right scale 0\nset ytics scale 0\nunset key\nset tics front\n"
               "set lmargin at screen 0.20\nset bmargin at screen 0.22\n",
            lo, hi, d->ncols - 0.5, d->nrows - 0.5);
    double dark = 0.6 * (hi - lo) / 2;      /* white text on the strong colours */
    double mid = (lo + hi) / 2;
    fprintf(f, "fmt(v) = v != v ? '' : sprintf('%%.%df', abs(v) < 0.5 * 10.0**-%d ? 0 : v)\n", o->digits, o->digits);
    fprintf(f, "plot $m matrix rowheaders columnheaders using 1:2:3 with image, \\\n"
               "  $m matrix rowheaders columnheaders using 1:2:(abs($3 - %.9g) > %.9g ? fmt($3) : '') with labels textcolor rgb '#ffffff' font ',%d', \\\n"
               "  $m matrix rowheaders columnheaders using 1:2:(abs($3 - %.9g) > %.9g ? '' : fmt($3)) with labels textcolor rgb '#202020' font ',%d'\n",
            mid, dark, d->ncols > 14 ? 7 : 9, mid, dark, d->ncols > 14 ? 7 : 9);
}

typedef struct { double x; int64_t row; } xrow;
static int cmp_x(const void *a, const void *b) {
    const xrow *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x ? 1 : (p->row > q->row) - (p->row < q->row);
}

static void lines(FILE *f, const chart_data *d, const struct opts *o) {
    int64_t xcol = o->x ? column_index(&d->t.h, o->x) : -1;
    xrow *xr = malloc((size_t)(d->nrows ? d->nrows : 1) * sizeof *xr);
    if (!xr) cli_die("out of memory");
    for (int64_t i = 0; i < d->nrows; i++) {
        int64_t r = d->row[i];
        if (xcol >= 0) xr[i].x = cell(d, r, xcol);
        else {
            char *e;
            xr[i].x = strtod(d->t.keys[r], &e);
            if (e == d->t.keys[r] || *e)
                cli_die("row %lld: key '%s' is not a number; give the x column with --x", (long long)r + 1, d->t.keys[r]);
        }
        xr[i].row = r;
    }
    qsort(xr, (size_t)d->nrows, sizeof *xr, cmp_x);
    char **y2 = NULL;
    int ny2 = o->y2 ? split_list(o->y2, ',', &y2) : 0;
    double *lo = malloc(sizeof(double) * (size_t)d->ncols), *hi = malloc(sizeof(double) * (size_t)d->ncols);
    if (!lo || !hi) cli_die("out of memory");
    for (int j = 0; j < d->ncols; j++) column_range(d, j, &lo[j], &hi[j]);
    fputs("$d << EOD\n", f);
    for (int64_t i = 0; i < d->nrows; i++) {
        gp_put_number(f, xr[i].x);
        for (int j = 0; j < d->ncols; j++) {
            double v = cell(d, xr[i].row, d->col[j]);
            putc(' ', f);
            gp_put_number(f, o->minmax ? scaled(v, lo[j], hi[j]) : v);
        }
        putc('\n', f);
    }
    fputs("EOD\nset key outside right top\nset grid\n", f);
    if (ny2) fputs("set ytics nomirror\nset y2tics\n", f);
    fputs("plot ", f);
    for (int j = 0; j < d->ncols; j++) {
        int right = 0;
        for (int k = 0; k < ny2; k++) right |= !strcmp(y2[k], d->name[j]);
        fprintf(f, "%s$d using 1:%d%s with linespoints lw 2 pt 7 ps 0.4%s title ", j ? ", \\\n  " : "", j + 2,
                right ? " axes x1y2" : "", right ? " dashtype 2" : "");
        gp_put_string(f, d->name[j]);
    }
    putc('\n', f);
    for (int k = 0; k < ny2; k++) {
        int found = 0;
        for (int j = 0; j < d->ncols; j++) found |= !strcmp(y2[k], d->name[j]);
        if (!found) cli_die("--y2: '%s' is not one of the columns drawn", y2[k]);
    }
    if (y2) { free(y2[0]); free(y2); }
    free(xr); free(lo); free(hi);
}

static void bars(FILE *f, const chart_data *d, const struct opts *o) {
    double *lo = malloc(sizeof(double) * (size_t)d->ncols), *hi = malloc(sizeof(double) * (size_t)d->ncols);
    if (!lo || !hi) cli_die("out of memory");
    for (int j = 0; j < d->ncols; j++) column_range(d, j, &lo[j], &hi[j]);
    fputs("$d << EOD\n", f);
    for (int64_t i = 0; i < d->nrows; i++) {
        gp_put_field(f, d->t.keys[d->row[i]]);
        for (int j = 0; j < d->ncols; j++) {
            double v = cell(d, d->row[i], d->col[j]);
            putc(' ', f);
            gp_put_number(f, o->minmax ? scaled(v, lo[j], hi[j]) : v);
        }
        putc('\n', f);
    }
    fputs("EOD\nset style data histogram\nset style histogram clustered gap 1\n"
          "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset key outside right top\n"
          "set grid ytics\nset yrange [*:*]\nset xtics rotate by 25 right scale 0\n", f);
    fputs("plot ", f);
    for (int j = 0; j < d->ncols; j++) {
        fprintf(f, "%s$d using %d%s title ", j ? ", \\\n  " : "", j + 2, j ? "" : ":xtic(1)");
        gp_put_string(f, d->name[j]);
    }
    putc('\n', f);
    free(lo); free(hi);
}


/* ---- scatter: points coloured by a catalogue column ---- */
static const char *const COLORS[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd", "#e6550d", "#31a354"};

typedef struct { const char *name; int64_t n; int id; } group;
static int cmp_group(const void *a, const void *b) {
    const group *p = a, *q = b;
    if (p->n != q->n) return p->n > q->n ? -1 : 1;
    return strcmp(p->name, q->name);
}

/* a seeded sample of at most max rows of d (reservoir), kept in row order */
static void sample_rows(chart_data *d, long max, long seed) {
    if (!max || d->nrows <= max) return;
    rng_state g;
    rng_seed(&g, (uint64_t)seed);
    for (int64_t i = max; i < d->nrows; i++) {
        uint64_t j = rng_below(&g, (uint64_t)i + 1);
        if (j < (uint64_t)max) d->row[j] = d->row[i];
    }
    d->nrows = max;
    int64_t *r = d->row;        /* row indices are distinct: sort them back into order */
    for (int64_t i = 1; i < max; i++) {
        int64_t v = r[i], k = i;
        while (k > 0 && r[k - 1] > v) { r[k] = r[k - 1]; k--; }
        r[k] = v;
    }
}

static void scatter(FILE *f, chart_data *d, const struct opts *o) {
    sample_rows(d, o->max_points, o->seed);
    catalog cat;
    char err[1024];
    int ccol = -1;
    int *gid = calloc((size_t)(d->nrows ? d->nrows : 1), sizeof *gid);
    group *g = calloc(1, sizeof *g);
    int ng = 1;
    if (!gid || !g) cli_die("out of memory");
    g[0] = (group){"all", d->nrows, 0};
    if (o->color_by) {
        if (cat_load(&cat, o->catalog, err, sizeof err)) cli_die("%s", err);
        if ((ccol = cat_column(&cat, o->color_by)) < 0) cli_die("%s: no column '%s' in the catalogue", o->catalog, o->color_by);
        strmap m;
        strmap_init(&m);
        ng = 0;
        int64_t missing = 0;
        for (int64_t i = 0; i < d->nrows; i++) {
            int64_t cr = cat_find(&cat, d->t.keys[d->row[i]]);
            const char *name = cr >= 0 ? cat_cell(&cat, cr, ccol) : "(not in catalogue)";
            missing += cr < 0;
            int64_t id = strmap_get(&m, name);
            if (id < 0) {
                if (!(g = realloc(g, (size_t)(ng + 1) * sizeof *g))) cli_die("out of memory");
                g[ng] = (group){name, 0, ng};
                if (strmap_put(&m, name, ng) == -2) cli_die("out of memory");
                id = ng++;
            }
            g[id].n++;
            gid[i] = (int)id;
        }
        if (missing) cli_warn("%lld points have keys missing from %s", (long long)missing, o->catalog);
        strmap_free(&m);
    }
    /* the largest groups get colours, in order of size; the rest are 'other' */
    group *sorted = malloc((size_t)ng * sizeof *sorted);
    int *rank = malloc((size_t)ng * sizeof *rank);
    if (!sorted || !rank) cli_die("out of memory");
    memcpy(sorted, g, (size_t)ng * sizeof *g);
    qsort(sorted, (size_t)ng, sizeof *sorted, cmp_group);
    int shown = ng < o->max_groups ? ng : (int)o->max_groups;
    int64_t nother = 0;
    for (int k = 0; k < ng; k++) { rank[sorted[k].id] = k < shown ? k : -1; if (k >= shown) nother += sorted[k].n; }
    /* one block of x, y, colour (0xRRGGBB as an integer): 'other' first
     * (underneath), then the shown groups in a seeded random order, so that
     * no group is painted over by the groups drawn after it; the key gets
     * one keyentry per group */
    int64_t *ord = malloc((size_t)(d->nrows ? d->nrows : 1) * sizeof *ord), no = 0;
    if (!ord) cli_die("out of memory");
    for (int64_t i = 0; i < d->nrows; i++) if (rank[gid[i]] < 0) ord[no++] = i;
    int64_t first = no;
    for (int64_t i = 0; i < d->nrows; i++) if (rank[gid[i]] >= 0) ord[no++] = i;
    rng_state sh;
    rng_seed(&sh, (uint64_t)o->seed ^ 0x5ca77e5ull);
    for (int64_t i = no - 1; i > first; i--) {      /* Fisher-Yates over the shown groups */
        int64_t j = first + (int64_t)rng_below(&sh, (uint64_t)(i - first + 1)), t = ord[i];
        ord[i] = ord[j]; ord[j] = t;
    }
    const int ncolors = (int)(sizeof COLORS / sizeof *COLORS);
    fputs("$d << EOD\n", f);
    for (int64_t q = 0; q < no; q++) {
        int64_t i = ord[q];
        int k = rank[gid[i]];
        gp_put_number(f, cell(d, d->row[i], d->col[0]));
        putc(' ', f);
        gp_put_number(f, cell(d, d->row[i], d->col[1]));
        fprintf(f, " %ld\n", k < 0 ? 0xc0c0c0L : strtol(COLORS[k % ncolors] + 1, NULL, 16));
    }
    free(ord);
    fputs("EOD\nset key outside right top\nset grid\n", f);
    if (!o->xlabel) { fputs("set xlabel ", f); gp_put_string(f, d->name[0]); putc('\n', f); }
    if (!o->ylabel) { fputs("set ylabel ", f); gp_put_string(f, d->name[1]); putc('\n', f); }
    fputs("plot $d using 1:2:3 with points pt 7 ps 0.4 lc rgb variable notitle", f);
    char label[512];
    for (int k = 0; k < shown; k++) {
        snprintf(label, sizeof label, "%s (%lld)", sorted[k].name, (long long)sorted[k].n);
        fprintf(f, ", \\\n  keyentry with points pt 7 ps 1 lc rgb '%s' title ", COLORS[k % ncolors]);
        gp_put_string(f, label);
    }
    if (nother) {
        snprintf(label, sizeof label, "other (%lld)", (long long)nother);
        fputs(", \\\n  keyentry with points pt 7 ps 1 lc rgb '#c0c0c0' title ", f);
        gp_put_string(f, label);
    }
    putc('\n', f);
    if (o->color_by) cat_free(&cat);
    free(gid); free(g); free(sorted); free(rank);
}

int main(int argc, char **argv) {
    cli_init("chart", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    char err[1024];
    chart_data d = {0};
    ts_reader *r = cli_open_read(o.in);
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: the stream holds no tensor", ts_reader_name(r));
    if (h->dtype >= TS_NDTYPES) cli_die("%s: unknown dtype", ts_reader_name(r));
    if (ts_read_table(r, &d.t)) cli_die("%s", ts_error(r));
    ts_close_read(r);
    if (d.t.nrows == 0) cli_die("%s: tensor '%s' has no rows: nothing to draw", o.in ? o.in : "<stdin>", d.t.h.name);
    choose_columns(&d, &o);
    if (d.ncols == 0) cli_die("no column to draw");
    if (o.kind == K_SCATTER && d.ncols != 2) cli_die("scatter: --cols needs two columns X,Y (got %d)", d.ncols);
    choose_rows(&d, &o);

    /* the script goes to --script, or to a temporary file that gnuplot runs;
     * gnuplot draws into a temporary file of this run, renamed on success */
    FILE *f, *chart = NULL;
    char script_path[4096];
    int slot = -1;
    if (o.script) {
        f = outfile_open(o.script, 0);
    } else {
        if (!(chart = outset_open(o.out, &slot, err, sizeof err))) cli_die("%s", err);
        const char *td = getenv("TMPDIR");
        snprintf(script_path, sizeof script_path, "%s/chart.XXXXXX", td && *td ? td : "/tmp");
        int fd = mkstemp(script_path);
        if (fd < 0 || !(f = fdopen(fd, "w"))) cli_die("%s: cannot create a temporary file: %s", script_path, strerror(errno));
    }
    fputs("# written by songpipe chart\n", f);
    gp_put_terminal(f, o.format, o.w, o.h, o.script ? o.out : slot >= 0 ? outset_tmp_name(slot) : o.out);
    put_texts(f, &o);
    switch (o.kind) {
    case K_HEATMAP: heatmap(f, &d, &o); break;
    case K_LINES: lines(f, &d, &o); break;
    case K_BARS: bars(f, &d, &o); break;
    default: scatter(f, &d, &o); break;
    }
    fputs("unset output\n", f);
    if (o.script) {
        outfile_close(f);
    } else {
        int bad = ferror(f);
        if (fclose(f) || bad) {
            unlink(script_path);
            cli_die("%s: write error", script_path);
        }
        if (gp_run(script_path, err, sizeof err)) cli_die("%s", err);  /* the script is kept to be looked at */
        unlink(script_path);
        if (outset_close(chart, slot, o.out, err, sizeof err)) cli_die("%s", err);
    }
    ts_table_free(&d.t);
    free(d.col); free(d.name); free(d.row);
    return 0;
}
