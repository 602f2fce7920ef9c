/* embed - run a model made by train-mlp over a tensor stream and output the
 * activations of one layer (a song embedding) or the predictions, keys
 * passing through; for a train-cnn model, the embedding of each
 * spectrogram tile (stages/embed/cnn.c).  Streams in blocks: memory is one
 * batch, not the table. */
#include "cli.h"
#include "cnn.h"
#include "embed.h"
#include "mlp.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: embed -m MODEL [--layer L | --predict] [FILE | -]\n"
"Run a train-mlp model over the first tensor of a stream (no FILE or - =\n"
"stdin) and write one row per input row, same key: a layer's activations\n"
"(tensor 'embedding') or the model's predictions (tensor 'prediction').\n"
"The input needs the model's input columns, by name, in any order.\n"
"\n"
"  -m, --model FILE  the model (required)\n"
"  --layer L         which layer: its name (dense.1, or a name from the\n"
"                    architecture file; 'output' = the output layer), its\n"
"                    index from the first (0, 1, ...), or counted from the\n"
"                    end (-1 = the output layer, -2 = the last hidden layer)\n"
"                    (default -2)\n"
"  --predict         the outputs in target units: regression scaled back,\n"
"                    probabilities for bce, softmax for ce (column T=class)\n"
"  --list            print the model's layers (name, width) and exit\n"
"  --batch N         rows per forward pass (default 4096)\n"
"  --tensor NAME     read the tensor NAME (default: the first)\n"
"  --name NAME       output tensor name (default embedding / prediction)\n"
"  --threads N       threads (default 1): OpenBLAS threads for MLP models; a\n"
"                    CNN model splits each batch over N threads instead\n"
"  --track-keys      (CNN) key each row by its track: \"TRACK#3\" -> \"TRACK\"\n"
"  --shard I/N       run only the batches of shard I of N (0-based): batch b\n"
"                    (counted over the input) goes to shard b mod N, so every\n"
"                    row is computed in the same batch as unsharded; `merge`\n"
"                    joins the N outputs into exactly the unsharded output.\n"
"                    Needs a named input FILE\n"
"  -o FILE           output (default stdout; FILE.tmp.* until complete)\n"
"  -h, --help        this help;  -V  version\n"
"\n"
"A train-cnn model reads tiles (slice's output) and writes the embedding\n"
"layer of each (--layer embed, the default; output = the logits) or, with\n"
"--predict, the class probabilities (columns = class names); --batch\n"
"defaults to 64 tiles there, and --track-keys cuts a trailing \"#I\" off\n"
"each key so `pool` averages the tiles of a song.\n"
"Layer activations are taken after the activation function, in evaluation\n"
"mode (no dropout, batchnorm running statistics); another --batch may change\n"
"the last digit (OpenBLAS picks kernels by size).  Memory: one batch.\n"
"Example:\n"
"  embed -m pop.model --layer dense.1 songs.ts | knn --index - ...\n";

typedef embed_opts opts;

static opts parse_opts(int argc, char **argv) {
    enum { O_LAYER = 256, O_PREDICT, O_LIST, O_BATCH, O_TENSOR, O_NAME, O_THREADS, O_SHARD, O_TRACKKEYS };
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"layer", 1, 0, O_LAYER}, {"predict", 0, 0, O_PREDICT},
        {"list", 0, 0, O_LIST}, {"batch", 1, 0, O_BATCH}, {"tensor", 1, 0, O_TENSOR},
        {"name", 1, 0, O_NAME}, {"threads", 1, 0, O_THREADS}, {"shard", 1, 0, O_SHARD},
        {"track-keys", 0, 0, O_TRACKKEYS}, {0, 0, 0, 0}};
    opts o = {0};
    o.threads = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:o:hV", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'o': o.output = optarg; break;
        case O_LAYER: o.layer = optarg; break;
        case O_PREDICT: o.predict = 1; break;
        case O_LIST: o.list = 1; break;
        case O_BATCH: o.batch = (int)cli_long("--batch", optarg, 1, 1 << 22); break;
        case O_TENSOR: o.tensor = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, 1024); break;
        case O_TRACKKEYS: o.track_keys = 1; break;
        case O_SHARD: {
            char e[200];
            if (shard_parse(optarg, &o.shard, e, sizeof e)) cli_usage("%s", e);
            break;
        }
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    if (!o.model) cli_usage("-m MODEL is required");
    if (o.predict && o.layer) cli_usage("--predict and --layer exclude each other");
    if (shard_active(&o.shard) && (!o.input || strcmp(o.input, "-") == 0))
        cli_usage("--shard needs a named input FILE (its size and checksum identify the input), not stdin");
    return o;
}

/* layer index from a name, an index, or a negative count from the end */
static int find_layer(const nn_mlp *net, const char *spec) {
    const nn_arch *a = &net->arch;
    char buf[64], *end;
    if (strcmp(spec, "output") == 0) return a->n_layers - 1;
    for (int l = 0; l < a->n_layers; l++)
        if (strcmp(spec, nn_layer_name(a, l, buf, sizeof buf)) == 0) return l;
    errno = 0;
    long v = strtol(spec, &end, 10);
    if (end != spec && !*end && !errno) {
        long l = v < 0 ? a->n_layers + v : v;
        if (l >= 0 && l < a->n_layers) return (int)l;
        cli_usage("--layer %s: the model has %d layers (0..%d, or -1..-%d from the end)", spec,
                  a->n_layers, a->n_layers - 1, a->n_layers);
    }
    char names[512] = "";
    size_t k = 0;
    for (int l = 0; l < a->n_layers && k < sizeof names - 80; l++)
        k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", l ? ", " : "", nn_layer_name(a, l, buf, sizeof buf));
    cli_usage("--layer %s: no such layer; the model's layers are %s (or an index, -1 = output)", spec, names);
}

static void list_layers(const nn_mlp *net) {
    const nn_arch *a = &net->arch;
    char buf[64];
    printf("input\t%d\t(%d numeric, %d categorical)\n", net->in_width, a->n_num, a->n_cat);
    for (int l = 0; l < a->n_layers; l++)
        printf("%s\t%d\t%s%s\n", nn_layer_name(a, l, buf, sizeof buf), a->layer[l].units,
               l == a->n_layers - 1 ? "output" : nn_act_name(a->layer[l].act),
               a->layer[l].batchnorm ? " batchnorm" : "");
}

/* output columns: "layer.j", or per head the target names / T=class */
static char **out_columns(const nn_mlp *net, int layer, int predict, int width) {
    const nn_arch *a = &net->arch;
    char **cols = calloc((size_t)width, sizeof *cols), buf[64], tmp[512];
    if (!cols) cli_die("out of memory");
    int k = 0;
    if (!predict) {
        const char *ln = nn_layer_name(a, layer, buf, sizeof buf);
        for (int j = 0; j < width; j++) {
            snprintf(tmp, sizeof tmp, "%s.%d", ln, j);
            if (!(cols[j] = strdup(tmp))) cli_die("out of memory");
        }
        return cols;
    }
    for (int h = 0; h < a->n_heads; h++) {
        const nn_head_spec *hs = &a->head[h];
        for (int j = 0; j < nn_head_width(hs); j++, k++) {
            if (hs->loss == NN_LOSS_CE) snprintf(tmp, sizeof tmp, "%s=%d", hs->targets[0], j);
            else if (nn_loss_is_pair(hs->loss)) snprintf(tmp, sizeof tmp, "emb.%d", j);
            else snprintf(tmp, sizeof tmp, "%s", hs->targets[j]);
            if (!(cols[k] = strdup(tmp))) cli_die("out of memory");
        }
    }
    return cols;
}

/* where each model input sits in the input rows */
static int *map_inputs(const nn_mlp *net, const ts_header *h, const char *src) {
    const nn_arch *a = &net->arch;
    int n = a->n_num + a->n_cat;
    int *map = malloc(sizeof *map * (size_t)(n ? n : 1));
    if (!map) cli_die("out of memory");
    if (h->ndim != 1 || h->ncols != h->row_elems)
        cli_die("%s: tensor '%s' needs rows of named columns, like the training data", src, h->name);
    if (h->dtype != TS_F32 && h->dtype != TS_F64 && h->dtype != TS_I32 && h->dtype != TS_I64 && h->dtype != TS_U8)
        cli_die("%s: tensor '%s' is not numeric", src, h->name);
    for (int j = 0; j < n; j++) {
        const char *name = j < a->n_num ? a->num[j] : a->cat[j - a->n_num].column;
        if ((map[j] = ts_header_column(h, name)) < 0)
            cli_die("%s: no column '%s', which the model takes as %s input; give the columns it was trained on",
                    src, name, j < a->n_num ? "a numeric" : "a categorical");
    }
    return map;
}

int main(int argc, char **argv) {
    cli_init("embed", argc, argv, HELP);
    cli_blas_tune(argv);
    opts o = parse_opts(argc, argv);
    openblas_set_num_threads(o.threads);
    if (cnn_is_model(o.model) == 1) {
        if (shard_active(&o.shard)) cli_usage("--shard is for train-mlp models");
        if (!o.batch) o.batch = 64;
        return embed_cnn(&o);
    }
    if (o.track_keys) cli_usage("--track-keys is for CNN models (train-cnn)");
    if (!o.batch) o.batch = 4096;
    nn_mlp net;
    char err[1024];
    if (nn_mlp_load(&net, o.model, err, sizeof err)) cli_die("%s", err);
    if (o.list) { list_layers(&net); nn_mlp_free(&net); return 0; }
    int layer = o.predict ? net.arch.n_layers - 1 : find_layer(&net, o.layer ? o.layer : "-2");
    int width = net.arch.layer[layer].units;

    ts_reader *in = cli_open_read(o.input);
    const char *src = ts_reader_name(in);
    const ts_header *h = cli_find_tensor(in, o.tensor);
    int rc;
    int *map = map_inputs(&net, h, src);
    const int ldx = net.arch.n_num + net.arch.n_cat;

    ts_writer *out = cli_open_write(o.output);
    ts_header oh;
    char **cols = out_columns(&net, layer, o.predict, width);
    char lbuf[64];
    if (ts_header_init(&oh, o.name ? o.name : o.predict ? "prediction" : "embedding", TS_F32, width,
                       (const char *const *)cols) ||
        (h->key_name && !(oh.key_name = strdup(h->key_name))))
        cli_die("out of memory");
    for (int j = 0; j < width; j++) free(cols[j]);
    free(cols);
    cJSON *meta = ts_header_meta(&oh);
    cJSON_AddStringToObject(meta, "model", o.model);
    cJSON_AddStringToObject(meta, "layer", o.predict ? "prediction" : nn_layer_name(&net.arch, layer, lbuf, sizeof lbuf));
    shard_out *so = NULL;                       /* --shard: identity of input and model */
    if (shard_active(&o.shard)) {
        if (!(so = shard_out_new(&o.shard, "batches of --batch rows within input blocks; batch b to shard b mod N")))
            cli_die("out of memory");
        if (shard_out_input(so, o.input, err, sizeof err) || shard_out_input(so, o.model, err, sizeof err))
            cli_die("%s", err);
        /* --batch decides which rows a shard owns (and may change last digits) */
        if (shard_out_option_number(so, "batch", o.batch) ||
            shard_out_option_string(so, "tensor", o.tensor ? o.tensor : "") || shard_out_annotate(so, &oh))
            cli_die("out of memory");
    }
    int64_t batch_no = 0;
    if (ts_begin_tensor(out, &oh)) cli_die("%s", ts_werror(out));
    ts_header_free(&oh);

    if (nn_mlp_reserve(&net, o.batch)) cli_die("out of memory for batches of %d rows", o.batch);
    float *xb = malloc(sizeof(float) * (size_t)o.batch * (size_t)(ldx ? ldx : 1));
    float *yb = malloc(sizeof(float) * (size_t)o.batch * (size_t)width);
    if (!xb || !yb) cli_die("out of memory");
    ts_block b;
    while ((rc = ts_read_block(in, &b)) == 1) {
        for (int64_t i = 0; i < b.nrows; i += o.batch) {
            int m = (int)(b.nrows - i < o.batch ? b.nrows - i : o.batch);
            if (!shard_owns_unit(&o.shard, batch_no++)) continue;
            if (so) for (int r = 0; r < m; r++)
                if (shard_out_rows(so, b.first_row + i + r, 1)) cli_die("cannot spool the row positions");
            nn_gather_f32(xb, ldx, (const char *)b.data + (size_t)i * h->row_bytes, h->dtype,
                          h->row_elems, m, map, ldx);
            int br, bc;
            if (nn_mlp_check_input(&net, xb, ldx, m, &br, &bc)) {
                const char *cn = bc < net.arch.n_num ? net.arch.num[bc] : net.arch.cat[bc - net.arch.n_num].column;
                if (bc < net.arch.n_num)
                    cli_die("%s: row '%s', column '%s' is %g; the model needs finite numbers", src, b.keys[i + br], cn, xb[(size_t)br * ldx + bc]);
                cli_die("%s: row '%s', column '%s': code %g is outside the model's vocabulary 0..%lld (codes from another csv-clean --vocab?)",
                        src, b.keys[i + br], cn, xb[(size_t)br * ldx + bc], (long long)net.arch.cat[bc - net.arch.n_num].vocab - 1);
            }
            nn_mlp_forward(&net, xb, ldx, m, 0);
            const float *y = nn_mlp_output(&net, layer);
            if (o.predict) { nn_mlp_predict(&net, yb, m); y = yb; }
            if (ts_write_rows(out, m, b.keys + i, y)) cli_die("%s", ts_werror(out));
        }
    }
    if (rc < 0) cli_die("%s", ts_error(in));
    if (ts_end_tensor(out)) cli_die("%s", ts_werror(out));
    if (so && shard_out_finish(so, out, err, sizeof err)) cli_die("%s", err);
    shard_out_free(so);
    cli_close_write(out);
    ts_close_read(in);
    free(xb);
    free(yb);
    free(map);
    nn_mlp_free(&net);
    return 0;
}
