/* csvnum.c - CSV cell to double: exact fast path for plain decimals, strtod
 * for the rest.  See csvnum.h for the grammar and the exactness argument. */
#include "csvnum.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* exact in binary64: 10^0 .. 10^22 (5^22 < 2^53) */
static const double pow10_exact[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void trim(const char **s, size_t *len) {
    const char *p = *s;
    size_t n = *len;
    while (n && is_blank(*p)) p++, n--;
    while (n && is_blank(p[n - 1])) n--;
    *s = p;
    *len = n;
}

static int word_is(const char *s, size_t len, const char *w) {
    return strlen(w) == len && memcmp(s, w, len) == 0;
}

int csvnum_is_missing(const char *s, size_t len) {
    trim(&s, &len);
    /* readr writes NA; pandas also reads N/A and NaN as missing */
    return len == 0 || word_is(s, len, "NA") || word_is(s, len, "N/A") ||
           word_is(s, len, "NaN") || word_is(s, len, "nan");
}

/* strtod on a NUL-terminated copy of s[0..len) without the grouping commas */
static int slow_path(const char *s, size_t len, double *out) {
    char small[128], *buf = small;
    if (len >= sizeof small && !(buf = malloc(len + 1))) return CSVNUM_BAD;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != ',') buf[n++] = s[i];
    buf[n] = 0;
    char *end;
    *out = strtod(buf, &end);   /* ERANGE: inf (caught below) or a denormal/0 */
    int ok = end == buf + n;
    if (buf != small) free(buf);
    return ok ? CSVNUM_OK : CSVNUM_BAD;
}

typedef struct {
    uint64_t mant;      /* first 19 significant digits */
    int sig;            /* significant digits seen (capped use: > 19 = truncated) */
    int dexp;           /* power of ten that scales mant (digits dropped/fraction) */
    int digits;         /* all digits, leading zeros included */
} digits_acc;

static void take_digit(digits_acc *a, int d, int in_fraction) {
    a->digits++;
    if (a->sig == 0 && d == 0) {            /* leading zero: only its position counts */
        if (in_fraction) a->dexp--;
        return;
    }
    if (a->sig < 19) {
        a->mant = a->mant * 10 + (uint64_t)d;
        if (in_fraction) a->dexp--;
    } else if (!in_fraction) {
        a->dexp++;                          /* dropped integer digit */
    }
    a->sig++;
}

/* Integer part with optional comma grouping (1-3 digits, then groups of 3). */
static size_t scan_integer(const char *s, size_t len, size_t i, digits_acc *a, int *bad) {
    size_t group = 0;
    int grouped = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') { take_digit(a, c - '0', 0); group++; continue; }
        if (c != ',') break;
        if (group == 0 || (grouped ? group != 3 : group > 3)) { *bad = 1; return i; }
        grouped = 1;
        group = 0;
    }
    if (grouped && group != 3) *bad = 1;
    return i;
}

int csvnum_parse(const char *s, size_t len, double *out) {
    trim(&s, &len);
    if (csvnum_is_missing(s, len)) return CSVNUM_EMPTY;
    size_t i = 0;
    int neg = 0, bad = 0;
    if (s[0] == '+' || s[0] == '-') neg = s[i++] == '-';
    digits_acc a = {0, 0, 0, 0};
    i = scan_integer(s, len, i, &a, &bad);
    if (bad) return CSVNUM_BAD;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) take_digit(&a, s[i] - '0', 1);
    if (a.digits == 0) return CSVNUM_BAD;
    long ex = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i >= len || s[i] < '0' || s[i] > '9') return CSVNUM_BAD;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (ex < 100000) ex = ex * 10 + (s[i] - '0');
        if (eneg) ex = -ex;
    }
    if (i != len) return CSVNUM_BAD;

    double v;
    long e = ex + a.dexp;
    if (a.mant == 0) {
        v = 0.0;
    } else if (a.sig <= 19 && a.mant <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        v = e >= 0 ? (double)a.mant * pow10_exact[e] : (double)a.mant / pow10_exact[-e];
    } else {
        int rc = slow_path(s + (neg || s[0] == '+'), len - (neg || s[0] == '+'), &v);
        if (rc != CSVNUM_OK) return rc;
    }
    if (neg) v = -v;
    if (isinf((float)v)) return CSVNUM_RANGE;
    *out = v;
    return CSVNUM_OK;
}
