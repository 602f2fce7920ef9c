/* sound.h - the sound half of the `hybrid` stage (stages/hybrid/sound.c): a
 * sound library's vectors (make library: LIB/index.ts, keyed by file path)
 * tied to catalogue songs by the title and artist tags beside them
 * (LIB/tags.tsv), and the sound neighbours and cosines that hybrid.c blends
 * with the playlists and the features. */
#ifndef SONGPIPE_HYBRID_SOUND_H
#define SONGPIPE_HYBRID_SOUND_H

#include "catalog.h"
#include "knn.h"
#include "tensor.h"

#include <stdint.h>

/* the sound neighbours a query adds to its candidates, at most */
#define HS_CAND 200

typedef struct {
    ts_table lib;               /* the library's vectors, keyed by path */
    knn_index ix;               /* the matched ones (unit rows) */
    int64_t nm;                 /* matched library songs */
    int64_t *row;               /* [nm] the catalogue song (its version's preferred row) */
    int64_t *of_version;        /* [index rows] version row -> matched song, -1 */
    const cat_songs *songs;     /* the catalogue's songs (borrowed) */
} hybrid_sound;

/* No library: every row without sound (index, tags NULL).  Otherwise loads
 * both and ties each library song whose title and artist tags give the
 * version key (common/songversion.h) of a song of `songs` (n index rows)
 * to that song; reports the counts on stderr.  Dies on bad input. */
void hs_load(hybrid_sound *s, const char *index, const char *tags, const cat_songs *songs, int64_t n);
void hs_free(hybrid_sound *s);
/* the matched library song of index row r, -1 when it has no sound */
static inline int64_t hs_of(const hybrid_sound *s, int64_t r) {
    return s->nm ? s->of_version[s->songs->version[r]] : -1;
}
/* the cosine of two matched library songs' vectors */
double hs_cosine(const hybrid_sound *s, int64_t a, int64_t b);
/* The index rows of the (up to HS_CAND) matched library songs nearest to
 * the sound of index row q, best first, into rows; how many (0: q has none). */
int hs_neighbours(const hybrid_sound *s, int64_t q, int64_t *rows);

#endif
