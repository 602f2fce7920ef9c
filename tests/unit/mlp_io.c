/* mlp_io.c - model files: save/load round trip (parameters, running
 * statistics, normalisation, target scaling, same outputs), and every load
 * error names what does not match: wrong shape, missing tensor, unknown
 * tensor, not a model, newer version, bad architecture in the meta. */
#include "check.h"
#include "../../common/mlp.h"

#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/mlp_io_XXXXXX";

static int build(nn_mlp *net, const char *js) {
    char err[512];
    nn_arch a;
    cJSON *j = cJSON_Parse(js);
    int rc = nn_arch_from_json(&a, j, "test", err, sizeof err) || nn_arch_resolve_output(&a, err, sizeof err) ||
             nn_mlp_create(net, &a, err, sizeof err);
    if (rc) printf("# %s\n", err);
    nn_arch_free(&a);
    cJSON_Delete(j);
    return rc ? -1 : 0;
}

static const char *ARCH =
    "{\"inputs\": [\"a\", \"b\"], \"categorical\": [{\"column\": \"g\", \"dim\": 2, \"vocab\": 3}],"
    " \"layers\": [{\"units\": 4, \"act\": \"relu\", \"batchnorm\": true}, {\"units\": 3, \"act\": \"tanh\", \"name\": \"latent\"}],"
    " \"outputs\": [{\"loss\": \"mse\", \"targets\": [\"y\"]}, {\"loss\": \"ce\", \"target\": \"g\", \"classes\": 3}]}";

/* write a stream holding the tensors of `from` but the meta of `meta_of` */
static int write_mixed(const char *path, nn_mlp *meta_of, nn_mlp *from, int skip, int extra) {
    char err[512], tmp[600];
    snprintf(tmp, sizeof tmp, "%s/meta.ts", dir);
    if (nn_mlp_save(meta_of, tmp, NULL, err, sizeof err)) return -1;
    ts_table first;
    if (ts_load_table(tmp, NULL, &first, err, sizeof err)) return -1;
    ts_writer *w = ts_open_write(path, err, sizeof err);
    for (int i = 0; i < from->n_tensors; i++) {
        if (i == skip) continue;
        nn_tensor *t = &from->tensors[i];
        ts_header h;
        int64_t shape[2] = {t->rows, t->cols};
        ts_header_init(&h, t->name, TS_F32, t->cols, NULL);
        if (t->ndim == 2) ts_header_set_shape(&h, 2, shape);
        if (i == (skip == 0 ? 1 : 0)) h.meta = cJSON_Duplicate(first.h.meta, 1);
        ts_begin_tensor(w, &h);
        ts_write_row(w, t->name, t->p);
        ts_end_tensor(w);
        ts_header_free(&h);
    }
    if (extra) {
        ts_header h;
        float v[2] = {1, 2};
        ts_header_init(&h, "dense.9.weight", TS_F32, 2, NULL);
        ts_begin_tensor(w, &h);
        ts_write_row(w, "x", v);
        ts_end_tensor(w);
        ts_header_free(&h);
    }
    ts_table_free(&first);
    return ts_close(w, err, sizeof err);
}

static int load_fails(const char *path, const char *want) {
    nn_mlp net;
    char err[1024] = "";
    int rc = nn_mlp_load(&net, path, err, sizeof err);
    if (rc == 0) { nn_mlp_free(&net); return 0; }
    printf("#   %s\n", err);
    return strstr(err, want) != NULL;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char path[600], err[1024];
    nn_mlp a, b;
    CHECK(build(&a, ARCH) == 0, "test network builds");
    nn_mlp_init_params(&a, 5);
    a.norm_mean[0] = 1.5f; a.norm_std[0] = 2.25f;
    a.t_shift[0] = 40; a.t_scale[0] = 12.5f;
    a.run_mean[0][1] = 0.3f; a.run_var[0][2] = 1.7f;
    snprintf(path, sizeof path, "%s/model.ts", dir);
    cJSON *tm = cJSON_CreateObject();
    cJSON_AddStringToObject(tm, "note", "test");
    CHECK(nn_mlp_save(&a, path, tm, err, sizeof err) == 0, "save %s", err);
    cJSON_Delete(tm);
    int ok = nn_mlp_load(&b, path, err, sizeof err) == 0;
    CHECK(ok, "load %s", err);
    if (ok) {
        CHECK(b.n_params == a.n_params && memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0,
              "parameters survive the round trip bit for bit (%zu)", a.n_params);
        CHECK(memcmp(a.buffers, b.buffers, a.n_buffers * sizeof(float)) == 0,
              "running statistics, normalisation and target scaling survive");
        CHECK(b.arch.layer[1].name && strcmp(b.arch.layer[1].name, "latent") == 0 && b.arch.head[1].classes == 3,
              "architecture survives (layer names, classes)");
        float x[2 * 3] = {1, 2, 0, -1, 0.5f, 2};
        float ya[2 * 4], yb[2 * 4];
        nn_mlp_reserve(&a, 2); nn_mlp_reserve(&b, 2);
        nn_mlp_forward(&a, x, 3, 2, 0); nn_mlp_predict(&a, ya, 2);
        nn_mlp_forward(&b, x, 3, 2, 0); nn_mlp_predict(&b, yb, 2);
        CHECK(memcmp(ya, yb, sizeof ya) == 0, "loaded model predicts the same (%g %g)", ya[0], yb[0]);
        nn_mlp_free(&b);
    }

    /* a differently shaped network's tensors under a's architecture */
    nn_mlp c;
    build(&c, "{\"inputs\": [\"a\", \"b\"], \"categorical\": [{\"column\": \"g\", \"dim\": 2, \"vocab\": 3}],"
              " \"layers\": [{\"units\": 5, \"act\": \"relu\", \"batchnorm\": true}, {\"units\": 3, \"act\": \"tanh\", \"name\": \"latent\"}],"
              " \"outputs\": [{\"loss\": \"mse\", \"targets\": [\"y\"]}, {\"loss\": \"ce\", \"target\": \"g\", \"classes\": 3}]}");
    snprintf(path, sizeof path, "%s/shape.ts", dir);
    write_mixed(path, &a, &c, -1, 0);
    CHECK(load_fails(path, "tensor 'dense.0.weight' is f32 [5, 4]; the architecture needs f32 [4, 4]"), "wrong shape is named");
    snprintf(path, sizeof path, "%s/missing.ts", dir);
    write_mixed(path, &a, &a, 3, 0);
    CHECK(load_fails(path, "is missing"), "missing tensor is named");
    snprintf(path, sizeof path, "%s/extra.ts", dir);
    write_mixed(path, &a, &a, -1, 1);
    CHECK(load_fails(path, "tensor 'dense.9.weight' is not part of this architecture"), "unknown tensor is named");
    nn_mlp_free(&c);

    /* issue 14: a model whose weights are NaN or infinite is refused at load */
    float keep = a.tensors[1].p[2];
    a.tensors[1].p[2] = NAN;
    snprintf(path, sizeof path, "%s/nan.ts", dir);
    CHECK(nn_mlp_save(&a, path, NULL, err, sizeof err) == 0, "save a model with a NaN weight %s", err);
    CHECK(load_fails(path, "holds nan at value 2 of"), "a NaN weight is refused, naming tensor and value");
    a.tensors[1].p[2] = -INFINITY;
    snprintf(path, sizeof path, "%s/inf.ts", dir);
    nn_mlp_save(&a, path, NULL, err, sizeof err);
    CHECK(load_fails(path, "holds -inf at value 2 of"), "an infinite weight is refused");
    a.tensors[1].p[2] = keep;

    /* not a model at all, and a future version */
    snprintf(path, sizeof path, "%s/plain.ts", dir);
    ts_writer *w = ts_open_write(path, err, sizeof err);
    ts_header h;
    float v[2] = {1, 2};
    ts_header_init(&h, "features", TS_F32, 2, NULL);
    ts_begin_tensor(w, &h); ts_write_row(w, "k", v); ts_end_tensor(w);
    ts_close(w, err, sizeof err);
    CHECK(load_fails(path, "not a songpipe model"), "a plain tensor stream is not a model");
    snprintf(path, sizeof path, "%s/future.ts", dir);
    w = ts_open_write(path, err, sizeof err);
    cJSON_AddNumberToObject(ts_header_meta(&h), "songpipe_mlp", 99);
    ts_begin_tensor(w, &h); ts_write_row(w, "k", v); ts_end_tensor(w);
    ts_close(w, err, sizeof err);
    CHECK(load_fails(path, "version 99"), "a newer model version is refused");
    cJSON_DeleteItemFromObject(h.meta, "songpipe_mlp");
    cJSON_AddNumberToObject(h.meta, "songpipe_mlp", 1);
    cJSON_AddItemToObject(h.meta, "arch", cJSON_Parse("{\"inputs\": [\"a\"], \"layers\": [{\"units\": 0}], \"outputs\": [{\"loss\": \"mse\", \"targets\": [\"y\"]}]}"));
    snprintf(path, sizeof path, "%s/badarch.ts", dir);
    w = ts_open_write(path, err, sizeof err);
    ts_begin_tensor(w, &h); ts_write_row(w, "k", v); ts_end_tensor(w);
    ts_close(w, err, sizeof err);
    CHECK(load_fails(path, "meta.arch: layers[0]: \"units\" must be an integer between 1"), "a bad architecture in the meta is named");
    ts_header_free(&h);
    snprintf(path, sizeof path, "%s/none.ts", dir);
    CHECK(load_fails(path, "cannot open"), "a missing file says so");
    nn_mlp_free(&a);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return CHECK_DONE();
}
