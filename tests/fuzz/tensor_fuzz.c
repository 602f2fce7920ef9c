/* tensor_fuzz.c - libFuzzer harness for the tensor stream reader.  Not part of
 * `make test` (tests/unit/tensor_mutate.c is the deterministic version).
 *
 * The first input byte picks a mode: odd = recompute every record's CRC-32C
 * before reading (ts_craft.h), so the fuzzer gets past the checksums into the
 * JSON, size, zstd and key checks; even = the bytes as they are.  The rest is
 * the stream.  Every stream must read or fail with a message; anything else
 * (a crash, a sanitizer report, an empty message) is a finding.
 *
 * Build and run (from the project root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iformats -Itests/unit tests/fuzz/tensor_fuzz.c formats/tensor.c \
 *     -lzstd -lcjson -o /tmp/tensor_fuzz
 *   clang -g -D_GNU_SOURCE -DTS_FUZZ_SEEDS -Iformats -Itests/unit \
 *     tests/fuzz/tensor_fuzz.c formats/tensor.c -lzstd -lcjson -o /tmp/tensor_seeds
 *   mkdir -p /tmp/ts_corpus && /tmp/tensor_seeds /tmp/ts_corpus
 *   /tmp/tensor_fuzz -max_total_time=300 -max_len=4096 -rss_limit_mb=4096 /tmp/ts_corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensor.h"
#include "ts_craft.h"

static void read_stream(const uint8_t *data, size_t size) {
    char err[1024] = "";
    FILE *f = size ? fmemopen((void *)data, size, "rb") : fopen("/dev/null", "rb");
    if (!f) return;
    ts_reader *r = ts_open_read_fp(f, "fuzz", err, sizeof err);
    if (!r) {
        if (!err[0]) abort();
        fclose(f);
        return;
    }
    const ts_header *h;
    ts_block b;
    int rc, first = 1;
    volatile unsigned sink = 0;
    while ((rc = ts_next_tensor(r, &h)) == 1) {
        if (first) {                    /* the whole-table path */
            ts_table t;
            first = 0;
            if (ts_read_table(r, &t) == 0) {
                for (int64_t i = 0; i < t.nrows; i++) sink += (unsigned)strlen(t.keys[i]);
                if (t.nrows && t.h.row_bytes) sink += ((const uint8_t *)t.data)[t.nrows * t.h.row_bytes - 1];
                ts_table_free(&t);
            } else
                break;
            continue;
        }
        while ((rc = ts_read_block(r, &b)) == 1) {
            for (int64_t i = 0; i < b.nrows; i++) sink += (unsigned)strlen(b.keys[i]);
            if (b.nrows && h->row_bytes) sink += ((const uint8_t *)b.data)[b.nrows * h->row_bytes - 1];
        }
        if (rc < 0) break;
    }
    if (ts_error(r)[0] == 0 && rc < 0) abort();     /* a failure with no message */
    (void)sink;
    ts_close_read(r);
    fclose(f);
}

#ifndef TS_FUZZ_SEEDS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int fix = data[0] & 1;
    data++; size--;
    if (!fix) { read_stream(data, size); return 0; }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    craft_fix_crcs(copy, size);
    read_stream(copy, size);
    free(copy);
    return 0;
}
#else
/* writes a few valid streams (with a mode byte in front) into folder argv[1] */
static void save(const char *dir, int i, unsigned mode, const cbuf *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seed%d_%u", dir, i, mode);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fputc((int)mode, f);
    fwrite(b->p, 1, b->n, f);
    fclose(f);
}
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]); return 2; }
    static const char *hdrs[] = {
        "{\"name\":\"emb\",\"dtype\":\"f32\",\"shape\":[2],\"key\":\"id\",\"columns\":[\"a\",\"b\"],\"meta\":{\"k\":[1,{\"x\":null}]}}",
        "{\"name\":\"w\",\"dtype\":\"f64\",\"shape\":[1,1]}",
        "{\"name\":\"n\",\"dtype\":\"u8\",\"shape\":[]}",
        "{\"name\":\"z\",\"dtype\":\"i64\",\"shape\":[0]}",
    };
    static const char raws[4][40] = {"\0\0\x80?\0\0\0@k1", "\0\0\0\0\0\0\xf0?x", "\x01\x02" "a\0b", "p\0q\0r"};
    static const size_t raw_len[4] = {11, 10, 6, 6}, rows[4] = {1, 1, 2, 3};
    for (int i = 0; i < 4; i++) {
        cbuf b = {0};
        craft_magic(&b, 1);
        for (int t = 0; t <= i % 2; t++) {
            int k = (i + t) % 4;
            craft_header(&b, hdrs[k]);
            craft_block(&b, (uint32_t)rows[k], raws[k], raw_len[k]);
            craft_end(&b, rows[k]);
        }
        craft_zend(&b, (uint32_t)(1 + i % 2));
        if (i == 3) { cbuf c = {0}; cb_put(&c, b.p, b.n); cb_put(&b, c.p, c.n); cb_free(&c); }  /* concatenated */
        save(argv[1], i, 0, &b);
        save(argv[1], i, 1, &b);
        cb_free(&b);
    }
    return 0;
}
#endif
