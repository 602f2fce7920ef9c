/* weights.c - see weights.h */
#include "weights.h"
#include "errbuf.h"

#include <stdio.h>
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
    return 0;
}
