/* tensor.c - reader and writer of the songpipe tensor stream (formats/TENSOR.md).
 * Records are little-endian; every record carries a CRC-32C; blocks are zstd
 * frames holding the row payloads followed by the NUL-terminated keys. */
#include "tensor.h"
#include "outset.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static const unsigned char TS_MAGIC[8] = {0x89, 'S', 'P', 'T', '\r', '\n', 0x1a, '\n'};

/* ---------- dtypes ---------- */
static const char *const dtype_names[TS_NDTYPES] = {"f32", "f64", "i32", "i64", "u8"};
static const size_t dtype_sizes[TS_NDTYPES] = {4, 8, 4, 8, 1};

const char *ts_dtype_name(ts_dtype t) { return (unsigned)t < TS_NDTYPES ? dtype_names[t] : "?"; }
size_t ts_dtype_size(ts_dtype t) { return (unsigned)t < TS_NDTYPES ? dtype_sizes[t] : 0; }
int ts_dtype_parse(const char *s, ts_dtype *t) {
    for (int i = 0; i < TS_NDTYPES; i++)
        if (strcmp(s, dtype_names[i]) == 0) { *t = (ts_dtype)i; return 0; }
    return -1;
}

/* ---------- the memory limit ---------- */
static uint64_t mem_limit;          /* 0: not set, the default applies */
static const char *mem_origin = "half of physical memory";
static const char *mem_hint = "raise it with SONGPIPE_MEM_LIMIT=SIZE (a K, M, G or T suffix)";

uint64_t ts_mem_limit(void) {
    if (!mem_limit) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        /* a system that does not say: 4 GiB, what a small machine has */
        mem_limit = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 2 : (uint64_t)4 << 30;
    }
    return mem_limit;
}
const char *ts_mem_limit_origin(void) { ts_mem_limit(); return mem_origin; }
void ts_set_mem_limit(uint64_t bytes, const char *origin) {
    mem_limit = bytes ? bytes : 1;
    mem_origin = origin ? origin : "set by the program";
}
void ts_set_mem_hint(const char *hint) { mem_hint = hint; }

/* "1.5 GiB": a size for the reader of a message */
static const char *human(char *b, size_t len, uint64_t v) {
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int u = 0;
    while (x >= 1024 && u < 4) { x /= 1024; u++; }
    snprintf(b, len, u ? "%.1f %s" : "%.0f %s", x, unit[u]);
    return b;
}

void ts_mem_message(char *buf, size_t len, uint64_t need) {
    uint64_t lim = ts_mem_limit();
    char a[32], b[32];
    snprintf(buf, len, "needs %" PRIu64 " bytes (%s) and the memory limit is %" PRIu64 " bytes (%s, %s); %s",
             need, human(a, sizeof a, need), lim, human(b, sizeof b, lim), mem_origin, mem_hint);
}

/* ---------- CRC-32C, slice-by-8 ---------- */
static uint32_t crc_table[8][256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    crc_ready = 1;
}

static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t len) {
    if (!crc_ready) crc_init();
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8; len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE4.2 has a CRC-32C instruction: ~5x the table version.  Chosen at run
 * time, so a build made with -march=native still runs the same bytes. */
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t len) {
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); len--; }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8; len -= 8;
    }
    while (len--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#endif

uint32_t ts_crc32c_portable(uint32_t crc, const void *buf, size_t len) {
    return crc32c_soft(crc, buf, len);
}

uint32_t ts_crc32c(uint32_t crc, const void *buf, size_t len) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static int hw = -1;
    if (hw < 0) hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (hw) return crc32c_hw(crc, buf, len);
#endif
    return crc32c_soft(crc, buf, len);
}

/* ---------- little-endian helpers ---------- */
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get_u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get_u64(const unsigned char *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* ---------- headers ---------- */
static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int header_derive(ts_header *h) {
    int64_t n = 1;
    for (int i = 0; i < h->ndim; i++) {
        /* JSON numbers are doubles: sizes above TS_MAX_DIM would not survive */
        if (h->shape[i] < 0 || h->shape[i] > TS_MAX_DIM) return -1;
        if (h->shape[i] && n > INT64_MAX / h->shape[i]) return -1;
        n *= h->shape[i];
    }
    size_t es = ts_dtype_size(h->dtype);
    if (!es || (uint64_t)n > (uint64_t)TS_MAX_BLOCK_RAW / es) return -1;
    h->row_elems = n;
    h->row_bytes = (size_t)n * es;
    return 0;
}

int ts_header_set_shape(ts_header *h, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > TS_MAX_DIMS) return -1;
    h->ndim = ndim;
    for (int i = 0; i < ndim; i++) h->shape[i] = shape[i];
    return header_derive(h);
}

int ts_header_init(ts_header *h, const char *name, ts_dtype t, int64_t n,
                   const char *const *columns) {
    memset(h, 0, sizeof *h);
    h->dtype = t;
    h->name = xstrdup(name ? name : "");
    if (!h->name || ts_header_set_shape(h, 1, &n)) goto fail;
    if (columns) {
        h->columns = calloc((size_t)n ? (size_t)n : 1, sizeof *h->columns);
        if (!h->columns) goto fail;
        h->ncols = (int)n;
        for (int64_t i = 0; i < n; i++)
            if (!(h->columns[i] = xstrdup(columns[i]))) goto fail;
    }
    return 0;
fail:
    ts_header_free(h);
    return -1;
}

void ts_header_free(ts_header *h) {
    if (!h) return;
    free(h->name);
    for (int i = 0; i < h->ncols; i++) free(h->columns ? h->columns[i] : NULL);
    free(h->columns);
    free(h->key_name);
    cJSON_Delete(h->meta);
    memset(h, 0, sizeof *h);
}

int ts_header_copy(ts_header *d, const ts_header *s) {
    memset(d, 0, sizeof *d);
    d->dtype = s->dtype;
    d->ndim = s->ndim;
    memcpy(d->shape, s->shape, sizeof d->shape);
    d->row_elems = s->row_elems;
    d->row_bytes = s->row_bytes;
    if (!(d->name = xstrdup(s->name ? s->name : ""))) goto fail;
    if (s->key_name && !(d->key_name = xstrdup(s->key_name))) goto fail;
    if (s->ncols) {
        if (!(d->columns = calloc((size_t)s->ncols, sizeof *d->columns))) goto fail;
        d->ncols = s->ncols;
        for (int i = 0; i < s->ncols; i++)
            if (!(d->columns[i] = xstrdup(s->columns[i]))) goto fail;
    }
    if (s->meta && !(d->meta = cJSON_Duplicate(s->meta, 1))) goto fail;
    return 0;
fail:
    ts_header_free(d);
    return -1;
}

int ts_header_column(const ts_header *h, const char *name) {
    for (int i = 0; i < h->ncols; i++)
        if (strcmp(h->columns[i], name) == 0) return i;
    return -1;
}

cJSON *ts_header_meta(ts_header *h) {
    if (!h->meta) h->meta = cJSON_CreateObject();
    return h->meta;
}

static char *header_to_json(const ts_header *h) {
    cJSON *o = cJSON_CreateObject(), *a;
    char *s = NULL;
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", h->name ? h->name : "");
    cJSON_AddStringToObject(o, "dtype", ts_dtype_name(h->dtype));
    if (!(a = cJSON_AddArrayToObject(o, "shape"))) goto done;
    for (int i = 0; i < h->ndim; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)h->shape[i]));
    if (h->key_name) cJSON_AddStringToObject(o, "key", h->key_name);
    if (h->ncols) {
        if (!(a = cJSON_AddArrayToObject(o, "columns"))) goto done;
        for (int i = 0; i < h->ncols; i++) cJSON_AddItemToArray(a, cJSON_CreateString(h->columns[i]));
    }
    if (h->meta) cJSON_AddItemToObject(o, "meta", cJSON_Duplicate(h->meta, 1));
    s = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return s;
}

/* Parse and validate; on error writes a reason into why. */
static int header_from_json(ts_header *h, const char *js, size_t len, char *why, size_t wl) {
    memset(h, 0, sizeof *h);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(js, len, &end, 0), *it;
    if (!o || !cJSON_IsObject(o)) { snprintf(why, wl, "header is not a JSON object"); goto fail; }
    while (end < js + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (end != js + len) { snprintf(why, wl, "header has bytes after its JSON object"); goto fail; }
    it = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(it)) { snprintf(why, wl, "header has no string \"name\""); goto fail; }
    if (!(h->name = xstrdup(it->valuestring))) goto oom;
    it = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    if (!cJSON_IsString(it) || ts_dtype_parse(it->valuestring, &h->dtype)) {
        snprintf(why, wl, "header has an unknown \"dtype\" (expected f32, f64, i32, i64 or u8)");
        goto fail;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "shape");
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > TS_MAX_DIMS) {
        snprintf(why, wl, "header \"shape\" must be an array of at most %d sizes", TS_MAX_DIMS);
        goto fail;
    }
    cJSON *d;
    cJSON_ArrayForEach(d, it) {
        double v = cJSON_IsNumber(d) ? d->valuedouble : -1;
        /* range first: casting an out-of-range double to int64_t is undefined */
        if (!(v >= 0 && v <= (double)TS_MAX_DIM) || v != (double)(int64_t)v) {
            snprintf(why, wl, "header \"shape\" holds a size that is not an integer from 0 to 2^53");
            goto fail;
        }
        h->shape[h->ndim++] = (int64_t)v;
    }
    if (header_derive(h)) { snprintf(why, wl, "header \"shape\" is too large: a row would exceed %u bytes", TS_MAX_BLOCK_RAW); goto fail; }
    it = cJSON_GetObjectItemCaseSensitive(o, "key");
    if (it) {
        if (!cJSON_IsString(it)) { snprintf(why, wl, "header \"key\" must be a string"); goto fail; }
        if (!(h->key_name = xstrdup(it->valuestring))) goto oom;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "columns");
    if (it) {
        int n = cJSON_GetArraySize(it);
        if (!cJSON_IsArray(it) || n != h->row_elems) {
            snprintf(why, wl, "header \"columns\" must name each of the %" PRId64 " elements of a row", h->row_elems);
            goto fail;
        }
        if (n && !(h->columns = calloc((size_t)n, sizeof *h->columns))) goto oom;
        cJSON_ArrayForEach(d, it) {
            if (!cJSON_IsString(d)) { snprintf(why, wl, "header \"columns\" holds a non-string"); goto fail; }
            if (!(h->columns[h->ncols++] = xstrdup(d->valuestring))) goto oom;
        }
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "meta");
    if (it) {
        if (!cJSON_IsObject(it)) { snprintf(why, wl, "header \"meta\" must be an object"); goto fail; }
        h->meta = cJSON_DetachItemViaPointer(o, it);
    }
    cJSON_Delete(o);
    return 0;
oom:
    snprintf(why, wl, "out of memory");
fail:
    cJSON_Delete(o);
    ts_header_free(h);
    return -1;
}

/* ---------- reader ---------- */
struct ts_reader {
    FILE *f;
    int own;
    char name[256];
    char err[1024];
    int state;              /* 0 before a tensor, 1 inside a tensor, 2 done, -1 failed */
    int ntensor;            /* tensors begun */
    uint32_t seg_tensors;   /* tensors begun in the current (concatenated) stream */
    int64_t block_no;
    int64_t rows;
    ts_header h;
    int have_h;
    uint64_t held;          /* bytes ts_read_table holds: a block must fit beside them */
    unsigned char *comp; size_t comp_cap;
    unsigned char *raw; size_t raw_cap;
    const char **keys; size_t keys_cap;
    ZSTD_DCtx *dctx;
};

static int rfail(ts_reader *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->state == 1 && r->have_h)
        snprintf(r->err, sizeof r->err, "%s: tensor '%s', block %" PRId64 ": %s", r->name, r->h.name, r->block_no + 1, msg);
    else
        snprintf(r->err, sizeof r->err, "%s: %s", r->name, msg);
    r->state = -1;
    return -1;
}

/* read exactly n bytes; 1 ok, 0 clean EOF before any byte, -1 short/error */
static int rread(ts_reader *r, void *buf, size_t n) {
    size_t got = fread(buf, 1, n, r->f);
    if (got == n) return 1;
    if (ferror(r->f)) return -2;
    return got == 0 ? 0 : -1;
}

static int truncated(ts_reader *r, int rc, const char *what) {
    if (rc == -2) return rfail(r, "read error: %s", strerror(errno));
    if (rc == -3) return rfail(r, "out of memory");
    if (r->state == 1)
        return rfail(r, "truncated stream: it ends inside %s after %" PRId64 " rows, with no end record (was the writer interrupted?)", what, r->rows);
    return rfail(r, "truncated stream: it ends inside %s, with no end record (was the writer interrupted?)", what);
}

static ts_reader *open_stream(ts_reader *r, char *err, size_t errlen);

ts_reader *ts_open_read(const char *path, char *err, size_t errlen) {
    ts_reader *r = calloc(1, sizeof *r);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (!path || strcmp(path, "-") == 0) {
        r->f = stdin;
        snprintf(r->name, sizeof r->name, "<stdin>");
    } else {
        r->f = fopen(path, "rb");
        r->own = 1;
        snprintf(r->name, sizeof r->name, "%s", path);
        if (!r->f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); free(r); return NULL; }
    }
    return open_stream(r, err, errlen);
}

ts_reader *ts_open_read_fp(FILE *f, const char *name, char *err, size_t errlen) {
    ts_reader *r = calloc(1, sizeof *r);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    r->f = f;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "<stream>");
    return open_stream(r, err, errlen);
}

/* Check the 12-byte stream header; frees r on error. */
static ts_reader *open_stream(ts_reader *r, char *err, size_t errlen) {
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) { snprintf(err, errlen, "out of memory"); ts_close_read(r); return NULL; }
    unsigned char m[12];
    size_t got = fread(m, 1, sizeof m, r->f);
    if (got == 0) {
        snprintf(err, errlen, "%s: empty input: expected a songpipe tensor stream (did the stage before it fail?)", r->name);
        ts_close_read(r); return NULL;
    }
    if (got < 8 && memcmp(m, TS_MAGIC, got) == 0) {
        snprintf(err, errlen, "%s: truncated stream: it ends inside the stream header (%zu of 12 bytes)", r->name, got);
        ts_close_read(r); return NULL;
    }
    if (got < 8 || memcmp(m, TS_MAGIC, 8) != 0) {
        int text = 1;
        for (size_t i = 0; i < got; i++)
            if (m[i] < 9 || (m[i] > 13 && m[i] < 32)) text = 0;
        if (text)
            snprintf(err, errlen, "%s: not a tensor stream: it starts with text (\"%.*s...\"); is it a CSV? convert it with csv-clean first", r->name, (int)(got < 8 ? got : 8), (const char *)m);
        else
            snprintf(err, errlen, "%s: not a tensor stream (bad magic bytes)", r->name);
        ts_close_read(r); return NULL;
    }
    if (got < 12) { snprintf(err, errlen, "%s: truncated stream: it ends inside the stream header (%zu of 12 bytes)", r->name, got); ts_close_read(r); return NULL; }
    uint32_t v = get_u32(m + 8);
    if (v != TS_VERSION) {
        snprintf(err, errlen, "%s: unsupported tensor stream version %u (this build reads version %d); rebuild the stream or upgrade songpipe", r->name, v, TS_VERSION);
        ts_close_read(r); return NULL;
    }
    return r;
}

const char *ts_error(const ts_reader *r) { return r->err; }
const char *ts_reader_name(const ts_reader *r) { return r->name; }
int64_t ts_reader_rows(const ts_reader *r) { return r->rows; }
int64_t ts_reader_offset(const ts_reader *r) { return (int64_t)ftello(r->f); }

void ts_close_read(ts_reader *r) {
    if (!r) return;
    if (r->own && r->f) fclose(r->f);
    ts_header_free(&r->h);
    free(r->comp); free(r->raw); free(r->keys);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

/* n bytes, the first keep of them copied from old (then freed): 1 MiB and
 * more (rounded up to a multiple of 2 MiB) 2 MiB-aligned and marked for transparent huge
 * pages, where the kernel does so on request (madvise mode), so that filling
 * them takes 512 times fewer page faults (on a virtual machine a fault is
 * dear: reading pca's 328,330-row table took 95-130 ms with 4 KiB pages,
 * 33-36 ms with huge pages for the 2 MiB+ arrays, 28-32 ms with the 1 MiB
 * block buffers on them too); smaller ones plain realloc.  NULL when out of
 * memory, old then untouched. */
void *ts_big_realloc(void *old, size_t keep, size_t n) {
    enum { HUGE = 2u << 20 };
    void *p;
    if (n < (size_t)HUGE / 2) return realloc(old, n ? n : 1);
    /* whole huge pages: the 4 KiB pages of a last partial 2 MiB would each
     * fault (a table of 13.1 MB ended in 280 such faults) */
    if (n > SIZE_MAX - HUGE) return NULL;
    n = (n + HUGE - 1) & ~((size_t)HUGE - 1);
    if (posix_memalign(&p, HUGE, n)) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);       /* advice only: refused is fine */
#endif
    if (keep) memcpy(p, old, keep);
    free(old);
    return p;
}

static int grow(void *pp, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
    if (elem && n > SIZE_MAX / elem) return -1;
    void *p = ts_big_realloc(*(void **)pp, *cap * (elem ? elem : 1), n * (elem ? elem : 1));
    if (!p) return -1;
    *(void **)pp = p;
    *cap = n;
    return 0;
}

/* Read n bytes into *buf, growing it as the bytes arrive, so that a corrupt
 * length on a short stream cannot make us allocate the full claimed size.
 * Same codes as rread, plus -3 for out of memory. */
static int rread_grow(ts_reader *r, unsigned char **buf, size_t *cap, size_t n) {
    size_t have = 0;
    while (have < n) {
        size_t want = n - have, step = have > (1u << 20) ? have : (1u << 20);
        if (want > step) want = step;
        if (grow(buf, cap, have + want, 1)) return -3;
        size_t got = fread(*buf + have, 1, want, r->f);
        have += got;
        if (got < want) return ferror(r->f) ? -2 : have == 0 ? 0 : -1;
    }
    return 1;
}

/* Skip past an end-of-stream record: either EOF, or the magic of a
 * concatenated stream.  Returns 0 at EOF, 1 when another stream follows. */
static int after_stream_end(ts_reader *r) {
    unsigned char m[12];
    size_t got = fread(m, 1, sizeof m, r->f);
    if (got == 0) { r->state = 2; return 0; }
    if (got < 12 && memcmp(m, TS_MAGIC, got < 8 ? got : 8) == 0)
        return rfail(r, "truncated stream: it ends inside the header of a concatenated stream");
    if (got < 12 || memcmp(m, TS_MAGIC, 8) != 0)
        return rfail(r, "unexpected bytes after the end record (a stream followed by garbage)");
    if (get_u32(m + 8) != TS_VERSION)
        return rfail(r, "concatenated stream has unsupported version %u (this build reads version %d)", get_u32(m + 8), TS_VERSION);
    r->seg_tensors = 0;
    return 1;
}

int ts_next_tensor(ts_reader *r, const ts_header **hp) {
    unsigned char b[16];
    int rc;
    if (r->state < 0) return -1;
    if (r->state == 2) return 0;
    while (r->state == 1) {          /* skip the rest of the current tensor */
        ts_block blk;
        if ((rc = ts_read_block(r, &blk)) < 0) return -1;
        if (rc == 0) break;
    }
    for (;;) {
        if ((rc = rread(r, b, 1)) != 1) {
            if (rc == 0 && r->seg_tensors == 0)
                return rfail(r, "truncated stream: it ends before its first tensor, with no end-of-stream record (was the writer interrupted?)");
            if (rc == 0)
                return rfail(r, "truncated stream: it ends after tensor %u ('%s'), with no end-of-stream record (was the writer interrupted?)",
                             r->seg_tensors, r->have_h ? r->h.name : "?");
            return truncated(r, rc, "a record tag");
        }
        if (b[0] == 'Z') {
            if ((rc = rread(r, b + 1, 8)) != 1) return truncated(r, rc ? rc : -1, "the end-of-stream record");
            if (ts_crc32c(0, b, 5) != get_u32(b + 5)) return rfail(r, "checksum mismatch in the end-of-stream record: the stream is corrupt");
            if (get_u32(b + 1) != r->seg_tensors)
                return rfail(r, "end-of-stream record says %u tensors but %u were read: the stream is corrupt", get_u32(b + 1), r->seg_tensors);
            rc = after_stream_end(r);
            if (rc <= 0) return rc;
            continue;
        }
        if (b[0] != 'H') return rfail(r, "corrupt stream: expected a tensor header record, found byte 0x%02x", b[0]);
        break;
    }
    if ((rc = rread(r, b + 1, 4)) != 1) return truncated(r, rc ? rc : -1, "a tensor header");
    uint32_t len = get_u32(b + 1);
    if (len > TS_MAX_HEADER) return rfail(r, "oversized header: %u bytes (the limit is %u); the stream is corrupt", len, TS_MAX_HEADER);
    if ((rc = rread_grow(r, &r->comp, &r->comp_cap, (size_t)len + 4)) != 1) return truncated(r, rc ? rc : -1, "a tensor header");
    uint32_t crc = ts_crc32c(ts_crc32c(0, b, 5), r->comp, len);
    if (crc != get_u32(r->comp + len)) return rfail(r, "checksum mismatch in tensor header %d: the stream is corrupt", r->ntensor + 1);
    ts_header_free(&r->h);
    r->have_h = 0;
    char why[256];
    if (header_from_json(&r->h, (const char *)r->comp, len, why, sizeof why))
        return rfail(r, "malformed header of tensor %d: %s", r->ntensor + 1, why);
    r->have_h = 1;
    r->ntensor++;
    r->seg_tensors++;
    r->state = 1;
    r->rows = 0;
    r->block_no = 0;
    if (hp) *hp = &r->h;
    return 1;
}

/* The next record of the current tensor, read and checked as far as its
 * bytes allow before decompression: 0 at its end record (checked, state 0),
 * 1 with a block's 13-byte head in b and its compressed bytes and CRC in
 * *comp, -1 on error (r->err).  The block is counted as block r->block_no + 1
 * of the tensor, after r->rows rows. */
static int block_fetch(ts_reader *r, unsigned char b[16], unsigned char **comp, size_t *comp_cap) {
    int rc;
    if ((rc = rread(r, b, 1)) != 1) return truncated(r, rc ? rc : -1, "a tensor");
    if (b[0] == 'E') {
        if ((rc = rread(r, b + 1, 12)) != 1) return truncated(r, rc ? rc : -1, "an end-of-tensor record");
        if (ts_crc32c(0, b, 9) != get_u32(b + 9)) return rfail(r, "checksum mismatch in the end-of-tensor record: the stream is corrupt");
        uint64_t total = get_u64(b + 1);
        if (total != (uint64_t)r->rows)
            return rfail(r, "end record says %" PRIu64 " rows but %" PRId64 " were read: the stream is corrupt", total, r->rows);
        r->state = 0;
        return 0;
    }
    if (b[0] != 'B') return rfail(r, "corrupt stream: expected a block or end record, found byte 0x%02x", b[0]);
    if ((rc = rread(r, b + 1, 12)) != 1) return truncated(r, rc ? rc : -1, "a block header");
    uint32_t nrows = get_u32(b + 1), raw_len = get_u32(b + 5), comp_len = get_u32(b + 9);
    if (raw_len > TS_MAX_BLOCK_RAW || comp_len > ZSTD_compressBound(TS_MAX_BLOCK_RAW) || nrows > TS_MAX_BLOCK_ROWS)
        return rfail(r, "oversized block (%u rows, %u bytes raw, %u compressed; the limits are %u rows, %u bytes): the stream is corrupt",
                     nrows, raw_len, comp_len, TS_MAX_BLOCK_ROWS, TS_MAX_BLOCK_RAW);
    uint64_t payload = (uint64_t)nrows * r->h.row_bytes;
    if (payload + nrows > raw_len)   /* each key needs at least its NUL */
        return rfail(r, "block sizes do not add up: %u rows of %zu bytes in %u bytes: the stream is corrupt", nrows, r->h.row_bytes, raw_len);
    if (r->held + raw_len > ts_mem_limit()) {
        char m[512];
        ts_mem_message(m, sizeof m, r->held + raw_len);
        return rfail(r, "%s %s", r->held ? "holding the whole tensor with its next block" : "a block of this size", m);
    }
    if ((rc = rread_grow(r, comp, comp_cap, (size_t)comp_len + 4)) != 1) return truncated(r, rc ? rc : -1, "a block");
    return 1;
}

/* A fetched block (head b, compressed bytes comp) checked, decompressed into
 * *raw and its keys found (keys[i] into *raw); 0, or -1 with the message in
 * msg.  Touches nothing of the reader: the table's workers run it. */
static int block_decode(ZSTD_DCtx *dctx, const unsigned char *b, const unsigned char *comp, size_t row_bytes,
                        unsigned char **raw, size_t *raw_cap, const char ***keys, size_t *keys_cap,
                        char *msg, size_t msglen) {
    uint32_t nrows = get_u32(b + 1), raw_len = get_u32(b + 5), comp_len = get_u32(b + 9);
    size_t payload = (size_t)nrows * row_bytes;
    uint32_t crc = ts_crc32c(ts_crc32c(0, b, 13), comp, comp_len);
    if (crc != get_u32(comp + comp_len)) { snprintf(msg, msglen, "checksum mismatch: the stream is corrupt"); return -1; }
    /* a frame that states its size must state raw_len: checked before allocating it */
    unsigned long long fcs = ZSTD_getFrameContentSize(comp, comp_len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR) { snprintf(msg, msglen, "cannot decompress: the block is not a zstd frame"); return -1; }
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != raw_len) {
        snprintf(msg, msglen, "block decompresses to %llu bytes, its header says %u: the stream is corrupt", fcs, raw_len);
        return -1;
    }
    if (grow(raw, raw_cap, (size_t)raw_len + 1, 1)) { snprintf(msg, msglen, "out of memory"); return -1; }
    size_t d = ZSTD_decompressDCtx(dctx, *raw, raw_len, comp, comp_len);
    if (ZSTD_isError(d)) { snprintf(msg, msglen, "cannot decompress: %s", ZSTD_getErrorName(d)); return -1; }
    if (d != raw_len) { snprintf(msg, msglen, "block decompressed to %zu bytes, expected %u: the stream is corrupt", d, raw_len); return -1; }
    if (grow(keys, keys_cap, nrows ? nrows : 1, sizeof **keys)) { snprintf(msg, msglen, "out of memory"); return -1; }
    const char *k = (const char *)*raw + payload, *end = (const char *)*raw + raw_len;
    for (uint32_t i = 0; i < nrows; i++) {
        const char *z = memchr(k, 0, (size_t)(end - k));
        if (!z) { snprintf(msg, msglen, "key %u is not terminated: the stream is corrupt", i + 1); return -1; }
        if (z - k >= TS_MAX_KEY) { snprintf(msg, msglen, "key %u is longer than %d bytes: the stream is corrupt", i + 1, TS_MAX_KEY - 1); return -1; }
        (*keys)[i] = k;
        k = z + 1;
    }
    if (k != end) { snprintf(msg, msglen, "extra bytes after the keys: the stream is corrupt"); return -1; }
    return 0;
}

int ts_read_block(ts_reader *r, ts_block *blk) {
    unsigned char b[16];
    if (r->state != 1) return r->state < 0 ? -1 : 0;
    int rc = block_fetch(r, b, &r->comp, &r->comp_cap);
    if (rc <= 0) return rc;
    char msg[256];
    if (block_decode(r->dctx, b, r->comp, r->h.row_bytes, &r->raw, &r->raw_cap, &r->keys, &r->keys_cap, msg, sizeof msg))
        return rfail(r, "%s", msg);
    blk->nrows = get_u32(b + 1);
    blk->data = r->raw;
    blk->keys = r->keys;
    blk->first_row = r->rows;
    r->rows += blk->nrows;
    r->block_no++;
    return 1;
}

/* ---------- whole tables ---------- */
void ts_table_free(ts_table *t) {
    if (!t) return;
    ts_header_free(&t->h);
    free(t->data); free(t->keys); free(t->keybuf);
    memset(t, 0, sizeof *t);
}

/* The rows and key bytes the rest of the current tensor claims, from its
 * block headers, when the input can seek (a file): the records are skipped
 * (nothing decompressed or checked; ts_read_block checks them after), then
 * the position is restored.  0 with *rows = *keys = 0 when unknown (a
 * pipe, a tag or size that does not fit: the read reports it) or not
 * plausible (more than 32 raw bytes per compressed byte); -1 when the
 * position cannot be restored. */
static int table_hint(ts_reader *r, uint64_t *rows, uint64_t *keys, uint64_t *blocks, uint64_t *max_raw, uint64_t *max_comp) {
    *rows = *keys = *blocks = *max_raw = *max_comp = 0;
    off_t at = ftello(r->f);
    if (at < 0) return 0;
    uint64_t nr = 0, kb = 0, cb = 0, rb = 0, nb = 0, mr = 0, mc = 0;
    unsigned char b[13];
    int ok = 0;
    for (;;) {
        if (fread(b, 1, 1, r->f) != 1) break;
        if (b[0] == 'E') { ok = 1; break; }
        if (b[0] != 'B' || fread(b + 1, 1, 12, r->f) != 12) break;
        uint32_t n = get_u32(b + 1), raw = get_u32(b + 5), comp = get_u32(b + 9);
        uint64_t payload = (uint64_t)n * r->h.row_bytes;
        if (raw > TS_MAX_BLOCK_RAW || n > TS_MAX_BLOCK_ROWS || payload + n > raw) break;
        nr += n;
        kb += raw - payload;
        rb += raw;
        cb += comp;
        nb++;
        if (raw > mr) mr = raw;
        if (comp > mc) mc = comp;
        if (fseeko(r->f, (off_t)comp + 4, SEEK_CUR)) break;
    }
    clearerr(r->f);
    if (fseeko(r->f, at, SEEK_SET)) return -1;     /* cannot go back: the read cannot go on */
    /* a claim the compressed bytes cannot plausibly back (a few bytes of
     * zstd can claim a whole block) gets no preallocation: the arrays grow
     * as the blocks really decompress.  Float tables compress ~1.2x. */
    if (ok && rb <= 32 * cb + (1u << 20)) { *rows = nr; *keys = kb; *blocks = nb; *max_raw = mr; *max_comp = mc; }
    return 0;
}

/* pthread_create for the library's own threads: they take no signals but
 * the faults (SIGINT and the rest stay with the caller, whose handler
 * removes the .tmp files); 0 or pthread_create's error */
static int spawn_quiet(pthread_t *th, void *(*fn)(void *), void *arg) {
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
    sigset_t all, old;
    sigfillset(&all);
    for (size_t k = 0; k < sizeof faults / sizeof *faults; k++) sigdelset(&all, faults[k]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(th, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

/* ---------- whole tables, decoded in parallel ----------
 * A file whose block headers say the table's size (table_hint) is read by
 * this thread, record by record, while workers check, decompress and place
 * each block at its final rows and key bytes in the table (known from the
 * headers before the block decodes): decompression, most of a table read,
 * runs on every core, and no block is copied twice.  Blocks finish in any
 * order; they are accounted for in stream order, so the first error in the
 * stream is the one reported, with the message the serial read gives. */
enum { TP_MAX_WORKERS = 4, TP_MIN_BLOCKS = 4 };

struct tp_slot {
    unsigned char head[16];
    unsigned char *comp; size_t comp_cap;
    int64_t block_no, row0;
    size_t key0;
    int done, failed;
    char msg[256];
};

struct tp {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct tp_slot slot[2 * TP_MAX_WORKERS];
    int nslots, quit;
    uint64_t ndisp, ntake;          /* blocks handed out; taken by a worker */
    size_t row_bytes;
    ts_table *t;
};

struct tp_worker {
    struct tp *p;
    pthread_t th;
    ZSTD_DCtx *dctx;
    unsigned char *raw; size_t raw_cap;
    const char **keys; size_t keys_cap;
};

static void *tp_main(void *arg) {
    struct tp_worker *w = arg;
    struct tp *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->ntake == p->ndisp && !p->quit) pthread_cond_wait(&p->work, &p->mu);
        if (p->ntake == p->ndisp) break;
        struct tp_slot *s = &p->slot[p->ntake++ % (uint64_t)p->nslots];
        pthread_mutex_unlock(&p->mu);
        if (block_decode(w->dctx, s->head, s->comp, p->row_bytes, &w->raw, &w->raw_cap, &w->keys, &w->keys_cap,
                         s->msg, sizeof s->msg)) {
            s->failed = 1;
        } else {
            uint32_t nrows = get_u32(s->head + 1), raw_len = get_u32(s->head + 5);
            size_t payload = (size_t)nrows * p->row_bytes;
            ts_table *t = p->t;
            char *kb = t->keybuf + s->key0;
            if (payload) memcpy((char *)t->data + (size_t)s->row0 * p->row_bytes, w->raw, payload);
            memcpy(kb, w->raw + payload, raw_len - payload);
            for (uint32_t i = 0; i < nrows; i++) t->keys[s->row0 + i] = kb + (w->keys[i] - ((const char *)w->raw + payload));
        }
        pthread_mutex_lock(&p->mu);
        s->done = 1;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* the cores this process may run on */
static int cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* 1: the table read (t->nrows set); -1: failed (r->err); 0: not taken (too
 * small, one core, no threads: nothing read, the serial read goes on).  t
 * holds its header; the arrays are sized from the hint (hr rows, hk key
 * bytes, hb blocks, the largest hmr raw and hmc compressed bytes). */
static int read_workers;        /* ts_set_read_workers: 0 = as the cores allow */
void ts_set_read_workers(int n) { read_workers = n < 0 ? 0 : n > TP_MAX_WORKERS ? TP_MAX_WORKERS : n; }

static int read_table_parallel(ts_reader *r, ts_table *t, uint64_t hr, uint64_t hk, uint64_t hb, uint64_t hmr, uint64_t hmc) {
    int nw = read_workers ? read_workers : cores();
    if (nw > TP_MAX_WORKERS) nw = TP_MAX_WORKERS;
    if (nw < 2 || (!read_workers && hb < TP_MIN_BLOCKS)) return 0;
    /* in flight beyond the table: a raw buffer per worker, a record per slot */
    uint64_t held = hr * (t->h.row_bytes + 2 * sizeof(size_t)) + hk;
    uint64_t extra = (uint64_t)nw * (hmr + 1 + (hmr / (t->h.row_bytes + 1) + 1) * sizeof(char *)) + (uint64_t)(2 * nw) * (hmc + 4);
    if (held + extra > ts_mem_limit()) return 0;
    struct tp *p = calloc(1, sizeof *p);
    struct tp_worker *w = calloc((size_t)nw, sizeof *w);
    int started = 0, rc = -1;
    if (!p || !w) { free(p); free(w); return 0; }
    p->nslots = 2 * nw;
    p->row_bytes = t->h.row_bytes;
    p->t = t;
    if (pthread_mutex_init(&p->mu, NULL)) { free(p); free(w); return 0; }
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (!(t->data = ts_big_realloc(NULL, 0, (size_t)hr * t->h.row_bytes)) || !(t->keybuf = ts_big_realloc(NULL, 0, (size_t)hk)) ||
        !(t->keys = ts_big_realloc(NULL, 0, (size_t)(hr ? hr : 1) * sizeof *t->keys))) {
        free(t->data); free(t->keybuf); free(t->keys);
        t->data = NULL, t->keybuf = NULL, t->keys = NULL;
        rc = 0;
        goto out;
    }
    for (; started < nw; started++) {
        w[started].p = p;
        if (!(w[started].dctx = ZSTD_createDCtx()) || spawn_quiet(&w[started].th, tp_main, &w[started])) {
            ZSTD_freeDCtx(w[started].dctx);
            break;
        }
    }
    if (started < 2) {          /* nothing read yet: the serial read instead */
        free(t->data); free(t->keybuf); free(t->keys);
        t->data = NULL, t->keybuf = NULL, t->keys = NULL;
        rc = 0;
        goto out;
    }
    int64_t row0 = 0, bno = 0;
    size_t key0 = 0;
    uint64_t ncons = 0;
    int ended = 0;              /* 1 at the end record, 2 at an error in the stream */
    for (;;) {
        if (!ended && p->ndisp - ncons < (uint64_t)p->nslots) {
            struct tp_slot *s = &p->slot[p->ndisp % (uint64_t)p->nslots];
            r->rows = row0;
            r->block_no = bno;
            r->held = (uint64_t)row0 * (t->h.row_bytes + 2 * sizeof(size_t)) + key0;
            int f = block_fetch(r, s->head, &s->comp, &s->comp_cap);
            if (f <= 0) { ended = f == 0 ? 1 : 2; continue; }
            uint32_t nrows = get_u32(s->head + 1), raw_len = get_u32(s->head + 5);
            size_t payload = (size_t)nrows * t->h.row_bytes, kbytes = raw_len - payload;
            if ((uint64_t)row0 + nrows > hr || key0 + kbytes > hk) {
                rfail(r, "the file changed while it was read (its blocks hold more than a moment ago); read it again");
                ended = 2;
                continue;
            }
            s->row0 = row0, s->key0 = key0, s->block_no = bno, s->done = 0, s->failed = 0;
            row0 += nrows, key0 += kbytes, bno++;
            pthread_mutex_lock(&p->mu);
            p->ndisp++;
            pthread_cond_signal(&p->work);
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        if (ncons == p->ndisp) break;
        struct tp_slot *s = &p->slot[ncons % (uint64_t)p->nslots];
        pthread_mutex_lock(&p->mu);
        while (!s->done) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (s->failed) {        /* the first error in the stream: this one */
            r->state = 1;
            r->rows = s->row0;
            r->block_no = s->block_no;
            rfail(r, "%s", s->msg);
            ended = 2;
            break;
        }
        t->nrows += get_u32(s->head + 1);
        ncons++;
    }
    rc = ended == 1 ? 1 : -1;
    if (rc == 1) r->rows = row0, r->block_no = bno;
out:
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].th, NULL);
        ZSTD_freeDCtx(w[i].dctx);
    }
    for (int i = 0; i < nw; i++) { free(w[i].raw); free(w[i].keys); }
    for (int i = 0; i < p->nslots; i++) free(p->slot[i].comp);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
    free(w);
    r->held = 0;
    return rc;
}

int ts_read_table(ts_reader *r, ts_table *t) {
    memset(t, 0, sizeof *t);
    size_t data_cap = 0, kb_cap = 0, kb_len = 0, rows_cap = 0;
    size_t *koff = NULL;
    ts_block b;
    int rc;
    if (ts_header_copy(&t->h, &r->h)) return rfail(r, "out of memory");
    /* a file: the arrays at their final sizes at once (no growth, no copies)
     * when the block headers' claim fits the memory limit; else they grow */
    uint64_t hr, hk, hb, hmr, hmc;
    if (table_hint(r, &hr, &hk, &hb, &hmr, &hmc)) { rfail(r, "cannot seek back in the input: %s", strerror(errno)); goto fail; }
    if (hr && hr <= SIZE_MAX / 16 && (!t->h.row_bytes || hr <= UINT64_MAX / t->h.row_bytes) &&
        hr * (t->h.row_bytes + 2 * sizeof(size_t)) + hk <= ts_mem_limit()) {
        int p = read_table_parallel(r, t, hr, hk, hb, hmr, hmc);
        if (p > 0) return 0;
        if (p < 0) goto fail;
        if (!(t->data = ts_big_realloc(NULL, 0, (size_t)hr * t->h.row_bytes)) || !(t->keybuf = ts_big_realloc(NULL, 0, (size_t)hk)) ||
            !(koff = ts_big_realloc(NULL, 0, (size_t)hr * sizeof *koff)))
            goto oom;
        data_cap = (size_t)hr * t->h.row_bytes;
        kb_cap = (size_t)hk;
        rows_cap = (size_t)hr;
    }
    while ((rc = ts_read_block(r, &b)) == 1) {
        size_t need = (size_t)(t->nrows + b.nrows);
        if (grow(&koff, &rows_cap, need, sizeof *koff)) goto oom;
        if (t->h.row_bytes && (size_t)need > SIZE_MAX / t->h.row_bytes) goto oom;
        if (grow(&t->data, &data_cap, need * t->h.row_bytes, 1)) goto oom;
        if (t->h.row_bytes && b.nrows)     /* an empty block may come before any data */
            memcpy((char *)t->data + (size_t)t->nrows * t->h.row_bytes, b.data, (size_t)b.nrows * t->h.row_bytes);
        for (int64_t i = 0; i < b.nrows; i++) {
            size_t l = strlen(b.keys[i]) + 1;
            if (grow(&t->keybuf, &kb_cap, kb_len + l, 1)) goto oom;
            memcpy(t->keybuf + kb_len, b.keys[i], l);
            koff[t->nrows + i] = kb_len;
            kb_len += l;
        }
        t->nrows += b.nrows;
        /* rows, keys, their offsets and pointers: what the table will hold */
        r->held = (uint64_t)t->nrows * (t->h.row_bytes + 2 * sizeof(size_t)) + kb_len;
        if (r->held > ts_mem_limit()) {
            char m[512];
            ts_mem_message(m, sizeof m, r->held);
            rfail(r, "holding the whole tensor %s", m);
            goto fail;
        }
    }
    r->held = 0;
    if (rc < 0) goto fail;
    t->keys = ts_big_realloc(NULL, 0, (size_t)(t->nrows ? t->nrows : 1) * sizeof *t->keys);
    if (!t->keys) goto oom;
    for (int64_t i = 0; i < t->nrows; i++) t->keys[i] = t->keybuf + koff[i];
    free(koff);
    return 0;
oom:
    rfail(r, "out of memory reading the table (%" PRId64 " rows so far)", t->nrows);
fail:
    r->held = 0;
    free(koff);
    ts_table_free(t);
    return -1;
}

int ts_load_table(const char *path, const char *name, ts_table *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    ts_reader *r = ts_open_read(path, err, errlen);
    const ts_header *h;
    int rc;
    if (!r) return -1;
    while ((rc = ts_next_tensor(r, &h)) == 1)
        if (!name || strcmp(h->name, name) == 0) break;
    if (rc == 0) {
        if (name) snprintf(err, errlen, "%s: no tensor named '%s' in the stream", ts_reader_name(r), name);
        else snprintf(err, errlen, "%s: the stream holds no tensor", ts_reader_name(r));
        goto fail;
    }
    if (rc < 0 || ts_read_table(r, t)) { snprintf(err, errlen, "%s", ts_error(r)); goto fail; }
    ts_close_read(r);
    return 0;
fail:
    ts_close_read(r);
    return -1;
}

/* ---------- writer ---------- */
void ts_abort_all_tmp(void) { outset_abort_all(); }

struct ts_writer {
    FILE *f;
    int own, slot, allow_tty, level, in_tensor, failed, ntensors, started;
    char *path;
    char err[512];
    ts_header h;
    size_t block_bytes;
    int64_t rows, block_rows, rows_per_block;
    unsigned char *raw; size_t raw_cap;     /* payload rows, keys appended at flush */
    char *kb; size_t kb_cap, kb_len;
    unsigned char *comp; size_t comp_cap;
    ZSTD_CCtx *cctx;
    /* ts_writer_set_async: one thread compresses and writes a block while
     * the caller fills the next; the thread owns cctx, comp, f and the
     * a-fields while a block is handed over (handed = 1), under mu */
    int async, handed, quit, afailed;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *araw; size_t araw_cap, alen;
    int64_t arows;
    char aerr[512];
    int aerrno;             /* errno of the failed write (EPIPE: see async_wait) */
};

static int wfail(ts_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    w->failed = 1;
    return -1;
}

const char *ts_werror(const ts_writer *w) { return w->err; }
void ts_writer_allow_tty(ts_writer *w, int allow) { w->allow_tty = allow; }
void ts_writer_set_level(ts_writer *w, int level) { w->level = level; }
void ts_writer_set_block_bytes(ts_writer *w, size_t bytes) { w->block_bytes = bytes ? bytes : 1; }

ts_writer *ts_open_write(const char *path, char *err, size_t errlen) {
    ts_writer *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    w->slot = -1;
    w->level = 1;
    w->block_bytes = TS_DEFAULT_BLOCK;
    if (!(w->cctx = ZSTD_createCCtx())) { snprintf(err, errlen, "out of memory"); free(w); return NULL; }
    if (!path || strcmp(path, "-") == 0) {
        w->f = stdout;
        return w;
    }
    /* a temporary file of this run, or a device written in place (outset.h) */
    if (!(w->path = xstrdup(path))) { snprintf(err, errlen, "out of memory"); goto fail; }
    if (!(w->f = outset_open(path, &w->slot, err, errlen))) goto fail;
    w->own = 1;
    return w;
fail:
    ZSTD_freeCCtx(w->cctx);
    free(w->path);
    free(w);
    return NULL;
}

/* the block of rows raw[0..raw_len) as a B record: compressed, checksummed, written */
static int block_out(ts_writer *w, const unsigned char *raw, size_t raw_len, int64_t rows,
                     char *err, size_t errlen) {
    size_t bound = ZSTD_compressBound(raw_len);
    if (grow(&w->comp, &w->comp_cap, bound, 1)) { snprintf(err, errlen, "out of memory"); return -1; }
    size_t c = ZSTD_compressCCtx(w->cctx, w->comp, bound, raw, raw_len, w->level);
    if (ZSTD_isError(c)) { snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(c)); return -1; }
    unsigned char b[16], t[4];
    b[0] = 'B';
    put_u32(b + 1, (uint32_t)rows);
    put_u32(b + 5, (uint32_t)raw_len);
    put_u32(b + 9, (uint32_t)c);
    put_u32(t, ts_crc32c(ts_crc32c(0, b, 13), w->comp, c));
    if (fwrite(b, 1, 13, w->f) != 13 || fwrite(w->comp, 1, c, w->f) != c || fwrite(t, 1, 4, w->f) != 4) {
        snprintf(err, errlen, "%s: write failed: %s", w->path ? w->path : "<stdout>", strerror(errno));
        return -1;
    }
    return 0;
}

static void *async_main(void *arg) {
    ts_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->handed && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
        if (!w->handed) break;
        pthread_mutex_unlock(&w->mu);
        errno = 0;
        int rc = w->afailed ? -1 : block_out(w, w->araw, w->alen, w->arows, w->aerr, sizeof w->aerr);
        int e = errno;
        pthread_mutex_lock(&w->mu);
        if (rc && !w->afailed) { w->afailed = 1; w->aerrno = e; }
        w->handed = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* until the thread is through with the block handed over; -1 when it failed */
static int async_wait(ts_writer *w) {
    if (!w->async) return 0;
    pthread_mutex_lock(&w->mu);
    while (w->handed) pthread_cond_wait(&w->cv, &w->mu);
    int failed = w->afailed;
    pthread_mutex_unlock(&w->mu);
    /* a write into a closed pipe (`| head`) raises SIGPIPE in the thread
     * that wrote, and this one blocks every signal: the write failed with
     * EPIPE instead.  Raised here, in the thread that handed the block over,
     * it ends the stage as a write on this thread would have (quietly, its
     * temporary files removed by the stage's handler); ignored, the error
     * below stands. */
    if (failed && w->aerrno == EPIPE && !w->failed) raise(SIGPIPE);
    if (failed && !w->failed) wfail(w, "%s", w->aerr);
    return failed ? -1 : 0;
}

static void async_stop(ts_writer *w) {
    if (!w->async) return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->async = 0;
}

int ts_writer_set_async(ts_writer *w) {
    if (w->async) return 0;
    if (pthread_mutex_init(&w->mu, NULL)) return -1;
    if (pthread_cond_init(&w->cv, NULL)) { pthread_mutex_destroy(&w->mu); return -1; }
    int e = spawn_quiet(&w->thread, async_main, w);
    if (e) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    w->async = 1;
    return 0;
}

static int wwrite(ts_writer *w, const void *p, size_t n) {
    if (async_wait(w)) return -1;
    if (fwrite(p, 1, n, w->f) != n)
        return wfail(w, "%s: write failed: %s", w->path ? w->path : "<stdout>", strerror(errno));
    return 0;
}

static int start_stream(ts_writer *w) {
    if (w->started) return 0;
    if (!w->own && !w->allow_tty && isatty(fileno(w->f)))
        return wfail(w, "refusing to write a binary tensor stream to a terminal; redirect it (> file, -o file) or pipe it (| inspect, | to-csv)");
    unsigned char m[12];
    memcpy(m, TS_MAGIC, 8);
    put_u32(m + 8, TS_VERSION);
    w->started = 1;
    return wwrite(w, m, 12);
}

int ts_begin_tensor(ts_writer *w, const ts_header *h) {
    if (w->failed) return -1;
    if (w->in_tensor) return wfail(w, "ts_begin_tensor: previous tensor not ended");
    if (start_stream(w)) return -1;
    ts_header_free(&w->h);
    if (ts_header_copy(&w->h, h)) return wfail(w, "out of memory");
    if (header_derive(&w->h)) return wfail(w, "tensor '%s': bad shape: a size is negative or a row exceeds %u bytes", w->h.name, TS_MAX_BLOCK_RAW);
    if (w->h.ncols && w->h.ncols != w->h.row_elems)
        return wfail(w, "tensor '%s': %d column names for %" PRId64 " elements per row", w->h.name, w->h.ncols, w->h.row_elems);
    char *js = header_to_json(&w->h);
    if (!js) return wfail(w, "out of memory");
    size_t len = strlen(js);
    if (len > TS_MAX_HEADER) { free(js); return wfail(w, "header too large (%zu bytes)", len); }
    unsigned char b[8];
    b[0] = 'H';
    put_u32(b + 1, (uint32_t)len);
    uint32_t crc = ts_crc32c(ts_crc32c(0, b, 5), js, len);
    int rc = wwrite(w, b, 5) || wwrite(w, js, len);
    free(js);
    put_u32(b, crc);
    if (rc || wwrite(w, b, 4)) return -1;
    w->rows = w->block_rows = 0;
    w->kb_len = 0;
    w->rows_per_block = w->h.row_bytes ? (int64_t)(w->block_bytes / w->h.row_bytes) : 65536;
    if (w->rows_per_block < 1) w->rows_per_block = 1;
    if (w->rows_per_block > 1 << 20) w->rows_per_block = 1 << 20;
    if (grow(&w->raw, &w->raw_cap, (size_t)w->rows_per_block * w->h.row_bytes + 1, 1)) return wfail(w, "out of memory");
    /* the keys of a block at once (they flush at block_bytes): growing by
     * doubling would fault in every size on the way (224 faults of 4 KiB
     * for a 1 MiB block, 3 ms on a virtual machine) */
    if (grow(&w->kb, &w->kb_cap, w->block_bytes < (1u << 24) ? w->block_bytes + 1 : 1u << 24, 1)) return wfail(w, "out of memory");
    w->in_tensor = 1;
    w->ntensors++;
    return 0;
}

static int flush_block(ts_writer *w) {
    if (!w->block_rows) return 0;
    size_t payload = (size_t)w->block_rows * w->h.row_bytes, raw_len = payload + w->kb_len;
    if (raw_len > TS_MAX_BLOCK_RAW) return wfail(w, "block too large");
    if (grow(&w->raw, &w->raw_cap, raw_len, 1)) return wfail(w, "out of memory");
    memcpy(w->raw + payload, w->kb, w->kb_len);
    if (w->async) {
        /* the thread takes this buffer; the caller fills the one it gave back */
        if (async_wait(w)) return -1;
        unsigned char *t = w->araw;
        size_t tcap = w->araw_cap;
        w->araw = w->raw, w->araw_cap = w->raw_cap;
        w->raw = t, w->raw_cap = tcap;
        w->alen = raw_len;
        w->arows = w->block_rows;
        pthread_mutex_lock(&w->mu);
        w->handed = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (grow(&w->raw, &w->raw_cap, (size_t)w->rows_per_block * w->h.row_bytes + 1, 1)) return wfail(w, "out of memory");
    } else if (block_out(w, w->raw, raw_len, w->block_rows, w->err, sizeof w->err)) {
        w->failed = 1;
        return -1;
    }
    w->block_rows = 0;
    w->kb_len = 0;
    return 0;
}

int ts_write_row(ts_writer *w, const char *key, const void *row) {
    if (w->failed) return -1;
    if (!w->in_tensor) return wfail(w, "ts_write_row outside a tensor");
    size_t kl = strlen(key ? key : "");
    if (kl >= TS_MAX_KEY) return wfail(w, "key too long (%zu bytes; the limit is %d)", kl, TS_MAX_KEY - 1);
    if (grow(&w->kb, &w->kb_cap, w->kb_len + kl + 1, 1)) return wfail(w, "out of memory");
    memcpy(w->kb + w->kb_len, key ? key : "", kl + 1);
    w->kb_len += kl + 1;
    if (w->h.row_bytes) memcpy(w->raw + (size_t)w->block_rows * w->h.row_bytes, row, w->h.row_bytes);
    w->block_rows++;
    w->rows++;
    if (w->block_rows >= w->rows_per_block || w->kb_len >= w->block_bytes) return flush_block(w);
    return 0;
}

int ts_write_rows(ts_writer *w, int64_t n, const char *const *keys, const void *rows) {
    for (int64_t i = 0; i < n; i++)
        if (ts_write_row(w, keys[i], w->h.row_bytes ? (const char *)rows + (size_t)i * w->h.row_bytes : rows)) return -1;
    return 0;
}

int ts_end_tensor(ts_writer *w) {
    if (w->failed) return -1;
    if (!w->in_tensor) return wfail(w, "ts_end_tensor outside a tensor");
    if (flush_block(w)) return -1;
    unsigned char b[16];
    b[0] = 'E';
    put_u64(b + 1, (uint64_t)w->rows);
    put_u32(b + 9, ts_crc32c(0, b, 9));
    w->in_tensor = 0;
    return wwrite(w, b, 13);
}

static void writer_free(ts_writer *w) {
    async_stop(w);
    ts_header_free(&w->h);
    free(w->raw); free(w->kb); free(w->comp); free(w->path); free(w->araw);
    ZSTD_freeCCtx(w->cctx);
    free(w);
}

int ts_close(ts_writer *w, char *err, size_t errlen) {
    int rc = 0;
    if (!w) { if (err) snprintf(err, errlen, "no writer"); return -1; }
    if (!w->failed && w->in_tensor) rc = ts_end_tensor(w);
    if (!rc && !w->failed) {
        unsigned char b[16];
        rc = start_stream(w);
        b[0] = 'Z';
        put_u32(b + 1, (uint32_t)w->ntensors);
        put_u32(b + 5, ts_crc32c(0, b, 5));
        if (!rc) rc = wwrite(w, b, 9);
    }
    if (!rc && !w->failed && async_wait(w)) rc = -1;
    if (!rc && !w->failed && fflush(w->f) != 0) rc = wfail(w, "%s: write failed: %s", w->path ? w->path : "<stdout>", strerror(errno));
    if (w->failed) rc = -1;
    async_stop(w);              /* the thread is through with f */
    if (w->own) {
        char why[sizeof w->err];
        if (rc) outset_discard(w->f, w->slot);
        else if (outset_close(w->f, w->slot, w->path, why, sizeof why)) rc = wfail(w, "%s", why);
    }
    if (rc) {
        if (err) snprintf(err, errlen, "%s", w->err[0] ? w->err : "write failed");
        writer_free(w);
        return -1;
    }
    writer_free(w);
    return 0;
}

void ts_abort(ts_writer *w) {
    if (!w) return;
    async_stop(w);              /* before the file goes */
    if (w->own) outset_discard(w->f, w->slot);
    writer_free(w);
}
