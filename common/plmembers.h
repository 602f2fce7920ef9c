/* plmembers.h - which songs of a catalogue are in which playlists, from the
 * playlist collections a user has: a songs CSV with one row per playlist
 * entry (spotify_songs.csv: playlist_id, track_id) and MPD playlists
 * (mpd-ingest's stream and its --tracks TSV, joined to the catalogue by track
 * id: the uri spotify:track:ID against the key ID).  One reader for members
 * (supervised similarity, its evaluation) and hybrid (co-occurrence), and one
 * seeded split of whole playlists for them and mpd-split, so that every
 * evaluation holds out the same playlists.
 *
 * Entries are given to a callback in input order: the playlist's name (the
 * prefix + the CSV's playlist cell or the MPD pid) and the song's catalogue
 * row.  Rows that do not join are counted, not given.  A song listed twice
 * is given twice (the caller keeps distinct songs if it wants). */
#ifndef SONGPIPE_PLMEMBERS_H
#define SONGPIPE_PLMEMBERS_H
#include <stddef.h>
#include <stdint.h>
#include "strmap.h"

/* 0 to go on; anything else stops the read (out of memory) */
typedef int (*plmem_fn)(void *ctx, const char *playlist, int64_t song);

typedef struct {
    int64_t rows;           /* entries read (CSV data rows, MPD playlist rows) */
    int64_t joined;         /* of them, songs of the catalogue */
    int64_t distinct;       /* distinct catalogue songs among the joined */
} plmem_stats;

/* The CSV at path (one row per entry; columns list_col and key_col by
 * header name).  keys: catalogue key -> row, n_keys rows.  Playlists are
 * named prefix + cell.  0 ok; -1 with "file:line: what; what to do" in err. */
int plmem_read_csv(const char *path, const char *list_col, const char *key_col, const char *prefix,
                   const strmap *keys, int64_t n_keys, plmem_fn fn, void *ctx, plmem_stats *st,
                   char *err, size_t errlen);

/* An mpd-ingest playlists stream (i32 rows track, pos keyed by pid), read
 * block by block, and its --tracks TSV (header track_uri, track, ...; line
 * i + 2 = track i).  Playlists are named prefix + pid.  Memory: one catalogue
 * row per track of the vocabulary.  0 ok; -1 with the reason in err. */
int plmem_read_mpd(const char *playlists, const char *tracks, const char *prefix,
                   const strmap *keys, int64_t n_keys, plmem_fn fn, void *ctx, plmem_stats *st,
                   char *err, size_t errlen);

/* The split of whole playlists: a number in [0, 1) from (seed, playlist
 * name) only, so one playlist's side does not depend on the others or on
 * the order of the input: the splitmix64 finaliser of strmap_hash(name)
 * (FNV-1a 64, h ^ h >> 29) ^ seed * 0x9E3779B97F4A7C15, top 53 bits.  mpd-split holds a playlist out
 * when u < --test-frac; members when u < --holdout; hybrid --eval tests
 * u < 0.2 and validates on 0.2 <= u < 0.4 (the training side of a 0.2
 * holdout). */
double plmem_split_u(uint64_t seed, const char *name);
#endif
