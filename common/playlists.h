/* playlists.h - a playlists stream (i32 rows whose first column is a track
 * index, keyed by playlist id, one contiguous run of rows per playlist, as
 * mpd-ingest and mpd-split write it) held in memory as CSR arrays, for the
 * stages whose algorithm needs the whole set: models, split, evaluation. */
#ifndef SONGPIPE_PLAYLISTS_H
#define SONGPIPE_PLAYLISTS_H
#include <stddef.h>
#include <stdint.h>
#include "strmap.h"

typedef struct {
    int64_t n;              /* playlists */
    int64_t *off;           /* n + 1: playlist p is track[off[p] .. off[p+1]) */
    int32_t *track;         /* off[n] track indices in playlist order */
    int64_t *keyoff;        /* n: playlist p's key is keybuf + keyoff[p] */
    char *keybuf;
    size_t keylen, keycap;
    strmap index;           /* key -> playlist */
    int32_t ntracks;        /* 1 + the largest track index seen (0 when empty) */
    int64_t cap, rows_cap;
} pl_set;

void pl_init(pl_set *s);
/* Reads the first tensor of the stream at path ("-" = stdin), or the tensor
 * named `name` when not NULL.  0 ok; -1 with "file: what; what to do" in err
 * (not i32, a negative track, a playlist whose rows are not contiguous). */
int pl_load(pl_set *s, const char *path, const char *name, char *err, size_t errlen);
/* Appends one playlist (copies key and tracks).  0 ok, -1 out of memory or
 * the key already present (err says which). */
int pl_add(pl_set *s, const char *key, const int32_t *tracks, int64_t n, char *err, size_t errlen);
static inline int64_t pl_len(const pl_set *s, int64_t p) { return s->off[p + 1] - s->off[p]; }
static inline const int32_t *pl_tracks(const pl_set *s, int64_t p) { return s->track + s->off[p]; }
static inline const char *pl_key(const pl_set *s, int64_t p) { return s->keybuf + s->keyoff[p]; }
int64_t pl_find(const pl_set *s, const char *key);     /* playlist or -1 */
void pl_free(pl_set *s);

/* The writer side: a tensor header for i32 (track, pos) rows keyed by key_name. */
#endif
