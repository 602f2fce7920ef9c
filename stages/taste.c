/* taste - a listener's taste from a Spotify data export: per-track scores
 * (the taste notebook's rank score (N - rank) / N, or a play-time/skip score), joined to
 * the song catalogue by uri or by artist + title, and the labelled train/test
 * tables that train-mlp learns the taste from. */
#include "catalog.h"
#include "cli.h"
#include "history.h"
#include "outfile.h"
#include "rng.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: taste --catalog CAT.tsv [options] HISTORY...\n"
"Scores the tracks of a Spotify listening history and joins them to a song\n"
"catalogue.  HISTORY: a Spotify data export as downloaded (my_spotify_data.zip,\n"
"read in memory, or its extracted folder: history files in any subfolder,\n"
"such as 'Spotify Extended Streaming History/'), single history files (basic\n"
"StreamingHistory*.json / StreamingHistory_music_*.json, extended\n"
"Streaming_History_Audio_*.json / endsong*.json), or CSV files of ranked\n"
"tracks (title and artist columns, optional uri or track_id and rank\n"
"columns; rows in rank order).  Skipped and counted: Streaming_History_Video_*\n"
"files, podcast rows (an episode, no track), other rows without a track, and\n"
"the basic files of an export that holds extended history (same plays).  A\n"
"zip member with a '..' path part (zip-slip) refuses the archive.\n"
"\n"
"  --catalog FILE      catalogue TSV of csv-clean --catalog; key = track id\n"
"  --title-col C       its title column (default: track_name, name or title)\n"
"  --artist-col C      its artist column (default: track_artist, artists, artist)\n"
"  --score rank|plays  rank: (N - r) / N for the N most-played matched tracks,\n"
"                      r = 0 for the most played (the taste notebook's), so 1 .. 1/N; plays\n"
"                      counted from --min-ms, ties by total time; a ranked CSV\n"
"                      keeps its order.  plays: (1 - skip rate) x\n"
"                      log1p(minutes) / log1p(largest minutes), in [0, 1]\n"
"                      (default rank)\n"
"  --top N             keep the N best-scored tracks (default 0 = all matched\n"
"                      tracks with a counted play)\n"
"  --min-ms MS         a play counts from MS ms played (default 30000, Spotify's\n"
"                      stream threshold); basic histories have no skip flag: a\n"
"                      play shorter than this counts as a skip\n"
"  --max-file MIB      refuse a history file or zip member larger than MIB\n"
"                      MiB (default 1024)\n"
"  --enough-tracks N   below N matched tracks (default 200) or\n"
"  --enough-share F    a share F of the history's tracks (default 0.2), warn\n"
"                      that the model cannot learn this listener from this\n"
"                      catalogue\n"
"  -o FILE             scores of every matched track (default stdout): tensor\n"
"                      'taste' keyed by catalogue key, columns score, plays,\n"
"                      minutes, skip_rate, ranked (1: scored), best first\n"
"  --unmatched FILE    TSV of the history tracks not found: artist, title,\n"
"                      entries, plays (most played first)\n"
"Training tables (need --features):\n"
"  --features F.ts     the catalogue's feature tensor (csv-clean), same keys\n"
"  --train FILE        scored tracks plus --negatives unheard tracks: every\n"
"  --test FILE         column of F.ts, then 'taste' (the score, 0 for the\n"
"                      unheard) and 'heard' (1/0); split --test-share at\n"
"                      random within heard and unheard\n"
"  --negatives R       unheard catalogue tracks per scored track (default 1);\n"
"                      other ids of a heard song are never drawn\n"
"  --test-share F      share of rows in --test (default 0.25)\n"
"  --seed N            negatives and split (default 1)\n"
"  -h, --help          this help;  -V, --version\n"
"\n"
"Matching, in order: the spotify:track: uri against the catalogue key; then\n"
"title and artist folded: lower case, accents dropped (e with accent -> e,\n"
"sharp s -> ss), apostrophes dropped, '&' = 'and', all other punctuation and\n"
"spaces removed; then the same with the title cut before ' - ', ' (', ' [',\n"
"' feat. ', ' feat ', ' ft. ' or ' featuring ' and the artist before the feat.\n"
"markers (any case): 'Song - Remastered 2011', 'Song (feat. X)' and 'Song\n"
"feat. X' all match 'Song'.  What was read (files, rows, date range,\n"
"distinct tracks, skipped rows) and the match counts go to stderr.  Memory:\n"
"one history file at a time, the history's distinct tracks, the catalogue,\n"
"and the feature table.\n"
"Example:\n"
"  taste --catalog songs.tsv --features songs.ts --train train.ts --test test.ts \\\n"
"    -o scores.ts my_spotify_data/\n";

struct opts {
    const char *catalog, *title_col, *artist_col, *out, *unmatched, *features, *train, *test;
    int plays_score;
    long top, min_ms, seed, max_file_mib, enough_tracks;
    double negatives, test_share, enough_share;
    char **paths;
    int npaths;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.min_ms = 30000, .seed = 1, .negatives = 1, .test_share = 0.25, .max_file_mib = 1024,
                     .enough_tracks = 200, .enough_share = 0.2};
    static const struct option lo[] = {
        {"catalog", 1, 0, 'c'}, {"title-col", 1, 0, 'T'}, {"artist-col", 1, 0, 'A'}, {"score", 1, 0, 's'},
        {"top", 1, 0, 'n'}, {"min-ms", 1, 0, 'm'}, {"unmatched", 1, 0, 'u'}, {"features", 1, 0, 'f'},
        {"train", 1, 0, 'r'}, {"test", 1, 0, 't'}, {"negatives", 1, 0, 'N'}, {"test-share", 1, 0, 'S'},
        {"seed", 1, 0, 'e'}, {"output", 1, 0, 'o'}, {"max-file", 1, 0, 'M'}, {"enough-tracks", 1, 0, 'k'},
        {"enough-share", 1, 0, 'K'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o.catalog = optarg; break;
        case 'T': o.title_col = optarg; break;
        case 'A': o.artist_col = optarg; break;
        case 's':
            if (!strcmp(optarg, "rank")) o.plays_score = 0;
            else if (!strcmp(optarg, "plays")) o.plays_score = 1;
            else cli_usage("--score: '%s' is not rank or plays", optarg);
            break;
        case 'n': o.top = cli_long("--top", optarg, 0, 1L << 40); break;
        case 'm': o.min_ms = cli_long("--min-ms", optarg, 0, 1L << 40); break;
        case 'u': o.unmatched = optarg; break;
        case 'f': o.features = optarg; break;
        case 'r': o.train = optarg; break;
        case 't': o.test = optarg; break;
        case 'N': o.negatives = cli_double("--negatives", optarg, 0, 1000); break;
        case 'S': o.test_share = cli_double("--test-share", optarg, 0, 1); break;
        case 'e': o.seed = cli_long("--seed", optarg, 0, 1L << 62); break;
        case 'o': o.out = optarg; break;
        case 'M': o.max_file_mib = cli_long("--max-file", optarg, 1, 1L << 20); break;
        case 'k': o.enough_tracks = cli_long("--enough-tracks", optarg, 0, 1L << 40); break;
        case 'K': o.enough_share = cli_double("--enough-share", optarg, 0, 1); break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o.catalog) cli_usage("--catalog CAT.tsv is required (csv-clean --catalog writes it)");
    if (optind >= argc) cli_usage("no history: name the files or the folder of a Spotify data export");
    if ((o.train || o.test) && !o.features) cli_usage("--train/--test need --features F.ts");
    if (!!o.train != !!o.test) cli_usage("--train and --test go together");
    o.paths = argv + optind;
    o.npaths = argc - optind;
    return o;
}

/* per catalogue row heard: the history tracks matched to it, summed */
typedef struct {
    int64_t row, entries, plays, skips, order;
    double ms, score;
    int ranked;
} heard;

typedef struct {
    catalog cat;
    int tcol, acol;
    strmap exact, loose;        /* name keys -> catalogue row */
    strmap heard_names;         /* exact name keys of every history track */
    heard *h;
    int64_t nh;
    int64_t *heard_of_row;      /* catalogue row -> index into h, or -1 */
    int64_t by_uri, by_name, by_loose;
} join;

static void load_catalog(join *j, const struct opts *o) {
    char err[1024];
    if (cat_load(&j->cat, o->catalog, err, sizeof err)) cli_die("%s", err);
    static const char *const T[] = {"track_name", "name", "title", NULL}, *const A[] = {"track_artist", "artists", "artist", "artist_name", NULL};
    j->tcol = o->title_col ? cat_column(&j->cat, o->title_col) : cat_pick_column(&j->cat, T);
    j->acol = o->artist_col ? cat_column(&j->cat, o->artist_col) : cat_pick_column(&j->cat, A);
    if (j->tcol < 0 || j->acol < 0)
        cli_die("%s: no %s column in the catalogue (give --title-col/--artist-col)", o->catalog, j->tcol < 0 ? "title" : "artist");
    strmap_init(&j->exact); strmap_init(&j->loose); strmap_init(&j->heard_names);
    for (int64_t r = 0; r < j->cat.nrows; r++) {
        const char *t = cat_cell(&j->cat, r, j->tcol), *a = cat_cell(&j->cat, r, j->acol);
        if (!*t) continue;
        char *k1 = hist_name_key(t, a, 0), *k2 = hist_name_key(t, a, 1);
        if (!k1 || !k2 || strmap_put(&j->exact, k1, r) == -2 || strmap_put(&j->loose, k2, r) == -2) cli_die("out of memory");
        free(k1); free(k2);
    }
    if (!(j->heard_of_row = malloc((size_t)(j->cat.nrows + 1) * sizeof *j->heard_of_row))) cli_die("out of memory");
    for (int64_t r = 0; r < j->cat.nrows; r++) j->heard_of_row[r] = -1;
}

/* the catalogue row of history track t, or -1; counts the method */
static int64_t match_track(join *j, const hist_track *t) {
    int64_t r;
    if (t->uri && (r = cat_find(&j->cat, t->uri + 14)) >= 0) { j->by_uri++; return r; }
    char *k = hist_name_key(t->title, t->artist, 0);
    if (!k) cli_die("out of memory");
    if ((r = strmap_get(&j->exact, k)) >= 0) { j->by_name++; free(k); return r; }
    free(k);
    if (!(k = hist_name_key(t->title, t->artist, 1))) cli_die("out of memory");
    if ((r = strmap_get(&j->loose, k)) >= 0) j->by_loose++;
    free(k);
    return r;
}

static void match_all(join *j, const hist *hs, int64_t *row_of_track) {
    if (!(j->h = calloc((size_t)(hs->n ? hs->n : 1), sizeof *j->h))) cli_die("out of memory");
    for (int64_t i = 0; i < hs->n; i++) {
        const hist_track *t = &hs->t[i];
        char *k = hist_name_key(t->title, t->artist, 0);
        if (!k || strmap_put(&j->heard_names, k, i) == -2) cli_die("out of memory");
        free(k);
        int64_t r = row_of_track[i] = match_track(j, t);
        if (r < 0) continue;
        int64_t hi = j->heard_of_row[r];
        if (hi < 0) { hi = j->heard_of_row[r] = j->nh++; j->h[hi] = (heard){.row = r, .order = t->order}; }
        heard *h = &j->h[hi];
        h->entries += t->entries; h->plays += t->plays; h->skips += t->skips; h->ms += t->ms;
        if (t->order < h->order) h->order = t->order;
    }
}

static int ranked_input;
static int cmp_heard(const void *a, const void *b) {
    const heard *p = a, *q = b;
    if (p->ranked != q->ranked) return q->ranked - p->ranked;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    if (!ranked_input) {
        if (p->plays != q->plays) return p->plays > q->plays ? -1 : 1;
        if (p->ms != q->ms) return p->ms > q->ms ? -1 : 1;
    }
    return (p->order > q->order) - (p->order < q->order);
}

/* scores: sorts j->h best first and sets score/ranked; returns N scored */
static int64_t score_tracks(join *j, const struct opts *o, int ranked) {
    double maxlog = 0;
    for (int64_t i = 0; i < j->nh; i++) {
        heard *h = &j->h[i];
        h->ranked = ranked || (o->plays_score ? h->entries > 0 : h->plays > 0);
        if (o->plays_score) {
            h->score = (1 - (double)h->skips / (double)h->entries) * log1p(h->ms / 60000.0);
            if (log1p(h->ms / 60000.0) > maxlog) maxlog = log1p(h->ms / 60000.0);
        } else h->score = 0;
    }
    if (o->plays_score) for (int64_t i = 0; i < j->nh; i++) j->h[i].score = maxlog > 0 ? j->h[i].score / maxlog : 0;
    ranked_input = ranked;
    qsort(j->h, (size_t)j->nh, sizeof *j->h, cmp_heard);
    int64_t n = 0;
    while (n < j->nh && j->h[n].ranked) n++;
    if (o->top && n > o->top) n = o->top;
    for (int64_t i = 0; i < j->nh; i++) {
        j->heard_of_row[j->h[i].row] = i;
        if (i >= n) { j->h[i].ranked = 0; j->h[i].score = 0; }
        else if (!o->plays_score) j->h[i].score = (double)(n - i) / (double)n;   /* the taste notebook's: (N - rank) / N */
    }
    return n;
}

static void write_scores(const join *j, const char *path) {
    static const char *const cols[] = {"score", "plays", "minutes", "skip_rate", "ranked"};
    ts_header oh;
    if (ts_header_init(&oh, "taste", TS_F32, 5, cols) || !(oh.key_name = strdup(j->cat.colnames[0]))) cli_die("out of memory");
    ts_writer *w = cli_open_write(path);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    for (int64_t i = 0; i < j->nh; i++) {
        const heard *h = &j->h[i];
        float row[5] = {(float)h->score, (float)h->plays, (float)(h->ms / 60000.0),
                        h->entries ? (float)((double)h->skips / (double)h->entries) : 0, (float)h->ranked};
        if (ts_write_row(w, cat_cell(&j->cat, h->row, 0), row)) cli_die("%s", ts_werror(w));
    }
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    ts_header_free(&oh);
}

static int cmp_track_plays(const void *a, const void *b) {
    const hist_track *p = *(const hist_track *const *)a, *q = *(const hist_track *const *)b;
    if (p->plays != q->plays) return p->plays > q->plays ? -1 : 1;
    if (p->entries != q->entries) return p->entries > q->entries ? -1 : 1;
    return (p->order > q->order) - (p->order < q->order);
}

static void write_unmatched(const hist *hs, const int64_t *row_of_track, const char *path) {
    const hist_track **u = malloc((size_t)(hs->n ? hs->n : 1) * sizeof *u);
    if (!u) cli_die("out of memory");
    int64_t n = 0;
    for (int64_t i = 0; i < hs->n; i++) if (row_of_track[i] < 0) u[n++] = &hs->t[i];
    qsort(u, (size_t)n, sizeof *u, cmp_track_plays);
    FILE *f = outfile_open(path, 0);
    fputs("artist\ttitle\tentries\tplays\n", f);
    for (int64_t i = 0; i < n; i++) {
        for (const char *s = u[i]->artist; *s; s++) putc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
        putc('\t', f);
        for (const char *s = u[i]->title; *s; s++) putc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
        fprintf(f, "\t%lld\t%lld\n", (long long)u[i]->entries, (long long)u[i]->plays);
    }
    outfile_close(f);
    free(u);
}

/* the labelled rows: scored tracks (taste = score, heard = 1) and unheard
 * negatives (0, 0), every column of the feature table first */
typedef struct { int64_t frow; float taste, heard; int test; } labelled;

static int cmp_labelled(const void *a, const void *b) {
    const labelled *p = a, *q = b;
    return (p->frow > q->frow) - (p->frow < q->frow);
}

/* marks round(share * n) of rows[0..n) as test, chosen at random */
static void split(labelled *rows, int64_t n, double share, rng_state *g) {
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!idx) cli_die("out of memory");
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    rng_shuffle_i64(g, idx, n);
    int64_t nt = (int64_t)llround(share * (double)n);
    for (int64_t i = 0; i < n; i++) rows[idx[i]].test = i < nt;
    free(idx);
}

static ts_writer *open_table(const char *path, const ts_header *fh) {
    int64_t d = fh->row_elems;
    char **cols = malloc((size_t)(d + 2) * sizeof *cols);
    if (!cols) cli_die("out of memory");
    for (int64_t c = 0; c < d; c++) cols[c] = fh->columns[c];
    cols[d] = "taste";
    cols[d + 1] = "heard";
    ts_header oh;
    if (ts_header_init(&oh, "features", TS_F32, d + 2, (const char *const *)cols)) cli_die("out of memory");
    if (fh->key_name && !(oh.key_name = strdup(fh->key_name))) cli_die("out of memory");
    free(cols);
    ts_writer *w = cli_open_write(path);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    ts_header_free(&oh);
    return w;
}

static void write_tables(const join *j, const struct opts *o, int64_t npos) {
    ts_table f;
    char err[1024];
    if (ts_load_table(o->features, NULL, &f, err, sizeof err)) cli_die("%s", err);
    if ((f.h.dtype != TS_F32 && f.h.dtype != TS_F64) || !f.h.ncols)
        cli_die("%s: tensor '%s' needs f32/f64 rows with column names (csv-clean writes them)", o->features, f.h.name);
    if (ts_header_column(&f.h, "taste") >= 0 || ts_header_column(&f.h, "heard") >= 0)
        cli_die("%s: already has a column 'taste' or 'heard'; give the plain feature table", o->features);
    strmap fk;
    strmap_init(&fk);
    for (int64_t i = 0; i < f.nrows; i++) if (strmap_put(&fk, f.keys[i], i) == -2) cli_die("out of memory");
    labelled *pos = malloc((size_t)npos * sizeof *pos);
    int64_t *cand = malloc((size_t)(f.nrows ? f.nrows : 1) * sizeof *cand), np = 0, nc = 0, missing = 0;
    if (!pos || !cand) cli_die("out of memory");
    for (int64_t i = 0; i < npos; i++) {
        int64_t fr = strmap_get(&fk, cat_cell(&j->cat, j->h[i].row, 0));
        if (fr < 0) { missing++; continue; }
        pos[np++] = (labelled){fr, (float)j->h[i].score, 1, 0};
    }
    if (missing) cli_warn("%lld scored tracks are not in %s and are left out of the tables", (long long)missing, o->features);
    /* unheard: not matched, and not another id of a song the history names */
    for (int64_t i = 0; i < f.nrows; i++) {
        int64_t r = cat_find(&j->cat, f.keys[i]);
        if (r >= 0) {
            if (j->heard_of_row[r] >= 0) continue;
            char *k = hist_name_key(cat_cell(&j->cat, r, j->tcol), cat_cell(&j->cat, r, j->acol), 0);
            if (!k) cli_die("out of memory");
            int seen = strmap_get(&j->heard_names, k) >= 0;
            free(k);
            if (seen) continue;
        }
        cand[nc++] = i;
    }
    int64_t nneg = (int64_t)llround(o->negatives * (double)np);
    if (nneg > nc) { cli_warn("only %lld unheard tracks for %lld negatives", (long long)nc, (long long)nneg); nneg = nc; }
    rng_state g;
    rng_seed(&g, (uint64_t)o->seed);
    for (int64_t i = 0; i < nneg; i++) {       /* partial Fisher-Yates */
        int64_t k = i + (int64_t)rng_below(&g, (uint64_t)(nc - i));
        int64_t t = cand[i]; cand[i] = cand[k]; cand[k] = t;
    }
    labelled *rows = malloc((size_t)(np + nneg ? np + nneg : 1) * sizeof *rows);
    if (!rows) cli_die("out of memory");
    memcpy(rows, pos, (size_t)np * sizeof *rows);
    for (int64_t i = 0; i < nneg; i++) rows[np + i] = (labelled){cand[i], 0, 0, 0};
    split(rows, np, o->test_share, &g);
    split(rows + np, nneg, o->test_share, &g);
    qsort(rows, (size_t)(np + nneg), sizeof *rows, cmp_labelled);
    ts_writer *w[2] = {open_table(o->train, &f.h), open_table(o->test, &f.h)};
    int64_t d = f.h.row_elems, counts[2] = {0, 0};
    float *row = malloc((size_t)(d + 2) * sizeof *row);
    if (!row) cli_die("out of memory");
    for (int64_t i = 0; i < np + nneg; i++) {
        const char *src = (const char *)f.data + (size_t)rows[i].frow * f.h.row_bytes;
        for (int64_t c = 0; c < d; c++) row[c] = f.h.dtype == TS_F32 ? ((const float *)src)[c] : (float)((const double *)src)[c];
        row[d] = rows[i].taste;
        row[d + 1] = rows[i].heard;
        if (ts_write_row(w[rows[i].test], f.keys[rows[i].frow], row)) cli_die("%s", ts_werror(w[rows[i].test]));
        counts[rows[i].test]++;
    }
    for (int k = 0; k < 2; k++) {
        if (ts_end_tensor(w[k])) cli_die("%s", ts_werror(w[k]));
        cli_close_write(w[k]);
    }
    cli_warn("tables: %lld scored + %lld unheard rows; %lld in %s, %lld in %s",
             (long long)np, (long long)nneg, (long long)counts[0], o->train, (long long)counts[1], o->test);
    free(row); free(rows); free(pos); free(cand);
    strmap_free(&fk);
    ts_table_free(&f);
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

/* what was read, what was skipped, what matched; and a plain warning when
 * the catalogue holds too little of the history to learn from */
static void report(const hist *hs, const join *j, const struct opts *o, int64_t nscored) {
    int64_t plays = 0, matched = j->by_uri + j->by_name + j->by_loose;
    for (int64_t i = 0; i < hs->n; i++) plays += hs->t[i].plays;
    if (hs->ranked)
        cli_warn("read %lld file%s: %lld ranked rows, %lld distinct tracks", (long long)hs->files, plural(hs->files),
                 (long long)hs->entries, (long long)hs->n);
    else
        cli_warn("read %lld file%s: %lld plays of music (%lld of %ld s or more)%s%s%s%s, %lld distinct tracks",
                 (long long)hs->files, plural(hs->files), (long long)hs->entries, (long long)plays, o->min_ms / 1000,
                 hs->first_day[0] ? " from " : "", hs->first_day, hs->first_day[0] ? " to " : "", hs->last_day,
                 (long long)hs->n);
    if (hs->video_files || hs->podcast || hs->other || hs->basic_skipped)
        cli_warn("skipped: %lld video file%s (%lld row%s), %lld podcast row%s, %lld other row%s without a track "
                 "(audiobooks, ...), %lld basic file%s (the export's extended history holds the same plays)",
                 (long long)hs->video_files, plural(hs->video_files), (long long)hs->video_rows, plural(hs->video_rows),
                 (long long)hs->podcast, plural(hs->podcast), (long long)hs->other, plural(hs->other),
                 (long long)hs->basic_skipped, plural(hs->basic_skipped));
    double share = hs->n ? (double)matched / (double)hs->n : 0.0;
    cli_warn("matched %lld (%.1f %%: %lld by uri, %lld by title+artist, %lld by shortened title) of %lld distinct "
             "tracks to %lld catalogue rows of %s; %lld scored", (long long)matched, 100.0 * share,
             (long long)j->by_uri, (long long)j->by_name, (long long)j->by_loose, (long long)hs->n,
             (long long)j->nh, o->catalog, (long long)nscored);
    if (matched < o->enough_tracks || share < o->enough_share)
        cli_warn("warning: %lld matched tracks (%.1f %% of the history's %lld) are too few: the model cannot learn "
                 "this listener from this catalogue; it needs at least %ld matched tracks and %.0f %% of the "
                 "history.  What would help: a larger catalogue CSV with audio features and Spotify track ids "
                 "(columns track_id, track_name, track_artist and the model's inputs), given as "
                 "`make taste CATALOG=songs.csv`; the tracks not found are listed by --unmatched "
                 "(unmatched.tsv in make taste).", (long long)matched, 100.0 * share, (long long)hs->n,
                 o->enough_tracks, 100.0 * o->enough_share);
}

int main(int argc, char **argv) {
    cli_init("taste", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    char err[1024];
    hist hs;
    hist_init(&hs, o.min_ms);
    hs.max_file = (size_t)o.max_file_mib << 20;
    for (int i = 0; i < o.npaths; i++)
        if (hist_add_path(&hs, o.paths[i], err, sizeof err)) cli_die("%s", err);
    if (hs.ranked && hs.plays_input) cli_die("the history mixes ranked CSV lists and play histories; give one kind");
    if (hs.ranked && o.plays_score) cli_usage("--score plays needs play histories (a ranked CSV has no play times)");
    join j = {0};
    load_catalog(&j, &o);
    int64_t *row_of_track = malloc((size_t)(hs.n ? hs.n : 1) * sizeof *row_of_track);
    if (!row_of_track) cli_die("out of memory");
    match_all(&j, &hs, row_of_track);
    int64_t nscored = score_tracks(&j, &o, hs.ranked);
    report(&hs, &j, &o, nscored);
    if (nscored == 0) cli_die("no history track matched the catalogue %s with a counted play; nothing to score "
                              "(taste --unmatched FILE lists what was not found)", o.catalog);
    outfile_hold();         /* --unmatched, --train, --test and -o: all or none */
    if (o.unmatched) write_unmatched(&hs, row_of_track, o.unmatched);
    if (o.train) write_tables(&j, &o, nscored);
    if (o.out || !o.train) write_scores(&j, o.out);
    outfile_commit();
    free(row_of_track);
    free(j.h); free(j.heard_of_row);
    strmap_free(&j.exact); strmap_free(&j.loose); strmap_free(&j.heard_names);
    cat_free(&j.cat);
    hist_free(&hs);
    return 0;
}
