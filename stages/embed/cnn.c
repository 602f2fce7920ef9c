/* cnn.c - the train-cnn half of the `embed` stage (stages/embed.c hands
 * over when the model's meta says songpipe_cnn): spectrogram tiles in, one
 * row per tile out (the embedding, the logits or class probabilities).
 * Stage code: it reports errors through cli_die.  Memory: one batch. */
#include "cli.h"
#include "cnn.h"
#include "embed.h"
#include "loss.h"
#include "tilestore.h"

#include <stdlib.h>
#include <string.h>

static void list_layers(const cnn_net *net) {
    const cnn_arch *a = &net->arch;
    printf("input\t%dx%d\ttiles\n", a->in_h, a->in_w);
    for (int s = 0; s < a->n_stages; s++)
        printf("stage.%d\t%d\tconv3x3-bn-relu-%spool2%s\n", s, a->width[s], a->pool == CNN_POOL_MAX ? "max" : "avg",
               a->residual ? " + residual block" : "");
    printf("embed\t%d\tlinear (the embedding)\n", a->embed);
    printf("output\t%d\tlogits\n", a->classes);
}

/* 0 = embed, 1 = output (logits) */
static int pick_layer(const char *spec) {
    if (!spec || !strcmp(spec, "embed") || !strcmp(spec, "-2") || !strcmp(spec, "embedding")) return 0;
    if (!strcmp(spec, "output") || !strcmp(spec, "-1") || !strcmp(spec, "logits")) return 1;
    cli_usage("--layer %s: a CNN model has the layers embed (-2, the default) and output (-1, the logits)", spec);
}

static void begin(ts_writer *out, const cnn_net *net, const ts_header *h, const char *model, const char *name, int track_keys,
                  int predict, int which, int width) {
    char **cols = calloc((size_t)width, sizeof *cols), tmp[512];
    if (!cols) cli_die("out of memory");
    for (int j = 0; j < width; j++) {
        if (predict && net->class_names) snprintf(tmp, sizeof tmp, "%s", net->class_names[j]);
        else snprintf(tmp, sizeof tmp, "%s.%d", predict ? "class" : which ? "output" : "embed", j);
        if (!(cols[j] = strdup(tmp))) cli_die("out of memory");
    }
    ts_header oh;
    if (ts_header_init(&oh, name ? name : predict ? "prediction" : "embedding", TS_F32, width, (const char *const *)cols) ||
        !(oh.key_name = strdup(track_keys || !h->key_name ? "track" : h->key_name)))
        cli_die("out of memory");
    for (int j = 0; j < width; j++) free(cols[j]);
    free(cols);
    cJSON *meta = ts_header_meta(&oh);
    cJSON_AddStringToObject(meta, "model", model);
    cJSON_AddStringToObject(meta, "layer", predict ? "prediction" : which ? "output" : "embed");
    if (ts_begin_tensor(out, &oh)) cli_die("%s", ts_werror(out));
    ts_header_free(&oh);
}

int embed_cnn(const embed_opts *o) {
    const char *model = o->model, *input = o->input, *output = o->output, *layer = o->layer;
    const char *name = o->name;
    const int predict = o->predict, list = o->list, batch = o->batch, track_keys = o->track_keys;
    const int threads = o->threads;
    cnn_net net;
    char err[1024];
    if (cnn_load(&net, model, err, sizeof err)) cli_die("%s", err);
    if (list) { list_layers(&net); cnn_free(&net); return 0; }
    int which = predict ? 1 : pick_layer(layer);
    int width = which ? net.arch.classes : net.arch.embed;
    ts_reader *in = cli_open_read(input);
    const char *src = ts_reader_name(in);
    const ts_header *h = cli_find_tensor(in, o->tensor);
    int rc;
    if (h->dtype != TS_F32 || h->ndim != 2 || h->shape[0] != net.arch.in_h || h->shape[1] != net.arch.in_w)
        cli_die("%s: tensor '%s' must hold f32 tiles [%d, %d] as the model was trained on (slice's output of the same spectro settings)",
                src, h->name, net.arch.in_h, net.arch.in_w);
    ts_writer *out = cli_open_write(output);
    begin(out, &net, h, model, name, track_keys, predict, which, width);
    cnn_set_threads(&net, threads);
    if (cnn_reserve(&net, batch)) cli_die("out of memory for batches of %d tiles; try a smaller --batch", batch);
    float *yb = malloc(sizeof(float) * (size_t)batch * (size_t)width);
    char **keys = malloc(sizeof *keys * (size_t)batch);
    char *keybuf = malloc((size_t)batch * TS_MAX_KEY);
    if (!yb || !keys || !keybuf) cli_die("out of memory");
    const size_t tile = (size_t)net.arch.in_h * net.arch.in_w;
    ts_block b;
    while ((rc = ts_read_block(in, &b)) == 1) {
        for (int64_t i = 0; i < b.nrows; i += batch) {
            int m = (int)(b.nrows - i < batch ? b.nrows - i : batch);
            const float *x = (const float *)b.data + (size_t)i * tile;
            for (size_t k = 0; k < (size_t)m * tile; k++)
                if (!(x[k] == x[k]) || x[k] > 3e38f || x[k] < -3e38f)
                    cli_die("%s: tile '%s' holds %g; tiles must be finite", src, b.keys[i + (int64_t)(k / tile)], x[k]);
            if (cnn_forward(&net, x, m, 0)) cli_die("cannot start a worker thread; try fewer --threads");
            const float *y = which ? net.logits : net.emb;
            if (predict) { nn_softmax(yb, width, net.logits, width, m, width); y = yb; }
            const char *const *kk = b.keys + i;
            if (track_keys) {
                for (int r = 0; r < m; r++) keys[r] = (char *)tile_track_of(b.keys[i + r], keybuf + (size_t)r * TS_MAX_KEY);
                kk = (const char *const *)keys;
            }
            if (ts_write_rows(out, m, kk, y)) cli_die("%s", ts_werror(out));
        }
    }
    if (rc < 0) cli_die("%s", ts_error(in));
    if (ts_end_tensor(out)) cli_die("%s", ts_werror(out));
    cli_close_write(out);
    ts_close_read(in);
    free(yb), free(keys), free(keybuf);
    cnn_free(&net);
    return 0;
}
