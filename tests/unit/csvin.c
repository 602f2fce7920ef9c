/* csvin.c - CSV rows through libcsv: fields, physical start lines (quoted
 * fields spanning lines, blank lines, CRLF), BOM, want mask, rewind, and the
 * unclosed-quote error. */
#include "check.h"
#include "csvin.h"

#include <string.h>
#include <unistd.h>

typedef struct { int n; long line[16]; int nf[16]; char f[16][4][32]; int null1[16]; } got;

static int collect(void *ctx, const csvin_row *r) {
    got *g = ctx;
    if (g->n >= 16) return 1;
    g->line[g->n] = r->line;
    g->nf[g->n] = r->nfields;
    g->null1[g->n] = r->nfields > 1 && r->field[1] == NULL;
    for (int i = 0; i < r->nfields && i < 4; i++)
        if (r->field[i]) snprintf(g->f[g->n][i], 32, "%s", r->field[i]);
    g->n++;
    return 0;
}

static char *write_tmp(const char *bytes) {
    static char path[64];
    strcpy(path, "/tmp/csvin-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, bytes, strlen(bytes)) != (ssize_t)strlen(bytes)) return NULL;
    close(fd);
    return path;
}

int main(void) {
    const char *text =
        "\xEF\xBB\xBFid,name,x\r\n"                 /* line 1 */
        "a,\"Hello, world\",1\r\n"                  /* 2 */
        "b,\"two\r\nlines\",2\r\n"                  /* 3-4 */
        "\r\n"                                      /* 5: blank */
        "\"multi\nline\nkey\",plain,3\r\n"          /* 6-8 */
        "c,\"say \"\"hi\"\"\",4,extra\r\n"          /* 9: ragged */
        "d,5,\"last\"";                             /* 10: no final newline */
    char *path = write_tmp(text), err[256];
    csvin *c = path ? csvin_open(path, ',', err, sizeof err) : NULL;
    CHECK(c != NULL, "open a temp file");
    if (!c) return 1;
    got g = {0};
    int rc = csvin_each(c, collect, &g);
    CHECK(rc == 0 && g.n == 6, "6 rows (header included), rc %d n %d", rc, g.n);
    CHECK(strcmp(g.f[0][0], "id") == 0, "BOM dropped from the first header cell: '%s'", g.f[0][0]);
    CHECK(g.line[0] == 1 && g.line[1] == 2 && g.line[2] == 3 && g.line[3] == 6 && g.line[4] == 9 &&
          g.line[5] == 10, "physical start lines 1 2 3 6 9 10: got %ld %ld %ld %ld %ld %ld",
          g.line[0], g.line[1], g.line[2], g.line[3], g.line[4], g.line[5]);
    CHECK(strcmp(g.f[1][1], "Hello, world") == 0, "quoted comma: '%s'", g.f[1][1]);
    CHECK(strcmp(g.f[2][1], "two\r\nlines") == 0, "quoted CRLF kept inside the field");
    CHECK(strcmp(g.f[3][0], "multi\nline\nkey") == 0, "multi-line first field");
    CHECK(strcmp(g.f[4][1], "say \"hi\"") == 0 && g.nf[4] == 4, "doubled quotes; ragged row has 4 fields");
    CHECK(strcmp(g.f[5][2], "last") == 0, "last row: a closed quoted field, no final newline");

    /* want mask and rewind */
    unsigned char want[3] = {1, 0, 1};
    CHECK(csvin_rewind(c) == 0 && csvin_want(c, want, 3) == 0, "rewind a regular file");
    got g2 = {0};
    rc = csvin_each(c, collect, &g2);
    CHECK(rc == 0 && g2.n == 6 && g2.null1[1] && strcmp(g2.f[1][2], "1") == 0 && g2.line[5] == 10,
          "second pass: unwanted field 1 is NULL, wanted field 2 kept, same lines");
    csvin_close(c);
    unlink(path);

    /* a NUL byte in a field is an error with its line, wanted or not; a
     * rewind after an error in the first row reads the file again (it used
     * to start where the reader had stopped: 0 rows, no error; found by
     * tests/fuzz/csvin_fuzz.c) */
    {
        static const char nul[] = "id,a\0b\n1,2\n";
        char npath[] = "/tmp/csvin-nul-XXXXXX";
        int fd = mkstemp(npath);
        int wrote = fd >= 0 && write(fd, nul, sizeof nul - 1) == (ssize_t)(sizeof nul - 1);
        if (fd >= 0) close(fd);
        csvin *n = wrote ? csvin_open(npath, ',', err, sizeof err) : NULL;
        got gn = {0};
        int r1 = n ? csvin_each(n, collect, &gn) : 0;
        CHECK(n && r1 < 0 && strstr(csvin_error(n), ":1: a NUL byte in field 2"), "a NUL in the header: %s", n ? csvin_error(n) : "?");
        int r2 = n && csvin_rewind(n) == 0 ? csvin_each(n, collect, &gn) : 0;
        CHECK(r2 < 0 && gn.n == 0 && strstr(csvin_error(n), ":1: a NUL byte"), "after a rewind, the same error (rc %d, %d rows)", r2, gn.n);
        csvin_close(n);
        unlink(npath);
    }

    /* an unclosed quote is reported with a line */
    path = write_tmp("a,b\n1,2\n3,\"open\n4,5\n");
    c = csvin_open(path, ',', err, sizeof err);
    got g3 = {0};
    rc = c ? csvin_each(c, collect, &g3) : 0;
    CHECK(rc == -1 && strstr(csvin_error(c), ":3: a quoted field") != NULL,
          "unclosed quote: '%s'", c ? csvin_error(c) : "");
    csvin_close(c);
    unlink(path);

    /* a tab delimiter keeps commas */
    path = write_tmp("k\tv\nx,y\t1,5\n");
    c = csvin_open(path, '\t', err, sizeof err);
    got g4 = {0};
    rc = c ? csvin_each(c, collect, &g4) : -1;
    CHECK(rc == 0 && g4.n == 2 && strcmp(g4.f[1][0], "x,y") == 0 && strcmp(g4.f[1][1], "1,5") == 0,
          "tab delimiter: 'x,y' and '1,5'");
    csvin_close(c);
    unlink(path);

    /* csvin_range: parts of a file.  Bytes: "h,v\n" 0-3, "a,1\n" 4-7,
     * "\"q\n" 8-10 (a quote opens at 8), "b,2\",3\n" 11-17, "c,4\n" 18-21 */
    path = write_tmp("h,v\na,1\n\"q\nb,2\",3\nc,4\n");
    c = csvin_open(path, ',', err, sizeof err);
    {
        got gr = {0};
        /* a stop between rows: the part ends there */
        rc = c && csvin_range(c, 0, 8, 1) == 0 ? csvin_each(c, collect, &gr) : -9;
        CHECK(rc == 0 && gr.n == 2 && csvin_ended_at_stop(c) && !csvin_past_stop(c) && csvin_rows(c) == 2 &&
              csvin_next_line(c) == 3, "range [0,8): 2 rows, ended at its stop (rc %d n %d)", rc, gr.n);
        /* a stop inside a quoted field: the parse goes on to the end */
        got gq = {0};
        rc = csvin_range(c, 0, 11, 1) == 0 ? csvin_each(c, collect, &gq) : -9;
        CHECK(rc == 0 && gq.n == 4 && !csvin_ended_at_stop(c) && csvin_past_stop(c) &&
              strcmp(gq.f[2][0], "q\nb,2") == 0 && gq.line[3] == 5,
              "range [0,11): no row ends at 11, so all 4 rows, the quoted one whole (rc %d n %d)", rc, gq.n);
        /* a part that starts at line 3: row 0 is data, lines count on from there */
        got gs = {0};
        rc = csvin_range(c, 18, -1, 5) == 0 ? csvin_each(c, collect, &gs) : -9;
        CHECK(rc == 0 && gs.n == 1 && gs.line[0] == 5 && strcmp(gs.f[0][0], "c") == 0 && csvin_rows(c) == 1,
              "range [18,end) from line 5: one data row on line 5 (rc %d n %d)", rc, gs.n);
        /* what a part started inside the quote would make of it: a row "b,2\",3" that
         * the whole file does not have (why a cut is used only when the part before
         * it ends between rows there) */
        got gb = {0};
        rc = csvin_range(c, 11, -1, 4) == 0 ? csvin_each(c, collect, &gb) : -9;
        CHECK(rc == 0 && gb.n == 2 && strcmp(gb.f[0][0], "b") == 0, "range [11,end): rows the whole file does not have");
        CHECK(csvin_range(c, 5, 5, 1) < 0, "an empty range is refused");
    }
    csvin_close(c);
    unlink(path);

    CHECK(csvin_open("/nonexistent/x.csv", ',', err, sizeof err) == NULL && strstr(err, "No such file"),
          "missing file: '%s'", err);
    return CHECK_DONE();
}
