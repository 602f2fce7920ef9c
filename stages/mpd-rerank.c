/* mpd-rerank.c - the second stage of playlist continuation: the union of
 * several generators' recommendation lists re-ranked by gradient-boosted
 * trees with a ranking objective (XGBoost's C API; rank:pairwise, or
 * LambdaMART's rank:ndcg), as in the RecSys Challenge 2018 winners'
 * two-stage model (Volkovs et al., "Two-stage model for automatic playlist
 * continuation at scale"). */
#include "catalog.h"
#include "cli.h"
#include "hash.h"
#include "outfile.h"
#include "playlists.h"
#include "plmembers.h"
#include "plmodel.h"
#include "plvocab.h"
#include "recmetrics.h"
#include "text.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

static const char HELP[] =
"Usage: mpd-rerank --names NAMES.tsv --tracks TRACKS.tsv SPLIT [--split SPLIT ...]\n"
"       SPLIT: --train TRAIN.ts --queries Q.tsv --seeds SEEDS.ts --gen NAME=RECS.ts ...\n"
"       fit:   each SPLIT with --truth TRUTH.ts; --save MODEL.json [tree options]\n"
"       apply: one SPLIT; --model MODEL.json [-o RECS.ts]\n"
"Re-ranks the union of the generators' lists (mpd-recommend -o, one --gen per\n"
"generator, each covering exactly the queries of Q.tsv) with gradient-boosted\n"
"trees (XGBoost's ranking objectives).  Fit on validation queries (mpd-split of the\n"
"training playlists) with their truth; apply to other queries with the same\n"
"generators in the same order.  Features of a (query, candidate):\n"
"  every generator's rank (missing when outside its list), how many lists\n"
"  hold it; the count models' scores recomputed from TRAIN (co-occurrence\n"
"  sum, itemknn, rp3beta with mpd-recommend's defaults), raw and relative to\n"
"  the query's best candidate; co-occurrence with the last seed; log\n"
"  popularity; its share among the training playlists of the query's title\n"
"  and their count; the share of the seeds by its artist and by its album; K;\n"
"  its cosine similarity C[s,t] / sqrt(d_s d_t) to the seeds (max, mean, mean\n"
"  over the last 3 distinct seeds) and the share of the seeds it co-occurs\n"
"  with; log popularity minus the seeds' mean; artist co-occurrence: the\n"
"  playlists holding both its artist and a seed's artist, summed over the\n"
"  seeds' distinct artists, divided by those artists' playlists (share) and\n"
"  by sqrt(its artist's playlists x theirs) (cosine).  Seeds unknown to\n"
"  TRAIN count in K only; without a known seed the seed features are missing.\n"
"Memory: each split's training set (CSR, ~12 bytes a row); fitting holds every\n"
"candidate's features (4 x features bytes a candidate), applying a batch\n"
"of 256 queries.\n"
"\n"
"  --gen NAME=FILE   a generator's recommendations (repeat; order matters)\n"
"  --split           fit: begins the next split, with its own --train,\n"
"                    --queries, --seeds, --truth, --gen (the same names in the\n"
"                    same order) and --als: several validation splits, each\n"
"                    with generators fitted on its own training part; the\n"
"                    trees learn from the queries of all, each with features\n"
"                    from its own TRAIN (at most 16 splits)\n"
"  --depth D         candidates: the first D of each list (default 500)\n"
"  -n N              tracks per query written (default 500)\n"
"  --truth FILE      fit: the ground truth keyed by qid (mpd-split --truth)\n"
"  --save FILE       fit: the model, XGBoost's JSON model format\n"
"  --model FILE      apply: a model of --save; repeat to route the queries by\n"
"                    K: a model fitted with --ks re-ranks the queries of its\n"
"                    K, the one fitted without (at most one) all others\n"
"  --als FILE        ALS factors of TRAIN (mpd-train --model als -o FILE):\n"
"                    also the features als_score (the folded-in query's\n"
"                    factors . the candidate's, as mpd-recommend --model als\n"
"                    scores), als_score_rel (minus the query's best\n"
"                    candidate's), als_sim_max and als_sim_mean (cosine of\n"
"                    the candidate's factors with the seeds'); give the ALS\n"
"                    model of the same TRAIN at fit and apply\n"
"  --drop LIST       leave these features out (comma-separated names as in\n"
"                    the model's songpipe_features; give the same at apply)\n"
"  --holdout F       fit: hold out the queries of the playlists whose hash of\n"
"                    (--seed, 'holdout/' pid) is below F, in every split, fit\n"
"                    on the rest (the model saved) and print the R-precision,\n"
"                    NDCG and clicks per K of the held-out queries (each\n"
"                    generator's, and the trees' after 1/4, 1/2, 3/4 and all\n"
"                    rounds, with the ratios to cooc's; per split, then all\n"
"                    splits together) to stderr (default 0: none)\n"
"  --ks LIST         fit: learn from (and hold out) only the queries whose K\n"
"                    (seeds shown) is in LIST, e.g. 1 or 5,10 (default: all)\n"
"  --neg-sample R    fit: keep each non-relevant candidate of a training\n"
"                    query with probability R, by a hash of (--seed, qid,\n"
"                    track) (default 1: all)\n"
"  --features FILE   fit: also write the training matrix (tensor\n"
"                    'rerank_features', f32, the features then 'label', keyed\n"
"                    by qid, one run per query) for the benchmark's peer\n"
"  --objective O     rank:pairwise (default; chosen on validation queries,\n"
"                    pipelines/playlists.md) or rank:ndcg (LambdaMART)\n"
"  --trees T         boosting rounds (default 100)\n"
"  --max-depth D     tree depth (default 6)\n"
"  --eta E           learning rate (default 0.1)\n"
"  --min-child W     min_child_weight (default 1)\n"
"  --seed S          XGBoost's seed (default 1)\n"
"  --threads T       XGBoost's threads (default 2); the same seed, threads\n"
"                    and input give the same model and lists\n"
"  -o FILE           recommendation stream (default stdout): tensor 'recs',\n"
"                    i32 track keyed by qid, best first; the model's path and\n"
"                    options in the metadata\n"
"  -h, --help        this help;  -V, --version\n";

#define MAX_GEN 16
#define MAX_SPLIT 16
#define BATCH 256
#define MAX_MODEL 8

/* one split's inputs: a TRAIN, its queries, seeds and truth, the
 * generators' lists of those queries (fit: --split begins the next one) */
struct split_opts {
    const char *train, *queries, *seeds, *truth, *als;
    int ngen;
    const char *gen_name[MAX_GEN], *gen_path[MAX_GEN];
};

struct opts {
    int nsplit;
    struct split_opts sp[MAX_SPLIT];
    int ngen;                       /* generators (every split's the same, in order: sp[0].gen_name) */
    long depth, n, trees, max_depth, seed, threads;
    double eta, min_child, holdout, neg_sample;
    const char *objective, *drop, *als;     /* als: the first split's (every split gives one or none) */
    const char *ks;                 /* fit: only the queries of these K (NULL: all) */
    const char *names, *tracks, *truth, *save, *out, *features;
    int nmodel;                     /* apply: --model, in the order given */
    const char *model[MAX_MODEL];
};

/* --gen NAME=FILE into split sp */
static void add_gen(struct split_opts *sp, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) cli_usage("--gen '%s': give NAME=FILE (e.g. cooc=recs-cooc.ts)", arg);
    if (sp->ngen == MAX_GEN) cli_usage("--gen: at most %d generators", MAX_GEN);
    for (const char *p = arg; p < eq; p++)
        if (!(*p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            cli_usage("--gen '%s': a name holds letters, digits, - and _ only", arg);
    char *name = strndup(arg, (size_t)(eq - arg));
    if (!name) cli_die("out of memory");
    for (int i = 0; i < sp->ngen; i++)
        if (!strcmp(sp->gen_name[i], name)) cli_usage("--gen: generator '%s' given twice", sp->gen_name[i]);
    sp->gen_name[sp->ngen] = name;
    sp->gen_path[sp->ngen++] = eq + 1;
}

/* a split's option given twice would silently replace the first */
static void set_once(const char **field, const char *opt, const char *arg, int split) {
    if (*field) cli_usage("%s given twice for split %d; begin the next split with --split", opt, split + 1);
    *field = arg;
}

/* every split complete, with the first split's generators in its order */
static void check_splits(struct opts *o) {
    for (int k = 0; k < o->nsplit; k++) {
        struct split_opts *sp = &o->sp[k];
        if ((!sp->train || !sp->queries || !sp->seeds) && o->nsplit == 1)
            cli_usage("--train, --names, --tracks, --queries and --seeds are required");
        if (!sp->train || !sp->queries || !sp->seeds) cli_usage("split %d: --train, --queries and --seeds are required for each split", k + 1);
        if (!sp->ngen && o->nsplit == 1) cli_usage("give at least one --gen NAME=RECS.ts");
        if (!sp->ngen) cli_usage("split %d: give at least one --gen NAME=RECS.ts", k + 1);
        if (!!sp->truth != !!o->sp[0].truth) cli_usage("split %d: give --truth for every split or for none", k + 1);
        if (!!sp->als != !!o->sp[0].als) cli_usage("split %d: give --als for every split or for none (the features must be the same)", k + 1);
        if (sp->ngen != o->sp[0].ngen) cli_usage("split %d: %d generators, split 1 has %d; give the same --gen names in the same order", k + 1, sp->ngen, o->sp[0].ngen);
        for (int g = 0; g < sp->ngen; g++)
            if (strcmp(sp->gen_name[g], o->sp[0].gen_name[g]))
                cli_usage("split %d: generator %d is '%s', split 1's is '%s'; give the same --gen names in the same order",
                          k + 1, g + 1, sp->gen_name[g], o->sp[0].gen_name[g]);
    }
    o->ngen = o->sp[0].ngen;
    o->truth = o->sp[0].truth;
    o->als = o->sp[0].als;
}

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.nsplit = 1, .depth = 500, .n = 500, .trees = 100, .max_depth = 6, .seed = 1, .threads = 2,
                     .eta = 0.1, .min_child = 1, .holdout = 0, .neg_sample = 1, .objective = "rank:pairwise"};
    static const struct option lo[] = {
        {"gen", 1, 0, 'g'}, {"depth", 1, 0, 'D'}, {"truth", 1, 0, 'y'}, {"save", 1, 0, 'S'},
        {"model", 1, 0, 'M'}, {"objective", 1, 0, 'O'}, {"trees", 1, 0, 'T'}, {"max-depth", 1, 0, 'd'},
        {"eta", 1, 0, 'e'}, {"min-child", 1, 0, 'c'}, {"seed", 1, 0, 's'}, {"threads", 1, 0, 'j'},
        {"train", 1, 0, 't'}, {"names", 1, 0, 'N'}, {"tracks", 1, 0, 'k'}, {"queries", 1, 0, 'q'},
        {"seeds", 1, 0, 'Q'}, {"output", 1, 0, 'o'}, {"features", 1, 0, 'F'}, {"drop", 1, 0, 'x'},
        {"holdout", 1, 0, 'H'}, {"neg-sample", 1, 0, 'R'}, {"als", 1, 0, 'A'}, {"split", 0, 0, 'P'}, {"ks", 1, 0, 'K'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:n:", lo, NULL)) != -1) {
        struct split_opts *sp = &o.sp[o.nsplit - 1];
        switch (c) {
        case 'g': add_gen(sp, optarg); break;
        case 'P':
            if (o.nsplit == MAX_SPLIT) cli_usage("--split: at most %d splits", MAX_SPLIT);
            o.nsplit++;
            break;
        case 'D': o.depth = cli_long("--depth", optarg, 1, 1 << 20); break;
        case 'n': o.n = cli_long("-n", optarg, 1, 1 << 20); break;
        case 'T': o.trees = cli_long("--trees", optarg, 1, 100000); break;
        case 'd': o.max_depth = cli_long("--max-depth", optarg, 1, 20); break;
        case 's': o.seed = cli_long("--seed", optarg, 0, 2147483647L); break;
        case 'j': o.threads = cli_long("--threads", optarg, 1, 256); break;
        case 'e': o.eta = cli_double("--eta", optarg, 1e-6, 1); break;
        case 'c': o.min_child = cli_double("--min-child", optarg, 0, 1e9); break;
        case 'O':
            if (strcmp(optarg, "rank:ndcg") && strcmp(optarg, "rank:pairwise"))
                cli_usage("--objective: '%s' is not rank:pairwise or rank:ndcg", optarg);
            o.objective = optarg;
            break;
        case 'y': set_once(&sp->truth, "--truth", optarg, o.nsplit - 1); break;
        case 'S': o.save = optarg; break;
        case 'M':
            if (o.nmodel == MAX_MODEL) cli_usage("--model: at most %d models", MAX_MODEL);
            o.model[o.nmodel++] = optarg;
            break;
        case 't': set_once(&sp->train, "--train", optarg, o.nsplit - 1); break;
        case 'N': o.names = optarg; break;
        case 'k': o.tracks = optarg; break;
        case 'q': set_once(&sp->queries, "--queries", optarg, o.nsplit - 1); break;
        case 'Q': set_once(&sp->seeds, "--seeds", optarg, o.nsplit - 1); break;
        case 'o': o.out = optarg; break;
        case 'F': o.features = optarg; break;
        case 'x': o.drop = optarg; break;
        case 'K':
            for (const char *p = optarg; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p == ',' && p > optarg && p[1] && p[1] != ',')))
                    cli_usage("--ks '%s': give numbers of seeds separated by commas (e.g. 1 or 5,10)", optarg);
            if (!*optarg) cli_usage("--ks: empty");
            o.ks = optarg;
            break;
        case 'A': set_once(&sp->als, "--als", optarg, o.nsplit - 1); break;
        case 'H': o.holdout = cli_double("--holdout", optarg, 0, 0.95); break;
        case 'R': o.neg_sample = cli_double("--neg-sample", optarg, 1e-6, 1); break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.names || !o.tracks) cli_usage("--train, --names, --tracks, --queries and --seeds are required");
    check_splits(&o);
    if (!!o.save == !!o.nmodel) cli_usage("give either --truth and --save (fit) or --model (apply)");
    if (o.save && !o.truth) cli_usage("--save needs --truth (the fit learns from the ground truth)");
    if (o.nmodel && o.truth) cli_usage("--truth is for fitting (--save); apply takes --model only");
    if (o.nmodel && o.nsplit > 1) cli_usage("--split is for fitting (--save); apply re-ranks the queries of one split");
    if (o.save && o.out) cli_usage("-o is for apply; the fit writes --save");
    if (o.features && !o.save) cli_usage("--features is for fitting (--save)");
    if (!o.save && (o.holdout > 0 || o.neg_sample < 1)) cli_usage("--holdout and --neg-sample are for fitting (--save)");
    if (!o.save && o.ks) cli_usage("--ks is for fitting (--save)");
    return o;
}

/* ---- features ---- */

enum { F_K, F_POP, F_COOC, F_COOC_REL, F_KNN, F_KNN_REL, F_RP3, F_RP3_REL, F_LAST, F_TITLE, F_TITLE_N,
       F_ARTIST, F_ALBUM, F_NGEN, F_SIM_MAX, F_SIM_MEAN, F_SIM_LAST3, F_COVER, F_POP_REL, F_ART_COOC,
       F_ART_COS, F_BASE };
/* with --als: after the base features */
enum { F_ALS_SCORE, F_ALS_REL, F_ALS_SIM_MAX, F_ALS_SIM_MEAN, F_ALS_N };
static const char *const als_names[F_ALS_N] = {"als_score", "als_score_rel", "als_sim_max", "als_sim_mean"};
static const char *const base_names[F_BASE] = {
    "k", "log_pop", "cooc", "cooc_rel", "itemknn", "itemknn_rel", "rp3beta", "rp3beta_rel",
    "last_seed_cooc", "title_share", "title_playlists", "artist_share", "album_share", "n_lists",
    "sim_max", "sim_mean", "sim_last3", "seed_cover", "pop_rel", "artist_cooc", "artist_cos"};

/* one split's data: the training playlists' model (and artist index, ALS
 * factors), the queries with their seeds, truth and generators' lists */
typedef struct {
    const struct split_opts *o;
    pl_set train, seeds, truth, gen[MAX_GEN];
    catalog names, queries;
    const char **titles;
    plm_model m;
    /* artist -> the training playlists holding it, playlist -> its artists
     * (both distinct, CSR) */
    int64_t *art_off, *plart_off;
    int32_t *art_pl, *plart;
    plm_als_model als;              /* --als */
    float *als_norm;                /* per track: |y_t| */
    int kc, nc, pc;
} split;

typedef struct {
    struct opts *o;
    split sp[MAX_SPLIT], *cur;      /* cur: the split whose query is being built */
    int nsplit;
    int32_t ntracks;                /* every split's models and the scratch arrays */
    catalog tracks;
    int32_t *artist, *album;        /* track -> id, -1 unknown */
    int64_t nartist, nalbum;
    /* per-query scratch over the tracks, reset after each query */
    float *cooc, *knn, *rp3, *last, *title, *row, *rprow;
    float *sim_max, *sim_sum, *sim_last3, *cover;
    int32_t *touched, *rowt, *cand_of;
    int64_t ntouched;
    int32_t *art_cnt, *alb_cnt;
    int32_t *art_co, *art_touched;  /* per-query artist co-occurrence counts */
    int64_t nart_touched;
    unsigned char *is_truth, *is_seed;
    /* the candidates of a batch */
    int32_t *cand;
    float *X, *label;
    unsigned *group;
    int64_t *group_q;               /* the query of each group */
    int *group_split;               /* and its split */
    int64_t nrows, cap, ngroups, gcap;
    int nfeat, nfull;               /* kept features; all of them (X's width while a query is built) */
    int keep[F_BASE + F_ALS_N + MAX_GEN];   /* kept column -> feature */
    int frank;                      /* the first rank column (after the ALS features) */
    /* --holdout: the held-out queries' candidates and features */
    float *Xh;
    int32_t *candh;
    int64_t nh, hcap, *hq, *hstart, nhq, hqcap;
    int *hq_split;
    BoosterHandle booster;          /* fit */
    BoosterHandle mb[MAX_MODEL];    /* apply: --model's, in order */
    char *mks[MAX_MODEL];           /* their --ks (NULL: fitted on every K) */
    int route[BATCH];               /* apply: a batch query's model */
    float *Xg;                      /* apply: the rows of one model's queries, gathered */
    DMatrixHandle dm;
    int32_t *out;
    const char **keys;
} job;
static job J;       /* reachable from a static: cli_die leaves no leak report */

static void xgb_check(int rc, const char *what) {
    if (rc) cli_die("XGBoost: %s: %s", what, XGBGetLastError());
}

static void *xalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) cli_die("out of memory");
    return p;
}

static char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) cli_die("out of memory");
    return p;
}

/* artist ids as rec-eval makes them (artist_uri when every track has one,
 * else the folded artist_name); album = artist id + folded album_name */
static void load_track_ids(job *j) {
    catalog *c = &j->tracks;
    int tc = cat_column(c, "track"), uc = cat_column(c, "artist_uri"), nc = cat_column(c, "artist_name"),
        ac = cat_column(c, "album_name");
    if (tc < 0 || (uc < 0 && nc < 0)) cli_die("%s: needs columns track and artist_uri or artist_name (mpd-ingest --tracks)", j->o->tracks);
    int64_t nt = j->ntracks;
    j->artist = xalloc((size_t)nt, sizeof *j->artist);
    j->album = xalloc((size_t)nt, sizeof *j->album);
    for (int64_t t = 0; t < nt; t++) j->artist[t] = j->album[t] = -1;
    int use_uri = uc >= 0 && c->nrows > 0;
    for (int64_t r = 0; r < c->nrows && use_uri; r++) use_uri = *cat_cell(c, r, uc) != 0;
    strmap ids, albums;
    strmap_init(&ids);
    strmap_init(&albums);
    char fold[1024], key[2200];
    for (int64_t r = 0; r < c->nrows && r < nt; r++) {
        int64_t t = strtoll(cat_cell(c, r, tc), NULL, 10);
        if (t != r) cli_die("%s:%" PRId64 ": track index out of order; give the file mpd-ingest wrote", j->o->tracks, r + 2);
        if (use_uri) snprintf(fold, sizeof fold, "%s", cat_cell(c, r, uc));
        else if (nc >= 0 && *cat_cell(c, r, nc)) text_fold(cat_cell(c, r, nc), fold, sizeof fold, 1);
        else continue;
        int64_t had = strmap_put(&ids, fold, j->nartist);
        if (had == -2) cli_die("out of memory");
        j->artist[r] = (int32_t)(had >= 0 ? had : j->nartist++);
        if (ac < 0 || !*cat_cell(c, r, ac)) continue;
        char af[1024];
        text_fold(cat_cell(c, r, ac), af, sizeof af, 1);
        snprintf(key, sizeof key, "%d\t%s", j->artist[r], af);
        had = strmap_put(&albums, key, j->nalbum);
        if (had == -2) cli_die("out of memory");
        j->album[r] = (int32_t)(had >= 0 ? had : j->nalbum++);
    }
    strmap_free(&ids);
    strmap_free(&albums);
    j->art_cnt = xalloc((size_t)j->nartist, sizeof *j->art_cnt);
    j->alb_cnt = xalloc((size_t)j->nalbum, sizeof *j->alb_cnt);
}

/* artist -> distinct training playlists and playlist -> distinct artists
 * (two CSR pairs, 4 bytes a (playlist, artist) pair each way) */
static void build_artist_index(job *j, split *sp) {
    plm_model *m = &sp->m;
    int64_t na = j->nartist, np = m->npl;
    int64_t *stamp = xalloc((size_t)(na ? na : 1), sizeof *stamp);
    for (int64_t a = 0; a < na; a++) stamp[a] = -1;
    sp->art_off = xalloc((size_t)na + 1, sizeof *sp->art_off);
    sp->plart_off = xalloc((size_t)np + 1, sizeof *sp->plart_off);
    int64_t pairs = 0;
    for (int64_t p = 0; p < np; p++) {
        for (int64_t r = m->pl_off[p]; r < m->pl_off[p + 1]; r++) {
            int32_t a = j->artist[m->pl_tr[r]];
            if (a < 0 || stamp[a] == p) continue;
            stamp[a] = p;
            sp->art_off[a + 1]++;
            pairs++;
        }
        sp->plart_off[p + 1] = pairs;
    }
    for (int64_t a = 0; a < na; a++) sp->art_off[a + 1] += sp->art_off[a];
    sp->art_pl = xalloc((size_t)pairs, sizeof *sp->art_pl);
    sp->plart = xalloc((size_t)pairs, sizeof *sp->plart);
    int64_t *fill = xalloc((size_t)(na ? na : 1), sizeof *fill);
    for (int64_t a = 0; a < na; a++) { fill[a] = sp->art_off[a]; stamp[a] = -1; }
    int64_t k = 0;
    for (int64_t p = 0; p < np; p++)
        for (int64_t r = m->pl_off[p]; r < m->pl_off[p + 1]; r++) {
            int32_t a = j->artist[m->pl_tr[r]];
            if (a < 0 || stamp[a] == p) continue;
            stamp[a] = p;
            sp->plart[k++] = a;
            sp->art_pl[fill[a]++] = (int32_t)p;
        }
    free(stamp);
    free(fill);
}

static double degree(const plm_model *m, int32_t t) { return (double)(m->tr_off[t + 1] - m->tr_off[t]); }

static void touch(job *j, int32_t t) {
    if (j->cooc[t] == 0 && j->title[t] == 0 && j->last[t] == 0) j->touched[j->ntouched++] = t;
}

/* the count models' scores of every track the seeds reach: one pass over
 * each distinct seed's playlists (the cost of mpd-recommend's itemknn) */
static int64_t score_seeds(job *j, const int32_t *seeds, int64_t ns) {
    plm_model *m = &j->cur->m;
    plm_graph_opts gk = plm_graph_defaults(PLM_ITEMKNN), gr = plm_graph_defaults(PLM_RP3BETA);
    int32_t last = -1, last3[3] = {-1, -1, -1};
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks && degree(m, seeds[i]) > 0) last = seeds[i];
    /* the last 3 distinct known seeds */
    int n3 = 0;
    for (int64_t i = ns - 1; i >= 0 && n3 < 3; i--) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks || degree(m, s) == 0) continue;
        if ((n3 > 0 && last3[0] == s) || (n3 > 1 && last3[1] == s)) continue;
        last3[n3++] = s;
    }
    int64_t nknown = 0;
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks || j->is_seed[s]) continue;
        j->is_seed[s] = 1;
        double ds = degree(m, s);
        if (ds == 0) continue;
        nknown++;
        int64_t nr = 0;
        for (int64_t q = m->tr_off[s]; q < m->tr_off[s + 1]; q++) {
            int32_t p = m->tr_pl[q];
            double len = (double)(m->pl_off[p + 1] - m->pl_off[p]);
            float w = (float)pow(1.0 / (ds * len), gr.alpha);
            for (int64_t r = m->pl_off[p]; r < m->pl_off[p + 1]; r++) {
                int32_t t = m->pl_tr[r];
                if (t == s) continue;
                if (j->row[t] == 0) j->rowt[nr++] = t;
                j->row[t] += 1;
                j->rprow[t] += w;   /* the walk's weight, divided by d_t^beta below */
            }
        }
        int in_last3 = s == last3[0] || s == last3[1] || s == last3[2];
        for (int64_t r = 0; r < nr; r++) {
            int32_t t = j->rowt[r];
            double c = j->row[t], dt = degree(m, t);
            float cs = (float)(c / sqrt(ds * dt));     /* cosine of the binary playlist columns */
            touch(j, t);
            if (cs > j->sim_max[t]) j->sim_max[t] = cs;
            j->sim_sum[t] += cs;
            j->cover[t] += 1;
            if (in_last3) j->sim_last3[t] += cs / (float)n3;
            j->cooc[t] += (float)c;
            j->knn[t] += (float)(c / (pow(ds, gk.alpha) * pow(dt, 1.0 - gk.alpha) + gk.shrink));
            if (s == last) j->last[t] = (float)(c / ds);
            j->rp3[t] += j->rprow[t];
            j->row[t] = j->rprow[t] = 0;
        }
    }
    if (gr.beta != 0)
        for (int64_t i = 0; i < j->ntouched; i++) j->rp3[j->touched[i]] /= (float)pow(degree(m, j->touched[i]), gr.beta);
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks) j->is_seed[seeds[i]] = 0;
    return nknown;
}

/* artist co-occurrence: art_co[b] = sum over the seeds' distinct artists a
 * of the training playlists holding both a and b; returns sum_a |P(a)| */
static int64_t score_artists(job *j, const int32_t *seeds, int64_t ns) {
    int64_t total = 0;
    for (int64_t i = 0; i < ns; i++) {
        int32_t t = seeds[i];
        if (t < 0 || t >= j->cur->m.ntracks || j->artist[t] < 0) continue;
        int32_t a = j->artist[t];
        if (j->art_cnt[a] <= 0) continue;   /* art_cnt counted the seeds (> 0); negated once done */
        j->art_cnt[a] = -j->art_cnt[a];     /* done; restored below */
        total += j->cur->art_off[a + 1] - j->cur->art_off[a];
        for (int64_t q = j->cur->art_off[a]; q < j->cur->art_off[a + 1]; q++) {
            int32_t p = j->cur->art_pl[q];
            for (int64_t r = j->cur->plart_off[p]; r < j->cur->plart_off[p + 1]; r++) {
                int32_t b = j->cur->plart[r];
                if (j->art_co[b] == 0) j->art_touched[j->nart_touched++] = b;
                j->art_co[b]++;
            }
        }
    }
    for (int64_t i = 0; i < ns; i++) {
        int32_t t = seeds[i];
        if (t >= 0 && t < j->cur->m.ntracks && j->artist[t] >= 0 && j->art_cnt[j->artist[t]] < 0)
            j->art_cnt[j->artist[t]] = -j->art_cnt[j->artist[t]];
    }
    return total;
}

/* the share of the training playlists of the query's title holding each track */
static int64_t score_title(job *j, const char *title) {
    plm_model *m = &j->cur->m;
    char norm[1024];
    plm_norm_title(title, norm, sizeof norm);
    int64_t id = *norm ? strmap_get(&m->title_id, norm) : -1;
    if (id < 0) return 0;
    int64_t np = m->title_off[id + 1] - m->title_off[id];
    for (int64_t q = m->title_off[id]; q < m->title_off[id + 1]; q++) {
        int32_t p = m->title_pl[q];
        for (int64_t r = m->pl_off[p]; r < m->pl_off[p + 1]; r++) {
            int32_t t = m->pl_tr[r];
            touch(j, t);
            j->title[t] += 1.0f / (float)np;
        }
    }
    return np;
}

static void reset_scores(job *j) {
    for (int64_t i = 0; i < j->ntouched; i++) {
        int32_t t = j->touched[i];
        j->cooc[t] = j->knn[t] = j->rp3[t] = j->last[t] = j->title[t] = 0;
        j->sim_max[t] = j->sim_sum[t] = j->sim_last3[t] = j->cover[t] = 0;
    }
    j->ntouched = 0;
}

static void grow_rows(job *j, int64_t need) {
    if (j->nrows + need <= j->cap) return;
    int64_t cap = j->cap ? j->cap : 4096;
    while (cap < j->nrows + need) cap *= 2;
    cli_mem_need("the candidates", "their features", (uint64_t)cap * (uint64_t)j->nfull * 4);
    float *X = realloc(j->X, (size_t)cap * (size_t)j->nfull * sizeof *X);
    if (X) j->X = X;
    float *l = realloc(j->label, (size_t)cap * sizeof *l);
    if (l) j->label = l;
    int32_t *c = realloc(j->cand, (size_t)cap * sizeof *c);
    if (c) j->cand = c;
    if (!X || !l || !c) cli_die("out of memory (%" PRId64 " candidates)", cap);
    j->cap = cap;
}

/* --als: the folded-in query's scores and the factors' cosines to the
 * seeds, into the rows from start (missing for a track ALS does not know
 * or a query without a known seed) */
static void als_features(job *j, const int32_t *s, int64_t ns, int64_t start) {
    plm_als_model *a = &j->cur->als;
    int f = a->factors, nf = j->nfull;
    int64_t known = 0;
    for (int64_t k = 0; k < ns; k++) known += s[k] >= 0 && s[k] < a->ntracks && j->cur->m.pop[s[k]] > 0;
    if (!known) return;
    int rc = plm_als_fold_in(a, s, ns, a->xq);
    if (rc < 0) cli_die("--als %s: the fold-in system of a query is not positive definite; refit the ALS model", j->cur->o->als);
    float best = -INFINITY;
    for (int64_t row = start; row < j->nrows; row++) {
        int32_t t = j->cand[row];
        if (t >= a->ntracks || j->cur->m.pop[t] == 0) continue;
        const float *y = a->Y + (size_t)t * f;
        float sc = cblas_sdot(f, y, 1, a->xq, 1), mx = -INFINITY;
        double sum = 0;
        int64_t n = 0;
        for (int64_t k = 0; k < ns; k++) {
            int32_t u = s[k];
            if (u < 0 || u >= a->ntracks || j->cur->m.pop[u] == 0) continue;
            float d = j->cur->als_norm[t] * j->cur->als_norm[u];
            float c = d > 0 ? cblas_sdot(f, y, 1, a->Y + (size_t)u * f, 1) / d : 0;
            if (c > mx) mx = c;
            sum += c;
            n++;
        }
        float *x = j->X + row * nf;
        x[F_BASE + F_ALS_SCORE] = sc;
        x[F_BASE + F_ALS_SIM_MAX] = mx;
        x[F_BASE + F_ALS_SIM_MEAN] = (float)(sum / (double)n);
        if (sc > best) best = sc;
    }
    for (int64_t row = start; row < j->nrows; row++) {
        float *x = j->X + row * nf;
        if (!isnan(x[F_BASE + F_ALS_SCORE])) x[F_BASE + F_ALS_REL] = x[F_BASE + F_ALS_SCORE] - best;
    }
}

/* appends query i's candidates (the union of the lists' first --depth
 * tracks, first-seen order) and their features; returns how many, and
 * with truth, how many are in the ground truth (*hits) */
static int64_t add_query(job *j, int64_t i, int64_t *hits) {
    const char *qid = cat_cell(&j->cur->queries, i, 0);
    int64_t sp = pl_find(&j->cur->seeds, qid);
    const int32_t *s = sp >= 0 ? pl_tracks(&j->cur->seeds, sp) : NULL;
    int64_t ns = sp >= 0 ? pl_len(&j->cur->seeds, sp) : 0;
    if (ns == 0 && strcmp(cat_cell(&j->cur->queries, i, j->cur->kc), "0"))
        cli_die("%s: query %s shows %s tracks but %s has none for it", j->cur->o->queries, qid, cat_cell(&j->cur->queries, i, j->cur->kc), j->cur->o->seeds);
    int ng = j->o->ngen, nf = j->nfull;
    int64_t start = j->nrows, nc = 0;
    for (int g = 0; g < ng; g++) {
        int64_t p = pl_find(&j->cur->gen[g], qid);
        int64_t len = pl_len(&j->cur->gen[g], p), d = len < j->o->depth ? len : j->o->depth;
        grow_rows(j, d);
        const int32_t *r = pl_tracks(&j->cur->gen[g], p);
        for (int64_t k = 0; k < d; k++) {
            int32_t t = r[k];
            if (t >= j->cur->m.ntracks) continue;    /* checked at load */
            int64_t row = j->cand_of[t];
            if (row < 0) {
                row = j->nrows++;
                j->cand_of[t] = (int32_t)(row - start);
                j->cand[row] = t;
                float *x = j->X + row * nf;
                for (int f = 0; f < nf; f++) x[f] = NAN;
                x[F_NGEN] = 0;
                nc++;
            } else row += start;
            float *x = j->X + row * nf;
            if (isnan(x[j->frank + g])) { x[j->frank + g] = (float)(k + 1); x[F_NGEN] += 1; }
        }
    }
    int64_t ndistinct = score_seeds(j, s, ns);
    int64_t ntp = score_title(j, cat_cell(&j->cur->queries, i, j->cur->nc));
    int64_t nknown = 0;
    double seed_pop = 0;
    for (int64_t k = 0; k < ns; k++) {
        int32_t t = s[k];
        if (t < 0 || t >= j->cur->m.ntracks) continue;
        nknown++;
        seed_pop += log1p((double)j->cur->m.pop[t]);
        if (j->artist[t] >= 0) j->art_cnt[j->artist[t]]++;
        if (j->album[t] >= 0) j->alb_cnt[j->album[t]]++;
    }
    float seed_pop_mean = nknown ? (float)(seed_pop / (double)nknown) : NAN;
    int64_t art_total = score_artists(j, s, ns);
    if (j->cur->o->als) als_features(j, s, ns, start);
    float mc = 0, mk = 0, mr = 0;
    for (int64_t row = start; row < j->nrows; row++) {
        int32_t t = j->cand[row];
        if (j->cooc[t] > mc) mc = j->cooc[t];
        if (j->knn[t] > mk) mk = j->knn[t];
        if (j->rp3[t] > mr) mr = j->rp3[t];
    }
    for (int64_t row = start; row < j->nrows; row++) {
        int32_t t = j->cand[row];
        float *x = j->X + row * nf;
        x[F_K] = (float)ns;
        x[F_POP] = (float)log1p((double)j->cur->m.pop[t]);
        x[F_COOC] = j->cooc[t];
        x[F_COOC_REL] = mc > 0 ? j->cooc[t] / mc : 0;
        x[F_KNN] = j->knn[t];
        x[F_KNN_REL] = mk > 0 ? j->knn[t] / mk : 0;
        x[F_RP3] = j->rp3[t];
        x[F_RP3_REL] = mr > 0 ? j->rp3[t] / mr : 0;
        x[F_LAST] = j->last[t];
        x[F_TITLE] = j->title[t];
        x[F_TITLE_N] = (float)log1p((double)ntp);
        x[F_ARTIST] = nknown && j->artist[t] >= 0 ? (float)j->art_cnt[j->artist[t]] / (float)nknown : 0;
        x[F_ALBUM] = nknown && j->album[t] >= 0 ? (float)j->alb_cnt[j->album[t]] / (float)nknown : 0;
        if (ndistinct) {
            x[F_SIM_MAX] = j->sim_max[t];
            x[F_SIM_MEAN] = j->sim_sum[t] / (float)ndistinct;
            x[F_SIM_LAST3] = j->sim_last3[t];
            x[F_COVER] = j->cover[t] / (float)ndistinct;
        }
        x[F_POP_REL] = x[F_POP] - seed_pop_mean;
        if (art_total > 0) {
            int32_t b = j->artist[t];
            double co = b >= 0 ? (double)j->art_co[b] : 0, db = b >= 0 ? (double)(j->cur->art_off[b + 1] - j->cur->art_off[b]) : 0;
            x[F_ART_COOC] = (float)(co / (double)art_total);
            x[F_ART_COS] = db > 0 ? (float)(co / sqrt(db * (double)art_total)) : 0;
        }
        j->cand_of[t] = -1;
    }
    for (int64_t k = 0; k < j->nart_touched; k++) j->art_co[j->art_touched[k]] = 0;
    j->nart_touched = 0;
    /* the kept columns, in place (a row never moves past its own start) */
    if (j->nfeat < nf)
        for (int64_t row = start; row < j->nrows; row++) {
            float *src = j->X + row * nf, *dst = j->X + row * j->nfeat;
            for (int f = 0; f < j->nfeat; f++) dst[f] = src[j->keep[f]];
        }
    for (int64_t k = 0; k < ns; k++) {
        int32_t t = s[k];
        if (t < 0 || t >= j->cur->m.ntracks) continue;
        if (j->artist[t] >= 0) j->art_cnt[j->artist[t]] = 0;
        if (j->album[t] >= 0) j->alb_cnt[j->album[t]] = 0;
    }
    reset_scores(j);
    if (hits) {
        int64_t tp = pl_find(&j->cur->truth, qid), h = 0;
        if (tp < 0) cli_die("%s: query %s of %s has no ground truth; give the truth of the same split", j->cur->o->truth, qid, j->cur->o->queries);
        const int32_t *g = pl_tracks(&j->cur->truth, tp);
        for (int64_t k = 0; k < pl_len(&j->cur->truth, tp); k++)
            if (g[k] >= 0 && g[k] < j->cur->m.ntracks) j->is_truth[g[k]] = 1;
        for (int64_t row = start; row < j->nrows; row++) {
            j->label[row] = j->is_truth[j->cand[row]];
            h += j->is_truth[j->cand[row]];
        }
        for (int64_t k = 0; k < pl_len(&j->cur->truth, tp); k++)
            if (g[k] >= 0 && g[k] < j->cur->m.ntracks) j->is_truth[g[k]] = 0;
        *hits = h;
    }
    return nc;
}

/* ---- inputs ---- */

/* feature f's name: base_names, then rank_GEN */
static void feature_name(const job *j, int f, char *out, size_t cap) {
    if (f < F_BASE) snprintf(out, cap, "%s", base_names[f]);
    else if (f < j->frank) snprintf(out, cap, "%s", als_names[f - F_BASE]);
    else snprintf(out, cap, "rank_%s", j->o->sp[0].gen_name[f - j->frank]);
}

/* is name an element of the comma-separated list (NULL: empty)? */
static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* every feature's name, for the message of a bad --drop (a static buffer) */
static const char *feature_list_all(const job *j) {
    static char all[4096];
    all[0] = 0;
    for (int f = 0; f < j->nfull; f++) {
        char name[80];
        feature_name(j, f, name, sizeof name);
        if (strlen(all) + strlen(name) + 2 >= sizeof all) break;
        if (f) strcat(all, ",");
        strcat(all, name);
    }
    return all;
}

/* split sp's queries, seeds, generators' lists and truth, checked against each other */
static void load_queries(job *j, split *sp) {
    const struct split_opts *o = sp->o;
    char err[1024];
    if (cat_load(&sp->queries, o->queries, err, sizeof err)) cli_die("%s", err);
    sp->kc = cat_column(&sp->queries, "k");
    sp->nc = cat_column(&sp->queries, "name");
    if (sp->kc < 0 || sp->nc < 0) cli_die("%s: needs columns k and name (mpd-split --queries)", o->queries);
    if (pl_load(&sp->seeds, o->seeds, NULL, err, sizeof err)) cli_die("%s", err);
    for (int64_t p = 0; p < sp->seeds.n; p++)
        if (cat_find(&sp->queries, pl_key(&sp->seeds, p)) < 0)
            cli_die("%s: query %s is not in %s; give the seeds of the same split", o->seeds, pl_key(&sp->seeds, p), o->queries);
    /* every generator covers exactly the queries */
    for (int g = 0; g < o->ngen; g++) {
        pl_set *s = &sp->gen[g];
        if (pl_load(s, o->gen_path[g], "recs", err, sizeof err)) cli_die("--gen %s: %s", o->gen_name[g], err);
        for (int64_t p = 0; p < s->n; p++)
            if (cat_find(&sp->queries, pl_key(s, p)) < 0)
                cli_die("%s: query %s is not in %s; every --gen must hold the recommendations of these queries (mpd-recommend --queries %s)",
                        o->gen_path[g], pl_key(s, p), o->queries, o->queries);
        for (int64_t i = 0; i < sp->queries.nrows; i++)
            if (pl_find(s, cat_cell(&sp->queries, i, 0)) < 0)
                cli_die("%s: no recommendations for query %s of %s; every --gen must cover the same queries (mpd-recommend --queries %s)",
                        o->gen_path[g], cat_cell(&sp->queries, i, 0), o->queries, o->queries);
        if (s->ntracks > sp->m.ntracks)
            cli_die("%s: track %d is outside the vocabulary of %s (%d tracks); give lists made over the same ingest",
                    o->gen_path[g], s->ntracks - 1, j->o->tracks, sp->m.ntracks);
    }
    if (o->truth) {
        if (pl_load(&sp->truth, o->truth, NULL, err, sizeof err)) cli_die("%s", err);
        for (int64_t p = 0; p < sp->truth.n; p++)
            if (cat_find(&sp->queries, pl_key(&sp->truth, p)) < 0)
                cli_die("%s: query %s is not in %s; give the truth of the same split", o->truth, pl_key(&sp->truth, p), o->queries);
    }
    sp->pc = cat_column(&sp->queries, "pid");
    if (j->o->holdout > 0 && sp->pc < 0) cli_die("%s: --holdout needs the column pid (mpd-split --queries)", o->queries);
}

static void load_als(job *j, split *sp) {
    const struct split_opts *o = sp->o;
    char err[1024];
    if (plm_als_load(&sp->als, o->als, err, sizeof err)) cli_die("%s", err);
    if (sp->als.ntracks > sp->m.ntracks)
        cli_die("%s: %d tracks, more than the %d of %s; give the ALS model of TRAIN (mpd-train --model als)", o->als, sp->als.ntracks, sp->m.ntracks, j->o->tracks);
    int f = sp->als.factors;
    sp->als_norm = xalloc((size_t)sp->als.ntracks, sizeof *sp->als_norm);
    for (int32_t t = 0; t < sp->als.ntracks; t++) sp->als_norm[t] = cblas_snrm2(f, sp->als.Y + (size_t)t * f, 1);
}

static void load_inputs(job *j) {
    struct opts *o = j->o;
    char err[1024];
    j->nsplit = o->nsplit;
    for (int k = 0; k < j->nsplit; k++) {
        split *sp = &j->sp[k];
        sp->o = &o->sp[k];
        if (pl_load(&sp->train, sp->o->train, NULL, err, sizeof err)) cli_die("%s", err);
        if (!(sp->titles = plv_train_titles(&sp->train, o->names, &sp->names, err, sizeof err))) cli_die("%s", err);
    }
    if (cat_load(&j->tracks, o->tracks, err, sizeof err)) cli_die("%s", err);
    /* one vocabulary for every split (the same ingest) */
    j->ntracks = j->tracks.nrows > INT32_MAX ? INT32_MAX : (int32_t)j->tracks.nrows;
    for (int k = 0; k < j->nsplit; k++)
        if (j->sp[k].train.ntracks > j->ntracks) j->ntracks = j->sp[k].train.ntracks;
    for (int k = 0; k < j->nsplit; k++) {
        split *sp = &j->sp[k];
        if (plm_build(&sp->m, &sp->train, sp->titles, j->ntracks, err, sizeof err)) cli_die("%s", err);
        load_queries(j, sp);
    }
    j->cur = &j->sp[0];
    load_track_ids(j);
    size_t nt = (size_t)j->ntracks;
    j->cooc = xalloc(nt, sizeof(float)); j->knn = xalloc(nt, sizeof(float)); j->rp3 = xalloc(nt, sizeof(float));
    j->last = xalloc(nt, sizeof(float)); j->title = xalloc(nt, sizeof(float)); j->row = xalloc(nt, sizeof(float));
    j->rprow = xalloc(nt, sizeof(float));
    j->touched = xalloc(nt, sizeof(int32_t)); j->rowt = xalloc(nt, sizeof(int32_t)); j->cand_of = xalloc(nt, sizeof(int32_t));
    for (size_t t = 0; t < nt; t++) j->cand_of[t] = -1;
    j->is_truth = xalloc(nt, 1); j->is_seed = xalloc(nt, 1);
    j->sim_max = xalloc(nt, sizeof(float)); j->sim_sum = xalloc(nt, sizeof(float));
    j->sim_last3 = xalloc(nt, sizeof(float)); j->cover = xalloc(nt, sizeof(float));
    int64_t na = j->nartist ? j->nartist : 1;
    j->art_co = xalloc((size_t)na, sizeof *j->art_co);
    j->art_touched = xalloc((size_t)na, sizeof *j->art_touched);
    for (int k = 0; k < j->nsplit; k++) {
        build_artist_index(j, &j->sp[k]);
        if (o->als) load_als(j, &j->sp[k]);
    }
    /* the kept features: all but --drop */
    j->frank = F_BASE + (o->als ? F_ALS_N : 0);
    j->nfull = j->frank + o->ngen;
    j->nfeat = 0;
    int dropped = 0;
    for (int f = 0; f < j->nfull; f++) {
        char name[80];
        feature_name(j, f, name, sizeof name);
        if (!in_list(o->drop, name)) j->keep[j->nfeat++] = f;
        else dropped++;
    }
    if (o->drop) {
        /* every name of --drop must be a feature */
        char *d = strdup(o->drop), *save = NULL;
        if (!d) cli_die("out of memory");
        for (char *t = strtok_r(d, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int found = 0;
            for (int f = 0; f < j->nfull && !found; f++) {
                char name[80];
                feature_name(j, f, name, sizeof name);
                found = !strcmp(name, t);
            }
            if (!found) {
                char bad[128];
                snprintf(bad, sizeof bad, "%s", t);
                free(d);
                cli_warn("the features: %s", feature_list_all(j));
                cli_usage("--drop: '%s' is no feature; give names of the list above", bad);
            }
        }
        free(d);
    }
    if (!j->nfeat) cli_die("--drop leaves no feature");
}

/* "a,b,c": the kept features' names (base, then rank_GEN) */
static char *feature_list(const job *j) {
    size_t len = 1;
    for (int f = 0; f < F_BASE; f++) len += strlen(base_names[f]) + 1;
    for (int f = 0; f < F_ALS_N; f++) len += strlen(als_names[f]) + 1;
    for (int g = 0; g < j->o->ngen; g++) len += strlen(j->o->sp[0].gen_name[g]) + 6;
    char *s = xalloc(len, 1);
    for (int c = 0; c < j->nfeat; c++) {
        char name[80];
        feature_name(j, j->keep[c], name, sizeof name);
        if (c) strcat(s, ",");
        strcat(s, name);
    }
    return s;
}

static void set_param(BoosterHandle b, const char *k, const char *v) { xgb_check(XGBoosterSetParam(b, k, v), k); }

/* ---- ranking (apply and --holdout) ---- */

typedef struct { float p; int32_t t; } scored;
static const plm_model *sort_m;
static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (plm_ahead(sort_m, x->p, x->t, y->p, y->t)) return -1;
    if (plm_ahead(sort_m, y->p, y->t, x->p, x->t)) return 1;
    return 0;
}

/* query i's list into out (at most n): its nr candidates by the trees'
 * score pred, ties as every model; popularity fills the rest, no seed, no
 * repeat.  sc: scratch of nr entries.  Returns its length. */
static int64_t rank_query(job *j, int64_t i, const float *pred, const int32_t *cand, int64_t nr, scored *sc,
                          int32_t *out, int64_t n) {
    int64_t k = 0;
    sort_m = &j->cur->m;
    for (int64_t r = 0; r < nr; r++) sc[r] = (scored){pred[r], cand[r]};
    qsort(sc, (size_t)nr, sizeof *sc, cmp_scored);
    for (int64_t r = 0; r < nr && k < n; r++) out[k++] = sc[r].t;
    if (k < n) {
        const char *qid = cat_cell(&j->cur->queries, i, 0);
        int64_t sp = pl_find(&j->cur->seeds, qid);
        for (int64_t r = 0; r < k; r++) j->is_truth[out[r]] = 1;
        if (sp >= 0)
            for (int64_t r = 0; r < pl_len(&j->cur->seeds, sp); r++) {
                int32_t t = pl_tracks(&j->cur->seeds, sp)[r];
                if (t >= 0 && t < j->cur->m.ntracks) j->is_truth[t] = 1;
            }
        for (int64_t r = 0; r < j->cur->m.ntracks && k < n; r++)
            if (!j->is_truth[j->cur->m.by_pop[r]]) out[k++] = j->cur->m.by_pop[r];
        memset(j->is_truth, 0, (size_t)j->cur->m.ntracks);
    }
    return k;
}

/* ---- --holdout: the challenge's metrics per K on the held-out queries ---- */

#define MAX_KV 32
typedef struct { int nk; long kv[MAX_KV]; double n[MAX_KV + 1], rp[MAX_KV + 1], nd[MAX_KV + 1], cl[MAX_KV + 1]; } kmeans;

static void km_add(kmeans *a, long k, const int32_t *G, int64_t ng, const int32_t *R, int64_t nr) {
    int slot = 0;
    while (slot < a->nk && a->kv[slot] != k) slot++;
    if (slot == a->nk) {
        if (a->nk == MAX_KV) slot = -1;
        else a->kv[a->nk++] = k;
    }
    double rp = rm_r_precision(G, ng, R, nr, RM_MAX_N), nd = rm_ndcg(G, ng, R, nr, RM_MAX_N), cl = rm_clicks(G, ng, R, nr, RM_MAX_N);
    if (isnan(rp) || isnan(nd) || isnan(cl)) return;    /* an empty truth (never from mpd-split) */
    int slots[2] = {slot, MAX_KV};
    for (int u = 0; u < 2; u++) {
        if (slots[u] < 0) continue;
        a->n[slots[u]] += 1; a->rp[slots[u]] += rp; a->nd[slots[u]] += nd; a->cl[slots[u]] += cl;
    }
}

static int cmp_long(const void *a, const void *b) { long x = *(const long *)a, y = *(const long *)b; return (x > y) - (x < y); }

/* one line per model: K=k R-prec/NDCG/clicks ... all; with ref, the ratios */
static void km_print(const char *name, const kmeans *a, const kmeans *ref) {
    long ks[MAX_KV];
    memcpy(ks, a->kv, sizeof ks);
    qsort(ks, (size_t)a->nk, sizeof *ks, cmp_long);
    char line[4096];
    int len = snprintf(line, sizeof line, "holdout %-14s", name);
    for (int u = 0; u <= a->nk; u++) {
        int s = MAX_KV;
        if (u < a->nk) for (s = 0; a->kv[s] != ks[u]; s++) {}
        double n = a->n[s] ? a->n[s] : 1;
        if (u < a->nk) len += snprintf(line + len, sizeof line - (size_t)len, " K=%ld", ks[u]);
        else len += snprintf(line + len, sizeof line - (size_t)len, " all");
        if (len >= (int)sizeof line - 64) break;
        len += snprintf(line + len, sizeof line - (size_t)len, " %.4f/%.4f/%.2f", a->rp[s] / n, a->nd[s] / n, a->cl[s] / n);
        if (ref) {
            int t = MAX_KV;
            if (u < a->nk) for (t = 0; t < ref->nk && ref->kv[t] != ks[u]; t++) {}
            if (t < MAX_KV && t == ref->nk) continue;
            double rn = ref->n[t] ? ref->n[t] : 1;
            len += snprintf(line + len, sizeof line - (size_t)len, " (%.3f/%.3f/%.3f)", (a->rp[s] / n) / (ref->rp[t] / rn),
                            (a->nd[s] / n) / (ref->nd[t] / rn), (a->cl[s] / n) / (ref->cl[t] / rn));
        }
    }
    cli_warn("%s", line);
}

static const int32_t *query_truth(job *j, int64_t i, int64_t *ng) {
    int64_t tp = pl_find(&j->cur->truth, cat_cell(&j->cur->queries, i, 0));
    *ng = tp >= 0 ? pl_len(&j->cur->truth, tp) : 0;
    return tp >= 0 ? pl_tracks(&j->cur->truth, tp) : NULL;
}

/* the generators' and the trees' (after 1/4, 1/2, 3/4, all rounds) metrics
 * on the held-out queries; ratios to the generator named cooc (else the
 * first).  With several splits: each split's, then all of them together
 * (every query scored against its own split's generators and truth) */
#define HO_CUTS 4
static void eval_holdout(job *j) {
    struct opts *o = j->o;
    int ng = o->ngen, ref = 0, ns = j->nsplit, all = ns;   /* slot ns: every split */
    for (int g = 0; g < ng; g++) if (!strcmp(o->sp[0].gen_name[g], "cooc")) ref = g;
    kmeans *gm = xalloc((size_t)(ns + 1) * (size_t)ng, sizeof *gm);     /* [split][generator] */
    kmeans *tm = xalloc((size_t)(ns + 1) * HO_CUTS, sizeof *tm);         /* [split][cut] */
    int64_t *nq = xalloc((size_t)ns + 1, sizeof *nq);
    for (int64_t h = 0; h < j->nhq; h++) {
        int64_t i = j->hq[h], nt;
        int sk = j->hq_split[h];
        j->cur = &j->sp[sk];
        nq[sk]++;
        const int32_t *G = query_truth(j, i, &nt);
        long k = strtol(cat_cell(&j->cur->queries, i, j->cur->kc), NULL, 10);
        for (int g = 0; g < ng; g++) {
            int64_t p = pl_find(&j->cur->gen[g], cat_cell(&j->cur->queries, i, 0));
            km_add(&gm[sk * ng + g], k, G, nt, pl_tracks(&j->cur->gen[g], p), pl_len(&j->cur->gen[g], p));
            if (ns > 1) km_add(&gm[all * ng + g], k, G, nt, pl_tracks(&j->cur->gen[g], p), pl_len(&j->cur->gen[g], p));
        }
    }
    DMatrixHandle dh;
    xgb_check(XGDMatrixCreateFromMat(j->Xh, (bst_ulong)j->nh, (bst_ulong)j->nfeat, NAN, &dh), "the held-out matrix");
    int64_t maxq = 0;
    for (int64_t h = 0; h < j->nhq; h++) if (j->hstart[h + 1] - j->hstart[h] > maxq) maxq = j->hstart[h + 1] - j->hstart[h];
    scored *sc = xalloc((size_t)maxq, sizeof *sc);
    int32_t *out = xalloc(RM_MAX_N, sizeof *out);
    long cut_it[HO_CUTS], last = 0;
    int ncut = 0;
    for (int c = 1; c <= HO_CUTS; c++) {
        long it = o->trees * c / HO_CUTS;
        if (it < 1 || it == last) continue;
        last = cut_it[ncut] = it;
        char cfg[160];
        snprintf(cfg, sizeof cfg, "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": %ld, \"strict_shape\": false}", it);
        bst_ulong const *shape;
        bst_ulong dim;
        const float *pred;
        xgb_check(XGBoosterPredictFromDMatrix(j->booster, dh, cfg, &shape, &dim, &pred), "prediction");
        for (int64_t h = 0; h < j->nhq; h++) {
            int64_t i = j->hq[h], nt, a = j->hstart[h], b = j->hstart[h + 1];
            int sk = j->hq_split[h];
            j->cur = &j->sp[sk];
            const int32_t *G = query_truth(j, i, &nt);
            int64_t n = rank_query(j, i, pred + a, j->candh + a, b - a, sc, out, RM_MAX_N);
            long k = strtol(cat_cell(&j->cur->queries, i, j->cur->kc), NULL, 10);
            km_add(&tm[sk * HO_CUTS + ncut], k, G, nt, out, n);
            if (ns > 1) km_add(&tm[all * HO_CUTS + ncut], k, G, nt, out, n);
        }
        ncut++;
    }
    nq[all] = j->nhq;
    for (int sk = ns > 1 ? 0 : all; sk <= all; sk++) {
        int slot = ns > 1 ? sk : 0;
        if (sk < all)
            cli_warn("holdout, split %d (%s): %" PRId64 " queries, R-prec/NDCG/clicks per K, (ratio to %s)",
                     sk + 1, j->sp[sk].o->queries, nq[sk], o->sp[0].gen_name[ref]);
        else if (ns > 1)
            cli_warn("holdout, all %d splits: %" PRId64 " queries (--holdout %g of the playlists), R-prec/NDCG/clicks per K, (ratio to %s)",
                     ns, j->nhq, o->holdout, o->sp[0].gen_name[ref]);
        else
            cli_warn("holdout: %" PRId64 " queries (--holdout %g of the playlists), R-prec/NDCG/clicks per K, (ratio to %s)",
                     j->nhq, o->holdout, o->sp[0].gen_name[ref]);
        const kmeans *g0 = &gm[slot * ng];
        for (int g = 0; g < ng; g++) km_print(o->sp[0].gen_name[g], &g0[g], g == ref ? NULL : &g0[ref]);
        for (int c = 0; c < ncut; c++) {
            char name[32];
            snprintf(name, sizeof name, "rerank@%ld", cut_it[c]);
            km_print(name, &tm[slot * HO_CUTS + c], &g0[ref]);
        }
    }
    XGDMatrixFree(dh);
    free(sc); free(out); free(gm); free(tm); free(nq);
}

/* --holdout: a hash of (--seed, "holdout/PID") below F.  The prefix keeps
 * it independent of mpd-split's hash of (seed, pid), which made the
 * validation split itself (every validation playlist has a low hash for
 * the split's seed, and a high one for the test split's) */
static int held_out(job *j, int64_t i) {
    char key[TS_MAX_KEY + 16];
    snprintf(key, sizeof key, "holdout/%s", cat_cell(&j->cur->queries, i, j->cur->pc));
    return plmem_split_u((uint64_t)j->o->seed, key) < j->o->holdout;
}

/* moves query i's rows (from start) to the held-out store */
static void hold_out(job *j, int64_t i, int64_t start) {
    int64_t n = j->nrows - start;
    if (j->nh + n > j->hcap) {
        int64_t cap = j->hcap ? j->hcap : 4096;
        while (cap < j->nh + n) cap *= 2;
        cli_mem_need("the held-out candidates", "their features", (uint64_t)cap * (uint64_t)j->nfeat * 4);
        float *X = realloc(j->Xh, (size_t)cap * (size_t)j->nfeat * sizeof *X);
        if (X) j->Xh = X;
        int32_t *c = realloc(j->candh, (size_t)cap * sizeof *c);
        if (c) j->candh = c;
        if (!X || !c) cli_die("out of memory (%" PRId64 " held-out candidates)", cap);
        j->hcap = cap;
    }
    if (j->nhq + 1 >= j->hqcap) {
        j->hqcap = j->hqcap ? 2 * j->hqcap : 1024;
        int64_t *q = realloc(j->hq, (size_t)j->hqcap * sizeof *q), *st = realloc(j->hstart, (size_t)(j->hqcap + 1) * sizeof *st);
        if (q) j->hq = q;
        if (st) j->hstart = st;
        int *hs = realloc(j->hq_split, (size_t)j->hqcap * sizeof *hs);
        if (hs) j->hq_split = hs;
        if (!q || !st || !hs) cli_die("out of memory");
    }
    if (j->nhq == 0) j->hstart[0] = 0;
    memcpy(j->Xh + j->nh * j->nfeat, j->X + start * j->nfeat, (size_t)n * (size_t)j->nfeat * sizeof(float));
    memcpy(j->candh + j->nh, j->cand + start, (size_t)n * sizeof(int32_t));
    j->nh += n;
    j->hq_split[j->nhq] = (int)(j->cur - j->sp);
    j->hq[j->nhq++] = i;
    j->hstart[j->nhq] = j->nh;
    j->nrows = start;
}

/* --neg-sample: keeps the relevant rows of a query and each other row with
 * probability R (a hash of seed, qid and track); returns the rows kept */
static int64_t sample_negatives(job *j, int64_t i, int64_t start) {
    uint64_t hq = fnv1a64_str(cat_cell(&j->cur->queries, i, 0)) ^ ((uint64_t)j->o->seed * 0x9E3779B97F4A7C15ull);
    int64_t w = start;
    for (int64_t r = start; r < j->nrows; r++) {
        uint64_t z = hq ^ ((uint64_t)(uint32_t)j->cand[r] * 0xD6E8FEB86659FD93ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        if (j->label[r] == 0 && (double)(z >> 11) * 0x1.0p-53 >= j->o->neg_sample) continue;
        if (w != r) {
            memmove(j->X + w * j->nfeat, j->X + r * j->nfeat, (size_t)j->nfeat * sizeof(float));
            j->cand[w] = j->cand[r];
            j->label[w] = j->label[r];
        }
        w++;
    }
    j->nrows = w;
    return w - start;
}

/* ---- fit ---- */

/* the training matrix with its labels, for a peer that trains on the same data */
static void write_features(job *j) {
    char *feat = feature_list(j);
    int nc = j->nfeat + 1;
    const char **cols = xalloc((size_t)nc, sizeof *cols);
    char *save = NULL;
    int c = 0;
    for (char *t = strtok_r(feat, ",", &save); t; t = strtok_r(NULL, ",", &save)) cols[c++] = t;
    cols[c] = "label";
    ts_header h;
    if (ts_header_init(&h, "rerank_features", TS_F32, nc, cols)) cli_die("out of memory");
    h.key_name = strdup("qid");
    ts_writer *w = cli_open_write(j->o->features);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    float *row = xalloc((size_t)nc, sizeof *row);
    int64_t r = 0;
    for (int64_t g = 0; g < j->ngroups; g++) {
        const char *qid = cat_cell(&j->sp[j->group_split[g]].queries, j->group_q[g], 0);
        for (unsigned k = 0; k < j->group[g]; k++, r++) {
            memcpy(row, j->X + r * j->nfeat, (size_t)j->nfeat * sizeof *row);
            row[j->nfeat] = j->label[r];
            if (ts_write_rows(w, 1, &qid, row)) cli_die("%s", ts_werror(w));
        }
    }
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    free(row); free(cols); free(feat);
    ts_header_free(&h);
}

static void fit(job *j) {
    struct opts *o = j->o;
    outfile_hold();     /* the model and --features appear together or not at all */
    cli_progress prog;
    cli_progress_init(&prog, 10);
    int64_t skipped = 0, pos = 0;
    double t0 = cli_now();
    int64_t nq = 0, done = 0;
    for (int k = 0; k < j->nsplit; k++) nq += j->sp[k].queries.nrows;
    for (int k = 0; k < j->nsplit; k++) {
        j->cur = &j->sp[k];
        for (int64_t i = 0; i < j->cur->queries.nrows; i++) {
            int64_t start = j->nrows, hits;
            if (o->ks && !in_list(o->ks, cat_cell(&j->cur->queries, i, j->cur->kc))) { done++; continue; }
            int64_t nc = add_query(j, i, &hits);
            if (o->holdout > 0 && held_out(j, i)) hold_out(j, i, start);
            else if (hits == 0) { j->nrows = start; skipped++; }     /* no gradient from a list without a relevant track */
            else {
                if (o->neg_sample < 1) nc = sample_negatives(j, i, start);
                if (j->ngroups == j->gcap) {
                    j->gcap = j->gcap ? 2 * j->gcap : 1024;
                    unsigned *g = realloc(j->group, (size_t)j->gcap * sizeof *g);
                    if (g) j->group = g;
                    int64_t *gq = realloc(j->group_q, (size_t)j->gcap * sizeof *gq);
                    if (gq) j->group_q = gq;
                    int *gs = realloc(j->group_split, (size_t)j->gcap * sizeof *gs);
                    if (gs) j->group_split = gs;
                    if (!g || !gq || !gs) cli_die("out of memory");
                }
                j->group_q[j->ngroups] = i;
                j->group_split[j->ngroups] = k;
                j->group[j->ngroups++] = (unsigned)nc;
                pos += hits;
            }
            done++;
            cli_progress_update(&prog, "features: %" PRId64 "/%" PRId64 " queries, %" PRId64 " candidates, %s",
                                done, nq, j->nrows, cli_progress_eta(&prog, (double)done, (double)nq, "queries"));
        }
    }
    cli_progress_done(&prog);
    if (!j->ngroups && j->nsplit == 1) cli_die("%s: no query has a ground-truth track among the candidates; nothing to learn from", o->truth);
    if (!j->ngroups) cli_die("no query of the %d splits has a ground-truth track among the candidates; nothing to learn from", j->nsplit);
    if (j->nsplit > 1) cli_warn("%d splits: %" PRId64 " queries", j->nsplit, nq);
    cli_warn("features of %" PRId64 " candidates (%" PRId64 " relevant) of %" PRId64 " queries in %.1f s; %" PRId64
             " queries without a relevant candidate left out", j->nrows, pos, j->ngroups, cli_now() - t0, skipped);
    if (o->holdout > 0) cli_warn("%" PRId64 " queries (%" PRId64 " candidates) held out", j->nhq, j->nh);
    if (o->features) write_features(j);
    double tm = cli_now();
    xgb_check(XGDMatrixCreateFromMat(j->X, (bst_ulong)j->nrows, (bst_ulong)j->nfeat, NAN, &j->dm), "the training matrix");
    xgb_check(XGDMatrixSetFloatInfo(j->dm, "label", j->label, (bst_ulong)j->nrows), "labels");
    xgb_check(XGDMatrixSetUIntInfo(j->dm, "group", j->group, (bst_ulong)j->ngroups), "query groups");
    free(j->X); j->X = NULL;
    xgb_check(XGBoosterCreate(&j->dm, 1, &j->booster), "creating the booster");
    char buf[64];
    set_param(j->booster, "objective", o->objective);
    set_param(j->booster, "tree_method", "hist");
    snprintf(buf, sizeof buf, "%ld", o->max_depth); set_param(j->booster, "max_depth", buf);
    snprintf(buf, sizeof buf, "%.17g", o->eta); set_param(j->booster, "eta", buf);
    snprintf(buf, sizeof buf, "%.17g", o->min_child); set_param(j->booster, "min_child_weight", buf);
    snprintf(buf, sizeof buf, "%ld", o->seed); set_param(j->booster, "seed", buf);
    snprintf(buf, sizeof buf, "%ld", o->threads); set_param(j->booster, "nthread", buf);
    set_param(j->booster, "eval_metric", "ndcg@500");
    cli_progress_init(&prog, 10);
    t0 = cli_now();
    for (long it = 0; it < o->trees; it++) {
        xgb_check(XGBoosterUpdateOneIter(j->booster, (int)it, j->dm), "a boosting round");
        cli_progress_update(&prog, "tree %ld/%ld, %s", it + 1, o->trees, cli_progress_eta(&prog, (double)(it + 1), (double)o->trees, "trees"));
    }
    cli_progress_done(&prog);
    double dt = cli_now() - t0;
    cli_warn("training time %.3f s (the matrix, groups and %ld trees)", cli_now() - tm, o->trees);
    const char *ev = NULL;
    const char *evname = "train";
    xgb_check(XGBoosterEvalOneIter(j->booster, (int)o->trees - 1, &j->dm, &evname, 1, &ev), "evaluation");
    cli_warn("%ld trees in %.2f s (%s, %ld threads); %s", o->trees, dt, o->objective, o->threads, ev);
    /* what apply checks: the features in their order */
    char *feat = feature_list(j);
    xgb_check(XGBoosterSetAttr(j->booster, "songpipe_features", feat), "attributes");
    free(feat);
    char params[512];
    snprintf(params, sizeof params, "{\"objective\":\"%s\",\"trees\":%ld,\"max_depth\":%ld,\"eta\":%.17g,\"min_child_weight\":%.17g,"
             "\"seed\":%ld,\"threads\":%ld,\"depth\":%ld,\"tree_method\":\"hist\",\"neg_sample\":%.17g,\"holdout\":%.17g}",
             o->objective, o->trees, o->max_depth, o->eta, o->min_child, o->seed, o->threads, o->depth, o->neg_sample, o->holdout);
    if (j->nsplit > 1) {
        /* the splits fitted on (a single split's model keeps the earlier bytes) */
        size_t len = strlen(params);
        snprintf(params + len - 1, sizeof params - (len - 1), ",\"splits\":%d}", j->nsplit);
    }
    if (o->ks) {
        /* the K it learnt from (digits and commas: no escaping needed) */
        size_t len = strlen(params);
        snprintf(params + len - 1, sizeof params - (len - 1), ",\"ks\":\"%.64s\"}", o->ks);
    }
    xgb_check(XGBoosterSetAttr(j->booster, "songpipe_params", params), "attributes");
    if (j->nhq) eval_holdout(j);
    bst_ulong len;
    const char *bytes;
    xgb_check(XGBoosterSaveModelToBuffer(j->booster, "{\"format\": \"json\"}", &len, &bytes), "saving the model");
    FILE *f = outfile_open(o->save, 0);
    fwrite(bytes, 1, (size_t)len, f);
    fputc('\n', f);
    outfile_close(f);
    outfile_commit();
}

/* ---- apply ---- */

/* --model m into j->mb[m], checked against these inputs' features; its
 * --ks into j->mks[m] */
static void load_model(job *j, int m) {
    const char *path = j->o->model[m];
    FILE *f = fopen(path, "rb");
    if (!f) cli_die("%s: %s; give a model of mpd-rerank --save", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); cli_die("out of memory"); }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); cli_die("%s: read failed", path); }
    BoosterHandle bh;
    xgb_check(XGBoosterCreate(NULL, 0, &bh), "creating the booster");
    j->mb[m] = bh;
    if (XGBoosterLoadModelFromBuffer(bh, buf, (bst_ulong)len)) {
        free(buf);
        cli_die("%s: not a model XGBoost can read (%.300s); give a file mpd-rerank --save wrote, or fit again", path, XGBGetLastError());
    }
    free(buf);
    const char *feat = NULL;
    int ok = 0;
    xgb_check(XGBoosterGetAttr(bh, "songpipe_features", &feat, &ok), "attributes");
    if (!ok) cli_die("%s: an XGBoost model without songpipe_features; give a model of mpd-rerank --save", path);
    char *want = feature_list(j);
    if (strcmp(want, feat)) {
        cli_warn("%s was fitted on the features %s", path, feat);
        free(want);
        cli_die("%s: the model's features differ from those of these --gen; give the generators of the fit, in its order", path);
    }
    free(want);
    bst_ulong nf = 0;
    xgb_check(XGBoosterGetNumFeature(bh, &nf), "the model's features");
    if ((int)nf != j->nfeat) cli_die("%s: the model has %d features, these inputs give %d; fit again", path, (int)nf, j->nfeat);
    char buf2[64];
    snprintf(buf2, sizeof buf2, "%ld", j->o->threads);
    set_param(bh, "nthread", buf2);
    const char *params = NULL;
    xgb_check(XGBoosterGetAttr(bh, "songpipe_params", &params, &ok), "attributes");
    cJSON *pj = ok ? cJSON_Parse(params) : NULL;
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(pj, "ks");
    if (cJSON_IsString(ks)) j->mks[m] = xstrdup(ks->valuestring);
    cJSON_Delete(pj);
}

/* every --model, and the routes by K: no K in two models' --ks, at most
 * one model fitted on every K */
static void load_models(job *j) {
    int all = -1;
    for (int m = 0; m < j->o->nmodel; m++) {
        load_model(j, m);
        if (!j->mks[m]) {
            if (all >= 0) cli_die("%s and %s were both fitted on every K; give one of them, and models fitted with --ks for the others",
                                  j->o->model[all], j->o->model[m]);
            all = m;
            continue;
        }
        for (int p = 0; p < m; p++) {
            char *ks = xstrdup(j->mks[m]), *save = NULL;
            for (char *k = strtok_r(ks, ",", &save); k; k = strtok_r(NULL, ",", &save))
                if (in_list(j->mks[p], k)) {
                    cli_warn("%s: fitted on K %s; %s: on K %s", j->o->model[p], j->mks[p], j->o->model[m], j->mks[m]);
                    cli_die("K = %s is in two models' --ks; give each K to one model", k);
                }
            free(ks);
        }
    }
}

/* the model re-ranking query i: the one whose --ks holds its K, else the
 * one fitted on every K */
static int route_query(job *j, int64_t i) {
    const char *k = cat_cell(&j->cur->queries, i, j->cur->kc);
    int all = -1;
    for (int m = 0; m < j->o->nmodel; m++) {
        if (!j->mks[m]) all = m;
        else if (in_list(j->mks[m], k)) return m;
    }
    if (all < 0)
        cli_die("%s: query %s shows %s tracks, a K no --model was fitted on; give also a model fitted without --ks",
                j->o->sp[0].queries, cat_cell(&j->cur->queries, i, 0), k);
    return all;
}

/* model m's scores of the rows of the batch's queries routed to it, into
 * score at those rows; when other queries of the batch use another model
 * (mixed), only its queries' rows are gathered and scored */
static void predict_rows(job *j, int m, int64_t q0, int64_t q1, const int64_t *qstart, int mixed, float *score) {
    size_t nf = (size_t)j->nfeat;
    const float *x = j->X;
    int64_t n = j->nrows;
    if (mixed) {
        n = 0;
        for (int64_t i = q0; i < q1; i++)
            if (j->route[i - q0] == m) n += qstart[i - q0 + 1] - qstart[i - q0];
        float *g = xalloc((size_t)n * nf, sizeof *g);
        int64_t r = 0;
        for (int64_t i = q0; i < q1; i++) {
            int64_t a = qstart[i - q0], b = qstart[i - q0 + 1];
            if (j->route[i - q0] != m) continue;
            memcpy(g + (size_t)r * nf, j->X + (size_t)a * nf, (size_t)(b - a) * nf * sizeof *g);
            r += b - a;
        }
        j->Xg = g;
        x = g;
    }
    xgb_check(XGDMatrixCreateFromMat(x, (bst_ulong)n, (bst_ulong)nf, NAN, &j->dm), "the candidate matrix");
    bst_ulong const *shape;
    bst_ulong dim;
    const float *pred;
    xgb_check(XGBoosterPredictFromDMatrix(j->mb[m], j->dm,
                                          "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}",
                                          &shape, &dim, &pred), "prediction");
    if (!mixed) memcpy(score, pred, (size_t)n * sizeof *score);
    else
        for (int64_t i = q0, r = 0; i < q1; i++) {
            int64_t a = qstart[i - q0], b = qstart[i - q0 + 1];
            if (j->route[i - q0] != m) continue;
            memcpy(score + a, pred + r, (size_t)(b - a) * sizeof *score);
            r += b - a;
        }
    XGDMatrixFree(j->dm);
    j->dm = NULL;
    free(j->Xg);
    j->Xg = NULL;
}

static void apply_batch(job *j, int64_t q0, int64_t q1, const int64_t *qstart, ts_writer *w) {
    int used[MAX_MODEL] = {0}, nused = 0;
    for (int64_t i = q0; i < q1; i++)
        if (!used[j->route[i - q0]]++) nused++;
    float *score = xalloc((size_t)j->nrows, sizeof *score);
    for (int m = 0; m < j->o->nmodel; m++)
        if (used[m]) predict_rows(j, m, q0, q1, qstart, nused > 1, score);
    scored *sc = xalloc((size_t)j->nrows, sizeof *sc);
    for (int64_t i = q0; i < q1; i++) {
        int64_t a = qstart[i - q0], b = qstart[i - q0 + 1];
        int64_t k = rank_query(j, i, score + a, j->cand + a, b - a, sc, j->out, j->o->n);
        const char *qid = cat_cell(&j->cur->queries, i, 0);
        for (int64_t r = 0; r < k; r++) j->keys[r] = qid;
        if (k && ts_write_rows(w, k, j->keys, j->out)) cli_die("%s", ts_werror(w));
    }
    free(sc);
    free(score);
}

/* a model's options (songpipe_params) into the metadata object, under
 * the name given; with features, its feature list too */
static void model_meta(cJSON *into, const char *options, const char *features, BoosterHandle bh) {
    const char *params = NULL, *feat = NULL;
    int ok;
    xgb_check(XGBoosterGetAttr(bh, "songpipe_params", &params, &ok), "attributes");
    cJSON *pj = ok ? cJSON_Parse(params) : NULL;
    if (pj) cJSON_AddItemToObject(into, options, pj);
    if (!features) return;
    xgb_check(XGBoosterGetAttr(bh, "songpipe_features", &feat, &ok), "attributes");
    cJSON_AddStringToObject(into, features, feat);
}

static void apply(job *j) {
    struct opts *o = j->o;
    load_models(j);
    ts_header h;
    static const char *const cols[] = {"track"};
    if (ts_header_init(&h, "recs", TS_I32, 1, cols)) cli_die("out of memory");
    h.key_name = strdup("qid");
    cJSON *meta = ts_header_meta(&h);
    cJSON_AddStringToObject(meta, "model", "rerank");
    cJSON_AddStringToObject(meta, "rerank_model", o->model[0]);
    model_meta(meta, "rerank_options", "rerank_features", j->mb[0]);
    if (o->nmodel > 1) {
        /* the routes by K (one model keeps the earlier bytes) */
        cJSON *routes = cJSON_AddArrayToObject(meta, "rerank_models");
        for (int m = 0; m < o->nmodel; m++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddItemToArray(routes, r);
            cJSON_AddStringToObject(r, "model", o->model[m]);
            if (j->mks[m]) cJSON_AddStringToObject(r, "ks", j->mks[m]);
            else cJSON_AddNullToObject(r, "ks");
            model_meta(r, "options", NULL, j->mb[m]);
        }
    }
    cJSON *gens = cJSON_AddArrayToObject(meta, "generators");
    for (int g = 0; g < o->ngen; g++) cJSON_AddItemToArray(gens, cJSON_CreateString(o->sp[0].gen_name[g]));
    cJSON_AddNumberToObject(meta, "depth", (double)o->depth);
    cJSON_AddNumberToObject(meta, "threads", (double)o->threads);
    int vmaj, vmin, vpat;
    XGBoostVersion(&vmaj, &vmin, &vpat);
    char ver[32];
    snprintf(ver, sizeof ver, "%d.%d.%d", vmaj, vmin, vpat);
    cJSON_AddStringToObject(meta, "xgboost", ver);
    cJSON_AddNumberToObject(meta, "n", (double)o->n);
    ts_writer *w = cli_open_write(o->out);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    j->out = xalloc((size_t)o->n, sizeof *j->out);
    j->keys = xalloc((size_t)o->n, sizeof *j->keys);
    int64_t qstart[BATCH + 1];
    cli_progress prog;
    cli_progress_init(&prog, 10);
    double t0 = cli_now();
    int64_t nq = j->cur->queries.nrows;
    for (int64_t q0 = 0; q0 < nq; q0 += BATCH) {
        int64_t q1 = q0 + BATCH < nq ? q0 + BATCH : nq;
        j->nrows = 0;
        for (int64_t i = q0; i < q1; i++) {
            qstart[i - q0] = j->nrows;
            j->route[i - q0] = route_query(j, i);
            add_query(j, i, NULL);
        }
        qstart[q1 - q0] = j->nrows;
        apply_batch(j, q0, q1, qstart, w);
        cli_progress_update(&prog, "%" PRId64 "/%" PRId64 " queries, %s", q1, nq, cli_progress_eta(&prog, (double)q1, (double)nq, "queries"));
    }
    cli_progress_done(&prog);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    cli_warn("%" PRId64 " queries re-ranked in %.2f s", nq, cli_now() - t0);
    ts_header_free(&h);
}

int main(int argc, char **argv) {
    cli_init("mpd-rerank", argc, argv, HELP);
    static struct opts o;
    o = parse_opts(argc, argv);
    J.o = &o;
    XGBSetGlobalConfig("{\"verbosity\": 1}");
    load_inputs(&J);
    if (o.save) fit(&J);
    else apply(&J);
    /* free everything (LeakSanitizer) */
    if (J.dm) XGDMatrixFree(J.dm);
    if (J.booster) XGBoosterFree(J.booster);
    for (int m = 0; m < o.nmodel; m++) {
        if (J.mb[m]) XGBoosterFree(J.mb[m]);
        free(J.mks[m]);
    }
    free(J.X); free(J.label); free(J.cand); free(J.group); free(J.group_q); free(J.out); free(J.keys);
    free(J.cooc); free(J.knn); free(J.rp3); free(J.last); free(J.title); free(J.row); free(J.rprow);
    free(J.touched); free(J.rowt); free(J.cand_of); free(J.is_truth); free(J.is_seed);
    free(J.artist); free(J.album); free(J.art_cnt); free(J.alb_cnt);
    free(J.sim_max); free(J.sim_sum); free(J.sim_last3); free(J.cover);
    free(J.Xh); free(J.candh); free(J.hq); free(J.hstart); free(J.hq_split); free(J.group_split);
    free(J.art_co); free(J.art_touched);
    for (int k = 0; k < J.nsplit; k++) {
        split *sp = &J.sp[k];
        free(sp->art_off); free(sp->plart_off); free(sp->art_pl); free(sp->plart); free(sp->als_norm);
        if (o.als) plm_als_free(&sp->als);
        for (int g = 0; g < o.ngen; g++) pl_free(&sp->gen[g]);
        if (o.truth) pl_free(&sp->truth);
        pl_free(&sp->seeds);
        cat_free(&sp->queries);
        plm_free(&sp->m);
        free(sp->titles);
        cat_free(&sp->names);
        pl_free(&sp->train);
    }
    for (int k = 0; k < o.nsplit; k++)
        for (int g = 0; g < o.sp[k].ngen; g++) free((char *)o.sp[k].gen_name[g]);
    cat_free(&J.tracks);
    return 0;
}
