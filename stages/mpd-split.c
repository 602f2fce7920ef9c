/* mpd-split.c - the RecSys Challenge 2018 protocol on a playlists stream:
 * hold out whole playlists (seeded), and for each held-out playlist make
 * queries that show its first K tracks (K = 0: its title only) and hide
 * the rest, which becomes the ground truth. */
#include "catalog.h"
#include "cli.h"
#include "outfile.h"
#include "plmembers.h"
#include "strmap.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char HELP[] =
"Usage: mpd-split [options] --queries Q.tsv --seeds SEEDS.ts --truth TRUTH.ts [PLAYLISTS.ts | -]\n"
"Splits a playlists stream (mpd-ingest -o) into training playlists and test\n"
"queries, streaming (memory: one playlist).  A playlist is held out when a\n"
"hash of (seed, pid) falls below --test-frac, until --max-test are held out\n"
"(plmem_split_u, common/plmembers.h: the split of members and hybrid).\n"
"Each held-out playlist of n tracks gives one query per K in --ks with\n"
"K < n: seeds = its first K tracks, ground truth = the other n - K tracks in\n"
"order (duplicates kept); K = 0 is the title-only query.\n"
"\n"
"  -o FILE           training playlists stream (default stdout)\n"
"  --queries FILE    query catalogue TSV: qid, pid, k, name (qid = PID/K)\n"
"  --seeds FILE      i32 rows (track, pos) keyed by qid (no rows for K = 0)\n"
"  --truth FILE      i32 rows (track, pos) keyed by qid: the hidden tracks\n"
"  --names FILE      playlist catalogue (mpd-ingest --names) for the titles;\n"
"                    without it queries have no title\n"
"  --ks LIST         seed counts (default 0,1,5,10,25)\n"
"  --test-frac F     share of playlists held out (default 0.1)\n"
"  --max-test N      at most N held-out playlists (default 1000; 0 = no cap)\n"
"  --seed N          the hash seed (default 1)\n"
"  -h, --help        this help;  -V, --version\n";

#define MAX_KS 32

struct opts {
    const char *in, *out, *queries, *seeds, *truth, *names;
    int ks[MAX_KS], nks;
    double frac;
    long max_test;
    uint64_t seed;
};

static int parse_ks(const char *s, int *ks) {
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) cli_die("out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_KS) cli_usage("--ks: at most %d values", MAX_KS);
        ks[n++] = (int)cli_long("--ks", t, 0, 100000);
    }
    free(copy);
    if (!n) cli_usage("--ks: empty list");
    return n;
}

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.frac = 0.1, .max_test = 1000, .seed = 1};
    o.nks = parse_ks("0,1,5,10,25", o.ks);
    static const struct option lo[] = {
        {"queries", 1, 0, 'q'}, {"seeds", 1, 0, 's'}, {"truth", 1, 0, 't'}, {"names", 1, 0, 'n'},
        {"ks", 1, 0, 'k'}, {"test-frac", 1, 0, 'f'}, {"max-test", 1, 0, 'm'}, {"seed", 1, 0, 'S'},
        {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 'q': o.queries = optarg; break;
        case 's': o.seeds = optarg; break;
        case 't': o.truth = optarg; break;
        case 'n': o.names = optarg; break;
        case 'k': o.nks = parse_ks(optarg, o.ks); break;
        case 'f': o.frac = cli_double("--test-frac", optarg, 0, 1); break;
        case 'm': o.max_test = cli_long("--max-test", optarg, 0, 1L << 40); break;
        case 'S': o.seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX); break;
        case 'o': o.out = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.in = argv[optind++];
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.queries || !o.seeds || !o.truth) cli_usage("--queries, --seeds and --truth are required");
    return o;
}

typedef struct {
    const struct opts *o;
    ts_writer *train, *seeds, *truth;
    FILE *queries;
    catalog names;
    int have_names;
    int32_t *rows;          /* the current playlist: (track, pos) pairs */
    int64_t n, cap;
    char pid[TS_MAX_KEY];
    char **keys;
    int64_t ntrain, ntest, nqueries, nrows;
} split;

static void write_rows(ts_writer *w, const char *key, const int32_t *rows, int64_t n, char **keys) {
    for (int64_t i = 0; i < n; i++) keys[i] = (char *)key;
    if (n && ts_write_rows(w, n, (const char *const *)keys, rows)) cli_die("%s", ts_werror(w));
}

static void put_cell(FILE *f, const char *s) {
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void flush_playlist(split *s) {
    if (!s->n) return;
    const struct opts *o = s->o;
    int test = (o->max_test == 0 || s->ntest < o->max_test) && plmem_split_u(o->seed, s->pid) < o->frac;
    if (!test) {
        write_rows(s->train, s->pid, s->rows, s->n, s->keys);
        s->ntrain++;
        s->n = 0;
        return;
    }
    s->ntest++;
    const char *title = "";
    if (s->have_names) {
        int64_t r = cat_find(&s->names, s->pid);
        if (r >= 0) title = cat_cell(&s->names, r, 1);
    }
    for (int i = 0; i < o->nks; i++) {
        int k = o->ks[i];
        if (k >= s->n) continue;
        char qid[TS_MAX_KEY + 16];
        snprintf(qid, sizeof qid, "%s/%d", s->pid, k);
        write_rows(s->seeds, qid, s->rows, k, s->keys);
        write_rows(s->truth, qid, s->rows + 2 * k, s->n - k, s->keys);
        fprintf(s->queries, "%s\t%s\t%d\t", qid, s->pid, k);
        put_cell(s->queries, title);
        fputc('\n', s->queries);
        s->nqueries++;
    }
    s->n = 0;
}

static ts_writer *open_rows(const char *path, const char *name, const char *key_name, const char *what) {
    ts_header h;
    static const char *const cols[] = {"track", "pos"};
    if (ts_header_init(&h, name, TS_I32, 2, cols)) cli_die("out of memory");
    h.key_name = strdup(key_name);
    cJSON_AddStringToObject(ts_header_meta(&h), "row", what);
    ts_writer *w = cli_open_write(path);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    ts_header_free(&h);
    return w;
}

int main(int argc, char **argv) {
    cli_init("mpd-split", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    split s = {.o = &o};
    char err[1024];
    if (o.names) {
        if (cat_load(&s.names, o.names, err, sizeof err)) cli_die("%s", err);
        if (s.names.ncols < 2) cli_die("%s: expected pid and name columns (mpd-ingest --names)", o.names);
        s.have_names = 1;
    }
    ts_reader *r = cli_open_read(o.in);
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: the stream holds no tensor", ts_reader_name(r));
    if (h->dtype != TS_I32 || h->row_elems != 2)
        cli_die("%s: tensor '%s' is not i32 (track, pos) rows; give the playlists stream of mpd-ingest", ts_reader_name(r), h->name);
    outfile_hold();         /* -o, --seeds, --truth, --queries: all or none */
    s.train = open_rows(o.out, "playlists", "pid", "training playlists (track, pos)");
    s.seeds = open_rows(o.seeds, "seeds", "qid", "the tracks a query shows (track, pos)");
    s.truth = open_rows(o.truth, "truth", "qid", "the hidden tracks of a query (track, pos)");
    s.queries = outfile_open(o.queries, 0);
    fputs("qid\tpid\tk\tname\n", s.queries);
    strmap seen;
    strmap_init(&seen);
    ts_block b;
    struct stat st;     /* a file's size gives the time left; a pipe has none */
    double size = o.in && strcmp(o.in, "-") && stat(o.in, &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size : 0;
    cli_progress prog;
    cli_progress_init(&prog, 10);
    while ((rc = ts_read_block(r, &b)) == 1) {
        int64_t off = ts_reader_offset(r);
        if (size > 0 && off >= 0)
            cli_progress_update(&prog, "%" PRId64 " rows, %" PRId64 " playlists, %s", s.nrows, s.ntrain + s.ntest,
                                cli_progress_eta(&prog, (double)off / 1e6, size / 1e6, "MB"));
        else
            cli_progress_update(&prog, "%" PRId64 " rows, %" PRId64 " playlists, %.0f rows/s (a pipe: time left unknown)",
                                s.nrows, s.ntrain + s.ntest, (double)s.nrows / (cli_now() - prog.start + 1e-9));
        const int32_t *d = b.data;
        for (int64_t i = 0; i < b.nrows; i++) {
            if (!s.n || strcmp(s.pid, b.keys[i])) {
                flush_playlist(&s);
                if (strmap_put(&seen, b.keys[i], 0) != -1)
                    cli_die("%s: row %" PRId64 ": playlist '%s' appears again after other playlists; the stream is not a playlists stream",
                            ts_reader_name(r), b.first_row + i + 1, b.keys[i]);
                snprintf(s.pid, sizeof s.pid, "%s", b.keys[i]);
            }
            if (s.n == s.cap) {
                s.cap = s.cap ? s.cap * 2 : 1024;
                int32_t *p = realloc(s.rows, (size_t)s.cap * 2 * sizeof *p);
                char **k = realloc(s.keys, (size_t)s.cap * sizeof *k);
                if (!p || !k) cli_die("out of memory");
                s.rows = p; s.keys = k;
            }
            s.rows[2 * s.n] = d[2 * i];
            s.rows[2 * s.n + 1] = d[2 * i + 1];
            s.n++;
            s.nrows++;
        }
    }
    cli_progress_done(&prog);
    if (rc < 0) cli_die("%s", ts_error(r));
    flush_playlist(&s);
    ts_close_read(r);
    ts_writer *const ws[3] = {s.seeds, s.truth, s.train};
    for (int k = 0; k < 3; k++)
        if (ts_end_tensor(ws[k])) cli_die("%s", ts_werror(ws[k]));
    cli_close_write(s.seeds);
    cli_close_write(s.truth);
    outfile_close(s.queries);
    cli_close_write(s.train);
    outfile_commit();
    cli_warn("%" PRId64 " playlists: %" PRId64 " for training, %" PRId64 " held out -> %" PRId64 " queries",
             s.ntrain + s.ntest, s.ntrain, s.ntest, s.nqueries);
    if (s.have_names) cat_free(&s.names);
    strmap_free(&seen);
    free(s.rows); free(s.keys);
    return 0;
}
