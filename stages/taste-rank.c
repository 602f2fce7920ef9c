/* taste-rank - use a taste model's predictions (embed --predict): the songs of
 * the catalogue a listener has not heard, best first; a percentage match for
 * a list of candidate songs; or the model's quality on held-out rows against
 * a popularity-only baseline. */
#include "catalog.h"
#include "cli.h"
#include "csvin.h"
#include "history.h"
#include "outfile.h"
#include "songversion.h"
#include "stats.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: taste-rank --pred PRED.ts [options]\n"
"Reads the predictions of a taste model (embed --predict over the catalogue's\n"
"features: one value per track, keyed by track id) and writes one of:\n"
"\n"
"  (default)            the -k best songs of the catalogue not heard yet\n"
"  --candidates FILE    a percentage match (100 x the prediction) per song of\n"
"                       FILE: one per line (a track id, a spotify:track: uri,\n"
"                       'Title - Artist' or a title), or a CSV with a header\n"
"                       naming an id column (track_id, id, uri) or a title\n"
"                       column (track_name, name, title) and an artist column\n"
"  --eval TEST.ts       quality on held-out rows of taste --test: ROC AUC of\n"
"                       heard vs unheard, Spearman rho of the prediction with\n"
"                       the score over the heard rows, accuracy of rounded\n"
"                       predictions against rounded scores, MSE; AUC and rho\n"
"                       also for the --baseline column alone\n"
"Options:\n"
"  --catalog FILE       catalogue TSV (csv-clean --catalog): titles, artists\n"
"                       (needed for the list and --candidates)\n"
"  --heard SCORES.ts    the listener's tracks (taste -o): left out of the list,\n"
"                       with every version of them (common/songversion.h)\n"
"  -k N                 songs in the list (default 20)\n"
"  --column C           prediction column (default: the first)\n"
"  --baseline COL       --eval baseline column of TEST.ts (default\n"
"                       track_popularity)\n"
"  --tsv                tab-separated lines instead of a readable table\n"
"  -o FILE              output (default stdout; FILE.tmp.* until complete)\n"
"  -h, --help           this help;  -V, --version\n"
"\n"
"The list: one version per song (remasters, remixes, live and radio edits,\n"
"feat. variants and duplicate ids folded by common/songversion.h), the\n"
"best-predicted one.  A candidate may be a Spotify uri or track link.\n"
"Memory: the predictions and the catalogue.\n"
"Example:\n"
"  embed -m taste.model --predict songs.ts > pred.ts\n"
"  taste-rank --pred pred.ts --catalog songs.tsv --heard scores.ts -k 10\n";

struct opts {
    const char *pred, *catalog, *heard, *candidates, *eval, *column, *baseline, *out;
    long k;
    int tsv;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.k = 20, .baseline = "track_popularity"};
    static const struct option lo[] = {
        {"pred", 1, 0, 'p'}, {"catalog", 1, 0, 'c'}, {"heard", 1, 0, 'H'}, {"candidates", 1, 0, 'C'},
        {"eval", 1, 0, 'e'}, {"column", 1, 0, 'l'}, {"baseline", 1, 0, 'b'}, {"tsv", 0, 0, 't'},
        {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'p': o.pred = optarg; break;
        case 'c': o.catalog = optarg; break;
        case 'H': o.heard = optarg; break;
        case 'C': o.candidates = optarg; break;
        case 'e': o.eval = optarg; break;
        case 'l': o.column = optarg; break;
        case 'b': o.baseline = optarg; break;
        case 't': o.tsv = 1; break;
        case 'k': o.k = cli_long("-k", optarg, 1, 1L << 30); break;
        case 'o': o.out = optarg; break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.pred) cli_usage("--pred PRED.ts is required (embed --predict writes it)");
    if (o.candidates && o.eval) cli_usage("--candidates and --eval are separate runs");
    if (!o.eval && !o.catalog) cli_usage("the list and --candidates need --catalog");
    return o;
}

/* ---- predictions ---- */
typedef struct {
    ts_table t;
    int col;
    strmap keys;
} preds;

static double value_at(const ts_table *t, int64_t row, int col) {
    const char *p = (const char *)t->data + (size_t)row * t->h.row_bytes;
    return t->h.dtype == TS_F32 ? ((const float *)p)[col] : ((const double *)p)[col];
}

static void load_f(const char *path, ts_table *t) {
    char err[1024];
    if (ts_load_table(path, NULL, t, err, sizeof err)) cli_die("%s", err);
    if (t->h.dtype != TS_F32 && t->h.dtype != TS_F64)
        cli_die("%s: tensor '%s' is %s; expected f32 or f64 rows", path, t->h.name, ts_dtype_name(t->h.dtype));
}

static int need_column(const ts_table *t, const char *name, const char *path) {
    int c = ts_header_column(&t->h, name);
    if (c < 0) cli_die("%s: no column '%s' in tensor '%s' (inspect --header lists them)", path, name, t->h.name);
    return c;
}

static void load_preds(preds *p, const struct opts *o) {
    load_f(o->pred, &p->t);
    p->col = o->column ? need_column(&p->t, o->column, o->pred) : 0;
    if (p->t.h.row_elems < 1) cli_die("%s: empty rows", o->pred);
    strmap_init(&p->keys);
    for (int64_t i = 0; i < p->t.nrows; i++) if (strmap_put(&p->keys, p->t.keys[i], i) == -2) cli_die("out of memory");
}

static double pred_of(const preds *p, const char *key) {
    int64_t r = strmap_get(&p->keys, key);
    return r < 0 ? NAN : value_at(&p->t, r, p->col);
}

/* ---- --eval ---- */
static void put_row(FILE *f, int tsv, const char *what, double model, double base) {
    if (tsv) fprintf(f, "%s\t%.6f\t%.6f\n", what, model, base);
    else if (isnan(base)) fprintf(f, "  %-34s %8.4f\n", what, model);
    else fprintf(f, "  %-34s %8.4f %10.4f\n", what, model, base);
}

static void evaluate(const preds *p, const struct opts *o) {
    ts_table t;
    load_f(o->eval, &t);
    int ct = need_column(&t, "taste", o->eval), ch = need_column(&t, "heard", o->eval), cb = need_column(&t, o->baseline, o->eval);
    int64_t n = t.nrows, nh = 0;
    if (n < 2) cli_die("%s: %lld rows; the evaluation needs held-out rows (taste --test-share)", o->eval, (long long)n);
    double *pv = malloc((size_t)n * sizeof *pv), *bv = malloc((size_t)n * sizeof *bv), *sv = malloc((size_t)n * sizeof *sv);
    double *r1 = malloc((size_t)n * sizeof *r1), *r2 = malloc((size_t)n * sizeof *r2);
    int *lab = malloc((size_t)n * sizeof *lab);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!pv || !bv || !sv || !r1 || !r2 || !lab || !idx) cli_die("out of memory");
    double mse = 0, acc = 0, ones = 0;
    for (int64_t i = 0; i < n; i++) {
        double y = value_at(&t, i, ct), pr = pred_of(p, t.keys[i]);
        if (isnan(pr)) cli_die("%s: key '%s' has no prediction in %s", o->eval, t.keys[i], o->pred);
        pv[i] = pr; bv[i] = value_at(&t, i, cb); lab[i] = value_at(&t, i, ch) > 0.5;
        mse += (pr - y) * (pr - y);
        acc += (pr >= 0.5) == (y >= 0.5);
        ones += y >= 0.5;
    }
    double auc_m = stats_auc(pv, lab, n, idx, r1), auc_b = stats_auc(bv, lab, n, idx, r1);
    /* Spearman over the heard rows: does the model order the listener's own tracks? */
    double rho_m = NAN, rho_b = NAN;
    for (int64_t i = 0; i < n; i++) if (lab[i]) { pv[nh] = pv[i]; bv[nh] = bv[i]; sv[nh++] = value_at(&t, i, ct); }
    if (nh >= 3) {
        double *rs = malloc((size_t)nh * sizeof *rs);
        if (!rs) cli_die("out of memory");
        stats_rank_average(sv, nh, rs, idx);
        stats_rank_average(pv, nh, r1, idx);
        stats_rank_average(bv, nh, r2, idx);
        rho_m = stats_pearson(r1, rs, nh);
        rho_b = stats_pearson(r2, rs, nh);
        free(rs);
    }
    FILE *f = outfile_open(o->out, 0);
    double maj = fmax(ones, (double)n - ones) / (double)n;
    if (o->tsv) fprintf(f, "metric\tmodel\tbaseline\nrows\t%lld\t%lld\nheard\t%lld\t%lld\n", (long long)n, (long long)n, (long long)nh, (long long)nh);
    else fprintf(f, "held-out rows: %lld (%lld heard, %lld unheard)\n  %-34s %8s %10s\n", (long long)n, (long long)nh,
                 (long long)(n - nh), "", "model", o->baseline);
    put_row(f, o->tsv, "auc_heard_vs_unheard", auc_m, auc_b);
    put_row(f, o->tsv, "spearman_score_heard", rho_m, rho_b);
    put_row(f, o->tsv, "accuracy_rounded", acc / (double)n, NAN);
    put_row(f, o->tsv, "accuracy_majority_class", maj, NAN);
    put_row(f, o->tsv, "mse", mse / (double)n, NAN);
    outfile_close(f);
    free(pv); free(bv); free(sv); free(r1); free(r2); free(lab); free(idx);
    ts_table_free(&t);
}

/* ---- the list and the candidates ---- */
typedef struct {
    catalog cat;
    int tcol, acol;
    strmap heard_keys, heard_names, listed;
} names;

static void load_names(names *n, const struct opts *o) {
    char err[1024];
    if (cat_load(&n->cat, o->catalog, err, sizeof err)) cli_die("%s", err);
    static const char *const T[] = {"track_name", "name", "title", NULL}, *const A[] = {"track_artist", "artists", "artist", "artist_name", NULL};
    n->tcol = cat_pick_column(&n->cat, T);
    n->acol = cat_pick_column(&n->cat, A);
    if (n->tcol < 0 || n->acol < 0) cli_die("%s: the catalogue needs a title and an artist column", o->catalog);
    strmap_init(&n->heard_keys); strmap_init(&n->heard_names); strmap_init(&n->listed);
    if (!o->heard) return;
    ts_table h;
    load_f(o->heard, &h);
    for (int64_t i = 0; i < h.nrows; i++) {
        if (strmap_put(&n->heard_keys, h.keys[i], i) == -2) cli_die("out of memory");
        int64_t r = cat_find(&n->cat, h.keys[i]);
        if (r < 0) continue;
        char *k = sv_version_key(cat_cell(&n->cat, r, n->tcol), cat_cell(&n->cat, r, n->acol));
        if (!k || strmap_put(&n->heard_names, k, i) == -2) cli_die("out of memory");
        free(k);
    }
    ts_table_free(&h);
}

static const preds *sort_p;
static int cmp_pred_desc(const void *a, const void *b) {
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    double u = value_at(&sort_p->t, i, sort_p->col), v = value_at(&sort_p->t, j, sort_p->col);
    if (u != v) return isnan(u) ? 1 : isnan(v) ? -1 : u > v ? -1 : 1;
    return (i > j) - (i < j);
}

static void put_song(FILE *f, int tsv, int64_t rank, double pct, const char *key, const char *title, const char *artist) {
    if (tsv) fprintf(f, "%lld\t%.1f\t%s\t%s\t%s\n", (long long)rank, pct, key, title, artist);
    else fprintf(f, "%4lld  %5.1f %%  %s - %s  [%s]\n", (long long)rank, pct, title, artist, key);
}

static void unheard_list(const preds *p, names *n, const struct opts *o) {
    int64_t N = p->t.nrows, *ord = malloc((size_t)(N ? N : 1) * sizeof *ord), shown = 0, skipped = 0;
    if (!ord) cli_die("out of memory");
    for (int64_t i = 0; i < N; i++) ord[i] = i;
    sort_p = p;
    qsort(ord, (size_t)N, sizeof *ord, cmp_pred_desc);
    FILE *f = outfile_open(o->out, 0);
    if (o->tsv) fputs("rank\tmatch_percent\tkey\ttitle\tartist\n", f);
    for (int64_t i = 0; i < N && shown < o->k; i++) {
        const char *key = p->t.keys[ord[i]];
        int64_t r = cat_find(&n->cat, key);
        if (r < 0 || strmap_get(&n->heard_keys, key) >= 0) { skipped++; continue; }
        const char *title = cat_cell(&n->cat, r, n->tcol), *artist = cat_cell(&n->cat, r, n->acol);
        char *nk = sv_version_key(title, artist);
        if (!nk) cli_die("out of memory");
        int dup = strmap_get(&n->heard_names, nk) >= 0 || strmap_put(&n->listed, nk, i) != -1;
        free(nk);
        if (dup) { skipped++; continue; }
        put_song(f, o->tsv, ++shown, 100 * value_at(&p->t, ord[i], p->col), key, title, artist);
    }
    outfile_close(f);
    free(ord);
}

/* queries of a candidates file: one per line, or from a CSV with a header */
typedef struct { char **q; int64_t n, cap; int ci, ct, ca; } queries;

static void add_query(queries *qs, const char *s) {
    if (qs->n == qs->cap) {
        qs->cap = qs->cap ? qs->cap * 2 : 64;
        if (!(qs->q = realloc(qs->q, (size_t)qs->cap * sizeof *qs->q))) cli_die("out of memory");
    }
    if (!(qs->q[qs->n++] = strdup(s))) cli_die("out of memory");
}

static int find_col(const csvin_row *r, const char *const *names) {
    for (int k = 0; names[k]; k++)
        for (int i = 0; i < r->nfields; i++) if (r->field[i] && !strcasecmp(r->field[i], names[k])) return i;
    return -1;
}

static int on_csv(void *ctx, const csvin_row *r) {
    queries *qs = ctx;
    if (r->index == 0) {
        static const char *const I[] = {"track_id", "id", "uri", "spotify_track_uri", "track_uri", NULL};
        static const char *const T[] = {"track_name", "name", "title", "song", "track", NULL};
        static const char *const A[] = {"track_artist", "artist", "artists", "artist_name", NULL};
        qs->ci = find_col(r, I); qs->ct = find_col(r, T); qs->ca = find_col(r, A);
        return 0;
    }
    const char *id = qs->ci >= 0 && qs->ci < r->nfields ? r->field[qs->ci] : NULL;
    const char *t = qs->ct >= 0 && qs->ct < r->nfields ? r->field[qs->ct] : NULL;
    const char *a = qs->ca >= 0 && qs->ca < r->nfields ? r->field[qs->ca] : NULL;
    if (id && *id) { add_query(qs, id); return 0; }
    if (!t || !*t) return 0;
    char *s = malloc(strlen(t) + (a ? strlen(a) : 0) + 4);
    if (!s) cli_die("out of memory");
    sprintf(s, a && *a ? "%s - %s" : "%s", t, a);
    add_query(qs, s);
    free(s);
    return 0;
}

static void read_queries(const char *path, queries *qs) {
    char err[1024], *line = NULL;
    size_t cap = 0;
    FILE *f = fopen(path, "r");
    if (!f) cli_die("%s: cannot open", path);
    ssize_t len = getline(&line, &cap, f);
    int csv = 0;
    if (len > 0) {      /* a header naming known columns: a CSV */
        line[strcspn(line, "\r\n")] = 0;
        char *l = line + (!strncmp(line, "\xEF\xBB\xBF", 3) ? 3 : 0);
        static const char *const known[] = {"track_id", "id", "uri", "track_name", "name", "title", "song", NULL};
        for (int k = 0; known[k] && !csv; k++) {
            size_t kl = strlen(known[k]);
            for (char *p = strcasestr(l, known[k]); p && !csv; p = strcasestr(p + 1, known[k]))
                csv = (p == l || p[-1] == ',') && (p[kl] == ',' || !p[kl]) && strchr(l, ',');
        }
    }
    if (csv) {
        fclose(f);
        csvin *c = csvin_open(path, ',', err, sizeof err);
        if (!c) cli_die("%s", err);
        qs->ci = qs->ct = qs->ca = -1;
        if (csvin_each(c, on_csv, qs) < 0) cli_die("%s", csvin_error(c));
        csvin_close(c);
        if (qs->ci < 0 && qs->ct < 0) cli_die("%s: no id or title column in the header", path);
    } else {
        for (long ln = 1; len > 0; len = getline(&line, &cap, f), ln++) {
            line[strcspn(line, "\r\n")] = 0;
            char *s = line + (ln == 1 && !strncmp(line, "\xEF\xBB\xBF", 3) ? 3 : 0);
            while (*s == ' ' || *s == '\t') s++;
            if (*s && *s != '#') add_query(qs, s);
        }
        fclose(f);
    }
    free(line);
    if (!qs->n) cli_die("%s: no candidate songs in the file", path);
}

static void candidates(const preds *p, names *n, const struct opts *o) {
    queries qs = {0};
    read_queries(o->candidates, &qs);
    cat_songs s;
    char err[1024];
    if (cat_songs_build(&s, &n->cat, n->tcol, n->acol, (const char *const *)p->t.keys, p->t.nrows, err, sizeof err)) cli_die("%s", err);
    FILE *f = outfile_open(o->out, 0);
    if (o->tsv) fputs("query\tmatch_percent\tkey\ttitle\tartist\n", f);
    int64_t missing = 0;
    for (int64_t i = 0; i < qs.n; i++) {
        const char *q = qs.q[i];
        if (!strncmp(q, "spotify:track:", 14)) q += 14;
        else if (!strncmp(q, "https://open.spotify.com/track/", 31)) q += 31;
        int64_t row = strmap_get(&p->keys, q), *rows = NULL, nr = 0;
        if (row < 0 && (nr = cat_songs_find(&s, qs.q[i], &rows)) > 0) row = rows[0];
        if (nr < 0) cli_die("out of memory");
        free(rows);
        if (row < 0) {
            missing++;
            if (o->tsv) fprintf(f, "%s\t\t\t\t\n", qs.q[i]);
            else fprintf(f, "     --    %s: not in the catalogue\n", qs.q[i]);
            continue;
        }
        int64_t r = cat_find(&n->cat, p->t.keys[row]);
        const char *title = r >= 0 ? cat_cell(&n->cat, r, n->tcol) : "", *artist = r >= 0 ? cat_cell(&n->cat, r, n->acol) : "";
        double pct = 100 * value_at(&p->t, row, p->col);
        if (o->tsv) fprintf(f, "%s\t%.1f\t%s\t%s\t%s\n", qs.q[i], pct, p->t.keys[row], title, artist);
        else fprintf(f, "  %5.1f %%  %s - %s  [%s]%s\n", pct, title, artist, p->t.keys[row], nr > 1 ? "  (first of several matches)" : "");
    }
    outfile_close(f);
    if (missing) cli_warn("%lld of %lld candidates are not in the catalogue", (long long)missing, (long long)qs.n);
    cat_songs_free(&s);
    for (int64_t i = 0; i < qs.n; i++) free(qs.q[i]);
    free(qs.q);
}

int main(int argc, char **argv) {
    cli_init("taste-rank", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    preds p;
    load_preds(&p, &o);
    if (o.eval) evaluate(&p, &o);
    else {
        names n;
        load_names(&n, &o);
        if (o.candidates) candidates(&p, &n, &o);
        else unheard_list(&p, &n, &o);
        strmap_free(&n.heard_keys); strmap_free(&n.heard_names); strmap_free(&n.listed);
        cat_free(&n.cat);
    }
    strmap_free(&p.keys);
    ts_table_free(&p.t);
    return 0;
}
