/* cnn_io.c - the CNN's architecture as JSON and its model file: a tensor
 * stream with one tensor per parameter or buffer, each one row keyed by its
 * name and shaped like its torch state_dict entry; the first tensor's meta
 * holds the architecture, the input standardisation and the class names. */
#include "cnn.h"
#include "errbuf.h"
#include "weights.h"
#include "tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *cnn_arch_to_json(const cnn_arch *a) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "in_h", a->in_h);
    cJSON_AddNumberToObject(j, "in_w", a->in_w);
    cJSON *b = cJSON_AddArrayToObject(j, "base_widths"), *w = cJSON_AddArrayToObject(j, "widths");
    for (int s = 0; s < a->n_stages; s++) {
        cJSON_AddItemToArray(b, cJSON_CreateNumber(a->base[s]));
        cJSON_AddItemToArray(w, cJSON_CreateNumber(a->width[s]));
    }
    cJSON_AddNumberToObject(j, "width_mult", a->width_mult);
    cJSON_AddBoolToObject(j, "residual", a->residual);
    cJSON_AddStringToObject(j, "pool", a->pool == CNN_POOL_MAX ? "max" : "avg");
    cJSON_AddNumberToObject(j, "adapt", a->adapt);
    cJSON_AddNumberToObject(j, "embed", a->embed);
    cJSON_AddNumberToObject(j, "classes", a->classes);
    return j;
}

static int get_int(const cJSON *j, const char *k, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) return -1;
    *out = (int)v->valuedouble;
    return 0;
}

int cnn_arch_from_json(cnn_arch *a, const cJSON *j, const char *src, char *err, size_t el) {
    memset(a, 0, sizeof *a);
    if (!cJSON_IsObject(j)) return err_fail(err, el, "%s: the architecture must be a JSON object", src);
    if (get_int(j, "in_h", 2, 1 << 16, &a->in_h) || get_int(j, "in_w", 2, 1 << 16, &a->in_w) ||
        get_int(j, "adapt", 1, 1 << 10, &a->adapt) || get_int(j, "embed", 1, 65536, &a->embed) ||
        get_int(j, "classes", 2, CNN_MAX_CLASSES, &a->classes))
        return err_fail(err, el, "%s: needs integers in_h, in_w (>= 2), adapt (>= 1), embed (>= 1), classes (>= 2)", src);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "base_widths");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "widths");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "width_mult");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "residual");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pool");
    int n = cJSON_GetArraySize(w);
    if (!cJSON_IsArray(w) || !cJSON_IsArray(b) || n < 1 || n > CNN_MAX_STAGES || cJSON_GetArraySize(b) != n)
        return err_fail(err, el, "%s: \"widths\" and \"base_widths\" must be arrays of 1..%d stage widths", src, CNN_MAX_STAGES);
    a->n_stages = n;
    for (int s = 0; s < n; s++) {
        const cJSON *x = cJSON_GetArrayItem(w, s), *y = cJSON_GetArrayItem(b, s);
        if (!cJSON_IsNumber(x) || x->valuedouble < 1 || x->valuedouble > 65536 || x->valuedouble != floor(x->valuedouble) ||
            !cJSON_IsNumber(y) || y->valuedouble < 1 || y->valuedouble > 65536)
            return err_fail(err, el, "%s: stage %d width must be an integer in 1..65536", src, s);
        a->width[s] = (int)x->valuedouble;
        a->base[s] = (int)y->valuedouble;
    }
    if (!cJSON_IsNumber(m) || !(m->valuedouble > 0)) return err_fail(err, el, "%s: \"width_mult\" must be > 0", src);
    a->width_mult = (float)m->valuedouble;
    if (!cJSON_IsBool(r)) return err_fail(err, el, "%s: \"residual\" must be true or false", src);
    a->residual = cJSON_IsTrue(r);
    if (!cJSON_IsString(p) || (strcmp(p->valuestring, "avg") && strcmp(p->valuestring, "max")))
        return err_fail(err, el, "%s: \"pool\" must be \"avg\" or \"max\"", src);
    a->pool = strcmp(p->valuestring, "max") == 0 ? CNN_POOL_MAX : CNN_POOL_AVG;
    return 0;
}

static cJSON *model_meta(const cnn_net *net, const cJSON *train_meta) {
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    cJSON_AddNumberToObject(m, "songpipe_cnn", CNN_VERSION);
    cJSON_AddItemToObject(m, "arch", cnn_arch_to_json(&net->arch));
    cJSON *n = cJSON_AddObjectToObject(m, "normalize");
    cJSON_AddNumberToObject(n, "mean", net->norm_mean);
    cJSON_AddNumberToObject(n, "std", net->norm_std);
    if (net->class_names) {
        cJSON *c = cJSON_AddArrayToObject(m, "classes");
        for (int i = 0; i < net->arch.classes; i++)
            cJSON_AddItemToArray(c, cJSON_CreateString(net->class_names[i]));
    }
    if (train_meta) cJSON_AddItemToObject(m, "train", cJSON_Duplicate(train_meta, 1));
    return m;
}

static int load_meta(cnn_net *net, const cJSON *m, const char *path, char *err, size_t el) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "normalize");
    const cJSON *mu = cJSON_GetObjectItemCaseSensitive(n, "mean"), *sd = cJSON_GetObjectItemCaseSensitive(n, "std");
    if (!cJSON_IsNumber(mu) || !isfinite(mu->valuedouble) || !cJSON_IsNumber(sd) || !(sd->valuedouble > 0) || !isfinite(sd->valuedouble))
        return err_fail(err, el, "%s: meta.normalize must be {\"mean\": finite, \"std\": > 0}", path);
    net->norm_mean = (float)mu->valuedouble;
    net->norm_std = (float)sd->valuedouble;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "classes"), *it;
    if (!c) return 0;
    if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) != net->arch.classes)
        return err_fail(err, el, "%s: meta.classes must list the %d class names", path, net->arch.classes);
    if (!(net->class_names = calloc((size_t)net->arch.classes, sizeof *net->class_names)))
        return err_fail(err, el, "out of memory");
    int i = 0;
    cJSON_ArrayForEach(it, c) {
        if (!cJSON_IsString(it)) return err_fail(err, el, "%s: meta.classes[%d] is not a string", path, i);
        if (!(net->class_names[i++] = strdup(it->valuestring))) return err_fail(err, el, "out of memory");
    }
    return 0;
}

static int build(cnn_net *net, const ts_header *h, const char *path, char *err, size_t el) {
    const cJSON *m = h->meta, *v = cJSON_GetObjectItemCaseSensitive(m, "songpipe_cnn");
    if (!cJSON_IsNumber(v))
        return err_fail(err, el, "%s: not a songpipe CNN model: its first tensor '%s' has no \"songpipe_cnn\" in its meta (make one with train-cnn)", path, h->name);
    if (v->valuedouble != CNN_VERSION)
        return err_fail(err, el, "%s: CNN model format version %g; this songpipe reads version %d", path, v->valuedouble, CNN_VERSION);
    cnn_arch a;
    char src[600], why[600];
    snprintf(src, sizeof src, "%s: meta.arch", path);
    if (cnn_arch_from_json(&a, cJSON_GetObjectItemCaseSensitive(m, "arch"), src, err, el)) return -1;
    if (cnn_create(net, &a, why, sizeof why)) return err_fail(err, el, "%s: %s", path, why);
    if (load_meta(net, m, path, err, el)) { cnn_free(net); return -1; }
    return 0;
}

static int w_build(void *m, const ts_header *h, const char *path, char *err, size_t el) {
    return build(m, h, path, err, el);
}
static void w_destroy(void *m) { cnn_free(m); }
static int w_count(void *m) { return ((cnn_net *)m)->n_tensors; }
static const char *w_name(void *m, int i) { return ((cnn_net *)m)->tensors[i].name; }
static int w_slot(void *m, const char *name, float **dst, int *ndim, int64_t shape[4]) {
    cnn_net *net = m;
    cnn_tensor *t = cnn_tensor_find(net, name);
    if (!t) return -1;
    *dst = t->p, *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof t->shape);
    return (int)(t - net->tensors);
}

static const weights_ops ops = {w_build, w_destroy, w_count, w_name, w_slot};

int cnn_load(cnn_net *net, const char *path, char *err, size_t errlen) {
    memset(net, 0, sizeof *net);
    return weights_load(path, net, &ops, err, errlen);
}

int cnn_save(const cnn_net *net, const char *path, const cJSON *train_meta, char *err, size_t errlen) {
    cJSON *meta = model_meta(net, train_meta);
    if (!meta) return err_fail(err, errlen, "%s: out of memory", path);
    return weights_save(path, (void *)net, &ops, meta, err, errlen);
}

int cnn_is_model(const char *path) {
    char why[512];
    ts_reader *r = ts_open_read(path, why, sizeof why);
    if (!r) return -1;
    const ts_header *h;
    int rc = ts_next_tensor(r, &h), yes = -1;
    if (rc == 1) yes = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(h->meta, "songpipe_cnn")) ? 1 : 0;
    ts_close_read(r);
    return yes;
}
