/* mpd-recommend.c - playlist continuation: for every query (seed tracks and
 * a title) the n best next tracks of a model trained on playlists, as a
 * recommendation stream for rec-eval; or, for one playlist or a list of
 * song names, the next songs as text. */
#include "catalog.h"
#include "cli.h"
#include "playlists.h"
#include "plrec.h"
#include "plvocab.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
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
"                    als: implicit-feedback matrix factorisation (Hu, Koren,\n"
"                      Volinsky 2008) with conjugate-gradient updates, fitted\n"
"                      when the stage starts (or --weights); a query is\n"
"                      folded in as a new playlist (title when no seed)\n"
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
"  --recency R       itemknn, rp3beta, als: seed j of K (playlist order)\n"
"                    weighs exp(-R (K - j)), the last seed 1 (itemknn,\n"
"                    rp3beta: its row times that; als: confidence\n"
"                    1 + alpha x that in the fold-in); default 0: every\n"
"                    seed alike\n"
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
"  --batch N         queries answered together (default 64): als folds them\n"
"                    in, then scores all N in one matrix product (at most\n"
"                    32 MiB of scores at once); 1 = one at a time, as serve\n"
"                    does (als: the lists may differ from a batch's where\n"
"                    two scores are within float rounding of each other)\n"
"  -o FILE           recommendation stream (default stdout): tensor 'recs',\n"
"                    i32 track keyed by qid, rows best first\n"
"  --tracks FILE     track vocabulary (mpd-ingest --tracks), for names\n"
"  --playlist PID    continue this playlist (all its tracks are seeds)\n"
"  --from FILE       the playlists stream holding --playlist (default --train)\n"
"  --songs LIST      continue a list of songs 'Title - Artist; Title; ...'\n"
"                    (a song may be a Spotify uri spotify:track:ID or link\n"
"                    https://open.spotify.com/track/ID?si=...)\n"
"  --format F        continue mode: text (default), tsv (rank, id, title,\n"
"                    artist, source, reason) or json (JSON lines: rank, id,\n"
"                    title, artist, score (null: the models rank, they do\n"
"                    not score), source \"playlists\", reason)\n"
"Continue mode lists one version per song (common/songversion.h): no\n"
"version of a seed, and no second version of a listed song.\n"
"  -h, --help        this help;  -V, --version\n";

struct opts {
    plr_opts m;                 /* the model and its parameters (plrec.h) */
    long n;
    long batch;                 /* queries answered together (batch mode) */
    const char *train, *names, *weights, *queries, *seeds, *out, *tracks, *playlist, *from, *songs;
    int format;                 /* continue: 0 text, 1 tsv, 2 json */
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.n = -1, .batch = 64};
    int model = -1;
    double blend = -1, alpha = -1, beta = -1, shrink = -1, lambda = -1, power = -1, pl_pow = -1, recency = -1;
    long neighbours = -1, ease_tracks = -1, factors = -1, iterations = -1, cg_steps = -1;
    int row_norm = -1;
    char list[128];
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"train", 1, 0, 't'}, {"names", 1, 0, 'N'}, {"weights", 1, 0, 'w'},
        {"queries", 1, 0, 'q'}, {"seeds", 1, 0, 's'}, {"tracks", 1, 0, 'T'}, {"playlist", 1, 0, 'p'},
        {"from", 1, 0, 'f'}, {"songs", 1, 0, 'S'}, {"blend", 1, 0, 'b'}, {"output", 1, 0, 'o'},
        {"alpha", 1, 0, 'A'}, {"beta", 1, 0, 'B'}, {"shrink", 1, 0, 'H'}, {"neighbours", 1, 0, 'K'},
        {"lambda", 1, 0, 'L'}, {"ease-tracks", 1, 0, 'E'}, {"format", 1, 0, 'F'},
        {"power", 1, 0, 'Q'}, {"pl-pow", 1, 0, 'P'}, {"row-norm", 1, 0, 'R'}, {"factors", 1, 0, 'G'},
        {"iterations", 1, 0, 'I'}, {"cg-steps", 1, 0, 'C'}, {"batch", 1, 0, 'Z'}, {"recency", 1, 0, 'r'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:n:", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            if ((model = plr_parse(optarg)) < 0)
                cli_usage("--model: '%s' is not one of %s", optarg, plr_list(list, sizeof list));
            break;
        case 'A': alpha = cli_double("--alpha", optarg, 0, 1e6); break;
        case 'B': beta = cli_double("--beta", optarg, 0, 1); break;
        case 'H': shrink = cli_double("--shrink", optarg, 0, 1e9); break;
        case 'L': lambda = cli_double("--lambda", optarg, 1e-6, 1e12); break;
        case 'E': ease_tracks = cli_long("--ease-tracks", optarg, 1, 65536); break;
        case 'K': neighbours = cli_long("--neighbours", optarg, 0, 1L << 30); break;
        case 'Q': power = cli_double("--power", optarg, 0.01, 100); break;
        case 'P': pl_pow = cli_double("--pl-pow", optarg, 0, 10); break;
        case 'r': recency = cli_double("--recency", optarg, 0, 100); break;
        case 'R':
            if (!strcmp(optarg, "none")) row_norm = 0;
            else if (!strcmp(optarg, "max")) row_norm = 1;
            else cli_usage("--row-norm: '%s' is not none or max", optarg);
            break;
        case 'G': factors = cli_long("--factors", optarg, 1, 4096); break;
        case 'I': iterations = cli_long("--iterations", optarg, 1, 1000); break;
        case 'C': cg_steps = cli_long("--cg-steps", optarg, 1, 4096); break;
        case 't': o.train = optarg; break;
        case 'N': o.names = optarg; break;
        case 'w': o.weights = optarg; break;
        case 'q': o.queries = optarg; break;
        case 's': o.seeds = optarg; break;
        case 'T': o.tracks = optarg; break;
        case 'p': o.playlist = optarg; break;
        case 'f': o.from = optarg; break;
        case 'S': o.songs = optarg; break;
        case 'F':
            if (!strcmp(optarg, "text")) o.format = 0;
            else if (!strcmp(optarg, "tsv")) o.format = 1;
            else if (!strcmp(optarg, "json")) o.format = 2;
            else cli_usage("--format: '%s' is not one of text, tsv, json", optarg);
            break;
        case 'b': blend = cli_double("--blend", optarg, 0, 1); break;
        case 'n': o.n = cli_long("-n", optarg, 1, 1 << 24); break;
        case 'Z': o.batch = cli_long("--batch", optarg, 1, 65536); break;
        case 'o': o.out = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (model < 0) cli_usage("--model is required (%s)", plr_list(list, sizeof list));
    /* the defaults are plrec.c's, shared with serve; an option overrides one */
    o.m = plr_defaults((plr_kind)model);
    if (blend >= 0) o.m.blend = blend;
    if (model == PLR_ALS) {     /* --alpha, --lambda: the confidence and L2 weight of ALS */
        if (alpha >= 0) o.m.als.alpha = alpha;
        if (lambda >= 0) o.m.als.lambda = lambda;
    } else {
        if (alpha > 10) cli_usage("--alpha: at most 10 for %s", plr_names[model]);
        if (alpha >= 0) o.m.graph.alpha = alpha;
        if (lambda >= 0) o.m.lambda = lambda;
    }
    if (factors >= 0) o.m.als.factors = (int)factors;
    if (iterations >= 0) o.m.als.iterations = (int)iterations;
    if (cg_steps >= 0) o.m.als.cg_steps = (int)cg_steps;
    if (beta >= 0) o.m.graph.beta = beta;
    if (shrink >= 0) o.m.graph.shrink = shrink;
    if (neighbours >= 0) o.m.graph.neighbours = neighbours;
    if (power >= 0) o.m.graph.power = power;
    if (pl_pow >= 0) o.m.graph.pl_pow = pl_pow;
    if (row_norm >= 0) o.m.graph.row_norm = row_norm;
    if (ease_tracks >= 0) o.m.ease_tracks = (int32_t)ease_tracks;
    if (recency >= 0) {
        if (model != PLR_ITEMKNN && model != PLR_RP3BETA && model != PLR_ALS)
            cli_usage("--recency weighs the seeds of itemknn, rp3beta and als, not of %s", plr_names[model]);
        o.m.recency = recency;
    }
    if (model == PLR_ITEMKNN && o.m.graph.alpha > 1) cli_usage("--alpha: itemknn takes 0..1 (the share of the seed's popularity)");
    if (!o.train) cli_usage("--train FILE is required");
    if (plr_needs_weights(o.m.kind) && !o.weights)
        cli_usage("--model %s needs --weights FILE (mpd-train -o)", plr_names[model]);
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
    plr_model r;
} recommender;

/* plr_recommend's and plr_recommend_many's failures */
static int64_t checked(int64_t k) {
    if (k == -2) cli_die("co-occurrence scores past 2^32 - 1 (the seeds are in over 4 billion training playlists)");
    if (k < 0) cli_die("out of memory");
    return k;
}

static int64_t recommend(recommender *R, const char *title, const int32_t *seeds, int64_t ns, int32_t *out) {
    return checked(plr_recommend(&R->r, title, seeds, ns, out, R->o->n));
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
    cJSON_AddStringToObject(meta, "model", plr_names[o->m.kind]);
    if (o->m.kind == PLR_ITEMKNN || o->m.kind == PLR_RP3BETA) {
        cJSON_AddNumberToObject(meta, "alpha", o->m.graph.alpha);
        if (o->m.kind == PLR_RP3BETA) cJSON_AddNumberToObject(meta, "beta", o->m.graph.beta);
        else cJSON_AddNumberToObject(meta, "shrink", o->m.graph.shrink);
        cJSON_AddNumberToObject(meta, "neighbours", (double)o->m.graph.neighbours);
        cJSON_AddNumberToObject(meta, "power", o->m.graph.power);
        if (o->m.kind == PLR_ITEMKNN) cJSON_AddNumberToObject(meta, "pl_pow", o->m.graph.pl_pow);
        cJSON_AddStringToObject(meta, "row_norm", o->m.graph.row_norm ? "max" : "none");
    }
    if (o->m.recency != 0) cJSON_AddNumberToObject(meta, "recency", o->m.recency);
    if (o->m.kind == PLR_EASE) {
        if (o->weights) cJSON_AddStringToObject(meta, "weights", o->weights);
        cJSON_AddNumberToObject(meta, "lambda", R->r.ease.lambda);
        cJSON_AddNumberToObject(meta, "ease_tracks", (double)R->r.ease.V);
    }
    if (o->m.kind == PLR_ALS) {
        cJSON_AddNumberToObject(meta, "factors", R->r.als.factors);
        cJSON_AddNumberToObject(meta, "lambda", R->r.als.lambda);
        cJSON_AddNumberToObject(meta, "alpha", R->r.als.alpha);
        if (o->weights) cJSON_AddStringToObject(meta, "weights", o->weights);
        else cJSON_AddNumberToObject(meta, "iterations", R->r.als.iterations);
    }
    cJSON_AddNumberToObject(ts_header_meta(&h), "n", (double)o->n);
    ts_writer *w = cli_open_write(o->out);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    /* --batch queries at a time: ALS scores them in one matrix product */
    const int64_t B = o->batch, n = o->n;
    int32_t *out = malloc((size_t)B * (size_t)n * sizeof *out);
    const char **keys = malloc((size_t)n * sizeof *keys), **titles = malloc((size_t)B * sizeof *titles);
    const int32_t **sp = malloc((size_t)B * sizeof *sp);
    int64_t *nsp = malloc((size_t)B * sizeof *nsp), *k = malloc((size_t)B * sizeof *k);
    if (!out || !keys || !titles || !sp || !nsp || !k) cli_die("out of memory");
    double t0 = cli_now();
    cli_progress prog;
    cli_progress_init(&prog, 10);
    for (int64_t i0 = 0; i0 < q.nrows; i0 += B) {
        int64_t nb = q.nrows - i0 < B ? q.nrows - i0 : B;
        for (int64_t j = 0; j < nb; j++) {
            int64_t i = i0 + j;
            const char *qid = cat_cell(&q, i, 0);
            int64_t p = pl_find(&seeds, qid);
            sp[j] = p >= 0 ? pl_tracks(&seeds, p) : NULL;
            nsp[j] = p >= 0 ? pl_len(&seeds, p) : 0;
            titles[j] = cat_cell(&q, i, nc);
            if (nsp[j] == 0 && strcmp(cat_cell(&q, i, kc), "0"))
                cli_die("%s: query %s shows %s tracks but %s has none for it", o->queries, qid, cat_cell(&q, i, kc), o->seeds);
        }
        if (B == 1) k[0] = recommend(R, titles[0], sp[0], nsp[0], out);
        else checked(plr_recommend_many(&R->r, nb, titles, sp, nsp, out, n, k));
        for (int64_t j = 0; j < nb; j++) {
            const char *qid = cat_cell(&q, i0 + j, 0);
            for (int64_t r = 0; r < k[j]; r++) keys[r] = qid;
            if (k[j] && ts_write_rows(w, k[j], keys, out + j * n)) cli_die("%s", ts_werror(w));
        }
        cli_progress_update(&prog, "%" PRId64 "/%" PRId64 " queries, %s", i0 + nb, q.nrows,
                            cli_progress_eta(&prog, (double)(i0 + nb), (double)q.nrows, "queries"));
    }
    cli_progress_done(&prog);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    double dt = cli_now() - t0;
    cli_warn("%" PRId64 " queries in %.2f s (%.0f queries/s)", q.nrows, dt, dt > 0 ? (double)q.nrows / dt : 0.0);
    free(out); free(keys); free(titles); free(sp); free(nsp); free(k);
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
    FILE *hf = o->format ? stderr : stdout;     /* the seeds: part of the text, a note beside TSV/JSON */
    if (o->playlist) {
        const pl_set *src = train;
        if (o->from) { if (pl_load(&from, o->from, NULL, err, sizeof err)) cli_die("%s", err); src = &from; own = 1; }
        int64_t p = pl_find(src, o->playlist);
        if (p < 0) cli_die("playlist '%s' is not in %s; give a pid of that stream", o->playlist, o->from ? o->from : o->train);
        ns = pl_len(src, p);
        if (!(seeds = malloc((size_t)ns * sizeof *seeds))) cli_die("out of memory");
        memcpy(seeds, pl_tracks(src, p), (size_t)ns * sizeof *seeds);
        fprintf(hf, "Playlist %s, %" PRId64 " tracks, ending with:\n", o->playlist, ns);
        for (int64_t i = ns > 5 ? ns - 5 : 0; i < ns; i++) fprintf(hf, "      %s\n", label(&v, seeds[i], lab, sizeof lab));
    } else {
        char *list = strdup(o->songs), *save = NULL;
        if (!list || !(seeds = malloc((strlen(o->songs) / 2 + 1) * sizeof *seeds))) cli_die("out of memory");
        fprintf(hf, "Seed songs:\n");
        for (char *s = strtok_r(list, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
            while (*s == ' ') s++;
            if (!*s) continue;
            seeds[ns] = resolve_song(&v, s);
            fprintf(hf, "      %s\n", label(&v, seeds[ns], lab, sizeof lab));
            ns++;
        }
        free(list);
        if (!ns) cli_usage("--songs: no song names in '%s'", o->songs);
    }
    /* more than -n from the model, then one version per song: a seed's
     * versions and a listed song's further versions are skipped */
    struct opts wide = *o;
    wide.n = o->n * 4 + ns + 16;
    R->o = &wide;
    int32_t *out = malloc((size_t)wide.n * sizeof *out);
    unsigned char *taken = calloc((size_t)(v.cat.nrows ? v.cat.nrows : 1), 1);
    if (!out || !taken) cli_die("out of memory");
    int64_t got = recommend(R, "", seeds, ns, out), k = 0;
    R->o = o;
    for (int64_t i = 0; i < ns; i++)
        if (seeds[i] >= 0 && seeds[i] < v.cat.nrows) taken[v.songs.version[seeds[i]]] = 1;
    for (int64_t i = 0; i < got && k < o->n; i++) {
        int32_t t = out[i];
        if (t >= 0 && t < v.cat.nrows) {
            if (taken[v.songs.version[t]]) continue;
            taken[v.songs.version[t]] = 1;
        }
        out[k++] = t;
    }
    char reason[160];
    snprintf(reason, sizeof reason, "%s model over the %" PRId64 " seed%s' playlists", plr_titles[o->m.kind], ns, ns == 1 ? "" : "s");
    if (o->format == 0) printf("Next songs (%s model):\n", plr_titles[o->m.kind]);
    for (int64_t i = 0; i < k; i++) {
        int known = out[i] >= 0 && out[i] < v.cat.nrows;
        const char *id = known ? cat_cell(&v.cat, out[i], 0) : "", *ti = known ? cat_cell(&v.cat, out[i], v.name_col) : "",
                   *ar = known ? cat_cell(&v.cat, out[i], v.artist_col) : "";
        if (o->format == 1) {
            printf("%" PRId64 "\t%s\t%s\t%s\tplaylists\t%s\n", i + 1, id, ti, ar, reason);
        } else if (o->format == 2) {
            cJSON *j = cJSON_CreateObject();
            if (!j) cli_die("out of memory");
            cJSON_AddNumberToObject(j, "rank", (double)(i + 1));
            cJSON_AddStringToObject(j, "id", id);
            cJSON_AddStringToObject(j, "title", ti);
            cJSON_AddStringToObject(j, "artist", ar);
            cJSON_AddNullToObject(j, "score");
            cJSON_AddStringToObject(j, "source", "playlists");
            cJSON_AddStringToObject(j, "reason", reason);
            char *t = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            if (!t) cli_die("out of memory");
            printf("%s\n", t);
            free(t);
        } else {
            printf("  %3" PRId64 ". %s\n", i + 1, label(&v, out[i], lab, sizeof lab));
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) cli_die("<stdout>: write failed: %s", strerror(errno ? errno : EIO));
    free(taken);
    free(out); free(seeds);
    if (own) pl_free(&from);
    plv_free(&v);
}

static void als_progress(void *ctx, int iter, const plm_als_model *a) {
    (void)ctx;
    cli_warn("ALS iteration %d/%d done", iter, a->iterations);
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
    double t0 = cli_now();
    o.m.als_report = als_progress;
    /* the models that read no file ignore --weights (one command line for every model) */
    if (!plr_takes_weights(o.m.kind)) o.weights = NULL;
    if (o.m.kind == PLR_EASE && !o.weights)   /* one LAPACK call each: no progress inside, so say how long it may take */
        cli_warn("fitting EASE over up to %d tracks: X'X of %" PRId64 " playlists, then a Cholesky factor and inverse "
                 "(about V^3 = %.0f GFLOP: %.0f s at 10 GFLOP/s)", o.m.ease_tracks, train.n,
                 pow(o.m.ease_tracks, 3) / 1e9, pow(o.m.ease_tracks, 3) / 1e10);
    if (plr_build(&R.r, &o.m, &train, titles, ntracks, o.weights, err, sizeof err)) cli_die("%s", err);
    if (o.m.kind == PLR_EASE && o.weights) cli_warn("EASE weights over %d tracks read from %s", R.r.ease.V, o.weights);
    else if (o.m.kind == PLR_EASE)
        cli_warn("EASE fitted over the %d most played tracks in %.2f s", R.r.ease.V, cli_now() - t0);
    if (o.m.kind == PLR_ALS && !o.weights)
        cli_warn("ALS fitted (%d factors, %d iterations) in %.2f s", R.r.als.factors, R.r.als.iterations, cli_now() - t0);
    if (o.queries) cli_warn("model built in %.3f s (%" PRId64 " playlists, %" PRId64 " rows)", cli_now() - t0, train.n, train.off[train.n]);
    if (o.queries) run_batch(&R);
    else run_continue(&R, &train);
    plr_free(&R.r);
    if (titles) { free(titles); cat_free(&names); }
    pl_free(&train);
    return 0;
}
