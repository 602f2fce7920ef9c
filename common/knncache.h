/* knncache.h - a raw, page-aligned cache of a knn index beside its tensor
 * stream (INDEX.knn-METRIC.cache), so that the shards of one search on one
 * machine map one read-only copy of the index instead of each decoding the
 * stream and holding its own (knn --index-cache).
 *
 * The cache holds, each section starting on a 4096-byte boundary: the rows
 * as f32 (f64 streams converted as knn converts them), the search engine's
 * arrays for the metric exactly as knn_index_build makes them (unit rows for
 * cosine, |x|^2 for euclidean, the transposed panels of mad and of the fused
 * kernel), the key offsets and the NUL-terminated keys.  Its first page is a
 * header: magic, layout version, byte order, metric, n, d, the size,
 * CRC-32C and 64-bit FNV-1a hash of the whole source stream (the CRC alone
 * cannot tell tensor streams apart: see knncache.c), every section's place, the CRC-32C of
 * all bytes after the first page, and the header's own CRC.  It is a local
 * derived file in this machine's byte order and build (another build's
 * layout is rebuilt, never misread).
 *
 * knn_cache_open checksums the source stream (one sequential read, no
 * decompression), maps the cache and checks everything above, the body CRC
 * included (the pages it touches are the shared page cache).  A missing,
 * stale (the stream changed: size or checksum) or damaged cache is made
 * again under an exclusive flock of INDEX.knn-METRIC.cache.lock (so that
 * shards started at once build it once: the others wait, then map it),
 * written to a temporary file of its own and renamed over the old one, so a
 * reader never sees half a cache; a process that still maps the old one
 * keeps its (unlinked) copy. */
#ifndef SONGPIPE_KNNCACHE_H
#define SONGPIPE_KNNCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "knn.h"
#include "shard.h"

#define KNN_CACHE_ALIGN 4096

typedef struct {
    void *map;
    size_t map_len;
    int64_t n;
    int d;
    knn_metric metric;
    const float *data;          /* n*d rows as read, f32 */
    const float *x, *norm2, *xt;/* the engine's arrays (knn_index_wrap) */
    const uint64_t *koff;       /* n offsets into keys */
    const char *keys;
    uint64_t src_bytes;         /* the source stream's size */
    shard_identity src_id;      /* its identity (shard_file_identity) */
    int built;                  /* 1: this call made the cache */
} knn_cache;

/* The cache's file name for index and metric m into buf. -1 when too long. */
int knn_cache_path(const char *index, knn_metric m, char *buf, size_t len);

/* Maps the cache of index for metric m, making it first when it is missing,
 * stale or damaged (why it was remade goes into note, "" when it was not).
 * The index must be a regular file whose first tensor holds f32 or f64
 * rows of shape [d] and at least one row.  0 ok; -1 with the reason in err
 * (nothing mapped). */
int knn_cache_open(knn_cache *c, const char *index, knn_metric m,
                   char *note, size_t notelen, char *err, size_t errlen);
/* Unmaps; safe on a zeroed struct. */
void knn_cache_close(knn_cache *c);

#endif
