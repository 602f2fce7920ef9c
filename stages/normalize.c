/* normalize - scale the columns of a tensor stream: fit per-column statistics
 * (minmax, zscore, robust; optional log1p) and apply them, or apply saved
 * ones.  The statistics live in common/normstats.c so knn and train-mlp can
 * apply the same ones to a query or a batch. */
#include "cli.h"
#include "outfile.h"
#include "normstats.h"
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char HELP[] =
"Usage: normalize [options] [IN.ts | -]\n"
"Scale the columns of the first tensor of a stream (f32 or f64 rows with\n"
"column names) with per-column statistics; further tensors pass unchanged.\n"
"\n"
"  --method M        default method for every column: minmax | zscore | robust\n"
"                    (default minmax)\n"
"  --col NAME=M      method for one column (repeatable); M may also be none\n"
"  --exclude A,B     columns passed through unchanged (method none)\n"
"  --log A,B         log1p before fitting and applying (skewed columns);\n"
"                    values must be > -1\n"
"  --save FILE       write the fitted statistics to FILE (JSON, below)\n"
"  --stats FILE      apply statistics saved by --save instead of fitting;\n"
"                    columns are matched by name, input columns without\n"
"                    statistics pass unchanged (not with --method/--col/--log)\n"
"  --fit-only        fit and write the statistics (needs --save); no rows out\n"
"  --shard I/N       with --stats: normalise only the rows of shard I of N\n"
"                    (0-based), those whose key hashes to I (FNV-1a 64 mod N);\n"
"                    `merge` joins the N outputs into exactly the unsharded\n"
"                    output (shard 0 carries the passed-through tensors).\n"
"                    Needs a named input file\n"
"  -o FILE           output stream (default stdout; FILE.tmp.* until complete)\n"
"  -h, --help        this help;  -V  version\n"
"\n"
"y = (f(x) - center) / scale, f = log1p with --log, computed in double:\n"
"  minmax  center = min, scale = max - min       (sklearn MinMaxScaler, [0,1])\n"
"  zscore  center = mean, scale = population std (sklearn StandardScaler)\n"
"  robust  center = median, scale = q75 - q25, linear interpolation\n"
"          (numpy.percentile, sklearn RobustScaler)\n"
"  none    center = 0, scale = 1\n"
"A constant column gets scale 1 (as sklearn), so it maps to 0.  NaN stays NaN\n"
"and is left out of the fit (counted on stderr); an infinity in a fitted\n"
"column is an error.\n"
"\n"
"Statistics file (also the \"normalize\" object added to the output's meta):\n"
"  {\"songpipe_normalize\": 1, \"columns\": [{\"name\": \"energy\", \"method\":\n"
"   \"minmax\", \"log\": false, \"center\": 0.000175, \"scale\": 0.999825}, ...]}\n"
"  one object per column with exactly these members; scale >= 0 (0 means 1).\n"
"\n"
"Memory: fitting reads the input twice (a pipe is first copied to an unnamed\n"
"file in $TMPDIR, default /tmp); minmax and zscore need memory for one block,\n"
"robust holds every value of its columns (8 bytes per row and column).\n"
"Example:\n"
"  csv-clean --key track_id --cols energy,tempo songs.csv \\\n"
"    | normalize --method zscore --log tempo --save stats.json > norm.ts\n";

struct opts {
    const char *input, *output, *save, *stats;
    ns_method method;
    int method_set, fit_only;
    char **col_name; ns_method *col_method; int ncol;
    char **exclude; int nexclude;
    char **logs; int nlog;
    shard_spec shard;
};

static void push_name(char ***list, int *n, const char *name, const char *opt) {
    if (!*name) cli_usage("%s: empty column name", opt);
    char **p = realloc(*list, (size_t)(*n + 1) * sizeof *p);
    if (!p || !(p[*n] = strdup(name))) cli_die("out of memory");
    *list = p;
    (*n)++;
}

static void push_list(char ***list, int *n, const char *csv, const char *opt) {
    char *copy = strdup(csv), *save = NULL;
    if (!copy) cli_die("out of memory");
    if (!*csv || csv[strlen(csv) - 1] == ',' || *csv == ',' || strstr(csv, ",,"))
        cli_usage("%s '%s': empty column name in the list", opt, csv);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        push_name(list, n, t, opt);
    free(copy);
}

static int in_list(char **list, int n, const char *name) {
    for (int i = 0; i < n; i++) if (strcmp(list[i], name) == 0) return 1;
    return 0;
}

static void add_col(struct opts *o, const char *arg) {
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg) cli_usage("--col '%s': expected NAME=METHOD", arg);
    ns_method m;
    if (ns_method_parse(eq + 1, &m))
        cli_usage("--col '%s': method '%s' is not minmax, zscore, robust or none", arg, eq + 1);
    char *name = strndup(arg, (size_t)(eq - arg));
    if (!name) cli_die("out of memory");
    push_name(&o->col_name, &o->ncol, name, "--col");
    free(name);
    ns_method *p = realloc(o->col_method, (size_t)o->ncol * sizeof *p);
    if (!p) cli_die("out of memory");
    o->col_method = p;
    p[o->ncol - 1] = m;
}

static void check_opts(const struct opts *o) {
    if (shard_active(&o->shard) && !o->stats)
        cli_usage("--shard applies saved statistics: fit them once (--fit-only --save FILE), then --stats FILE --shard I/N");
    if (shard_active(&o->shard) && (!o->input || strcmp(o->input, "-") == 0))
        cli_usage("--shard needs a named input file (its size and checksum identify the input), not stdin");
    if (o->fit_only && !o->save) cli_usage("--fit-only needs --save FILE (it writes no rows)");
    if (o->fit_only && o->stats) cli_usage("--fit-only fits statistics; it cannot be used with --stats");
    if (o->stats && (o->method_set || o->ncol || o->nlog))
        cli_usage("--stats FILE fixes every column's method and log; drop --method, --col and --log");
    for (int i = 0; i < o->nexclude; i++) {
        if (in_list(o->col_name, o->ncol, o->exclude[i]))
            cli_usage("column '%s' is both in --exclude and in --col; choose one", o->exclude[i]);
        if (in_list(o->logs, o->nlog, o->exclude[i]))
            cli_usage("column '%s' is both in --exclude and in --log; an excluded column is unchanged", o->exclude[i]);
    }
}

static struct opts parse_opts(int argc, char **argv) {
    enum { O_METHOD = 256, O_COL, O_EXCLUDE, O_LOG, O_SAVE, O_STATS, O_SHARD, O_FIT };
    static const struct option lo[] = {
        {"method", 1, 0, O_METHOD}, {"col", 1, 0, O_COL}, {"exclude", 1, 0, O_EXCLUDE},
        {"log", 1, 0, O_LOG}, {"save", 1, 0, O_SAVE}, {"stats", 1, 0, O_STATS},
        {"shard", 1, 0, O_SHARD}, {"fit-only", 0, 0, O_FIT}, {0, 0, 0, 0}};
    struct opts o = {.method = NS_MINMAX};
    char err[200];
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case O_METHOD:
            if (ns_method_parse(optarg, &o.method) || o.method == NS_NONE)
                cli_usage("--method '%s': expected minmax, zscore or robust", optarg);
            o.method_set = 1;
            break;
        case O_COL: add_col(&o, optarg); break;
        case O_EXCLUDE: push_list(&o.exclude, &o.nexclude, optarg, "--exclude"); break;
        case O_LOG: push_list(&o.logs, &o.nlog, optarg, "--log"); break;
        case O_SAVE: o.save = optarg; break;
        case O_STATS: o.stats = optarg; break;
        case 'o': o.output = optarg; break;
        case O_SHARD: if (shard_parse(optarg, &o.shard, err, sizeof err)) cli_usage("%s", err); break;
        case O_FIT: o.fit_only = 1; break;
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o.input) cli_usage("one input at most ('%s' and '%s')", o.input, argv[i]);
        o.input = argv[i];
    }
    check_opts(&o);
    return o;
}

static void free_opts(struct opts *o) {
    for (int i = 0; i < o->ncol; i++) free(o->col_name[i]);
    for (int i = 0; i < o->nexclude; i++) free(o->exclude[i]);
    for (int i = 0; i < o->nlog; i++) free(o->logs[i]);
    free(o->col_name); free(o->col_method); free(o->exclude); free(o->logs);
}

/* ---------- input that can be read twice ---------- */

/* Copies stdin (a pipe) to a file that has no name, so that nothing is left
 * behind on any exit, and makes it stdin.  Signals are blocked in the short
 * time a mkstemp fallback file has a name. */
static void spool_stdin(void) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    if (fd < 0) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/normalize.XXXXXX", dir) >= (int)sizeof path)
            cli_die("TMPDIR '%s' is too long", dir);
        sigset_t all, old;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        fd = mkstemp(path);
        if (fd >= 0) unlink(path);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (fd < 0) cli_die("cannot create a temporary file in %s to read the input twice: %s; set TMPDIR", dir, strerror(errno));
    }
    static char buf[1 << 20];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) cli_die("<stdin>: read error: %s", strerror(errno));
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) cli_die("cannot copy the input to a temporary file in %s: %s; set TMPDIR to a larger disk", dir, strerror(errno));
            off += w;
        }
    }
    if (dup2(fd, STDIN_FILENO) < 0) cli_die("dup2: %s", strerror(errno));
    close(fd);
    if (fseeko(stdin, 0, SEEK_SET) != 0) cli_die("cannot rewind the temporary copy of the input: %s", strerror(errno));
}

/* Makes the input readable twice; returns the path to open each time. */
static const char *prepare_twice(const char *input, off_t *stdin_off) {
    struct stat st;
    int use_stdin = !input || strcmp(input, "-") == 0;
    if (!use_stdin) {
        if (stat(input, &st) != 0) cli_die("%s: cannot open: %s", input, strerror(errno));
        if (S_ISREG(st.st_mode)) return input;
        if (S_ISDIR(st.st_mode)) cli_die("%s: is a folder, not a tensor stream", input);
        int fd = open(input, O_RDONLY);        /* a FIFO or /dev/fd/N: copy it */
        if (fd < 0) cli_die("%s: cannot open: %s", input, strerror(errno));
        if (dup2(fd, STDIN_FILENO) < 0) cli_die("dup2: %s", strerror(errno));
        close(fd);
    } else if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
        *stdin_off = lseek(STDIN_FILENO, 0, SEEK_CUR);     /* `< file`: seek back */
        return "-";
    }
    spool_stdin();
    *stdin_off = 0;
    return "-";
}

static ts_reader *open_pass(const char *path, off_t stdin_off) {
    if (strcmp(path, "-") == 0 && stdin_off >= 0 && fseeko(stdin, stdin_off, SEEK_SET) != 0)
        cli_die("<stdin>: cannot rewind for the second pass: %s", strerror(errno));
    return cli_open_read(path);
}

/* ---------- the tensor ---------- */

static const ts_header *first_tensor(ts_reader *r) {
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: the stream holds no tensor", ts_reader_name(r));
    if ((h->dtype != TS_F32 && h->dtype != TS_F64) || h->ndim != 1 || h->ncols != h->row_elems || h->ncols <= 0 || !h->columns)
        cli_die("%s: tensor '%s' is %s with %d dims and %d column names; normalize needs f32 or f64 rows "
                "of named columns (as csv-clean writes)", ts_reader_name(r), h->name,
                ts_dtype_name(h->dtype), h->ndim, h->ncols);
    return h;
}

static void need_column(const ts_reader *r, const ts_header *h, const char *name, const char *opt) {
    if (ts_header_column(h, name) >= 0) return;
    char list[600] = "";
    size_t len = 0;
    for (int i = 0; i < h->ncols && len < sizeof list - 80; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", h->columns[i]);
    cli_die("%s '%s': no such column in %s (its columns: %s%s)", opt, name, ts_reader_name(r), list,
            len >= sizeof list - 80 ? ", ..." : "");
}

/* Method and log of each input column, from the options. */
static ns_column *build_spec(const struct opts *o, const ts_reader *r, const ts_header *h) {
    for (int i = 0; i < o->ncol; i++) need_column(r, h, o->col_name[i], "--col");
    for (int i = 0; i < o->nexclude; i++) need_column(r, h, o->exclude[i], "--exclude");
    for (int i = 0; i < o->nlog; i++) need_column(r, h, o->logs[i], "--log");
    ns_column *spec = calloc((size_t)h->ncols, sizeof *spec);
    if (!spec) cli_die("out of memory");
    for (int j = 0; j < h->ncols; j++) {
        const char *n = h->columns[j];
        spec[j].name = h->columns[j];
        spec[j].method = o->method;
        for (int i = 0; i < o->ncol; i++)         /* the last --col for a name wins */
            if (strcmp(o->col_name[i], n) == 0) spec[j].method = o->col_method[i];
        if (in_list(o->exclude, o->nexclude, n)) spec[j].method = NS_NONE;
        spec[j].log = in_list(o->logs, o->nlog, n);
    }
    return spec;
}

static void report_fit(const ns_fit *f, const ns_stats *s) {
    char line[1024];
    size_t len = 0;
    int64_t total = 0;
    for (int j = 0; j < s->ncols; j++) {
        int64_t n = ns_fit_nans(f, j);
        total += n;
        if (n && len < sizeof line - 100)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s %s %lld", len ? "," : "", s->cols[j].name, (long long)n);
        if (n == ns_fit_rows(f) && s->cols[j].method != NS_NONE)
            cli_warn("column '%s' has no value that is not NaN; it gets center 0, scale 1", s->cols[j].name);
    }
    if (total)
        cli_warn("%lld NaN values left NaN and ignored by the fit:%s", (long long)total, line);
}

/* Pass 1: fit the statistics of the first tensor. */
static void fit_pass(const struct opts *o, const char *path, off_t off, ns_stats *stats) {
    ts_reader *r = open_pass(path, off);
    const ts_header *h = first_tensor(r);
    ns_column *spec = build_spec(o, r, h);
    ns_fit *f = ns_fit_new(h->ncols, spec);
    free(spec);
    if (!f) cli_die("out of memory");
    ts_block b;
    int rc;
    char err[4600];
    while ((rc = ts_read_block(r, &b)) == 1) {
        int bad = h->dtype == TS_F32
            ? ns_fit_add_f32(f, b.data, b.nrows, (size_t)h->ncols, b.keys, err, sizeof err)
            : ns_fit_add_f64(f, b.data, b.nrows, (size_t)h->ncols, b.keys, err, sizeof err);
        if (bad) cli_die("%s: %s", ts_reader_name(r), err);
    }
    if (rc < 0) cli_die("%s", ts_error(r));
    if (ns_fit_rows(f) == 0) cli_die("%s: tensor '%s' has no rows to fit statistics on", ts_reader_name(r), h->name);
    if (ns_fit_finish(f, stats, err, sizeof err)) cli_die("%s", err);
    report_fit(f, stats);
    ns_fit_free(f);
    ts_close_read(r);
}

static void pass_through(ts_reader *r, ts_writer *w, const ts_header *h) {
    ts_block b;
    int rc;
    if (ts_begin_tensor(w, h)) cli_die("%s", ts_werror(w));
    while ((rc = ts_read_block(r, &b)) == 1)
        if (ts_write_rows(w, b.nrows, b.keys, b.data)) cli_die("%s", ts_werror(w));
    if (rc < 0) cli_die("%s", ts_error(r));
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
}

static void warn_unmapped(const ts_header *h, const int *map, int unmapped) {
    char list[600] = "";
    size_t len = 0;
    for (int i = 0; i < h->ncols && len < sizeof list - 80; i++)
        if (map[i] < 0) len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", h->columns[i]);
    cli_warn("%d input column%s not in the statistics pass%s through unchanged: %s%s", unmapped,
             unmapped > 1 ? "s" : "", unmapped > 1 ? "" : "es", list, len >= sizeof list - 80 ? ", ..." : "");
}

/* Normalises the rows of one block into buf (row-major, ncols). */
static void apply_block(ts_reader *r, const ts_header *h, const ns_stats *s, const int *map,
                        const ts_block *b, void *buf) {
    memcpy(buf, b->data, (size_t)b->nrows * h->row_bytes);
    for (int64_t i = 0; i < b->nrows; i++) {
        int bad = -1, rc = h->dtype == TS_F32
            ? ns_apply_f32(s, map, (float *)buf + i * h->ncols, h->ncols, &bad)
            : ns_apply_f64(s, map, (double *)buf + i * h->ncols, h->ncols, &bad);
        if (rc)
            cli_die("%s: row '%s' (row %lld), column '%s': value is <= -1 but the statistics take log1p of it; "
                    "clean the input or fit statistics without log for this column",
                    ts_reader_name(r), b->keys[i], (long long)(b->first_row + i + 1), h->columns[bad]);
    }
}

/* --shard: meta.shard with the identity of the input and the statistics. */
static shard_out *open_shard(const struct opts *o, const ts_header *in, ts_header *oh) {
    char err[600];
    if (shard_header_is_shard(in))
        cli_die("%s: tensor '%s' is one shard's output; merge the shards first, then normalise", o->input, in->name);
    shard_out *so = shard_out_new(&o->shard, "rows whose key hashes to I (FNV-1a 64 mod N)");
    if (!so) cli_die("out of memory");
    if (shard_out_input(so, o->input, err, sizeof err) || shard_out_input(so, o->stats, err, sizeof err))
        cli_die("%s", err);
    if (shard_out_annotate(so, oh)) cli_die("out of memory");
    return so;
}

/* --shard: writes the rows of the block this shard owns, with their positions. */
static void write_owned(shard_out *so, const shard_spec *sp, ts_writer *w, const ts_header *h,
                        const ts_block *b, const void *buf) {
    for (int64_t i = 0; i < b->nrows; i++) {
        if (!shard_owns_key(sp, b->keys[i])) continue;
        if (ts_write_row(w, b->keys[i], (const char *)buf + (size_t)i * h->row_bytes)) cli_die("%s", ts_werror(w));
        if (shard_out_rows(so, b->first_row + i, 1)) cli_die("cannot spool the row positions: %s", strerror(errno));
    }
}

/* Pass 2: write the first tensor normalised with s, the others unchanged. */
static void apply_pass(const struct opts *o, const char *path, off_t off, const ns_stats *s, int warn_missing) {
    ts_reader *r = open_pass(path, off);
    const ts_header *h = first_tensor(r);
    int *map = malloc((size_t)h->ncols * sizeof *map), unmapped = 0;
    char err[1024];
    if (!map) cli_die("out of memory");
    if (ns_stats_map(s, h->ncols, (const char *const *)h->columns, map, &unmapped, err, sizeof err))
        cli_die("%s: %s%s%s%s", ts_reader_name(r), err, o->stats ? " (statistics from " : "",
                o->stats ? o->stats : "", o->stats ? ")" : "");
    if (o->stats) for (int i = 0; i < o->nexclude; i++) need_column(r, h, o->exclude[i], "--exclude");
    if (unmapped && warn_missing) warn_unmapped(h, map, unmapped);
    ts_header oh;
    cJSON *js = ns_stats_to_json(s);
    if (!js || ts_header_copy(&oh, h) || !ts_header_meta(&oh)) cli_die("out of memory");
    if (cJSON_GetObjectItemCaseSensitive(oh.meta, "normalize"))
        cli_warn("%s: the input was normalized before; its \"normalize\" meta is replaced", ts_reader_name(r));
    cJSON_DeleteItemFromObjectCaseSensitive(oh.meta, "normalize");
    cJSON_AddItemToObject(oh.meta, "normalize", js);
    shard_out *so = shard_active(&o->shard) ? open_shard(o, h, &oh) : NULL;
    ts_writer *w = cli_open_write(o->output);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    ts_header_free(&oh);
    void *buf = NULL;
    size_t cap = 0;
    ts_block b;
    int rc;
    cli_progress prog;
    cli_progress_init(&prog, 0);
    while ((rc = ts_read_block(r, &b)) == 1) {
        size_t need = (size_t)b.nrows * h->row_bytes;
        if (need > cap) {
            free(buf);
            if (!(buf = malloc(need))) cli_die("out of memory for a block of %lld rows", (long long)b.nrows);
            cap = need;
        }
        apply_block(r, h, s, map, &b, buf);
        if (so) write_owned(so, &o->shard, w, h, &b, buf);
        else if (ts_write_rows(w, b.nrows, b.keys, buf)) cli_die("%s", ts_werror(w));
        cli_progress_update(&prog, "%lld rows", (long long)(b.first_row + b.nrows));
    }
    cli_progress_done(&prog);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    if (so && shard_out_finish(so, w, err, sizeof err)) cli_die("%s", err);
    shard_out_free(so);
    free(buf);
    free(map);
    int others = 0;
    while ((rc = ts_next_tensor(r, &h)) == 1) {
        if (!others++) cli_warn("%s: tensors after the first ('%s', ...) pass through unchanged", ts_reader_name(r), h->name);
        if (o->shard.id == 0) pass_through(r, w, h);  /* --shard: shard 0 carries them */
        else while ((rc = ts_read_block(r, &b)) == 1) {}
        if (rc < 0) cli_die("%s", ts_error(r));
    }
    if (rc < 0) cli_die("%s", ts_error(r));
    ts_close_read(r);
    cli_close_write(w);
}

/* --stats with --exclude: the excluded columns become identity columns, so
 * the output's meta says what was done. */
static void exclude_from_stats(const struct opts *o, ns_stats *s) {
    for (int i = 0; i < o->nexclude; i++) {
        int k = ns_stats_find(s, o->exclude[i]);
        if (k < 0) continue;
        s->cols[k].method = NS_NONE;
        s->cols[k].log = 0;
        s->cols[k].center = 0;
        s->cols[k].scale = 1;
    }
}

int main(int argc, char **argv) {
    cli_init("normalize", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    ns_stats stats;
    char err[1024];
    const char *path = o.input ? o.input : "-";
    off_t off = -1;
    if (o.stats) {
        if (ns_stats_load(o.stats, &stats, err, sizeof err)) cli_die("%s", err);
        exclude_from_stats(&o, &stats);
    } else {
        if (!o.fit_only) path = prepare_twice(o.input, &off);
        fit_pass(&o, path, off, &stats);
    }
    outfile_hold();         /* --save and the rows appear together or not at all */
    if (o.save && ns_stats_save(o.save, &stats, err, sizeof err)) cli_die("%s", err);
    if (!o.fit_only) apply_pass(&o, path, off, &stats, o.stats != NULL);
    outfile_commit();
    ns_stats_free(&stats);
    free_opts(&o);
    return EXIT_OK;
}
