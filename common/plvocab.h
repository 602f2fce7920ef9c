/* plvocab.h - the track vocabulary of the playlist models (mpd-ingest
 * --tracks: track index, uri, track_name, artist_name, count) with name
 * search, and the training playlists' titles (mpd-ingest --names): what
 * mpd-recommend and serve need to continue a playlist given song names. */
#ifndef SONGPIPE_PLVOCAB_H
#define SONGPIPE_PLVOCAB_H

#include <stddef.h>
#include <stdint.h>
#include "catalog.h"
#include "playlists.h"

typedef struct {
    catalog cat;
    int name_col, artist_col, count_col;
    cat_songs songs;
} pl_vocab;

/* 0 ok; -1 with "path: what; what to do" in err. */
int plv_load(pl_vocab *v, const char *path, char *err, size_t errlen);
void plv_free(pl_vocab *v);
/* "Title - Artist" of track t into buf. */
const char *plv_label(const pl_vocab *v, int32_t t, char *buf, size_t cap);
/* The track a name query means: the most played of the best matches
 * (cat_songs_find).  0 with *track; 1 no match, with "no song matches 'q';
 * did you mean: ...?" in msg; -1 out of memory. */
int plv_resolve(const pl_vocab *v, const char *query, int32_t *track, char *msg, size_t cap);

/* The titles of the training playlists from the playlist catalogue at
 * names_path (a 'name' column), one per playlist of train (NULL when
 * unknown), pointing into *cat; NULL with err on failure. */
const char **plv_train_titles(const pl_set *train, const char *names_path, catalog *cat, char *err, size_t errlen);

#endif
