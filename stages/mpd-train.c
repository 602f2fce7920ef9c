/* mpd-train.c - trains the neural playlist-continuation model (plneural.h)
 * on a playlists stream: examples are (k tracks of a playlist -> the rest),
 * minibatches through a full softmax over the model's vocabulary, Adam,
 * early stopping on a validation loss.  --model cooc instead counts the
 * track co-occurrences (plmodel.h), shardable by playlist; --model als
 * factorises the playlist x track matrix (plmodel_als.c). */
#include "cli.h"
#include "optim.h"
#include "playlists.h"
#include "plmodel.h"
#include "plneural.h"
#include "rng.h"
#include "shard.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: mpd-train [options] -o MODEL.ts [TRAIN.ts | -]\n"
"Trains the neural playlist model on a playlists stream (mpd-split -o): track\n"
"embeddings, the mean and std of the seed tracks' embeddings, residual MLP\n"
"blocks, a full softmax over every track played at least --min-count times\n"
"(output weights tied to the embeddings).  One example = k tracks of a\n"
"playlist (k uniform in 1..min(n-1, --max-seeds)) and, as targets, its other\n"
"tracks.  The output bias starts at log(training count) (popularity).\n"
"Needs the training set and B x vocab logits in memory.\n"
"\n"
"  --model M         neural (default), or cooc: the co-occurrence counts\n"
"                    C = A^T A of the binary playlist x track matrix A, tensor\n"
"                    'cooc' of i32 counts keyed 'a b' (track indices), one row\n"
"                    per non-zero C[a,b] with a <= b, in (a, b) order\n"
"                    (C[a,a] = playlists holding a); the options below are\n"
"                    the neural model's;\n"
"                    or als: implicit-feedback matrix factorisation (Hu,\n"
"                    Koren, Volinsky 2008, conjugate-gradient updates), tensor\n"
"                    'als.items' of f32 track factors keyed by track\n"
"                    (mpd-recommend --model als --weights); memory: (playlists\n"
"                    + tracks) x factors floats and the playlists as CSR\n"
"                    or ease: EASE^R (Steck 2019) over the --ease-tracks most\n"
"                    played tracks, tensor 'ease.B' (V rows of V f32 weights\n"
"                    keyed by track; mpd-recommend --model ease --weights);\n"
"                    4 V^2 bytes and about V^3 flops\n"
"  --ease-tracks V   ease: the vocabulary (default 8192)\n"
"  --gram FILE       ease: fit from Gram counts (merged --shard outputs)\n"
"                    instead of the playlists\n"
"  --factors F       als: factors (default 128)\n"
"  --iterations N    als: alternating iterations (default 15)\n"
"  --cg-steps N      als: conjugate-gradient steps per row and iteration (default 3)\n"
"  --lambda L        als: L2 weight (default 10); ease: (default 2000)\n"
"  --alpha A         als: confidence 1 + A of an observed cell (default 40)\n"
"  --shard I/N       with --model cooc: count only the playlists p (0-based\n"
"                    place in the input) with p mod N = I; `merge` adds the\n"
"                    N partial counts up into exactly the unsharded model\n"
"                    (meta.shard.combine 'sum').  Every shard loads the whole\n"
"                    input (a named file, not stdin) and holds its 1/N part\n"
"                    as CSR plus two int32 arrays per track.  With --model\n"
"                    ease: the Gram counts X'X (tensor 'ease.gram', i32) of\n"
"                    those playlists over the vocabulary of the whole input;\n"
"                    merge adds them, --gram fits the model from the sum\n"
"                    (the same bytes as the unsharded fit)\n"
"  -o FILE           model (tensor stream; mpd-recommend --model neural --weights)\n"
"  --dim N           embedding width (default 50)\n"
"  --hidden N        hidden width of the MLP (default 128)\n"
"  --blocks N        residual blocks (default 2)\n"
"  --min-count N     vocabulary: tracks in at least N training rows (default 2)\n"
"  --targets all|next  all held-out tracks as a target distribution (default),\n"
"                    or only the next one (track k+1)\n"
"  --max-seeds N     largest k (default 25)\n"
"  --seed-pick random|prefix  the k seeds of a training example: k tracks at\n"
"                    random positions (default; a new subset every epoch),\n"
"                    or the first k; the rest are the targets.  The\n"
"                    validation loss always uses prefixes, as the queries do\n"
"  --dropout P       dropout on the pooled seed vector while training\n"
"                    (default 0.25; 0 = none)\n"
"  --samples N       examples per playlist per epoch (default 4)\n"
"  --epochs N        at most N epochs (default 20)\n"
"  --batch N         minibatch size (default 256)\n"
"  --lr X            Adam learning rate (default 0.002)\n"
"  --weight-decay X  AdamW decoupled weight decay (default 0)\n"
"  --valid-frac F    playlists kept out for the validation loss (default 0.05)\n"
"  --patience N      stop after N epochs without a better validation loss,\n"
"                    keeping the best weights (default 2; 0 = never)\n"
"  --seed N          initialisation, sampling and split (default 1)\n"
"  -h, --help        this help;  -V, --version\n";

struct opts {
    const char *in, *out;
    int dim, hidden, blocks, min_count, next_only, max_seeds, samples, epochs, batch, patience, random_pick;
    double lr, wd, valid_frac, dropout;
    uint64_t seed;
    int cooc, als, ease;        /* --model cooc, als, ease */
    long ease_tracks;
    double lambda;
    const char *gram;
    plm_als_opts ao;
    shard_spec shard;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.dim = 50, .hidden = 128, .blocks = 2, .min_count = 2, .max_seeds = 25, .samples = 4,
                     .epochs = 20, .batch = 256, .patience = 2, .lr = 0.002, .valid_frac = 0.05, .seed = 1, .random_pick = 1, .dropout = 0.25};
    static const struct option lo[] = {
        {"dim", 1, 0, 'd'}, {"hidden", 1, 0, 'H'}, {"blocks", 1, 0, 'b'}, {"min-count", 1, 0, 'm'},
        {"targets", 1, 0, 't'}, {"max-seeds", 1, 0, 'k'}, {"samples", 1, 0, 's'}, {"epochs", 1, 0, 'e'},
        {"batch", 1, 0, 'B'}, {"lr", 1, 0, 'l'}, {"weight-decay", 1, 0, 'w'}, {"valid-frac", 1, 0, 'v'},
        {"patience", 1, 0, 'p'}, {"seed", 1, 0, 'S'}, {"seed-pick", 1, 0, 'P'}, {"dropout", 1, 0, 'D'}, {"output", 1, 0, 'o'},
        {"model", 1, 0, 'M'}, {"shard", 1, 0, 'I'}, {"factors", 1, 0, 'F'}, {"iterations", 1, 0, 'i'},
        {"cg-steps", 1, 0, 'C'}, {"lambda", 1, 0, 'L'}, {"alpha", 1, 0, 'A'}, {"ease-tracks", 1, 0, 'E'},
        {"gram", 1, 0, 'G'}, {0, 0, 0, 0}};
    char err[256];
    int c, als_opt = 0;
    o.ao = plm_als_defaults();
    o.ease_tracks = 8192;
    o.lambda = -1;
    int ease_opt = 0;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o.dim = (int)cli_long("--dim", optarg, 1, 1024); break;
        case 'H': o.hidden = (int)cli_long("--hidden", optarg, 1, 8192); break;
        case 'b': o.blocks = (int)cli_long("--blocks", optarg, 0, PLN_MAX_BLOCKS); break;
        case 'm': o.min_count = (int)cli_long("--min-count", optarg, 1, 1 << 30); break;
        case 't':
            if (!strcmp(optarg, "all")) o.next_only = 0;
            else if (!strcmp(optarg, "next")) o.next_only = 1;
            else cli_usage("--targets: '%s' is not all or next", optarg);
            break;
        case 'k': o.max_seeds = (int)cli_long("--max-seeds", optarg, 1, 1 << 20); break;
        case 's': o.samples = (int)cli_long("--samples", optarg, 1, 1000); break;
        case 'e': o.epochs = (int)cli_long("--epochs", optarg, 1, 100000); break;
        case 'B': o.batch = (int)cli_long("--batch", optarg, 1, 65536); break;
        case 'l': o.lr = cli_double("--lr", optarg, 1e-8, 10); break;
        case 'w': o.wd = cli_double("--weight-decay", optarg, 0, 10); break;
        case 'v': o.valid_frac = cli_double("--valid-frac", optarg, 0, 0.9); break;
        case 'p': o.patience = (int)cli_long("--patience", optarg, 0, 1000); break;
        case 'S': o.seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX); break;
        case 'P':
            if (!strcmp(optarg, "prefix")) o.random_pick = 0;
            else if (!strcmp(optarg, "random")) o.random_pick = 1;
            else cli_usage("--seed-pick: '%s' is not prefix or random", optarg);
            break;
        case 'D': o.dropout = cli_double("--dropout", optarg, 0, 0.95); break;
        case 'o': o.out = optarg; break;
        case 'M':
            o.cooc = !strcmp(optarg, "cooc");
            o.als = !strcmp(optarg, "als");
            o.ease = !strcmp(optarg, "ease");
            if (!o.cooc && !o.als && !o.ease && strcmp(optarg, "neural"))
                cli_usage("--model: '%s' is not neural, cooc, als or ease", optarg);
            break;
        case 'F': o.ao.factors = (int)cli_long("--factors", optarg, 1, 4096); als_opt = 1; break;
        case 'i': o.ao.iterations = (int)cli_long("--iterations", optarg, 1, 1000); als_opt = 1; break;
        case 'C': o.ao.cg_steps = (int)cli_long("--cg-steps", optarg, 1, 4096); als_opt = 1; break;
        case 'L': o.lambda = cli_double("--lambda", optarg, 0, 1e12); break;
        case 'E': o.ease_tracks = cli_long("--ease-tracks", optarg, 1, 65536); ease_opt = 1; break;
        case 'G': o.gram = optarg; ease_opt = 1; break;
        case 'A': o.ao.alpha = cli_double("--alpha", optarg, 0, 1e6); als_opt = 1; break;
        case 'I': if (shard_parse(optarg, &o.shard, err, sizeof err)) cli_usage("%s", err); break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.in = argv[optind++];
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.out) cli_usage("-o MODEL.ts is required");
    if (als_opt && !o.als) cli_usage("--factors, --iterations, --cg-steps and --alpha are options of --model als");
    if (ease_opt && !o.ease) cli_usage("--ease-tracks and --gram are options of --model ease");
    if (o.lambda >= 0 && !o.als && !o.ease) cli_usage("--lambda is an option of --model als and ease");
    if (o.als && o.lambda >= 0) o.ao.lambda = o.lambda;
    if (o.ease && o.lambda < 0) o.lambda = 2000;
    if (o.ease && o.lambda <= 0) cli_usage("--lambda: ease needs a positive L2 weight");
    if (o.gram && shard_active(&o.shard)) cli_usage("--gram fits the merged counts; give it without --shard");
    if (o.gram && o.in) cli_usage("--gram fits the counts alone; give no playlists input");
    if (shard_active(&o.shard) && o.als)
        cli_usage("--shard: ALS factors do not merge by sum; train --model als on one machine (memory: (playlists + tracks) x --factors x 4 bytes)");
    if (shard_active(&o.shard) && !o.cooc && !o.ease)
        cli_usage("--shard splits the counting of --model cooc and ease; the neural model is not sharded");
    o.ao.seed = o.seed;
    if (shard_active(&o.shard) && (!o.in || !strcmp(o.in, "-")))
        cli_usage("--shard needs a named input file (its size and checksum identify the input), not stdin");
    return o;
}

/* playlists as vocabulary rows (-1 outside), training and validation ids */
typedef struct {
    pl_set pl;
    int32_t *row;               /* pl.track mapped to vocab rows */
    int64_t *train, *valid, ntrain, nvalid;
} data;

typedef struct {
    int64_t *off, *toff;
    int32_t *rows, *tgt, *pos;     /* pos: one playlist's positions */
    int64_t cap_rows, cap_tgt;
} batch_buf;

static void push(int32_t **v, int64_t *cap, int64_t n, int32_t x) {
    if (n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        if (!(*v = realloc(*v, (size_t)*cap * sizeof **v))) cli_die("out of memory");
    }
    (*v)[n] = x;
}

/* example i of the batch: playlist p, k seeds (its first k tracks, or with
 * pick k random positions; pick is scratch for the playlist's positions);
 * returns 0 when the playlist has no target in the vocabulary */
static int add_example(batch_buf *bb, int i, const data *d, int64_t p, int k, int next_only,
                       rng_state *pick) {
    const int32_t *r = d->row + d->pl.off[p];
    int64_t n = pl_len(&d->pl, p), nr = bb->off[i], nt = bb->toff[i];
    int32_t *pos = bb->pos;
    for (int64_t j = 0; j < n; j++) pos[j] = (int32_t)j;
    if (pick)       /* partial Fisher-Yates: pos[0..k) a uniform k-subset */
        for (int j = 0; j < k; j++) {
            int64_t q = j + (int64_t)rng_below(pick, (uint64_t)(n - j));
            int32_t t = pos[j]; pos[j] = pos[q]; pos[q] = t;
        }
    for (int64_t j = k; j < n && (!next_only || j == k); j++)
        if (r[pos[j]] >= 0) push(&bb->tgt, &bb->cap_tgt, nt++, r[pos[j]]);
    if (nt == bb->toff[i]) return 0;
    for (int j = 0; j < k; j++) push(&bb->rows, &bb->cap_rows, nr++, r[pos[j]]);
    bb->off[i + 1] = nr;
    bb->toff[i + 1] = nt;
    return 1;
}

static int sample_k(rng_state *r, int64_t n, int max_seeds) {
    int64_t hi = n - 1 < max_seeds ? n - 1 : max_seeds;
    return 1 + (int)rng_below(r, (uint64_t)hi);
}

/* mean validation loss over fixed examples (seeded once) */
static double valid_loss(pln_model *m, const data *d, const struct opts *o, batch_buf *bb) {
    if (!d->nvalid) return NAN;
    rng_state r;
    rng_seed(&r, o->seed ^ 0x5eed);
    double sum = 0;
    int64_t count = 0;
    for (int64_t s = 0; s < d->nvalid;) {
        int B = 0;
        bb->off[0] = bb->toff[0] = 0;
        for (; B < o->batch && s < d->nvalid; s++) {
            int64_t p = d->valid[s];
            B += add_example(bb, B, d, p, sample_k(&r, pl_len(&d->pl, p), o->max_seeds), o->next_only, NULL);
        }
        if (!B) continue;
        pln_batch b = {B, bb->off, bb->rows, bb->toff, bb->tgt};
        pln_forward(m, &b);
        sum += pln_loss_backward(m, &b, 0) * B;
        count += B;
    }
    return count ? sum / (double)count : NAN;
}

static double train_epoch(pln_model *m, nn_optim *opt, const data *d, const struct opts *o,
                          batch_buf *bb, rng_state *r, int64_t *examples) {
    int64_t nex = d->ntrain * o->samples;
    int64_t *order = malloc((size_t)(nex ? nex : 1) * sizeof *order);
    if (!order) cli_die("out of memory");
    for (int64_t i = 0; i < nex; i++) order[i] = d->train[i % d->ntrain];
    rng_shuffle_i64(r, order, nex);
    double sum = 0;
    int64_t count = 0;
    cli_progress prog;
    cli_progress_init(&prog, 10);
    for (int64_t s = 0; s < nex;) {
        int B = 0;
        bb->off[0] = bb->toff[0] = 0;
        for (; B < o->batch && s < nex; s++) {
            int64_t p = order[s];
            B += add_example(bb, B, d, p, sample_k(r, pl_len(&d->pl, p), o->max_seeds), o->next_only,
                             o->random_pick ? r : NULL);
        }
        if (!B) continue;
        pln_batch b = {B, bb->off, bb->rows, bb->toff, bb->tgt};
        memset(m->grads, 0, m->nparams * sizeof *m->grads);
        m->training = 1;
        pln_forward(m, &b);
        double l = pln_loss_backward(m, &b, 1);
        if (!isfinite(l)) cli_die("the training loss became %g; lower --lr", l);
        m->training = 0;
        nn_optim_step(opt, m->params, m->grads);
        sum += l * B;
        count += B;
        cli_progress_update(&prog, "%" PRId64 "/%" PRId64 " examples, loss %.4f, %s", s, nex, sum / (double)count,
                            cli_progress_eta(&prog, (double)s, (double)nex, "examples"));
    }
    cli_progress_done(&prog);
    free(order);
    *examples = count;
    return sum / (double)count;
}

/* the vocabulary: tracks with at least min_count training rows */
static int32_t *build_vocab(data *d, const struct opts *o, int64_t *V, float **logcount) {
    int64_t *cnt = calloc((size_t)d->pl.ntracks + 1, sizeof *cnt);
    if (!cnt) cli_die("out of memory");
    for (int64_t i = 0; i < d->ntrain; i++) {
        int64_t p = d->train[i];
        for (int64_t j = d->pl.off[p]; j < d->pl.off[p + 1]; j++) cnt[d->pl.track[j]]++;
    }
    int32_t *tracks = malloc((size_t)d->pl.ntracks * sizeof *tracks + 1), *row = malloc((size_t)d->pl.ntracks * sizeof *row + 1);
    if (!tracks || !row) cli_die("out of memory");
    int64_t n = 0;
    if (!(*logcount = malloc((size_t)d->pl.ntracks * sizeof **logcount + 1))) cli_die("out of memory");
    for (int32_t t = 0; t < d->pl.ntracks; t++) {
        row[t] = cnt[t] >= o->min_count ? (int32_t)n : -1;
        if (row[t] >= 0) { (*logcount)[n] = logf((float)cnt[t]); tracks[n++] = t; }
    }
    if (!n) cli_die("no track is played %d times in the training playlists; lower --min-count", o->min_count);
    if (!(d->row = malloc((size_t)(d->pl.off[d->pl.n] ? d->pl.off[d->pl.n] : 1) * sizeof *d->row))) cli_die("out of memory");
    for (int64_t j = 0; j < d->pl.off[d->pl.n]; j++) d->row[j] = row[d->pl.track[j]];
    free(cnt); free(row);
    *V = n;
    return tracks;
}

/* ---- --model cooc ---- */

typedef struct { ts_writer *w; shard_out *so; int64_t ntracks, pairs; } cooc_out;

static int owns_playlist(void *ctx, int64_t p) { return shard_owns_unit(ctx, p); }

/* decimal digits of a non-negative v at p; returns the end (snprintf was
 * half of the run time: one key per pair) */
static char *put_uint(char *p, uint32_t v) {
    char d[10];
    int n = 0;
    do d[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) *p++ = d[--n];
    return p;
}

static int write_count(void *ctx, int32_t a, int32_t b, int32_t count) {
    cooc_out *c = ctx;
    char key[32], *e = put_uint(key, (uint32_t)a);
    *e++ = ' ';
    *put_uint(e, (uint32_t)b) = 0;
    if (ts_write_row(c->w, key, &count)) cli_die("%s", ts_werror(c->w));
    c->pairs++;
    if (c->so && shard_out_rows(c->so, (int64_t)a * c->ntracks + b, 1)) cli_die("cannot spool the row positions");
    return 0;
}

static int train_cooc(const struct opts *o) {
    char err[1024];
    pl_set pl;
    if (pl_load(&pl, o->in, NULL, err, sizeof err)) cli_die("%s", err);
    ts_header h;
    static const char *const cols[] = {"count"};
    if (ts_header_init(&h, "cooc", TS_I32, 1, cols)) cli_die("out of memory");
    h.key_name = strdup("pair");
    cJSON *meta = ts_header_meta(&h);
    cJSON_AddStringToObject(meta, "model", "cooc");
    cJSON_AddStringToObject(meta, "rows", "C[a,b] = training playlists holding tracks a and b, key 'a b', a <= b, non-zero only");
    cJSON_AddNumberToObject(meta, "ntracks", pl.ntracks);
    shard_out *so = NULL;
    int64_t owned = 0;
    for (int64_t p = 0; p < pl.n; p++) owned += shard_owns_unit(&o->shard, p);
    cJSON_AddNumberToObject(meta, "playlists", (double)owned);
    if (shard_active(&o->shard)) {
        if (!(so = shard_out_new(&o->shard, "playlists p (0-based place in the input) with p mod N = I"))) cli_die("out of memory");
        if (shard_out_input(so, o->in, err, sizeof err)) cli_die("%s", err);
        shard_out_combine(so, "sum");
        if (shard_out_sum(so, "playlists") || shard_out_annotate(so, &h)) cli_die("out of memory");
    }
    cooc_out c = {cli_open_write(o->out), so, pl.ntracks, 0};
    if (ts_begin_tensor(c.w, &h)) cli_die("%s", ts_werror(c.w));
    double t0 = cli_now();
    int64_t np;
    if (plm_cooc_counts(&pl, owns_playlist, (void *)&o->shard, write_count, &c, &np, err, sizeof err)) cli_die("%s", err);
    if (ts_end_tensor(c.w)) cli_die("%s", ts_werror(c.w));
    if (so && shard_out_finish(so, c.w, err, sizeof err)) cli_die("%s", err);
    cli_close_write(c.w);
    cli_warn("co-occurrence counts of %" PRId64 " playlists, %d tracks: %" PRId64 " pairs in %.2f s",
             np, pl.ntracks, c.pairs, cli_now() - t0);
    shard_out_free(so);
    ts_header_free(&h);
    pl_free(&pl);
    return 0;
}

/* ---- --model als ---- */

typedef struct { double t0, last, spent; int iterations; const plm_model *m; } als_clock;

static void als_report(void *ctx, int iter, const plm_als_model *a) {
    als_clock *c = ctx;
    double now = cli_now(), dt = now - c->last;
    c->spent += dt;
    cli_warn("ALS iteration %d/%d: loss %.6g, %.1f s (about %.0f s left)", iter, c->iterations, plm_als_loss(a, c->m),
             dt, c->spent / iter * (c->iterations - iter));
    c->last = cli_now();       /* the loss is not the iteration's time */
}

static int train_als(const struct opts *o) {
    char err[1024];
    pl_set pl;
    if (pl_load(&pl, o->in, NULL, err, sizeof err)) cli_die("%s", err);
    plm_model m;
    if (plm_build(&m, &pl, NULL, pl.ntracks, err, sizeof err)) cli_die("%s", err);
    plm_als_model a;
    als_clock c = {cli_now(), cli_now(), 0, o->ao.iterations, &m};
    cli_warn("ALS: %" PRId64 " playlists, %d tracks, %" PRId64 " distinct cells, %d factors, %d iterations",
             m.npl, m.ntracks, m.pl_off[m.npl], o->ao.factors, o->ao.iterations);
    if (plm_als_train(&a, &m, &o->ao, als_report, &c, err, sizeof err)) cli_die("%s", err);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "playlists", (double)m.npl);
    cJSON_AddNumberToObject(extra, "cg_steps", o->ao.cg_steps);
    cJSON_AddNumberToObject(extra, "seed", (double)o->ao.seed);
    cJSON_AddNumberToObject(extra, "loss", plm_als_loss(&a, &m));
    if (plm_als_save(&a, o->out, extra, err, sizeof err)) cli_die("%s", err);
    cli_warn("ALS trained in %.2f s", cli_now() - c.t0);
    plm_als_free(&a);
    plm_free(&m);
    pl_free(&pl);
    return 0;
}

/* ---- --model ease ---- */

/* V rows of V keyed by track: the Gram counts (i32, from B's floats) or
 * the weights (f32) */
static void write_ease(const plm_ease_model *e, const char *path, int gram, double playlists, shard_out *so) {
    ts_header h;
    char err[1024];
    const int32_t V = e->V;
    if (ts_header_init(&h, gram ? "ease.gram" : "ease.B", gram ? TS_I32 : TS_F32, V, NULL)) cli_die("out of memory");
    h.key_name = strdup("track");
    cJSON *meta = ts_header_meta(&h);
    cJSON_AddStringToObject(meta, "model", "ease");
    cJSON_AddStringToObject(meta, "rows", gram ? "X'X counts over the vocabulary, rows and columns in vocabulary order (most played first)"
                                               : "B = I - P diag(1/diag P), P = (X'X + lambda I)^-1; row s = the weights of seed s");
    cJSON_AddNumberToObject(meta, "ease_tracks", V);
    cJSON_AddNumberToObject(meta, "playlists", playlists);
    if (!gram) cJSON_AddNumberToObject(meta, "lambda", e->lambda);
    if (so) {
        shard_out_combine(so, "sum");
        if (shard_out_sum(so, "playlists") || shard_out_annotate(so, &h)) cli_die("out of memory");
    }
    ts_writer *w = cli_open_write(path);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    int32_t *row = gram ? malloc((size_t)V * sizeof *row) : NULL;
    if (gram && !row) cli_die("out of memory");
    char key[16];
    for (int32_t i = 0; i < V; i++) {
        const float *b = e->B + (size_t)i * V;
        if (gram) for (int32_t j = 0; j < V; j++) row[j] = (int32_t)b[j];
        snprintf(key, sizeof key, "%d", e->vocab[i]);
        if (ts_write_row(w, key, gram ? (const void *)row : (const void *)b)) cli_die("%s", ts_werror(w));
        if (so && shard_out_rows(so, i, 1)) cli_die("cannot spool the row positions");
    }
    free(row);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    if (so && shard_out_finish(so, w, err, sizeof err)) cli_die("%s", err);
    cli_close_write(w);
    ts_header_free(&h);
}

static int train_ease(const struct opts *o) {
    char err[1024];
    plm_ease_model e;
    double t0 = cli_now(), playlists = 0;
    if (o->gram) {
        if (plm_ease_load(&e, o->gram, "ease.gram", INT32_MAX, err, sizeof err)) cli_die("%s", err);
        ts_table t;     /* the playlist count, for the metadata */
        if (ts_load_table(o->gram, "ease.gram", &t, err, sizeof err)) cli_die("%s", err);
        const cJSON *np = t.h.meta ? cJSON_GetObjectItemCaseSensitive(t.h.meta, "playlists") : NULL;
        if (cJSON_IsNumber(np)) playlists = np->valuedouble;
        const cJSON *sh = t.h.meta ? cJSON_GetObjectItemCaseSensitive(t.h.meta, "shard") : NULL;
        ts_table_free(&t);
        if (sh) cli_die("%s: a single shard's counts (meta.shard); merge the shards first: merge -o GRAM.ts part-*.ts", o->gram);
    } else {
        pl_set pl;
        plm_model m;
        if (pl_load(&pl, o->in, NULL, err, sizeof err)) cli_die("%s", err);
        if (plm_build(&m, &pl, NULL, pl.ntracks, err, sizeof err)) cli_die("%s", err);
        if (plm_ease_init(&e, &m, (int32_t)o->ease_tracks, err, sizeof err)) cli_die("%s", err);
        plm_ease_gram(&e, &m, owns_playlist, (void *)&o->shard);
        for (int64_t p = 0; p < pl.n; p++) playlists += shard_owns_unit(&o->shard, p);
        plm_free(&m);
        pl_free(&pl);
        if (shard_active(&o->shard)) {
            shard_out *so = shard_out_new(&o->shard, "playlists p (0-based place in the input) with p mod N = I");
            if (!so) cli_die("out of memory");
            if (shard_out_input(so, o->in, err, sizeof err)) cli_die("%s", err);
            write_ease(&e, o->out, 1, playlists, so);
            shard_out_free(so);
            cli_warn("EASE Gram counts of %.0f playlists over %d tracks in %.2f s", playlists, e.V, cli_now() - t0);
            plm_ease_free(&e);
            return 0;
        }
    }
    cli_warn("EASE: inverting the %d x %d Gram matrix (about %.0f Gflop)", e.V, e.V, (double)e.V * e.V * e.V / 1e9);
    if (plm_ease_solve(&e, o->lambda, err, sizeof err)) { plm_ease_free(&e); cli_die("%s", err); }
    write_ease(&e, o->out, 0, playlists, NULL);
    cli_warn("EASE fitted over %d tracks in %.2f s", e.V, cli_now() - t0);
    plm_ease_free(&e);
    return 0;
}

int main(int argc, char **argv) {
    cli_init("mpd-train", argc, argv, HELP);
    cli_blas_tune(argv);
    struct opts o = parse_opts(argc, argv);
    if (o.cooc) return train_cooc(&o);
    if (o.als) return train_als(&o);
    if (o.ease) return train_ease(&o);
    char err[1024];
    data d = {0};
    if (pl_load(&d.pl, o.in, NULL, err, sizeof err)) cli_die("%s", err);
    if (!(d.train = malloc((size_t)(d.pl.n ? d.pl.n : 1) * sizeof *d.train)) ||
        !(d.valid = malloc((size_t)(d.pl.n ? d.pl.n : 1) * sizeof *d.valid))) cli_die("out of memory");
    rng_state r;
    rng_seed(&r, o.seed);
    for (int64_t p = 0; p < d.pl.n; p++) {
        if (pl_len(&d.pl, p) < 2) continue;     /* no (seed, target) pair */
        if (rng_double(&r) < o.valid_frac) d.valid[d.nvalid++] = p;
        else d.train[d.ntrain++] = p;
    }
    if (!d.ntrain) cli_die("%s: no training playlist with 2 or more tracks", o.in ? o.in : "stdin");
    int64_t V;
    float *logcount;
    int32_t *tracks = build_vocab(&d, &o, &V, &logcount);
    pln_arch a = {.dim = o.dim, .hidden = o.hidden, .blocks = o.blocks, .vocab = V};
    pln_model m;
    if (pln_init(&m, &a, tracks, d.pl.ntracks, o.seed, err, sizeof err)) cli_die("%s", err);
    /* the output bias starts at log(count): the untrained model is the
     * popularity baseline, and training spends itself on what seeds add */
    memcpy(m.p.bout, logcount, (size_t)V * sizeof *logcount);
    free(logcount);
    m.dropout = (float)o.dropout;
    m.rng = &r;
    if (pln_reserve(&m, o.batch)) cli_die("out of memory: %d x %" PRId64 " logits; lower --batch or raise --min-count", o.batch, V);
    nn_optim opt;
    nn_optim_defaults(&opt, o.wd > 0 ? NN_ADAMW : NN_ADAM);
    opt.lr = (float)o.lr;
    opt.weight_decay = (float)o.wd;
    nn_early_stop es;
    if (nn_optim_init(&opt, m.nparams) || nn_early_stop_init(&es, o.patience, 1e-4, m.nparams)) cli_die("out of memory");
    batch_buf bb = {0};
    int64_t longest = 1;
    for (int64_t p = 0; p < d.pl.n; p++) if (pl_len(&d.pl, p) > longest) longest = pl_len(&d.pl, p);
    if (!(bb.off = malloc(((size_t)o.batch + 1) * sizeof *bb.off)) || !(bb.toff = malloc(((size_t)o.batch + 1) * sizeof *bb.toff)) ||
        !(bb.pos = malloc((size_t)longest * sizeof *bb.pos)))
        cli_die("out of memory");
    cli_warn("%" PRId64 " training and %" PRId64 " validation playlists; vocabulary %" PRId64 " of %d tracks; %zu parameters",
             d.ntrain, d.nvalid, V, d.pl.ntracks, m.nparams);
    int epoch = 0;
    double best = NAN;
    for (; epoch < o.epochs; epoch++) {
        double t0 = cli_now();
        int64_t nex;
        double tl = train_epoch(&m, &opt, &d, &o, &bb, &r, &nex);
        double dt = cli_now() - t0, vl = valid_loss(&m, &d, &o, &bb);
        char vs[64] = "";
        if (!isnan(vl)) snprintf(vs, sizeof vs, ", validation loss %.4f", vl);
        cli_warn("epoch %d: train loss %.4f%s, %.1f s (%.0f examples/s)", epoch + 1, tl, vs, dt, (double)nex / dt);
        if (isnan(vl)) continue;
        int st = nn_early_stop_update(&es, epoch, vl, m.params);
        if (st == NN_ES_IMPROVED) best = vl;
        if (st == NN_ES_STOP) { epoch++; break; }
    }
    if (d.nvalid) {
        nn_early_stop_restore(&es, m.params);
        cli_warn("kept the weights of epoch %d (validation loss %.4f)", es.best_epoch + 1, best);
    }
    char meta[512];
    snprintf(meta, sizeof meta, "{\"epochs\": %d, \"best_epoch\": %d, \"valid_loss\": %.6g, \"lr\": %g, \"batch\": %d, "
             "\"samples\": %d, \"max_seeds\": %d, \"min_count\": %d, \"targets\": \"%s\", \"seed_pick\": \"%s\", "
             "\"dropout\": %g, \"weight_decay\": %g, \"seed\": %llu}",
             epoch, es.best_epoch + 1, isnan(best) ? -1.0 : best, o.lr, o.batch, o.samples, o.max_seeds, o.min_count,
             o.next_only ? "next" : "all", o.random_pick ? "random" : "prefix", o.dropout, o.wd, (unsigned long long)o.seed);
    if (pln_save(&m, o.out, meta, err, sizeof err)) cli_die("%s", err);
    nn_optim_free(&opt);
    nn_early_stop_free(&es);
    pln_free(&m);
    free(tracks); free(d.row); free(d.train); free(d.valid);
    free(bb.off); free(bb.toff); free(bb.rows); free(bb.tgt); free(bb.pos);
    pl_free(&d.pl);
    return 0;
}
