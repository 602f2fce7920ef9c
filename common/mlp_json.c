/* mlp_json.c - the JSON form of an architecture (schema in mlp_arch.c): read
 * from a user's file or a model's metadata, written into model files. */
#include "mlp.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH_MAX_FILE (4u << 20)

typedef struct { const char *src; char *err; size_t el; } ctx;

static int jfail(ctx *c, const char *where, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->el, "%s: %s%s%s", c->src, where, *where ? ": " : "", msg);
    return -1;
}

/* every key of o must be one of the NULL-terminated list */
static int only_keys(ctx *c, const char *where, const cJSON *o, const char *const *keys) {
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        int ok = 0;
        for (const char *const *k = keys; *k; k++) ok |= strcmp(it->string, *k) == 0;
        if (!ok) {
            char allowed[256] = "";
            size_t n = 0;
            for (const char *const *k = keys; *k && n < sizeof allowed - 32; k++)
                n += (size_t)snprintf(allowed + n, sizeof allowed - n, "%s%s", k == keys ? "" : ", ", *k);
            return jfail(c, where, "unknown key \"%s\" (allowed: %s)", it->string, allowed);
        }
    }
    return 0;
}

/* integer member in [lo, hi]; absent -> def */
static int get_int(ctx *c, const char *where, const cJSON *o, const char *key,
                   int64_t lo, int64_t hi, int64_t def, int64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) { *out = def; return 0; }
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !(v >= (double)lo && v <= (double)hi) || v != floor(v))
        return jfail(c, where, "\"%s\" must be an integer between %lld and %lld", key, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return 0;
}

static int get_num(ctx *c, const char *where, const cJSON *o, const char *key,
                   double lo, double hi, double def, float *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) { *out = (float)def; return 0; }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo && it->valuedouble <= hi))
        return jfail(c, where, "\"%s\" must be a number between %g and %g", key, lo, hi);
    *out = (float)it->valuedouble;
    return 0;
}

static int get_act(ctx *c, const char *where, const cJSON *o, nn_act def, nn_act *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "act");
    if (!it) { *out = def; return 0; }
    if (!cJSON_IsString(it) || nn_act_parse(it->valuestring, out))
        return jfail(c, where, "\"act\" must be one of %s", NN_ACT_NAMES);
    return 0;
}

/* array of strings -> list */
static int get_strings(ctx *c, const char *where, const cJSON *arr, char ***out, int *n) {
    if (!cJSON_IsArray(arr)) return jfail(c, where, "expected an array of column names");
    int k = cJSON_GetArraySize(arr);
    if (k > NN_MAX_INPUTS) return jfail(c, where, "more than %d columns", NN_MAX_INPUTS);
    char **l = calloc((size_t)k + 1, sizeof *l);
    if (!l) return jfail(c, where, "out of memory");
    *out = l;
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it)) return jfail(c, where, "element %d is not a string", *n);
        if (!(l[*n] = strdup(it->valuestring))) return jfail(c, where, "out of memory");
        (*n)++;
    }
    return 0;
}

static int parse_categorical(ctx *c, nn_arch *a, const cJSON *arr) {
    static const char *const keys[] = {"column", "dim", "vocab", NULL};
    char where[64];
    if (!cJSON_IsArray(arr)) return jfail(c, "categorical", "expected an array of {\"column\", \"dim\"} objects");
    if (cJSON_GetArraySize(arr) > NN_MAX_CAT) return jfail(c, "categorical", "more than %d columns", NN_MAX_CAT);
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        snprintf(where, sizeof where, "categorical[%d]", a->n_cat);
        if (!cJSON_IsObject(o)) return jfail(c, where, "expected an object like {\"column\": \"track_artist\", \"dim\": 16}");
        if (only_keys(c, where, o, keys)) return -1;
        nn_cat_spec *s = &a->cat[a->n_cat];
        const cJSON *col = cJSON_GetObjectItemCaseSensitive(o, "column");
        if (!cJSON_IsString(col)) return jfail(c, where, "\"column\" must be a string");
        if (!(s->column = strdup(col->valuestring))) return jfail(c, where, "out of memory");
        a->n_cat++;
        int64_t dim = 0, vocab = 0;
        if (!cJSON_GetObjectItemCaseSensitive(o, "dim")) return jfail(c, where, "\"dim\" (the embedding width) is missing");
        if (get_int(c, where, o, "dim", 1, NN_MAX_UNITS, 0, &dim) ||
            get_int(c, where, o, "vocab", 0, NN_MAX_VOCAB, 0, &vocab))
            return -1;
        s->dim = (int)dim;
        s->vocab = vocab;
    }
    return 0;
}

static int parse_layers(ctx *c, nn_arch *a, const cJSON *arr) {
    static const char *const keys[] = {"units", "act", "slope", "dropout", "batchnorm", "name", NULL};
    char where[64];
    if (!cJSON_IsArray(arr)) return jfail(c, "layers", "expected an array of {\"units\": N, ...} objects");
    if (cJSON_GetArraySize(arr) > NN_MAX_LAYERS - 1) return jfail(c, "layers", "more than %d hidden layers", NN_MAX_LAYERS - 1);
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        snprintf(where, sizeof where, "layers[%d]", a->n_layers);
        if (!cJSON_IsObject(o)) return jfail(c, where, "expected an object like {\"units\": 64, \"act\": \"relu\"}");
        if (only_keys(c, where, o, keys)) return -1;
        nn_layer_spec *s = &a->layer[a->n_layers++];
        int64_t units = 0;
        if (!cJSON_GetObjectItemCaseSensitive(o, "units")) return jfail(c, where, "\"units\" is missing");
        if (get_int(c, where, o, "units", 1, NN_MAX_UNITS, 0, &units) ||
            get_act(c, where, o, NN_RELU, &s->act) ||
            get_num(c, where, o, "slope", -1e6, 1e6, 0.01, &s->slope) ||
            get_num(c, where, o, "dropout", 0, 0.999999, 0, &s->dropout))
            return -1;
        s->units = (int)units;
        const cJSON *bn = cJSON_GetObjectItemCaseSensitive(o, "batchnorm");
        if (bn && !cJSON_IsBool(bn)) return jfail(c, where, "\"batchnorm\" must be true or false");
        s->batchnorm = cJSON_IsTrue(bn);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (nm) {
            if (!cJSON_IsString(nm) || !*nm->valuestring) return jfail(c, where, "\"name\" must be a non-empty string");
            if (!(s->name = strdup(nm->valuestring))) return jfail(c, where, "out of memory");
        }
    }
    return 0;
}

static int parse_head(ctx *c, nn_arch *a, const cJSON *o, const char *where) {
    static const char *const keys[] = {"loss", "targets", "target", "classes", "act", "slope", "weight",
                                        "dim", "temperature", "margin", NULL};
    if (!cJSON_IsObject(o)) return jfail(c, where, "expected an object like {\"loss\": \"mse\", \"targets\": [\"popularity\"]}");
    if (only_keys(c, where, o, keys)) return -1;
    nn_head_spec *h = &a->head[a->n_heads++];
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "loss");
    if (!cJSON_IsString(l) || nn_loss_parse(l->valuestring, &h->loss))
        return jfail(c, where, "\"loss\" must be one of %s", NN_LOSS_NAMES);
    int64_t classes = 0;
    if (get_act(c, where, o, h->loss == NN_LOSS_BCE ? NN_SIGMOID : NN_LINEAR, &h->act) ||
        get_num(c, where, o, "slope", -1e6, 1e6, 0.01, &h->slope) ||
        get_num(c, where, o, "weight", 0, 1e9, 1, &h->weight) ||
        get_int(c, where, o, "classes", 0, NN_MAX_VOCAB, 0, &classes))
        return -1;
    h->classes = classes;
    if (nn_loss_is_pair(h->loss)) {
        int64_t dim = 0;
        if (get_int(c, where, o, "dim", 0, NN_MAX_UNITS, 0, &dim) ||
            get_num(c, where, o, "temperature", 1e-6, 100, 0.1, &h->temperature) ||
            get_num(c, where, o, "margin", 0, 4, 0.3, &h->margin))
            return -1;
        h->dim = (int)dim;
        if (cJSON_GetObjectItemCaseSensitive(o, "targets") || cJSON_GetObjectItemCaseSensitive(o, "target") || h->classes)
            return jfail(c, where, "a \"%s\" output learns from pairs: give no \"targets\", \"target\" or \"classes\"", l->valuestring);
        return 0;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "dim") || cJSON_GetObjectItemCaseSensitive(o, "temperature") ||
        cJSON_GetObjectItemCaseSensitive(o, "margin"))
        return jfail(c, where, "\"dim\", \"temperature\" and \"margin\" are for the pair losses (infonce, triplet)");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "targets"), *t1 = cJSON_GetObjectItemCaseSensitive(o, "target");
    if ((t != NULL) == (t1 != NULL)) return jfail(c, where, "give either \"targets\" (a list, or \"inputs\") or \"target\" (one column)");
    if (t1) {
        if (!cJSON_IsString(t1)) return jfail(c, where, "\"target\" must be a column name");
        if (!(h->targets = calloc(2, sizeof *h->targets)) || !(h->targets[0] = strdup(t1->valuestring)))
            return jfail(c, where, "out of memory");
        h->ntargets = 1;
    } else if (cJSON_IsString(t)) {
        if (strcmp(t->valuestring, "inputs") != 0)
            return jfail(c, where, "\"targets\" must be a list of columns or the word \"inputs\"");
        h->from_inputs = 1;
        if (!(h->targets = calloc((size_t)a->n_num + 1, sizeof *h->targets))) return jfail(c, where, "out of memory");
        for (int i = 0; i < a->n_num; i++)
            if (!(h->targets[h->ntargets++] = strdup(a->num[i]))) return jfail(c, where, "out of memory");
    } else {
        char w2[80];
        snprintf(w2, sizeof w2, "%s.targets", where);
        if (get_strings(c, w2, t, &h->targets, &h->ntargets)) return -1;
    }
    if (h->loss != NN_LOSS_CE && h->classes) return jfail(c, where, "\"classes\" is only for a \"ce\" output");
    return 0;
}

int nn_arch_from_json(nn_arch *a, const cJSON *j, const char *src, char *err, size_t errlen) {
    static const char *const keys[] = {"inputs", "categorical", "layers", "outputs", NULL};
    ctx c = {src, err, errlen};
    memset(a, 0, sizeof *a);
    char where[64];
    if (!cJSON_IsObject(j)) { jfail(&c, "", "an architecture is a JSON object with \"inputs\", \"layers\" and \"outputs\""); goto bad; }
    if (only_keys(&c, "", j, keys)) goto bad;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "inputs");
    if (in && get_strings(&c, "inputs", in, &a->num, &a->n_num)) goto bad;
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(j, "categorical");
    if (cat && parse_categorical(&c, a, cat)) goto bad;
    const cJSON *lay = cJSON_GetObjectItemCaseSensitive(j, "layers");
    if (lay && parse_layers(&c, a, lay)) goto bad;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(j, "outputs"), *o;
    if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) < 1) {
        jfail(&c, "", "\"outputs\" must be a non-empty array, e.g. [{\"loss\": \"mse\", \"targets\": [\"popularity\"]}]");
        goto bad;
    }
    if (cJSON_GetArraySize(outs) > NN_MAX_HEADS) { jfail(&c, "outputs", "more than %d outputs", NN_MAX_HEADS); goto bad; }
    cJSON_ArrayForEach(o, outs) {
        snprintf(where, sizeof where, "outputs[%d]", a->n_heads);
        if (parse_head(&c, a, o, where)) goto bad;
    }
    /* the implied output layer; its width is resolved once classes are known */
    nn_layer_spec *ol = &a->layer[a->n_layers++];
    memset(ol, 0, sizeof *ol);
    ol->act = NN_LINEAR;
    ol->slope = 0.01f;
    char why[400];
    if (nn_arch_check(a, 0, why, sizeof why)) { jfail(&c, "", "%s", why); goto bad; }
    return 0;
bad:
    nn_arch_free(a);
    return -1;
}

int nn_arch_load_file(nn_arch *a, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char *buf = malloc(ARCH_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, ARCH_MAX_FILE + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr || n > ARCH_MAX_FILE) {
        snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" : rerr ? "read error" : "larger than 4 MiB: not an architecture file");
        free(buf);
        return -1;
    }
    buf[n] = 0;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
    if (!j) {
        int line = 1;
        for (const char *p = buf; end && p < end && p < buf + n; p++) line += *p == '\n';
        snprintf(err, errlen, "%s:%d: JSON syntax error near '%.20s'", path, line, end && end < buf + n ? end : "(end of file)");
        free(buf);
        return -1;
    }
    free(buf);
    int rc = nn_arch_from_json(a, j, path, err, errlen);
    cJSON_Delete(j);
    return rc;
}

/* ---------------- writing ---------------- */
cJSON *nn_json_float(float v) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    return cJSON_CreateNumber(strtod(buf, NULL));
}

static void add_float(cJSON *o, const char *key, float v) { cJSON_AddItemToObject(o, key, nn_json_float(v)); }

static cJSON *strings_json(char *const *l, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(l[i]));
    return arr;
}

cJSON *nn_arch_to_json(const nn_arch *a) {
    cJSON *j = cJSON_CreateObject(), *arr;
    if (!j) return NULL;
    cJSON_AddItemToObject(j, "inputs", strings_json(a->num, a->n_num));
    if (a->n_cat) {
        arr = cJSON_AddArrayToObject(j, "categorical");
        for (int c = 0; c < a->n_cat; c++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "column", a->cat[c].column);
            cJSON_AddNumberToObject(o, "dim", a->cat[c].dim);
            cJSON_AddNumberToObject(o, "vocab", (double)a->cat[c].vocab);
            cJSON_AddItemToArray(arr, o);
        }
    }
    arr = cJSON_AddArrayToObject(j, "layers");
    for (int l = 0; l + 1 < a->n_layers; l++) {
        const nn_layer_spec *s = &a->layer[l];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "units", s->units);
        cJSON_AddStringToObject(o, "act", nn_act_name(s->act));
        add_float(o, "slope", s->slope);
        add_float(o, "dropout", s->dropout);
        cJSON_AddBoolToObject(o, "batchnorm", s->batchnorm);
        if (s->name) cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddItemToArray(arr, o);
    }
    arr = cJSON_AddArrayToObject(j, "outputs");
    for (int h = 0; h < a->n_heads; h++) {
        const nn_head_spec *s = &a->head[h];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "loss", nn_loss_name(s->loss));
        if (nn_loss_is_pair(s->loss)) {
            cJSON_AddNumberToObject(o, "dim", s->dim);
            add_float(o, "temperature", s->temperature);
            add_float(o, "margin", s->margin);
        } else if (s->loss == NN_LOSS_CE) {
            cJSON_AddStringToObject(o, "target", s->targets[0]);
            cJSON_AddNumberToObject(o, "classes", (double)s->classes);
        } else {
            if (s->from_inputs) cJSON_AddStringToObject(o, "targets", "inputs");
            else cJSON_AddItemToObject(o, "targets", strings_json(s->targets, s->ntargets));
            cJSON_AddStringToObject(o, "act", nn_act_name(s->act));
            add_float(o, "slope", s->slope);
        }
        add_float(o, "weight", s->weight);
        cJSON_AddItemToArray(arr, o);
    }
    return j;
}
