/* jsoncheck.h - what cJSON lets through and a data file must not hold: bytes
 * after the document, a key twice in one object (cJSON keeps both and
 * lookups take the first), and NUL characters (raw, or escaped as \u0000),
 * which cJSON's NUL-terminated strings would silently cut; numbers past the
 * double range, which cJSON reads as inf. */
#ifndef SONGPIPE_JSONCHECK_H
#define SONGPIPE_JSONCHECK_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Before parsing: a raw NUL byte or a \u0000 escape anywhere in text.
 * 0 ok; -1 with "name:line:column: ..." in err. */
int json_check_text(const char *text, size_t len, const char *name, char *err, size_t errlen);
/* After cJSON_ParseWithLengthOpts stopped at end: only whitespace may follow.
 * 0 ok; -1 with "name:line:column: ..." in err. */
int json_check_end(const char *text, size_t len, const char *end, const char *name, char *err, size_t errlen);
/* Every object of the tree holds each key once, and every number is finite
 * (cJSON reads 1e999 as inf).  0 ok; -1 with "name: in PATH: key "k" appears
 * twice" or "name: at PATH: the number inf is outside ..." in err (PATH like
 * playlists[3].tracks[0]). */
int json_check_keys(const cJSON *root, const char *name, char *err, size_t errlen);
/* the three in order, for a tree already parsed from text */
int json_check_document(const char *text, size_t len, const char *end, const cJSON *root,
                        const char *name, char *err, size_t errlen);
/* line and column (1-based) of text + at */
void json_line_col(const char *text, size_t at, long *line, long *col);

#endif
