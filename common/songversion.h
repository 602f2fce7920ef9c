/* songversion.h - the version key: one song under its remasters, remixes,
 * live and radio edits, "feat." variants and duplicate ids.  Every caller
 * that folds versions (knn and serve through catalog.c's version groups,
 * taste-rank's lists, mpd-recommend's continuations) uses this one rule.
 *
 * The rule (README.md, "One version per song"):
 *   base title = the title with version suffixes cut, repeatedly, while
 *     one of these is found:
 *       " - X ..." (also " – ", " — ")  where X, up to the next such dash,
 *                                       holds a version word: cut from the
 *                                       dash to the end ("Lola - Live at
 *                                       Providence - September 1979");
 *       "(X)" / "[X]" at the end        where X holds a version word;
 *     version words (whole words after text_fold, any case): remaster,
 *     remastered, remasterizado, remasterizada, remix, remixed, mix, edit,
 *     edited, live, vivo, version, acoustic, acustico, unplugged, mono,
 *     stereo, demo, radio, extended, instrumental, feat, ft, featuring,
 *     with, bonus, explicit, clean, recorded, session, sessions, rework,
 *     rerecorded, vip, dub, original, single, album, from, anniversary,
 *     deluxe, edition (so "2011 Mix" and "Remastered 2009" are cut with
 *     their years); a cut that would leave an empty title is not made;
 *   base artist = the artist cut before " feat. ", " feat ", " ft. ",
 *     " featuring " (any case);
 *   key = text_fold(base title, compact) '\x1f' text_fold(base artist, compact).
 * So "Bohemian Rhapsody - Remastered 2011", "Bohemian Rhapsody - 2011 Mix"
 * (Queen) are one song; "Despacito (Featuring Daddy Yankee)" and
 * "Despacito - Remix" (Luis Fonsi) are "Despacito"; "Waka Waka (This Time
 * for Africa)" keeps its parenthesis (no version word); a cover by another
 * artist stays another song. */
#ifndef SONGPIPE_SONGVERSION_H
#define SONGPIPE_SONGVERSION_H

#include <stddef.h>

/* Length in bytes of the base title: title[0..len) with version suffixes
 * cut (trailing spaces trimmed).  Equals strlen(title) for an original. */
size_t sv_base_title_len(const char *title);
/* Length of the base artist (cut before a feat. marker). */
size_t sv_base_artist_len(const char *artist);
/* The version key of a song, malloc'd; NULL when out of memory.  NULL
 * title or artist read as "". */
char *sv_version_key(const char *title, const char *artist);
/* 1 when the title is a version (a suffix was cut), 0 for an original. */
int sv_is_version(const char *title);

#endif
