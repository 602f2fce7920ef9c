/* ts_craft.h - builds tensor streams byte by byte, following formats/TENSOR.md
 * rather than formats/tensor.c, so that the tests can make every malformed
 * stream the writer refuses to make, and so that they check the spec too.
 * Also: read a whole stream from memory and report the first error. */
#ifndef SONGPIPE_TS_CRAFT_H
#define SONGPIPE_TS_CRAFT_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include "tensor.h"

typedef struct { unsigned char *p; size_t n, cap; } cbuf;

static inline void cb_put(cbuf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n) c *= 2;
        unsigned char *q = realloc(b->p, c);
        if (!q) { fprintf(stderr, "out of memory\n"); exit(1); }
        b->p = q; b->cap = c;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static inline void cb_u8(cbuf *b, unsigned v) { unsigned char c = (unsigned char)v; cb_put(b, &c, 1); }
static inline void cb_u32(cbuf *b, uint32_t v) { for (int i = 0; i < 4; i++) cb_u8(b, (v >> (8 * i)) & 0xff); }
static inline void cb_u64(cbuf *b, uint64_t v) { for (int i = 0; i < 8; i++) cb_u8(b, (unsigned)(v >> (8 * i)) & 0xff); }
static inline uint32_t cb_get32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void cb_set32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static inline void cb_free(cbuf *b) { free(b->p); memset(b, 0, sizeof *b); }

/* CRC-32C of the record that starts at offset `from`, appended */
static inline void cb_crc(cbuf *b, size_t from) { cb_u32(b, ts_crc32c(0, b->p + from, b->n - from)); }

static inline void craft_magic(cbuf *b, uint32_t version) {
    static const unsigned char m[8] = {0x89, 'S', 'P', 'T', '\r', '\n', 0x1a, '\n'};
    cb_put(b, m, 8);
    cb_u32(b, version);
}
static inline void craft_header_len(cbuf *b, const char *js, size_t len) {
    size_t at = b->n;
    cb_u8(b, 'H'); cb_u32(b, (uint32_t)len); cb_put(b, js, len);
    cb_crc(b, at);
}
static inline void craft_header(cbuf *b, const char *js) { craft_header_len(b, js, strlen(js)); }
/* a B record from an already compressed payload and explicit fields */
static inline void craft_block_fields(cbuf *b, uint32_t nrows, uint32_t raw_len, const void *comp, uint32_t comp_len) {
    size_t at = b->n;
    cb_u8(b, 'B'); cb_u32(b, nrows); cb_u32(b, raw_len); cb_u32(b, comp_len);
    cb_put(b, comp, comp_len);
    cb_crc(b, at);
}
/* a B record holding raw (row payloads then NUL-terminated keys), zstd level 1 */
static inline void craft_block(cbuf *b, uint32_t nrows, const void *raw, size_t raw_len) {
    size_t bound = ZSTD_compressBound(raw_len);
    void *c = malloc(bound);
    size_t cl = ZSTD_compress(c, bound, raw, raw_len, 1);
    if (ZSTD_isError(cl)) { fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(cl)); exit(1); }
    craft_block_fields(b, nrows, (uint32_t)raw_len, c, (uint32_t)cl);
    free(c);
}
static inline void craft_end(cbuf *b, uint64_t rows) { size_t at = b->n; cb_u8(b, 'E'); cb_u64(b, rows); cb_crc(b, at); }
static inline void craft_zend(cbuf *b, uint32_t ntensors) { size_t at = b->n; cb_u8(b, 'Z'); cb_u32(b, ntensors); cb_crc(b, at); }

/* Recompute every record's CRC so that a mutated stream gets past the
 * checksums and exercises the parsers behind them.  Stops at the first
 * record it cannot frame. */
static inline void craft_fix_crcs(unsigned char *p, size_t n) {
    size_t at = 12;
    while (at < n) {
        size_t body;
        switch (p[at]) {
        case 'H': if (at + 5 > n) return; body = 5 + (size_t)cb_get32(p + at + 1); break;
        case 'B': if (at + 13 > n) return; body = 13 + (size_t)cb_get32(p + at + 9); break;
        case 'E': body = 9; break;
        case 'Z': body = 5; break;
        default: return;
        }
        if (body > n - at || n - at - body < 4) return;
        cb_set32(p + at + body, ts_crc32c(0, p + at, body));
        at += body + 4;
        if (p[at - 4 - body] == 'Z') at += 12;   /* a concatenated stream's header */
    }
}

/* Read every tensor and block of p[0..n), touching every key and payload
 * byte.  Returns 0 ok, -1 with the message in err.  *tensors and *rows count
 * what was read. */
static inline int craft_read_all(const void *p, size_t n, char *err, size_t errlen,
                          int *tensors, int64_t *rows, uint64_t *digest) {
    FILE *f = n ? fmemopen((void *)p, n, "rb") : fopen("/dev/null", "rb");
    if (!f) { snprintf(err, errlen, "fmemopen failed"); return -1; }
    int rc = -1, nt = 0;
    int64_t nr = 0;
    uint64_t h = 1469598103934665603ull;
    ts_reader *r = ts_open_read_fp(f, "mem", err, errlen);
    if (r) {
        const ts_header *hd;
        ts_block blk;
        while ((rc = ts_next_tensor(r, &hd)) == 1) {
            nt++;
            while ((rc = ts_read_block(r, &blk)) == 1) {
                const unsigned char *d = blk.data;
                for (size_t i = 0; i < (size_t)blk.nrows * hd->row_bytes; i++) h = (h ^ d[i]) * 1099511628211ull;
                for (int64_t i = 0; i < blk.nrows; i++)
                    for (const char *k = blk.keys[i]; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ull;
                nr += blk.nrows;
            }
            if (rc < 0) break;
        }
        if (rc < 0) snprintf(err, errlen, "%s", ts_error(r));
        ts_close_read(r);
    }
    fclose(f);
    if (tensors) *tensors = nt;
    if (rows) *rows = nr;
    if (digest) *digest = h;
    return rc < 0 ? -1 : 0;
}
#endif
