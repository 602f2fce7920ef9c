/* train-mlp - train a feed-forward network on a keyed tensor (features by
 * column name) and write a model file: a tensor stream of named weights with
 * the architecture and the input normalisation in its metadata.  The network
 * code is common/mlp*.c (layers in common/nn.c, llm.c style). */
#include "cli.h"
#include "mlp.h"
#include "mlp_train.h"
#include "strmap.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
"Usage: train-mlp -o MODEL [options] [FILE | -]\n"
"Train a feed-forward network on the first tensor of a stream (no FILE or -\n"
"= stdin): rows with named columns, numeric inputs and targets chosen by name.\n"
"\n"
"Architecture, compact flags:\n"
"  --layers W,...,OUT    dense layer widths, the last one the output width,\n"
"                        e.g. 10,8,6,1 (required unless --arch)\n"
"  --act NAME            hidden activation: linear relu leaky_relu sigmoid tanh\n"
"                        (default relu)\n"
"  --slope S             leaky_relu negative slope (default 0.01)\n"
"  --dropout P           dropout after each hidden layer, training only (default 0)\n"
"  --batchnorm           batch normalisation before each hidden activation\n"
"  --out-act NAME        output activation (default linear; sigmoid for bce)\n"
"  --categorical C:D,..  embed code column C in a table of width D (the codes\n"
"                        0..V-1 of csv-clean --category; V = max code + 1)\n"
"or a JSON file for richer nets (several outputs, named layers):\n"
"  --arch FILE.json      {\"inputs\": [..], \"categorical\": [{\"column\", \"dim\"}],\n"
"                        \"layers\": [{\"units\", \"act\", \"dropout\", \"batchnorm\",\n"
"                        \"name\"}], \"outputs\": [{\"loss\", \"targets\": [..] |\n"
"                        \"inputs\", \"act\", \"weight\"} | {\"loss\": \"ce\", \"target\"}]}\n"
"                        (the output layer is implied by the outputs)\n"
"Data:\n"
"  --inputs A,B,..       numeric inputs (default: every column that is not a\n"
"                        target or categorical)\n"
"  --targets A,B,..      target columns (of FILE, or of --target-stream)\n"
"  --target-stream T     targets from stream T, joined on the row key (default\n"
"                        targets: all its columns)\n"
"  --autoencoder         targets = the normalised numeric inputs\n"
"  --scale-targets       standardise regression targets while training\n"
"                        (embed --predict scales back)\n"
"  --tensor NAME         read the tensor NAME of FILE (default: the first)\n"
"  --pairs MEMBERS.ts    learn an embedding from group membership instead of\n"
"                        targets (with --loss infonce or triplet): a stream\n"
"                        whose rows are keyed by FILE's row keys, with a\n"
"                        column 'playlist' (an integer group code, as `members`\n"
"                        writes); songs that share a group are pulled together,\n"
"                        the batch's other songs pushed apart.  Keys not in\n"
"                        FILE are skipped and counted.  --val holds out whole\n"
"                        groups; the last --layers width is the embedding\n"
"  --temperature T       infonce: softmax temperature of the cosines (default 0.1)\n"
"  --margin M            triplet: cosine margin (default 0.3)\n"
"  --no-logq             infonce: no popularity (logQ) correction of the\n"
"                        in-batch negatives (default: corrected)\n"
"Training:\n"
"  --loss L              mse mae bce ce infonce triplet (default mse; ce reads\n"
"                        class codes; infonce, triplet need --pairs)\n"
"  --optim O             sgd rmsprop adam adamw (default adam)\n"
"  --lr X                learning rate (default 0.001)\n"
"  --momentum M          sgd, rmsprop momentum (default 0.9 for sgd, 0 for rmsprop)\n"
"  --weight-decay W      L2 (sgd, rmsprop, adam), decoupled (adamw)\n"
"                        (default 0; adamw 0.01)\n"
"  --epochs N            (default 100)\n"
"  --batch N             rows per batch (default 32)\n"
"  --val F               share of rows held out, seeded shuffle (default 0.2;\n"
"                        0: the training loss drives early stopping)\n"
"  --patience N          stop after N epochs without improvement (default 10;\n"
"                        0 = never); the best epoch's weights are kept\n"
"  --min-delta D         smallest improvement that counts (default 0)\n"
"  --metric M            the history's per-epoch metric on the validation rows:\n"
"                        auto (accuracy for ce/bce, mae for mse/mae), mae, or\n"
"                        accuracy (for a regression output: the share of\n"
"                        predictions that round to the same integer as the\n"
"                        target, in target units: 0/1 targets at 0.5)\n"
"  --seed N              initial weights, split, batches, dropout (default 1)\n"
"  --threads N           OpenBLAS threads (default 1); the same seed and thread\n"
"                        count give the same model bytes\n"
"Output:\n"
"  -o, --model FILE      the model (required), rewritten via FILE.tmp.* at each\n"
"                        improvement, so Ctrl-C leaves the best model so far\n"
"  --history FILE        a stream 'history': epoch, train_loss, val_loss,\n"
"                        metric (--metric: val MAE in target units,\n"
"                        standardised for --autoencoder; or accuracy), seconds;\n"
"                        meta.metric names it (val_mae, val_accuracy)\n"
"  -q, --quiet           no progress lines\n"
CLI_MEM_HELP
"  -h, --help            this help;  -V  version\n"
"\n"
"Numeric inputs are standardised (mean, population std over all rows; in the\n"
"model's meta as normalize statistics).  Memory: the whole table, as floats\n"
"(training needs every row each epoch).  Ctrl-C stops after the current\n"
"batch, keeps the model of the best epoch, writes the history, exits 130.\n"
"Example:\n"
"  train-mlp --targets track_popularity --layers 10,8,6,1 --act leaky_relu \\\n"
"    --loss mae --optim rmsprop --lr 1e-4 -o pop.model songs.ts\n";

typedef struct {
    const char *input, *model, *history, *arch, *tensor, *target_stream, *pairs;
    float temperature, margin;
    int no_logq;
    const char *inputs, *targets, *categorical, *layers, *act, *out_act;
    float slope, dropout;
    int batchnorm, autoencoder, scale_targets, quiet, threads;
    nn_loss loss;
    nn_train_cfg cfg;
    int momentum_set, wd_set, lr_set;
} opts;

/* "a,b,c" -> list of copies; free with free_list */
static int split_list(const char *s, char ***out) {
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    char **l = calloc((size_t)n + 1, sizeof *l);
    if (!l) cli_die("out of memory");
    int k = 0;
    for (const char *p = s;; ) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && !(l[k++] = strndup(p, len))) cli_die("out of memory");
        if (!e) break;
        p = e + 1;
    }
    *out = l;
    return k;
}

static void free_list(char **l) {
    for (char **p = l; p && *p; p++) free(*p);
    free(l);
}

static opts parse_opts(int argc, char **argv) {
    enum { O_LAYERS = 256, O_ACT, O_SLOPE, O_DROPOUT, O_BN, O_OUTACT, O_CAT, O_ARCH, O_INPUTS,
           O_TARGETS, O_TSTREAM, O_AE, O_SCALE, O_TENSOR, O_LOSS, O_OPTIM, O_LR, O_MOM, O_WD,
           O_EPOCHS, O_BATCH, O_VAL, O_PAT, O_MIND, O_SEED, O_THREADS, O_HIST, O_METRIC, O_MEM,
           O_PAIRS, O_TEMP, O_MARGIN, O_NOLOGQ };
    static const struct option lo[] = {
        {"layers", 1, 0, O_LAYERS}, {"act", 1, 0, O_ACT}, {"slope", 1, 0, O_SLOPE},
        {"dropout", 1, 0, O_DROPOUT}, {"batchnorm", 0, 0, O_BN}, {"out-act", 1, 0, O_OUTACT},
        {"categorical", 1, 0, O_CAT}, {"arch", 1, 0, O_ARCH}, {"inputs", 1, 0, O_INPUTS},
        {"targets", 1, 0, O_TARGETS}, {"target-stream", 1, 0, O_TSTREAM},
        {"autoencoder", 0, 0, O_AE}, {"scale-targets", 0, 0, O_SCALE}, {"tensor", 1, 0, O_TENSOR},
        {"loss", 1, 0, O_LOSS}, {"optim", 1, 0, O_OPTIM}, {"lr", 1, 0, O_LR},
        {"momentum", 1, 0, O_MOM}, {"weight-decay", 1, 0, O_WD}, {"epochs", 1, 0, O_EPOCHS},
        {"batch", 1, 0, O_BATCH}, {"val", 1, 0, O_VAL}, {"patience", 1, 0, O_PAT},
        {"min-delta", 1, 0, O_MIND}, {"seed", 1, 0, O_SEED}, {"threads", 1, 0, O_THREADS},
        {"model", 1, 0, 'o'}, {"history", 1, 0, O_HIST}, {"metric", 1, 0, O_METRIC}, {"quiet", 0, 0, 'q'},
        {"mem-limit", 1, 0, O_MEM}, {"pairs", 1, 0, O_PAIRS}, {"temperature", 1, 0, O_TEMP},
        {"margin", 1, 0, O_MARGIN}, {"no-logq", 0, 0, O_NOLOGQ}, {0, 0, 0, 0}};
    opts o = {0};
    o.slope = 0.01f;
    o.threads = 1;
    o.loss = NN_LOSS_MSE;
    nn_optim_defaults(&o.cfg.optim, NN_ADAM);
    o.cfg.epochs = 100;
    o.cfg.batch = 32;
    o.cfg.val_frac = 0.2;
    o.cfg.patience = 10;
    o.cfg.seed = 1;
    float lr = 1e-3f, mom = 0, wd = 0;
    nn_optim_kind kind = NN_ADAM;
    int c;
    while ((c = getopt_long(argc, argv, "o:qhV", lo, NULL)) != -1) {
        switch (c) {
        case O_LAYERS: o.layers = optarg; break;
        case O_ACT: o.act = optarg; break;
        case O_SLOPE: o.slope = (float)cli_double("--slope", optarg, -1e6, 1e6); break;
        case O_DROPOUT: o.dropout = (float)cli_double("--dropout", optarg, 0, 0.999999); break;
        case O_BN: o.batchnorm = 1; break;
        case O_OUTACT: o.out_act = optarg; break;
        case O_CAT: o.categorical = optarg; break;
        case O_ARCH: o.arch = optarg; break;
        case O_INPUTS: o.inputs = optarg; break;
        case O_TARGETS: o.targets = optarg; break;
        case O_TSTREAM: o.target_stream = optarg; break;
        case O_AE: o.autoencoder = 1; break;
        case O_SCALE: o.scale_targets = 1; break;
        case O_TENSOR: o.tensor = optarg; break;
        case O_LOSS:
            if (nn_loss_parse(optarg, &o.loss)) cli_usage("--loss '%s': one of %s", optarg, NN_LOSS_NAMES);
            break;
        case O_OPTIM:
            if (nn_optim_parse(optarg, &kind)) cli_usage("--optim '%s': one of %s", optarg, NN_OPTIM_NAMES);
            break;
        case O_LR: lr = (float)cli_double("--lr", optarg, 1e-12, 1e3); o.lr_set = 1; break;
        case O_MOM: mom = (float)cli_double("--momentum", optarg, 0, 0.999999); o.momentum_set = 1; break;
        case O_WD: wd = (float)cli_double("--weight-decay", optarg, 0, 1e3); o.wd_set = 1; break;
        case O_EPOCHS: o.cfg.epochs = (int)cli_long("--epochs", optarg, 1, 10000000); break;
        case O_BATCH: o.cfg.batch = (int)cli_long("--batch", optarg, 1, 1 << 20); break;
        case O_VAL: o.cfg.val_frac = cli_double("--val", optarg, 0, 0.9); break;
        case O_PAT: o.cfg.patience = (int)cli_long("--patience", optarg, 0, 1000000); break;
        case O_MIND: o.cfg.min_delta = cli_double("--min-delta", optarg, 0, 1e30); break;
        case O_SEED: o.cfg.seed = (uint64_t)cli_long("--seed", optarg, 0, (long)(~0ul >> 1)); break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, 1024); break;
        case 'o': o.model = optarg; break;
        case O_MEM: cli_mem_limit_opt("--mem-limit", optarg); break;
        case O_HIST: o.history = optarg; break;
        case O_PAIRS: o.pairs = optarg; break;
        case O_TEMP: o.temperature = (float)cli_double("--temperature", optarg, 1e-4, 100); break;
        case O_MARGIN: o.margin = (float)cli_double("--margin", optarg, 1e-6, 4); break;
        case O_NOLOGQ: o.no_logq = 1; break;
        case O_METRIC:
            if (nn_metric_parse(optarg, &o.cfg.metric)) cli_usage("--metric '%s': one of %s", optarg, NN_METRIC_NAMES);
            break;
        case 'q': o.quiet = 1; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    if (!o.model) cli_usage("-o MODEL is required (the model is a file, rewritten at each improvement)");
    if (o.arch && (o.layers || o.act || o.out_act || o.categorical || o.dropout > 0 || o.batchnorm || o.autoencoder))
        cli_usage("--arch FILE describes the whole network: drop --layers, --act, --out-act, --dropout, --batchnorm, --categorical, --autoencoder");
    if (!o.arch && !o.layers) cli_usage("give the network: --layers 10,8,6,1 (and --act ...) or --arch FILE.json");
    if (o.autoencoder && (o.targets || o.target_stream)) cli_usage("--autoencoder reconstructs the inputs: drop --targets/--target-stream");
    if (!o.arch) {
        /* check the flag syntax now, before reading any data: usage errors exit 2 */
        char *dummy[] = {"_"}, err[1024];
        nn_arch_flags f = {o.layers, o.act, o.slope, o.dropout, o.batchnorm, o.out_act, o.loss,
                           1, dummy, o.categorical, o.autoencoder || nn_loss_is_pair(o.loss) ? 0 : 1, dummy,
                           o.autoencoder, o.temperature, o.margin};
        nn_arch a;
        if (nn_arch_from_flags(&a, &f, err, sizeof err)) cli_usage("%s", err);
        nn_arch_free(&a);
    }
    if (!o.arch && nn_loss_is_pair(o.loss) != (o.pairs != NULL))
        cli_usage(o.pairs ? "--pairs trains an embedding: give --loss infonce or triplet"
                          : "--loss %s learns from pairs: give --pairs MEMBERS.ts", nn_loss_name(o.loss));
    if (o.pairs && (o.targets || o.target_stream || o.autoencoder))
        cli_usage("--pairs learns from group membership: drop --targets/--target-stream/--autoencoder");
    nn_optim_defaults(&o.cfg.optim, kind);
    o.cfg.optim.lr = lr;
    if (o.momentum_set) {
        if (kind != NN_SGD && kind != NN_RMSPROP) cli_usage("--momentum is for sgd and rmsprop (adam has --optim adam's betas 0.9, 0.999)");
        o.cfg.optim.momentum = mom;
    } else if (kind == NN_SGD) {
        o.cfg.optim.momentum = 0.9f;
    }
    if (o.wd_set) o.cfg.optim.weight_decay = wd;
    return o;
}

/* ---------- data ---------- */
typedef struct {
    ts_table t;
    const char *name;
} table;

static void load_table(table *tb, const char *path, const char *tensor) {
    ts_reader *r = cli_open_read(path);
    const ts_header *h;
    int rc;
    tb->name = path && strcmp(path, "-") ? path : "<stdin>";
    while ((rc = ts_next_tensor(r, &h)) == 1) {
        if (!tensor || strcmp(h->name, tensor) == 0) break;
        ts_block b;
        while ((rc = ts_read_block(r, &b)) == 1) {}
        if (rc < 0) break;
    }
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: %s", tb->name, tensor ? "no tensor of that name (--tensor)" : "no tensor in the stream");
    if (ts_read_table(r, &tb->t)) cli_die("%s", ts_error(r));
    ts_close_read(r);
    if (tb->t.h.ndim != 1 || tb->t.h.ncols != tb->t.h.row_elems)
        cli_die("%s: tensor '%s' needs rows of named columns (1-D with \"columns\"), as csv-clean writes", tb->name, tb->t.h.name);
    if (tb->t.nrows == 0) cli_die("%s: tensor '%s' has no rows to train on", tb->name, tb->t.h.name);
}

static int column(const table *tb, const char *name, const char *role) {
    int c = ts_header_column(&tb->t.h, name);
    if (c >= 0) return c;
    char list[512] = "";
    size_t k = 0;
    for (int i = 0; i < tb->t.h.ncols && k < sizeof list - 80; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", tb->t.h.columns[i]);
    if (k >= sizeof list - 80) snprintf(list + k, sizeof list - k, ", ...");
    cli_die("%s: no column '%s' (%s); its columns: %s", tb->name, name, role, list);
}

/* is name used by the architecture as a categorical input or a target? */
static int reserved(const nn_arch *a, const char *name) {
    for (int c = 0; c < a->n_cat; c++) if (strcmp(a->cat[c].column, name) == 0) return 1;
    for (int h = 0; h < a->n_heads; h++)
        if (!a->head[h].from_inputs)
            for (int k = 0; k < a->head[h].ntargets; k++)
                if (strcmp(a->head[h].targets[k], name) == 0) return 1;
    return 0;
}

/* fill arch->num with every column of tb that is not otherwise used */
static void default_inputs(nn_arch *a, const table *tb) {
    a->num = calloc((size_t)tb->t.h.ncols + 1, sizeof *a->num);
    if (!a->num) cli_die("out of memory");
    for (int i = 0; i < tb->t.h.ncols; i++)
        if (!reserved(a, tb->t.h.columns[i]))
            if (!(a->num[a->n_num++] = strdup(tb->t.h.columns[i]))) cli_die("out of memory");
    if (a->n_num == 0 && a->n_cat == 0) cli_die("%s: no columns left for inputs after the targets", tb->name);
    for (int h = 0; h < a->n_heads; h++)
        if (a->head[h].from_inputs) {
            nn_head_spec *hs = &a->head[h];
            for (int k = 0; k < hs->ntargets; k++) free(hs->targets[k]);
            free(hs->targets);
            hs->targets = calloc((size_t)a->n_num + 1, sizeof *hs->targets);
            if (!hs->targets) cli_die("out of memory");
            for (hs->ntargets = 0; hs->ntargets < a->n_num; hs->ntargets++)
                if (!(hs->targets[hs->ntargets] = strdup(a->num[hs->ntargets]))) cli_die("out of memory");
        }
}

static nn_arch build_arch(const opts *o, const table *in, const table *tg) {
    nn_arch a;
    char err[1024];
    if (o->arch) {
        if (nn_arch_load_file(&a, o->arch, err, sizeof err)) cli_die("%s", err);
        if (o->inputs) cli_usage("--inputs: the architecture file names its \"inputs\"");
        if (o->loss != NN_LOSS_MSE) cli_usage("--loss: the architecture file gives each output its \"loss\"");
        return a;
    }
    char **num = NULL, **targets = NULL, *dummy[] = {"_"};
    nn_arch_flags f = {o->layers, o->act, o->slope, o->dropout, o->batchnorm, o->out_act, o->loss,
                       1, dummy, o->categorical, 0, NULL, o->autoencoder, o->temperature, o->margin};
    /* without --inputs a placeholder stands in until the columns are known */
    if (o->inputs) f.n_num = split_list(o->inputs, &num), f.num = num;
    if (o->targets) f.n_targets = split_list(o->targets, &targets);
    else if (tg) { f.n_targets = tg->t.h.ncols; targets = tg->t.h.columns; }
    f.targets = targets;
    if (nn_arch_from_flags(&a, &f, err, sizeof err)) cli_usage("%s", err);
    free_list(num);
    if (o->targets) free_list(targets);
    if (!o->inputs) {
        /* drop the placeholder and take every column not otherwise used */
        for (int i = 0; i < a.n_num; i++) free(a.num[i]);
        free(a.num);
        a.num = NULL;
        a.n_num = 0;
        default_inputs(&a, in);
    }
    return a;
}

/* per row of the input: its row in the target table (joined by key) */
static int64_t *join_keys(const table *in, const table *tg) {
    strmap m;
    strmap_init(&m);
    for (int64_t i = 0; i < tg->t.nrows; i++) {
        int64_t rc = strmap_put(&m, tg->t.keys[i], i);
        if (rc == -2) cli_die("out of memory");
        if (rc >= 0) cli_die("%s: key '%s' appears twice; a target stream needs one row per key", tg->name, tg->t.keys[i]);
    }
    int64_t *row = malloc(sizeof *row * (size_t)in->t.nrows);
    if (!row) cli_die("out of memory");
    for (int64_t i = 0; i < in->t.nrows; i++)
        if ((row[i] = strmap_get(&m, in->t.keys[i])) < 0)
            cli_die("%s: key '%s' of %s has no target row", tg->name, in->t.keys[i], in->name);
    strmap_free(&m);
    return row;
}

typedef struct {
    float *x, *t;          /* [N, n_num + n_cat], [N, n_tcols] raw */
    int64_t n;
    int ldx, ldt;
} dataset;

static int is_input_column(const nn_arch *a, const char *name) {
    for (int i = 0; i < a->n_num; i++) if (strcmp(a->num[i], name) == 0) return 1;
    for (int c = 0; c < a->n_cat; c++) if (strcmp(a->cat[c].column, name) == 0) return 1;
    return 0;
}

static void gather_column(float *dst, int ld, const table *tb, const int64_t *rows, int64_t n, int col) {
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        nn_gather_f32(dst + i * ld, 1, (const char *)tb->t.data + (size_t)r * tb->t.h.row_bytes,
                      tb->t.h.dtype, tb->t.h.row_elems, 1, &col, 1);
    }
}

static dataset build_data(const nn_arch *a, const table *in, const table *tg) {
    dataset d = {0};
    d.n = in->t.nrows;
    d.ldx = a->n_num + a->n_cat;
    d.ldt = 0;
    for (int h = 0; h < a->n_heads; h++) d.ldt += nn_head_tcols(&a->head[h]);
    d.x = malloc(sizeof(float) * (size_t)d.n * (size_t)d.ldx);
    d.t = malloc(sizeof(float) * (size_t)d.n * (size_t)d.ldt);
    if (!d.x || !d.t) cli_die("out of memory for %lld rows", (long long)d.n);
    for (int j = 0; j < d.ldx; j++) {
        const char *name = j < a->n_num ? a->num[j] : a->cat[j - a->n_num].column;
        gather_column(d.x + j, d.ldx, in, NULL, d.n, column(in, name, j < a->n_num ? "an input" : "a categorical input"));
    }
    int64_t *rows = tg ? join_keys(in, tg) : NULL;
    int k = 0;
    for (int h = 0; h < a->n_heads; h++)
        for (int i = 0; i < nn_head_tcols(&a->head[h]); i++, k++) {
            const char *name = a->head[h].targets[i];
            /* a target comes from the target stream unless it is an input
             * (autoencoders, categorical reconstruction) */
            if (tg && !(a->head[h].from_inputs || is_input_column(a, name)))
                gather_column(d.t + k, d.ldt, tg, rows, d.n, column(tg, name, "a target"));
            else
                gather_column(d.t + k, d.ldt, in, NULL, d.n, column(in, name, "a target"));
        }
    free(rows);
    return d;
}

/* codes must be integers >= 0; returns max + 1 */
static int64_t code_count(const float *v, int ld, int64_t n, const table *in, const char *col) {
    float mx = -1;
    for (int64_t i = 0; i < n; i++) {
        float c = v[i * ld];
        if (!(c >= 0 && c == floorf(c) && c < (float)NN_MAX_VOCAB))
            cli_die("%s: row '%s', column '%s': %g is not a category code (an integer >= 0); make codes with csv-clean --category",
                    in->name, in->t.keys[i], col, c);
        if (c > mx) mx = c;
    }
    return (int64_t)mx + 1;
}

static void resolve(nn_arch *a, const dataset *d, const table *in) {
    for (int c = 0; c < a->n_cat; c++) {
        int64_t v = code_count(d->x + a->n_num + c, d->ldx, d->n, in, a->cat[c].column);
        if (a->cat[c].vocab == 0) a->cat[c].vocab = v;
        else if (v > a->cat[c].vocab)
            cli_die("categorical '%s': the data has code %lld but \"vocab\" is %lld", a->cat[c].column, (long long)v - 1, (long long)a->cat[c].vocab);
    }
    int k = 0;
    for (int h = 0; h < a->n_heads; h++) {
        nn_head_spec *hs = &a->head[h];
        if (hs->loss == NN_LOSS_CE) {
            int64_t v = code_count(d->t + k, d->ldt, d->n, in, hs->targets[0]);
            for (int c = 0; c < a->n_cat; c++)       /* reconstruct the whole vocabulary */
                if (strcmp(a->cat[c].column, hs->targets[0]) == 0 && a->cat[c].vocab > v) v = a->cat[c].vocab;
            if (v < 2) v = 2;
            if (hs->classes == 0) hs->classes = v;
            else if (v > hs->classes)
                cli_die("output '%s': the data has class %lld but \"classes\" is %lld", hs->targets[0], (long long)v - 1, (long long)hs->classes);
        } else {
            for (int i = 0; i < hs->ntargets; i++)
                for (int64_t r = 0; r < d->n; r++) {
                    float v = d->t[r * d->ldt + k + i];
                    if (!isfinite(v) || (hs->loss == NN_LOSS_BCE && !(v >= 0 && v <= 1)))
                        cli_die("%s: row '%s', target '%s': %g is not %s", in->name, in->t.keys[r], hs->targets[i], v,
                                hs->loss == NN_LOSS_BCE ? "a probability in [0, 1] (bce)" : "a finite number");
                }
        }
        k += nn_head_tcols(hs);
    }
    for (int j = 0; j < a->n_num; j++)
        for (int64_t r = 0; r < d->n; r++)
            if (!isfinite(d->x[r * d->ldx + j]))
                cli_die("%s: row '%s', input '%s' is %g; fill or drop empty cells first (csv-clean --empty)",
                        in->name, in->t.keys[r], a->num[j], d->x[r * d->ldx + j]);
    char err[1024];
    if (nn_arch_resolve_output(a, err, sizeof err)) cli_usage("%s", err);
    if (nn_arch_check(a, 1, err, sizeof err)) cli_die("%s", err);
}

/* input normalisation and target scaling, then scale the targets in place */
static void fit_scaling(nn_mlp *net, dataset *d, int scale_targets) {
    const nn_arch *a = &net->arch;
    nn_norm_fit(net->norm_mean, net->norm_std, d->x, d->ldx, d->n, a->n_num);
    int k = 0;
    for (int h = 0; h < a->n_heads; h++) {
        const nn_head_spec *hs = &a->head[h];
        int w = nn_head_tcols(hs);
        if (hs->from_inputs) {
            memcpy(net->t_shift + k, net->norm_mean, sizeof(float) * (size_t)w);
            memcpy(net->t_scale + k, net->norm_std, sizeof(float) * (size_t)w);
        } else if (scale_targets && (hs->loss == NN_LOSS_MSE || hs->loss == NN_LOSS_MAE)) {
            nn_norm_fit(net->t_shift + k, net->t_scale + k, d->t + k, d->ldt, d->n, w);
        }
        k += w;
    }
    for (int64_t r = 0; r < d->n; r++)
        for (int j = 0; j < d->ldt; j++)
            d->t[r * d->ldt + j] = (d->t[r * d->ldt + j] - net->t_shift[j]) / net->t_scale[j];
}

/* ---------- group membership (--pairs) ---------- */
typedef struct {
    int32_t *song, *list;
    int64_t n;
} members;

/* rows of the membership stream joined to the input rows by key; a key
 * that is not an input row is skipped and counted */
static members load_members(const char *path, const table *in) {
    /* static: what a refusal below leaves allocated stays reachable */
    static table m;
    static strmap keys;
    static members r;
    load_table(&m, path, NULL);
    int col = column(&m, "playlist", "the group code of --pairs");
    strmap_init(&keys);
    for (int64_t i = 0; i < in->t.nrows; i++)
        if (strmap_put(&keys, in->t.keys[i], i) == -2) cli_die("out of memory");
    r = (members){malloc(sizeof(int32_t) * (size_t)m.t.nrows), malloc(sizeof(int32_t) * (size_t)m.t.nrows), 0};
    if (!r.song || !r.list) cli_die("out of memory");
    int64_t missing = 0;
    for (int64_t i = 0; i < m.t.nrows; i++) {
        float code;
        nn_gather_f32(&code, 1, (const char *)m.t.data + (size_t)i * m.t.h.row_bytes, m.t.h.dtype, m.t.h.row_elems, 1, &col, 1);
        if (!(code >= 0 && code == floorf(code) && code < 2147483647.0f))
            cli_die("%s: row %lld (key '%s'): playlist %g is not a group code (an integer >= 0)", m.name, (long long)i + 1, m.t.keys[i], code);
        int64_t row = strmap_get(&keys, m.t.keys[i]);
        if (row < 0) { missing++; continue; }
        r.song[r.n] = (int32_t)row;
        r.list[r.n++] = (int32_t)code;
    }
    if (missing) cli_warn("%s: %lld of %lld membership rows name songs that are not rows of %s; skipped",
                          m.name, (long long)missing, (long long)m.t.nrows, in->name);
    strmap_free(&keys);
    ts_table_free(&m.t);
    return r;
}

/* ---------- training callbacks ---------- */
typedef struct {
    const opts *o;
    ts_writer *hist;
    cJSON *meta;
    int best_epoch;
    double best_loss;
    const char *metric_name;
    int tty;
} run;

static void save_model(run *r, nn_mlp *net, int epoch, double val) {
    char err[1024];
    cJSON_ReplaceItemInObject(r->meta, "best_epoch", cJSON_CreateNumber(epoch));
    cJSON_ReplaceItemInObject(r->meta, "best_val_loss", cJSON_CreateNumber(val));
    if (nn_mlp_save(net, r->o->model, r->meta, err, sizeof err)) cli_die("%s", err);
    r->best_epoch = epoch;
    r->best_loss = val;
}

static int on_epoch(void *ctx, nn_mlp *net, const nn_epoch_stats *s) {
    run *r = ctx;
    if (s->improved) save_model(r, net, s->epoch, s->val_loss);
    if (r->hist) {
        char key[32];
        float row[5] = {(float)s->epoch, (float)s->train_loss, (float)s->val_loss, (float)s->metric, (float)s->seconds};
        snprintf(key, sizeof key, "%d", s->epoch);
        if (ts_write_row(r->hist, key, row)) cli_die("%s", ts_werror(r->hist));
    }
    if (!r->o->quiet) {
        fprintf(stderr, "%s%s: epoch %d/%d  train %.6g  val %.6g  %s %.6g  %.2fs%s%s",
                r->tty ? "\r" : "", cli_stage, s->epoch, r->o->cfg.epochs, s->train_loss, s->val_loss,
                r->metric_name, s->metric, s->seconds, s->improved ? "  saved" : "",
                r->tty ? "\033[K" : "\n");
        fflush(stderr);
    }
    return 0;
}

static ts_writer *open_history(const char *path, const char *metric) {
    static const char *const cols[] = {"epoch", "train_loss", "val_loss", "metric", "seconds"};
    ts_header h;
    ts_writer *w = cli_open_write(path);
    if (ts_header_init(&h, "history", TS_F32, 5, cols) || !(h.key_name = strdup("epoch")))
        cli_die("out of memory");
    cJSON_AddStringToObject(ts_header_meta(&h), "metric", metric);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    ts_header_free(&h);
    return w;
}

static cJSON *train_meta(const opts *o, const table *in, int64_t n) {
    const nn_optim *op = &o->cfg.optim;
    cJSON *m = cJSON_CreateObject();
    if (!m) cli_die("out of memory");
    cJSON_AddStringToObject(m, "data", in->name);
    cJSON_AddNumberToObject(m, "rows", (double)n);
    cJSON_AddStringToObject(m, "optim", nn_optim_name(op->kind));
    cJSON_AddItemToObject(m, "lr", nn_json_float(op->lr));
    cJSON_AddItemToObject(m, "momentum", nn_json_float(op->momentum));
    cJSON_AddItemToObject(m, "weight_decay", nn_json_float(op->weight_decay));
    cJSON_AddNumberToObject(m, "epochs", o->cfg.epochs);
    cJSON_AddNumberToObject(m, "batch", o->cfg.batch);
    cJSON_AddNumberToObject(m, "val", o->cfg.val_frac);
    cJSON_AddNumberToObject(m, "patience", o->cfg.patience);
    cJSON_AddNumberToObject(m, "seed", (double)o->cfg.seed);
    cJSON_AddNumberToObject(m, "threads", o->threads);
    cJSON_AddNumberToObject(m, "best_epoch", 0);
    cJSON_AddNumberToObject(m, "best_val_loss", 0);
    return m;
}

int main(int argc, char **argv) {
    cli_init("train-mlp", argc, argv, HELP);
    cli_blas_tune(argv);
    opts o = parse_opts(argc, argv);
    openblas_set_num_threads(o.threads);
    table in = {0}, tg = {0};
    load_table(&in, o.input, o.tensor);
    if (o.target_stream) load_table(&tg, o.target_stream, NULL);
    nn_arch a = build_arch(&o, &in, o.target_stream ? &tg : NULL);
    dataset d = build_data(&a, &in, o.target_stream ? &tg : NULL);
    resolve(&a, &d, &in);
    nn_mlp net;
    char err[1024];
    if (nn_mlp_create(&net, &a, err, sizeof err)) cli_die("%s", err);
    nn_arch_free(&a);
    nn_mlp_init_params(&net, o.cfg.seed);
    fit_scaling(&net, &d, o.scale_targets);

    /* Ctrl-C: finish the batch, keep the saved model (cli's handler would
     * delete the .tmp files and die at once) */
    cli_stop_on_interrupt();
    run r = {&o, NULL, train_meta(&o, &in, d.n), 0, 0, "val_mae", isatty(STDERR_FILENO)};
    const nn_head_spec *h0 = &net.arch.head[0];
    if (h0->loss == NN_LOSS_CE && o.cfg.metric == NN_METRIC_MAE)
        cli_usage("--metric mae: the first output is a class (--loss ce); use accuracy");
    r.metric_name = o.pairs ? "val_loss" : nn_metric_name(&net, o.cfg.metric);
    if (o.history) r.hist = open_history(o.history, r.metric_name);
    o.cfg.on_epoch = on_epoch;
    o.cfg.ctx = &r;
    o.cfg.stop = &cli_stop;
    nn_train_result res;
    if (nn_loss_is_pair(net.arch.head[0].loss) != (o.pairs != NULL))
        cli_usage(o.pairs ? "--pairs: the architecture's output must be {\"loss\": \"infonce\"} or \"triplet\""
                          : "the architecture's output learns from pairs: give --pairs MEMBERS.ts");
    if (o.pairs) {
        if (o.temperature > 0) net.arch.head[0].temperature = o.temperature;
        if (o.margin > 0) net.arch.head[0].margin = o.margin;
        members mb = load_members(o.pairs, &in);
        nn_members nm = {mb.song, mb.list, mb.n};
        int rc = nn_mlp_train_pairs(&net, d.x, d.n, &nm, !o.no_logq, &o.cfg, &res, err, sizeof err);
        free(mb.song);
        free(mb.list);
        if (rc) cli_die("%s", err);
    } else if (nn_mlp_train(&net, d.x, d.t, d.n, &o.cfg, &res, err, sizeof err)) {
        cli_die("%s", err);
    }
    if (r.tty && !o.quiet) fputc('\n', stderr);
    if (r.hist) {
        if (ts_end_tensor(r.hist)) cli_die("%s", ts_werror(r.hist));
        cli_close_write(r.hist);
    }
    if (!o.quiet || res.interrupted)
        cli_warn("%s after %d epochs (%lld training rows, %lld validation); %s holds epoch %d, val loss %.6g",
                 res.interrupted ? "interrupted" : res.stopped_early ? "stopped early" : "done",
                 res.epochs_run, (long long)res.n_train, (long long)res.n_val,
                 r.best_epoch ? o.model : "no model was saved:", r.best_epoch, r.best_loss);
    cJSON_Delete(r.meta);
    nn_mlp_free(&net);
    free(d.x);
    free(d.t);
    ts_table_free(&in.t);
    if (o.target_stream) ts_table_free(&tg.t);
    return res.interrupted ? 130 : 0;
}
