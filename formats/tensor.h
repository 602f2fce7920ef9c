/* tensor.h - the songpipe tensor stream: a table of keyed rows of fixed shape,
 * travelling in zstd-compressed, checksummed blocks.  Spec: formats/TENSOR.md.
 *
 * Reading:   ts_reader *r = ts_open_read(path, err, sizeof err);
 *            while ((rc = ts_next_tensor(r, &h)) == 1)
 *                while ((rc = ts_read_block(r, &b)) == 1) ... b.keys[i], b.data ...
 *            rc < 0: ts_error(r) says what went wrong and where.
 * Writing:   ts_writer *w = ts_open_write(path, err, sizeof err);
 *            ts_begin_tensor(w, &hdr); ts_write_row(w, key, row)...; ts_end_tensor(w);
 *            ts_close(w) writes the end record and renames the temporary file
 *            to path (formats/outset.h: names, held sets, cleanup). */
#ifndef SONGPIPE_TENSOR_H
#define SONGPIPE_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define TS_VERSION 1
#define TS_MAX_DIMS 8
#define TS_MAX_HEADER (16u << 20)        /* JSON header bytes */
#define TS_MAX_BLOCK_RAW (1u << 30)      /* decompressed block bytes */
#define TS_MAX_KEY 4096                  /* bytes in one key, with its NUL */
#define TS_MAX_BLOCK_ROWS (1u << 24)     /* rows in one block */
#define TS_MAX_DIM (INT64_C(1) << 53)    /* one shape size (exact as a JSON number) */
#define TS_DEFAULT_BLOCK (1u << 20)      /* writer flushes near this many raw bytes */

typedef enum { TS_F32, TS_F64, TS_I32, TS_I64, TS_U8, TS_NDTYPES } ts_dtype;

const char *ts_dtype_name(ts_dtype t);
int ts_dtype_parse(const char *s, ts_dtype *t);   /* 0 ok, -1 unknown */
size_t ts_dtype_size(ts_dtype t);

/* The description of one tensor.  Owned by whoever fills it; ts_header_free
 * frees the strings, column names and the cJSON metadata. */
typedef struct {
    char *name;                 /* e.g. "features", "enc.0.weight" */
    ts_dtype dtype;
    int ndim;                   /* dims of one row; 0 = a scalar per row */
    int64_t shape[TS_MAX_DIMS];
    int ncols;                  /* 0 or the number of elements per row */
    char **columns;             /* optional names, one per element of a row */
    char *key_name;             /* optional name of the key ("track_id") */
    cJSON *meta;                /* free-form object, may be NULL */
    /* derived */
    int64_t row_elems;          /* product of shape */
    size_t row_bytes;           /* row_elems * dtype size */
} ts_header;

/* Fill h for a 1-D row of n elements of dtype t; name and columns copied. */
int ts_header_init(ts_header *h, const char *name, ts_dtype t, int64_t n,
                   const char *const *columns);
int ts_header_set_shape(ts_header *h, int ndim, const int64_t *shape);
int ts_header_copy(ts_header *dst, const ts_header *src);
void ts_header_free(ts_header *h);
int ts_header_column(const ts_header *h, const char *name); /* index or -1 */
/* meta helpers: get (borrowed) or create the object at h->meta */
cJSON *ts_header_meta(ts_header *h);

/* ---- the memory limit ----
 * What one process may materialise from its inputs: a reader refuses a block
 * whose raw_len passes it (before allocating), ts_read_table a table whose
 * rows, keys and index pass it, and stages check what they build from input
 * against it (cli_mem_need).  Default: half of physical memory
 * (sysconf(_SC_PHYS_PAGES) x page size / 2).  The origin ("half of physical
 * memory", "--mem-limit", ...) and the hint ("raise it with ...") go into the
 * messages. */
uint64_t ts_mem_limit(void);
/* realloc for big arrays: n bytes, the first keep copied from old (then
 * freed); from 1 MiB on 2 MiB-aligned (rounded up to a multiple of 2 MiB)
 * and marked for transparent huge pages.
 * Free with free().  NULL when out of memory (old untouched). */
void *ts_big_realloc(void *old, size_t keep, size_t n);
const char *ts_mem_limit_origin(void);
void ts_set_mem_limit(uint64_t bytes, const char *origin);
void ts_set_mem_hint(const char *hint);     /* a string literal, kept */
/* "needs N bytes ... the memory limit is L bytes (origin); raise it with ..."
 * into buf, for the messages of readers and stages */
void ts_mem_message(char *buf, size_t len, uint64_t need);

/* ---- reading ---- */
typedef struct ts_reader ts_reader;

typedef struct {
    int64_t nrows;
    const void *data;           /* nrows * row_bytes, aligned to 16 bytes */
    const char *const *keys;    /* nrows NUL-terminated keys */
    int64_t first_row;          /* index of the first row within the tensor */
} ts_block;

/* path NULL or "-" = stdin.  NULL on error with the reason in err. */
ts_reader *ts_open_read(const char *path, char *err, size_t errlen);
/* Read from an open FILE (not closed by ts_close_read); name is used in messages. */
ts_reader *ts_open_read_fp(FILE *f, const char *name, char *err, size_t errlen);
/* 1: next tensor's header in *h (valid until the next call), 0: clean end of
 * stream, -1: error. */
int ts_next_tensor(ts_reader *r, const ts_header **h);
/* 1: a block in *b (valid until the next call), 0: end of this tensor, -1 error */
int ts_read_block(ts_reader *r, ts_block *b);
const char *ts_error(const ts_reader *r);
const char *ts_reader_name(const ts_reader *r);
/* rows read so far of the current tensor */
int64_t ts_reader_rows(const ts_reader *r);
/* bytes of the file read so far (for progress), -1 on a pipe */
int64_t ts_reader_offset(const ts_reader *r);
void ts_close_read(ts_reader *r);

/* A whole tensor in memory: one contiguous data array and one key arena.
 * For stages whose algorithm needs the table (a kNN index, a training set). */
typedef struct {
    ts_header h;
    int64_t nrows;
    void *data;                 /* nrows * h.row_bytes */
    char **keys;                /* pointers into keybuf */
    char *keybuf;
} ts_table;

/* Reads the rest of the current tensor (after ts_next_tensor returned 1).
 * From a file of 4 blocks or more, its blocks are checked and decompressed
 * on up to 4 threads (as many as the process's cores), straight into their
 * place in the table; same table, same errors as one block at a time. */
int ts_read_table(ts_reader *r, ts_table *t);
/* ts_read_table's threads: 0 (default) as the cores allow; 1 one block at a
 * time in the caller; 2-4 that many, whatever the cores and block count
 * (the tests compare the two ways). */
void ts_set_read_workers(int n);
/* Open path, read its first tensor (or the one named `name` when not NULL). */
int ts_load_table(const char *path, const char *name, ts_table *t,
                  char *err, size_t errlen);
void ts_table_free(ts_table *t);

/* ---- writing ---- */
typedef struct ts_writer ts_writer;

/* path NULL or "-" = stdout (refused when stdout is a terminal unless
 * allow_tty); otherwise writes path.tmp.PID.RANDOM, renamed on ts_close (or at
 * outset_commit when the set is held). */
ts_writer *ts_open_write(const char *path, char *err, size_t errlen);
void ts_writer_allow_tty(ts_writer *w, int allow);
void ts_writer_set_level(ts_writer *w, int zstd_level);
void ts_writer_set_block_bytes(ts_writer *w, size_t bytes);
/* Compress and write each block on a thread of the writer while the caller
 * fills the next (same bytes out; one more block of memory).  Errors show
 * at a later ts_write_row, ts_end_tensor or ts_close.  0 ok, -1 no thread
 * (the writer goes on without one). */
int ts_writer_set_async(ts_writer *w);
int ts_begin_tensor(ts_writer *w, const ts_header *h);
int ts_write_row(ts_writer *w, const char *key, const void *row);
int ts_write_rows(ts_writer *w, int64_t n, const char *const *keys, const void *rows);
int ts_end_tensor(ts_writer *w);
/* Writes the stream end record, flushes, renames.  0 ok, -1 error with the
 * reason in err (the writer is gone by then).  Frees w. */
int ts_close(ts_writer *w, char *err, size_t errlen);
/* Drops everything: removes the temporary file.  Frees w.  Safe on NULL. */
void ts_abort(ts_writer *w);
const char *ts_werror(const ts_writer *w);
/* Remove every temporary output file of the run, the writers' and the other
 * outputs' (outset_abort_all; for signal handlers and fatal-error paths);
 * async-signal-safe. */
void ts_abort_all_tmp(void);

/* CRC-32C (Castagnoli) of buf, continuing from crc (start with 0). */
uint32_t ts_crc32c(uint32_t crc, const void *buf, size_t len);
/* the table-driven version (what ts_crc32c uses without SSE4.2), for tests */
uint32_t ts_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
