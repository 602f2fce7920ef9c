/* songfilter.h - the result rule of every song list: one row per song
 * (version group), at most M rows per artist, the query's own songs left
 * out.  knn and serve apply it to the engine's candidates (songsearch.c);
 * merge applies it to the candidates of knn --index-shard parts, so both
 * give the same list.
 *
 * A session is one query's list: sf_begin, sf_exclude the query's groups,
 * then sf_take each candidate best first.  Memory grows with the rows one
 * session takes, not with the index (hash sets cleared by a stamp). */
#ifndef SONGPIPE_SONGFILTER_H
#define SONGPIPE_SONGFILTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t *key, *stamp;
    int *val;                   /* count of key in the session stamp[i] */
    size_t mask, live;          /* slots - 1; keys of the current session */
} sf_set;

typedef struct {
    int max_per_artist;         /* 0: no cap */
    int oom;                    /* sticky: a set could not grow */
    int64_t now;                /* the session */
    sf_set groups, artists;
} song_filter;

/* 0 ok, -1 out of memory.  expect: rows a session usually takes (a hint). */
int sf_init(song_filter *f, int max_per_artist, int expect);
void sf_free(song_filter *f);
void sf_begin(song_filter *f);
/* The query's song: group g never appears (out of memory: f->oom). */
void sf_exclude(song_filter *f, int64_t group);
/* 1 and counts the row when a row of group g by artist a (a < 0: none)
 * may be the next result, 0 when the rule refuses it, -1 out of memory. */
int sf_take(song_filter *f, int64_t group, int64_t artist);
/* Gives back a row taken in this session (before a wider retry). */
void sf_untake(song_filter *f, int64_t group, int64_t artist);

#endif
