/* weights.c - see weights.h */
#include "weights.h"
#include "errbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void shape_text(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t k = 0;
    buf[0] = 0;
    for (int d = 0; d < ndim && k + 24 < len; d++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
}

int weights_read(ts_reader *r, const ts_header *h, float *dst, int ndim, const int64_t *shape,
                 const char *path, char *err, size_t el) {
    int ok = h->dtype == TS_F32 && h->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = h->shape[d] == shape[d];
    if (!ok) {
        char want[96], got[96];
        shape_text(want, sizeof want, ndim, shape);
        shape_text(got, sizeof got, h->ndim, h->shape);
        return err_fail(err, el, "%s: tensor '%s' is %s [%s]; the architecture needs f32 [%s]", path, h->name,
                        ts_dtype_name(h->dtype), got, want);
    }
    ts_block b;
    int rc;
    int64_t rows = 0;
    while ((rc = ts_read_block(r, &b)) == 1) {
        if (rows + b.nrows > 1) return err_fail(err, el, "%s: tensor '%s' has more than one row", path, h->name);
        if (b.nrows) memcpy(dst, b.data, h->row_bytes);
        rows += b.nrows;
    }
    if (rc < 0) return err_fail(err, el, "%s", ts_error(r));
    if (rows != 1) return err_fail(err, el, "%s: tensor '%s' has no row", path, h->name);
    /* a NaN or an infinity would turn every output it reaches into NaN */
    for (int64_t i = 0; i < h->row_elems; i++)
        if (!isfinite(dst[i]))
            return err_fail(err, el, "%s: tensor '%s' holds %g at value %lld of %lld; a model's weights must be finite "
                            "(did the training diverge? retrain it, e.g. with a lower --lr)",
                            path, h->name, dst[i], (long long)i, (long long)h->row_elems);
    return 0;
}

static int load_one(void *model, const weights_ops *ops, ts_reader *r, const ts_header *h, char *seen,
                    const char *path, char *err, size_t el) {
    float *dst;
    int ndim;
    int64_t shape[4];
    int idx = ops->slot(model, h->name, &dst, &ndim, shape);
    if (idx < 0) return err_fail(err, el, "%s: tensor '%s' is not part of this architecture (a model from another version or a hand-edited file?)", path, h->name);
    if (seen[idx]) return err_fail(err, el, "%s: tensor '%s' appears twice", path, h->name);
    seen[idx] = 1;
    return weights_read(r, h, dst, ndim, shape, path, err, el);
}

int weights_load(const char *path, void *model, const weights_ops *ops, char *err, size_t errlen) {
    char why[512];
    ts_reader *r = ts_open_read(path, why, sizeof why);
    if (!r) return err_fail(err, errlen, "%s", why);
    const ts_header *h;
    char *seen = NULL;
    int rc = ts_next_tensor(r, &h), built = 0;
    if (rc <= 0) {
        err_fail(err, errlen, "%s", rc < 0 ? ts_error(r) : "empty model file: no tensors");
        goto bad;
    }
    if (ops->build(model, h, path, err, errlen)) goto bad;
    built = 1;
    int n = ops->count(model);
    if (!(seen = calloc((size_t)n + 1, 1))) { err_fail(err, errlen, "out of memory"); goto bad; }
    do {
        if (load_one(model, ops, r, h, seen, path, err, errlen)) goto bad;
    } while ((rc = ts_next_tensor(r, &h)) == 1);
    if (rc < 0) { err_fail(err, errlen, "%s", ts_error(r)); goto bad; }
    for (int i = 0; i < n; i++)
        if (!seen[i]) {
            err_fail(err, errlen, "%s: tensor '%s' is missing (a truncated or hand-edited model?)", path, ops->name(model, i));
            goto bad;
        }
    free(seen);
    ts_close_read(r);
    return 0;
bad:
    free(seen);
    if (built) ops->destroy(model);
    ts_close_read(r);
    return -1;
}

int weights_save(const char *path, void *model, const weights_ops *ops, cJSON *meta,
                 char *err, size_t errlen) {
    char why[512];
    ts_writer *w = ts_open_write(path, why, sizeof why);
    if (!w) { cJSON_Delete(meta); return err_fail(err, errlen, "%s", why); }
    const int n = ops->count(model);
    for (int i = 0; i < n; i++) {
        const char *name = ops->name(model, i);
        float *p;
        int ndim;
        int64_t shape[4], elems = 1;
        ops->slot(model, name, &p, &ndim, shape);
        for (int d = 0; d < ndim; d++) elems *= shape[d];
        ts_header h;
        if (ts_header_init(&h, name, TS_F32, elems, NULL) ||
            (ndim > 1 && ts_header_set_shape(&h, ndim, shape)) || !(h.key_name = strdup("param")) ||
            (i == 0 && !(h.meta = meta))) {
            if (i == 0 && !h.meta) cJSON_Delete(meta);
            ts_header_free(&h);
            ts_abort(w);
            return err_fail(err, errlen, "%s: out of memory", path);
        }
        int rc = ts_begin_tensor(w, &h) || ts_write_row(w, name, p) || ts_end_tensor(w);
        ts_header_free(&h);
        if (rc) {
            err_fail(err, errlen, "%s", ts_werror(w));
            ts_abort(w);
            return -1;
        }
    }
    if (ts_close(w, why, sizeof why)) return err_fail(err, errlen, "%s", why);
    return 0;
}
