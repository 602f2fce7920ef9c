/* knncache.c - the mapped index cache of knn (common/knncache.h). */
#include "knncache.h"
#include "../formats/outset.h"
#include "../formats/tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KC_VERSION 1
#define KC_ORDER 0x01020304u
enum { S_DATA, S_X, S_NORM2, S_XT, S_KOFF, S_KEYS, S_N };

static const char KC_MAGIC[8] = {'S', 'P', 'K', 'N', 'N', 'C', '\r', '\n'};

typedef struct {
    char magic[8];
    uint32_t version, order, metric, d;
    uint64_t n, src_bytes;
    uint32_t src_crc, body_crc;
    uint64_t src_hash;
    uint64_t off[S_N], len[S_N];    /* bytes */
    uint64_t file_bytes;
    uint32_t pad, header_crc;       /* CRC-32C of the bytes before it */
} kc_header;

int knn_cache_path(const char *index, knn_metric m, char *buf, size_t len) {
    int w = snprintf(buf, len, "%s.knn-%s.cache", index, knn_metric_name(m));
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* The identity of the source stream: shard_file_identity (size, CRC-32C
 * and a word-wise FNV-1a; meta.shard.inputs records the same). */
typedef shard_identity identity;
#define file_identity shard_file_identity

static uint64_t up(uint64_t v) { return (v + KNN_CACHE_ALIGN - 1) / KNN_CACHE_ALIGN * KNN_CACHE_ALIGN; }

void knn_cache_close(knn_cache *c) {
    if (c && c->map) munmap(c->map, c->map_len);
    if (c) memset(c, 0, sizeof *c);
}

/* Section byte lengths for n rows of d under m and a key arena of kb bytes. */
static int layout(int64_t n, int d, knn_metric m, uint64_t kb, uint64_t len[S_N]) {
    size_t x, norm2, xt;
    if (knn_index_layout(n, d, m, &x, &norm2, &xt)) return -1;
    len[S_DATA] = (uint64_t)x * 4;
    len[S_X] = m == KNN_COSINE ? (uint64_t)x * 4 : 0;    /* the other metrics search the rows as read */
    len[S_NORM2] = (uint64_t)norm2 * 4;
    len[S_XT] = (uint64_t)xt * 4;
    len[S_KOFF] = (uint64_t)n * 8;
    len[S_KEYS] = kb;
    return 0;
}

/* 1 mapped and valid; 0 not usable, the reason in why (damaged: *bad = 1). */
static int try_map(knn_cache *c, const char *path, knn_metric m, const identity *id,
                   char *why, size_t wl, int *bad) {
    memset(c, 0, sizeof *c);
    *bad = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(why, wl, "%s", errno == ENOENT ? "no cache yet" : strerror(errno)); return 0; }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < KNN_CACHE_ALIGN) {
        close(fd);
        snprintf(why, wl, "it is not a cache file (too short)");
        *bad = 1;
        return 0;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { snprintf(why, wl, "cannot map it: %s", strerror(errno)); return 0; }
    const kc_header *h = map;
    const unsigned char *base = map;
    uint64_t size = (uint64_t)st.st_size;
    *bad = 1;
    if (memcmp(h->magic, KC_MAGIC, 8)) { snprintf(why, wl, "it is not a knn cache (bad magic)"); goto no; }
    if (ts_crc32c(0, h, offsetof(kc_header, header_crc)) != h->header_crc) { snprintf(why, wl, "its header checksum does not match"); goto no; }
    *bad = 0;
    if (h->version != KC_VERSION || h->order != KC_ORDER) { snprintf(why, wl, "it has another layout (version %u) or byte order", h->version); goto no; }
    if (h->src_bytes != id->bytes || h->src_crc != id->crc || h->src_hash != id->hash) {
        snprintf(why, wl, "the index changed (cache of %" PRIu64 " bytes, hash %016" PRIx64 "; the index is %" PRIu64 " bytes, hash %016" PRIx64 ")",
                 h->src_bytes, h->src_hash, id->bytes, id->hash);
        goto no;
    }
    if (h->metric != (uint32_t)m) { snprintf(why, wl, "it is for another metric"); goto no; }
    *bad = 1;
    uint64_t len[S_N], at = KNN_CACHE_ALIGN;
    if (h->n < 1 || h->n > INT64_MAX / 2 || h->d < 1 || h->d > INT32_MAX / 16 ||
        layout((int64_t)h->n, (int)h->d, m, h->len[S_KEYS], len)) { snprintf(why, wl, "its sizes are out of range"); goto no; }
    for (int s = 0; s < S_N; s++) {
        /* sections in order, each on a page boundary, each its layout's size (another build's fused layout differs) */
        if (h->len[s] != len[s] || h->off[s] != at) {
            snprintf(why, wl, "section %d has another place or size than this build's", s);
            *bad = 0;           /* a different layout, not damage */
            goto no;
        }
        if (h->off[s] > size || h->len[s] > size - h->off[s]) { snprintf(why, wl, "it is shorter than its sections (truncated)"); goto no; }
        at = up(at + len[s]);
    }
    if (h->file_bytes != size || at != size) { snprintf(why, wl, "it is %" PRIu64 " bytes, its header says %" PRIu64, size, h->file_bytes); goto no; }
    if (ts_crc32c(0, base + KNN_CACHE_ALIGN, size - KNN_CACHE_ALIGN) != h->body_crc) { snprintf(why, wl, "its checksum does not match (damaged)"); goto no; }
    const uint64_t *koff = (const uint64_t *)(base + h->off[S_KOFF]);
    const char *keys = (const char *)(base + h->off[S_KEYS]);
    uint64_t kb = h->len[S_KEYS];
    if (!kb || keys[kb - 1] || koff[0]) { snprintf(why, wl, "its keys are malformed"); goto no; }
    for (uint64_t i = 1; i < h->n; i++)
        if (koff[i] <= koff[i - 1] || koff[i] >= kb || keys[koff[i] - 1]) { snprintf(why, wl, "its key %" PRIu64 " is malformed", i + 1); goto no; }
    c->map = map;
    c->map_len = (size_t)size;
    c->n = (int64_t)h->n;
    c->d = (int)h->d;
    c->metric = m;
    c->data = (const float *)(base + h->off[S_DATA]);
    c->x = h->len[S_X] ? (const float *)(base + h->off[S_X]) : c->data;
    c->norm2 = h->len[S_NORM2] ? (const float *)(base + h->off[S_NORM2]) : NULL;
    c->xt = h->len[S_XT] ? (const float *)(base + h->off[S_XT]) : NULL;
    c->koff = koff;
    c->keys = keys;
    c->src_bytes = id->bytes;
    c->src_id = *id;
    return 1;
no:
    munmap(map, (size_t)size);
    return 0;
}

/* writes len bytes then zeros up to the next page boundary, into the body crc */
static int put(FILE *f, const void *p, uint64_t len, uint32_t *crc) {
    static const unsigned char zero[KNN_CACHE_ALIGN];
    if (len && fwrite(p, 1, (size_t)len, f) != len) return -1;
    *crc = ts_crc32c(*crc, p, (size_t)len);
    uint64_t pad = up(len) - len;
    if (pad && fwrite(zero, 1, (size_t)pad, f) != pad) return -1;
    *crc = ts_crc32c(*crc, zero, (size_t)pad);
    return 0;
}

/* Reads the index's first tensor and writes the cache to path. */
static int build(const char *index, const char *path, knn_metric m, const identity *id,
                 char *err, size_t errlen) {
    ts_table t;
    knn_index ix = {0};
    uint64_t *koff = NULL;
    float *f32 = NULL;
    FILE *f = NULL;
    int slot = -1, rc = -1;
    if (ts_load_table(index, NULL, &t, err, errlen)) return -1;
    const float *rows = t.data;
    if (t.h.dtype != TS_F32 && t.h.dtype != TS_F64) {
        snprintf(err, errlen, "%s: tensor '%s' holds %s; knn needs f32 or f64 rows", index, t.h.name, ts_dtype_name(t.h.dtype));
        goto done;
    }
    if (t.h.ndim != 1 || t.h.row_elems < 1 || t.h.row_elems > INT32_MAX / 16) {
        snprintf(err, errlen, "%s: tensor '%s' rows must be vectors of shape [d]; this one has %d dimensions", index, t.h.name, t.h.ndim);
        goto done;
    }
    if (t.nrows < 1) { snprintf(err, errlen, "%s: the index table has no rows", index); goto done; }
    int d = (int)t.h.row_elems;
    size_t nd = (size_t)t.nrows * (size_t)d;
    if (t.h.dtype == TS_F64) {          /* as knn converts: (float) of each value */
        if (!(f32 = malloc(nd * sizeof *f32))) goto oom;
        for (size_t i = 0; i < nd; i++) f32[i] = (float)((const double *)t.data)[i];
        rows = f32;
    }
    if (!(koff = malloc((size_t)t.nrows * sizeof *koff))) goto oom;
    for (int64_t i = 0; i < t.nrows; i++) koff[i] = (uint64_t)(t.keys[i] - t.keybuf);
    uint64_t kb = koff[t.nrows - 1] + strlen(t.keys[t.nrows - 1]) + 1;
    if (knn_index_build(&ix, rows, t.nrows, d, m)) goto oom;
    kc_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, KC_MAGIC, 8);
    h.version = KC_VERSION; h.order = KC_ORDER; h.metric = (uint32_t)m; h.d = (uint32_t)d;
    h.n = (uint64_t)t.nrows; h.src_bytes = id->bytes; h.src_crc = id->crc; h.src_hash = id->hash;
    if (layout(t.nrows, d, m, kb, h.len)) goto oom;
    uint64_t at = KNN_CACHE_ALIGN;
    for (int s = 0; s < S_N; s++) { h.off[s] = at; at = up(at + h.len[s]); }
    h.file_bytes = at;
    const void *src[S_N] = {rows, ix.x, ix.norm2, ix.xt, koff, t.keybuf};
    if (!(f = outset_open(path, &slot, err, errlen))) goto done;
    unsigned char page[KNN_CACHE_ALIGN];
    memset(page, 0, sizeof page);
    if (fwrite(page, 1, sizeof page, f) != sizeof page) goto werr;
    for (int s = 0; s < S_N; s++)
        if (put(f, src[s], h.len[s], &h.body_crc)) goto werr;
    h.header_crc = ts_crc32c(0, &h, offsetof(kc_header, header_crc));
    memcpy(page, &h, sizeof h);
    if (fseek(f, 0, SEEK_SET) || fwrite(page, 1, sizeof page, f) != sizeof page) goto werr;
    rc = outset_close(f, slot, path, err, errlen);
    f = NULL;
    goto done;
werr:
    snprintf(err, errlen, "%s: cannot write the index cache: %s", path, strerror(errno));
    goto done;
oom:
    snprintf(err, errlen, "%s: out of memory making the index cache (%" PRId64 " rows)", index, t.nrows);
done:
    if (f) outset_discard(f, slot);
    knn_index_free(&ix);
    free(koff); free(f32);
    ts_table_free(&t);
    return rc;
}

int knn_cache_open(knn_cache *c, const char *index, knn_metric m,
                   char *note, size_t notelen, char *err, size_t errlen) {
    char path[4096], lock[4200], why[512];
    identity id, id2;
    int bad, fd = -1, rc = -1;
    memset(c, 0, sizeof *c);
    if (note && notelen) note[0] = 0;
    if (knn_cache_path(index, m, path, sizeof path)) { snprintf(err, errlen, "%s: the path is too long for an index cache", index); return -1; }
    struct stat st;
    if (stat(index, &st)) { snprintf(err, errlen, "%s: cannot open: %s", index, strerror(errno)); return -1; }
    if (!S_ISREG(st.st_mode)) { snprintf(err, errlen, "%s: an index cache needs a regular file (not a pipe or device)", index); return -1; }
    if (file_identity(index, &id, err, errlen)) return -1;
    if (try_map(c, path, m, &id, why, sizeof why, &bad)) return 0;
    snprintf(lock, sizeof lock, "%s.lock", path);
    if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
        snprintf(err, errlen, "%s: cannot create the lock of the index cache: %s", lock, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX)) {
        if (errno == EINTR) continue;
        snprintf(err, errlen, "%s: cannot lock: %s", lock, strerror(errno));
        goto done;
    }
    /* another process may have made it while this one waited */
    if (try_map(c, path, m, &id, why, sizeof why, &bad)) { rc = 0; goto done; }
    if (note && notelen) snprintf(note, notelen, "%s: %s %s", path, bad ? "damaged cache rebuilt:" : "made:", why);
    if (build(index, path, m, &id, err, errlen)) goto done;
    /* the stream must not have changed while it was read */
    if (file_identity(index, &id2, err, errlen)) goto done;
    if (id2.bytes != id.bytes || id2.crc != id.crc || id2.hash != id.hash) {
        unlink(path);
        snprintf(err, errlen, "%s: the index changed while its cache was made; run again", index);
        goto done;
    }
    if (!try_map(c, path, m, &id, why, sizeof why, &bad)) {
        snprintf(err, errlen, "%s: the cache just made does not check: %s", path, why);
        goto done;
    }
    c->built = 1;
    rc = 0;
done:
    close(fd);                  /* releases the lock */
    return rc;
}
