/* mpd-rerank.c - the second stage of playlist continuation: the union of
 * several generators' recommendation lists re-ranked by gradient-boosted
 * trees with a ranking objective (LambdaMART through XGBoost's C API), as in
 * the RecSys Challenge 2018 winners' two-stage model (Volkovs et al., "Two-
 * stage model for automatic playlist continuation at scale"). */
#include "catalog.h"
#include "cli.h"
#include "outfile.h"
#include "playlists.h"
#include "plmodel.h"
#include "plvocab.h"
#include "text.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

static const char HELP[] =
"Usage: mpd-rerank --train TRAIN.ts --names NAMES.tsv --tracks TRACKS.tsv\n"
"                  --queries Q.tsv --seeds SEEDS.ts --gen NAME=RECS.ts ...\n"
"       fit:   --truth TRUTH.ts --save MODEL.json [tree options]\n"
"       apply: --model MODEL.json [-o RECS.ts]\n"
"Re-ranks the union of the generators' lists (mpd-recommend -o, one --gen per\n"
"generator, each covering exactly the queries of Q.tsv) with gradient-boosted\n"
"trees (XGBoost, LambdaMART).  Fit on validation queries (mpd-split of the\n"
"training playlists) with their truth; apply to other queries with the same\n"
"generators in the same order.  Features of a (query, candidate):\n"
"  every generator's rank (missing when outside its list), how many lists\n"
"  hold it; the count models' scores recomputed from TRAIN (co-occurrence\n"
"  sum, itemknn, rp3beta with mpd-recommend's defaults), raw and relative to\n"
"  the query's best candidate; co-occurrence with the last seed; log\n"
"  popularity; its share among the training playlists of the query's title\n"
"  and their count; the share of the seeds by its artist and by its album; K.\n"
"Memory: the training set (CSR, ~12 bytes a row); fitting holds every\n"
"candidate's features (4 x features bytes a candidate), applying a batch\n"
"of 256 queries.\n"
"\n"
"  --gen NAME=FILE   a generator's recommendations (repeat; order matters)\n"
"  --depth D         candidates: the first D of each list (default 500)\n"
"  -n N              tracks per query written (default 500)\n"
"  --truth FILE      fit: the ground truth keyed by qid (mpd-split --truth)\n"
"  --save FILE       fit: the model, XGBoost's JSON model format\n"
"  --model FILE      apply: a model of --save\n"
"  --features FILE   fit: also write the training matrix (tensor\n"
"                    'rerank_features', f32, the features then 'label', keyed\n"
"                    by qid, one run per query) for the benchmark's peer\n"
"  --objective O     rank:ndcg (default) or rank:pairwise\n"
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
#define BATCH 256

struct opts {
    int ngen;
    const char *gen_name[MAX_GEN], *gen_path[MAX_GEN];
    long depth, n, trees, max_depth, seed, threads;
    double eta, min_child;
    const char *objective;
    const char *train, *names, *tracks, *queries, *seeds, *truth, *save, *model, *out, *features;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.depth = 500, .n = 500, .trees = 100, .max_depth = 6, .seed = 1, .threads = 2,
                     .eta = 0.1, .min_child = 1, .objective = "rank:ndcg"};
    static const struct option lo[] = {
        {"gen", 1, 0, 'g'}, {"depth", 1, 0, 'D'}, {"truth", 1, 0, 'y'}, {"save", 1, 0, 'S'},
        {"model", 1, 0, 'M'}, {"objective", 1, 0, 'O'}, {"trees", 1, 0, 'T'}, {"max-depth", 1, 0, 'd'},
        {"eta", 1, 0, 'e'}, {"min-child", 1, 0, 'c'}, {"seed", 1, 0, 's'}, {"threads", 1, 0, 'j'},
        {"train", 1, 0, 't'}, {"names", 1, 0, 'N'}, {"tracks", 1, 0, 'k'}, {"queries", 1, 0, 'q'},
        {"seeds", 1, 0, 'Q'}, {"output", 1, 0, 'o'}, {"features", 1, 0, 'F'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:n:", lo, NULL)) != -1) {
        switch (c) {
        case 'g': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) cli_usage("--gen '%s': give NAME=FILE (e.g. cooc=recs-cooc.ts)", optarg);
            if (o.ngen == MAX_GEN) cli_usage("--gen: at most %d generators", MAX_GEN);
            for (const char *p = optarg; p < eq; p++)
                if (!(*p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                    cli_usage("--gen '%s': a name holds letters, digits, - and _ only", optarg);
            char *name = strndup(optarg, (size_t)(eq - optarg));
            if (!name) cli_die("out of memory");
            for (int i = 0; i < o.ngen; i++)
                if (!strcmp(o.gen_name[i], name)) cli_usage("--gen: generator '%s' given twice", name);
            o.gen_name[o.ngen] = name;
            o.gen_path[o.ngen++] = eq + 1;
            break;
        }
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
                cli_usage("--objective: '%s' is not rank:ndcg or rank:pairwise", optarg);
            o.objective = optarg;
            break;
        case 'y': o.truth = optarg; break;
        case 'S': o.save = optarg; break;
        case 'M': o.model = optarg; break;
        case 't': o.train = optarg; break;
        case 'N': o.names = optarg; break;
        case 'k': o.tracks = optarg; break;
        case 'q': o.queries = optarg; break;
        case 'Q': o.seeds = optarg; break;
        case 'o': o.out = optarg; break;
        case 'F': o.features = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.train || !o.names || !o.tracks || !o.queries || !o.seeds)
        cli_usage("--train, --names, --tracks, --queries and --seeds are required");
    if (!o.ngen) cli_usage("give at least one --gen NAME=RECS.ts");
    if (!!o.save == !!o.model) cli_usage("give either --truth and --save (fit) or --model (apply)");
    if (o.save && !o.truth) cli_usage("--save needs --truth (the fit learns from the ground truth)");
    if (o.model && o.truth) cli_usage("--truth is for fitting (--save); apply takes --model only");
    if (o.save && o.out) cli_usage("-o is for apply; the fit writes --save");
    if (o.features && !o.save) cli_usage("--features is for fitting (--save)");
    return o;
}

/* ---- features ---- */

enum { F_K, F_POP, F_COOC, F_COOC_REL, F_KNN, F_KNN_REL, F_RP3, F_RP3_REL, F_LAST, F_TITLE, F_TITLE_N,
       F_ARTIST, F_ALBUM, F_NGEN, F_BASE };
static const char *const base_names[F_BASE] = {
    "k", "log_pop", "cooc", "cooc_rel", "itemknn", "itemknn_rel", "rp3beta", "rp3beta_rel",
    "last_seed_cooc", "title_share", "title_playlists", "artist_share", "album_share", "n_lists"};

typedef struct {
    struct opts *o;
    pl_set train, seeds, truth, gen[MAX_GEN];
    catalog names, queries, tracks;
    const char **titles;
    plm_model m;
    int32_t *artist, *album;        /* track -> id, -1 unknown */
    int64_t nartist, nalbum;
    /* per-query scratch over the tracks, reset after each query */
    float *cooc, *knn, *rp3, *last, *title, *row, *rprow;
    int32_t *touched, *rowt, *cand_of;
    int64_t ntouched;
    int32_t *art_cnt, *alb_cnt;
    unsigned char *is_truth, *is_seed;
    /* the candidates of a batch */
    int32_t *cand;
    float *X, *label;
    unsigned *group;
    int64_t *group_q;               /* the query of each group */
    int64_t nrows, cap, ngroups, gcap;
    int nfeat;
    int kc, nc;
    BoosterHandle booster;
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

/* artist ids as rec-eval makes them (artist_uri when every track has one,
 * else the folded artist_name); album = artist id + folded album_name */
static void load_track_ids(job *j) {
    catalog *c = &j->tracks;
    int tc = cat_column(c, "track"), uc = cat_column(c, "artist_uri"), nc = cat_column(c, "artist_name"),
        ac = cat_column(c, "album_name");
    if (tc < 0 || (uc < 0 && nc < 0)) cli_die("%s: needs columns track and artist_uri or artist_name (mpd-ingest --tracks)", j->o->tracks);
    int64_t nt = j->m.ntracks;
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

static double degree(const plm_model *m, int32_t t) { return (double)(m->tr_off[t + 1] - m->tr_off[t]); }

static void touch(job *j, int32_t t) {
    if (j->cooc[t] == 0 && j->title[t] == 0 && j->last[t] == 0) j->touched[j->ntouched++] = t;
}

/* the count models' scores of every track the seeds reach: one pass over
 * each distinct seed's playlists (the cost of mpd-recommend's itemknn) */
static void score_seeds(job *j, const int32_t *seeds, int64_t ns) {
    plm_model *m = &j->m;
    plm_graph_opts gk = plm_graph_defaults(PLM_ITEMKNN), gr = plm_graph_defaults(PLM_RP3BETA);
    int32_t last = -1;
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < m->ntracks && degree(m, seeds[i]) > 0) last = seeds[i];
    for (int64_t i = 0; i < ns; i++) {
        int32_t s = seeds[i];
        if (s < 0 || s >= m->ntracks || j->is_seed[s]) continue;
        j->is_seed[s] = 1;
        double ds = degree(m, s);
        if (ds == 0) continue;
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
        for (int64_t r = 0; r < nr; r++) {
            int32_t t = j->rowt[r];
            double c = j->row[t], dt = degree(m, t);
            touch(j, t);
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
}

/* the share of the training playlists of the query's title holding each track */
static int64_t score_title(job *j, const char *title) {
    plm_model *m = &j->m;
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
    }
    j->ntouched = 0;
}

static void grow_rows(job *j, int64_t need) {
    if (j->nrows + need <= j->cap) return;
    int64_t cap = j->cap ? j->cap : 4096;
    while (cap < j->nrows + need) cap *= 2;
    cli_mem_need("the candidates", "their features", (uint64_t)cap * (uint64_t)j->nfeat * 4);
    float *X = realloc(j->X, (size_t)cap * (size_t)j->nfeat * sizeof *X);
    if (X) j->X = X;
    float *l = realloc(j->label, (size_t)cap * sizeof *l);
    if (l) j->label = l;
    int32_t *c = realloc(j->cand, (size_t)cap * sizeof *c);
    if (c) j->cand = c;
    if (!X || !l || !c) cli_die("out of memory (%" PRId64 " candidates)", cap);
    j->cap = cap;
}

/* appends query i's candidates (the union of the lists' first --depth
 * tracks, first-seen order) and their features; returns how many, and
 * with truth, how many are in the ground truth (*hits) */
static int64_t add_query(job *j, int64_t i, int64_t *hits) {
    const char *qid = cat_cell(&j->queries, i, 0);
    int64_t sp = pl_find(&j->seeds, qid);
    const int32_t *s = sp >= 0 ? pl_tracks(&j->seeds, sp) : NULL;
    int64_t ns = sp >= 0 ? pl_len(&j->seeds, sp) : 0;
    if (ns == 0 && strcmp(cat_cell(&j->queries, i, j->kc), "0"))
        cli_die("%s: query %s shows %s tracks but %s has none for it", j->o->queries, qid, cat_cell(&j->queries, i, j->kc), j->o->seeds);
    int ng = j->o->ngen, nf = j->nfeat;
    int64_t start = j->nrows, nc = 0;
    for (int g = 0; g < ng; g++) {
        int64_t p = pl_find(&j->gen[g], qid);
        int64_t len = pl_len(&j->gen[g], p), d = len < j->o->depth ? len : j->o->depth;
        grow_rows(j, d);
        const int32_t *r = pl_tracks(&j->gen[g], p);
        for (int64_t k = 0; k < d; k++) {
            int32_t t = r[k];
            if (t >= j->m.ntracks) continue;    /* checked at load */
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
            if (isnan(x[F_BASE + g])) { x[F_BASE + g] = (float)(k + 1); x[F_NGEN] += 1; }
        }
    }
    score_seeds(j, s, ns);
    int64_t ntp = score_title(j, cat_cell(&j->queries, i, j->nc));
    int64_t nknown = 0;
    for (int64_t k = 0; k < ns; k++) {
        int32_t t = s[k];
        if (t < 0 || t >= j->m.ntracks) continue;
        nknown++;
        if (j->artist[t] >= 0) j->art_cnt[j->artist[t]]++;
        if (j->album[t] >= 0) j->alb_cnt[j->album[t]]++;
    }
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
        x[F_POP] = (float)log1p((double)j->m.pop[t]);
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
        j->cand_of[t] = -1;
    }
    for (int64_t k = 0; k < ns; k++) {
        int32_t t = s[k];
        if (t < 0 || t >= j->m.ntracks) continue;
        if (j->artist[t] >= 0) j->art_cnt[j->artist[t]] = 0;
        if (j->album[t] >= 0) j->alb_cnt[j->album[t]] = 0;
    }
    reset_scores(j);
    if (hits) {
        int64_t tp = pl_find(&j->truth, qid), h = 0;
        if (tp < 0) cli_die("%s: query %s of %s has no ground truth; give the truth of the same split", j->o->truth, qid, j->o->queries);
        const int32_t *g = pl_tracks(&j->truth, tp);
        for (int64_t k = 0; k < pl_len(&j->truth, tp); k++)
            if (g[k] >= 0 && g[k] < j->m.ntracks) j->is_truth[g[k]] = 1;
        for (int64_t row = start; row < j->nrows; row++) {
            j->label[row] = j->is_truth[j->cand[row]];
            h += j->is_truth[j->cand[row]];
        }
        for (int64_t k = 0; k < pl_len(&j->truth, tp); k++)
            if (g[k] >= 0 && g[k] < j->m.ntracks) j->is_truth[g[k]] = 0;
        *hits = h;
    }
    return nc;
}

/* ---- inputs ---- */

static void load_inputs(job *j) {
    struct opts *o = j->o;
    char err[1024];
    if (pl_load(&j->train, o->train, NULL, err, sizeof err)) cli_die("%s", err);
    if (!(j->titles = plv_train_titles(&j->train, o->names, &j->names, err, sizeof err))) cli_die("%s", err);
    if (cat_load(&j->tracks, o->tracks, err, sizeof err)) cli_die("%s", err);
    int32_t ntracks = j->train.ntracks;
    if (j->tracks.nrows > ntracks) ntracks = (int32_t)j->tracks.nrows;
    if (plm_build(&j->m, &j->train, j->titles, ntracks, err, sizeof err)) cli_die("%s", err);
    if (cat_load(&j->queries, o->queries, err, sizeof err)) cli_die("%s", err);
    j->kc = cat_column(&j->queries, "k");
    j->nc = cat_column(&j->queries, "name");
    if (j->kc < 0 || j->nc < 0) cli_die("%s: needs columns k and name (mpd-split --queries)", o->queries);
    if (pl_load(&j->seeds, o->seeds, NULL, err, sizeof err)) cli_die("%s", err);
    for (int64_t p = 0; p < j->seeds.n; p++)
        if (cat_find(&j->queries, pl_key(&j->seeds, p)) < 0)
            cli_die("%s: query %s is not in %s; give the seeds of the same split", o->seeds, pl_key(&j->seeds, p), o->queries);
    /* every generator covers exactly the queries */
    for (int g = 0; g < o->ngen; g++) {
        pl_set *s = &j->gen[g];
        if (pl_load(s, o->gen_path[g], "recs", err, sizeof err)) cli_die("--gen %s: %s", o->gen_name[g], err);
        for (int64_t p = 0; p < s->n; p++)
            if (cat_find(&j->queries, pl_key(s, p)) < 0)
                cli_die("%s: query %s is not in %s; every --gen must hold the recommendations of these queries (mpd-recommend --queries %s)",
                        o->gen_path[g], pl_key(s, p), o->queries, o->queries);
        for (int64_t i = 0; i < j->queries.nrows; i++)
            if (pl_find(s, cat_cell(&j->queries, i, 0)) < 0)
                cli_die("%s: no recommendations for query %s of %s; every --gen must cover the same queries (mpd-recommend --queries %s)",
                        o->gen_path[g], cat_cell(&j->queries, i, 0), o->queries, o->queries);
        if (s->ntracks > j->m.ntracks)
            cli_die("%s: track %d is outside the vocabulary of %s (%d tracks); give lists made over the same ingest",
                    o->gen_path[g], s->ntracks - 1, o->tracks, j->m.ntracks);
    }
    if (o->truth) {
        if (pl_load(&j->truth, o->truth, NULL, err, sizeof err)) cli_die("%s", err);
        for (int64_t p = 0; p < j->truth.n; p++)
            if (cat_find(&j->queries, pl_key(&j->truth, p)) < 0)
                cli_die("%s: query %s is not in %s; give the truth of the same split", o->truth, pl_key(&j->truth, p), o->queries);
    }
    load_track_ids(j);
    size_t nt = (size_t)j->m.ntracks;
    j->cooc = xalloc(nt, sizeof(float)); j->knn = xalloc(nt, sizeof(float)); j->rp3 = xalloc(nt, sizeof(float));
    j->last = xalloc(nt, sizeof(float)); j->title = xalloc(nt, sizeof(float)); j->row = xalloc(nt, sizeof(float));
    j->rprow = xalloc(nt, sizeof(float));
    j->touched = xalloc(nt, sizeof(int32_t)); j->rowt = xalloc(nt, sizeof(int32_t)); j->cand_of = xalloc(nt, sizeof(int32_t));
    for (size_t t = 0; t < nt; t++) j->cand_of[t] = -1;
    j->is_truth = xalloc(nt, 1); j->is_seed = xalloc(nt, 1);
    j->nfeat = F_BASE + o->ngen;
}

/* "a,b,c": the feature names (base, then rank_GEN) */
static char *feature_list(const job *j) {
    size_t len = 1;
    for (int f = 0; f < F_BASE; f++) len += strlen(base_names[f]) + 1;
    for (int g = 0; g < j->o->ngen; g++) len += strlen(j->o->gen_name[g]) + 6;
    char *s = xalloc(len, 1);
    for (int f = 0; f < F_BASE; f++) { strcat(s, base_names[f]); strcat(s, ","); }
    for (int g = 0; g < j->o->ngen; g++) { strcat(s, "rank_"); strcat(s, j->o->gen_name[g]); strcat(s, g + 1 < j->o->ngen ? "," : ""); }
    return s;
}

static void set_param(BoosterHandle b, const char *k, const char *v) { xgb_check(XGBoosterSetParam(b, k, v), k); }

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
        const char *qid = cat_cell(&j->queries, j->group_q[g], 0);
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
    for (int64_t i = 0; i < j->queries.nrows; i++) {
        int64_t start = j->nrows, hits;
        int64_t nc = add_query(j, i, &hits);
        if (hits == 0) { j->nrows = start; skipped++; }     /* no gradient from a list without a relevant track */
        else {
            if (j->ngroups == j->gcap) {
                j->gcap = j->gcap ? 2 * j->gcap : 1024;
                unsigned *g = realloc(j->group, (size_t)j->gcap * sizeof *g);
                if (g) j->group = g;
                int64_t *gq = realloc(j->group_q, (size_t)j->gcap * sizeof *gq);
                if (gq) j->group_q = gq;
                if (!g || !gq) cli_die("out of memory");
            }
            j->group_q[j->ngroups] = i;
            j->group[j->ngroups++] = (unsigned)nc;
            pos += hits;
        }
        cli_progress_update(&prog, "features: %" PRId64 "/%" PRId64 " queries, %" PRId64 " candidates, %s",
                            i + 1, j->queries.nrows, j->nrows,
                            cli_progress_eta(&prog, (double)(i + 1), (double)j->queries.nrows, "queries"));
    }
    cli_progress_done(&prog);
    if (!j->ngroups) cli_die("%s: no query has a ground-truth track among the candidates; nothing to learn from", o->truth);
    cli_warn("features of %" PRId64 " candidates (%" PRId64 " relevant) of %" PRId64 " queries in %.1f s; %" PRId64
             " queries without a relevant candidate left out", j->nrows, pos, j->ngroups, cli_now() - t0, skipped);
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
             "\"seed\":%ld,\"threads\":%ld,\"depth\":%ld,\"tree_method\":\"hist\"}",
             o->objective, o->trees, o->max_depth, o->eta, o->min_child, o->seed, o->threads, o->depth);
    xgb_check(XGBoosterSetAttr(j->booster, "songpipe_params", params), "attributes");
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

static void load_model(job *j) {
    const char *path = j->o->model;
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
    xgb_check(XGBoosterCreate(NULL, 0, &j->booster), "creating the booster");
    if (XGBoosterLoadModelFromBuffer(j->booster, buf, (bst_ulong)len)) {
        free(buf);
        cli_die("%s: not a model XGBoost can read (%.300s); give a file mpd-rerank --save wrote, or fit again", path, XGBGetLastError());
    }
    free(buf);
    const char *feat = NULL;
    int ok = 0;
    xgb_check(XGBoosterGetAttr(j->booster, "songpipe_features", &feat, &ok), "attributes");
    if (!ok) cli_die("%s: an XGBoost model without songpipe_features; give a model of mpd-rerank --save", path);
    char *want = feature_list(j);
    if (strcmp(want, feat)) {
        cli_warn("%s was fitted on the features %s", path, feat);
        free(want);
        cli_die("%s: the model's features differ from those of these --gen; give the generators of the fit, in its order", path);
    }
    free(want);
    bst_ulong nf = 0;
    xgb_check(XGBoosterGetNumFeature(j->booster, &nf), "the model's features");
    if ((int)nf != j->nfeat) cli_die("%s: the model has %d features, these inputs give %d; fit again", path, (int)nf, j->nfeat);
    char buf2[64];
    snprintf(buf2, sizeof buf2, "%ld", j->o->threads);
    set_param(j->booster, "nthread", buf2);
}

typedef struct { float p; int32_t t; } scored;
static const plm_model *sort_m;
static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (plm_ahead(sort_m, x->p, x->t, y->p, y->t)) return -1;
    if (plm_ahead(sort_m, y->p, y->t, x->p, x->t)) return 1;
    return 0;
}

static void apply_batch(job *j, int64_t q0, int64_t q1, const int64_t *qstart, ts_writer *w) {
    bst_ulong const *shape;
    bst_ulong dim;
    const float *pred;
    xgb_check(XGDMatrixCreateFromMat(j->X, (bst_ulong)j->nrows, (bst_ulong)j->nfeat, NAN, &j->dm), "the candidate matrix");
    xgb_check(XGBoosterPredictFromDMatrix(j->booster, j->dm,
                                          "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}",
                                          &shape, &dim, &pred), "prediction");
    sort_m = &j->m;
    scored *sc = xalloc((size_t)j->nrows, sizeof *sc);
    for (int64_t i = q0; i < q1; i++) {
        int64_t a = qstart[i - q0], b = qstart[i - q0 + 1], k = 0;
        for (int64_t r = a; r < b; r++) sc[r - a] = (scored){pred[r], j->cand[r]};
        qsort(sc, (size_t)(b - a), sizeof *sc, cmp_scored);
        for (int64_t r = 0; r < b - a && k < j->o->n; r++) j->out[k++] = sc[r].t;
        if (k < j->o->n) {
            /* fewer candidates than places: popularity fills, no seed, no repeat */
            const char *qid = cat_cell(&j->queries, i, 0);
            int64_t sp = pl_find(&j->seeds, qid);
            for (int64_t r = 0; r < k; r++) j->is_truth[j->out[r]] = 1;
            if (sp >= 0)
                for (int64_t r = 0; r < pl_len(&j->seeds, sp); r++) {
                    int32_t t = pl_tracks(&j->seeds, sp)[r];
                    if (t >= 0 && t < j->m.ntracks) j->is_truth[t] = 1;
                }
            for (int64_t r = 0; r < j->m.ntracks && k < j->o->n; r++)
                if (!j->is_truth[j->m.by_pop[r]]) j->out[k++] = j->m.by_pop[r];
            memset(j->is_truth, 0, (size_t)j->m.ntracks);
        }
        const char *qid = cat_cell(&j->queries, i, 0);
        for (int64_t r = 0; r < k; r++) j->keys[r] = qid;
        if (k && ts_write_rows(w, k, j->keys, j->out)) cli_die("%s", ts_werror(w));
    }
    free(sc);
    XGDMatrixFree(j->dm);
    j->dm = NULL;
}

static void apply(job *j) {
    struct opts *o = j->o;
    load_model(j);
    ts_header h;
    static const char *const cols[] = {"track"};
    if (ts_header_init(&h, "recs", TS_I32, 1, cols)) cli_die("out of memory");
    h.key_name = strdup("qid");
    cJSON *meta = ts_header_meta(&h);
    cJSON_AddStringToObject(meta, "model", "rerank");
    cJSON_AddStringToObject(meta, "rerank_model", o->model);
    const char *params = NULL, *feat = NULL;
    int ok;
    xgb_check(XGBoosterGetAttr(j->booster, "songpipe_params", &params, &ok), "attributes");
    cJSON *pj = ok ? cJSON_Parse(params) : NULL;
    if (pj) cJSON_AddItemToObject(meta, "rerank_options", pj);
    xgb_check(XGBoosterGetAttr(j->booster, "songpipe_features", &feat, &ok), "attributes");
    cJSON_AddStringToObject(meta, "rerank_features", feat);
    cJSON *gens = cJSON_AddArrayToObject(meta, "generators");
    for (int g = 0; g < o->ngen; g++) cJSON_AddItemToArray(gens, cJSON_CreateString(o->gen_name[g]));
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
    int64_t nq = j->queries.nrows;
    for (int64_t q0 = 0; q0 < nq; q0 += BATCH) {
        int64_t q1 = q0 + BATCH < nq ? q0 + BATCH : nq;
        j->nrows = 0;
        for (int64_t i = q0; i < q1; i++) {
            qstart[i - q0] = j->nrows;
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
    free(J.X); free(J.label); free(J.cand); free(J.group); free(J.group_q); free(J.out); free(J.keys);
    free(J.cooc); free(J.knn); free(J.rp3); free(J.last); free(J.title); free(J.row); free(J.rprow);
    free(J.touched); free(J.rowt); free(J.cand_of); free(J.is_truth); free(J.is_seed);
    free(J.artist); free(J.album); free(J.art_cnt); free(J.alb_cnt);
    for (int g = 0; g < o.ngen; g++) { pl_free(&J.gen[g]); free((char *)o.gen_name[g]); }
    if (o.truth) pl_free(&J.truth);
    pl_free(&J.seeds);
    cat_free(&J.queries);
    cat_free(&J.tracks);
    plm_free(&J.m);
    free(J.titles);
    cat_free(&J.names);
    pl_free(&J.train);
    return 0;
}
