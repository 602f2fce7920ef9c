/* history.h - a listener's Spotify history, read from a data export and
 * summed per track: the basic StreamingHistory*.json /
 * StreamingHistory_music_*.json (endTime, artistName, trackName, msPlayed),
 * the extended Streaming_History_Audio_*.json / endsong_*.json (ts,
 * ms_played, spotify_track_uri, master_metadata_track_name,
 * master_metadata_album_artist_name, skipped, ...), or a plain CSV of ranked
 * tracks (a title column and an artist column, optionally uri and rank).
 * An export is read as Spotify delivers it: my_spotify_data.zip (members
 * read in memory, nothing extracted) or its extracted folder, history files
 * found in any subfolder ("Spotify Extended Streaming History/", "Spotify
 * Account Data/", "MyData/", ...).
 *
 * A track is its spotify:track: uri when the export has one, else its folded
 * artist + title (hist_name_key), so "Beyoncé"/"BEYONCE" are one artist. */
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
    int64_t entries;        /* music entries read (rows with a track) */
    int64_t podcast;        /* podcast rows (an episode, no track): skipped */
    int64_t other;          /* other rows without a track (audiobooks, ...): skipped */
    int64_t files;          /* history files read */
    int64_t video_files, video_rows;    /* Streaming_History_Video_*: skipped */
    int64_t basic_skipped;  /* basic files not read: the extended history of
                               the same export covers their plays */
    char first_day[11], last_day[11];   /* YYYY-MM-DD of the music rows, "" if none */
    size_t max_file;        /* bytes: a larger history file or zip member is
                               refused (default HIST_MAX_FILE) */
    int ranked;             /* the input held ranked CSV lists (no play counts) */
    int plays_input;        /* the input held play histories */
    long min_ms;            /* a play counts from this many ms (Spotify: 30 s) */
} hist;

void hist_init(hist *h, long min_ms);
void hist_free(hist *h);

#define HIST_MAX_FILE ((size_t)1 << 30)     /* default max_file: 1 GiB */

/* What a file of an export is, by its base name (not its folder). */
enum hist_kind {
    HIST_NONE,              /* not history (YourLibrary.json, Userdata.json, ...) */
    HIST_BASIC,             /* StreamingHistory*.json, StreamingHistory_music_*.json */
    HIST_EXTENDED,          /* Streaming_History_Audio_*.json, endsong*.json */
    HIST_VIDEO              /* Streaming_History_Video_*.json: counted, skipped */
};
enum hist_kind hist_kind_of(const char *base);
/* 1 when the file name is one of the export's music history files. */
int hist_is_history_name(const char *name);

/* Adds a path:
 *   - a folder: every history file in it and its subfolders (to 16 levels),
 *     in byte order of the path below the folder;
 *   - a zip archive (told by its first bytes): the same for its members,
 *     read in memory; a member path with a ".." part or a leading "/"
 *     (zip-slip) refuses the whole archive, and so does a history member
 *     larger than max_file unpacked;
 *   - any other file: a JSON history or a CSV ranked list, by content.
 * In a folder or archive holding extended history, its basic files are
 * counted in basic_skipped and not read (Spotify's two downloads cover the
 * same plays; reading both would count the last year twice).  Files larger
 * than max_file are refused.  0 ok; -1 with "path:line: what; what to do"
 * (a member: "archive.zip:member path") in err. */
int hist_add_path(hist *h, const char *path, char *err, size_t errlen);
/* JSON text of one history file; name is used in messages. */
int hist_add_json(hist *h, const char *text, size_t len, const char *name, char *err, size_t errlen);
/* JSON text of a Streaming_History_Video_* file: checked like a history
 * file, its rows counted in video_rows, nothing else read. */
int hist_count_video(hist *h, const char *text, size_t len, const char *name, char *err, size_t errlen);
/* A CSV ranked list: header with a title column (track_name, trackName,
 * title, name, track, song), an artist column (artist, artist_name,
 * artistName, track_artist, artists), optional uri/id (spotify_track_uri,
 * uri, track_uri, track_id, id) and rank columns.  Rows in rank order (the
 * rank column when present, else file order). */
int hist_add_csv(hist *h, const char *path, char *err, size_t errlen);

/* The match key of a song, malloc'd (NULL when out of memory): the title
 * and the artist, each folded by text_fold(compact = 1), joined by '\x1f'.
 * Folding: case (Latin, Greek, Cyrillic), accents (é -> e, ß -> ss),
 * apostrophes dropped, '&' = "and", every other punctuation, symbol and
 * space removed:  "Don't Stop Me Now" / "DONT STOP ME NOW!" are one key.
 * loose = 1 also cuts the title before its first " - ", " (", " [" and
 * before " feat. ", " feat ", " ft. ", " featuring " (any case), and the
 * artist before the same feat. markers:  "Song - Remastered 2011",
 * "Song (feat. X)", "Song feat. X" / "Artist feat. X" all become "Song" by
 * "Artist".  taste matches by uri, then exact keys, then loose keys. */
char *hist_name_key(const char *title, const char *artist, int loose);

#endif
