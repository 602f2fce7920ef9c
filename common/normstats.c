/* normstats.c - fit, save, load and apply per-column normalisation
 * statistics.  The contract and the JSON format are in normstats.h. */
#include "normstats.h"
#include "jsoncheck.h"
#include "outset.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *method_names[] = {"none", "minmax", "zscore", "robust"};

const char *ns_method_name(ns_method m) {
    return (unsigned)m < 4 ? method_names[m] : "?";
}

int ns_method_parse(const char *s, ns_method *m) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, method_names[i]) == 0) { *m = (ns_method)i; return 0; }
    return -1;
}

void ns_stats_free(ns_stats *s) {
    if (!s) return;
    for (int i = 0; i < s->ncols; i++) free(s->cols[i].name);
    free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

int ns_stats_find(const ns_stats *s, const char *name) {
    for (int i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0) return i;
    return -1;
}

/* ---------- order statistics ---------- */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void swap_d(double *a, double *b) { double t = *a; *a = *b; *b = t; }

/* Leaves v[k] = the k-th smallest, v[<k] <= v[k] <= v[>k] (Hoare's FIND with
 * a median-of-three pivot; after ~2 log2 n rounds without progress it sorts
 * the remaining range, so the worst case stays O(n log n)). */
static void select_kth(double *v, size_t n, size_t k) {
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    int budget = 16;
    for (size_t m = n; m > 1; m >>= 1) budget += 2;
    while (hi > lo) {
        if (budget-- == 0) {
            qsort(v + lo, (size_t)(hi - lo + 1), sizeof *v, cmp_double);
            return;
        }
        ptrdiff_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo]) swap_d(&v[mid], &v[lo]);
        if (v[hi] < v[lo]) swap_d(&v[hi], &v[lo]);
        if (v[hi] < v[mid]) swap_d(&v[hi], &v[mid]);
        double p = v[mid];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i <= j) { swap_d(&v[i], &v[j]); i++; j--; }
        }
        /* now v[lo..j] <= p, v[j+1..i-1] == p, v[i..hi] >= p */
        if (kk <= j) hi = j;
        else if (kk >= i) lo = i;
        else return;
    }
}

static double min_from(const double *v, size_t from, size_t n) {
    double m = v[from];
    for (size_t i = from + 1; i < n; i++) if (v[i] < m) m = v[i];
    return m;
}

/* numpy's _lerp: a + (b-a)t, or b - (b-a)(1-t) when t >= 0.5 */
static double lerp_numpy(double a, double b, double t) {
    double d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

double ns_quantile(double *v, size_t n, double q) {
    double h = (double)(n - 1) * q;          /* numpy 'linear': virtual index */
    size_t k = (size_t)floor(h);
    if (k >= n - 1) { select_kth(v, n, n - 1); return v[n - 1]; }
    double t = h - (double)k;
    select_kth(v, n, k);
    double a = v[k], b = min_from(v, k + 1, n);
    return lerp_numpy(a, b, t);
}

double ns_median(double *v, size_t n) {
    size_t k = (n - 1) / 2;
    select_kth(v, n, k);
    if (n % 2) return v[k];
    return (v[k] + min_from(v, k + 1, n)) / 2;   /* numpy.median: mean of the two */
}

/* ---------- applying ---------- */
double ns_apply_value(const ns_column *c, double x) {
    if (isnan(x)) return x;
    if (c->log) x = log1p(x);
    return (x - c->center) / c->scale;
}

double ns_invert_value(const ns_column *c, double y) {
    double x = y * c->scale + c->center;
    return c->log ? expm1(x) : x;
}

int ns_stats_map(const ns_stats *s, int ncols, const char *const *columns,
                 int *map, int *unmapped, char *err, size_t errlen) {
    int un = 0;
    for (int i = 0; i < ncols; i++) {
        map[i] = ns_stats_find(s, columns[i]);
        for (int j = 0; j < i && map[i] >= 0; j++)
            if (map[j] == map[i]) map[i] = -1;    /* duplicate name: first one wins */
        if (map[i] < 0) un++;
    }
    for (int k = 0; k < s->ncols; k++) {
        int found = 0;
        for (int i = 0; i < ncols && !found; i++) found = map[i] == k;
        if (!found) {
            snprintf(err, errlen, "column '%s' of the statistics is not in the input; apply statistics "
                     "to the same kind of table they were fitted on", s->cols[k].name);
            return -1;
        }
    }
    if (unmapped) *unmapped = un;
    return 0;
}

#define APPLY_ROW(T)                                                         \
    for (int i = 0; i < ncols; i++) {                                        \
        if (map[i] < 0) continue;                                            \
        const ns_column *c = &s->cols[map[i]];                               \
        double x = row[i];                                                   \
        if (c->log && x <= -1) { if (bad_col) *bad_col = i; return -1; }     \
        row[i] = (T)ns_apply_value(c, x);                                    \
    }                                                                        \
    return 0;

int ns_apply_f32(const ns_stats *s, const int *map, float *row, int ncols, int *bad_col) {
    APPLY_ROW(float)
}

int ns_apply_f64(const ns_stats *s, const int *map, double *row, int ncols, int *bad_col) {
    APPLY_ROW(double)
}

/* ---------- fitting ---------- */
#define FIT_CHUNK 4096

struct ns_fit {
    int ncols;
    ns_column *spec;          /* copies of the names */
    int64_t rows;
    int64_t *n, *nans;        /* finite values and NaNs seen, per column */
    double *min, *max;        /* minmax */
    double *mean, *m2;        /* zscore: Chan et al. pairwise merge of chunks */
    double *csum; int64_t *ccnt;
    double **vals; size_t *vcap;   /* robust: every finite value */
    double *buf;              /* FIT_CHUNK rows of f(x) */
};

void ns_fit_free(ns_fit *f) {
    if (!f) return;
    for (int i = 0; i < f->ncols; i++) {
        if (f->spec) free(f->spec[i].name);
        if (f->vals) free(f->vals[i]);
    }
    free(f->spec); free(f->n); free(f->nans); free(f->min); free(f->max);
    free(f->mean); free(f->m2); free(f->csum); free(f->ccnt);
    free(f->vals); free(f->vcap); free(f->buf);
    free(f);
}

ns_fit *ns_fit_new(int ncols, const ns_column *spec) {
    if (ncols <= 0 || (size_t)ncols > SIZE_MAX / FIT_CHUNK / sizeof(double)) return NULL;
    ns_fit *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    size_t nc = (size_t)ncols;
    f->ncols = ncols;
    f->spec = calloc(nc, sizeof *f->spec);
    f->n = calloc(nc, sizeof *f->n); f->nans = calloc(nc, sizeof *f->nans);
    f->min = malloc(nc * sizeof *f->min); f->max = malloc(nc * sizeof *f->max);
    f->mean = calloc(nc, sizeof *f->mean); f->m2 = calloc(nc, sizeof *f->m2);
    f->csum = calloc(nc, sizeof *f->csum); f->ccnt = calloc(nc, sizeof *f->ccnt);
    f->vals = calloc(nc, sizeof *f->vals); f->vcap = calloc(nc, sizeof *f->vcap);
    f->buf = malloc(nc * FIT_CHUNK * sizeof *f->buf);
    if (!f->spec || !f->n || !f->nans || !f->min || !f->max || !f->mean || !f->m2 ||
        !f->csum || !f->ccnt || !f->vals || !f->vcap || !f->buf) goto fail;
    for (int i = 0; i < ncols; i++) {
        f->spec[i] = spec[i];
        if (!(f->spec[i].name = strdup(spec[i].name ? spec[i].name : ""))) goto fail;
        f->min[i] = INFINITY;
        f->max[i] = -INFINITY;
    }
    return f;
fail:
    ns_fit_free(f);
    return NULL;
}

int64_t ns_fit_rows(const ns_fit *f) { return f->rows; }
int64_t ns_fit_nans(const ns_fit *f, int col) { return f->nans[col]; }

static void row_name(char *out, size_t len, const char *const *keys, int64_t r, int64_t absrow) {
    if (keys) snprintf(out, len, "row '%s' (row %" PRId64 ")", keys[r], absrow + 1);
    else snprintf(out, len, "row %" PRId64, absrow + 1);
}

/* Checks and log-transforms buf (n rows), counting NaNs. */
static int fit_check(ns_fit *f, int64_t n, const char *const *keys, int64_t first,
                     char *err, size_t errlen) {
    int nc = f->ncols;
    char where[4200];   /* keys are < 4096 bytes */
    for (int64_t r = 0; r < n; r++) {
        double *x = f->buf + (size_t)r * nc;
        for (int j = 0; j < nc; j++) {
            const ns_column *c = &f->spec[j];
            if (isnan(x[j])) { f->nans[j]++; continue; }
            if (c->log) {
                if (x[j] <= -1) {
                    row_name(where, sizeof where, keys, r, first + r);
                    snprintf(err, errlen, "%s, column '%s': value %.9g is <= -1 but --log needs "
                             "values > -1 (log1p); drop the column from --log or clean the input",
                             where, c->name, x[j]);
                    return -1;
                }
                x[j] = log1p(x[j]);
            }
            if (isinf(x[j]) && c->method != NS_NONE) {
                row_name(where, sizeof where, keys, r, first + r);
                snprintf(err, errlen, "%s, column '%s': value is infinite, so no statistics can be fitted; "
                         "clean the input or --exclude the column", where, c->name);
                return -1;
            }
        }
    }
    return 0;
}

static int fit_robust_push(ns_fit *f, int j, double v) {
    if ((size_t)f->n[j] == f->vcap[j]) {
        size_t cap = f->vcap[j] ? f->vcap[j] * 2 : 1024;
        double *p = realloc(f->vals[j], cap * sizeof *p);
        if (!p) return -1;
        f->vals[j] = p;
        f->vcap[j] = cap;
    }
    f->vals[j][f->n[j]] = v;
    return 0;
}

/* Accumulates the n rows in buf. */
static int fit_chunk(ns_fit *f, int64_t n) {
    int nc = f->ncols;
    memset(f->csum, 0, (size_t)nc * sizeof *f->csum);
    memset(f->ccnt, 0, (size_t)nc * sizeof *f->ccnt);
    for (int64_t r = 0; r < n; r++) {
        const double *x = f->buf + (size_t)r * nc;
        for (int j = 0; j < nc; j++) {
            double v = x[j];
            if (isnan(v)) continue;
            switch (f->spec[j].method) {
            case NS_MINMAX:
                if (v < f->min[j]) f->min[j] = v;
                if (v > f->max[j]) f->max[j] = v;
                f->n[j]++;
                break;
            case NS_ZSCORE: f->csum[j] += v; f->ccnt[j]++; break;
            case NS_ROBUST: if (fit_robust_push(f, j, v)) return -1; f->n[j]++; break;
            case NS_NONE: f->n[j]++; break;
            }
        }
    }
    for (int j = 0; j < nc; j++) {          /* zscore: two-pass M2 of the chunk, then merge */
        if (f->spec[j].method != NS_ZSCORE || !f->ccnt[j]) continue;
        double cb = (double)f->ccnt[j], mb = f->csum[j] / cb, m2b = 0;
        for (int64_t r = 0; r < n; r++) {
            double v = f->buf[(size_t)r * nc + j];
            if (!isnan(v)) m2b += (v - mb) * (v - mb);
        }
        double na = (double)f->n[j], nn = na + cb, d = mb - f->mean[j];
        /* Chan, Golub, LeVeque (1979): merged mean and sum of squared deviations */
        f->mean[j] += d * (cb / nn);
        f->m2[j] += m2b + d * d * (na * cb / nn);
        f->n[j] += f->ccnt[j];
    }
    return 0;
}

#define FIT_ADD(T)                                                                        \
    int nc = f->ncols;                                                                    \
    for (int64_t done = 0; done < nrows;) {                                               \
        int64_t n = nrows - done < FIT_CHUNK ? nrows - done : FIT_CHUNK;                  \
        for (int64_t r = 0; r < n; r++) {                                                 \
            const T *src = rows + (size_t)(done + r) * ld;                                \
            double *dst = f->buf + (size_t)r * nc;                                        \
            for (int j = 0; j < nc; j++) dst[j] = (double)src[j];                         \
        }                                                                                 \
        if (fit_check(f, n, keys ? keys + done : NULL, f->rows, err, errlen)) return -1;  \
        if (fit_chunk(f, n)) { snprintf(err, errlen, "out of memory holding robust column values"); return -1; } \
        f->rows += n;                                                                     \
        done += n;                                                                        \
    }                                                                                     \
    return 0;

int ns_fit_add_f32(ns_fit *f, const float *rows, int64_t nrows, size_t ld,
                   const char *const *keys, char *err, size_t errlen) {
    FIT_ADD(float)
}

int ns_fit_add_f64(ns_fit *f, const double *rows, int64_t nrows, size_t ld,
                   const char *const *keys, char *err, size_t errlen) {
    FIT_ADD(double)
}

int ns_fit_finish(ns_fit *f, ns_stats *out, char *err, size_t errlen) {
    out->ncols = 0;
    out->cols = calloc((size_t)f->ncols, sizeof *out->cols);
    if (!out->cols) goto oom;
    for (int j = 0; j < f->ncols; j++) {
        ns_column *c = &out->cols[j];
        const ns_column *sp = &f->spec[j];
        if (!(c->name = strdup(sp->name))) goto oom;
        out->ncols++;
        c->method = sp->method;
        c->log = sp->log;
        c->center = 0;
        c->scale = 1;
        if (sp->method == NS_NONE || f->n[j] == 0) continue;
        switch (sp->method) {
        case NS_MINMAX: c->center = f->min[j]; c->scale = f->max[j] - f->min[j]; break;
        case NS_ZSCORE: c->center = f->mean[j]; c->scale = sqrt(f->m2[j] / (double)f->n[j]); break;
        case NS_ROBUST: {
            size_t n = (size_t)f->n[j];
            double q25 = ns_quantile(f->vals[j], n, 0.25), q75 = ns_quantile(f->vals[j], n, 0.75);
            c->center = ns_median(f->vals[j], n);
            c->scale = q75 - q25;
            break;
        }
        case NS_NONE: break;
        }
        if (!isfinite(c->center) || !isfinite(c->scale)) {
            snprintf(err, errlen, "column '%s': its %s statistics overflow a double; rescale the input",
                     c->name, ns_method_name(c->method));
            ns_stats_free(out);
            return -1;
        }
        /* constant column: sklearn's _handle_zeros_in_scale sets the scale to 1 */
        if (!(c->scale > NS_CONST_REL * fmax(1.0, fabs(c->center)))) c->scale = 1;
    }
    return 0;
oom:
    ns_stats_free(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* ---------- JSON ---------- */
/* cJSON prints a double with %1.15g and keeps it when it reads back within
 * DBL_EPSILON *relatively*, which is not exact; statistics must round-trip
 * bit for bit (--stats must give the bytes of the fit), so the shortest of
 * %.15g..%.17g that reads back exactly goes in as a raw JSON number. */
static cJSON *add_exact_number(cJSON *o, const char *name, double v) {
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_AddRawToObject(o, name, buf);
}

/* a number member, parsed (cJSON number) or built by ns_stats_to_json (raw) */
static int get_number(const cJSON *it, double *v) {
    if (cJSON_IsNumber(it)) { *v = it->valuedouble; return 0; }
    if (cJSON_IsRaw(it) && it->valuestring) {
        char *end;
        *v = strtod(it->valuestring, &end);
        return end != it->valuestring && *end == 0 ? 0 : -1;
    }
    return -1;
}

cJSON *ns_stats_to_json(const ns_stats *s) {
    cJSON *o = cJSON_CreateObject(), *cols;
    if (!o || !cJSON_AddNumberToObject(o, "songpipe_normalize", NS_VERSION) ||
        !(cols = cJSON_AddArrayToObject(o, "columns"))) goto fail;
    for (int i = 0; i < s->ncols; i++) {
        const ns_column *c = &s->cols[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) goto fail;
        cJSON_AddItemToArray(cols, e);
        if (!cJSON_AddStringToObject(e, "name", c->name) ||
            !cJSON_AddStringToObject(e, "method", ns_method_name(c->method)) ||
            !cJSON_AddBoolToObject(e, "log", c->log) ||
            !add_exact_number(e, "center", c->center) ||
            !add_exact_number(e, "scale", c->scale)) goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static int column_from_json(const cJSON *e, int idx, const char *src, ns_column *c,
                            char *err, size_t errlen) {
    if (!cJSON_IsObject(e)) {
        snprintf(err, errlen, "%s: columns[%d] is not an object; each column is "
                 "{\"name\",\"method\",\"log\",\"center\",\"scale\"}", src, idx);
        return -1;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
        snprintf(err, errlen, "%s: columns[%d]: \"name\" must be a non-empty string", src, idx);
        return -1;
    }
    const char *nm = name->valuestring;
    for (const cJSON *it = e->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "name") && strcmp(k, "method") && strcmp(k, "log") &&
            strcmp(k, "center") && strcmp(k, "scale")) {
            snprintf(err, errlen, "%s: column '%s': unknown member \"%s\" (the members are "
                     "name, method, log, center, scale)", src, nm, k);
            return -1;
        }
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "method");
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(e, "log");
    const cJSON *ce = cJSON_GetObjectItemCaseSensitive(e, "center");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(e, "scale");
    if (!cJSON_IsString(m) || ns_method_parse(m->valuestring, &c->method)) {
        snprintf(err, errlen, "%s: column '%s': \"method\" must be \"minmax\", \"zscore\", \"robust\" or \"none\"", src, nm);
        return -1;
    }
    if (!cJSON_IsBool(lg)) {
        snprintf(err, errlen, "%s: column '%s': \"log\" must be true or false", src, nm);
        return -1;
    }
    double center, scale;
    if (get_number(ce, &center) || !isfinite(center)) {
        snprintf(err, errlen, "%s: column '%s': \"center\" must be a finite number", src, nm);
        return -1;
    }
    if (get_number(sc, &scale) || !isfinite(scale) || scale < 0) {
        snprintf(err, errlen, "%s: column '%s': \"scale\" must be a finite number >= 0", src, nm);
        return -1;
    }
    c->log = cJSON_IsTrue(lg);
    c->center = center;
    c->scale = scale == 0 ? 1 : scale;   /* 0 means a constant column */
    return (c->name = strdup(nm)) ? 0 : (snprintf(err, errlen, "out of memory"), -1);
}

int ns_stats_from_json(const cJSON *j, const char *src, ns_stats *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "%s: not a JSON object; expected {\"songpipe_normalize\": 1, \"columns\": [...]}", src);
        return -1;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "songpipe_normalize");
    if (!cJSON_IsNumber(v)) {
        snprintf(err, errlen, "%s: no \"songpipe_normalize\" version: not a songpipe normalize statistics file "
                 "(write one with normalize --save)", src);
        return -1;
    }
    if (v->valuedouble != NS_VERSION) {
        snprintf(err, errlen, "%s: statistics format version %g is not supported (this build reads version %d)",
                 src, v->valuedouble, NS_VERSION);
        return -1;
    }
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "columns");
    int n = cJSON_IsArray(cols) ? cJSON_GetArraySize(cols) : 0;
    if (n <= 0) {
        snprintf(err, errlen, "%s: \"columns\" must be a non-empty array", src);
        return -1;
    }
    if (!(s->cols = calloc((size_t)n, sizeof *s->cols))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int i = 0;
    for (const cJSON *e = cols->child; e; e = e->next, i++) {
        if (column_from_json(e, i, src, &s->cols[i], err, errlen)) goto fail;
        s->ncols = i + 1;
        if (ns_stats_find(s, s->cols[i].name) < i) {
            snprintf(err, errlen, "%s: column '%s' appears twice", src, s->cols[i].name);
            goto fail;
        }
    }
    return 0;
fail:
    ns_stats_free(s);
    return -1;
}

int ns_stats_save(const char *path, const ns_stats *s, char *err, size_t errlen) {
    cJSON *j = ns_stats_to_json(s);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    /* a temporary file of this run, renamed with the stage's other outputs */
    int slot;
    FILE *f = outset_open(path, &slot, err, errlen);
    if (!f) { free(text); return -1; }
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return outset_close(f, slot, path, err, errlen);
}

/* 1-based line of byte offset off in text */
static int line_of(const char *text, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off && text[i]; i++) line += text[i] == '\n';
    return line;
}

/* Reads a whole small file; NULL with err set on failure. */
static char *read_small_file(const char *path, size_t *lenp, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t len = 0, cap = 0;
    char *text = NULL;
    for (;;) {
        if (cap - len < 4097) {
            char *p = cap + 65536 > NS_MAX_FILE + 8192 ? NULL : realloc(text, cap + 65536);
            if (!p) {
                snprintf(err, errlen, cap + 65536 > NS_MAX_FILE + 8192 ? "%s: larger than %u bytes: not a statistics file"
                         : "%s: out of memory", path, NS_MAX_FILE);
                goto fail;
            }
            text = p;
            cap += 65536;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) { snprintf(err, errlen, "%s: read error: %s", path, strerror(errno)); goto fail; }
    fclose(f);
    text[len] = 0;
    *lenp = len;
    return text;
fail:
    fclose(f);
    free(text);
    return NULL;
}

int ns_stats_load(const char *path, ns_stats *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    size_t len;
    char *text = read_small_file(path, &len, err, errlen);
    if (!text) return -1;
    int rc = -1;
    if (len == 0) { snprintf(err, errlen, "%s: empty file: expected the JSON written by normalize --save", path); goto done; }
    const char *end = NULL;
    if (json_check_text(text, len, path, err, errlen)) goto done;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        if (off > len) off = len;
        while (off < len && (text[off] == ' ' || text[off] == '\t' || text[off] == '\r' || text[off] == '\n')) off++;
        int near = (int)strcspn(text + off, "\r\n");
        if (near > 20) near = 20;
        if (off == len)
            snprintf(err, errlen, "%s:%d: invalid JSON: the file ends too early; expected the JSON written by "
                     "normalize --save", path, line_of(text, off));
        else
            snprintf(err, errlen, "%s:%d: invalid JSON near '%.*s'; expected the JSON written by normalize --save",
                     path, line_of(text, off), near, text + off);
        goto done;
    }
    /* a second document or a column twice would be read as the first only */
    if (json_check_end(text, len, end, path, err, errlen) == 0 && json_check_keys(j, path, err, errlen) == 0)
        rc = ns_stats_from_json(j, path, s, err, errlen);
    cJSON_Delete(j);
done:
    free(text);
    return rc;
}
