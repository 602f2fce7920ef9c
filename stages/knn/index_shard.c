/* index_shard.c - knn --index-shard I/N: one part of the index searched by
 * every query, its candidate lists written for merge (stages/merge.c). */
#include "cli.h"
#include "knn_stage.h"
#include "shard.h"
#include "text.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- --index-shard: one part of the index, every query ----
 * Part I holds index rows [b, e) (shard_range over the rows) and writes, per
 * query, its best C rows of the part in the engine's order (selection value
 * descending, ties to the lower row), with global row numbers and each row's
 * song group and artist id, so that merge can apply knn's result rule
 * (common/songfilter.c: query songs out, one row per song,
 * --max-per-artist) to the merged lists without the catalogue.  The unsharded result of a
 * query is the first k rows its filters accept in that order; merge
 * reproduces it exactly while the accepted rows lie within the kept
 * candidates, and refuses the query otherwise.
 *
 * Row layout of the part's tensor "neighbors" (f64, shape [1+C, 5]):
 *   [0]     query's index row (-1), its excluded song group (-1),
 *           candidates kept, 1 when they are all the part's rows that
 *           qualify (the list is complete), 0
 *   [1+c]   global row, selection value, score, song group, artist id
 *           (-1, NaN, NaN, -1, -1 past the candidates) */
#define TOPK_FIELDS 5
#define INDEX_SHARD_PIECE 1024  /* queries per engine call, a multiple of QUERY_BLOCK */

/* Rows of the index's first tensor (a first pass over the file), and in *d
 * its row width. */
static int64_t index_rows(app *a, int *d) {
    ts_reader *r = cli_open_read(a->o.index);
    const ts_header *h;
    ts_block b;
    int rc = ts_next_tensor(r, &h);
    if (rc <= 0) cli_die("%s", rc < 0 ? ts_error(r) : "the index stream holds no tensor");
    *d = h->row_elems > INT_MAX / 16 ? INT_MAX / 16 : (int)h->row_elems;
    while ((rc = ts_read_block(r, &b)) == 1) {}
    if (rc < 0) cli_die("%s", ts_error(r));
    int64_t n = ts_reader_rows(r);
    ts_close_read(r);
    return n;
}

/* a->tab: the keys of all n rows, the vectors of rows [b, e) only; a->ix
 * over those rows (labels b.. become 0..). */
static void load_index_part(app *a, int64_t n, int64_t b, int64_t e) {
    ts_reader *r = cli_open_read(a->o.index);
    const ts_header *h;
    ts_block blk;
    int rc = ts_next_tensor(r, &h);
    if (rc <= 0) cli_die("%s", rc < 0 ? ts_error(r) : "the index stream holds no tensor");
    if (h->dtype != TS_F32 && h->dtype != TS_F64)
        cli_die("%s: tensor '%s' holds %s; knn needs f32 or f64 rows", a->o.index, h->name, ts_dtype_name(h->dtype));
    if (h->ndim != 1 || h->row_elems < 1 || h->row_elems > INT_MAX / 16)
        cli_die("%s: tensor '%s' rows must be vectors of shape [d]", a->o.index, h->name);
    if (n < 1) cli_die("%s: the index table has no rows", a->o.index);
    if (ts_header_copy(&a->tab.h, h)) cli_die("out of memory");
    a->d = (int)h->row_elems;
    a->tab.nrows = n;
    a->tab.keys = malloc(sizeof *a->tab.keys * (size_t)n);
    float *x = malloc(sizeof *x * (size_t)((e - b) * a->d + 1));
    if (!a->tab.keys || !x) cli_die("%s: out of memory (%" PRId64 " keys, %" PRId64 " rows of the part)", a->o.index, n, e - b);
    int64_t row = 0, bad = 0;
    while ((rc = ts_read_block(r, &blk)) == 1)
        for (int64_t i = 0; i < blk.nrows; i++, row++) {
            if (row >= n) cli_die("%s: the index changed while it was read (more than %" PRId64 " rows)", a->o.index, n);
            if (!(a->tab.keys[row] = strdup(blk.keys[i]))) cli_die("out of memory");
            if (row < b || row >= e) continue;
            float *dst = x + (row - b) * a->d;
            for (int t = 0; t < a->d; t++)
                dst[t] = h->dtype == TS_F32 ? ((const float *)blk.data)[i * a->d + t]
                                            : (float)((const double *)blk.data)[i * a->d + t];
            for (int t = 0; t < a->d; t++) if (!isfinite(dst[t])) { bad++; break; }
        }
    if (rc < 0) cli_die("%s", ts_error(r));
    if (row != n) cli_die("%s: the index changed while it was read (%" PRId64 " rows, then %" PRId64 ")", a->o.index, n, row);
    ts_close_read(r);
    if (bad) cli_warn("%s: %" PRId64 " rows of this part hold NaN or infinity; they never appear as neighbours", a->o.index, bad);
    if (knn_index_build(&a->ix, x, e - b, a->d, a->o.metric)) cli_die("%s: out of memory building the index part", a->o.index);
    free(x);                    /* the engine keeps its own copy */
}

static void open_index_shard_output(app *a, int C) {
    int self = a->o.self || knn_same_file(a->o.batch, a->o.index);
    ts_header h;
    int64_t shape[2] = {1 + (int64_t)C, TOPK_FIELDS};
    a->w = cli_open_write(a->o.output);
    if (ts_header_init(&h, "neighbors", TS_F64, 2, NULL) || ts_header_set_shape(&h, 2, shape)) cli_die("out of memory");
    h.key_name = a->tab.h.key_name ? strdup(a->tab.h.key_name) : NULL;
    cJSON *m = ts_header_meta(&h);          /* the unsharded meta, in its order */
    cJSON_AddStringToObject(m, "metric", knn_metric_name(a->o.metric));
    cJSON_AddNumberToObject(m, "k", a->o.k);
    cJSON_AddStringToObject(m, "index", a->o.index);
    cJSON_AddNumberToObject(m, "index_rows", (double)a->tab.nrows);
    if (!(a->so = shard_out_new(&a->o.index_shard, "index rows floor(n*I/N) .. floor(n*(I+1)/N)-1, every query")))
        cli_die("out of memory");
    shard_out_combine(a->so, "topk");
    if (shard_out_set_number(a->so, "candidates", C) || shard_out_set_number(a->so, "max_per_artist", a->o.max_per_artist) ||
        shard_out_set_string(a->so, "row", "[0] = (query row, excluded song, candidates, complete, 0); "
                                          "[1+c] = (index row, selection value, score, song, artist)"))
        cli_die("out of memory");
    knn_shard_describe(a, self);
    if (shard_out_annotate(a->so, &h)) cli_die("out of memory");
    if (ts_begin_tensor(a->w, &h)) cli_die("%s", ts_werror(a->w));
    ts_header_free(&h);
}

typedef struct {
    int C;
    int64_t b, part_rows;
    int64_t *lab;
    float *sc, *val;
    double *row;                /* one output row */
} index_part;

/* Searches queries q[0..nq) (query numbers pos0..) and writes their rows. */
static void index_shard_flush(app *a, index_part *p, const float *q, char **keys, int64_t nq, int64_t pos0, int self) {
    int C = p->C;
    for (int64_t s = 0; s < nq; s += INDEX_SHARD_PIECE) {
        int64_t m = nq - s < INDEX_SHARD_PIECE ? nq - s : INDEX_SHARD_PIECE;
        knn_opts ko = {.k = C, .threads = a->o.threads, .self_first = -1};
        double t0 = cli_now();
        if (knn_search_values(&a->ix, q + s * a->d, m, &ko, p->lab, p->sc, p->val))
            cli_die("out of memory searching (%d candidates)", C);
        a->search_secs += cli_now() - t0;
        for (int64_t i = 0; i < m; i++) {
            int64_t qrow = self ? pos0 + s + i : strmap_get(&a->songs.keymap, keys[s + i]), kept = 0;
            double *o = p->row;
            for (int c = 0; c < C; c++) {
                int64_t l = p->lab[i * C + c];
                double *f = o + TOPK_FIELDS * (1 + c);
                if (l < 0) { f[0] = -1; f[1] = f[2] = NAN; f[3] = f[4] = -1; continue; }
                int64_t r = p->b + l;
                f[0] = (double)r;
                f[1] = p->val[i * C + c];
                f[2] = p->sc[i * C + c];
                f[3] = (double)a->songs.version[r];
                f[4] = (double)a->songs.artist_id[r];
                kept++;
            }
            o[0] = (double)qrow;
            o[1] = qrow >= 0 ? (double)a->songs.version[qrow] : -1;
            o[2] = (double)kept;
            o[3] = kept < C || C >= p->part_rows;
            o[4] = 0;
            if (ts_write_row(a->w, keys[s + i], o)) cli_die("%s", ts_werror(a->w));
            if (shard_out_rows(a->so, pos0 + s + i, 1)) cli_die("cannot spool the row positions: %m");
        }
    }
}

void knn_run_index_shard(app *a) {
    /* parts start on the engine's grid of index blocks where a value
     * depends on its block (knn_part_rows), so they compute every value
     * as the unsharded run does */
    int d;
    int64_t n = index_rows(a, &d), b, e, unit = knn_part_rows(a->o.metric, d > 0 ? d : 1);
    shard_range(&a->o.index_shard, (n + unit - 1) / unit, &b, &e);
    b *= unit;
    e = e * unit < n ? e * unit : n;
    load_index_part(a, n, b, e);
    knn_load_catalog(a);
    int self = a->o.self || knn_same_file(a->o.batch, a->o.index);
    /* the unsharded run's candidates and chunk size (run_batch): the
     * queries go to the engine on the same grid of query blocks */
    int k = a->o.k, kf = k + 8 + (a->o.max_per_artist ? 2 * k : 0);
    if (kf > n) kf = (int)n;
    if (kf < k) kf = k;
    int64_t cap = (4 << 20) / kf;
    cap = cap < 256 ? 256 : cap > 16384 ? 16384 : cap;
    /* without a catalogue every row is its own song, so only the query's
     * own row is ever rejected and k + 1 candidates always suffice */
    int C = a->o.candidates ? a->o.candidates
          : !a->have_cat && !a->o.max_per_artist ? k + 1 : 2 * (k + 8) + 1 + (a->o.max_per_artist ? 4 * k : 0);
    open_index_shard_output(a, C);
    index_part p = {.C = C, .b = b, .part_rows = e - b};
    p.lab = malloc(sizeof *p.lab * (size_t)INDEX_SHARD_PIECE * (size_t)C);
    p.sc = malloc(sizeof *p.sc * (size_t)INDEX_SHARD_PIECE * (size_t)C);
    p.val = malloc(sizeof *p.val * (size_t)INDEX_SHARD_PIECE * (size_t)C);
    p.row = malloc(sizeof *p.row * (size_t)(1 + C) * TOPK_FIELDS);
    float *q = malloc(sizeof *q * (size_t)cap * (size_t)a->d);
    char **keys = calloc((size_t)cap, sizeof *keys);
    if (!p.lab || !p.sc || !p.val || !p.row || !q || !keys) cli_die("out of memory");

    ts_reader *r = cli_open_read(self ? a->o.index : a->o.batch);
    const ts_header *qh;
    ts_block blk;
    int rc = ts_next_tensor(r, &qh);
    if (rc <= 0) cli_die("%s", rc < 0 ? ts_error(r) : "the query stream holds no tensor");
    int *map = knn_map_columns(a, qh, ts_reader_name(r));
    int64_t nq = 0, pos0 = 0;
    cli_progress prog;
    cli_progress_init(&prog, 0);
    while ((rc = ts_read_block(r, &blk)) == 1)
        for (int64_t i = 0; i < blk.nrows; i++) {
            ss_gather_row(qh, blk.data, i, map, a->d, q + nq * a->d);
            free(keys[nq]);
            if (!(keys[nq++] = strdup(blk.keys[i]))) cli_die("out of memory");
            if (nq == cap) {
                index_shard_flush(a, &p, q, keys, nq, pos0, self);
                pos0 += nq;
                nq = 0;
                cli_progress_update(&prog, "%" PRId64 " queries searched", pos0);
            }
        }
    if (rc < 0) cli_die("%s", ts_error(r));
    index_shard_flush(a, &p, q, keys, nq, pos0, self);
    cli_progress_done(&prog);
    ts_close_read(r);
    char err[512];
    if (ts_end_tensor(a->w)) cli_die("%s", ts_werror(a->w));
    if (shard_out_finish(a->so, a->w, err, sizeof err)) cli_die("%s", err);
    shard_out_free(a->so);
    cli_close_write(a->w);
    for (int64_t i = 0; i < cap; i++) free(keys[i]);
    for (int64_t i = 0; i < n; i++) free(a->tab.keys[i]);
    free(keys); free(q); free(map);
    free(p.lab); free(p.sc); free(p.val); free(p.row);
}

