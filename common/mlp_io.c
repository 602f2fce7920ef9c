/* mlp_io.c - a model file is a tensor stream: one tensor per parameter or
 * buffer, each one row keyed by its name, shaped like its torch state_dict
 * entry; the first tensor's meta carries the architecture, the input
 * normalisation (normstats JSON, method zscore) and the target scaling. */
#include "mlp.h"
#include "errbuf.h"
#include "weights.h"
#include "tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *floats_json(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, nn_json_float(v[i]));
    return a;
}

static cJSON *model_meta(const nn_mlp *net, const cJSON *train_meta) {
    const nn_arch *a = &net->arch;
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    cJSON_AddNumberToObject(m, "songpipe_mlp", NN_MLP_VERSION);
    cJSON_AddItemToObject(m, "arch", nn_arch_to_json(a));
    cJSON *norm = cJSON_AddObjectToObject(m, "normalize");
    cJSON_AddNumberToObject(norm, "songpipe_normalize", 1);
    cJSON *cols = cJSON_AddArrayToObject(norm, "columns");
    for (int i = 0; i < a->n_num; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", a->num[i]);
        cJSON_AddStringToObject(c, "method", "zscore");
        cJSON_AddBoolToObject(c, "log", 0);
        cJSON_AddItemToObject(c, "center", nn_json_float(net->norm_mean[i]));
        cJSON_AddItemToObject(c, "scale", nn_json_float(net->norm_std[i]));
        cJSON_AddItemToArray(cols, c);
    }
    cJSON *t = cJSON_AddObjectToObject(m, "targets");
    cJSON *tc = cJSON_AddArrayToObject(t, "columns");
    for (int h = 0; h < a->n_heads; h++)
        for (int k = 0; k < nn_head_tcols(&a->head[h]); k++)
            cJSON_AddItemToArray(tc, cJSON_CreateString(a->head[h].targets[k]));
    cJSON_AddItemToObject(t, "shift", floats_json(net->t_shift, net->n_tcols));
    cJSON_AddItemToObject(t, "scale", floats_json(net->t_scale, net->n_tcols));
    if (train_meta) cJSON_AddItemToObject(m, "train", cJSON_Duplicate(train_meta, 1));
    return m;
}

/* ---------------- loading ---------------- */
static int read_floats(const cJSON *arr, float *out, int n, int positive) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return -1;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || (positive && !(it->valuedouble > 0))) return -1;
        out[i++] = (float)it->valuedouble;
    }
    return 0;
}

static int load_meta(nn_mlp *net, const cJSON *m, const char *path, char *err, size_t el) {
    const nn_arch *a = &net->arch;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(m, "normalize");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(norm, "columns"), *c;
    if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) != a->n_num)
        return err_fail(err, el, "%s: meta.normalize.columns must list the %d numeric inputs", path, a->n_num);
    int i = 0;
    cJSON_ArrayForEach(c, cols) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *ce = cJSON_GetObjectItemCaseSensitive(c, "center");
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(c, "scale");
        if (!cJSON_IsString(nm) || strcmp(nm->valuestring, a->num[i]) != 0 ||
            !cJSON_IsNumber(ce) || !isfinite(ce->valuedouble) ||
            !cJSON_IsNumber(sc) || !(sc->valuedouble > 0) || !isfinite(sc->valuedouble))
            return err_fail(err, el, "%s: meta.normalize.columns[%d] must be {\"name\": \"%s\", \"center\": finite, \"scale\": > 0}", path, i, a->num[i]);
        net->norm_mean[i] = (float)ce->valuedouble;
        net->norm_std[i] = (float)sc->valuedouble;
        i++;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "targets");
    if (read_floats(cJSON_GetObjectItemCaseSensitive(t, "shift"), net->t_shift, net->n_tcols, 0) ||
        read_floats(cJSON_GetObjectItemCaseSensitive(t, "scale"), net->t_scale, net->n_tcols, 1))
        return err_fail(err, el, "%s: meta.targets must hold \"shift\" and \"scale\" arrays of %d numbers (scale > 0)", path, net->n_tcols);
    return 0;
}

static int build_from_meta(nn_mlp *net, const ts_header *h, const char *path, char *err, size_t el) {
    const cJSON *m = h->meta, *v = cJSON_GetObjectItemCaseSensitive(m, "songpipe_mlp");
    if (!cJSON_IsNumber(v))
        return err_fail(err, el, "%s: not a songpipe model: its first tensor '%s' has no \"songpipe_mlp\" in its meta (make one with train-mlp)", path, h->name);
    if (v->valuedouble != NN_MLP_VERSION)
        return err_fail(err, el, "%s: model format version %g; this songpipe reads version %d", path, v->valuedouble, NN_MLP_VERSION);
    nn_arch a;
    char src[300], why[600];
    snprintf(src, sizeof src, "%s: meta.arch", path);
    if (nn_arch_from_json(&a, cJSON_GetObjectItemCaseSensitive(m, "arch"), src, err, el)) return -1;
    if (nn_arch_resolve_output(&a, why, sizeof why) || nn_mlp_create(net, &a, why, sizeof why)) {
        nn_arch_free(&a);
        return err_fail(err, el, "%s: %s", path, why);
    }
    nn_arch_free(&a);
    if (load_meta(net, m, path, err, el)) { nn_mlp_free(net); return -1; }
    return 0;
}

static int w_build(void *m, const ts_header *h, const char *path, char *err, size_t el) {
    return build_from_meta(m, h, path, err, el);
}
static void w_destroy(void *m) { nn_mlp_free(m); }
static int w_count(void *m) { return ((nn_mlp *)m)->n_tensors; }
static const char *w_name(void *m, int i) { return ((nn_mlp *)m)->tensors[i].name; }
static int w_slot(void *m, const char *name, float **dst, int *ndim, int64_t shape[4]) {
    nn_mlp *net = m;
    nn_tensor *t = nn_mlp_tensor(net, name);
    if (!t) return -1;
    *dst = t->p, *ndim = t->ndim;
    if (t->ndim == 1) shape[0] = t->cols;
    else shape[0] = t->rows, shape[1] = t->cols;
    return (int)(t - net->tensors);
}

static const weights_ops ops = {w_build, w_destroy, w_count, w_name, w_slot};

int nn_mlp_load(nn_mlp *net, const char *path, char *err, size_t errlen) {
    memset(net, 0, sizeof *net);
    return weights_load(path, net, &ops, err, errlen);
}

int nn_mlp_save(const nn_mlp *net, const char *path, const cJSON *train_meta,
                char *err, size_t errlen) {
    cJSON *meta = model_meta(net, train_meta);
    if (!meta) return err_fail(err, errlen, "%s: out of memory", path);
    return weights_save(path, (void *)net, &ops, meta, err, errlen);
}

void nn_gather_f32(float *dst, int ld, const void *rows, ts_dtype t, int64_t row_elems,
                   int64_t n, const int *cols, int ncols) {
    for (int64_t i = 0; i < n; i++) {
        float *d = dst + i * ld;
        int64_t base = i * row_elems;
        for (int j = 0; j < ncols; j++) {
            int64_t k = base + cols[j];
            switch (t) {
            case TS_F32: d[j] = ((const float *)rows)[k]; break;
            case TS_F64: d[j] = (float)((const double *)rows)[k]; break;
            case TS_I32: d[j] = (float)((const int32_t *)rows)[k]; break;
            case TS_I64: d[j] = (float)((const int64_t *)rows)[k]; break;
            case TS_U8: d[j] = (float)((const uint8_t *)rows)[k]; break;
            default: d[j] = NAN; break;
            }
        }
    }
}
