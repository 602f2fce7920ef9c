/* rec-eval.c - scores recommendation streams against a ground-truth stream
 * with the RecSys Challenge 2018 metrics (R-precision, NDCG, Recommended
 * Songs clicks; common/recmetrics.h), averaged per query group (seed count
 * K) and overall, so any model, ours or external, can be compared. */
#include "catalog.h"
#include "cli.h"
#include "outfile.h"
#include "playlists.h"
#include "recmetrics.h"
#include "text.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: rec-eval --truth TRUTH.ts [options] RECS.ts...\n"
"Scores each recommendation stream (i32 track rows keyed by query id, best\n"
"first; mpd-recommend writes one) against the ground truth (i32 rows keyed\n"
"by query id; mpd-split --truth) with the RecSys Challenge 2018 metrics:\n"
"  R-precision  |set(R[1:|set(G)|]) & set(G)| / |set(G)|   (a repeated truth\n"
"               track counts once, as metrics.py's len(set(targets)))\n"
"  NDCG         DCG/IDCG, DCG = sum_i rel_i/log2(i+1) over R[1:500] de-duplicated,\n"
"               IDCG = sum_{i=1..|set(G)|} 1/log2(i+1)\n"
"  clicks       floor((first place of a relevant track - 1) / 10), 51 if none\n"
"  R-prec+art   (|track hits| + 0.25 |artist hits among the misses|) / |set(G)|\n"
"               (only with --tracks)\n"
"and prints the means per K (from --queries) and over all queries.  A query\n"
"without recommendations scores R-precision 0, NDCG 0, clicks 51.  The truth\n"
"is held in memory; recommendation streams are read block by block.\n"
"\n"
"  --truth FILE    ground truth stream (required)\n"
"  --queries FILE  query catalogue with a 'k' column (mpd-split --queries):\n"
"                  group the means by K (0 = title only)\n"
"  --tracks FILE   track vocabulary (mpd-ingest --tracks): artist ids for the\n"
"                  partial credit, from artist_uri when every track has one,\n"
"                  else from the folded artist_name (two artists of one name\n"
"                  are then one artist)\n"
"  -n N            recommendations scored per query (default 500)\n"
"  --tsv           tab-separated lines: model, k, queries, r_precision, ndcg,\n"
"                  clicks, r_precision_artist (default: an aligned table)\n"
"  -o FILE         output (default stdout)\n"
"  -h, --help      this help;  -V, --version\n";

#define MAX_GROUPS 64

struct opts {
    const char *truth, *queries, *tracks, *out;
    long n;
    int tsv;
    char **recs;
    int nrecs;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.n = RM_MAX_N};
    static const struct option lo[] = {
        {"truth", 1, 0, 't'}, {"queries", 1, 0, 'q'}, {"tracks", 1, 0, 'T'}, {"tsv", 0, 0, 'v'},
        {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:n:", lo, NULL)) != -1) {
        switch (c) {
        case 't': o.truth = optarg; break;
        case 'q': o.queries = optarg; break;
        case 'T': o.tracks = optarg; break;
        case 'v': o.tsv = 1; break;
        case 'n': o.n = cli_long("-n", optarg, 1, 1 << 24); break;
        case 'o': o.out = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (!o.truth) cli_usage("--truth FILE is required");
    o.recs = argv + optind;
    o.nrecs = argc - optind;
    if (!o.nrecs) { static char *dash[] = {"-"}; o.recs = dash; o.nrecs = 1; }
    return o;
}

typedef struct { char name[32]; int64_t n; double rprec, ndcg, clicks, rprec_art; } group;

typedef struct {
    const struct opts *o;
    pl_set truth;
    int *qgroup;            /* truth query -> group */
    group groups[MAX_GROUPS];
    int ngroups;
    int32_t *artist;        /* track -> artist id, -1 unknown */
    int64_t nartist;
    unsigned char *done;    /* per truth query: scored */
} eval;

/* ---- setup: groups and artists ---- */

static int group_of(eval *e, const char *name) {
    for (int g = 0; g < e->ngroups; g++) if (!strcmp(e->groups[g].name, name)) return g;
    if (e->ngroups == MAX_GROUPS - 1) cli_die("more than %d query groups", MAX_GROUPS - 1);
    snprintf(e->groups[e->ngroups].name, sizeof e->groups[0].name, "%s", name);
    return e->ngroups++;
}

static int cmp_group(const void *a, const void *b) {
    const group *x = a, *y = b;
    long kx = strtol(x->name, NULL, 10), ky = strtol(y->name, NULL, 10);
    return (kx > ky) - (kx < ky);
}

static void load_groups(eval *e) {
    e->qgroup = calloc((size_t)(e->truth.n ? e->truth.n : 1), sizeof *e->qgroup);
    if (!e->qgroup) cli_die("out of memory");
    if (!e->o->queries) return;
    char err[1024];
    catalog q;
    if (cat_load(&q, e->o->queries, err, sizeof err)) cli_die("%s", err);
    int kc = cat_column(&q, "k");
    if (kc < 0) cli_die("%s: no 'k' column; give the query catalogue of mpd-split --queries", e->o->queries);
    for (int64_t r = 0; r < q.nrows; r++) group_of(e, cat_cell(&q, r, kc));
    qsort(e->groups, (size_t)e->ngroups, sizeof *e->groups, cmp_group);
    for (int64_t p = 0; p < e->truth.n; p++) {
        int64_t r = cat_find(&q, pl_key(&e->truth, p));
        if (r < 0) cli_die("%s: query '%s' of %s is missing; give the catalogue of the same split", e->o->queries, pl_key(&e->truth, p), e->o->truth);
        e->qgroup[p] = group_of(e, cat_cell(&q, r, kc));
    }
    cat_free(&q);
}

static void load_artists(eval *e) {
    char err[1024];
    catalog c;
    if (cat_load(&c, e->o->tracks, err, sizeof err)) cli_die("%s", err);
    int tc = cat_column(&c, "track"), uc = cat_column(&c, "artist_uri"), nc = cat_column(&c, "artist_name");
    if (tc < 0 || (uc < 0 && nc < 0)) cli_die("%s: needs columns track and artist_uri or artist_name (mpd-ingest --tracks)", e->o->tracks);
    e->nartist = c.nrows;
    if (!(e->artist = malloc((size_t)(c.nrows ? c.nrows : 1) * sizeof *e->artist))) cli_die("out of memory");
    strmap ids;
    strmap_init(&ids);
    /* artist_uri only when every track has one: mixing uris and names would
     * split one artist in two */
    int use_uri = uc >= 0 && c.nrows > 0;
    for (int64_t r = 0; r < c.nrows && use_uri; r++) use_uri = *cat_cell(&c, r, uc) != 0;
    int64_t known = 0, nid = 0;
    char fold[1024];
    for (int64_t r = 0; r < c.nrows; r++) {
        int64_t t = strtoll(cat_cell(&c, r, tc), NULL, 10);
        if (t != r) cli_die("%s:%" PRId64 ": track index out of order; give the file mpd-ingest wrote", e->o->tracks, r + 2);
        e->artist[r] = -1;
        if (use_uri) snprintf(fold, sizeof fold, "%s", cat_cell(&c, r, uc));
        else if (nc >= 0 && *cat_cell(&c, r, nc)) text_fold(cat_cell(&c, r, nc), fold, sizeof fold, 1);
        else continue;
        known++;
        int64_t had = strmap_put(&ids, fold, nid);
        if (had == -2) cli_die("out of memory");
        e->artist[r] = (int32_t)(had >= 0 ? had : nid++);
    }
    cli_warn("artist ids from %s: %" PRId64 " of %" PRId64 " tracks, %" PRId64 " artists",
             use_uri ? "artist_uri" : "the folded artist_name (some tracks have no artist_uri)", known, c.nrows, nid);
    strmap_free(&ids);
    cat_free(&c);
}

/* ---- scoring ---- */

static void add(group *g, double r, double n, double c, double ra) {
    g->n++; g->rprec += r; g->ndcg += n; g->clicks += c; g->rprec_art += ra;
}

static void score_query(eval *e, const char *file, const char *qid, const int32_t *R, int64_t nr, int64_t *ndup) {
    int64_t p = pl_find(&e->truth, qid);
    if (p < 0) cli_die("%s: query '%s' is not in the ground truth %s; score the recommendations of the same split", file, qid, e->o->truth);
    if (e->done[p]) cli_die("%s: query '%s' appears twice (its rows must be contiguous)", file, qid);
    e->done[p] = 1;
    const int32_t *G = pl_tracks(&e->truth, p);
    int64_t ng = pl_len(&e->truth, p), n = e->o->n;
    for (int64_t i = 1; i < nr && i < n; i++)      /* duplicates are legal input, but worth a warning */
        if (R[i] == R[i - 1]) { (*ndup)++; break; }
    double r = rm_r_precision(G, ng, R, nr, n), nd = rm_ndcg(G, ng, R, nr, n), c = rm_clicks(G, ng, R, nr, n);
    double ra = e->artist ? rm_r_precision_artist(G, ng, R, nr, n, e->artist, e->nartist) : r;
    if (isnan(r) || isnan(nd) || isnan(c) || isnan(ra)) cli_die("out of memory");
    add(&e->groups[e->qgroup[p]], r, nd, c, ra);
}

static void eval_file(eval *e, const char *file, char *model, size_t cap) {
    ts_reader *rd = cli_open_read(file);
    const ts_header *h;
    int rc = ts_next_tensor(rd, &h);
    if (rc < 0) cli_die("%s", ts_error(rd));
    if (rc == 0) cli_die("%s: the stream holds no tensor", ts_reader_name(rd));
    if (h->dtype != TS_I32 || h->row_elems < 1) cli_die("%s: tensor '%s' is not i32 track rows; give a recommendation stream (mpd-recommend)", ts_reader_name(rd), h->name);
    const cJSON *m = h->meta ? cJSON_GetObjectItemCaseSensitive(h->meta, "model") : NULL;
    if (cJSON_IsString(m)) snprintf(model, cap, "%s", m->valuestring);
    else {
        const char *b = strrchr(file, '/');
        snprintf(model, cap, "%s", b ? b + 1 : file);
    }
    int64_t width = h->row_elems, nr = 0, cap_r = 0, ndup = 0;
    int32_t *R = NULL;
    char qid[TS_MAX_KEY] = "";
    ts_block b;
    while ((rc = ts_read_block(rd, &b)) == 1) {
        const int32_t *d = b.data;
        for (int64_t i = 0; i < b.nrows; i++) {
            if (nr && strcmp(qid, b.keys[i])) { score_query(e, file, qid, R, nr, &ndup); nr = 0; }
            if (!nr) snprintf(qid, sizeof qid, "%s", b.keys[i]);
            if (nr == cap_r) {
                cap_r = cap_r ? cap_r * 2 : 1024;
                if (!(R = realloc(R, (size_t)cap_r * sizeof *R))) cli_die("out of memory");
            }
            R[nr++] = d[i * width];
        }
    }
    if (rc < 0) cli_die("%s", ts_error(rd));
    if (nr) score_query(e, file, qid, R, nr, &ndup);
    ts_close_read(rd);
    free(R);
    int64_t missing = 0;
    for (int64_t p = 0; p < e->truth.n; p++)
        if (!e->done[p]) { missing++; add(&e->groups[e->qgroup[p]], 0, 0, (double)e->o->n / 10.0 + 1.0, 0); }
    if (missing) cli_warn("%s: %" PRId64 " queries have no recommendations (scored 0, 0, %g clicks)", file, missing, (double)e->o->n / 10.0 + 1.0);
    if (ndup) cli_warn("%s: %" PRId64 " queries repeat a track in their list", file, ndup);
}

static void print_row(FILE *f, int tsv, const char *model, const char *k, const group *g, int art) {
    double n = g->n ? (double)g->n : NAN;
    if (tsv) fprintf(f, "%s\t%s\t%" PRId64 "\t%.6f\t%.6f\t%.6f\t%.6f\n", model, k, g->n, g->rprec / n, g->ndcg / n, g->clicks / n, g->rprec_art / n);
    else if (art) fprintf(f, "%-10s %-9s %7" PRId64 "  %8.4f  %8.4f  %8.3f  %10.4f\n", model, k, g->n, g->rprec / n, g->ndcg / n, g->clicks / n, g->rprec_art / n);
    else fprintf(f, "%-10s %-9s %7" PRId64 "  %8.4f  %8.4f  %8.3f\n", model, k, g->n, g->rprec / n, g->ndcg / n, g->clicks / n);
}

int main(int argc, char **argv) {
    cli_init("rec-eval", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    eval e = {.o = &o};
    char err[1024];
    if (pl_load(&e.truth, o.truth, NULL, err, sizeof err)) cli_die("%s", err);
    if (!e.truth.n) cli_die("%s: the ground truth holds no query", o.truth);
    if (!o.queries) group_of(&e, "all");
    load_groups(&e);
    if (o.tracks) load_artists(&e);
    if (!(e.done = malloc((size_t)e.truth.n))) cli_die("out of memory");
    FILE *f = outfile_open(o.out, 0);
    int art = e.artist != NULL;
    if (o.tsv) fputs("model\tk\tqueries\tr_precision\tndcg\tclicks\tr_precision_artist\n", f);
    else fprintf(f, "%-10s %-9s %7s  %8s  %8s  %8s%s\n", "model", "K", "queries", "R-prec", "NDCG", "clicks", art ? "  R-prec+art" : "");
    for (int i = 0; i < o.nrecs; i++) {
        char model[256];
        memset(e.done, 0, (size_t)e.truth.n);
        for (int g = 0; g < e.ngroups; g++) { char nm[32]; memcpy(nm, e.groups[g].name, sizeof nm); e.groups[g] = (group){0}; memcpy(e.groups[g].name, nm, sizeof nm); }
        eval_file(&e, o.recs[i], model, sizeof model);
        group all = {0};
        for (int g = 0; g < e.ngroups; g++) {
            const group *x = &e.groups[g];
            if (!x->n) continue;
            char k[48];
            snprintf(k, sizeof k, "%s%s", x->name, o.queries && !strcmp(x->name, "0") && !o.tsv ? " (title)" : "");
            if (o.queries) print_row(f, o.tsv, model, k, x, art);
            all.n += x->n; all.rprec += x->rprec; all.ndcg += x->ndcg; all.clicks += x->clicks; all.rprec_art += x->rprec_art;
        }
        print_row(f, o.tsv, model, "all", &all, art);
    }
    outfile_close(f);
    free(e.qgroup); free(e.artist); free(e.done);
    pl_free(&e.truth);
    return 0;
}
