/* history.h - a listener's Spotify history, read from a data export and
 * summed per track: the basic StreamingHistory*.json /
 * StreamingHistory_music_*.json (endTime, artistName, trackName, msPlayed),
 * the extended Streaming_History_Audio_*.json / endsong_*.json (ts,
 * ms_played, spotify_track_uri, master_metadata_track_name,
 * master_metadata_album_artist_name, skipped, ...), or a plain CSV of ranked
 * tracks (a title column and an artist column, optionally uri and rank).
 *
 * A track is its spotify:track: uri when the export has one, else its folded
 * artist + title (text_fold), so "Beyoncé"/"BEYONCE" are one artist. */
#ifndef SONGPIPE_HISTORY_H
#define SONGPIPE_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include "strmap.h"

typedef struct {
    char *uri;              /* "spotify:track:<id>" or NULL */
    char *artist, *title;   /* as first seen */
    int64_t entries;        /* history entries of this track */
    int64_t plays;          /* entries with ms_played >= min_ms */
    int64_t skips;          /* skipped == true, or (no skipped field) ms_played < min_ms */
    double ms;              /* total ms played */
    int64_t order;          /* first appearance; a ranked CSV: its rank order */
} hist_track;

typedef struct {
    hist_track *t;
    int64_t n, cap;
    strmap ids;             /* identity -> index into t */
    int64_t entries;        /* music entries read */
    int64_t other;          /* entries without a track (podcasts, audiobooks) */
    int64_t files;
    int ranked;             /* the input held ranked CSV lists (no play counts) */
    int plays_input;        /* the input held play histories */
    long min_ms;            /* a play counts from this many ms (Spotify: 30 s) */
} hist;

void hist_init(hist *h, long min_ms);
void hist_free(hist *h);

/* 1 when the file name is one of the export's history files
 * (StreamingHistory*.json, Streaming_History_Audio_*.json, endsong*.json). */
int hist_is_history_name(const char *name);

/* Adds a file (JSON history or CSV ranked list, told apart by content) or
 * every history file of a directory (others, like YourLibrary.json, are
 * skipped).  0 ok; -1 with "path:line: what; what to do" in err. */
int hist_add_path(hist *h, const char *path, char *err, size_t errlen);
/* JSON text of one history file; name is used in messages. */
int hist_add_json(hist *h, const char *text, size_t len, const char *name, char *err, size_t errlen);
/* A CSV ranked list: header with a title column (track_name, trackName,
 * title, name, track, song), an artist column (artist, artist_name,
 * artistName, track_artist, artists), optional uri/id (spotify_track_uri,
 * uri, track_uri, track_id, id) and rank columns.  Rows in rank order (the
 * rank column when present, else file order). */
int hist_add_csv(hist *h, const char *path, char *err, size_t errlen);

/* The match key of a song: compact folds of title and artist joined by
 * '\x1f'; loose = the title cut before " - ", " (" and " [" (versions,
 * remasters, featured artists).  malloc'd, NULL when out of memory. */
char *hist_name_key(const char *title, const char *artist, int loose);

#endif
