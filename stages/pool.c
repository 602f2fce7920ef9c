/* pool.c - average (or max) the rows that share a key: per-song vectors from
 * per-tile embeddings, per-artist profiles from per-track features. */
#include "cli.h"
#include "shard.h"
#include "strmap.h"

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: pool [options] [IN.ts | -]\n"
"Pools the rows of a tensor stream that belong to one group into one row.\n"
"A group is the row key (default) or, with --by, a column of a catalogue.\n"
"\n"
"  --op mean|max|meanmax  what to compute per element (default mean);\n"
"                         meanmax writes the means then the maxima (2x wide)\n"
"  --by COL               group by catalogue column COL (e.g. track_artist);\n"
"                         needs --catalog; rows whose key is not in it are an error\n"
"  --catalog FILE         catalogue TSV (header line; first column = key)\n"
"  --sorted               each group's rows are contiguous in the input: stream\n"
"                         with the sums of one group in memory (otherwise the\n"
"                         sums of every group; never the rows themselves)\n"
"  --min-rows N           drop groups with fewer than N rows (default 1)\n"
"  --concat               instead of one row per group: every input row, same\n"
"                         key and order, followed by its group's mean (columns\n"
"                         suffixed _group), e.g. each song's features and its\n"
"                         artist's mean profile.  Needs --by and a named input\n"
"                         file (read twice); --op mean only; not with --sorted,\n"
"                         --shard or --min-rows\n"
"  --shard I/N            pool only the groups whose name hashes to I (FNV-1a\n"
"                         64 of the group key mod N), so each group lives in\n"
"                         one shard with all its rows; `merge` joins the N\n"
"                         outputs into exactly the unsharded output (groups in\n"
"                         order of first appearance).  Every shard reads the\n"
"                         whole input and keeps the sums of its groups only;\n"
"                         needs a named input file\n"
"  -o FILE                output (default stdout)\n"
CLI_MEM_HELP
"                         (here: the sums of every group, 12 bytes per element\n"
"                         and group, and their names)\n"
"  -h, --help             this help;  -V, --version\n"
"\n"
"Input: one f32 or f64 tensor of any row shape; output: f32, keyed by group,\n"
"in order of first appearance, with the column names of the input (suffixed\n"
"_mean/_max for meanmax) and meta.pool = {op, by, groups, rows}.\n"
"Empty groups cannot occur; NaN inputs propagate to the group's mean/max.\n";

enum { OP_MEAN = 1, OP_MAX = 2 };

struct opts {
    int op, sorted, concat;
    long min_rows;
    const char *by, *catalog, *out, *in;
    shard_spec shard;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.op = OP_MEAN, .min_rows = 1};
    static const struct option lo[] = {
        {"op", 1, 0, 'p'}, {"by", 1, 0, 'b'}, {"catalog", 1, 0, 'c'}, {"sorted", 0, 0, 's'},
        {"min-rows", 1, 0, 'm'}, {"output", 1, 0, 'o'}, {"shard", 1, 0, 'S'},
        {"mem-limit", 1, 0, 'M'}, {"concat", 0, 0, 'C'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!strcmp(optarg, "mean")) o.op = OP_MEAN;
            else if (!strcmp(optarg, "max")) o.op = OP_MAX;
            else if (!strcmp(optarg, "meanmax")) o.op = OP_MEAN | OP_MAX;
            else cli_usage("--op: '%s' is not one of mean, max, meanmax", optarg);
            break;
        case 'b': o.by = optarg; break;
        case 'c': o.catalog = optarg; break;
        case 's': o.sorted = 1; break;
        case 'C': o.concat = 1; break;
        case 'm': o.min_rows = cli_long("--min-rows", optarg, 1, 1L << 40); break;
        case 'o': o.out = optarg; break;
        case 'M': cli_mem_limit_opt("--mem-limit", optarg); break;
        case 'S': {
            char err[200];
            if (shard_parse(optarg, &o.shard, err, sizeof err)) cli_usage("%s", err);
            break;
        }
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.in = argv[optind++];
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!!o.by != !!o.catalog) cli_usage("--by and --catalog go together");
    if (o.concat && (!o.by || o.sorted || o.op != OP_MEAN || shard_active(&o.shard) || o.min_rows != 1 || !o.in || !strcmp(o.in, "-")))
        cli_usage("--concat needs --by, --op mean and a named input file, without --sorted, --shard or --min-rows");
    if (shard_active(&o.shard) && (!o.in || strcmp(o.in, "-") == 0))
        cli_usage("--shard needs a named input file (its size and checksum identify the input), not stdin");
    return o;
}

/* key -> group name, read from column `col` of the catalogue TSV */
static void load_catalog_column(const char *path, const char *col, strmap *key_to_name,
                                 char ***names, int64_t *nnames) {
    FILE *f = fopen(path, "r");
    if (!f) cli_die("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 1;
    int ci = -1;
    strmap name_ids;
    strmap_init(&name_ids);
    strmap_init(key_to_name);
    *names = NULL;
    *nnames = 0;
    size_t names_cap = 0;
    if ((n = getline(&line, &cap, f)) <= 0) cli_die("%s: empty catalogue: expected a header line", path);
    line[strcspn(line, "\r\n")] = 0;
    {
        int i = 0;
        for (char *s = line, *t; s; s = t, i++) {
            if ((t = strchr(s, '\t'))) *t++ = 0;
            if (!strcmp(s, col)) ci = i;
        }
        if (ci <= 0) cli_die("%s: no column '%s' in the catalogue header (the first column is the key)", path, col);
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *field[2] = {line, NULL};
        int i = 0;
        for (char *s = line, *t; s && i <= ci; s = t, i++) {
            if ((t = strchr(s, '\t'))) *t++ = 0;
            if (i == ci) field[1] = s;
        }
        if (!field[1]) cli_die("%s:%ld: fewer columns than the header", path, lineno);
        int64_t id = strmap_get(&name_ids, field[1]);
        if (id < 0) {
            if ((size_t)*nnames == names_cap) {
                names_cap = names_cap ? names_cap * 2 : 1024;
                char **p = realloc(*names, names_cap * sizeof *p);
                if (!p) cli_die("out of memory");
                *names = p;
            }
            if (strmap_put(&name_ids, field[1], *nnames) == -2 || !((*names)[*nnames] = strdup(field[1])))
                cli_die("out of memory");
            id = (*nnames)++;
        }
        if (strmap_put(key_to_name, field[0], id) == -2) cli_die("out of memory");
    }
    if (ferror(f)) cli_die("%s: read error", path);
    free(line);
    fclose(f);
    strmap_free(&name_ids);
}

typedef struct {
    const char *src;    /* the input's name, for messages */
    int64_t ngroups, cap, d;
    uint64_t name_bytes;
    double *sum;
    float *max;
    int64_t *count;
    int64_t *first;     /* input row of the group's first row (its position) */
    char **names;       /* group names (own copies) */
} groups;

static int64_t group_add(groups *g, const char *name, int64_t row) {
    if (g->ngroups == g->cap) {
        int64_t c = g->cap ? g->cap * 2 : 256;
        /* sum (8) and max (4) per element, count, first and name pointer */
        cli_mem_need(g->src, "holding the sums of every group (many distinct keys? sorted input and --sorted hold one)",
                     (uint64_t)c * ((uint64_t)g->d * 12 + 24) + g->name_bytes);
        double *s = realloc(g->sum, (size_t)(c * g->d) * sizeof *s);
        if (s) g->sum = s;
        float *m = realloc(g->max, (size_t)(c * g->d) * sizeof *m);
        if (m) g->max = m;
        int64_t *n = realloc(g->count, (size_t)c * sizeof *n);
        if (n) g->count = n;
        char **nm = realloc(g->names, (size_t)c * sizeof *nm);
        if (nm) g->names = nm;
        int64_t *f = realloc(g->first, (size_t)c * sizeof *f);
        if (f) g->first = f;
        if (!s || !m || !n || !nm || !f) cli_die("out of memory (%lld groups)", (long long)g->ngroups);
        g->cap = c;
    }
    int64_t i = g->ngroups++;
    memset(g->sum + i * g->d, 0, (size_t)g->d * sizeof *g->sum);
    for (int64_t j = 0; j < g->d; j++) g->max[i * g->d + j] = -INFINITY;
    g->count[i] = 0;
    g->first[i] = row;
    if (!(g->names[i] = strdup(name))) cli_die("out of memory");
    g->name_bytes += strlen(name) + 1;
    return i;
}

static void group_accumulate(groups *g, int64_t i, const void *row, ts_dtype t) {
    double *s = g->sum + i * g->d;
    float *m = g->max + i * g->d;
    for (int64_t j = 0; j < g->d; j++) {
        double v = t == TS_F32 ? ((const float *)row)[j] : ((const double *)row)[j];
        s[j] += v;
        if (!(v <= m[j])) m[j] = (float)v;     /* NaN propagates */
    }
    g->count[i]++;
}

/* so: --shard, the positions of the rows written (NULL: not sharded) */
static void group_emit(const groups *g, int64_t i, int op, long min_rows, ts_writer *w, float *out, int64_t *emitted,
                       shard_out *so) {
    if (g->count[i] < min_rows) return;
    int64_t d = g->d, k = 0;
    if (op & OP_MEAN)
        for (int64_t j = 0; j < d; j++) out[k++] = (float)(g->sum[i * d + j] / (double)g->count[i]);
    if (op & OP_MAX)
        for (int64_t j = 0; j < d; j++) out[k++] = g->max[i * d + j];
    if (ts_write_row(w, g->names[i], out)) cli_die("%s", ts_werror(w));
    if (so && shard_out_rows(so, g->first[i], 1)) cli_die("cannot spool the row positions: %s", strerror(errno));
    (*emitted)++;
}

static void out_header(ts_header *oh, const ts_header *h, const struct opts *o) {
    int mult = (o->op == (OP_MEAN | OP_MAX)) || o->concat ? 2 : 1;
    int64_t d = h->row_elems;
    char **cols = NULL;
    if (h->ncols) {
        if (!(cols = calloc((size_t)(d * mult), sizeof *cols))) cli_die("out of memory");
        for (int64_t j = 0; j < d * mult; j++) {
            const char *suffix = mult == 1 ? "" : o->concat ? (j < d ? "" : "_group") : j < d ? "_mean" : "_max";
            size_t n = strlen(h->columns[j % d]) + 8;
            if (!(cols[j] = malloc(n))) cli_die("out of memory");
            snprintf(cols[j], n, "%s%s", h->columns[j % d], suffix);
        }
    }
    if (ts_header_init(oh, h->name, TS_F32, d * mult, (const char *const *)cols)) cli_die("out of memory");
    if (cols) { for (int64_t j = 0; j < d * mult; j++) free(cols[j]); free(cols); }
    if (mult == 1 && h->ndim > 1) ts_header_set_shape(oh, h->ndim, h->shape);
    if (h->meta) { cJSON_Delete(oh->meta); oh->meta = cJSON_Duplicate(h->meta, 1); }
    if (o->concat) { free(oh->key_name); oh->key_name = h->key_name ? strdup(h->key_name) : NULL; }
    else if (o->by) { free(oh->key_name); oh->key_name = strdup(o->by); }
    else if (h->key_name) oh->key_name = strdup(h->key_name);
}

int main(int argc, char **argv) {
    cli_init("pool", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    strmap key_to_name, group_of;
    char **names = NULL;
    int64_t nnames = 0;
    if (o.by) load_catalog_column(o.catalog, o.by, &key_to_name, &names, &nnames);
    strmap_init(&group_of);

    ts_reader *r = cli_open_read(o.in);
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: the stream holds no tensor", ts_reader_name(r));
    if (h->dtype != TS_F32 && h->dtype != TS_F64)
        cli_die("%s: tensor '%s' is %s; pool needs f32 or f64 rows", ts_reader_name(r), h->name, ts_dtype_name(h->dtype));
    if (h->row_elems == 0) cli_die("%s: tensor '%s' has empty rows", ts_reader_name(r), h->name);

    ts_header oh;
    out_header(&oh, h, &o);
    shard_out *so = NULL;
    if (shard_active(&o.shard)) {
        char err[600];
        if (shard_header_is_shard(h))
            cli_die("%s: tensor '%s' is one shard's output; merge the shards first, then pool", o.in, h->name);
        if (!(so = shard_out_new(&o.shard, "groups whose key hashes to I (FNV-1a 64 mod N), position = the group's first input row")))
            cli_die("out of memory");
        if (shard_out_input(so, o.in, err, sizeof err) || (o.catalog && shard_out_input(so, o.catalog, err, sizeof err)))
            cli_die("%s", err);
        /* what the header does not show: mean and max have the same columns */
        if (shard_out_option_string(so, "op", o.op == OP_MEAN ? "mean" : o.op == OP_MAX ? "max" : "meanmax") ||
            shard_out_option_number(so, "min_rows", (double)o.min_rows) ||
            shard_out_option_string(so, "by", o.by ? o.by : "") || shard_out_option_number(so, "sorted", o.sorted) ||
            shard_out_annotate(so, &oh))
            cli_die("out of memory");
    }
    ts_writer *w = cli_open_write(o.out);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    groups g = {.d = h->row_elems, .src = ts_reader_name(r)};
    float *out = malloc((size_t)oh.row_elems * sizeof *out);
    if (!out) cli_die("out of memory");
    int64_t rows = 0, emitted = 0;
    ts_dtype dt = h->dtype;
    size_t rb = h->row_bytes;
    ts_block b;
    while ((rc = ts_read_block(r, &b)) == 1) {
        for (int64_t i = 0; i < b.nrows; i++, rows++) {
            const char *name = b.keys[i];
            if (o.by) {
                int64_t id = strmap_get(&key_to_name, b.keys[i]);
                if (id < 0) cli_die("%s: row %lld: key '%s' is not in the catalogue %s", ts_reader_name(r), (long long)rows + 1, b.keys[i], o.catalog);
                name = names[id];
            }
            int64_t gi;
            if (o.sorted) {
                if (g.ngroups && strcmp(g.names[g.ngroups - 1], name) == 0) gi = g.ngroups - 1;
                else {
                    if (g.ngroups) {    /* the previous group is complete */
                        if (shard_owns_key(&o.shard, g.names[0]))
                            group_emit(&g, g.ngroups - 1, o.op, o.min_rows, w, out, &emitted, so);
                        free(g.names[0]);
                        g.ngroups = 0;
                    }
                    if (strmap_put(&group_of, name, 0) != -1)
                        cli_die("%s: row %lld: group '%s' appears again after other groups: the input is not grouped; drop --sorted",
                                ts_reader_name(r), (long long)rows + 1, name);
                    gi = group_add(&g, name, rows);
                }
                if (!shard_owns_key(&o.shard, name)) continue;  /* another shard's group */
            } else {
                if (!shard_owns_key(&o.shard, name)) continue;
                gi = strmap_get(&group_of, name);
                if (gi < 0) {
                    gi = group_add(&g, name, rows);
                    if (strmap_put(&group_of, name, gi) == -2) cli_die("out of memory");
                }
            }
            group_accumulate(&g, gi, (const char *)b.data + (size_t)i * rb, dt);
        }
    }
    if (rc < 0) cli_die("%s", ts_error(r));
    if (o.concat) {
        /* second pass: each row, then its group's mean */
        ts_close_read(r);
        r = cli_open_read(o.in);
        if ((rc = ts_next_tensor(r, &h)) != 1) cli_die("%s: %s", o.in, rc < 0 ? ts_error(r) : "changed while being read");
        const int64_t d = g.d;
        while ((rc = ts_read_block(r, &b)) == 1)
            for (int64_t i = 0; i < b.nrows; i++) {
                int64_t gi = strmap_get(&group_of, names[strmap_get(&key_to_name, b.keys[i])]);
                const char *row = (const char *)b.data + (size_t)i * rb;
                for (int64_t j = 0; j < d; j++) {
                    out[j] = dt == TS_F32 ? ((const float *)row)[j] : (float)((const double *)row)[j];
                    out[d + j] = (float)(g.sum[gi * d + j] / (double)g.count[gi]);
                }
                if (ts_write_row(w, b.keys[i], out)) cli_die("%s", ts_werror(w));
                emitted++;
            }
        if (rc < 0) cli_die("%s", ts_error(r));
        for (int64_t i = 0; i < g.ngroups; i++) free(g.names[i]);
    } else if (o.sorted) {
        if (g.ngroups) {
            if (shard_owns_key(&o.shard, g.names[0])) group_emit(&g, 0, o.op, o.min_rows, w, out, &emitted, so);
            free(g.names[0]);
        }
    } else {
        for (int64_t i = 0; i < g.ngroups; i++) { group_emit(&g, i, o.op, o.min_rows, w, out, &emitted, so); free(g.names[i]); }
    }
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    if (so) {
        char err[512];
        if (shard_out_finish(so, w, err, sizeof err)) cli_die("%s", err);
        shard_out_free(so);
    }
    cli_close_write(w);
    if (o.concat) cli_warn("%lld rows in and out, each with its group's mean (%lld groups)", (long long)rows, (long long)g.ngroups);
    else cli_warn("%lld rows in, %lld groups out", (long long)rows, (long long)emitted);
    ts_close_read(r);
    ts_header_free(&oh);
    free(out); free(g.sum); free(g.max); free(g.count); free(g.first); free(g.names);
    for (int64_t i = 0; i < nnames; i++) free(names[i]);
    free(names);
    if (o.by) strmap_free(&key_to_name);
    strmap_free(&group_of);
    return 0;
}
