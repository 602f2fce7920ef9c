/* csvin.h - streaming CSV rows on top of libcsv, with the physical line
 * number where each row starts (header = line 1; a quoted field spanning
 * lines counts its lines; lines are counted by LF), a UTF-8 BOM dropped,
 * CRLF or LF endings, and a second pass over a regular file.
 *
 *   csvin *c = csvin_open(path, ',', err, sizeof err);
 *   rc = csvin_each(c, on_row, ctx);      // on_row returns > 0 to stop
 *   csvin_rewind(c); csvin_each(c, ...);  // second pass (header again)
 *
 * csvin_each parses in a reader thread, ahead of the rows given to on_row;
 * on_row runs on the calling thread, one row after the other.
 * Memory: a read buffer, 8 batches of parsed rows (each up to 2048 rows or
 * 256 KiB of kept field bytes: a few MiB in all), and one row longer than a
 * batch (at most CSVIN_MAX_ROW), after which the reader waits for on_row
 * instead of reading ahead.
 * libcsv (non-strict mode) trims blanks around unquoted fields, keeps
 * quotes inside unquoted fields as text, and ends a row at CR, LF or CRLF. */
#ifndef SONGPIPE_CSVIN_H
#define SONGPIPE_CSVIN_H
#include <stddef.h>

#define CSVIN_MAX_ROW (64u << 20)   /* bytes in one row: more is an unclosed quote */

typedef struct {
    int nfields;
    const char *const *field;   /* NUL-terminated; NULL for fields not wanted */
    const size_t *len;          /* byte lengths (0 for fields not wanted) */
    long line;                  /* physical line where the row starts */
    long index;                 /* 0 = the header row, then 1, 2, ... */
} csvin_row;

typedef struct csvin csvin;
typedef int (*csvin_row_fn)(void *ctx, const csvin_row *row);

/* path NULL or "-" = stdin.  NULL on error with the reason in err. */
csvin *csvin_open(const char *path, unsigned char delim, char *err, size_t errlen);
/* Keep only fields i with want[i] != 0 (i < n); later fields are dropped.
 * Call it before csvin_each, or from on_row for the header (index 0): it
 * takes effect from the next row.  From on_row for a later row it fails
 * (-1, and csvin_each returns -1), as the rows after it are parsed already.
 * want is copied. */
int csvin_want(csvin *c, const unsigned char *want, int n);
/* Calls fn for every row.  0 at the end of the input, -1 on an error
 * (csvin_error), or the value > 0 that fn returned (parsing stops there). */
int csvin_each(csvin *c, csvin_row_fn fn, void *ctx);
/* Back to the first byte for another csvin_each (regular files only; a
 * pipe is an error).  0 ok, -1 error. */
int csvin_rewind(csvin *c);
/* Parts of a regular file parsed at once (csv-clean --threads): the next
 * csvin_each reads from byte start, where physical line first_line begins;
 * a start > 0 must be a line start, and there row 0 is a data row (no BOM,
 * no header wait).  At byte stop (-1: none) the parse ends when libcsv is
 * between rows there; otherwise it goes on to the end of the file (then
 * the part after stop was not a row boundary, and csvin_past_stop says so,
 * also while csvin_each runs, from any thread).  Rows are indexed from 0
 * in the part.  0 ok, -1 error (a pipe). */
int csvin_range(csvin *c, long long start, long long stop, long first_line);
int csvin_ended_at_stop(const csvin *c);    /* after csvin_each: stopped at stop */
int csvin_past_stop(csvin *c);
long csvin_rows(const csvin *c);            /* rows parsed by the last csvin_each */
long csvin_next_line(const csvin *c);       /* the line after the last one parsed */
const char *csvin_error(const csvin *c);
const char *csvin_name(const csvin *c);   /* the path, or "<stdin>" */
int csvin_fd(const csvin *c);             /* the input's descriptor (pread only) */
void csvin_close(csvin *c);

#endif
