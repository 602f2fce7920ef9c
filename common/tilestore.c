/* tilestore.c - spill a tile stream to an unnamed temporary file and mmap it
 * (see tilestore.h).  The file is unlinked at once, so nothing is left
 * behind whatever way the process ends. */
#include "tilestore.h"
#include "errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *tile_track_of(const char *key, char *buf) {
    const char *hash = strrchr(key, '#');
    if (!hash || !hash[1]) return key;
    for (const char *p = hash + 1; *p; p++)
        if (!isdigit((unsigned char)*p)) return key;
    size_t n = (size_t)(hash - key);
    memcpy(buf, key, n);
    buf[n] = 0;
    return buf;
}

static int grow(tilestore *s, int64_t *cap_tiles, int64_t *cap_tracks, int new_track) {
    if (s->n == *cap_tiles) {
        int64_t c = *cap_tiles ? *cap_tiles * 2 : 1024;
        int32_t *t = realloc(s->track, sizeof *t * (size_t)c);
        if (!t) return -1;
        s->track = t, *cap_tiles = c;
    }
    if (new_track && s->n_tracks == *cap_tracks) {
        int64_t c = *cap_tracks ? *cap_tracks * 2 : 256;
        char **nm = realloc(s->track_names, sizeof *nm * (size_t)c);
        if (nm) s->track_names = nm;
        int64_t *tt = realloc(s->track_tiles, sizeof *tt * (size_t)c);
        if (tt) s->track_tiles = tt;
        double *a = realloc(s->sum, sizeof *a * (size_t)c);
        if (a) s->sum = a;
        double *b = realloc(s->sumsq, sizeof *b * (size_t)c);
        if (b) s->sumsq = b;
        if (!nm || !tt || !a || !b) return -1;
        *cap_tracks = c;
    }
    return 0;
}

static int add_tile(tilestore *s, const char *key, const float *v, int64_t *cap_tiles,
                    int64_t *cap_tracks, char *err, size_t el) {
    char buf[TS_MAX_KEY];
    const char *tr = tile_track_of(key, buf);
    int64_t id = strmap_get(&s->ids, tr);
    if (grow(s, cap_tiles, cap_tracks, id < 0)) return err_fail(err, el, "out of memory for %lld tiles", (long long)s->n);
    if (id < 0) {
        id = s->n_tracks;
        if (strmap_put(&s->ids, tr, id) == -2 || !(s->track_names[id] = strdup(tr)))
            return err_fail(err, el, "out of memory");
        s->track_tiles[id] = 0, s->sum[id] = 0, s->sumsq[id] = 0;
        s->n_tracks++;
    }
    double a = 0, q = 0;
    for (size_t i = 0; i < s->tile_floats; i++) {
        if (!isfinite(v[i])) return err_fail(err, el, "tile '%s' holds %g at value %zu; tiles must be finite (spectro's dB output is)", key, v[i], i);
        a += v[i], q += (double)v[i] * v[i];
    }
    s->sum[id] += a, s->sumsq[id] += q;
    s->track_tiles[id]++;
    s->track[s->n++] = (int32_t)id;
    return 0;
}

int tilestore_read(tilestore *s, ts_reader *r, const ts_header *h, char *err, size_t el) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    strmap_init(&s->ids);
    if (el) err[0] = 0;
    const char *src = ts_reader_name(r);
    if (h->dtype != TS_F32 || h->ndim != 2 || h->shape[0] < 2 || h->shape[1] < 2 || h->shape[0] > 65536 || h->shape[1] > 65536)
        return err_fail(err, el, "%s: tensor '%s' must hold f32 tiles of shape [mel bands, frames] (slice's output)", src, h->name);
    s->H = (int)h->shape[0], s->W = (int)h->shape[1];
    s->tile_floats = (size_t)s->H * s->W;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/songpipe-tiles-XXXXXX", dir && *dir ? dir : "/tmp");
    if ((s->fd = mkstemp(path)) < 0) return err_fail(err, el, "%s: cannot create a temporary file: %s (set TMPDIR)", path, strerror(errno));
    unlink(path);
    FILE *f = fdopen(dup(s->fd), "wb");
    if (!f) return err_fail(err, el, "temporary file: %s", strerror(errno));
    int64_t cap_tiles = 0, cap_tracks = 0;
    ts_block b;
    int rc;
    while ((rc = ts_read_block(r, &b)) == 1)
        for (int64_t i = 0; i < b.nrows; i++) {
            const float *v = (const float *)b.data + (size_t)i * s->tile_floats;
            if (add_tile(s, b.keys[i], v, &cap_tiles, &cap_tracks, err, el) ||
                fwrite(v, sizeof(float), s->tile_floats, f) != s->tile_floats) {
                if (!err[0]) err_fail(err, el, "temporary file: %s (disk full? set TMPDIR)", strerror(errno));
                fclose(f);
                return -1;
            }
        }
    if (fclose(f)) return err_fail(err, el, "temporary file: %s (disk full? set TMPDIR)", strerror(errno));
    if (rc < 0) return err_fail(err, el, "%s", ts_error(r));
    if (s->n == 0) return err_fail(err, el, "%s: no tiles in tensor '%s'", src, h->name);
    s->map_bytes = (size_t)s->n * s->tile_floats * sizeof(float);
    void *m = mmap(NULL, s->map_bytes, PROT_READ, MAP_SHARED, s->fd, 0);
    if (m == MAP_FAILED) return err_fail(err, el, "cannot map %zu bytes of tiles: %s", s->map_bytes, strerror(errno));
    s->map = m;
    return 0;
}

void tilestore_free(tilestore *s) {
    if (s->map) munmap((void *)s->map, s->map_bytes);
    if (s->fd >= 0) close(s->fd);
    for (int64_t i = 0; i < s->n_tracks; i++) free(s->track_names[i]);
    free(s->track_names), free(s->track_tiles), free(s->sum), free(s->sumsq), free(s->track);
    strmap_free(&s->ids);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}
