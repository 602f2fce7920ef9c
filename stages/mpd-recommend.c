/* mpd-recommend.c - playlist continuation: for every query (seed tracks and
 * a title) the n best next tracks of a model trained on playlists, as a
 * recommendation stream for rec-eval; or, for one playlist or a list of
 * song names, the next songs as text. */
#include "catalog.h"
#include "cli.h"
#include "playlists.h"
#include "plmodel.h"
#include "plneural.h"
#include "plvocab.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: mpd-recommend --model M --train TRAIN.ts [options]\n"
"       batch:    --queries Q.tsv --seeds SEEDS.ts [-o RECS.ts]\n"
"       continue: --tracks TRACKS.tsv (--playlist PID [--from PLAYLISTS.ts] | --songs 'A; B')\n"
"Recommends up to -n tracks per query, best first, never a seed track and\n"
"never one track twice.  Needs the whole training set in memory (CSR arrays:\n"
"about 12 bytes per playlist row).\n"
"\n"
"  --model M         pop: most played tracks of the training playlists;\n"
"                    title: most played within training playlists whose\n"
"                      normalised name equals the query's (else pop);\n"
"                    cooc: sum over the seeds of co-occurrence counts (title\n"
"                      when there is no seed);\n"
"                    neural: a model of mpd-train (--weights; title when\n"
"                      there is no seed)\n"
"                    blend: (1 - W) x the co-occurrence scores as a\n"
"                      distribution + W x the neural model's softmax\n"
"                      (--weights, --blend W; title when there is no seed)\n"
"                    itemknn: sum over the seeds s of their N best\n"
"                      C[s,t] / (d_s^A d_t^(1-A) + H): co-occurrence C as an\n"
"                      asymmetric cosine with shrinkage H (d = playlists\n"
"                      holding a track; A = 0.5 is the cosine)\n"
"                    rp3beta: sum over the seeds of their N best\n"
"                      sum_p (1 / (d_s |p|))^A / d_t^B: the random walk\n"
"                      seed -> playlist -> track, popularity to the B\n"
"                      (Paudel et al. 2017); both: title when no seed is known\n"
"                    ease: EASE^R (Steck 2019) over the --ease-tracks most\n"
"                      played tracks, B = I - P diag(1/diag P),\n"
"                      P = (X'X + L I)^-1, fitted when the stage starts\n"
"                      (4 V^2 bytes, about V^3 flops: V = 8192 is 268 MB)\n"
"  --lambda L        ease: the L2 weight (default 2000); als: (default 10)\n"
"  --ease-tracks V   ease: the vocabulary (default 8192)\n"
"  --alpha A         itemknn: 0..1 (default 0.7); rp3beta: > 0 (default 0.5);\n"
"                    als: the confidence 1 + A of an observed cell (default 40)\n"
"  --factors F       als: factors per track and playlist (default 128)\n"
"  --iterations N    als: alternating iterations (default 15)\n"
"  --cg-steps N      als: conjugate-gradient steps per row and iteration (default 3)\n"
"  --beta B          rp3beta: 0..1 (default 0)\n"
"  --shrink H        itemknn: >= 0 (default 10)\n"
"  --power Q         itemknn, rp3beta: every entry of a seed's row raised to Q\n"
"                    (Aiolli 2013's locality; default 1)\n"
"  --pl-pow G        itemknn: a playlist p adds |p|^-G to a pair's count\n"
"                    (default 0: plain counts)\n"
"  --row-norm none|max  itemknn, rp3beta: max divides each seed's row by its\n"
"                    largest entry before the rows are added (default none)\n"
"  --neighbours N    itemknn, rp3beta: entries kept per seed row, 0 = all\n"
"                    (default 0; the defaults were chosen on a validation\n"
"                    split of training playlists, pipelines/playlists.md)\n"
"  --train FILE      training playlists stream (mpd-split -o, or mpd-ingest -o)\n"
"  --names FILE      playlist catalogue (mpd-ingest --names): titles of the\n"
"                    training playlists, for the title model\n"
"  --weights FILE    the neural model (mpd-train -o); the ALS factors or the\n"
"                    EASE weights (mpd-train --model als|ease -o), which are\n"
"                    then not fitted at start\n"
"  --blend W         the neural share of the blend, 0..1 (default 0.2)\n"
"  -n N              tracks per query (default 500, the challenge's count;\n"
"                    20 in continue mode)\n"
"  --queries FILE    query catalogue (mpd-split --queries): qid, pid, k, name\n"
"  --seeds FILE      seed tracks keyed by qid (mpd-split --seeds)\n"
"  -o FILE           recommendation stream (default stdout): tensor 'recs',\n"
"                    i32 track keyed by qid, rows best first\n"
"  --tracks FILE     track vocabulary (mpd-ingest --tracks), for names\n"
"  --playlist PID    continue this playlist (all its tracks are seeds)\n"
"  --from FILE       the playlists stream holding --playlist (default --train)\n"
"  --songs LIST      continue a list of songs 'Title - Artist; Title; ...'\n"
"  -h, --help        this help;  -V, --version\n";

enum { M_POP, M_TITLE, M_COOC, M_NEURAL, M_BLEND, M_ITEMKNN, M_RP3BETA, M_EASE, M_ALS };
static const char *const model_names[] = {"pop", "title", "cooc", "neural", "blend", "itemknn", "rp3beta", "ease", "als"};

struct opts {
    int model;
    long n;
    double blend, alpha, beta, shrink, lambda, power, pl_pow;
    int row_norm;
    long neighbours, ease_tracks, factors, iterations, cg_steps;
    const char *train, *names, *weights, *queries, *seeds, *out, *tracks, *playlist, *from, *songs;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.model = -1, .n = -1, .blend = 0.2, .alpha = -1, .beta = -1, .shrink = -1, .neighbours = -1, .power = -1, .pl_pow = -1, .row_norm = -1,
                     .lambda = -1, .ease_tracks = 8192, .factors = -1, .iterations = -1, .cg_steps = -1};
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"train", 1, 0, 't'}, {"names", 1, 0, 'N'}, {"weights", 1, 0, 'w'},
        {"queries", 1, 0, 'q'}, {"seeds", 1, 0, 's'}, {"tracks", 1, 0, 'T'}, {"playlist", 1, 0, 'p'},
        {"from", 1, 0, 'f'}, {"songs", 1, 0, 'S'}, {"blend", 1, 0, 'b'}, {"output", 1, 0, 'o'},
        {"alpha", 1, 0, 'A'}, {"beta", 1, 0, 'B'}, {"shrink", 1, 0, 'H'}, {"neighbours", 1, 0, 'K'},
        {"lambda", 1, 0, 'L'}, {"ease-tracks", 1, 0, 'E'}, {"power", 1, 0, 'Q'}, {"pl-pow", 1, 0, 'P'},
        {"row-norm", 1, 0, 'R'}, {"factors", 1, 0, 'F'}, {"iterations", 1, 0, 'I'}, {"cg-steps", 1, 0, 'C'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:n:", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            for (int i = 0; i < (int)(sizeof model_names / sizeof *model_names); i++)
                if (!strcmp(optarg, model_names[i])) o.model = i;
            if (o.model < 0) cli_usage("--model: '%s' is not one of pop, title, cooc, neural, blend, itemknn, rp3beta, ease, als", optarg);
            break;
        case 'A': o.alpha = cli_double("--alpha", optarg, 0, 1e6); break;
        case 'B': o.beta = cli_double("--beta", optarg, 0, 1); break;
        case 'H': o.shrink = cli_double("--shrink", optarg, 0, 1e9); break;
        case 'L': o.lambda = cli_double("--lambda", optarg, 1e-6, 1e12); break;
        case 'E': o.ease_tracks = cli_long("--ease-tracks", optarg, 1, 65536); break;
        case 'Q': o.power = cli_double("--power", optarg, 0.01, 100); break;
        case 'P': o.pl_pow = cli_double("--pl-pow", optarg, 0, 10); break;
        case 'R':
            if (!strcmp(optarg, "none")) o.row_norm = 0;
            else if (!strcmp(optarg, "max")) o.row_norm = 1;
            else cli_usage("--row-norm: '%s' is not none or max", optarg);
            break;
        case 'F': o.factors = cli_long("--factors", optarg, 1, 4096); break;
        case 'I': o.iterations = cli_long("--iterations", optarg, 1, 1000); break;
        case 'C': o.cg_steps = cli_long("--cg-steps", optarg, 1, 4096); break;
        case 'K': o.neighbours = cli_long("--neighbours", optarg, 0, 1L << 30); break;
        case 't': o.train = optarg; break;
        case 'N': o.names = optarg; break;
        case 'w': o.weights = optarg; break;
        case 'q': o.queries = optarg; break;
        case 's': o.seeds = optarg; break;
        case 'T': o.tracks = optarg; break;
        case 'p': o.playlist = optarg; break;
        case 'f': o.from = optarg; break;
        case 'S': o.songs = optarg; break;
        case 'b': o.blend = cli_double("--blend", optarg, 0, 1); break;
        case 'n': o.n = cli_long("-n", optarg, 1, 1 << 24); break;
        case 'o': o.out = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (o.model < 0) cli_usage("--model is required (pop, title, cooc, neural, blend, itemknn, rp3beta, ease or als)");
    plm_graph_opts d = plm_graph_defaults(o.model == M_RP3BETA ? PLM_RP3BETA : PLM_ITEMKNN);
    plm_als_opts ad = plm_als_defaults();
    if (o.model == M_ALS) {
        if (o.alpha < 0) o.alpha = ad.alpha;
        if (o.lambda < 0) o.lambda = ad.lambda;
    }
    if (o.lambda < 0) o.lambda = 2000;
    if (o.factors < 0) o.factors = ad.factors;
    if (o.iterations < 0) o.iterations = ad.iterations;
    if (o.cg_steps < 0) o.cg_steps = ad.cg_steps;
    if (o.alpha < 0) o.alpha = d.alpha;
    if (o.beta < 0) o.beta = d.beta;
    if (o.shrink < 0) o.shrink = d.shrink;
    if (o.neighbours < 0) o.neighbours = d.neighbours;
    if (o.power < 0) o.power = d.power;
    if (o.pl_pow < 0) o.pl_pow = d.pl_pow;
    if (o.row_norm < 0) o.row_norm = d.row_norm;
    if (o.model != M_ALS && o.alpha > 10) cli_usage("--alpha: at most 10 for %s", model_names[o.model]);
    if (o.model == M_ITEMKNN && o.alpha > 1) cli_usage("--alpha: itemknn takes 0..1 (the share of the seed's popularity)");
    if (!o.train) cli_usage("--train FILE is required");
    if ((o.model == M_NEURAL || o.model == M_BLEND) && !o.weights)
        cli_usage("--model %s needs --weights FILE (mpd-train -o)", o.model == M_NEURAL ? "neural" : "blend");
    int batch = o.queries || o.seeds, cont = o.playlist || o.songs;
    if (batch == cont) cli_usage("give either --queries and --seeds (batch) or --playlist / --songs (continue)");
    if (batch && (!o.queries || !o.seeds)) cli_usage("--queries and --seeds go together");
    if (o.playlist && o.songs) cli_usage("--playlist and --songs exclude each other");
    if (cont && !o.tracks) cli_usage("continue mode needs --tracks FILE (the vocabulary) for the names");
    if (o.n < 0) o.n = batch ? 500 : 20;
    return o;
}

typedef struct {
    const struct opts *o;
    plm_model m;
    pln_model *net;
    plm_ease_model ease;
    plm_als_model als;
} recommender;

static int64_t recommend(recommender *R, const char *title, const int32_t *seeds, int64_t ns, int32_t *out) {
    int64_t n = R->o->n, k;
    switch (R->o->model) {
    case M_POP: k = plm_popular(&R->m, seeds, ns, out, n); break;
    case M_TITLE: k = plm_title(&R->m, title, seeds, ns, out, n); break;
    case M_COOC: k = plm_cooc(&R->m, title, seeds, ns, out, n); break;
    case M_NEURAL: k = ns ? pln_recommend(R->net, &R->m, seeds, ns, out, n) : plm_title(&R->m, title, seeds, ns, out, n); break;
    case M_ITEMKNN:
    case M_RP3BETA: {
        const struct opts *o = R->o;
        plm_graph_opts g = {o->model == M_ITEMKNN ? PLM_ITEMKNN : PLM_RP3BETA, o->alpha, o->beta, o->shrink, o->neighbours,
                             o->power, o->pl_pow, o->row_norm};
        k = plm_graph(&R->m, &g, title, seeds, ns, out, n);
        break;
    }
    case M_EASE: k = plm_ease(&R->ease, &R->m, title, seeds, ns, out, n); break;
    case M_ALS: k = plm_als(&R->als, &R->m, title, seeds, ns, out, n); break;
    default:
        k = ns ? pln_recommend_blend(R->net, &R->m, seeds, ns, (float)R->o->blend, out, n)
               : plm_title(&R->m, title, seeds, ns, out, n);
    }
    if (k == -2) cli_die("co-occurrence scores past 2^32 - 1 (the seeds are in over 4 billion training playlists)");
    if (k < 0) cli_die("out of memory");
    return k;
}

/* titles of the training playlists, from the playlist catalogue */
static const char **train_titles(const pl_set *train, const char *names, catalog *cat) {
    if (!names) return NULL;
    char err[1024];
    const char **t = plv_train_titles(train, names, cat, err, sizeof err);
    if (!t) cli_die("%s", err);
    return t;
}

static void run_batch(recommender *R) {
    const struct opts *o = R->o;
    char err[1024];
    catalog q;
    pl_set seeds;
    if (cat_load(&q, o->queries, err, sizeof err)) cli_die("%s", err);
    int kc = cat_column(&q, "k"), nc = cat_column(&q, "name");
    if (kc < 0 || nc < 0) cli_die("%s: needs columns k and name (mpd-split --queries)", o->queries);
    if (pl_load(&seeds, o->seeds, NULL, err, sizeof err)) cli_die("%s", err);
    ts_header h;
    static const char *const cols[] = {"track"};
    if (ts_header_init(&h, "recs", TS_I32, 1, cols)) cli_die("out of memory");
    h.key_name = strdup("qid");
    cJSON *meta = ts_header_meta(&h);
    cJSON_AddStringToObject(meta, "model", model_names[o->model]);
    if (o->model == M_ITEMKNN || o->model == M_RP3BETA) {
        cJSON_AddNumberToObject(meta, "alpha", o->alpha);
        if (o->model == M_RP3BETA) cJSON_AddNumberToObject(meta, "beta", o->beta);
        else cJSON_AddNumberToObject(meta, "shrink", o->shrink);
        cJSON_AddNumberToObject(meta, "neighbours", (double)o->neighbours);
        cJSON_AddNumberToObject(meta, "power", o->power);
        if (o->model == M_ITEMKNN) cJSON_AddNumberToObject(meta, "pl_pow", o->pl_pow);
        cJSON_AddStringToObject(meta, "row_norm", o->row_norm ? "max" : "none");
    }
    if (o->model == M_EASE) {
        if (o->weights) cJSON_AddStringToObject(meta, "weights", o->weights);
        cJSON_AddNumberToObject(meta, "lambda", R->ease.lambda);
        cJSON_AddNumberToObject(meta, "ease_tracks", (double)R->ease.V);
    }
    if (o->model == M_ALS) {
        cJSON_AddNumberToObject(meta, "factors", R->als.factors);
        cJSON_AddNumberToObject(meta, "lambda", R->als.lambda);
        cJSON_AddNumberToObject(meta, "alpha", R->als.alpha);
        if (o->weights) cJSON_AddStringToObject(meta, "weights", o->weights);
        else cJSON_AddNumberToObject(meta, "iterations", R->als.iterations);
    }
    cJSON_AddNumberToObject(ts_header_meta(&h), "n", (double)o->n);
    ts_writer *w = cli_open_write(o->out);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    int32_t *out = malloc((size_t)o->n * sizeof *out);
    const char **keys = malloc((size_t)o->n * sizeof *keys);
    if (!out || !keys) cli_die("out of memory");
    double t0 = cli_now();
    cli_progress prog;
    cli_progress_init(&prog, 0);
    for (int64_t i = 0; i < q.nrows; i++) {
        const char *qid = cat_cell(&q, i, 0);
        int64_t p = pl_find(&seeds, qid);
        const int32_t *s = p >= 0 ? pl_tracks(&seeds, p) : NULL;
        int64_t ns = p >= 0 ? pl_len(&seeds, p) : 0;
        if (ns == 0 && strcmp(cat_cell(&q, i, kc), "0"))
            cli_die("%s: query %s shows %s tracks but %s has none for it", o->queries, qid, cat_cell(&q, i, kc), o->seeds);
        int64_t k = recommend(R, cat_cell(&q, i, nc), s, ns, out);
        for (int64_t j = 0; j < k; j++) keys[j] = qid;
        if (k && ts_write_rows(w, k, keys, out)) cli_die("%s", ts_werror(w));
        cli_progress_update(&prog, "%" PRId64 "/%" PRId64 " queries", i + 1, q.nrows);
    }
    cli_progress_done(&prog);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    double dt = cli_now() - t0;
    cli_warn("%" PRId64 " queries in %.2f s (%.0f queries/s)", q.nrows, dt, dt > 0 ? (double)q.nrows / dt : 0.0);
    free(out); free(keys);
    ts_header_free(&h);
    cat_free(&q);
    pl_free(&seeds);
}

/* ---- continue mode ---- */

typedef pl_vocab vocab;

static void load_vocab(vocab *v, const char *path) {
    char err[1024];
    if (plv_load(v, path, err, sizeof err)) cli_die("%s", err);
}

static const char *label(const vocab *v, int32_t t, char *buf, size_t cap) { return plv_label(v, t, buf, cap); }

/* the track a name query means: the most played of the best matches */
static int32_t resolve_song(const vocab *v, const char *query) {
    char msg[2048];
    int32_t t;
    int rc = plv_resolve(v, query, &t, msg, sizeof msg);
    if (rc < 0) cli_die("out of memory");
    if (rc) cli_die("%s", msg);
    return t;
}

static void run_continue(recommender *R, const pl_set *train) {
    const struct opts *o = R->o;
    vocab v = {0};
    load_vocab(&v, o->tracks);
    char lab[1024], err[1024];
    int32_t *seeds = NULL;
    int64_t ns = 0;
    pl_set from;
    int own = 0;
    if (o->playlist) {
        const pl_set *src = train;
        if (o->from) { if (pl_load(&from, o->from, NULL, err, sizeof err)) cli_die("%s", err); src = &from; own = 1; }
        int64_t p = pl_find(src, o->playlist);
        if (p < 0) cli_die("playlist '%s' is not in %s; give a pid of that stream", o->playlist, o->from ? o->from : o->train);
        ns = pl_len(src, p);
        if (!(seeds = malloc((size_t)ns * sizeof *seeds))) cli_die("out of memory");
        memcpy(seeds, pl_tracks(src, p), (size_t)ns * sizeof *seeds);
        printf("Playlist %s, %" PRId64 " tracks, ending with:\n", o->playlist, ns);
        for (int64_t i = ns > 5 ? ns - 5 : 0; i < ns; i++) printf("      %s\n", label(&v, seeds[i], lab, sizeof lab));
    } else {
        char *list = strdup(o->songs), *save = NULL;
        if (!list || !(seeds = malloc((strlen(o->songs) / 2 + 1) * sizeof *seeds))) cli_die("out of memory");
        printf("Seed songs:\n");
        for (char *s = strtok_r(list, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
            while (*s == ' ') s++;
            if (!*s) continue;
            seeds[ns] = resolve_song(&v, s);
            printf("      %s\n", label(&v, seeds[ns], lab, sizeof lab));
            ns++;
        }
        free(list);
        if (!ns) cli_usage("--songs: no song names in '%s'", o->songs);
    }
    int32_t *out = malloc((size_t)o->n * sizeof *out);
    if (!out) cli_die("out of memory");
    int64_t k = recommend(R, "", seeds, ns, out);
    static const char *const names[] = {"popularity", "title", "co-occurrence", "neural", "neural + co-occurrence blend",
                                        "item kNN", "RP3beta", "EASE", "ALS"};
    printf("Next songs (%s model):\n", names[o->model]);
    for (int64_t i = 0; i < k; i++) printf("  %3" PRId64 ". %s\n", i + 1, label(&v, out[i], lab, sizeof lab));
    if (fflush(stdout) != 0 || ferror(stdout)) cli_die("<stdout>: write failed: %s", strerror(errno ? errno : EIO));
    free(out); free(seeds);
    if (own) pl_free(&from);
    plv_free(&v);
}

static void als_progress(void *ctx, int iter, const plm_als_model *a) {
    (void)ctx; (void)a;
    cli_warn("ALS iteration %d done", iter);
}

int main(int argc, char **argv) {
    cli_init("mpd-recommend", argc, argv, HELP);
    cli_blas_tune(argv);
    struct opts o = parse_opts(argc, argv);
    recommender R = {.o = &o};
    char err[1024];
    pl_set train;
    if (pl_load(&train, o.train, NULL, err, sizeof err)) cli_die("%s", err);
    catalog names;
    const char **titles = train_titles(&train, o.names, &names);
    /* the vocabulary bound: every track index a query may carry */
    int32_t ntracks = train.ntracks;
    if (o.tracks) {
        catalog c;
        if (cat_load(&c, o.tracks, err, sizeof err)) cli_die("%s", err);
        if (c.nrows > ntracks) ntracks = (int32_t)c.nrows;
        cat_free(&c);
    }
    if (o.model == M_NEURAL || o.model == M_BLEND) {
        if (!(R.net = pln_load(o.weights, err, sizeof err))) cli_die("%s", err);
        if (R.net->ntracks > ntracks) ntracks = R.net->ntracks;
    }
    double t0 = cli_now();
    if (plm_build(&R.m, &train, titles, ntracks, err, sizeof err)) cli_die("%s", err);
    if (o.model == M_EASE && o.weights) {
        if (plm_ease_load(&R.ease, o.weights, "ease.B", R.m.ntracks, err, sizeof err)) cli_die("%s", err);
        cli_warn("EASE weights over %d tracks read from %s", R.ease.V, o.weights);
    } else if (o.model == M_EASE) {
        double t1 = cli_now();
        if (plm_ease_build(&R.ease, &R.m, (int32_t)o.ease_tracks, o.lambda, err, sizeof err)) cli_die("%s", err);
        cli_warn("EASE fitted over the %d most played tracks in %.2f s", R.ease.V, cli_now() - t1);
    }
    if (o.model == M_ALS) {
        double t1 = cli_now();
        if (o.weights) {
            if (plm_als_load(&R.als, o.weights, err, sizeof err)) cli_die("%s", err);
            if (R.als.ntracks > R.m.ntracks)
                cli_die("%s: the ALS model knows %d tracks, the training set and --tracks only %d; give the --tracks it was trained with",
                        o.weights, R.als.ntracks, R.m.ntracks);
        } else {
            plm_als_opts ao = {(int)o.factors, (int)o.iterations, (int)o.cg_steps, o.lambda, o.alpha, 1};
            if (plm_als_train(&R.als, &R.m, &ao, als_progress, NULL, err, sizeof err)) cli_die("%s", err);
            free(R.als.X);
            R.als.X = NULL;
            cli_warn("ALS fitted (%d factors, %d iterations) in %.2f s", R.als.factors, R.als.iterations, cli_now() - t1);
        }
    }
    if (o.queries) cli_warn("model built in %.3f s (%" PRId64 " playlists, %" PRId64 " rows)", cli_now() - t0, train.n, train.off[train.n]);
    if (o.queries) run_batch(&R);
    else run_continue(&R, &train);
    plm_ease_free(&R.ease);
    plm_als_free(&R.als);
    plm_free(&R.m);
    if (R.net) { pln_free(R.net); free(R.net); }
    if (titles) { free(titles); cat_free(&names); }
    pl_free(&train);
    return 0;
}
