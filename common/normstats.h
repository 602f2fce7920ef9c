/* normstats.h - per-column normalisation statistics: fit them over a stream of
 * rows, save/load them as JSON, apply them to a row (normalize, and knn or
 * train-mlp applying the songs' statistics to a query or a batch).
 *
 * The statistics file (and the "normalize" object in a normalized stream's
 * header meta) is exactly:
 *
 *   {"songpipe_normalize": 1,
 *    "columns": [{"name": "energy", "method": "minmax", "log": false,
 *                 "center": 0.000175, "scale": 0.999825}, ...]}
 *
 *   songpipe_normalize  format version, the integer 1
 *   columns             non-empty array, one object per column, names unique;
 *                       each object has exactly these five members:
 *     name    column name (matched by name, never by position)
 *     method  "minmax" | "zscore" | "robust" | "none"
 *     log     true: f(x) = log1p(x) (needs x > -1); false: f(x) = x
 *     center  finite number
 *     scale   finite number > 0 (0 is accepted and means 1)
 *
 *   y = (f(x) - center) / scale, and NaN stays NaN.  Fitted values:
 *     minmax  center = min, scale = max - min     (sklearn MinMaxScaler, [0,1])
 *     zscore  center = mean, scale = population std, ddof=0 (StandardScaler)
 *     robust  center = median, scale = q75 - q25, quantiles by linear
 *             interpolation (numpy.percentile default, sklearn RobustScaler)
 *     none    center = 0, scale = 1 (f still applies when log is true)
 *   A constant column (scale <= NS_CONST_REL * max(1, |center|)) gets scale 1,
 *   as sklearn's _handle_zeros_in_scale does, so it maps to 0, never NaN.
 *   NaN inputs are ignored by the fit and counted; a column with no finite
 *   value gets center 0, scale 1. */
/* Applying a normalized stream's statistics to a query row (as knn does):
 *   ns_stats s;  int map[NCOLS];
 *   ns_stats_from_json(cJSON_GetObjectItem(h->meta, "normalize"), path, &s, err, sizeof err);
 *   ns_stats_map(&s, ncols, (const char *const *)query_columns, map, NULL, err, sizeof err);
 *   ns_apply_f32(&s, map, row, ncols, NULL);  ...  ns_stats_free(&s); */
#ifndef SONGPIPE_NORMSTATS_H
#define SONGPIPE_NORMSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define NS_VERSION 1
#define NS_CONST_REL 1e-12
#define NS_MAX_FILE (64u << 20)   /* bytes of a statistics file */

typedef enum { NS_NONE, NS_MINMAX, NS_ZSCORE, NS_ROBUST } ns_method;

const char *ns_method_name(ns_method m);
int ns_method_parse(const char *s, ns_method *m);   /* 0 ok, -1 unknown */

typedef struct {
    char *name;
    ns_method method;
    int log;
    double center, scale;
} ns_column;

typedef struct {
    int ncols;
    ns_column *cols;
} ns_stats;

void ns_stats_free(ns_stats *s);
int ns_stats_find(const ns_stats *s, const char *name);   /* index or -1 */

/* JSON.  `source` names the file (or "<stream>: meta") in error messages. */
cJSON *ns_stats_to_json(const ns_stats *s);                /* NULL: out of memory */
int ns_stats_from_json(const cJSON *j, const char *source, ns_stats *s,
                       char *err, size_t errlen);
/* Writes a temporary file of the run and renames it to path (with the other
 * outputs when the set is held, formats/outset.h); nothing is left on failure. */
int ns_stats_save(const char *path, const ns_stats *s, char *err, size_t errlen);
int ns_stats_load(const char *path, ns_stats *s, char *err, size_t errlen);

/* ---- applying ---- */
/* map[i] = index into s->cols of input column i, or -1 (passes through).
 * Fails naming the first statistics column absent from `columns`.
 * *unmapped (may be NULL) gets the number of input columns without stats. */
int ns_stats_map(const ns_stats *s, int ncols, const char *const *columns,
                 int *map, int *unmapped, char *err, size_t errlen);
double ns_apply_value(const ns_column *c, double x);
double ns_invert_value(const ns_column *c, double y);
/* Normalise one row in place.  0 ok; -1 when a log column holds a value
 * <= -1: *bad_col (may be NULL) gets its input index, the row is partly done. */
int ns_apply_f32(const ns_stats *s, const int *map, float *row, int ncols, int *bad_col);
int ns_apply_f64(const ns_stats *s, const int *map, double *row, int ncols, int *bad_col);

/* ---- fitting ---- */
/* Memory: O(ncols) for minmax and zscore; robust columns hold every value
 * they see (8 bytes a row) because quantiles need them. */
typedef struct ns_fit ns_fit;

/* spec[i] gives name, method and log of column i (center/scale ignored). */
ns_fit *ns_fit_new(int ncols, const ns_column *spec);
/* Add nrows rows (row-major, leading dimension ld elements).  keys may be
 * NULL (messages then give the row number).  -1: a log column holds a value
 * <= -1 or a fitted column holds an infinity; err names row and column. */
int ns_fit_add_f32(ns_fit *f, const float *rows, int64_t nrows, size_t ld,
                   const char *const *keys, char *err, size_t errlen);
int ns_fit_add_f64(ns_fit *f, const double *rows, int64_t nrows, size_t ld,
                   const char *const *keys, char *err, size_t errlen);
int64_t ns_fit_rows(const ns_fit *f);
int64_t ns_fit_nans(const ns_fit *f, int col);      /* NaNs seen in column col */
/* Statistics of everything added so far.  -1: out of memory. */
int ns_fit_finish(ns_fit *f, ns_stats *out, char *err, size_t errlen);
void ns_fit_free(ns_fit *f);

/* Order statistics of v[0..n-1] (n > 0, no NaN).  Both reorder v and run in
 * O(n) expected time (quickselect, falling back to a sort on bad pivots).
 * ns_quantile: numpy.percentile's default 'linear' method, including its
 * lerp (b - (b-a)(1-t) when t >= 0.5); ns_median: numpy.median (mean of
 * the two middle values when n is even). */
double ns_quantile(double *v, size_t n, double q);
double ns_median(double *v, size_t n);

#endif
