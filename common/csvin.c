/* csvin.c - CSV rows with physical line numbers, on libcsv.
 *
 * Line numbers: the input is fed to libcsv one physical line (up to and
 * including its LF) at a time, so while libcsv runs its callbacks we know the
 * line being parsed.  A row ends inside the line of its terminator; its first
 * field ends there too or earlier, and the lines it spans are the LF bytes
 * inside that field (libcsv keeps them verbatim in quoted fields).  So
 * start line = current line - LFs in field 0, without peeking into libcsv. */
#include "csvin.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSVIN_BUF (1u << 20)

struct csvin {
    int fd, own_fd, seekable, eof, at_start, stopped;
    char *name;
    unsigned char delim;
    struct csv_parser p;
    int parser_live;
    char *buf;
    long line;                  /* physical line of the bytes being fed */
    long row_index, row_line, last_row_end;
    char *arena;                /* fields of the current row, NUL-terminated */
    size_t arena_len, arena_cap;
    size_t *off, *lens;
    const char **ptrs;
    int nf, fcap;
    unsigned char *want;
    int nwant, want_all;
    csvin_row_fn fn;
    void *ctx;
    int stop;                   /* fn's nonzero return, or -1 on our error */
    char err[512];
};

static int cfail(csvin *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->stop = -1;
    return -1;
}

const char *csvin_error(const csvin *c) { return c->err; }
const char *csvin_name(const csvin *c) { return c->name; }

csvin *csvin_open(const char *path, unsigned char delim, char *err, size_t errlen) {
    csvin *c = calloc(1, sizeof *c);
    int stdin_ = !path || strcmp(path, "-") == 0;
    if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
    c->delim = delim;
    c->name = strdup(stdin_ ? "<stdin>" : path);
    c->buf = malloc(CSVIN_BUF);
    c->want_all = 1;
    c->fd = stdin_ ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    c->own_fd = !stdin_;
    if (!c->name || !c->buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (c->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(c->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", c->name);
        goto fail;
    }
    c->seekable = fstat(c->fd, &st) == 0 && S_ISREG(st.st_mode);
    if (csvin_rewind(c)) { snprintf(err, errlen, "%s", c->err); goto fail; }
    return c;
fail:
    if (c->fd >= 0 && c->own_fd) close(c->fd);
    c->fd = -1;
    csvin_close(c);
    return NULL;
}

void csvin_close(csvin *c) {
    if (!c) return;
    if (c->parser_live) csv_free(&c->p);
    if (c->own_fd && c->fd >= 0) close(c->fd);
    free(c->name); free(c->buf); free(c->arena); free(c->off); free(c->lens);
    free(c->ptrs); free(c->want);
    free(c);
}

int csvin_want(csvin *c, const unsigned char *want, int n) {
    unsigned char *w = n > 0 ? malloc((size_t)n) : NULL;
    if (n > 0 && !w) return cfail(c, "out of memory");
    if (n > 0) memcpy(w, want, (size_t)n);
    free(c->want);
    c->want = w;
    c->nwant = n;
    c->want_all = 0;
    return 0;
}

/* read up to want bytes, at least min unless the input ends */
static ssize_t read_some(csvin *c, char *p, size_t want, size_t min) {
    size_t got = 0;
    while (got < want) {
        ssize_t k = read(c->fd, p + got, want - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return cfail(c, "%s: read error: %s", c->name, strerror(errno));
        if (k == 0) { c->eof = 1; break; }
        got += (size_t)k;
        if (got >= min) break;
    }
    return (ssize_t)got;
}

int csvin_rewind(csvin *c) {
    if (c->row_index > 0 || c->eof) {
        if (!c->seekable) return cfail(c, "%s: cannot read a pipe twice", c->name);
        if (lseek(c->fd, 0, SEEK_SET) < 0) return cfail(c, "%s: %s", c->name, strerror(errno));
    }
    if (c->parser_live) csv_free(&c->p);
    if (csv_init(&c->p, 0)) return cfail(c, "out of memory");
    c->parser_live = 1;
    csv_set_delim(&c->p, c->delim);
    c->eof = c->stopped = c->stop = 0;
    c->at_start = 1;
    c->line = 1;
    c->row_index = 0;
    c->last_row_end = 0;
    c->nf = 0;
    c->arena_len = 0;
    return 0;
}

static int grow_fields(csvin *c) {
    int cap = c->fcap ? c->fcap * 2 : 64;
    size_t *off = realloc(c->off, (size_t)cap * sizeof *off);
    if (off) c->off = off;
    size_t *lens = realloc(c->lens, (size_t)cap * sizeof *lens);
    if (lens) c->lens = lens;
    const char **ptrs = realloc(c->ptrs, (size_t)cap * sizeof *ptrs);
    if (ptrs) c->ptrs = ptrs;
    if (!off || !lens || !ptrs) return -1;
    c->fcap = cap;
    return 0;
}

static void on_field(void *data, size_t len, void *ctx) {
    csvin *c = ctx;
    if (c->stop) return;
    int i = c->nf;
    if (i == 0) {
        long lfs = 0;
        for (const char *p = data, *e = p + len; p && (p = memchr(p, '\n', (size_t)(e - p))); p++) lfs++;
        c->row_line = c->line - lfs;
    }
    if (i >= c->fcap && grow_fields(c)) { cfail(c, "out of memory"); return; }
    c->nf++;
    if (!c->want_all && (i >= c->nwant || !c->want[i])) {
        c->off[i] = SIZE_MAX;
        c->lens[i] = 0;
        return;
    }
    if (c->arena_len + len + 1 > c->arena_cap) {
        if (c->arena_len + len + 1 > CSVIN_MAX_ROW) {
            cfail(c, "%s:%ld: a row longer than %u MiB: a quote opened on or after "
                  "line %ld is probably never closed", c->name, c->line,
                  CSVIN_MAX_ROW >> 20, c->last_row_end + 1);
            return;
        }
        size_t cap = c->arena_cap ? c->arena_cap : 4096;
        while (cap < c->arena_len + len + 1) cap *= 2;
        char *a = realloc(c->arena, cap);
        if (!a) { cfail(c, "out of memory"); return; }
        c->arena = a;
        c->arena_cap = cap;
    }
    if (len) memcpy(c->arena + c->arena_len, data, len);
    c->arena[c->arena_len + len] = 0;
    c->off[i] = c->arena_len;
    c->lens[i] = len;
    c->arena_len += len + 1;
}

static void on_row(int term, void *ctx) {
    csvin *c = ctx;
    (void)term;
    if (c->stop) return;
    for (int i = 0; i < c->nf; i++)
        c->ptrs[i] = c->off[i] == SIZE_MAX ? NULL : c->arena + c->off[i];
    csvin_row row = {c->nf, c->ptrs, c->lens, c->row_line, c->row_index};
    int rc = c->nf ? c->fn(c->ctx, &row) : 0;
    c->row_index++;
    c->last_row_end = c->line;
    c->nf = 0;
    c->arena_len = 0;
    if (rc) c->stop = rc;
}

/* feed one chunk that holds at most one LF, at its end */
static int feed(csvin *c, const char *p, size_t n) {
    if (csv_parse(&c->p, p, n, on_field, on_row, c) != n)
        return cfail(c, "%s:%ld: %s", c->name, c->line, csv_strerror(csv_error(&c->p)));
    if (!c->stop && csv_get_buffer_size(&c->p) > CSVIN_MAX_ROW)
        return cfail(c, "%s:%ld: a field longer than %u MiB: a quote opened on or after "
                     "line %ld is probably never closed", c->name, c->line,
                     CSVIN_MAX_ROW >> 20, c->last_row_end + 1);
    return c->stop;
}

static int feed_lines(csvin *c, const char *p, size_t n) {
    const char *end = p + n;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *stop = lf ? lf + 1 : end;
        int rc = feed(c, p, (size_t)(stop - p));
        if (lf) c->line++;
        if (rc) return rc;
        p = stop;
    }
    return 0;
}

int csvin_each(csvin *c, csvin_row_fn fn, void *ctx) {
    if (c->stopped) return cfail(c, "%s: csvin_each after a stop needs csvin_rewind", c->name);
    c->fn = fn;
    c->ctx = ctx;
    int rc = 0;
    while (!rc && !c->eof) {
        /* the first read fills enough bytes to see a whole BOM even on a pipe */
        ssize_t n = read_some(c, c->buf, CSVIN_BUF, c->at_start ? 3 : 1);
        if (n < 0) { rc = -1; break; }
        const char *p = c->buf;
        if (c->at_start && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, n -= 3;
        c->at_start = 0;
        rc = feed_lines(c, p, (size_t)n);
    }
    /* libcsv reports an unclosed quote at the end only in its strict mode,
     * which also refuses stray quotes that spreadsheets write; so look at
     * the parser: pstate 2 is libcsv.c's FIELD_BEGUN (inside a field, no
     * closing quote seen yet; tests/unit/csvin.c checks this). */
    if (!rc && c->p.quoted && c->p.pstate == 2)
        return cfail(c, "%s:%ld: a quoted field that opens on or after this line is "
                     "never closed; check the quotes", c->name, c->last_row_end + 1);
    if (!rc) {
        if (csv_fini(&c->p, on_field, on_row, c) != 0 && !c->stop)
            return cfail(c, "%s: %s", c->name, csv_strerror(csv_error(&c->p)));
        rc = c->stop;
    }
    c->stopped = 1;
    return rc;
}
