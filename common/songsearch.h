/* songsearch.h - the song queries knn and serve share, over one index and
 * its catalogue view: the result filter (the query songs out, one line per
 * song, an artist cap), the search that fetches more candidates while the
 * filter starves, the playlist query, and name resolution with "did you
 * mean".  Both front ends give the same answers because they run this code.
 * "One line per song" means one per version group (cat_songs.version,
 * songversion.h): the query's own versions and further versions of a
 * listed song never appear.
 *
 * A song_search holds its own filter state (songfilter.h),
 * so one per thread: the index and catalogue it points to are read-only and
 * shared. */
#ifndef SONGPIPE_SONGSEARCH_H
#define SONGPIPE_SONGSEARCH_H

#include <stddef.h>
#include <stdint.h>
#include "catalog.h"
#include "knn.h"
#include "songfilter.h"
#include "../formats/tensor.h"

typedef struct {
    const knn_index *ix;
    const float *rows;          /* the index rows as loaded (n*d), for playlist scores */
    const cat_songs *songs;
    int max_per_artist;         /* 0: no cap */
    int threads;                /* per search call */
    double search_secs;         /* time spent in the engine */
    song_filter filter;         /* the session: one row per song, the artist cap */
} song_search;

/* 0 ok, -1 out of memory. */
int ss_init(song_search *s, const knn_index *ix, const float *rows, const cat_songs *songs,
            int max_per_artist, int threads);
void ss_free(song_search *s);

/* A session is one query's result list: begin, exclude the query songs,
 * then pick or search. */
void ss_begin(song_search *s);
void ss_exclude(song_search *s, int64_t row);
/* Picks up to want results from candidates (best first) into rows/scores;
 * *exhausted = 1 when the list ended before the index did.  -1 out of
 * memory. */
int ss_pick(song_search *s, const int64_t *lab, const float *sc, int kf, int want,
            int64_t *rows, double *scores, int *exhausted);
/* Gives back rows picked in this session (before a wider retry). */
void ss_untake(song_search *s, const int64_t *rows, int n);
/* Up to want filtered neighbours of vector q, fetching more candidates
 * (doubling) while filtering starves.  Count, or -1 out of memory. */
int ss_search(song_search *s, const float *q, int want, int64_t *rows, double *scores);

/* Songs like a playlist of nm distinct member rows (knn --playlist): the
 * nearest song to each member, then the neighbours of the members' mean
 * vector, all scored against the mean and ordered by that score (ties to
 * the lower row).  near[i] = the member result i is nearest to, or -1.
 * Writes up to k results; count, or -1 out of memory. */
int ss_playlist(song_search *s, const int64_t *mem, int nm, int k, int64_t *rows,
                double *scores, int64_t *near);

/* Resolving a song name (cat_songs_find).  Returns SS_FOUND with *row;
 * SS_NONE with "no song matches 'q'; did you mean: T (A); ...?" (or the
 * hint to add an artist) in msg; SS_AMBIGUOUS with the candidates in
 * *cands (malloc'd, free it; *ncands of them) and "'q' matches N songs;
 * name one (add ' - ARTIST', or give its key)" in msg; -1 out of memory.
 * first = 1 takes the first of several. */
enum { SS_FOUND = 0, SS_NONE = 1, SS_AMBIGUOUS = 2 };
int ss_resolve_song(const cat_songs *s, const char *query, int first, int64_t *row,
                    int64_t **cands, int64_t *ncands, char *msg, size_t cap);

/* Resolving a name among keys (artist tables): an equal key, else folded
 * names equal to the folded query, else containing it.  Same returns as
 * ss_resolve_song; msg is left to the caller. */
int ss_resolve_key(const char *const *keys, int64_t n, const char *query, int first,
                   int64_t *row, int64_t **cands, int64_t *ncands);

/* map[i] = the column of a query table (qh) holding index column i of ih
 * (d columns), by name when both have names, else by position.  0 ok, -1
 * with "qpath: what" in err. */
int ss_map_columns(const ts_header *ih, int d, const ts_header *qh, const char *qpath,
                   const char *ipath, int *map, char *err, size_t errlen);
/* Row r of a query block (f32 or f64) through map into out (d floats). */
void ss_gather_row(const ts_header *qh, const void *data, int64_t r, const int *map, int d, float *out);

#endif
