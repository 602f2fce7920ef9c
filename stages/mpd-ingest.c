/* mpd-ingest.c - reads Million Playlist Dataset slice files (the official
 * mpd.slice.N-M.json format, plain or zstd-compressed), one slice at a time,
 * into a playlists stream, a track vocabulary, popularity counts and a
 * playlist catalogue.  Format: the MPD README (Spotify, v1, 2018). */
#include "cli.h"
#include "jsoncheck.h"
#include "outfile.h"
#include "strmap.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zstd.h>

static const char HELP[] =
"Usage: mpd-ingest [options] --tracks FILE [SLICE.json | SLICE.json.zst | DIR | -]...\n"
"Reads Million Playlist Dataset slices (the official mpd.slice.N-M.json format;\n"
"zstd-compressed files are recognised by their magic number) one at a time, so\n"
"memory is one slice (two with -j 2) plus the track vocabulary.  A DIR argument\n"
"means every *.json and *.json.zst file in it, in version order (0-999 before\n"
"1000-1999).\n"
"\n"
"  -o FILE            playlists stream (default stdout): tensor 'playlists', i32\n"
"                     rows (track, pos) keyed by pid, one row per track in the\n"
"                     playlist's order; track = row of the --tracks vocabulary\n"
"  --tracks FILE      track vocabulary TSV (required): track_uri, track (index),\n"
"                     track_name, artist_name, artist_uri, album_name, count;\n"
"                     in order of first appearance\n"
"  --popularity FILE  tensor 'popularity': i64 count of playlist rows per track,\n"
"                     keyed by track_uri, row i = track i\n"
"  --names FILE       playlist catalogue TSV: pid, name, num_tracks,\n"
"                     num_followers, collaborative, description\n"
"  --max-mb N         refuse a slice larger than N MB of JSON (default 1024)\n"
"  -j, --threads N    1: read and parse each slice, then ingest it; 2: read,\n"
"                     decompress and parse the next slice on a second thread\n"
"                     while this one is ingested (memory: two slices).  The\n"
"                     outputs and the error raised for a bad file are the\n"
"                     same either way (default 2)\n"
"  -h, --help         this help;  -V, --version\n"
"\n"
"Required per playlist: pid (integer) and tracks (array); per track: track_uri.\n"
"Optional fields may be absent (name, description, collaborative, num_*,\n"
"pos, track_name, artist_name, artist_uri, album_name, album_uri);\n"
"collaborative may be a boolean or the string \"true\"/\"false\" (as in the\n"
"official files).  A pid seen twice is an error: files with different pid\n"
"spaces (official and renumbered) must be ingested separately.  TABs and\n"
"newlines inside names become spaces in the TSV outputs.\n";

struct opts {
    const char *out, *tracks, *popularity, *names;
    size_t max_bytes;
    char **inputs;
    int ninputs, threads;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.max_bytes = (size_t)1024 << 20, .threads = 2};
    static const struct option lo[] = {
        {"tracks", 1, 0, 't'}, {"popularity", 1, 0, 'p'}, {"names", 1, 0, 'n'},
        {"max-mb", 1, 0, 'm'}, {"output", 1, 0, 'o'}, {"threads", 1, 0, 'j'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:j:", lo, NULL)) != -1) {
        switch (c) {
        case 't': o.tracks = optarg; break;
        case 'p': o.popularity = optarg; break;
        case 'n': o.names = optarg; break;
        case 'm': o.max_bytes = (size_t)cli_long("--max-mb", optarg, 1, 1L << 20) << 20; break;
        case 'o': o.out = optarg; break;
        case 'j': o.threads = (int)cli_long("--threads", optarg, 1, 2); break;
        default: cli_usage("unknown option");
        }
    }
    if (!o.tracks) cli_usage("--tracks FILE is required (the vocabulary gives the track indices a meaning)");
    o.inputs = argv + optind;
    o.ninputs = argc - optind;
    return o;
}

/* ---- reading one slice: the whole JSON text of one file ----
 * With --threads 2 this runs on a second thread, one slice ahead of the
 * ingest: so nothing here dies.  Every error is kept as text in the slice and
 * raised when the main thread reaches that file, after the files before it
 * were ingested (and their errors raised): the first bad file in input order
 * is the one named, with the message the one-thread run gives. */

typedef struct { char *p; size_t len, cap; } buf;

/* room for extra more bytes (+ a NUL); -1 with the reason in err */
static int buf_grow(buf *b, size_t extra, size_t max, const char *name, char *err, size_t errlen) {
    if (b->len + extra + 1 <= b->cap) return 0;
    if (b->len + extra > max) {
        snprintf(err, errlen, "%s: larger than %zu MB of JSON; raise --max-mb if this is right", name, max >> 20);
        return -1;
    }
    size_t c = b->cap ? b->cap : 1 << 20;
    while (c < b->len + extra + 1) c *= 2;
    char *p = ts_big_realloc(b->p, b->len, c);
    if (!p) { snprintf(err, errlen, "%s: out of memory reading %zu bytes", name, c); return -1; }
    b->p = p;
    b->cap = c;
    return 0;
}

static void buf_reserve(buf *b, size_t extra, size_t max, const char *name) {
    char err[600];
    if (buf_grow(b, extra, max, name, err, sizeof err)) cli_die("%s", err);
}

/* ---- a bump arena for cJSON's nodes and strings while one slice is parsed:
 * the tree is dropped whole (arena_reset) instead of node by node, which
 * was a third of the ingest time in malloc and free.  Each slice in flight
 * has its own arena; the thread parsing it points cur_arena there for the
 * parse only, so cJSON trees made elsewhere (headers) use malloc.  A reset
 * keeps every chunk for the next slice: from the second slice on, a parse
 * allocates nothing and touches no fresh pages (page faults were a fifth of
 * the run when the chunks went back to the system after each slice). ---- */

typedef struct chunk { struct chunk *next; size_t used, cap; max_align_t data[]; } chunk;
typedef struct { chunk *head, *cur; int oom; } arena;   /* oldest chunk first; cur = filling */
static _Thread_local arena *cur_arena;

static void *arena_alloc(size_t n) {
    arena *a = cur_arena;
    if (!a) return malloc(n);
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    chunk *c = a->cur;
    while (c && c->cap - c->used < n) {     /* the next kept chunk, if it fits */
        c = c->next;
        if (c) c->used = 0;
    }
    if (!c) {
        size_t cap = ((size_t)16 << 20) - sizeof *c;   /* whole huge pages */
        if (cap < n) cap = n;
        if (!(c = ts_big_realloc(NULL, 0, sizeof *c + cap))) { a->oom = 1; return NULL; }
        *c = (chunk){NULL, 0, cap};
        if (a->cur) {                       /* after cur, before the kept ones too small */
            c->next = a->cur->next;
            a->cur->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    a->cur = c;
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(void *p) { if (!cur_arena) free(p); }

/* keep = 1: the chunks stay for the next slice; 0: all freed */
static void arena_reset(arena *a, int keep) {
    if (keep) {
        if ((a->cur = a->head)) a->head->used = 0;
    } else {
        for (chunk *c = a->head, *next; c; c = next) { next = c->next; free(c); }
        a->head = a->cur = NULL;
    }
    a->oom = 0;
}

/* one slice: its text and its parsed tree, or the error that stops at it */
typedef struct {
    const char *path;
    buf b;
    int z;                      /* zstd-compressed: positions are in the decompressed text */
    size_t max;                 /* --max-mb in bytes */
    arena ar;
    ZSTD_DStream *ds;           /* kept from slice to slice (its window too) */
    cJSON *root;
    char err[1200];             /* non-empty: this file cannot be ingested, and why */
} slice;

/* Streams a zstd frame sequence through ZSTD_decompressStream into b. */
static int read_zstd(slice *sl, FILE *f, size_t max, const unsigned char *head, size_t nhead) {
    const char *name = sl->path;
    buf *b = &sl->b;
    if (!sl->ds && !(sl->ds = ZSTD_createDStream())) { snprintf(sl->err, sizeof sl->err, "out of memory"); return -1; }
    ZSTD_DStream *ds = sl->ds;
    ZSTD_initDStream(ds);
    size_t inc = ZSTD_DStreamInSize(), outc = ZSTD_DStreamOutSize(), hint = 0;
    int full = 0, rc = -1;
    unsigned char *in = malloc(inc);
    if (!in) { snprintf(sl->err, sizeof sl->err, "out of memory"); return -1; }
    memcpy(in, head, nhead);
    size_t n = nhead + fread(in + nhead, 1, inc - nhead, f);
    while (n > 0) {
        ZSTD_inBuffer ib = {in, n, 0};
        while (ib.pos < ib.size) {
            if (buf_grow(b, outc, max, name, sl->err, sizeof sl->err)) goto done;
            ZSTD_outBuffer ob = {b->p + b->len, outc, 0};
            hint = ZSTD_decompressStream(ds, &ob, &ib);
            if (ZSTD_isError(hint)) {
                snprintf(sl->err, sizeof sl->err, "%s: corrupt zstd data near compressed byte %ld: %s; check the download (zstd -t)",
                         name, ftell(f), ZSTD_getErrorName(hint));
                goto done;
            }
            b->len += ob.pos;
            full = ob.pos == outc;
        }
        n = fread(in, 1, inc, f);
    }
    /* a full output buffer may leave decoded bytes inside the decoder */
    while (full) {
        if (buf_grow(b, outc, max, name, sl->err, sizeof sl->err)) goto done;
        ZSTD_inBuffer ib = {in, 0, 0};
        ZSTD_outBuffer ob = {b->p + b->len, outc, 0};
        size_t r = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(r)) {
            snprintf(sl->err, sizeof sl->err, "%s: corrupt zstd data: %s", name, ZSTD_getErrorName(r));
            goto done;
        }
        if (ob.pos) hint = r;
        b->len += ob.pos;
        full = ob.pos == outc;
    }
    if (ferror(f)) snprintf(sl->err, sizeof sl->err, "%s: read error: %s", name, strerror(errno));
    else if (hint != 0)
        snprintf(sl->err, sizeof sl->err, "%s: truncated zstd file (the last frame is incomplete); check the download", name);
    else rc = 0;
done:
    free(in);
    return rc;
}

/* the whole text of sl->path into sl->b, NUL-terminated; -1: sl->err says why */
static int read_slice(slice *sl, size_t max) {
    const char *path = sl->path;
    buf *b = &sl->b;
    int is_stdin = !strcmp(path, "-"), rc = 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) { snprintf(sl->err, sizeof sl->err, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    b->len = 0;
    unsigned char head[4];
    size_t nh = fread(head, 1, 4, f);
    sl->z = nh == 4 && head[0] == 0x28 && head[1] == 0xB5 && head[2] == 0x2F && head[3] == 0xFD;
    if (sl->z) rc = read_zstd(sl, f, max, head, nh);
    else if (!(rc = buf_grow(b, nh, max, path, sl->err, sizeof sl->err))) {
        memcpy(b->p, head, nh);
        b->len = nh;
        for (;;) {
            if ((rc = buf_grow(b, 1 << 20, max, path, sl->err, sizeof sl->err))) break;
            size_t n = fread(b->p + b->len, 1, 1 << 20, f);
            b->len += n;
            if (n < (1 << 20)) break;
        }
        if (!rc && ferror(f)) {
            snprintf(sl->err, sizeof sl->err, "%s: read error: %s", path, strerror(errno));
            rc = -1;
        }
    }
    if (!is_stdin) fclose(f);
    if (!rc) b->p[b->len] = 0;
    return rc;
}

/* read, check and parse sl->path; sl->root, or sl->err set */
static void load_slice(slice *sl, size_t max) {
    const char *path = sl->path;
    buf *b = &sl->b;
    sl->root = NULL;
    sl->err[0] = 0;
    if (read_slice(sl, max)) return;
    const char *end = NULL, *zname = sl->z ? " (in the decompressed text)" : "";
    char err[1024];
    if (json_check_text(b->p, b->len, path, err, sizeof err)) {
        snprintf(sl->err, sizeof sl->err, "%s%s", err, zname);
        return;
    }
    cur_arena = &sl->ar;
    cJSON *root = cJSON_ParseWithLengthOpts(b->p, b->len, &end, 0);
    cur_arena = NULL;
    if (!root && sl->ar.oom) {
        snprintf(sl->err, sizeof sl->err, "%s: out of memory parsing %zu bytes of JSON", path, b->len);
        return;
    }
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        size_t pos = at && at >= b->p && at <= b->p + b->len ? (size_t)(at - b->p) : b->len;
        long line, col;
        json_line_col(b->p, pos, &line, &col);
        snprintf(sl->err, sizeof sl->err,
                 "%s: invalid JSON at byte %zu%s (line %ld, column %ld); the file is damaged (cut short?) or not JSON",
                 path, pos, sl->z ? " of the decompressed text" : "", line, col);
        return;
    }
    if (json_check_end(b->p, b->len, end, path, err, sizeof err))
        snprintf(sl->err, sizeof sl->err, "%s%s", err, zname);
    else if (json_check_keys(root, path, err, sizeof err))
        snprintf(sl->err, sizeof sl->err, "%s", err);
    else
        sl->root = root;
}

static void *load_thread(void *arg) {
    slice *sl = arg;
    load_slice(sl, sl->max);
    return NULL;
}

/* ---- the vocabulary: uri -> index, display strings in one text arena ---- */

enum { F_URI, F_NAME, F_ARTIST, F_ARTIST_URI, F_ALBUM, NFIELDS };

typedef struct {
    strmap index;
    int64_t n, cap;
    int64_t *off;           /* n * NFIELDS offsets into text */
    int64_t *count;
    buf text;
} vocab;

static int64_t text_add(buf *t, const char *s) {
    size_t n = strlen(s);
    buf_reserve(t, n + 1, SIZE_MAX / 2, "vocabulary");
    int64_t at = (int64_t)t->len;
    memcpy(t->p + t->len, s, n + 1);
    t->len += n + 1;
    return at;
}

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

/* the fields of one track object, found in one walk over its members
 * (cJSON_GetObjectItem per field walked them once per field) */
typedef struct { const cJSON *uri, *pos, *name, *artist, *artist_uri, *album; } track_fields;

static void track_get(const cJSON *t, track_fields *f) {
    *f = (track_fields){0};
    for (const cJSON *c = t->child; c; c = c->next) {
        const char *k = c->string;
        if (!k) continue;
        switch (k[0]) {
        case 't':
            if (!strcmp(k, "track_uri")) { if (!f->uri) f->uri = c; }
            else if (!strcmp(k, "track_name")) { if (!f->name) f->name = c; }
            break;
        case 'a':
            if (!strcmp(k, "artist_name")) { if (!f->artist) f->artist = c; }
            else if (!strcmp(k, "artist_uri")) { if (!f->artist_uri) f->artist_uri = c; }
            else if (!strcmp(k, "album_name")) { if (!f->album) f->album = c; }
            break;
        case 'p':
            if (!strcmp(k, "pos") && !f->pos) f->pos = c;
            break;
        }
    }
}

static const char *str_value(const cJSON *v) { return cJSON_IsString(v) && v->valuestring ? v->valuestring : ""; }

static int64_t vocab_add(vocab *v, const char *uri, const track_fields *tf) {
    int64_t got = strmap_put(&v->index, uri, v->n);
    if (got == -2) cli_die("out of memory (%" PRId64 " tracks)", v->n);
    if (got >= 0) { v->count[got]++; return got; }
    if (v->n == v->cap) {
        int64_t c = v->cap ? v->cap * 2 : 1 << 16;
        int64_t *o = realloc(v->off, (size_t)c * NFIELDS * sizeof *o);
        if (o) v->off = o;
        int64_t *k = realloc(v->count, (size_t)c * sizeof *k);
        if (k) v->count = k;
        if (!o || !k) cli_die("out of memory (%" PRId64 " tracks)", v->n);
        v->cap = c;
    }
    int64_t i = v->n++, *o = v->off + i * NFIELDS;
    o[F_URI] = text_add(&v->text, uri);
    o[F_NAME] = text_add(&v->text, str_value(tf->name));
    o[F_ARTIST] = text_add(&v->text, str_value(tf->artist));
    o[F_ARTIST_URI] = text_add(&v->text, str_value(tf->artist_uri));
    o[F_ALBUM] = text_add(&v->text, str_value(tf->album));
    v->count[i] = 1;
    return i;
}

/* a TSV cell: TAB, CR and LF become spaces */
static void put_cell(FILE *f, const char *s) {
    for (;;) {
        size_t n = strcspn(s, "\t\n\r");
        fwrite(s, 1, n, f);
        if (!s[n]) return;
        fputc(' ', f);
        s += n + 1;
    }
}

static void write_vocab(const vocab *v, const char *path) {
    FILE *f = outfile_open(path, 0);
    fputs("track_uri\ttrack\ttrack_name\tartist_name\tartist_uri\talbum_name\tcount\n", f);
    for (int64_t i = 0; i < v->n; i++) {
        const int64_t *o = v->off + i * NFIELDS;
        put_cell(f, v->text.p + o[F_URI]);
        fprintf(f, "\t%" PRId64 "\t", i);
        put_cell(f, v->text.p + o[F_NAME]); fputc('\t', f);
        put_cell(f, v->text.p + o[F_ARTIST]); fputc('\t', f);
        put_cell(f, v->text.p + o[F_ARTIST_URI]); fputc('\t', f);
        put_cell(f, v->text.p + o[F_ALBUM]);
        fprintf(f, "\t%" PRId64 "\n", v->count[i]);
    }
    outfile_close(f);
}

static void write_popularity(const vocab *v, const char *path) {
    ts_header h;
    static const char *const cols[] = {"count"};
    if (ts_header_init(&h, "popularity", TS_I64, 1, cols)) cli_die("out of memory");
    h.key_name = strdup("track_uri");
    cJSON_AddStringToObject(ts_header_meta(&h), "row", "number of playlist rows holding the track; row i = track i of the vocabulary");
    ts_writer *w = cli_open_write(path);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    for (int64_t i = 0; i < v->n; i++)
        if (ts_write_row(w, v->text.p + v->off[i * NFIELDS + F_URI], &v->count[i])) cli_die("%s", ts_werror(w));
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    cli_close_write(w);
    ts_header_free(&h);
}

/* ---- one slice ---- */

typedef struct {
    const struct opts *o;
    vocab voc;
    strmap pids;            /* pid -> index of the file that held it */
    ts_writer *w;
    FILE *names;
    int32_t *rows;          /* one playlist's rows */
    char **keys;
    size_t rows_cap;
    int64_t nplaylists, nrows, nempty, npos_differ;
    double bytes;
} ingest;

/* "FILE: playlist #i (pid P)" for messages */
#define WHERE_FMT "%s: playlist #%d (pid %s)"

static const char *collab_text(const cJSON *c, const char *file, int idx, const char *pid) {
    if (!c || cJSON_IsNull(c)) return "";
    if (cJSON_IsBool(c)) return cJSON_IsTrue(c) ? "true" : "false";
    if (cJSON_IsString(c) && c->valuestring) {
        if (!strcmp(c->valuestring, "true")) return "true";
        if (!strcmp(c->valuestring, "false")) return "false";
    }
    cli_die(WHERE_FMT ": collaborative is neither a boolean nor \"true\"/\"false\"; fix the field or remove it",
            file, idx, pid);
}

static void num_cell(FILE *f, const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) fprintf(f, "%.0f", v->valuedouble);
}

static void ingest_playlist(ingest *g, const cJSON *pl, const char *file, int idx, int file_no) {
    char pid[32] = "?";
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(pl, "pid");
    if (!cJSON_IsObject(pl))
        cli_die("%s: playlist #%d is not a JSON object; is this an MPD slice?", file, idx);
    if (!cJSON_IsNumber(jp) || jp->valuedouble < 0 || jp->valuedouble > 9007199254740992.0 ||
        jp->valuedouble != floor(jp->valuedouble))
        cli_die("%s: playlist #%d: pid is missing or not a non-negative integer; every MPD playlist has one", file, idx);
    snprintf(pid, sizeof pid, "%.0f", jp->valuedouble);
    const cJSON *tracks = cJSON_GetObjectItemCaseSensitive(pl, "tracks");
    if (!cJSON_IsArray(tracks))
        cli_die(WHERE_FMT ": no 'tracks' array; every MPD playlist has one", file, idx, pid);
    int64_t prev = strmap_put(&g->pids, pid, file_no);
    if (prev == -2) cli_die("out of memory");
    if (prev >= 0)
        cli_die(WHERE_FMT ": pid %s was already seen in %s; ingest files with different pid spaces separately",
                file, idx, pid, pid, g->o->inputs[prev]);
    const char *collab = collab_text(cJSON_GetObjectItemCaseSensitive(pl, "collaborative"), file, idx, pid);
    int nt = 0;
    for (const cJSON *t = tracks->child; t; t = t->next, nt++) {
        if ((size_t)nt == g->rows_cap) {
            size_t c = g->rows_cap ? g->rows_cap * 2 : 512;
            int32_t *r = realloc(g->rows, c * 2 * sizeof *r);
            if (r) g->rows = r;
            char **k = realloc(g->keys, c * sizeof *k);
            if (k) g->keys = k;
            if (!r || !k) cli_die("out of memory");
            g->rows_cap = c;
        }
        track_fields tf = {0};
        if (cJSON_IsObject(t)) track_get(t, &tf);
        const cJSON *u = tf.uri;
        if (!cJSON_IsObject(t) || !cJSON_IsString(u) || !u->valuestring[0])
            cli_die(WHERE_FMT ": track #%d has no track_uri; every MPD track has one", file, idx, pid, nt);
        int64_t ti = vocab_add(&g->voc, u->valuestring, &tf);
        if (ti > INT32_MAX) cli_die("more than 2^31 distinct tracks");
        if (cJSON_IsNumber(tf.pos) && tf.pos->valuedouble != nt) g->npos_differ++;
        g->rows[2 * nt] = (int32_t)ti;
        g->rows[2 * nt + 1] = nt;   /* order = the array's; MPD guarantees pos == index */
        g->keys[nt] = pid;
    }
    if (nt == 0) g->nempty++;
    else if (ts_write_rows(g->w, nt, (const char *const *)g->keys, g->rows)) cli_die("%s", ts_werror(g->w));
    g->nrows += nt;
    g->nplaylists++;
    if (g->names) {
        FILE *f = g->names;
        fprintf(f, "%s\t", pid);
        put_cell(f, str_field(pl, "name")); fputc('\t', f);
        num_cell(f, pl, "num_tracks"); fputc('\t', f);
        num_cell(f, pl, "num_followers"); fputc('\t', f);
        fputs(collab, f); fputc('\t', f);
        put_cell(f, str_field(pl, "description")); fputc('\n', f);
    }
}

/* slice i: its error if it has one (the files before it are ingested) */
static void ingest_slice(ingest *g, slice *sl, int file_no) {
    if (sl->err[0]) cli_die("%s", sl->err);
    g->bytes += (double)sl->b.len;
    const cJSON *pls = cJSON_GetObjectItemCaseSensitive(sl->root, "playlists");
    if (!cJSON_IsArray(pls))
        cli_die("%s: no 'playlists' array at the top level; not an MPD slice (mpd.slice.N-M.json)", sl->path);
    int idx = 0;
    for (const cJSON *pl = pls->child; pl; pl = pl->next, idx++) ingest_playlist(g, pl, sl->path, idx, file_no);
    sl->root = NULL;
    arena_reset(&sl->ar, 1);    /* the tree lived in the arena: no cJSON_Delete */
}

/* ---- inputs: files and directories ---- */

static int is_slice_name(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' &&
           ((n > 5 && !strcmp(d->d_name + n - 5, ".json")) || (n > 9 && !strcmp(d->d_name + n - 9, ".json.zst")));
}

static void expand_inputs(struct opts *o) {
    char **list = NULL;
    int n = 0, cap = 0;
    static char *dash[] = {"-"};
    char **in = o->ninputs ? o->inputs : dash;
    int nin = o->ninputs ? o->ninputs : 1;
    for (int i = 0; i < nin; i++) {
        struct stat st;
        struct dirent **ents = NULL;
        int ne = 0;
        if (strcmp(in[i], "-") && stat(in[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            ne = scandir(in[i], &ents, is_slice_name, versionsort);
            if (ne < 0) cli_die("%s: cannot list: %s", in[i], strerror(errno));
            if (ne == 0) cli_die("%s: no *.json or *.json.zst files in this folder", in[i]);
        }
        int add = ne ? ne : 1;
        if (n + add > cap) {
            cap = (n + add) * 2;
            char **l = realloc(list, (size_t)cap * sizeof *l);
            if (!l) cli_die("out of memory");
            list = l;
        }
        if (!ne) { if (!(list[n++] = strdup(in[i]))) cli_die("out of memory"); continue; }
        for (int k = 0; k < ne; k++) {
            size_t len = strlen(in[i]) + strlen(ents[k]->d_name) + 2;
            if (!(list[n] = malloc(len))) cli_die("out of memory");
            snprintf(list[n++], len, "%s/%s", in[i], ents[k]->d_name);
            free(ents[k]);
        }
        free(ents);
    }
    o->inputs = list;       /* owned: freed at the end of main */
    o->ninputs = n;
}

int main(int argc, char **argv) {
    cli_init("mpd-ingest", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    expand_inputs(&o);
    ingest g = {.o = &o};
    strmap_init(&g.voc.index);
    strmap_init(&g.pids);
    outfile_hold();         /* -o, --tracks, --popularity, --names: all or none */
    if (o.names) {
        g.names = outfile_open(o.names, 0);
        fputs("pid\tname\tnum_tracks\tnum_followers\tcollaborative\tdescription\n", g.names);
    }
    ts_header h;
    static const char *const cols[] = {"track", "pos"};
    if (ts_header_init(&h, "playlists", TS_I32, 2, cols)) cli_die("out of memory");
    h.key_name = strdup("pid");
    g.w = cli_open_write(o.out);
    if (ts_begin_tensor(g.w, &h)) cli_die("%s", ts_werror(g.w));
    /* --threads 2: slice i+1 is read, un-zstd'd, checked and parsed on a
     * second thread while this one ingests slice i; everything that writes,
     * and every exit, stays on this thread, in file order */
    static slice sl[2];         /* static: reachable when a cli_die exits */
    cJSON_Hooks hooks = {arena_alloc, arena_free};
    cJSON_InitHooks(&hooks);
    for (int k = 0; k < 2; k++) sl[k].max = o.max_bytes;
    pthread_t worker;
    int running = 0;
    cli_progress prog;
    cli_progress_init(&prog, 10);
    if (o.ninputs > 0) {
        sl[0].path = o.inputs[0];
        load_slice(&sl[0], o.max_bytes);
    }
    for (int i = 0; i < o.ninputs; i++) {
        slice *cur = &sl[o.threads > 1 ? i & 1 : 0], *next = &sl[o.threads > 1 ? (i + 1) & 1 : 0];
        if (running) { pthread_join(worker, NULL); running = 0; }
        if (i + 1 < o.ninputs && o.threads > 1) {
            next->path = o.inputs[i + 1];
            running = !pthread_create(&worker, NULL, load_thread, next);
        }
        ingest_slice(&g, cur, i);
        if (i + 1 < o.ninputs && !running) {   /* one thread (next may be cur) */
            next->path = o.inputs[i + 1];
            load_slice(next, o.max_bytes);
        }
        cli_progress_update(&prog, "%d/%d files, %" PRId64 " playlists, %" PRId64 " tracks, %s",
                            i + 1, o.ninputs, g.nplaylists, g.voc.n, cli_progress_eta(&prog, i + 1, o.ninputs, "files"));
    }
    cli_progress_done(&prog);
    for (int k = 0; k < 2; k++) {
        free(sl[k].b.p);
        arena_reset(&sl[k].ar, 0);
        ZSTD_freeDStream(sl[k].ds);
    }
    if (ts_end_tensor(g.w)) cli_die("%s", ts_werror(g.w));
    write_vocab(&g.voc, o.tracks);
    if (o.popularity) write_popularity(&g.voc, o.popularity);
    if (g.names) outfile_close(g.names);
    cli_close_write(g.w);
    outfile_commit();
    cli_warn("%d files (%.1f MB of JSON): %" PRId64 " playlists, %" PRId64 " rows, %" PRId64 " distinct tracks",
             o.ninputs, g.bytes / 1e6, g.nplaylists, g.nrows, g.voc.n);
    if (g.nempty) cli_warn("%" PRId64 " playlists without tracks (in --names only)", g.nempty);
    if (g.npos_differ) cli_warn("%" PRId64 " tracks whose pos differs from their place in the array; the array order was kept", g.npos_differ);
    ts_header_free(&h);
    free(g.rows); free(g.keys);
    free(g.voc.off); free(g.voc.count); free(g.voc.text.p);
    strmap_free(&g.voc.index);
    strmap_free(&g.pids);
    for (int i = 0; i < o.ninputs; i++) free(o.inputs[i]);
    free(o.inputs);
    return 0;
}
