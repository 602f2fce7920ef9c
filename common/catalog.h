/* catalog.h - the song catalogue (a TSV of display columns per key, written
 * by csv-clean --catalog) and the name search over it that knn uses to turn
 * "Blinding Lights - The Weeknd" into rows of an index table.
 *
 * Catalogue file: a header line whose first cell names the key column and
 * whose other cells name display columns, then one line per key, cells
 * separated by TABs (no quoting; a cell holds no TAB or newline).  A UTF-8
 * BOM and CR line ends are accepted.  The first line of a repeated key wins. */
#ifndef SONGPIPE_CATALOG_H
#define SONGPIPE_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include "strmap.h"

typedef struct {
    int ncols;              /* columns, the key column (0) included */
    char **colnames;        /* ncols names, pointing into text */
    int64_t nrows;
    char **cells;           /* nrows * ncols: cells[r * ncols + c], c = 0 the key */
    char *text;             /* the file, cut into cells in place */
    strmap keys;            /* key -> row */
} catalog;

/* 0 ok; -1 with "path:line: what; what to do" in err. */
int cat_load(catalog *c, const char *path, char *err, size_t errlen);
void cat_free(catalog *c);
int64_t cat_find(const catalog *c, const char *key);            /* row or -1 */
static inline const char *cat_cell(const catalog *c, int64_t row, int col) {
    return c->cells[row * c->ncols + col];
}
int cat_column(const catalog *c, const char *name);             /* >= 1 or -1 */
/* The first display column whose name is one of names (NULL-terminated), -1 */
int cat_pick_column(const catalog *c, const char *const *names);

/* The rows of an index table seen through a catalogue (which may be NULL:
 * then only keys are known, every row is its own song). */
typedef struct {
    int64_t n;
    const char *const *key;     /* the index keys (borrowed) */
    const char **title;         /* per row, borrowed from the catalogue; NULL when unknown */
    const char **artist;
    char **ftitle, **fartist;   /* compact folds (text_fold), "" when unknown */
    int64_t *group;             /* the lowest row with the same folded title AND
                                 * artist (one song under several ids); a row
                                 * without a title is its own group */
    int64_t *version;           /* the song a row is a version of (songversion.h: the
                                 * same version key), named by its preferred row:
                                 * an original (no version suffix) before a
                                 * version, then the most popular, then the lowest
                                 * row.  Result lists hold one row per version */
    double *popularity;         /* the catalogue's popularity column (track_popularity,
                                 * popularity or count), 0 when it has none */
    char **fbase;               /* compact folds of the base titles (version suffixes cut) */
    int64_t *artist_id;         /* rows with the same folded artist share an id; -1 unknown */
    int64_t nartists;
    int64_t nmissing;           /* index keys absent from the catalogue */
    strmap keymap;              /* index key -> first row */
    char *fold_arena;
} cat_songs;

/* title_col / artist_col: catalogue columns (-1: none); the popularity
 * column is found by name.  0 ok, -1 out of memory (err says so). */
int cat_songs_build(cat_songs *s, const catalog *c, int title_col, int artist_col,
                    const char *const *keys, int64_t n, char *err, size_t errlen);
void cat_songs_free(cat_songs *s);

/* The songs a query names, best first, one row per group:
 *   1. an index key equal to the query (exactly one row);
 *   2. otherwise rows whose folded title contains the folded query, or,
 *      for "TITLE - ARTIST" / "TITLE by ARTIST", whose title contains TITLE
 *      and whose artist contains ARTIST.  Titles equal to the query (or to
 *      TITLE) form a first tier, base titles (version suffixes cut) equal
 *      to it a second, and only then come mere substrings;
 *   a Spotify track uri (spotify:track:ID) or link
 *   (https://open.spotify.com/track/ID?si=...) reads as the key ID (or the
 *   key spotify:track:ID), and names no other row.
 * Several matching versions of one song count as one: the original before
 * versions, then the most popular, then the lowest row.  The songs of a
 * tier come most popular first (ties in index order), so the first of
 * several is the most popular original.  Returns the count (0: none)
 * with a malloc'd array in *rows (free it), or -1 when out of memory. */
int64_t cat_songs_find(const cat_songs *s, const char *query, int64_t **rows);
/* The track id of a Spotify track uri or open.spotify.com/track link (any
 * query string or locale path such as /intl-de/ allowed) into id (cap
 * bytes); 1 when s is one, 0 otherwise. */
int cat_spotify_track_id(const char *s, char *id, size_t cap);
/* Up to max songs whose titles come closest to the query (fewest edits to
 * a substring of the title, at most a third of the query's length), best
 * first; returns how many. */
int cat_songs_suggest(const cat_songs *s, const char *query, int64_t *rows, int max);
/* "Title by Artist" (or the key when the title is unknown) into buf. */
const char *cat_songs_label(const cat_songs *s, int64_t row, char *buf, size_t cap);

#endif
