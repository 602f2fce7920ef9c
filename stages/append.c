/* append - add the rows of one stream to a table of the same shape: a song
 * library index grows by the vectors of new songs without recomputing the
 * old ones (make add-song).  Keys already in the table are refused, or
 * replaced with --replace.  Memory: the keys of the table, and one block. */
#include "cli.h"
#include "strmap.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: append [--replace] -o OUT TABLE.ts NEW.ts\n"
"Write TABLE's first tensor followed by the rows of NEW's first tensor (same\n"
"dtype, row shape and column names) as one tensor to OUT; TABLE's header and\n"
"meta are kept.  OUT may be TABLE itself (written via OUT.tmp.*, then renamed).\n"
"\n"
"  --replace    a key of NEW already in TABLE replaces that row (in its\n"
"               place); default: refuse, exit 1\n"
"  -o FILE      output (default stdout)\n"
"  -h, --help   this help;  -V  version\n";

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

int main(int argc, char **argv) {
    cli_init("append", argc, argv, HELP);
    static const struct option lo[] = {{"replace", 0, 0, 'r'}, {0, 0, 0, 0}};
    const char *out_path = NULL;
    int replace = 0, c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        if (c == 'o') out_path = optarg;
        else if (c == 'r') replace = 1;
        else cli_usage("unknown option");
    }
    if (argc - optind != 2) cli_usage("give TABLE.ts and NEW.ts");
    const char *tpath = argv[optind], *npath = argv[optind + 1];
    /* the new rows first, whole: they are few (one song's vector) and
     * --replace must know them before TABLE streams past */
    ts_table nt;
    char err[1024];
    if (ts_load_table(npath, NULL, &nt, err, sizeof err)) cli_die("%s", err);
    strmap fresh;
    strmap_init(&fresh);
    for (int64_t i = 0; i < nt.nrows; i++) {
        int64_t rc = strmap_put(&fresh, nt.keys[i], i);
        if (rc == -2) cli_die("out of memory");
        if (rc >= 0) cli_die("%s: key '%s' appears twice", npath, nt.keys[i]);
    }
    ts_reader *tr = cli_open_read(tpath);
    const ts_header *th = first(tr);
    same_shape(th, &nt.h, tpath, npath);
    ts_writer *w = cli_open_write(out_path);
    if (ts_begin_tensor(w, th)) cli_die("%s", ts_werror(w));
    char *used = calloc((size_t)(nt.nrows ? nt.nrows : 1), 1);
    if (!used) cli_die("out of memory");
    ts_block b;
    int rc;
    while ((rc = ts_read_block(tr, &b)) == 1)
        for (int64_t i = 0; i < b.nrows; i++) {
            const void *row = (const char *)b.data + (size_t)i * th->row_bytes;
            int64_t j = strmap_get(&fresh, b.keys[i]);
            if (j >= 0 && !replace) cli_die("%s: key '%s' is already in %s; pass --replace to update it", npath, b.keys[i], tpath);
            if (j >= 0) { row = (const char *)nt.data + (size_t)j * nt.h.row_bytes; used[j] = 1; }
            if (ts_write_row(w, b.keys[i], row)) cli_die("%s", ts_werror(w));
        }
    if (rc < 0) cli_die("%s", ts_error(tr));
    for (int64_t j = 0; j < nt.nrows; j++)
        if (!used[j] && ts_write_row(w, nt.keys[j], (const char *)nt.data + (size_t)j * nt.h.row_bytes))
            cli_die("%s", ts_werror(w));
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    ts_close_read(tr);
    cli_close_write(w);
    free(used);
    strmap_free(&fresh);
    ts_table_free(&nt);
    return 0;
}
