/* append - add the rows of other streams to a table of the same shape: a
 * song library index grows by the vectors of new songs without recomputing
 * the old ones (make add-song, make library), and loses the rows of songs
 * that are gone (--drop).  Keys already in the table are refused, or
 * replaced with --replace.  Memory: the new rows and their keys, the keys
 * to drop, and one block of the table. */
#include "cli.h"
#include "strmap.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: append [--replace] [--drop KEYS] -o OUT TABLE.ts [NEW.ts...]\n"
"       append -o OUT --list FILE          (the first file listed is TABLE)\n"
"Write TABLE's first tensor followed by the rows of each NEW's first tensor\n"
"(same dtype, row shape and column names) as one tensor to OUT; TABLE's\n"
"header and meta are kept.  OUT may be TABLE itself (written via OUT.tmp.*,\n"
"then renamed).\n"
"\n"
"  --replace    a key of NEW already in TABLE replaces that row (in its\n"
"               place); default: refuse, exit 1.  A key in two NEW files is\n"
"               always refused\n"
"  --drop KEYS  leave out TABLE's rows whose key is in the file KEYS (keys\n"
"               ending with NUL, as find -print0 writes names: a key may\n"
"               hold a line end); a dropped key may come back in a NEW file\n"
"  --list FILE  more input files, one name per line, after the arguments\n"
"               (the interface of merge, for pipelines/slurm-shards.sh)\n"
"  -o FILE      output (default stdout)\n"
"  -h, --help   this help;  -V  version\n"
"\n"
"Memory: every NEW row and key (they are the few new songs) and the keys\n"
"to drop; TABLE streams by block.\n";

static const ts_header *first(ts_reader *r) {
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: no tensor in the stream", ts_reader_name(r));
    return h;
}

static void same_shape(const ts_header *a, const ts_header *b, const char *na, const char *nb) {
    int ok = a->dtype == b->dtype && a->ndim == b->ndim && a->ncols == b->ncols;
    for (int d = 0; ok && d < a->ndim; d++) ok = a->shape[d] == b->shape[d];
    for (int c = 0; ok && c < a->ncols; c++) ok = strcmp(a->columns[c], b->columns[c]) == 0;
    if (!ok) cli_die("%s: tensor '%s' does not have the dtype, row shape and columns of %s's '%s'; make both with the same model and options",
                     nb, b->name, na, a->name);
}

/* everything the run holds, reachable for LeakSanitizer when it dies */
static struct {
    char **paths;               /* TABLE then the NEW files */
    int npaths;
    ts_table *news;
    int nnews;
    strmap fresh, drop;         /* NEW key -> (file << 32 | row); keys to drop */
    char *droptext;
    char *used;                 /* per NEW row: written in TABLE's place */
    int64_t *base;              /* per NEW file: its first row's index in used */
} g;

static void add_path(const char *p) {
    char **np = realloc(g.paths, (size_t)(g.npaths + 1) * sizeof *np);
    if (!np) cli_die("out of memory");
    g.paths = np;
    if (!(g.paths[g.npaths++] = strdup(p))) cli_die("out of memory");
}

static void read_list(const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) cli_die("--list %s: cannot open it", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n) add_path(line);
    }
    int bad = ferror(f);
    free(line);
    if (f != stdin) fclose(f);
    if (bad) cli_die("--list %s: read error", path);
}

static void read_drop(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) cli_die("--drop %s: cannot open it", path);
    size_t cap = 0, len = 0, n;
    char buf[65536];
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *t = realloc(g.droptext, cap);
            if (!t) cli_die("out of memory");
            g.droptext = t;
        }
        memcpy(g.droptext + len, buf, n);
        len += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) cli_die("--drop %s: read error", path);
    if (len && g.droptext[len - 1] != '\0') cli_die("--drop %s: the last key does not end with NUL; write the keys NUL-terminated (printf '%%s\\0')", path);
    for (size_t at = 0; at < len; at += strlen(g.droptext + at) + 1)
        if (strmap_put(&g.drop, g.droptext + at, 1) == -2) cli_die("out of memory");
}

int main(int argc, char **argv) {
    cli_init("append", argc, argv, HELP);
    static const struct option lo[] = {{"replace", 0, 0, 'r'}, {"drop", 1, 0, 'd'}, {"list", 1, 0, 'l'}, {0, 0, 0, 0}};
    const char *out_path = NULL, *drop_path = NULL, *list_path = NULL;
    int replace = 0, c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        if (c == 'o') out_path = optarg;
        else if (c == 'r') replace = 1;
        else if (c == 'd') drop_path = optarg;
        else if (c == 'l') list_path = optarg;
        else cli_usage("unknown option");
    }
    strmap_init(&g.fresh);
    strmap_init(&g.drop);
    for (int i = optind; i < argc; i++) add_path(argv[i]);
    if (list_path) read_list(list_path);
    if (g.npaths < 1) cli_usage("give TABLE.ts (and NEW.ts files)");
    if (drop_path) read_drop(drop_path);
    const char *tpath = g.paths[0];
    /* the new rows first, whole: --replace must know them before TABLE
     * streams past */
    g.nnews = g.npaths - 1;
    g.news = calloc((size_t)(g.nnews ? g.nnews : 1), sizeof *g.news);
    g.base = calloc((size_t)(g.nnews ? g.nnews : 1), sizeof *g.base);
    if (!g.news || !g.base) cli_die("out of memory");
    char err[1024];
    int64_t total = 0;
    for (int f = 0; f < g.nnews; f++) {
        const char *npath = g.paths[f + 1];
        if (ts_load_table(npath, NULL, &g.news[f], err, sizeof err)) cli_die("%s", err);
        if (f) same_shape(&g.news[0].h, &g.news[f].h, g.paths[1], npath);
        g.base[f] = total;
        for (int64_t i = 0; i < g.news[f].nrows; i++) {
            int64_t rc = strmap_put(&g.fresh, g.news[f].keys[i], total + i);
            if (rc == -2) cli_die("out of memory");
            if (rc >= 0) cli_die("%s: key '%s' appears twice among the new rows", npath, g.news[f].keys[i]);
        }
        total += g.news[f].nrows;
    }
    ts_reader *tr = cli_open_read(tpath);
    const ts_header *th = first(tr);
    if (g.nnews) same_shape(th, &g.news[0].h, tpath, g.paths[1]);
    ts_writer *w = cli_open_write(out_path);
    if (ts_begin_tensor(w, th)) cli_die("%s", ts_werror(w));
    g.used = calloc((size_t)(total ? total : 1), 1);
    if (!g.used) cli_die("out of memory");
    ts_block b;
    int rc;
    while ((rc = ts_read_block(tr, &b)) == 1)
        for (int64_t i = 0; i < b.nrows; i++) {
            const void *row = (const char *)b.data + (size_t)i * th->row_bytes;
            int64_t j = strmap_get(&g.fresh, b.keys[i]);
            if (strmap_get(&g.drop, b.keys[i]) >= 0) continue;
            if (j >= 0 && !replace) cli_die("key '%s' of the new rows is already in %s; pass --replace to update it", b.keys[i], tpath);
            if (j >= 0) {
                int f = 0;
                while (f + 1 < g.nnews && g.base[f + 1] <= j) f++;
                row = (const char *)g.news[f].data + (size_t)(j - g.base[f]) * th->row_bytes;
                g.used[j] = 1;
            }
            if (ts_write_row(w, b.keys[i], row)) cli_die("%s", ts_werror(w));
        }
    if (rc < 0) cli_die("%s", ts_error(tr));
    for (int f = 0; f < g.nnews; f++)
        for (int64_t i = 0; i < g.news[f].nrows; i++)
            if (!g.used[g.base[f] + i] &&
                ts_write_row(w, g.news[f].keys[i], (const char *)g.news[f].data + (size_t)i * th->row_bytes))
                cli_die("%s", ts_werror(w));
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    ts_close_read(tr);
    cli_close_write(w);
    for (int f = 0; f < g.nnews; f++) ts_table_free(&g.news[f]);
    for (int i = 0; i < g.npaths; i++) free(g.paths[i]);
    free(g.paths), free(g.news), free(g.base), free(g.used), free(g.droptext);
    strmap_free(&g.fresh);
    strmap_free(&g.drop);
    return 0;
}
