/* mpd-train.c - trains the neural playlist-continuation model (plneural.h)
 * on a playlists stream: examples are (first k tracks -> the held-out rest),
 * minibatches through a full softmax over the model's vocabulary, Adam,
 * early stopping on a validation loss. */
#include "cli.h"
#include "optim.h"
#include "playlists.h"
#include "plneural.h"
#include "rng.h"

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
"(output weights tied to the embeddings).  One example = a playlist's first\n"
"k tracks (k uniform in 1..min(n-1, --max-seeds)) and, as targets, its other\n"
"tracks.  The output bias starts at log(training count) (popularity).\n"
"Needs the training set and B x vocab logits in memory.\n"
"\n"
"  -o FILE           model (tensor stream; mpd-recommend --model neural --weights)\n"
"  --dim N           embedding width (default 50)\n"
"  --hidden N        hidden width of the MLP (default 128)\n"
"  --blocks N        residual blocks (default 2)\n"
"  --min-count N     vocabulary: tracks in at least N training rows (default 2)\n"
"  --targets all|next  all held-out tracks as a target distribution (default),\n"
"                    or only the next one (track k+1)\n"
"  --max-seeds N     largest k (default 25)\n"
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
    int dim, hidden, blocks, min_count, next_only, max_seeds, samples, epochs, batch, patience;
    double lr, wd, valid_frac;
    uint64_t seed;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.dim = 50, .hidden = 128, .blocks = 2, .min_count = 2, .max_seeds = 25, .samples = 4,
                     .epochs = 20, .batch = 256, .patience = 2, .lr = 0.002, .valid_frac = 0.05, .seed = 1};
    static const struct option lo[] = {
        {"dim", 1, 0, 'd'}, {"hidden", 1, 0, 'H'}, {"blocks", 1, 0, 'b'}, {"min-count", 1, 0, 'm'},
        {"targets", 1, 0, 't'}, {"max-seeds", 1, 0, 'k'}, {"samples", 1, 0, 's'}, {"epochs", 1, 0, 'e'},
        {"batch", 1, 0, 'B'}, {"lr", 1, 0, 'l'}, {"weight-decay", 1, 0, 'w'}, {"valid-frac", 1, 0, 'v'},
        {"patience", 1, 0, 'p'}, {"seed", 1, 0, 'S'}, {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
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
        case 'o': o.out = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.in = argv[optind++];
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (!o.out) cli_usage("-o MODEL.ts is required");
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
    int32_t *rows, *tgt;
    int64_t cap_rows, cap_tgt;
} batch_buf;

static void push(int32_t **v, int64_t *cap, int64_t n, int32_t x) {
    if (n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        if (!(*v = realloc(*v, (size_t)*cap * sizeof **v))) cli_die("out of memory");
    }
    (*v)[n] = x;
}

/* example i of the batch: playlist p, k seeds; returns 0 when the playlist
 * has no target in the vocabulary after k */
static int add_example(batch_buf *bb, int i, const data *d, int64_t p, int k, int next_only) {
    const int32_t *r = d->row + d->pl.off[p];
    int64_t n = pl_len(&d->pl, p), nr = bb->off[i], nt = bb->toff[i];
    for (int j = k; j < n && (!next_only || j == k); j++)
        if (r[j] >= 0) push(&bb->tgt, &bb->cap_tgt, nt++, r[j]);
    if (nt == bb->toff[i]) return 0;
    for (int j = 0; j < k; j++) push(&bb->rows, &bb->cap_rows, nr++, r[j]);
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
            B += add_example(bb, B, d, p, sample_k(&r, pl_len(&d->pl, p), o->max_seeds), o->next_only);
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
    cli_progress_init(&prog, 0);
    for (int64_t s = 0; s < nex;) {
        int B = 0;
        bb->off[0] = bb->toff[0] = 0;
        for (; B < o->batch && s < nex; s++) {
            int64_t p = order[s];
            B += add_example(bb, B, d, p, sample_k(r, pl_len(&d->pl, p), o->max_seeds), o->next_only);
        }
        if (!B) continue;
        pln_batch b = {B, bb->off, bb->rows, bb->toff, bb->tgt};
        memset(m->grads, 0, m->nparams * sizeof *m->grads);
        pln_forward(m, &b);
        double l = pln_loss_backward(m, &b, 1);
        if (!isfinite(l)) cli_die("the training loss became %g; lower --lr", l);
        nn_optim_step(opt, m->params, m->grads);
        sum += l * B;
        count += B;
        cli_progress_update(&prog, "%" PRId64 "/%" PRId64 " examples, loss %.4f", s, nex, sum / (double)count);
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

int main(int argc, char **argv) {
    cli_init("mpd-train", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
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
    if (pln_reserve(&m, o.batch)) cli_die("out of memory: %d x %" PRId64 " logits; lower --batch or raise --min-count", o.batch, V);
    nn_optim opt;
    nn_optim_defaults(&opt, o.wd > 0 ? NN_ADAMW : NN_ADAM);
    opt.lr = (float)o.lr;
    opt.weight_decay = (float)o.wd;
    nn_early_stop es;
    if (nn_optim_init(&opt, m.nparams) || nn_early_stop_init(&es, o.patience, 1e-4, m.nparams)) cli_die("out of memory");
    batch_buf bb = {0};
    if (!(bb.off = malloc(((size_t)o.batch + 1) * sizeof *bb.off)) || !(bb.toff = malloc(((size_t)o.batch + 1) * sizeof *bb.toff)))
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
             "\"samples\": %d, \"max_seeds\": %d, \"min_count\": %d, \"targets\": \"%s\", \"seed\": %llu}",
             epoch, es.best_epoch + 1, isnan(best) ? -1.0 : best, o.lr, o.batch, o.samples, o.max_seeds, o.min_count,
             o.next_only ? "next" : "all", (unsigned long long)o.seed);
    if (pln_save(&m, o.out, meta, err, sizeof err)) cli_die("%s", err);
    nn_optim_free(&opt);
    nn_early_stop_free(&es);
    pln_free(&m);
    free(tracks); free(d.row); free(d.train); free(d.valid);
    free(bb.off); free(bb.toff); free(bb.rows); free(bb.tgt);
    pl_free(&d.pl);
    return 0;
}
