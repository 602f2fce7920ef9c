/* hybrid.c - songs like a song from up to three sources: item-item
 * co-occurrence in the playlists a user has (the playlist_id column of a
 * songs CSV such as spotify_songs.csv), the feature neighbours of knn, and,
 * for songs of a sound library (make library) whose title and artist tags
 * name a catalogue song, the neighbours of its sound; blended.  Songs in no
 * playlist fall back to the content; songs without sound to the features.
 * Also the held-out evaluation that chooses the blend, and every song's
 * neighbour list for other scorers. */
#include "catalog.h"
#include "cli.h"
#include "knn.h"
#include "outfile.h"
#include "playlists.h"
#include "plmembers.h"
#include "plmodel.h"
#include "songsearch.h"
#include "sound.h"
#include "strmap.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: hybrid --index SONGS.ts --catalog SONGS.tsv --playlists SONGS.csv\n"
"              [--mpd-playlists P.ts --mpd-tracks T.tsv] [options] QUERY\n"
"Songs like a song from its playlists, its features and (with a sound\n"
"library) its sound, blended.\n"
"\n"
"QUERY (one):\n"
"  --song TEXT         a song (title, 'TITLE - ARTIST', key, Spotify uri or link)\n"
"  --playlist 'A;B'    seed songs separated by ';': a candidate scores the mean\n"
"                      of its blends with the seeds; its reason and source\n"
"                      come from the seed it blends best with\n"
"  --eval              hold out whole playlists and print hit rate@10 of the\n"
"                      features alone and of the blend (below)\n"
"  --all               every song's -k neighbours as TSV lines: query_key rank\n"
"                      neighbour_key score source (for other scorers)\n"
"\n"
"Inputs:\n"
"  --index SONGS.ts    the feature rows (z-scored: normalize --method zscore)\n"
"  --catalog FILE      their catalogue (csv-clean --catalog)\n"
"  --playlists CSV     playlists: a CSV with columns track_id and playlist_id,\n"
"                      one line per (song, playlist); songs not in --index are\n"
"                      skipped (this and/or --mpd-playlists)\n"
"  --mpd-playlists TS  more playlists: an mpd-ingest stream (-o), its tracks\n"
"  --mpd-tracks TSV    joined to --index keys by track id (its track_uri\n"
"                      spotify:track:ID against the key ID); the join is\n"
"                      reported on stderr\n"
"  --sound-index TS   a sound library's vectors (make library: LIB/index.ts,\n"
"  --sound-tags TSV    keyed by file path) and its tags (LIB/tags.tsv: key,\n"
"                      title, artist); a library song whose title and artist\n"
"                      tags name a catalogue song (the version key of common/\n"
"                      songversion.h: versions folded, as knn, continue and\n"
"                      taste fold them) lends its vector to that song; the\n"
"                      match count is reported on stderr\n"
"  --exclude FILE      playlists left out of the co-occurrences (another\n"
"                      scorer's held-out ones): one name a line, its first\n"
"                      tab-separated field (members --heldout works as is)\n"
"Options:\n"
"  -k N                results (default 10)\n"
"  --sound-share S     the sound's share of the content part, 0..1, for pairs\n"
"                      of songs that both have sound (default 0.5: an even\n"
"                      split, not a measurement: pipelines/similarity.md)\n"
"  --blend W           the playlists' share, 0..1 (default 0.5; choose it with\n"
"                      --eval: 0.4 for spotify_songs.csv, 0.8 with the MPD,\n"
"                      make's HYBRID_BLEND defaults, README.md)\n"
"  --first             an ambiguous name takes the most popular original\n"
"  --text|--tsv|--json output (default text); TSV: query_key rank id score\n"
"                      title artist source reason; JSON lines: query, rank,\n"
"                      id, title, artist, score, source, reason\n"
"  --seed S            --eval: the split's seed (default 1)\n"
"  --holdout F         --eval: the test share (default 0.2, below)\n"
"  --threads N         search threads (default 2)\n"
"  -o FILE             output file (FILE.tmp.* renamed on success)\n"
"  -h, --help          this help;  -V, --version\n"
"\n"
"Score of a candidate t for query q (both sides in [0, 1]):\n"
"  (1 - W) * (1 + cos(q, t)) / 2 + W * P(q, t) / max_t' P(q, t')\n"
"where cos is the cosine of the feature rows and P the item-kNN weight of\n"
"the playlists, C[q,t] / (d_q^0.7 d_t^0.3 + 10) (C: playlists holding both,\n"
"d: playlists holding one; plmodel.h, the RecSys 2018 item kNN).  Candidates:\n"
"the 200 nearest feature rows and every song sharing a playlist with q.  A\n"
"song in no playlist has P = 0 everywhere: the feature order.  Source of a\n"
"result: 'playlists' when its playlist part is the larger, else 'features'.\n"
"With a sound library, when q and t both have sound vectors the content term\n"
"(1 + cos(q, t)) / 2 becomes\n"
"  (1 - S) * (1 + cos(q, t)) / 2 + S * (1 + cos_sound(q, t)) / 2\n"
"(S = --sound-share; cos_sound: the cosine of the library vectors); every\n"
"other pair scores as above.  Candidates then also hold the 200 library\n"
"songs (matched ones only) nearest to q's sound.  Source: the largest of the\n"
"three parts ('playlists' on a tie), 'sound' with the reason 'sounds like'.\n"
"Versions of the query and second versions of a song are left out\n"
"(common/songversion.h).\n"
"\n"
"Playlists are named csv:PLAYLIST_ID and mpd:PID, as members names them.\n"
"\n"
"--eval: playlists are split by plmem_split_u(seed, name) (common/\n"
"plmembers.h, the split of members and mpd-split): u < F test (F =\n"
"--holdout: the playlists members --holdout F holds out with the same\n"
"--seed), F <= u < F + (1 - F) / 4 validation (a quarter of members'\n"
"training playlists; 0.2 .. 0.4 by default), the rest training.  The blend\n"
"W is chosen among 0, 0.1, ... 1 on the validation playlists (co-occurrences\n"
"of the training ones), then the test playlists are scored with the\n"
"co-occurrences of training and validation playlists.  With a sound library\n"
"W is chosen without sound (S = 0), then S among 0, 0.1, ... 1 at that W on\n"
"the validation songs that have a sound vector (a tie keeps the smaller S),\n"
"and the test lines add those songs alone with and without sound; with no\n"
"validation song that has sound, it says S cannot be chosen.  Hit rate@10: for\n"
"each song of a held-out playlist in the index, its 10 results (its own\n"
"versions removed); a hit when one of them is another song of that\n"
"playlist; averaged over (playlist, song).\n"
"Memory: the index (as exact search needs it), the sound library's\n"
"vectors (the same: exact search), the playlists and their\n"
"co-occurrence pairs (the algorithm needs the item graph whole).\n";

#define CAND_FEATURES 200

typedef struct {
    const char *index, *catalog, *playlists, *exclude, *song, *output, *mpd_pl, *mpd_tracks, *sound_index, *sound_tags;
    int k, first, fmt, eval, all, threads, seeds;
    double blend, holdout, sound_share;
    unsigned long seed;
} opts;

enum { F_TEXT, F_TSV, F_JSON };

/* sparse item-item weights, CSR by row */
typedef struct {
    int64_t *off;
    int32_t *col;
    float *w;
    int32_t *cnt;       /* C[a,b] */
} item_graph;

static struct {
    opts o;
    ts_table tab;
    int d;
    knn_index ix;
    catalog cat;
    cat_songs songs;
    /* playlists: CSV rows as (playlist number, song row) */
    int64_t npl;
    char **pl_ids;
    int64_t *pl_off;
    int32_t *pl_rows;
    strmap excluded;
} A;

/* the sound library tied to the catalogue (stages/hybrid/sound.h) */
static hybrid_sound S;
static int64_t sound_of(int64_t r) { return hs_of(&S, r); }

static opts parse_opts(int argc, char **argv) {
    enum { O_INDEX = 256, O_CAT, O_PL, O_EXCL, O_SONG, O_EVAL, O_ALL, O_BLEND, O_FIRST, O_TEXT, O_TSV, O_JSON,
           O_SEED, O_THREADS, O_MPD_PL, O_MPD_TR, O_PLAYLIST, O_HOLDOUT, O_SOUND_INDEX, O_SOUND_TAGS, O_SOUND_SHARE };
    static const struct option lo[] = {
        {"index", 1, 0, O_INDEX}, {"catalog", 1, 0, O_CAT}, {"playlists", 1, 0, O_PL}, {"exclude", 1, 0, O_EXCL},
        {"song", 1, 0, O_SONG}, {"eval", 0, 0, O_EVAL}, {"all", 0, 0, O_ALL}, {"blend", 1, 0, O_BLEND},
        {"first", 0, 0, O_FIRST}, {"text", 0, 0, O_TEXT}, {"tsv", 0, 0, O_TSV}, {"json", 0, 0, O_JSON},
        {"seed", 1, 0, O_SEED}, {"threads", 1, 0, O_THREADS}, {"mpd-playlists", 1, 0, O_MPD_PL},
        {"mpd-tracks", 1, 0, O_MPD_TR}, {"playlist", 1, 0, O_PLAYLIST}, {"holdout", 1, 0, O_HOLDOUT},
        {"sound-index", 1, 0, O_SOUND_INDEX}, {"sound-tags", 1, 0, O_SOUND_TAGS}, {"sound-share", 1, 0, O_SOUND_SHARE}, {0, 0, 0, 0}};
    opts o = {.k = 10, .blend = 0.5, .seed = 1, .threads = 2, .holdout = 0.2, .sound_share = 0.5};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:o:", lo, NULL)) != -1) {
        switch (c) {
        case O_INDEX: o.index = optarg; break;
        case O_CAT: o.catalog = optarg; break;
        case O_PL: o.playlists = optarg; break;
        case O_EXCL: o.exclude = optarg; break;
        case O_MPD_PL: o.mpd_pl = optarg; break;
        case O_MPD_TR: o.mpd_tracks = optarg; break;
        case O_SONG: o.song = optarg; o.seeds = 0; break;
        case O_PLAYLIST: o.song = optarg; o.seeds = 1; break;
        case O_EVAL: o.eval = 1; break;
        case O_ALL: o.all = 1; break;
        case O_BLEND: o.blend = cli_double("--blend", optarg, 0, 1); break;
        case O_FIRST: o.first = 1; break;
        case O_TEXT: o.fmt = F_TEXT; break;
        case O_TSV: o.fmt = F_TSV; break;
        case O_JSON: o.fmt = F_JSON; break;
        case O_SOUND_INDEX: o.sound_index = optarg; break;
        case O_SOUND_TAGS: o.sound_tags = optarg; break;
        case O_SOUND_SHARE: o.sound_share = cli_double("--sound-share", optarg, 0, 1); break;
        case O_HOLDOUT: o.holdout = cli_double("--holdout", optarg, 0.01, 0.9); break;
        case O_SEED: o.seed = (unsigned long)cli_long("--seed", optarg, 0, 1L << 30); break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, 64); break;
        case 'k': o.k = (int)cli_long("-k", optarg, 1, 1000); break;
        case 'o': o.output = optarg; break;
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.index || !o.catalog) cli_usage("--index and --catalog are required");
    if (!o.playlists && !o.mpd_pl) cli_usage("give playlists: --playlists SONGS.csv and/or --mpd-playlists P.ts --mpd-tracks T.tsv");
    if (!!o.song + o.eval + o.all != 1) cli_usage("give one query: --song TEXT, --playlist 'A;B', --eval or --all");
    if (!o.mpd_pl != !o.mpd_tracks) cli_usage("--mpd-playlists and --mpd-tracks go together");
    if (!o.sound_index != !o.sound_tags) cli_usage("--sound-index and --sound-tags go together (a library's index.ts and tags.tsv)");
    return o;
}

/* ---- loading ---- */

typedef struct { int64_t excl; strmap pid; int64_t cap, n; int32_t *row; int64_t *pl; } pl_read;

static void add_pair(pl_read *p, const char *pid, int64_t row) {
    int64_t id = strmap_get(&p->pid, pid);
    if (id < 0) {
        id = A.npl;
        char **ni = realloc(A.pl_ids, sizeof *ni * (size_t)(A.npl + 1));
        if (!ni || !(ni[A.npl] = strdup(pid)) || strmap_put(&p->pid, pid, id) == -2) cli_die("out of memory");
        A.pl_ids = ni;
        A.npl++;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4096;
        if (!(p->row = realloc(p->row, sizeof *p->row * (size_t)p->cap)) || !(p->pl = realloc(p->pl, sizeof *p->pl * (size_t)p->cap)))
            cli_die("out of memory");
    }
    p->row[p->n] = (int32_t)row;
    p->pl[p->n++] = id;
}

/* one joined entry of common/plmembers.h's reader, unless its playlist is excluded */
static int on_entry(void *ctx, const char *pid, int64_t row) {
    pl_read *p = ctx;
    if (strmap_get(&A.excluded, pid) >= 0) { p->excl++; return 0; }
    add_pair(p, pid, row);
    return 0;
}

/* A.pl_off/pl_rows: each playlist's distinct song rows (CSR) */
static void load_playlists(void) {
    char err[1024];
    strmap_init(&A.excluded);
    if (A.o.exclude) {
        FILE *f = fopen(A.o.exclude, "r");
        if (!f) cli_die("%s: cannot open: %m", A.o.exclude);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            line[strcspn(line, "\t\r\n")] = 0;         /* the first field: members --heldout works as is */
            if (*line && strcmp(line, "playlist") && strmap_put(&A.excluded, line, 1) == -2) cli_die("out of memory");
        }
        free(line);
        fclose(f);
    }
    pl_read p = {0};
    plmem_stats st;
    strmap_init(&p.pid);
    if (A.o.playlists) {
        if (plmem_read_csv(A.o.playlists, "playlist_id", "track_id", "csv:", &A.songs.keymap, A.tab.nrows, on_entry, &p, &st,
                           err, sizeof err))
            cli_die("%s", err);
        cli_warn("%s: %" PRId64 " lines, %" PRId64 " in the index, %" PRId64 " playlists", A.o.playlists, st.rows, st.joined, A.npl);
    }
    if (A.o.mpd_pl) {
        int64_t before = A.npl;
        if (plmem_read_mpd(A.o.mpd_pl, A.o.mpd_tracks, "mpd:", &A.songs.keymap, A.tab.nrows, on_entry, &p, &st, err, sizeof err))
            cli_die("%s", err);
        cli_warn("%s: %" PRId64 " of %" PRId64 " playlist rows (%.1f%%) join the index by track id, %" PRId64 " distinct songs, "
                 "%" PRId64 " playlists", A.o.mpd_pl, st.joined, st.rows, st.rows ? 100.0 * st.joined / st.rows : 0, st.distinct, A.npl - before);
    }
    if (A.o.exclude) cli_warn("%s: %" PRId64 " entries of excluded playlists left out", A.o.exclude, p.excl);
    strmap_free(&p.pid);
    A.pl_off = calloc((size_t)A.npl + 1, sizeof *A.pl_off);
    A.pl_rows = malloc(sizeof *A.pl_rows * (size_t)(p.n ? p.n : 1));
    if (!A.pl_off || !A.pl_rows) cli_die("out of memory");
    for (int64_t i = 0; i < p.n; i++) A.pl_off[p.pl[i] + 1]++;
    for (int64_t i = 0; i < A.npl; i++) A.pl_off[i + 1] += A.pl_off[i];
    int64_t *fill = malloc(sizeof *fill * (size_t)(A.npl ? A.npl : 1));
    if (!fill) cli_die("out of memory");
    memcpy(fill, A.pl_off, sizeof *fill * (size_t)A.npl);
    for (int64_t i = 0; i < p.n; i++) A.pl_rows[fill[p.pl[i]]++] = p.row[i];
    free(fill); free(p.row); free(p.pl);
}

static void load_index(void) {
    char err[1024];
    if (ts_load_table(A.o.index, NULL, &A.tab, err, sizeof err)) cli_die("%s", err);
    if (A.tab.h.dtype != TS_F32 || A.tab.h.ndim != 1) cli_die("%s: the index must hold f32 vectors (normalize writes them)", A.o.index);
    A.d = (int)A.tab.h.row_elems;
    if (knn_index_build(&A.ix, A.tab.data, A.tab.nrows, A.d, KNN_COSINE)) cli_die("out of memory");
    if (cat_load(&A.cat, A.o.catalog, err, sizeof err)) cli_die("%s", err);
    static const char *const T[] = {"track_name", "name", "title", NULL}, *const AR[] = {"track_artist", "artists", "artist", NULL};
    if (cat_songs_build(&A.songs, &A.cat, cat_pick_column(&A.cat, T), cat_pick_column(&A.cat, AR),
                        (const char *const *)A.tab.keys, A.tab.nrows, err, sizeof err))
        cli_die("%s", err);
}

/* ---- the item graph of a set of playlists (plm_cooc_counts) ---- */

typedef struct { int64_t n, cap; int32_t *a, *b, *c; } pairs;

static int on_pair(void *ctx, int32_t a, int32_t b, int32_t c) {
    pairs *p = ctx;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1 << 16;
        if (!(p->a = realloc(p->a, sizeof *p->a * (size_t)p->cap)) || !(p->b = realloc(p->b, sizeof *p->b * (size_t)p->cap)) ||
            !(p->c = realloc(p->c, sizeof *p->c * (size_t)p->cap)))
            return 1;
    }
    p->a[p->n] = a; p->b[p->n] = b; p->c[p->n++] = c;
    return 0;
}

static const unsigned char *own_mask;
static int owns(void *ctx, int64_t p) { (void)ctx; return own_mask[p]; }

/* the item-kNN weights among the playlists p with mask[p] */
/* row t into the candidate list once (in[] marks the rows listed; a flag,
 * not a count, which would wrap past 255 seeds) */
static int64_t list_add(unsigned char *in, int64_t *list, int64_t nl, int64_t t) {
    if (!in[t]) { in[t] = 1; list[nl++] = t; }
    return nl;
}

static void graph_build(item_graph *g, const pl_set *set, const unsigned char *mask) {
    char err[512];
    pairs p = {0};
    int64_t np;
    own_mask = mask;
    if (plm_cooc_counts(set, owns, NULL, on_pair, &p, &np, err, sizeof err)) cli_die("%s", err);
    int64_t n = A.tab.nrows;
    double *deg = calloc((size_t)n, sizeof *deg);
    g->off = calloc((size_t)n + 1, sizeof *g->off);
    if (!deg || !g->off) cli_die("out of memory");
    for (int64_t i = 0; i < p.n; i++) {
        if (p.a[i] == p.b[i]) deg[p.a[i]] = p.c[i];
        else { g->off[p.a[i] + 1]++; g->off[p.b[i] + 1]++; }
    }
    for (int64_t i = 0; i < n; i++) g->off[i + 1] += g->off[i];
    int64_t m = g->off[n], *fill = malloc(sizeof *fill * (size_t)(n ? n : 1));
    g->col = malloc(sizeof *g->col * (size_t)(m ? m : 1));
    g->w = malloc(sizeof *g->w * (size_t)(m ? m : 1));
    g->cnt = malloc(sizeof *g->cnt * (size_t)(m ? m : 1));
    if (!fill || !g->col || !g->w || !g->cnt) cli_die("out of memory");
    memcpy(fill, g->off, sizeof *fill * (size_t)n);
    plm_graph_opts go = plm_graph_defaults(PLM_ITEMKNN);
    for (int64_t i = 0; i < p.n; i++) {
        int32_t a = p.a[i], b = p.b[i];
        if (a == b) continue;
        for (int side = 0; side < 2; side++) {
            int32_t s = side ? b : a, t = side ? a : b;
            int64_t j = fill[s]++;
            g->col[j] = t;
            g->cnt[j] = p.c[i];
            g->w[j] = (float)(p.c[i] / (pow(deg[s], go.alpha) * pow(deg[t], 1 - go.alpha) + go.shrink));
        }
    }
    free(fill); free(deg); free(p.a); free(p.b); free(p.c);
}

static void graph_free(item_graph *g) { free(g->off); free(g->col); free(g->w); free(g->cnt); }

/* ---- one query ---- */

typedef struct { int64_t row; double score, pl, feat, snd; int32_t cnt; } cand;

typedef struct {
    int64_t *lab;
    float *sc;
    cand *c;
    int64_t nc, cap;
    int64_t *slot;      /* row -> 1 + place in c, 0 none */
    int64_t *vseen;     /* version -> stamp */
    int64_t stamp;
} query_ws;

static int cand_order(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

static double cosine_rows(int64_t a, int64_t b) {
    const float *x = A.ix.x + a * A.d, *y = A.ix.x + b * A.d;    /* unit rows */
    double s = 0;
    for (int t = 0; t < A.d; t++) s += (double)x[t] * y[t];
    return s;
}

static cand *add_cand(query_ws *w, int64_t r) {
    if (w->slot[r]) return &w->c[w->slot[r] - 1];
    if (w->nc == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 512;
        if (!(w->c = realloc(w->c, sizeof *w->c * (size_t)w->cap))) cli_die("out of memory");
    }
    w->c[w->nc] = (cand){.row = r, .feat = NAN, .snd = NAN};
    w->slot[r] = ++w->nc;
    return &w->c[w->nc - 1];
}

/* The blend of candidate c (c->feat, c->pl set) for query row q: the help's
 * formula; the content term takes the sound's share Sh when both have
 * sound (Sh = 0: exactly the blend without a library). */
static void score_cand(cand *c, int64_t q, double W, double sh) {
    int64_t sq = sh > 0 ? sound_of(q) : -1, st = sq >= 0 ? sound_of(c->row) : -1;
    if (st < 0) {
        c->snd = NAN;
        c->score = (1 - W) * (1 + c->feat) / 2 + W * c->pl;
        return;
    }
    c->snd = hs_cosine(&S, sq, st);
    c->score = (1 - W) * ((1 - sh) * (1 + c->feat) / 2 + sh * (1 + c->snd) / 2) + W * c->pl;
}

/* Blended results of row q into rows/score/cands (up to k); feature
 * candidates lab/sc (CAND_FEATURES of them) searched already. */
static int blend_query(query_ws *w, const item_graph *g, int64_t q, const int64_t *lab, const float *sc, double W,
                       double sh, int k, cand *out) {
    w->nc = 0;
    for (int i = 0; i < CAND_FEATURES && lab[i] >= 0; i++) add_cand(w, lab[i])->feat = sc[i];
    double pmax = 0;
    for (int64_t j = g->off[q]; j < g->off[q + 1]; j++) if (g->w[j] > pmax) pmax = g->w[j];
    for (int64_t j = g->off[q]; j < g->off[q + 1]; j++) {
        cand *c = add_cand(w, g->col[j]);
        c->pl = g->w[j] / pmax;
        c->cnt = g->cnt[j];
    }
    int64_t snd_rows[HS_CAND];
    int ns = sh > 0 ? hs_neighbours(&S, q, snd_rows) : 0;
    for (int i = 0; i < ns; i++) add_cand(w, snd_rows[i]);
    for (int64_t i = 0; i < w->nc; i++) {
        cand *c = &w->c[i];
        if (isnan(c->feat)) c->feat = cosine_rows(q, c->row);
        score_cand(c, q, W, sh);
        w->slot[c->row] = 0;
    }
    qsort(w->c, (size_t)w->nc, sizeof *w->c, cand_order);
    w->stamp++;
    w->vseen[A.songs.version[q]] = w->stamp;
    int n = 0;
    for (int64_t i = 0; i < w->nc && n < k; i++) {
        int64_t v = A.songs.version[w->c[i].row];
        if (w->vseen[v] == w->stamp) continue;
        w->vseen[v] = w->stamp;
        out[n++] = w->c[i];
    }
    return n;
}

static void ws_init(query_ws *w, int64_t nq) {
    memset(w, 0, sizeof *w);
    w->lab = malloc(sizeof *w->lab * (size_t)nq * CAND_FEATURES);
    w->sc = malloc(sizeof *w->sc * (size_t)nq * CAND_FEATURES);
    w->slot = calloc((size_t)A.tab.nrows, sizeof *w->slot);
    w->vseen = calloc((size_t)A.tab.nrows, sizeof *w->vseen);
    if (!w->lab || !w->sc || !w->slot || !w->vseen) cli_die("out of memory");
}

static void ws_free(query_ws *w) { free(w->lab); free(w->sc); free(w->slot); free(w->vseen); free(w->c); }

/* feature candidates of rows q[0..nq) */
static void search_rows(query_ws *w, const int64_t *q, int64_t nq) {
    float *x = malloc(sizeof *x * (size_t)(nq ? nq : 1) * (size_t)A.d);
    if (!x) cli_die("out of memory");
    for (int64_t i = 0; i < nq; i++) memcpy(x + i * A.d, (const float *)A.tab.data + q[i] * A.d, sizeof *x * (size_t)A.d);
    knn_opts ko = {.k = CAND_FEATURES < A.tab.nrows ? CAND_FEATURES : (int)A.tab.nrows, .threads = A.o.threads, .self_first = -1};
    int64_t *lab = ko.k == CAND_FEATURES ? w->lab : malloc(sizeof *lab * (size_t)nq * (size_t)ko.k);
    float *sc = ko.k == CAND_FEATURES ? w->sc : malloc(sizeof *sc * (size_t)nq * (size_t)ko.k);
    if (!lab || !sc || knn_search(&A.ix, x, nq, &ko, lab, sc)) cli_die("out of memory searching");
    if (ko.k < CAND_FEATURES) {         /* a small index: pad the lists */
        for (int64_t i = 0; i < nq; i++)
            for (int j = 0; j < CAND_FEATURES; j++) {
                w->lab[i * CAND_FEATURES + j] = j < ko.k ? lab[i * ko.k + j] : -1;
                w->sc[i * CAND_FEATURES + j] = j < ko.k ? sc[i * ko.k + j] : NAN;
            }
        free(lab); free(sc);
    }
    /* the query itself is a candidate of its own list: blend_query drops it by version */
    free(x);
}

static pl_set playlists_as_set(void) {
    pl_set s;
    char err[512];
    pl_init(&s);
    for (int64_t p = 0; p < A.npl; p++)
        if (pl_add(&s, A.pl_ids[p], A.pl_rows + A.pl_off[p], A.pl_off[p + 1] - A.pl_off[p], err, sizeof err)) cli_die("%s", err);
    if (s.ntracks < A.tab.nrows) s.ntracks = (int32_t)A.tab.nrows;
    return s;
}

/* ---- --eval ---- */

/* 0 train, 1 validation, 2 test: the split of members and mpd-split
 * (common/plmembers.h), so that --eval tests the playlists members holds out
 * with the same --holdout and --seed, and validates on training ones only */
static int part_of(int64_t p) {
    double u = plmem_split_u(A.o.seed, A.pl_ids[p]), f = A.o.holdout;
    return u < f ? 2 : u < f + (1 - f) / 4 ? 1 : 0;
}

/* hit rate@10 over the songs of the playlists of part `part` (only those
 * with a sound vector when only_sound), for each of the nw blends W[], Sh[]
 * (hits[i]); returns the number of (playlist, song) pairs, and in
 * *with_sound how many of them have a sound vector */
static int64_t hit_rates(const item_graph *g, const int *part, int which, const double *W, const double *Sh, int nw,
                         double *hits, int64_t *with_sound, int only_sound) {
    query_ws w;
    int64_t *q = NULL, nq = 0, pairs_n = 0;
    int64_t *mark = calloc((size_t)A.tab.nrows, sizeof *mark), stamp = 0;
    cand out[10];
    if (!mark) cli_die("out of memory");
    for (int i = 0; i < nw; i++) hits[i] = 0;
    cli_progress prog;
    cli_progress_init(&prog, 0);
    for (int64_t p = 0; p < A.npl; p++) {
        if (part[p] != which) continue;
        cli_progress_update(&prog, "%s: %" PRId64 " songs scored", which == 1 ? "validation" : "test", pairs_n);
        int64_t len = A.pl_off[p + 1] - A.pl_off[p];
        if (len < 2) continue;
        free(q);
        if (!(q = malloc(sizeof *q * (size_t)len))) cli_die("out of memory");
        nq = 0;
        stamp++;
        for (int64_t j = 0; j < len; j++) {
            int64_t r = A.pl_rows[A.pl_off[p] + j], v = A.songs.version[r];
            if (mark[v] == stamp) continue;         /* one query per song of the playlist */
            mark[v] = stamp;
            q[nq++] = r;
        }
        if (nq < 2) continue;
        ws_init(&w, nq);
        search_rows(&w, q, nq);
        for (int64_t i = 0; i < nq; i++) {
            int has_sound = sound_of(q[i]) >= 0;
            if (only_sound && !has_sound) continue;
            pairs_n++;
            *with_sound += has_sound;
            for (int wi = 0; wi < nw; wi++) {
                int n = blend_query(&w, g, q[i], w.lab + i * CAND_FEATURES, w.sc + i * CAND_FEATURES, W[wi], Sh[wi], 10, out);
                int hit = 0;
                for (int j = 0; j < n && !hit; j++) hit = mark[A.songs.version[out[j].row]] == stamp;
                hits[wi] += hit;
            }
        }
        ws_free(&w);
    }
    cli_progress_done(&prog);
    free(q); free(mark);
    for (int i = 0; i < nw; i++) hits[i] = pairs_n ? hits[i] / pairs_n : 0;
    return pairs_n;
}

static void run_eval(FILE *f) {
    pl_set set = playlists_as_set();
    int *part = malloc(sizeof *part * (size_t)(A.npl ? A.npl : 1));
    unsigned char *mask = malloc((size_t)(A.npl ? A.npl : 1));
    if (!part || !mask) cli_die("out of memory");
    int64_t cnt[3] = {0};
    for (int64_t p = 0; p < A.npl; p++) cnt[part[p] = part_of(p)]++;
    double W[11], S0[11] = {0}, hv[11], hs[11], ht[3];
    for (int i = 0; i < 11; i++) W[i] = i / 10.0;
    item_graph g;
    for (int64_t p = 0; p < A.npl; p++) mask[p] = part[p] == 0;
    graph_build(&g, &set, mask);
    /* W first, without sound (S = 0: as with no library) */
    int64_t nv_snd = 0, nt_snd = 0, ns_snd = 0, nv = hit_rates(&g, part, 1, W, S0, 11, hv, &nv_snd, 0);
    int best = 0;
    for (int i = 1; i < 11; i++) if (hv[i] > hv[best]) best = i;
    /* then S at that W, on the validation songs that have sound */
    double Wb[11], sbest = 0;
    int nsv = 0, bs = 0;
    for (int i = 0; i < 11; i++) Wb[i] = W[best];
    if (nv_snd) {
        nsv = (int)hit_rates(&g, part, 1, Wb, W, 11, hs, &ns_snd, 1);
        for (int i = 1; i < 11; i++) if (hs[i] > hs[bs]) bs = i;     /* a tie keeps the smaller S */
        sbest = W[bs];
    }
    graph_free(&g);
    fprintf(f, "playlists: %" PRId64 " training, %" PRId64 " validation, %" PRId64 " test (seed %lu)\n",
            cnt[0], cnt[1], cnt[2], A.o.seed);
    fprintf(f, "validation hit rate@10 by blend W (%" PRId64 " songs):\n", nv);
    for (int i = 0; i < 11; i++) fprintf(f, "  W=%.1f  %.4f%s\n", W[i], hv[i], i == best ? "  <- chosen" : "");
    if (nv_snd) {
        fprintf(f, "validation hit rate@10 by sound share S at W=%.1f (the %d songs with a sound vector):\n", W[best], nsv);
        for (int i = 0; i < 11; i++) fprintf(f, "  S=%.1f  %.4f%s\n", W[i], hs[i], i == bs ? "  <- chosen" : "");
    }
    for (int64_t p = 0; p < A.npl; p++) mask[p] = part[p] != 2;
    graph_build(&g, &set, mask);
    double Wt[3] = {0, W[best], W[best]}, St[3] = {0, 0, sbest};
    int64_t nt = hit_rates(&g, part, 2, Wt, St, 2, ht, &nt_snd, 0);
    fprintf(f, "test hit rate@10 (%" PRId64 " songs of %" PRId64 " held-out playlists):\n", nt, cnt[2]);
    fprintf(f, "  features only   %.4f\n  hybrid W=%.1f    %.4f\n", ht[0], W[best], ht[1]);
    if (A.o.sound_index && nv_snd && nt_snd) {
        int64_t dummy = 0, nts = hit_rates(&g, part, 2, Wt, St, 3, ht, &dummy, 1);
        fprintf(f, "test hit rate@10 of the %" PRId64 " songs with a sound vector:\n", nts);
        fprintf(f, "  features only   %.4f\n  hybrid W=%.1f    %.4f\n  + sound S=%.1f   %.4f\n", ht[0], W[best], ht[1], sbest, ht[2]);
    }
    graph_free(&g);
    if (A.o.sound_index)
        fprintf(f, "sound: %" PRId64 " of %" PRId64 " validation and %" PRId64 " of %" PRId64 " test songs have a sound vector%s\n",
                nv_snd, nv, nt_snd, nt,
                !nv_snd ? "; with none in validation, S cannot be chosen on these playlists (--sound-share is a prior)"
                : !nt_snd ? "; with none in test, the chosen S cannot be tested" : "");
    pl_free(&set);
    free(part); free(mask);
}

/* ---- --song and --all ---- */

/* the part of the blend that gives c the most: 'playlists' (also on a
 * tie), 'sound' or 'features' (the help's three terms) */
static const char *source(const cand *c) {
    double W = A.o.blend, pl = c->cnt > 0 ? W * c->pl : -1;
    if (isnan(c->snd)) return pl >= (1 - W) * (1 + c->feat) / 2 ? "playlists" : "features";
    double sh = A.o.sound_share, f = (1 - W) * (1 - sh) * (1 + c->feat) / 2, s = (1 - W) * sh * (1 + c->snd) / 2;
    if (pl >= f && pl >= s) return "playlists";
    return s > f ? "sound" : "features";
}

static const char *reason(const cand *c, int64_t q, char *buf, size_t cap) {
    const char *src = source(c);
    if (strcmp(src, "sound") == 0) {
        snprintf(buf, cap, "sounds like '%s' (sound cosine %.2f)", A.songs.title[q] ? A.songs.title[q] : A.songs.key[q], c->snd);
        return buf;
    }
    if (strcmp(src, "playlists") == 0) {
        snprintf(buf, cap, "in %d playlist%s with '%s'", c->cnt, c->cnt == 1 ? "" : "s",
                 A.songs.title[q] ? A.songs.title[q] : A.songs.key[q]);
        return buf;
    }
    const float *x = (const float *)A.tab.data + q * A.d, *y = (const float *)A.tab.data + c->row * A.d;
    int b0 = -1, b1 = -1;
    for (int t = 0; t < A.d; t++) {
        double v = (double)x[t] * y[t];
        if (b0 < 0 || v > (double)x[b0] * y[b0]) { b1 = b0; b0 = t; }
        else if (b1 < 0 || v > (double)x[b1] * y[b1]) b1 = t;
    }
    if (A.tab.h.columns && b1 >= 0) snprintf(buf, cap, "closest in %s and %s", A.tab.h.columns[b0], A.tab.h.columns[b1]);
    else snprintf(buf, cap, "closest in features (cosine %.2f)", c->feat);
    return buf;
}

/* The rows a --song or --playlist names (distinct songs). */
static int resolve_seeds(int64_t **out) {
    char *text = strdup(A.o.song), *save = NULL, msg[2600];
    int64_t *seeds = malloc(sizeof *seeds * (strlen(A.o.song) + 1));
    int m = 0;
    if (!text || !seeds) cli_die("out of memory");
    const char *sep = A.o.seeds ? ";" : "";
    for (char *tok = *sep ? strtok_r(text, sep, &save) : text; tok; tok = *sep ? strtok_r(NULL, sep, &save) : NULL) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l && tok[l - 1] == ' ') tok[--l] = 0;
        if (!l) continue;
        int64_t r, *cands, nc;
        int rc = ss_resolve_song(&A.songs, tok, A.o.first, &r, &cands, &nc, msg, sizeof msg);
        if (rc < 0) cli_die("out of memory");
        if (rc != SS_FOUND) { free(cands); cli_die("%s%s", msg, rc == SS_AMBIGUOUS ? " or pass --first" : ""); }
        int dup = 0;
        for (int i = 0; i < m; i++) dup |= A.songs.version[seeds[i]] == A.songs.version[r];
        if (!dup) seeds[m++] = r;
        if (!*sep) break;
    }
    free(text);
    if (!m) cli_die("--playlist names no song");
    *out = seeds;
    return m;
}

static void put_result(FILE *f, const char *qk, int rank, const cand *c, const char *why) {
    const char *t = A.songs.title[c->row] ? A.songs.title[c->row] : "", *a = A.songs.artist[c->row] ? A.songs.artist[c->row] : "";
    if (A.o.fmt == F_TSV) {
        fprintf(f, "%s\t%d\t%s\t%.6g\t%s\t%s\t%s\t%s\n", qk, rank, A.songs.key[c->row], c->score, t, a, source(c), why);
    } else if (A.o.fmt == F_JSON) {
        cJSON *o = cJSON_CreateObject();
        if (!o) cli_die("out of memory");
        cJSON_AddStringToObject(o, "query", qk);
        cJSON_AddNumberToObject(o, "rank", rank);
        cJSON_AddStringToObject(o, "id", A.songs.key[c->row]);
        cJSON_AddStringToObject(o, "title", t);
        cJSON_AddStringToObject(o, "artist", a);
        cJSON_AddNumberToObject(o, "score", c->score);
        cJSON_AddStringToObject(o, "source", source(c));
        cJSON_AddStringToObject(o, "reason", why);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!s) cli_die("out of memory");
        fprintf(f, "%s\n", s);
        free(s);
    } else {
        fprintf(f, "%4d  %.4f  %s - %s  [%s]  (%s: %s)\n", rank, c->score, t, a, A.songs.key[c->row], source(c), why);
    }
}

/* One song: blend_query.  Several seeds: each candidate (the union of the
 * seeds' candidates) scores the mean of its blends with every seed; its
 * reason and source are those of the seed it blends best with. */
static void run_song(FILE *f) {
    int64_t *seeds;
    int m = resolve_seeds(&seeds);
    char why[512];
    pl_set set = playlists_as_set();
    unsigned char *mask = malloc((size_t)(A.npl ? A.npl : 1));
    cand *out = malloc(sizeof *out * (size_t)A.o.k);
    if (!mask || !out) cli_die("out of memory");
    memset(mask, 1, (size_t)(A.npl ? A.npl : 1));
    item_graph g;
    graph_build(&g, &set, mask);
    query_ws w;
    ws_init(&w, m);
    search_rows(&w, seeds, m);
    const char *qk = m == 1 ? A.songs.key[seeds[0]] : "playlist";
    int n = 0;
    int64_t *near = calloc((size_t)A.o.k, sizeof *near);
    if (!near) cli_die("out of memory");
    if (m == 1) {
        n = blend_query(&w, &g, seeds[0], w.lab, w.sc, A.o.blend, A.o.sound_share, A.o.k, out);
        for (int i = 0; i < n; i++) near[i] = seeds[0];
    } else {
        int64_t n_rows = A.tab.nrows, *list = NULL, nl = 0;
        double *acc = calloc((size_t)n_rows, sizeof *acc);
        float *p = calloc((size_t)n_rows, sizeof *p);
        cand *best = calloc((size_t)n_rows, sizeof *best);
        int64_t *bseed = malloc(sizeof *bseed * (size_t)n_rows);
        unsigned char *in = calloc((size_t)n_rows, 1);
        if (!acc || !p || !best || !bseed || !in || !(list = malloc(sizeof *list * (size_t)n_rows))) cli_die("out of memory");
        for (int i = 0; i < m; i++) {           /* the union of the candidates */
            for (int j = 0; j < CAND_FEATURES && w.lab[i * CAND_FEATURES + j] >= 0; j++)
                nl = list_add(in, list, nl, w.lab[i * CAND_FEATURES + j]);
            for (int64_t j = g.off[seeds[i]]; j < g.off[seeds[i] + 1]; j++)
                nl = list_add(in, list, nl, g.col[j]);
            int64_t snd_rows[HS_CAND];
            int ns = A.o.sound_share > 0 ? hs_neighbours(&S, seeds[i], snd_rows) : 0;
            for (int j = 0; j < ns; j++) nl = list_add(in, list, nl, snd_rows[j]);
        }
        for (int i = 0; i < m; i++) {
            int64_t s = seeds[i];
            double pmax = 0;
            for (int64_t j = g.off[s]; j < g.off[s + 1]; j++) if (g.w[j] > pmax) pmax = g.w[j];
            for (int64_t j = g.off[s]; j < g.off[s + 1]; j++) p[g.col[j]] = (float)(g.w[j] / pmax);
            for (int64_t l = 0; l < nl; l++) {
                int64_t t = list[l];
                cand c = {.row = t, .feat = cosine_rows(s, t), .pl = p[t]};
                for (int64_t j = g.off[s]; j < g.off[s + 1] && p[t] > 0; j++) if (g.col[j] == t) c.cnt = g.cnt[j];
                score_cand(&c, s, A.o.blend, A.o.sound_share);
                acc[t] += c.score / m;
                if (i == 0 || c.score > best[t].score) { best[t] = c; bseed[t] = s; }
            }
            for (int64_t j = g.off[s]; j < g.off[s + 1]; j++) p[g.col[j]] = 0;
        }
        w.nc = 0;
        for (int64_t l = 0; l < nl; l++) {
            cand *c = add_cand(&w, list[l]);
            *c = best[list[l]];
            c->score = acc[list[l]];
            w.slot[list[l]] = 0;
        }
        qsort(w.c, (size_t)w.nc, sizeof *w.c, cand_order);
        w.stamp++;
        for (int i = 0; i < m; i++) w.vseen[A.songs.version[seeds[i]]] = w.stamp;
        for (int64_t i = 0; i < w.nc && n < A.o.k; i++) {
            int64_t v = A.songs.version[w.c[i].row];
            if (w.vseen[v] == w.stamp) continue;
            w.vseen[v] = w.stamp;
            near[n] = bseed[w.c[i].row];
            out[n++] = w.c[i];
        }
        free(acc); free(p); free(best); free(bseed); free(in); free(list);
    }
    if (A.o.fmt == F_TEXT) {
        char src[64];
        int with_sound = 0;
        for (int i = 0; i < m; i++) with_sound |= sound_of(seeds[i]) >= 0;
        if (with_sound) snprintf(src, sizeof src, "playlists, features and sound, W=%.2f S=%.2f", A.o.blend, A.o.sound_share);
        else snprintf(src, sizeof src, "playlists and features, W=%.2f", A.o.blend);
        if (m == 1)
            fprintf(f, "Songs like '%s' by %s (%s; score in [0, 1], higher is better):\n",
                    A.songs.title[seeds[0]] ? A.songs.title[seeds[0]] : qk, A.songs.artist[seeds[0]] ? A.songs.artist[seeds[0]] : "?", src);
        else
            fprintf(f, "Songs like the playlist of %d songs (%s; score in [0, 1], higher is better):\n", m, src);
    }
    for (int i = 0; i < n; i++) {
        reason(&out[i], near[i], why, sizeof why);
        if (m > 1 && strncmp(why, "in ", 3) != 0 && strncmp(why, "sounds ", 7) != 0)
            snprintf(why, sizeof why, "nearest to '%s'", A.songs.title[near[i]] ? A.songs.title[near[i]] : A.songs.key[near[i]]);
        put_result(f, qk, i + 1, &out[i], why);
    }
    ws_free(&w);
    graph_free(&g);
    pl_free(&set);
    free(mask); free(out); free(near); free(seeds);
}

static void run_all(FILE *f) {
    pl_set set = playlists_as_set();
    unsigned char *mask = malloc((size_t)(A.npl ? A.npl : 1));
    cand *out = malloc(sizeof *out * (size_t)A.o.k);
    enum { CHUNK = 1024 };
    int64_t q[CHUNK];
    if (!mask || !out) cli_die("out of memory");
    memset(mask, 1, (size_t)(A.npl ? A.npl : 1));
    item_graph g;
    graph_build(&g, &set, mask);
    query_ws w;
    ws_init(&w, CHUNK);
    cli_progress prog;
    cli_progress_init(&prog, 0);
    for (int64_t s = 0; s < A.tab.nrows; s += CHUNK) {
        int64_t nq = A.tab.nrows - s < CHUNK ? A.tab.nrows - s : CHUNK;
        for (int64_t i = 0; i < nq; i++) q[i] = s + i;
        search_rows(&w, q, nq);
        for (int64_t i = 0; i < nq; i++) {
            int n = blend_query(&w, &g, q[i], w.lab + i * CAND_FEATURES, w.sc + i * CAND_FEATURES, A.o.blend, A.o.sound_share,
                                A.o.k, out);
            for (int j = 0; j < n; j++)
                fprintf(f, "%s\t%d\t%s\t%.6g\t%s\n", A.songs.key[q[i]], j + 1, A.songs.key[out[j].row], out[j].score, source(&out[j]));
        }
        cli_progress_update(&prog, "%" PRId64 " songs", s + nq);
    }
    cli_progress_done(&prog);
    ws_free(&w);
    graph_free(&g);
    pl_free(&set);
    free(mask); free(out);
}

int main(int argc, char **argv) {
    cli_init("hybrid", argc, argv, HELP);
    cli_blas_tune(argv);
    A.o = parse_opts(argc, argv);
    load_index();
    hs_load(&S, A.o.sound_index, A.o.sound_tags, &A.songs, A.tab.nrows);
    load_playlists();
    FILE *f = outfile_open(A.o.output, 0);
    if (A.o.eval) run_eval(f);
    else if (A.o.all) run_all(f);
    else run_song(f);
    outfile_close(f);
    for (int64_t p = 0; p < A.npl; p++) free(A.pl_ids[p]);
    free(A.pl_ids); free(A.pl_off); free(A.pl_rows);
    strmap_free(&A.excluded);
    cat_songs_free(&A.songs);
    cat_free(&A.cat);
    knn_index_free(&A.ix);
    hs_free(&S);
    ts_table_free(&A.tab);
    return EXIT_OK;
}
