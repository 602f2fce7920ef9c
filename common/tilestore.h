/* tilestore.h - a stream of spectrogram tiles (slice's output) spilled to an
 * unnamed temporary file and memory-mapped, so training can visit tiles in
 * any order while resident memory stays bounded by what the kernel pages in,
 * not by the data set.  Tiles are grouped by track: the key with a trailing
 * "#<index>" removed (slice --key-format index), or the key itself (slice
 * --key-format track). */
#ifndef SONGPIPE_TILESTORE_H
#define SONGPIPE_TILESTORE_H
#include <stddef.h>
#include <stdint.h>
#include "strmap.h"
#include "tensor.h"

typedef struct {
    int H, W;                  /* tile shape: mel bands x frames */
    size_t tile_floats;
    int64_t n;                 /* tiles */
    int32_t *track;            /* tile -> track index (n) */
    int64_t n_tracks;
    char **track_names;        /* n_tracks, in order of first appearance */
    int64_t *track_tiles;      /* tiles per track */
    double *sum, *sumsq;       /* per track, over its tile values */
    int fd;
    const float *map;
    size_t map_bytes;
    strmap ids;
} tilestore;

/* the track part of a tile key into buf (size TS_MAX_KEY) */
const char *tile_track_of(const char *key, char *buf);
/* reads the rest of the current tensor of r (header h: f32 rows of shape
 * [H, W]) into a temporary file in $TMPDIR (default /tmp).  0 ok, -1 err */
int tilestore_read(tilestore *s, ts_reader *r, const ts_header *h, char *err, size_t errlen);
static inline const float *tilestore_tile(const tilestore *s, int64_t i) {
    return s->map + (size_t)i * s->tile_floats;
}
void tilestore_free(tilestore *s);
#endif
