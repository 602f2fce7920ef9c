/* csvin.c - CSV rows with physical line numbers, on libcsv, parsed by a
 * reader thread while the caller works on the rows already parsed.
 *
 * Line numbers: the input is fed to libcsv one physical line (up to and
 * including its LF) at a time, so while libcsv runs its callbacks we know the
 * line being parsed.  A row ends inside the line of its terminator; its first
 * field ends there too or earlier, and the lines it spans are the LF bytes
 * inside that field (libcsv keeps them verbatim in quoted fields).  So
 * start line = current line - LFs in field 0, without peeking into libcsv.
 *
 * Threads: csvin_each starts a reader thread that runs libcsv and packs the
 * complete rows into batches (the kept fields' bytes, and per row its line,
 * index and field lengths).  CSVIN_NBATCH batches circulate: the reader fills
 * one, the calling thread takes the full ones in order and calls fn on each
 * row, so fn always runs on the calling thread.  The header (row 0) goes
 * alone and the reader waits until fn has returned for it, because fn may
 * call csvin_want there; later rows are read ahead, except that the reader
 * also waits after a row longer than a batch.  On a pipe, the rows parsed so
 * far are handed over whenever the input goes quiet.  A stop (fn > 0) or an
 * error ends the reader (a pipe is polled together with a wake-up pipe, so
 * the reader never sits in read()), and it is joined before csvin_each
 * returns.  The reader owns the fd, the parser and the batch it fills; the
 * queue is under mu. */
#include "csvin.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSVIN_BUF (1u << 20)                /* read buffer */
#define CSVIN_NBATCH 8                      /* batches in all (csvin.h: memory) */
#define CSVIN_BATCH_ROWS 2048               /* a batch is full at this many rows, */
#define CSVIN_BATCH_BYTES (256u << 10)      /* or field bytes, */
#define CSVIN_BATCH_FIELDS (64u << 10)      /* or fields (kept or not) */
#define CSVIN_APART 128                     /* two cache lines: x86 fetches lines in pairs */

#define CSVIN_SKIP UINT32_MAX                /* the length of a field not wanted */

typedef struct {                /* its fields and bytes follow the previous row's */
    long line, index;
    int nf;
} batch_row;

/* Rows in a compact form, as the calling thread reads it from another
 * core's cache: per field 4 bytes, and the wanted fields' bytes one after
 * the other; the caller expands a row into csvin_row's arrays. */
typedef struct batch {
    char *arena;                /* wanted fields, NUL-terminated */
    size_t len, cap;
    uint32_t *flen;             /* per field: length, or CSVIN_SKIP */
    size_t nf, fcap;
    size_t done_len, done_nf;   /* where the complete rows end */
    batch_row *rows;
    int nrows, rcap;
    struct batch *next;
    char apart[CSVIN_APART];    /* from the next batch (see struct csvin) */
} batch;

/* The fields one thread writes often stay CSVIN_APART bytes away from those
 * the other thread reads or writes: a cache line shared by the two threads
 * (false sharing) cost more than the parsing itself saved. */
struct csvin {
    /* set by csvin_open; the mask also by csvin_want (never while the reader
     * parses); quit and wake once per csvin_each */
    int fd, own_fd, seekable;
    char *name;
    unsigned char delim;
    char *buf;
    unsigned char *want;
    int nwant, want_all;
    atomic_int quit;            /* the caller stopped: the reader ends */
    long long range_start, range_stop;  /* csvin_range: the bytes to parse (stop -1: to the end) */
    long first_line;
    int no_header;              /* start > 0: row 0 is a data row */
    atomic_int past_stop;       /* the reader went on past stop (no row ended there) */
    int ended_at_stop;
    int wake[2];                /* written on quit; the reader polls it with a pipe */
    char apart0[CSVIN_APART];
    /* the reader's while it runs; csvin_rewind's between runs */
    struct csv_parser p;
    int parser_live, eof, at_start;
    long line;                  /* physical line of the bytes being fed */
    long long pos;              /* file offset of the next byte read */
    long row_index, row_line, last_row_end;
    batch *cur;                 /* the batch being filled */
    unsigned char *rwant;       /* the reader's copy of the mask (see copy_want) */
    int rnwant, rwant_all;
    int rstop;                  /* 1 told to quit, -1 error (rerr) */
    int end_error;              /* rerr is about the end of the input */
    char rerr[512];
    char apart1[CSVIN_APART];
    /* the queue, under mu */
    int sync_live;
    pthread_mutex_t mu;
    pthread_cond_t to_reader, to_caller;
    batch *full_head, *full_tail, *free_list;
    int nfree;
    long handed, returned;      /* batches handed to the caller, and given back */
    int reader_done, reader_waits, caller_waits;
    char apart2[CSVIN_APART];
    /* the caller's */
    pthread_t thread;
    const char **ptrs;          /* the row given to fn */
    size_t *lens;
    int fcap;
    long cur_index;             /* the row whose fn runs, -1 outside fn */
    int in_each, stopped;
    int stop;                   /* -1 after a csvin_want error */
    char err[512];
    char apart3[CSVIN_APART];
    batch batches[CSVIN_NBATCH];
};

static int cfail(csvin *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->stop = -1;
    return -1;
}

/* the reader's errors go to rerr; csvin_each copies them after the join */
static int rfail(csvin *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->rerr, sizeof c->rerr, fmt, ap);
    va_end(ap);
    c->rstop = -1;
    return -1;
}

const char *csvin_error(const csvin *c) { return c->err; }
const char *csvin_name(const csvin *c) { return c->name; }
int csvin_fd(const csvin *c) { return c->fd; }

csvin *csvin_open(const char *path, unsigned char delim, char *err, size_t errlen) {
    csvin *c = calloc(1, sizeof *c);
    int stdin_ = !path || strcmp(path, "-") == 0;
    if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
    c->delim = delim;
    c->name = strdup(stdin_ ? "<stdin>" : path);
    c->buf = malloc(CSVIN_BUF);
    c->want_all = 1;
    c->range_stop = -1;
    c->first_line = 1;
    c->wake[0] = c->wake[1] = -1;
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
    if (pthread_mutex_init(&c->mu, NULL)) { snprintf(err, errlen, "out of memory"); goto fail; }
    if (pthread_cond_init(&c->to_reader, NULL)) {
        pthread_mutex_destroy(&c->mu);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_cond_init(&c->to_caller, NULL)) {
        pthread_cond_destroy(&c->to_reader);
        pthread_mutex_destroy(&c->mu);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->sync_live = 1;
    c->at_start = 1;            /* nothing read yet: the first rewind does not seek */
    if (csvin_rewind(c)) { snprintf(err, errlen, "%s", c->err); goto fail; }
    return c;
fail:
    if (c->fd >= 0 && c->own_fd) close(c->fd);
    c->fd = -1;
    csvin_close(c);
    return NULL;
}

static void batch_free(batch *b) {
    free(b->arena); free(b->flen); free(b->rows);
    memset(b, 0, sizeof *b);
}

void csvin_close(csvin *c) {
    if (!c) return;
    if (c->parser_live) csv_free(&c->p);
    if (c->own_fd && c->fd >= 0) close(c->fd);
    if (c->sync_live) {
        pthread_cond_destroy(&c->to_caller);
        pthread_cond_destroy(&c->to_reader);
        pthread_mutex_destroy(&c->mu);
    }
    for (int i = 0; i < CSVIN_NBATCH; i++) batch_free(&c->batches[i]);
    free(c->name); free(c->buf); free(c->want); free(c->rwant); free(c->ptrs); free(c->lens);
    free(c);
}

int csvin_want(csvin *c, const unsigned char *want, int n) {
    /* rows after this one may be parsed already, with the old mask */
    if (c->in_each && c->cur_index > 0)
        return cfail(c, "%s: csvin_want called for row %ld: the fields kept can change only "
                     "before csvin_each or on the header row", c->name, c->cur_index);
    unsigned char *w = n > 0 ? malloc((size_t)n) : NULL;
    if (n > 0 && !w) return cfail(c, "out of memory");
    if (n > 0) memcpy(w, want, (size_t)n);
    free(c->want);
    c->want = w;
    c->nwant = n;
    c->want_all = 0;
    return 0;
}

static void hand_over(csvin *c, int sync);

/* On a pipe or a terminal: when no input is ready, first hand the rows parsed
 * so far to the caller (rows are not held back while the writer is slow),
 * then wait for input or for the caller's stop, so that the reader never
 * blocks in read() when csvin_each wants to join it.  1 when told to stop. */
static int wait_input(csvin *c) {
    if (c->seekable) return 0;
    struct pollfd pf[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->wake[0], .events = POLLIN}};
    int timeout = 0;
    for (;;) {
        int k = poll(pf, c->wake[0] >= 0 ? 2 : 1, timeout);
        if (k < 0 && errno == EINTR) continue;
        if (k == 0 && timeout == 0) {
            if (c->cur->nrows) hand_over(c, 0);
            if (c->rstop) return 1;
            timeout = -1;
            continue;
        }
        return k > 0 && pf[1].revents != 0;     /* a poll error: read() reports it */
    }
}

/* read up to want bytes, at least min unless the input ends */
static ssize_t read_some(csvin *c, char *p, size_t want, size_t min) {
    size_t got = 0;
    while (got < want) {
        if (wait_input(c)) { c->rstop = 1; return -1; }
        ssize_t k = read(c->fd, p + got, want - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return rfail(c, "%s: read error: %s", c->name, strerror(errno));
        if (k == 0) { c->eof = 1; break; }
        got += (size_t)k;
        if (got >= min) break;
    }
    return (ssize_t)got;
}

int csvin_rewind(csvin *c) {
    /* !at_start: bytes were read, maybe with no row done (an error in the first) */
    if (c->row_index > 0 || c->eof || !c->at_start || c->range_start > 0) {
        if (!c->seekable) return cfail(c, "%s: cannot read a pipe twice", c->name);
        if (lseek(c->fd, (off_t)c->range_start, SEEK_SET) < 0) return cfail(c, "%s: %s", c->name, strerror(errno));
    }
    if (c->parser_live) csv_free(&c->p);
    if (csv_init(&c->p, 0)) return cfail(c, "out of memory");
    c->parser_live = 1;
    csv_set_delim(&c->p, c->delim);
    c->eof = c->stopped = c->stop = 0;
    c->at_start = c->range_start == 0;     /* a BOM is looked for at the file's start only */
    c->pos = c->range_start;
    c->line = c->first_line;
    c->row_index = 0;
    c->last_row_end = c->first_line - 1;
    c->ended_at_stop = 0;
    atomic_store(&c->past_stop, 0);
    return 0;
}

int csvin_range(csvin *c, long long start, long long stop, long first_line) {
    if (!c->seekable) return cfail(c, "%s: a part of the input can be read from a regular file only", c->name);
    if (start < 0 || (stop >= 0 && stop <= start) || first_line < 1)
        return cfail(c, "%s: csvin_range: bad range", c->name);
    c->range_start = start;
    c->range_stop = stop;
    c->first_line = first_line;
    c->no_header = start > 0;
    c->at_start = 0;            /* so that csvin_rewind seeks */
    return csvin_rewind(c);
}

int csvin_ended_at_stop(const csvin *c) { return c->ended_at_stop; }
int csvin_past_stop(csvin *c) { return atomic_load(&c->past_stop); }
long csvin_rows(const csvin *c) { return c->row_index; }
long csvin_next_line(const csvin *c) { return c->line; }

/* ---- the reader: libcsv callbacks filling c->cur ---- */

static int grow_fields(batch *b) {
    size_t cap = b->fcap ? b->fcap * 2 : 4096;
    uint32_t *f = realloc(b->flen, cap * sizeof *f);
    if (!f) return -1;
    b->flen = f;
    b->fcap = cap;
    return 0;
}

static int grow_rows(batch *b) {
    int cap = b->rcap ? b->rcap * 2 : 256;
    batch_row *r = realloc(b->rows, (size_t)cap * sizeof *r);
    if (!r) return -1;
    b->rows = r;
    b->rcap = cap;
    return 0;
}

static int grow_arena(batch *b, size_t need) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < need) cap *= 2;
    char *a = realloc(b->arena, cap);
    if (!a) return -1;
    b->arena = a;
    b->cap = cap;
    return 0;
}

/* empty, and not holding on to the memory of an outsized row */
static void batch_reset(batch *b) {
    if (b->cap > 4 * CSVIN_BATCH_BYTES) { free(b->arena); b->arena = NULL; b->cap = 0; }
    if (b->fcap > 4 * CSVIN_BATCH_FIELDS) {
        free(b->flen);
        b->flen = NULL;
        b->fcap = 0;
    }
    b->len = b->nf = b->done_len = b->done_nf = 0;
    b->nrows = 0;
}

static void queue_full(csvin *c, batch *b) {     /* under mu */
    b->next = NULL;
    if (c->full_tail) c->full_tail->next = b;
    else c->full_head = b;
    c->full_tail = b;
    c->handed++;
    if (c->caller_waits) pthread_cond_signal(&c->to_caller);
}

/* the fields of a row still being parsed move along to the next batch */
static int carry_row(batch *to, const batch *from) {
    size_t nf = from->nf - from->done_nf, bytes = from->len - from->done_len;
    while (to->fcap < nf)
        if (grow_fields(to)) return -1;
    if (bytes > to->cap && grow_arena(to, bytes)) return -1;
    if (bytes) memcpy(to->arena, from->arena + from->done_len, bytes);
    memcpy(to->flen, from->flen + from->done_nf, nf * sizeof *to->flen);
    to->nf = nf;
    to->len = bytes;
    return 0;
}

/* The reader's own copy of the mask, taken when csvin_each starts and after
 * the header (then fn has returned, and the mask is final: see csvin_want):
 * c->want was allocated by the calling thread among the data it writes for
 * every row, and reading it for every field from there cost more than the
 * copying of the fields (false sharing again). */
static void copy_want(csvin *c) {
    free(c->rwant);
    c->rwant = NULL;
    c->rnwant = c->nwant;
    c->rwant_all = c->want_all;
    if (c->want_all || c->nwant <= 0) return;
    if (!(c->rwant = malloc((size_t)c->nwant))) { rfail(c, "out of memory"); return; }
    memcpy(c->rwant, c->want, (size_t)c->nwant);
}

/* under mu: wait for the caller (it wakes the reader only when half the
 * batches are free, when it has nothing queued, or on a stop: a wake-up
 * per batch costs more than parsing a small one) */
static void reader_wait(csvin *c) {
    c->reader_waits = 1;
    pthread_cond_wait(&c->to_reader, &c->mu);
    c->reader_waits = 0;
}

static batch *take_free(csvin *c) {   /* under mu; NULL on a stop */
    while (!atomic_load(&c->quit) && !c->free_list) reader_wait(c);
    if (atomic_load(&c->quit)) return NULL;
    batch *b = c->free_list;
    c->free_list = b->next;
    c->nfree--;
    return b;
}

/* Hand the batch being filled (its complete rows) to the caller and go on
 * with an empty one.  With sync, also wait until the caller is through with
 * every batch handed over (the header: fn may change the mask).  When a row
 * is unfinished (a pipe went quiet mid-row), the empty batch is taken before
 * the full one is queued, as the caller may give that one back at once while
 * it still holds the start of the row; that cannot deadlock: with no batch
 * free at least one is queued, and the caller wakes us before it waits. */
static void hand_over(csvin *c, int sync) {
    batch *full = c->cur, *next = NULL;
    int partial = full->nf > full->done_nf;
    pthread_mutex_lock(&c->mu);
    if (partial) next = take_free(c);
    queue_full(c, full);
    if (!partial) next = take_free(c);
    while (next && sync && !atomic_load(&c->quit) && c->returned < c->handed) reader_wait(c);
    if (next && atomic_load(&c->quit)) {
        next->next = c->free_list;
        c->free_list = next;
        c->nfree++;
        next = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    c->cur = next;
    if (!next) { c->rstop = 1; return; }
    batch_reset(next);
    if (partial && carry_row(next, full)) rfail(c, "out of memory");
}

static void on_field(void *data, size_t len, void *ctx) {
    csvin *c = ctx;
    if (c->rstop) return;
    batch *b = c->cur;
    size_t i = b->nf - b->done_nf;      /* the field's column */
    if (i == 0) {
        long lfs = 0;
        for (const char *p = data, *e = p + len; p && (p = memchr(p, '\n', (size_t)(e - p))); p++) lfs++;
        c->row_line = c->line - lfs;
    }
    if (b->nf >= b->fcap && grow_fields(b)) { rfail(c, "out of memory"); return; }
    size_t k = b->nf++;
    b->flen[k] = CSVIN_SKIP;
    /* fields are handed over NUL-terminated: a NUL inside would cut a key
     * short and merge two of them.  Every field is looked at, wanted or not,
     * so that the rows do not depend on which columns are read */
    if (len && memchr(data, 0, len)) {
        rfail(c, "%s:%ld: a NUL byte in field %zu; CSV text cannot hold one (is the file binary, or UTF-16?)",
              c->name, c->line, i + 1);
        return;
    }
    if (!c->rwant_all && (i >= (size_t)c->rnwant || !c->rwant[i])) return;
    if (b->len - b->done_len + len + 1 > CSVIN_MAX_ROW) {
        rfail(c, "%s:%ld: a row longer than %u MiB: a quote opened on or after "
              "line %ld is probably never closed", c->name, c->line,
              CSVIN_MAX_ROW >> 20, c->last_row_end + 1);
        return;
    }
    if (b->len + len + 1 > b->cap && grow_arena(b, b->len + len + 1)) { rfail(c, "out of memory"); return; }
    if (len) memcpy(b->arena + b->len, data, len);
    b->arena[b->len + len] = 0;
    b->flen[k] = (uint32_t)len;
    b->len += len + 1;
}

static void on_row(int term, void *ctx) {
    csvin *c = ctx;
    (void)term;
    if (c->rstop) return;
    batch *b = c->cur;
    long index = c->row_index++;
    int nf = (int)(b->nf - b->done_nf);
    c->last_row_end = c->line;
    if (!nf) return;
    if (b->nrows == b->rcap && grow_rows(b)) { rfail(c, "out of memory"); return; }
    b->rows[b->nrows++] = (batch_row){c->row_line, index, nf};
    /* an outsized row is not read ahead of: at most one is in memory */
    int big = b->len - b->done_len > CSVIN_BATCH_BYTES || (size_t)nf > CSVIN_BATCH_FIELDS;
    b->done_nf = b->nf;
    b->done_len = b->len;
    int header = index == 0 && !c->no_header;
    if (header || big) {
        hand_over(c, 1);
        if (header && c->cur) copy_want(c);
    } else if (b->nrows >= CSVIN_BATCH_ROWS || b->len >= CSVIN_BATCH_BYTES || b->nf >= CSVIN_BATCH_FIELDS) {
        hand_over(c, 0);
    }
}

/* feed one chunk that holds at most one LF, at its end */
static int feed(csvin *c, const char *p, size_t n) {
    if (csv_parse(&c->p, p, n, on_field, on_row, c) != n)
        return rfail(c, "%s:%ld: %s", c->name, c->line, csv_strerror(csv_error(&c->p)));
    if (!c->rstop && csv_get_buffer_size(&c->p) > CSVIN_MAX_ROW)
        return rfail(c, "%s:%ld: a field longer than %u MiB: a quote opened on or after "
                     "line %ld is probably never closed", c->name, c->line,
                     CSVIN_MAX_ROW >> 20, c->last_row_end + 1);
    return c->rstop;
}

static int feed_lines(csvin *c, const char *p, size_t n) {
    const char *end = p + n;
    while (p < end) {
        if (atomic_load_explicit(&c->quit, memory_order_relaxed)) return c->rstop = 1;
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *stop = lf ? lf + 1 : end;
        int rc = feed(c, p, (size_t)(stop - p));
        if (lf) c->line++;
        if (rc) return rc;
        p = stop;
    }
    return 0;
}

static void *reader_main(void *arg) {
    csvin *c = arg;
    copy_want(c);
    while (!c->rstop && !c->eof) {
        if (atomic_load(&c->quit)) { c->rstop = 1; break; }
        /* a range's reads end at its stop, where the parser state is looked at */
        size_t want = CSVIN_BUF;
        int to_stop = c->range_stop >= 0 && !atomic_load(&c->past_stop);
        if (to_stop && (long long)want > c->range_stop - c->pos) want = (size_t)(c->range_stop - c->pos);
        /* the first read fills enough bytes to see a whole BOM even on a pipe */
        ssize_t n = read_some(c, c->buf, want, c->at_start ? 3 : 1);
        if (n < 0) break;
        c->pos += n;
        const char *p = c->buf;
        if (c->at_start && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, n -= 3;
        c->at_start = 0;
        if (feed_lines(c, p, (size_t)n)) break;
        if (to_stop && c->pos == c->range_stop) {
            /* libcsv between rows (ROW_NOT_BEGUN: libcsv.c's state 0, with no
             * quote or field pending) is exactly the state of a new parser,
             * so the rows from stop on are those of a parser started there */
            if (c->p.pstate == 0 && !c->p.quoted && c->p.entry_pos == 0) {
                c->ended_at_stop = 1;
                break;
            }
            atomic_store(&c->past_stop, 1);
        }
    }
    /* libcsv reports an unclosed quote at the end only in its strict mode,
     * which also refuses stray quotes that spreadsheets write; so look at
     * the parser: pstate 2 is libcsv.c's FIELD_BEGUN (inside a field, no
     * closing quote seen yet; tests/unit/csvin.c checks this). */
    if (!c->rstop && c->p.quoted && c->p.pstate == 2) {
        rfail(c, "%s:%ld: a quoted field that opens on or after this line is "
              "never closed; check the quotes", c->name, c->last_row_end + 1);
        c->end_error = 1;
    }
    if (!c->rstop && csv_fini(&c->p, on_field, on_row, c) != 0 && !c->rstop) {
        rfail(c, "%s: %s", c->name, csv_strerror(csv_error(&c->p)));
        c->end_error = 1;
    }
    pthread_mutex_lock(&c->mu);
    if (c->cur && c->cur->nrows) queue_full(c, c->cur);
    c->cur = NULL;
    c->reader_done = 1;
    if (c->caller_waits) pthread_cond_signal(&c->to_caller);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- the caller's side ---- */

static int grow_row(csvin *c, int nf) {
    int cap = c->fcap ? c->fcap : 64;
    while (cap < nf) cap *= 2;
    const char **ptrs = realloc(c->ptrs, (size_t)cap * sizeof *ptrs);
    if (ptrs) c->ptrs = ptrs;
    size_t *lens = realloc(c->lens, (size_t)cap * sizeof *lens);
    if (lens) c->lens = lens;
    if (!ptrs || !lens) return -1;
    c->fcap = cap;
    return 0;
}

/* the next full batch, NULL when the reader has ended and all were taken */
static batch *take_full(csvin *c) {
    pthread_mutex_lock(&c->mu);
    while (!c->full_head && !c->reader_done) {
        if (c->reader_waits) pthread_cond_signal(&c->to_reader);   /* see reader_wait */
        c->caller_waits = 1;
        pthread_cond_wait(&c->to_caller, &c->mu);
        c->caller_waits = 0;
    }
    batch *b = c->full_head;
    if (b && !(c->full_head = b->next)) c->full_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    return b;
}

static void give_back(csvin *c, batch *b, int quit) {
    pthread_mutex_lock(&c->mu);
    b->next = c->free_list;
    c->free_list = b;
    c->nfree++;
    c->returned++;
    if (quit) atomic_store(&c->quit, 1);
    if (c->reader_waits && (quit || !c->full_head || 2 * c->nfree >= CSVIN_NBATCH))
        pthread_cond_signal(&c->to_reader);
    pthread_mutex_unlock(&c->mu);
    if (quit && c->wake[1] >= 0 && write(c->wake[1], "", 1) < 0) {}   /* a full pipe is awake */
}

static void close_wake(csvin *c) {
    if (c->wake[0] >= 0) { close(c->wake[0]); close(c->wake[1]); }
    c->wake[0] = c->wake[1] = -1;
}

static int start_reader(csvin *c) {
    c->free_list = NULL;
    for (int i = 1; i < CSVIN_NBATCH; i++) {
        c->batches[i].next = c->free_list;
        c->free_list = &c->batches[i];
    }
    c->cur = &c->batches[0];
    batch_reset(c->cur);
    c->full_head = c->full_tail = NULL;
    c->handed = c->returned = 0;
    c->nfree = CSVIN_NBATCH - 1;
    c->reader_waits = c->caller_waits = 0;
    c->reader_done = c->rstop = c->end_error = 0;
    atomic_store(&c->quit, 0);
    if (!c->seekable && pipe2(c->wake, O_CLOEXEC)) c->wake[0] = c->wake[1] = -1;  /* then read() blocks */
    /* signals (SIGINT: remove the .tmp files) are handled on the calling
     * thread; the reader keeps only those its own faults raise */
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
    sigset_t all, old;
    sigfillset(&all);
    for (size_t k = 0; k < sizeof faults / sizeof *faults; k++) sigdelset(&all, faults[k]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&c->thread, NULL, reader_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        close_wake(c);
        return cfail(c, "%s: cannot start the CSV reader thread: %s", c->name, strerror(e));
    }
    return 0;
}

int csvin_each(csvin *c, csvin_row_fn fn, void *ctx) {
    if (c->stopped) return cfail(c, "%s: csvin_each after a stop needs csvin_rewind", c->name);
    if (c->stop) { c->stopped = 1; return -1; }      /* a csvin_want that failed */
    if (start_reader(c)) return -1;
    c->in_each = 1;
    c->cur_index = -1;
    int rc = 0;
    batch *b;
    while ((b = take_full(c))) {
        const uint32_t *flen = b->flen;
        char *p = b->arena;
        for (int r = 0; r < b->nrows && !rc; r++) {
            const batch_row *br = &b->rows[r];
            if (br->nf > c->fcap && grow_row(c, br->nf)) { rc = cfail(c, "out of memory"); break; }
            for (int i = 0; i < br->nf; i++) {
                int skip = flen[i] == CSVIN_SKIP;
                c->ptrs[i] = skip ? NULL : p;
                c->lens[i] = skip ? 0 : flen[i];
                p += skip ? 0 : flen[i] + 1;
            }
            flen += br->nf;
            csvin_row row = {br->nf, c->ptrs, c->lens, br->line, br->index};
            c->cur_index = br->index;
            rc = fn(ctx, &row);
            if (!rc) rc = c->stop;
        }
        c->cur_index = -1;
        give_back(c, b, rc != 0);
        if (rc) break;
    }
    pthread_join(c->thread, NULL);
    c->in_each = 0;
    close_wake(c);
    if (!rc && c->rstop < 0) {
        memcpy(c->err, c->rerr, sizeof c->err);
        c->stop = rc = -1;
        if (c->end_error) return rc;    /* as before: another csvin_each reports it again */
    }
    c->stopped = 1;
    return rc;
}
