/* train-cnn - train the sound-similarity CNN (common/cnn.h, the GTZAN CNN
 * notebook's architecture) on spectrogram tiles from slice, with genre labels from a
 * keyed label file or self-supervised (each track is its own class), and
 * write a model file whose 40-wide embedding layer `embed` outputs. */
#include "cli.h"
#include "cnn.h"
#include "optim.h"
#include "tilestore.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
"Usage: train-cnn -o MODEL [options] [TILES.ts | -]\n"
"Train a CNN on spectrogram tiles (slice's output: f32 rows [mel bands,\n"
"frames], keyed TRACK#I or TRACK) to classify each tile, and keep its\n"
"embedding layer for sound similarity (embed -m MODEL).\n"
"\n"
"Classes:\n"
"  --labels FILE         keyed label file: a header line, then one line per\n"
"                        track, TAB- or comma-separated; column 1 = the track\n"
"                        key (as in the tiles), the label column a class name\n"
"  --label-column NAME   which column holds the label (default: the second)\n"
"  --skip-unlabelled     drop tiles of tracks the label file does not list\n"
"                        (default: an error)\n"
"                        without --labels: self-supervised, each track is its\n"
"                        own class, so tiles of one song pull together\n"
"Architecture (default: the GTZAN CNN notebook's):\n"
"  --widths W,...        stage widths: conv3x3-bn-relu + pool2 then a residual\n"
"                        block per stage (default 64,64,128,256,512)\n"
"  --width-mult X        multiply every width (default 1)\n"
"                        2 cores: use 0.25 (~10x faster than 1; pipelines/cnn.md)\n"
"  --no-residual         no residual blocks\n"
"  --pool avg|max        2x2 pooling after each stage's conv (default avg)\n"
"  --adapt N             adaptive average pool to N x N (default 2)\n"
"  --embed N             embedding width (default 40)\n"
"Training:\n"
"  --lr X                AdamW learning rate (default 0.001)\n"
"  --weight-decay W      AdamW decoupled weight decay (default 0.01)\n"
"  --epochs N            (default 16)\n"
"  --batch N             tiles per batch (default 128)\n"
"  --val F               share held out (default 0.2): with --labels whole\n"
"                        tracks (never tiles of one track on both sides);\n"
"                        self-supervised the last tiles of every track (its\n"
"                        classes are the tracks); 0 = no validation\n"
"  --patience N          stop after N epochs without a better validation\n"
"                        score (--monitor) (default 5; 0 = never); the best\n"
"                        epoch is kept\n"
"  --min-delta D         smallest improvement that counts (default 0)\n"
"  --min-epochs N        epochs before early stopping may judge: the kept\n"
"                        model is the best from epoch N on, and patience\n"
"                        counts from there (default 8, at most --epochs;\n"
"                        on a dozen validation tracks an early epoch can\n"
"                        score best by luck)\n"
"  --smooth K            judge each epoch by the mean score of the last K\n"
"                        epochs (itself included), not by one noisy\n"
"                        validation pass (default 3; 1 = the epoch alone)\n"
"  --monitor M           what early stopping and the saved model follow:\n"
"                        loss (validation loss) | accuracy (validation\n"
"                        accuracy, ties to the lower loss) (default\n"
"                        accuracy: on few tracks the loss can rise from\n"
"                        epoch 1 while the accuracy rises too)\n"
"  --seed N              initial weights, split, batch order (default 1)\n"
"  --threads N           each batch is split over N threads (default 2);\n"
"                        the same seed and thread count give the same\n"
"                        model bytes\n"
"Output:\n"
"  -o, --model FILE      the model (required), rewritten via FILE.tmp.* at each\n"
"                        improvement, so Ctrl-C leaves the best model so far\n"
"  --history FILE        a stream 'history': epoch, train_loss, val_loss,\n"
"                        metric (validation accuracy), seconds, train_accuracy\n"
"  -q, --quiet           no progress lines\n"
"  -h, --help            this help;  -V  version\n"
"\n"
"Tiles are standardised by the mean and std of the training tiles (kept in\n"
"the model).  Memory: the tiles go to an unnamed file in $TMPDIR that is\n"
"memory-mapped (the page cache, not the heap, holds them), plus the\n"
"activations of one batch: about 1.5 GB for batch 128 at width 1, 0.4 GB at\n"
"0.25.  Ctrl-C stops after the current batch, keeps the best model, exits 130.\n"
"Example:\n"
"  spectro --fmax 8000 songs/*.ogg | slice | train-cnn --width-mult 0.25 -o sound.model\n";

typedef struct {
    const char *input, *model, *history, *labels, *label_column, *widths;
    int monitor_acc, skip_unlabelled, residual, pool, adapt, embed, epochs, batch, patience, threads, quiet;
    int min_epochs, smooth;
    float width_mult, lr, wd;
    double val, min_delta;
    uint64_t seed;
} opts;

static opts parse_opts(int argc, char **argv) {
    enum { O_LABELS = 256, O_LCOL, O_SKIP, O_WIDTHS, O_MULT, O_NORES, O_POOL, O_ADAPT, O_EMBED,
           O_LR, O_WD, O_EPOCHS, O_BATCH, O_VAL, O_PAT, O_MIND, O_SEED, O_THREADS, O_HIST, O_MONITOR,
           O_MINEP, O_SMOOTH };
    static const struct option lo[] = {
        {"labels", 1, 0, O_LABELS}, {"label-column", 1, 0, O_LCOL}, {"skip-unlabelled", 0, 0, O_SKIP},
        {"widths", 1, 0, O_WIDTHS}, {"width-mult", 1, 0, O_MULT}, {"no-residual", 0, 0, O_NORES},
        {"pool", 1, 0, O_POOL}, {"adapt", 1, 0, O_ADAPT}, {"embed", 1, 0, O_EMBED}, {"lr", 1, 0, O_LR},
        {"weight-decay", 1, 0, O_WD}, {"epochs", 1, 0, O_EPOCHS}, {"batch", 1, 0, O_BATCH},
        {"val", 1, 0, O_VAL}, {"patience", 1, 0, O_PAT}, {"min-delta", 1, 0, O_MIND},
        {"seed", 1, 0, O_SEED}, {"threads", 1, 0, O_THREADS}, {"model", 1, 0, 'o'},
        {"history", 1, 0, O_HIST}, {"quiet", 0, 0, 'q'}, {"monitor", 1, 0, O_MONITOR},
        {"min-epochs", 1, 0, O_MINEP}, {"smooth", 1, 0, O_SMOOTH}, {0, 0, 0, 0}};
    opts o = {.widths = "64,64,128,256,512", .residual = 1, .adapt = 2, .embed = 40, .epochs = 16,
              .batch = 128, .patience = 5, .threads = 2, .width_mult = 1, .lr = 1e-3f, .wd = 0.01f,
              .val = 0.2, .seed = 1, .monitor_acc = 1, .min_epochs = 8, .smooth = 3};
    int c;
    while ((c = getopt_long(argc, argv, "o:q", lo, NULL)) != -1) {
        switch (c) {
        case O_LABELS: o.labels = optarg; break;
        case O_LCOL: o.label_column = optarg; break;
        case O_SKIP: o.skip_unlabelled = 1; break;
        case O_WIDTHS: o.widths = optarg; break;
        case O_MULT: o.width_mult = (float)cli_double("--width-mult", optarg, 1e-3, 64); break;
        case O_NORES: o.residual = 0; break;
        case O_POOL:
            if (strcmp(optarg, "avg") && strcmp(optarg, "max")) cli_usage("--pool: '%s' is not avg or max", optarg);
            o.pool = strcmp(optarg, "max") == 0 ? CNN_POOL_MAX : CNN_POOL_AVG;
            break;
        case O_ADAPT: o.adapt = (int)cli_long("--adapt", optarg, 1, 64); break;
        case O_EMBED: o.embed = (int)cli_long("--embed", optarg, 1, 65536); break;
        case O_LR: o.lr = (float)cli_double("--lr", optarg, 1e-12, 1e3); break;
        case O_WD: o.wd = (float)cli_double("--weight-decay", optarg, 0, 1e3); break;
        case O_EPOCHS: o.epochs = (int)cli_long("--epochs", optarg, 1, 1000000); break;
        case O_BATCH: o.batch = (int)cli_long("--batch", optarg, 2, 1 << 16); break;
        case O_VAL: o.val = cli_double("--val", optarg, 0, 0.9); break;
        case O_PAT: o.patience = (int)cli_long("--patience", optarg, 0, 1000000); break;
        case O_MINEP: o.min_epochs = (int)cli_long("--min-epochs", optarg, 1, 1000000); break;
        case O_SMOOTH: o.smooth = (int)cli_long("--smooth", optarg, 1, 1000); break;
        case O_MIND: o.min_delta = cli_double("--min-delta", optarg, 0, 1e30); break;
        case O_SEED: o.seed = (uint64_t)cli_long("--seed", optarg, 0, (long)(~0ul >> 1)); break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, 1024); break;
        case 'o': o.model = optarg; break;
        case O_HIST: o.history = optarg; break;
        case O_MONITOR:
            if (strcmp(optarg, "loss") && strcmp(optarg, "accuracy")) cli_usage("--monitor: '%s' is not loss or accuracy", optarg);
            o.monitor_acc = strcmp(optarg, "accuracy") == 0;
            break;
        case 'q': o.quiet = 1; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    if (o.min_epochs > o.epochs) o.min_epochs = o.epochs;
    if (!o.model) cli_usage("-o MODEL is required (the model is a file, rewritten at each improvement)");
    if ((o.label_column || o.skip_unlabelled) && !o.labels) cli_usage("--label-column and --skip-unlabelled go with --labels");
    cnn_arch a = {0};
    char err[512];
    a.adapt = 1;
    if (cnn_arch_set(&a, o.widths, o.width_mult, 1 << 15, 1 << 15, err, sizeof err)) cli_usage("--widths: %s", err);
    return o;
}

/* ---------- labels: track -> class ---------- */
typedef struct {
    strmap track_class;        /* track key -> class index */
    strmap names;              /* class name -> index */
    char **class_names;
    int n_classes;
} labels;

static char *next_field(char **p, char sep) {
    char *s = *p, *e = strchr(s, sep);
    if (e) { *e = 0; *p = e + 1; } else *p = s + strlen(s);
    return s;
}

static void load_labels(labels *L, const char *path, const char *column) {
    FILE *f = fopen(path, "r");
    if (!f) cli_die("%s: cannot open: %s", path, strerror(errno));
    strmap_init(&L->track_class);
    strmap_init(&L->names);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int col = 1, cap_names = 0;
    char sep = '\t';
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (lineno == 1) {
            if (!strchr(line, '\t') && strchr(line, ',')) sep = ',';
            if (column) {
                char *p = line;
                col = -1;
                for (int i = 0; *p || i == 0; i++)
                    if (strcmp(next_field(&p, sep), column) == 0) { col = i; break; }
                if (col < 0) cli_die("%s:1: no column '%s' in the header; name the label column with --label-column", path, column);
            }
            continue;
        }
        if (!len) continue;
        char *p = line, *key = next_field(&p, sep), *lab = NULL;
        for (int i = 1; i <= col && *p; i++) lab = next_field(&p, sep);
        if (col == 0) lab = key;
        if (!lab || !*lab || !*key) cli_die("%s:%ld: needs a track key and a label in column %d; fill it or drop the line", path, lineno, col + 1);
        int64_t c = strmap_get(&L->names, lab);
        if (c < 0) {
            if (L->n_classes == cap_names) {
                cap_names = cap_names ? cap_names * 2 : 64;
                char **nn = realloc(L->class_names, sizeof *nn * (size_t)cap_names);
                if (!nn) cli_die("out of memory");
                L->class_names = nn;
            }
            c = L->n_classes;
            if (strmap_put(&L->names, lab, c) == -2 || !(L->class_names[L->n_classes++] = strdup(lab))) cli_die("out of memory");
        }
        int64_t prev = strmap_put(&L->track_class, key, c);
        if (prev == -2) cli_die("out of memory");
        if (prev >= 0 && prev != c) cli_die("%s:%ld: track '%s' has two labels ('%s' and '%s')", path, lineno, key, L->class_names[prev], lab);
    }
    free(line);
    fclose(f);
    if (L->n_classes < 2) cli_die("%s: %d distinct label(s); classification needs at least 2", path, L->n_classes);
}

/* ---------- split ---------- */
typedef struct {
    int32_t *cls;              /* tile -> class, -1 = not used */
    int64_t *train, *val;      /* tile indices */
    int64_t n_train, n_val, val_tracks;
    char **class_names;
    int n_classes;
} split;

static void make_split(split *sp, const tilestore *ts, labels *L, const opts *o) {
    int64_t n = ts->n;
    sp->cls = malloc(sizeof *sp->cls * (size_t)n);
    sp->train = malloc(sizeof *sp->train * (size_t)n);
    sp->val = malloc(sizeof *sp->val * (size_t)n);
    int64_t *order = malloc(sizeof *order * (size_t)ts->n_tracks);
    char *is_val = calloc((size_t)ts->n_tracks, 1);
    int64_t *seen = calloc((size_t)ts->n_tracks, sizeof *seen);
    if (!sp->cls || !sp->train || !sp->val || !order || !is_val || !seen) cli_die("out of memory");
    rng_state r;
    rng_seed(&r, o->seed ^ 0x5eed5011u);
    int64_t dropped = 0;
    if (L) {
        for (int64_t t = 0; t < ts->n_tracks; t++) order[t] = t;
        rng_shuffle_i64(&r, order, ts->n_tracks);
        int64_t nv = (int64_t)llround(o->val * (double)ts->n_tracks);
        if (o->val > 0 && nv == 0 && ts->n_tracks >= 2) nv = 1;
        for (int64_t i = 0; i < nv; i++) is_val[order[i]] = 1;
        sp->val_tracks = nv;
        sp->class_names = L->class_names, sp->n_classes = L->n_classes;
    } else {
        if (ts->n_tracks < 2) cli_die("self-supervised training needs at least 2 tracks (each track is a class); give more audio or --labels");
        sp->class_names = ts->track_names, sp->n_classes = (int)ts->n_tracks;
        if (ts->n_tracks > CNN_MAX_CLASSES) cli_die("%lld tracks: at most %d classes", (long long)ts->n_tracks, CNN_MAX_CLASSES);
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t t = ts->track[i];
        int64_t k = seen[t]++;
        if (L) {
            int64_t c = strmap_get(&L->track_class, ts->track_names[t]);
            if (c < 0 && !o->skip_unlabelled)
                cli_die("%s: track '%s' is not in the label file; add it or pass --skip-unlabelled", o->labels, ts->track_names[t]);
            sp->cls[i] = (int32_t)c;
            if (c < 0) { dropped++; continue; }
            if (is_val[t]) sp->val[sp->n_val++] = i; else sp->train[sp->n_train++] = i;
        } else {
            /* the last ceil(val * tiles) tiles of each track with 2 or more */
            int64_t nt = ts->track_tiles[t], nv = nt >= 2 ? (int64_t)ceil(o->val * (double)nt) : 0;
            if (nv >= nt) nv = nt - 1;
            sp->cls[i] = t;
            if (k >= nt - nv) sp->val[sp->n_val++] = i; else sp->train[sp->n_train++] = i;
        }
    }
    if (dropped && !o->quiet) cli_warn("%lld tiles of unlabelled tracks skipped", (long long)dropped);
    if (sp->n_train < 2) cli_die("only %lld training tiles; a batch needs at least 2 (more audio, or a smaller --val)", (long long)sp->n_train);
    free(order), free(is_val), free(seen);
}

/* mean and population std over the training tiles, from per-track sums
 * (tiles of a track are split self-supervised: the share is approximate
 * there, and the statistic is just a scale) */
static void fit_norm(cnn_net *net, const tilestore *ts, const split *sp) {
    double s = 0, q = 0, cnt = 0;
    char *used = calloc((size_t)ts->n_tracks, 1);
    if (!used) cli_die("out of memory");
    for (int64_t i = 0; i < sp->n_train; i++) used[ts->track[sp->train[i]]] = 1;
    for (int64_t t = 0; t < ts->n_tracks; t++)
        if (used[t]) s += ts->sum[t], q += ts->sumsq[t], cnt += (double)ts->track_tiles[t] * (double)ts->tile_floats;
    free(used);
    double m = s / cnt, v = q / cnt - m * m;
    net->norm_mean = (float)m;
    net->norm_std = v > 1e-12 ? (float)sqrt(v) : 1.0f;
}

/* ---------- epochs ---------- */
typedef struct {
    double loss, seconds;
    int64_t correct, n;
} pass_stats;

static void gather(float *x, int32_t *y, const tilestore *ts, const split *sp, const int64_t *idx, int m) {
    for (int b = 0; b < m; b++) {
        memcpy(x + (size_t)b * ts->tile_floats, tilestore_tile(ts, idx[b]), sizeof(float) * ts->tile_floats);
        y[b] = sp->cls[idx[b]];
    }
}

static pass_stats run_pass(cnn_net *net, nn_optim *opt, const tilestore *ts, const split *sp, int64_t *idx,
                           int64_t n, int B, float *x, int32_t *y, int train, cli_progress *prog, int epoch, int epochs) {
    pass_stats st = {0};
    double t0 = cli_now();
    for (int64_t i = 0; i < n && !cli_stop; i += B) {
        int m = (int)(n - i < B ? n - i : B);
        if (train && m < 2) break;         /* batch norm needs 2 tiles: drop a last single one */
        gather(x, y, ts, sp, idx + i, m);
        if (cnn_forward(net, x, m, train)) cli_die("cannot start a worker thread; try fewer --threads");
        int hits;
        double l = cnn_loss(net, y, m, &hits);
        if (train) {
            cnn_zero_grad(net);
            if (cnn_backward(net, m)) cli_die("cannot start a worker thread; try fewer --threads");
            nn_optim_step(opt, net->params, net->grads);
        }
        st.loss += l * m, st.correct += hits, st.n += m;
        if (prog)
            cli_progress_update(prog, "epoch %d/%d  %s %lld/%lld tiles  loss %.4f  %.1f tiles/s", epoch, epochs,
                                train ? "train" : "val", (long long)(i + m), (long long)n, st.loss / (double)st.n,
                                (double)st.n / (cli_now() - t0 + 1e-9));
    }
    if (st.n) st.loss /= (double)st.n;
    st.seconds = cli_now() - t0;
    return st;
}

static ts_writer *open_history(const char *path) {
    static const char *const cols[] = {"epoch", "train_loss", "val_loss", "metric", "seconds", "train_accuracy"};
    ts_header h;
    ts_writer *w = cli_open_write(path);
    if (ts_header_init(&h, "history", TS_F32, 6, cols) || !(h.key_name = strdup("epoch"))) cli_die("out of memory");
    cJSON_AddStringToObject(ts_header_meta(&h), "metric", "val_accuracy");
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    ts_header_free(&h);
    return w;
}

static cJSON *train_meta(const opts *o, const char *src, const split *sp, const tilestore *ts) {
    cJSON *m = cJSON_CreateObject();
    if (!m) cli_die("out of memory");
    cJSON_AddStringToObject(m, "data", src);
    cJSON_AddStringToObject(m, "mode", o->labels ? "labels" : "self-supervised");
    if (o->labels) cJSON_AddStringToObject(m, "labels", o->labels);
    cJSON_AddNumberToObject(m, "tracks", (double)ts->n_tracks);
    cJSON_AddNumberToObject(m, "train_tiles", (double)sp->n_train);
    cJSON_AddNumberToObject(m, "val_tiles", (double)sp->n_val);
    cJSON_AddStringToObject(m, "optim", "adamw");
    cJSON_AddNumberToObject(m, "lr", o->lr);
    cJSON_AddNumberToObject(m, "weight_decay", o->wd);
    cJSON_AddNumberToObject(m, "epochs", o->epochs);
    cJSON_AddNumberToObject(m, "batch", o->batch);
    cJSON_AddNumberToObject(m, "val", o->val);
    cJSON_AddStringToObject(m, "monitor", o->monitor_acc ? "accuracy" : "loss");
    cJSON_AddNumberToObject(m, "min_epochs", o->min_epochs);
    cJSON_AddNumberToObject(m, "smooth", o->smooth);
    cJSON_AddNumberToObject(m, "seed", (double)o->seed);
    cJSON_AddNumberToObject(m, "threads", o->threads);
    cJSON_AddNumberToObject(m, "best_epoch", 0);
    cJSON_AddNumberToObject(m, "best_val_loss", 0);
    cJSON_AddNumberToObject(m, "best_val_accuracy", 0);
    return m;
}

static void train(cnn_net *net, const tilestore *ts, split *sp, const opts *o, cJSON *meta, ts_writer *hist) {
    int B = o->batch;
    if (cnn_reserve(net, B)) cli_die("out of memory for batches of %d tiles (%.2f GB); try a smaller --batch or --width-mult",
                                      B, (double)cnn_arena_bytes(net, B) / 1e9);
    float *x = malloc(sizeof(float) * ts->tile_floats * (size_t)B);
    int32_t *y = malloc(sizeof *y * (size_t)B);
    nn_optim opt;
    nn_early_stop es;
    nn_optim_defaults(&opt, NN_ADAMW);
    opt.lr = o->lr, opt.weight_decay = o->wd;
    if (!x || !y || nn_optim_init(&opt, net->n_params) || nn_early_stop_init(&es, o->patience, o->min_delta, net->n_params + net->n_buffers))
        cli_die("out of memory");
    float *snap = malloc(sizeof(float) * (net->n_params + net->n_buffers));
    double *recent = calloc((size_t)o->smooth, sizeof *recent);
    if (!snap || !recent) cli_die("out of memory");
    rng_state r;
    rng_seed(&r, o->seed);
    cli_progress prog;
    cli_progress_init(&prog, 0);
    int tty = isatty(STDERR_FILENO), epoch, kept = 0;
    for (epoch = 1; epoch <= o->epochs && !cli_stop; epoch++) {
        rng_shuffle_i64(&r, sp->train, sp->n_train);
        pass_stats tr = run_pass(net, &opt, ts, sp, sp->train, sp->n_train, B, x, y, 1, o->quiet ? NULL : &prog, epoch, o->epochs);
        if (cli_stop) break;
        pass_stats va = sp->n_val ? run_pass(net, NULL, ts, sp, sp->val, sp->n_val, B, x, y, 0, NULL, epoch, o->epochs) : tr;
        double val_acc = va.n ? (double)va.correct / (double)va.n : 0, tr_acc = tr.n ? (double)tr.correct / (double)tr.n : 0;
        /* early stopping tracks parameters and running statistics together */
        memcpy(snap, net->params, sizeof(float) * net->n_params);
        memcpy(snap + net->n_params, net->buffers, sizeof(float) * net->n_buffers);
        /* accuracy: minimise -accuracy, the loss as a tie-break far below one tile's share */
        double score = o->monitor_acc ? -val_acc + 1e-6 * tanh(va.loss) : va.loss;
        /* judged on the mean of the last --smooth epochs' scores, and only
         * from --min-epochs on; before that every epoch is saved (a model
         * exists whenever training is interrupted) but none is "best" */
        recent[(epoch - 1) % o->smooth] = score;
        int nk = epoch < o->smooth ? epoch : o->smooth;
        double smoothed = 0;
        for (int k = 0; k < nk; k++) smoothed += recent[k];
        smoothed /= nk;
        int st = epoch < o->min_epochs ? NN_ES_IMPROVED : nn_early_stop_update(&es, epoch, smoothed, snap);
        if (st == NN_ES_IMPROVED) {
            char err[1024];
            kept = epoch;
            cJSON_ReplaceItemInObject(meta, "best_epoch", cJSON_CreateNumber(epoch));
            cJSON_ReplaceItemInObject(meta, "best_val_loss", cJSON_CreateNumber(va.loss));
            cJSON_ReplaceItemInObject(meta, "best_val_accuracy", cJSON_CreateNumber(val_acc));
            if (cnn_save(net, o->model, meta, err, sizeof err)) cli_die("%s", err);
        }
        if (hist) {
            char key[32];
            float row[6] = {(float)epoch, (float)tr.loss, (float)va.loss, (float)val_acc,
                            (float)(tr.seconds + (sp->n_val ? va.seconds : 0)), (float)tr_acc};
            snprintf(key, sizeof key, "%d", epoch);
            if (ts_write_row(hist, key, row)) cli_die("%s", ts_werror(hist));
        }
        if (!o->quiet) {
            fprintf(stderr, "%s%s: epoch %d/%d  train loss %.4f acc %.3f  val loss %.4f acc %.3f  %.1fs (%.1f tiles/s)%s%s",
                    tty ? "\r" : "", cli_stage, epoch, o->epochs, tr.loss, tr_acc, va.loss, val_acc, tr.seconds,
                    (double)tr.n / (tr.seconds + 1e-9), st == NN_ES_IMPROVED ? "  saved" : "", tty ? "\033[K\n" : "\n");
        }
        if (st == NN_ES_STOP) {
            if (!o->quiet) cli_warn("no better validation %s for %d epochs: stopping", o->monitor_acc ? "accuracy" : "loss", o->patience);
            epoch++;
            break;
        }
    }
    if (!o->quiet || cli_stop)
        cli_warn("%s after %d epochs (%lld training tiles, %lld validation); %s holds epoch %d, val loss %.4g",
                 cli_stop ? "interrupted" : "done", epoch - 1, (long long)sp->n_train, (long long)sp->n_val,
                 kept > 0 ? o->model : "no model was saved:", kept,
                 kept > 0 ? (double)cJSON_GetObjectItem(meta, "best_val_loss")->valuedouble : 0.0);
    free(x), free(y), free(snap), free(recent);
    nn_optim_free(&opt);
    nn_early_stop_free(&es);
}

int main(int argc, char **argv) {
    cli_init("train-cnn", argc, argv, HELP);
    cli_blas_tune(argv);
    opts o = parse_opts(argc, argv);
    labels L = {0};
    if (o.labels) load_labels(&L, o.labels, o.label_column);
    ts_reader *in = cli_open_read(o.input);
    const ts_header *h;
    int rc = ts_next_tensor(in, &h);
    if (rc < 0) cli_die("%s", ts_error(in));
    if (rc == 0) cli_die("%s: no tensor in the stream", ts_reader_name(in));
    char err[1024], src[512];
    snprintf(src, sizeof src, "%s", ts_reader_name(in));
    tilestore ts;
    if (tilestore_read(&ts, in, h, err, sizeof err)) cli_die("%s", err);
    ts_close_read(in);
    split sp = {0};
    make_split(&sp, &ts, o.labels ? &L : NULL, &o);

    cnn_arch a = {.residual = o.residual, .pool = o.pool, .adapt = o.adapt, .embed = o.embed, .classes = sp.n_classes};
    if (cnn_arch_set(&a, o.widths, o.width_mult, ts.H, ts.W, err, sizeof err)) cli_die("%s", err);
    cnn_net net;
    if (cnn_create(&net, &a, err, sizeof err)) cli_die("%s", err);
    cnn_set_threads(&net, o.threads);
    cnn_init_params(&net, o.seed);
    fit_norm(&net, &ts, &sp);
    /* the model owns copies of the class names */
    if (!(net.class_names = calloc((size_t)sp.n_classes, sizeof *net.class_names))) cli_die("out of memory");
    for (int c = 0; c < sp.n_classes; c++)
        if (!(net.class_names[c] = strdup(sp.class_names[c]))) cli_die("out of memory");
    if (!o.quiet)
        cli_warn("%lld tiles %dx%d of %lld tracks; %d classes (%s); %lld training tiles, %lld validation%s; %zu parameters",
                 (long long)ts.n, ts.H, ts.W, (long long)ts.n_tracks, sp.n_classes, o.labels ? "labels" : "self-supervised: tracks",
                 (long long)sp.n_train, (long long)sp.n_val, o.labels ? " (whole tracks)" : " (last tiles of each track)",
                 net.n_params);

    cli_stop_on_interrupt();
    cJSON *meta = train_meta(&o, src, &sp, &ts);
    ts_writer *hist = o.history ? open_history(o.history) : NULL;
    train(&net, &ts, &sp, &o, meta, hist);
    if (hist) {
        if (ts_end_tensor(hist)) cli_die("%s", ts_werror(hist));
        cli_close_write(hist);
    }
    cJSON_Delete(meta);
    cnn_free(&net);
    tilestore_free(&ts);
    free(sp.cls), free(sp.train), free(sp.val);
    if (o.labels) {
        for (int c = 0; c < L.n_classes; c++) free(L.class_names[c]);
        free(L.class_names);
        strmap_free(&L.track_class), strmap_free(&L.names);
    }
    return cli_stop ? 130 : 0;
}
