/* csvnum.h - numbers as spreadsheets and R/pandas write them in CSV cells:
 * plain decimals, exponents (1.16E-06), quoted thousands ("1,021"), and the
 * missing-value spellings NA / N/A / NaN / nan / empty.
 *
 * The result is always the correctly rounded double that glibc strtod gives
 * for the same digits: plain decimals with at most 19 significant digits and
 * a small exponent take an exact fast path (Clinger 1990: an integer below
 * 2^53 times or divided by an exact power of ten below 1e23 is one correctly
 * rounded IEEE operation); everything else goes to strtod. */
#ifndef SONGPIPE_CSVNUM_H
#define SONGPIPE_CSVNUM_H
#include <stddef.h>

enum {
    CSVNUM_OK = 0,      /* *out holds the value */
    CSVNUM_EMPTY = 1,   /* empty, blanks only, or a missing-value word */
    CSVNUM_BAD = 2,     /* not a decimal number (hex, inf, text, bad grouping) */
    CSVNUM_RANGE = 3    /* a number, but outside the f32 range (|x| > FLT_MAX) */
};

/* Parses s[0..len) (need not be NUL-terminated).  Leading and trailing
 * blanks are ignored.  Grammar: [+-] (D+ [. D*] | . D+) [(e|E) [+-] D+] where
 * the integer part may be grouped by commas in threes ("1,234,567.5"). */
int csvnum_parse(const char *s, size_t len, double *out);

/* 1 when s[0..len) (blanks trimmed) is a missing-value word or empty. */
int csvnum_is_missing(const char *s, size_t len);

#endif
