/* csvnum.c - the CSV number parser against glibc strtod: bit-identical
 * doubles on random decimals of every length and exponent, plus the edge
 * cases of the grammar (grouping, missing words, range). */
#include "check.h"
#include "csvnum.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* a random decimal: sign, 1-25 digits with a point somewhere, maybe an exponent */
static void random_decimal(char *s) {
    int n = 0, nd = 1 + (int)(next() % 25);
    if (next() % 4 == 0) s[n++] = next() % 2 ? '-' : '+';
    int point = (int)(next() % (nd + 2)) - 1;
    for (int i = 0; i < nd; i++) {
        if (i == point) s[n++] = '.';
        s[n++] = (char)('0' + (next() % 3 == 0 ? 0 : next() % 10));
    }
    if (next() % 3 == 0) {
        s[n++] = next() % 2 ? 'e' : 'E';
        if (next() % 2) s[n++] = next() % 2 ? '-' : '+';
        n += sprintf(s + n, "%d", (int)(next() % 45));
    }
    s[n] = 0;
}

int main(void) {
    /* random strings: same double as strtod, so the same float too */
    int mismatch = 0, total = 0, fast_bad = 0;
    char s[64], *end;
    for (int k = 0; k < 300000; k++) {
        random_decimal(s);
        double want = strtod(s, &end), got = 0;
        int rc = csvnum_parse(s, strlen(s), &got);
        if (isinf((float)want)) { fast_bad += rc != CSVNUM_RANGE; continue; }
        total++;
        if (rc != CSVNUM_OK || !same_bits(got, want) || (float)got != (float)want) {
            if (mismatch++ < 5) printf("  mismatch: '%s' rc %d got %.17g want %.17g\n", s, rc, got, want);
        }
    }
    CHECK(mismatch == 0 && fast_bad == 0, "%d random decimals parse bit-identical to strtod", total);

    /* printf-made numbers, as CSV writers make them */
    mismatch = 0;
    for (int k = 0; k < 100000; k++) {
        double x = (double)(int64_t)next() / (double)(1ull << (next() % 64));
        static const char *fmts[] = {"%.17g", "%.9g", "%.6f", "%.3e", "%.9E", "%g"};
        snprintf(s, sizeof s, fmts[k % 6], x);
        double want = strtod(s, NULL), got;
        if (csvnum_parse(s, strlen(s), &got) != CSVNUM_OK || !same_bits(got, want)) mismatch++;
    }
    CHECK(mismatch == 0, "100000 printf-formatted doubles parse as strtod does");

    struct { const char *s; int rc; double v; } cases[] = {
        {"1,021", CSVNUM_OK, 1021}, {"12,345,678.5", CSVNUM_OK, 12345678.5},
        {"-1,000", CSVNUM_OK, -1000}, {"1,02", CSVNUM_BAD, 0}, {"1,0211", CSVNUM_BAD, 0},
        {",123", CSVNUM_BAD, 0}, {"1234,567", CSVNUM_BAD, 0}, {"1,,234", CSVNUM_BAD, 0},
        {"1.16E-06", CSVNUM_OK, 1.16e-06}, {"2.33e-5", CSVNUM_OK, 2.33e-5},
        {"-0", CSVNUM_OK, -0.0}, {"+5", CSVNUM_OK, 5}, {".5", CSVNUM_OK, 0.5}, {"5.", CSVNUM_OK, 5},
        {" 3 ", CSVNUM_OK, 3}, {"\t-6.829\r", CSVNUM_OK, -6.829}, {"194754", CSVNUM_OK, 194754},
        {"", CSVNUM_EMPTY, 0}, {"   ", CSVNUM_EMPTY, 0}, {"NA", CSVNUM_EMPTY, 0}, {"N/A", CSVNUM_EMPTY, 0},
        {"NaN", CSVNUM_EMPTY, 0}, {"nan", CSVNUM_EMPTY, 0}, {"na", CSVNUM_BAD, 0},
        {"e5", CSVNUM_BAD, 0}, {"1e", CSVNUM_BAD, 0}, {"1e+", CSVNUM_BAD, 0}, {".", CSVNUM_BAD, 0},
        {"-", CSVNUM_BAD, 0}, {"inf", CSVNUM_BAD, 0}, {"0x10", CSVNUM_BAD, 0}, {"1.2.3", CSVNUM_BAD, 0},
        {"12abc", CSVNUM_BAD, 0}, {"1 2", CSVNUM_BAD, 0}, {"--1", CSVNUM_BAD, 0},
        {"BPM110KeyAModeMajor", CSVNUM_BAD, 0},
        {"1e400", CSVNUM_RANGE, 0}, {"1e39", CSVNUM_RANGE, 0}, {"-3.5e38", CSVNUM_RANGE, 0},
        {"3.4028235e38", CSVNUM_OK, 3.4028235e38}, {"1e-320", CSVNUM_OK, 1e-320},
        {"123456789012345678901234567890", CSVNUM_OK, 123456789012345678901234567890.0},
        {"0.000000000000000000000000001234", CSVNUM_OK, 1.234e-27},
        {"00000000000000000000000000012.5", CSVNUM_OK, 12.5}, {"1e99999999999", CSVNUM_RANGE, 0},
        {"1e-99999999999", CSVNUM_OK, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double v = -777;
        int rc = csvnum_parse(cases[i].s, strlen(cases[i].s), &v);
        int ok = rc == cases[i].rc && (rc != CSVNUM_OK || same_bits(v, cases[i].v));
        CHECK(ok, "'%s' -> rc %d value %.17g (want rc %d %.17g)", cases[i].s, rc, v, cases[i].rc, cases[i].v);
    }
    /* not NUL-terminated: the parser must stop at len */
    double v;
    CHECK(csvnum_parse("12345", 3, &v) == CSVNUM_OK && v == 123, "length-bounded: '123'45 -> 123");
    CHECK(csvnum_is_missing(" NA ", 4) && !csvnum_is_missing("0", 1), "csvnum_is_missing");
    return CHECK_DONE();
}
