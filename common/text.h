/* text.h - text folding for name search ("Beyoncé" is found by "beyonce"),
 * "title - artist" query splitting, and an approximate-substring distance
 * for "did you mean" suggestions.  UTF-8 in, UTF-8 out; no locale. */
#ifndef SONGPIPE_TEXT_H
#define SONGPIPE_TEXT_H

#include <stddef.h>

/* Folds s into out (cap bytes, always NUL-terminated; truncated at a
 * character boundary) and returns the folded length:
 *   - ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals are
 *     lowered; accented Latin letters lose their accents (é -> e, ß -> ss,
 *     Æ -> ae), combining marks (U+0300..U+036F) are dropped;
 *   - apostrophes (' ` U+2018 U+2019) vanish ("Don't" -> "dont"), '&' reads
 *     as "and";
 *   - any other punctuation, symbol or space is a word break: with
 *     compact = 0 word breaks become one space (trimmed at both ends), with
 *     compact = 1 they vanish ("AC/DC" -> "acdc"), which is what matching
 *     uses so that spacing and punctuation never decide a match;
 *   - other characters (CJK, ...) are kept as they are.
 * Malformed UTF-8 bytes are dropped. */
size_t text_fold(const char *s, char *out, size_t cap, int compact);
/* malloc'd text_fold; NULL when out of memory. */
char *text_fold_dup(const char *s, int compact);

/* Splits a query "TITLE - ARTIST", "TITLE – ARTIST", "TITLE — ARTIST" or
 * "TITLE by ARTIST" (case-insensitive " by ") at the LAST such separator.
 * Returns 1 and sets the title part to s[0..*title_len) and *artist to the
 * text after the separator; 0 when there is no separator with text on both
 * sides. */
int text_split_title_artist(const char *s, size_t *title_len, const char **artist);

/* Smallest number of single-byte edits (insert, delete, substitute) that
 * turn needle into some substring of hay (Sellers' algorithm): 0 when
 * needle is a substring.  Costs O(|needle| * |hay|); needle is cut at 256
 * bytes. */
int text_substring_distance(const char *needle, const char *hay);

/* Number of UTF-8 characters in the first n bytes of s (for aligning
 * columns of text output). */
size_t text_width(const char *s, size_t n);
/* Largest byte length <= n of a prefix of s holding at most `chars`
 * characters (never splits a character). */
size_t text_prefix_bytes(const char *s, size_t n, size_t chars);
/* 1 when s is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 otherwise. */
int text_valid_utf8(const char *s);

#endif
