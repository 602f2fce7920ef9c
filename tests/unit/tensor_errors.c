/* tensor_errors.c - every way the tensor stream reader rejects a stream, each
 * checked with its message; streams are built byte by byte (ts_craft.h) from
 * formats/TENSOR.md, which also checks that the spec and the writer agree. */
#include "check.h"
#include "ts_craft.h"
#include <unistd.h>

static char dir[] = "/tmp/ts_errXXXXXX";

/* the stream must be rejected with a message containing `want` */
static void rejects(const cbuf *b, const char *want, const char *what) {
    char err[1024] = "";
    int rc = craft_read_all(b->p, b->n, err, sizeof err, NULL, NULL, NULL);
    CHECK(rc == -1 && strstr(err, want), "%s: rejected with '%s' (got: %s)", what, want, rc ? err : "accepted");
}

static void reads_ok(const cbuf *b, int want_tensors, int64_t want_rows, const char *what) {
    char err[1024] = "";
    int nt = 0;
    int64_t nr = 0;
    int rc = craft_read_all(b->p, b->n, err, sizeof err, &nt, &nr, NULL);
    CHECK(rc == 0 && nt == want_tensors && nr == want_rows, "%s: reads %d tensors, %lld rows (got rc %d, %d, %lld: %s)",
          what, want_tensors, (long long)want_rows, rc, nt, (long long)nr, err);
}

/* one f32 tensor "t" of 2 columns and rows keyed k0, k1..., in one block */
static void f32_block(cbuf *b, int nrows) {
    cbuf raw = {0};
    for (int i = 0; i < nrows; i++) {
        float v[2] = {(float)i, (float)(-i) * 0.5f};
        cb_put(&raw, v, sizeof v);
    }
    for (int i = 0; i < nrows; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        cb_put(&raw, k, strlen(k) + 1);
    }
    craft_block(b, (uint32_t)nrows, raw.p, raw.n);
    cb_free(&raw);
}
static const char *HDR = "{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2],\"key\":\"id\",\"columns\":[\"x\",\"y\"]}";

static void simple(cbuf *b, int nrows) {
    craft_magic(b, 1);
    craft_header(b, HDR);
    f32_block(b, nrows);
    craft_end(b, (uint64_t)nrows);
    craft_zend(b, 1);
}

static void test_spec_matches_writer(void) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/w.ts", dir);
    ts_header h;
    const char *cols[2] = {"x", "y"};
    ts_header_init(&h, "t", TS_F32, 2, cols);
    h.key_name = strdup("id");
    ts_writer *w = ts_open_write(path, err, sizeof err);
    ts_begin_tensor(w, &h);
    for (int i = 0; i < 3; i++) {
        float v[2] = {(float)i, (float)(-i) * 0.5f};
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        ts_write_row(w, k, v);
    }
    int rc = ts_close(w, err, sizeof err);
    ts_header_free(&h);
    cbuf want = {0};
    simple(&want, 3);
    unsigned char got[4096];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    CHECK(rc == 0 && n == want.n && memcmp(got, want.p, n) == 0,
          "the writer's bytes equal the stream built from TENSOR.md (%zu vs %zu bytes)", n, want.n);
    ts_table t;
    rc = ts_load_table(path, NULL, &t, err, sizeof err);
    CHECK(rc == 0 && t.nrows == 3 && ((float *)t.data)[5] == -1.0f && strcmp(t.keys[2], "k2") == 0 &&
          strcmp(t.h.key_name, "id") == 0, "the crafted stream's values read back");
    if (!rc) ts_table_free(&t);
    cb_free(&want);
}

static void test_not_a_stream(void) {
    cbuf b = {0};
    rejects(&b, "empty input", "empty input");
    cb_put(&b, "track_id,artist,tempo\n1,ABBA,120\n", 33);
    rejects(&b, "not a tensor stream: it starts with text", "a CSV piped by mistake");
    cb_free(&b);
    unsigned char junk[16] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    cb_put(&b, junk, sizeof junk);
    rejects(&b, "not a tensor stream (bad magic bytes)", "binary that is not a stream (gzip)");
    cb_free(&b);
    craft_magic(&b, 2);
    rejects(&b, "unsupported tensor stream version 2", "version 2");
    cb_free(&b);
    craft_magic(&b, 0);
    rejects(&b, "unsupported tensor stream version 0", "version 0");
    cb_free(&b);
    craft_magic(&b, 1);
    rejects(&b, "ends before its first tensor, with no end-of-stream record", "a stream header alone");
    craft_zend(&b, 0);
    reads_ok(&b, 0, 0, "a stream with no tensor");
    cb_free(&b);
}

static void test_headers(void) {
    static const struct { const char *json, *want, *what; } cases[] = {
        {"{\"name\":\"t\",", "header is not a JSON object", "bad JSON"},
        {"[1,2]", "header is not a JSON object", "JSON array instead of object"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2]} x", "bytes after its JSON object", "garbage after the JSON"},
        {"{\"dtype\":\"f32\",\"shape\":[2]}", "no string \"name\"", "missing name"},
        {"{\"name\":3,\"dtype\":\"f32\",\"shape\":[2]}", "no string \"name\"", "numeric name"},
        {"{\"name\":\"t\",\"dtype\":\"f16\",\"shape\":[2]}", "unknown \"dtype\"", "unknown dtype f16"},
        {"{\"name\":\"t\",\"shape\":[2]}", "unknown \"dtype\"", "missing dtype"},
        {"{\"name\":\"t\",\"dtype\":\"f32\"}", "must be an array", "missing shape"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":\"2\"}", "must be an array", "shape is a string"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[1,1,1,1,1,1,1,1,1]}", "at most 8", "9 dimensions"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[-1]}", "not an integer from 0 to 2^53", "negative size"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[1.5]}", "not an integer from 0 to 2^53", "fractional size"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[\"2\"]}", "not an integer from 0 to 2^53", "size is a string"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[1e300]}", "not an integer from 0 to 2^53", "size 1e300"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[1e16]}", "not an integer from 0 to 2^53", "size above 2^53"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2147483648,2147483648,4]}", "too large", "shape product overflows"},
        {"{\"name\":\"t\",\"dtype\":\"f64\",\"shape\":[134217729]}", "too large", "row of more than 1 GiB"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2],\"columns\":[\"a\"]}", "must name each of the 2", "too few column names"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2,2],\"columns\":[\"a\",\"b\"]}", "must name each of the 4", "columns for a 2-D row"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2],\"columns\":\"ab\"}", "must name each", "columns is a string"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2],\"columns\":[\"a\",2]}", "holds a non-string", "numeric column name"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2],\"key\":7}", "\"key\" must be a string", "numeric key name"},
        {"{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[2],\"meta\":[1]}", "\"meta\" must be an object", "meta is an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cbuf b = {0};
        craft_magic(&b, 1);
        craft_header(&b, cases[i].json);
        craft_end(&b, 0);
        craft_zend(&b, 1);
        char what[128];
        snprintf(what, sizeof what, "malformed header: %s", cases[i].what);
        rejects(&b, cases[i].want, what);
        char err[1024] = "";
        craft_read_all(b.p, b.n, err, sizeof err, NULL, NULL, NULL);
        CHECK(strstr(err, "malformed header of tensor 1"), "%s: the message names the tensor", what);
        cb_free(&b);
    }
    /* an accepted header with everything optional left out, and a scalar row */
    cbuf b = {0};
    craft_magic(&b, 1);
    craft_header(&b, "{\"name\":\"\",\"dtype\":\"u8\",\"shape\":[]} \n");
    craft_block(&b, 2, "\x05\x07" "a\0b", 6);
    craft_end(&b, 2);
    craft_zend(&b, 1);
    reads_ok(&b, 1, 2, "minimal header, scalar u8 rows, trailing whitespace");
    cb_free(&b);
    /* oversized: the limit is checked before anything is allocated or read */
    craft_magic(&b, 1);
    cb_u8(&b, 'H');
    cb_u32(&b, TS_MAX_HEADER + 1);
    cb_put(&b, "{}", 2);
    rejects(&b, "oversized header: 16777217 bytes", "header longer than 16 MiB");
    cb_free(&b);
}

static void test_block_sizes(void) {
    cbuf b = {0};
    /* nrows * row_bytes beyond raw_len: 2^24 rows of 2^30 bytes */
    craft_magic(&b, 1);
    craft_header(&b, "{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[268435456]}");
    craft_block_fields(&b, 1u << 24, 100, "x", 1);
    rejects(&b, "block sizes do not add up: 16777216 rows of 1073741824 bytes", "nrows * row_bytes overflow");
    cb_free(&b);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    craft_block_fields(&b, (1u << 24) + 1, 1u << 30, "x", 1);
    rejects(&b, "oversized block (16777217 rows", "more rows than a block may hold");
    cb_free(&b);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    craft_block_fields(&b, 1, (1u << 30) + 1, "x", 1);
    rejects(&b, "oversized block", "raw block over 1 GiB");
    cb_free(&b);
    /* a block claiming a huge compressed length on a short stream */
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    cb_u8(&b, 'B'); cb_u32(&b, 1); cb_u32(&b, 10); cb_u32(&b, 1u << 30);
    cb_put(&b, "abc", 3);
    rejects(&b, "truncated stream: it ends inside a block after 0 rows", "claimed 1 GiB block on a short stream");
    cb_free(&b);
}

static void test_block_contents(void) {
    static const struct { const char *raw; size_t len; uint32_t nrows; const char *want, *what; } cases[] = {
        {"\0\0\0\0\0\0\0\0k0", 10, 1, "key 1 is not terminated", "unterminated key"},
        {"\0\0\0\0\0\0\0\0k0\0k1\0", 14, 1, "extra bytes after the keys", "more keys than rows"},
        {"\0\0\0\0\0\0\0\0k0\0", 11, 2, "do not add up", "fewer bytes than rows need"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cbuf b = {0};
        craft_magic(&b, 1);
        craft_header(&b, HDR);
        craft_block(&b, cases[i].nrows, cases[i].raw, cases[i].len);
        craft_end(&b, cases[i].nrows);
        craft_zend(&b, 1);
        rejects(&b, cases[i].want, cases[i].what);
        cb_free(&b);
    }
    cbuf b = {0}, raw = {0};
    char key[TS_MAX_KEY + 1];
    memset(key, 'k', TS_MAX_KEY);
    key[TS_MAX_KEY] = 0;
    float row[2] = {1, 2};
    cb_put(&raw, row, 8);
    cb_put(&raw, key, TS_MAX_KEY + 1);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    craft_block(&b, 1, raw.p, raw.n);
    rejects(&b, "key 1 is longer than 4095 bytes", "a key over the limit");
    cb_free(&b);
    /* compressed bytes that are not zstd, with a valid checksum */
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    craft_block_fields(&b, 1, 11, "not zstd at all", 15);
    rejects(&b, "cannot decompress", "a block that is not a zstd frame");
    cb_free(&b);
    /* raw_len disagrees with the zstd frame's content size */
    size_t bound = ZSTD_compressBound(raw.n);
    void *c = malloc(bound);
    size_t cl = ZSTD_compress(c, bound, raw.p, 20, 1);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    craft_block_fields(&b, 1, 30, c, (uint32_t)cl);
    rejects(&b, "block decompresses to 20 bytes, its header says 30", "raw length disagrees with the frame");
    cb_free(&b);
    free(c);
    cb_free(&raw);
}

/* A two-tensor stream with several blocks; offsets of the record boundaries */
static size_t bounds[32], nbounds;
static void two_tensors(cbuf *b) {
    nbounds = 0;
    craft_magic(b, 1);                                   bounds[nbounds++] = b->n;
    craft_header(b, HDR);                                bounds[nbounds++] = b->n;
    f32_block(b, 3);                                     bounds[nbounds++] = b->n;
    f32_block(b, 2);                                     bounds[nbounds++] = b->n;
    craft_end(b, 5);                                     bounds[nbounds++] = b->n;
    craft_header(b, "{\"name\":\"u\",\"dtype\":\"u8\",\"shape\":[0]}"); bounds[nbounds++] = b->n;
    craft_block(b, 2, "a\0b", 4);                        bounds[nbounds++] = b->n;
    craft_end(b, 2);                                     bounds[nbounds++] = b->n;
    craft_zend(b, 2);
}

static void test_truncation(void) {
    cbuf b = {0};
    two_tensors(&b);
    reads_ok(&b, 2, 7, "the untruncated two-tensor stream");
    char path[300], err[1024];
    snprintf(path, sizeof path, "%s/cut.ts", dir);
    int all_fail = 1, all_msg = 1, no_table = 1;
    for (size_t n = 0; n < b.n; n++) {
        int rc = craft_read_all(b.p, n, err, sizeof err, NULL, NULL, NULL);
        if (rc != -1) all_fail = 0;
        if (!strstr(err, n ? "truncated stream" : "empty input")) {
            if (all_msg) printf("# cut at %zu: %s\n", n, err);
            all_msg = 0;
        }
        FILE *f = fopen(path, "wb");
        fwrite(b.p, 1, n, f);
        fclose(f);
        ts_table t;
        /* a table is only returned whole: cut after its end record at the earliest */
        if (ts_load_table(path, "u", &t, err, sizeof err) == 0) {
            if (t.nrows != 2 || n < bounds[7] || strcmp(t.keys[1], "b")) no_table = 0;
            ts_table_free(&t);
        }
    }
    CHECK(all_fail, "every one of the %zu prefixes of the stream is rejected", b.n);
    CHECK(all_msg, "each with 'truncated stream' (or 'empty input')");
    CHECK(no_table, "ts_load_table never returns a short table from a prefix");
    static const char *at_bound[] = {
        "ends before its first tensor",                  /* after the magic */
        "ends inside a tensor after 0 rows",             /* after header 1 */
        "ends inside a tensor after 3 rows",
        "ends inside a tensor after 5 rows",             /* before E */
        "ends after tensor 1 ('t'), with no end-of-stream record",
        "ends inside a tensor after 0 rows",
        "ends inside a tensor after 2 rows",
        "ends after tensor 2 ('u'), with no end-of-stream record",
    };
    for (size_t i = 0; i < nbounds; i++) {
        craft_read_all(b.p, bounds[i], err, sizeof err, NULL, NULL, NULL);
        CHECK(strstr(err, at_bound[i]), "cut at record boundary %zu (byte %zu): '%s' (got: %s)", i, bounds[i], at_bound[i], err);
    }
    static const struct { size_t at; const char *want; } inside[] = {
        {5, "ends inside the stream header (5 of 12 bytes)"},
        {10, "ends inside the stream header (10 of 12 bytes)"},
        {14, "ends inside a tensor header"},
        {30, "ends inside a tensor header"},
    };
    for (size_t i = 0; i < sizeof inside / sizeof *inside; i++) {
        craft_read_all(b.p, inside[i].at, err, sizeof err, NULL, NULL, NULL);
        CHECK(strstr(err, inside[i].want), "cut at byte %zu: '%s' (got: %s)", inside[i].at, inside[i].want, err);
    }
    craft_read_all(b.p, bounds[1] + 5, err, sizeof err, NULL, NULL, NULL);
    CHECK(strstr(err, "ends inside a block header after 0 rows"), "cut inside a block header (got: %s)", err);
    craft_read_all(b.p, bounds[2] + 20, err, sizeof err, NULL, NULL, NULL);
    CHECK(strstr(err, "ends inside a block after 3 rows"), "cut inside a block's data (got: %s)", err);
    craft_read_all(b.p, bounds[3] + 4, err, sizeof err, NULL, NULL, NULL);
    CHECK(strstr(err, "ends inside an end-of-tensor record"), "cut inside an end record (got: %s)", err);
    craft_read_all(b.p, b.n - 2, err, sizeof err, NULL, NULL, NULL);
    CHECK(strstr(err, "ends inside the end-of-stream record"), "cut inside the end-of-stream record (got: %s)", err);
    cb_free(&b);
}

static void test_checksums(void) {
    cbuf b = {0};
    two_tensors(&b);
    static const struct { int rec; size_t off; const char *want, *what; } cases[] = {
        {0, 10, "checksum mismatch in tensor header 1", "a header's JSON"},
        {0, 1, "checksum mismatch in tensor header 1", "a header's length"},   /* it then spans other bytes */
        {1, 20, "tensor 't', block 1: checksum mismatch", "a block's compressed bytes"},
        {1, 1, "tensor 't', block 1: block sizes do not add up", "a block's row count (sizes are checked first)"},
        {2, 13, "tensor 't', block 2: checksum mismatch", "a block's own checksum"},
        {3, 3, "checksum mismatch in the end-of-tensor record", "an end record's row count"},
        {4, 10, "checksum mismatch in tensor header 2", "the second header"},
        {7, 2, "checksum mismatch in the end-of-stream record", "the end-of-stream record"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cbuf m = {0};
        cb_put(&m, b.p, b.n);
        size_t at = (cases[i].rec == 7 ? bounds[7] : bounds[cases[i].rec]) + cases[i].off;
        if (cases[i].rec == 2) at = bounds[3] - 4 + 1;   /* inside block 2's CRC */
        m.p[at] ^= 0x10;
        char what[128];
        snprintf(what, sizeof what, "a flipped bit in %s", cases[i].what);
        rejects(&m, cases[i].want, what);
        cb_free(&m);
    }
    cb_free(&b);
}

static void test_structure(void) {
    cbuf b = {0};
    simple(&b, 2);
    cb_put(&b, "garbage", 7);
    rejects(&b, "unexpected bytes after the end record", "trailing garbage");
    cb_free(&b);
    simple(&b, 2);
    cb_put(&b, "\x89SPT", 4);
    rejects(&b, "ends inside the header of a concatenated stream", "a concatenated stream cut in its magic");
    cb_free(&b);
    simple(&b, 2);
    craft_magic(&b, 3);
    rejects(&b, "concatenated stream has unsupported version 3", "a concatenated stream of another version");
    cb_free(&b);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    f32_block(&b, 4);
    craft_end(&b, 5);
    craft_zend(&b, 1);
    rejects(&b, "end record says 5 rows but 4 were read", "wrong row count in the end record");
    cb_free(&b);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    f32_block(&b, 4);
    craft_end(&b, 4);
    craft_zend(&b, 2);
    rejects(&b, "end-of-stream record says 2 tensors but 1 were read", "wrong tensor count in the end-of-stream record");
    cb_free(&b);
    craft_magic(&b, 1);
    craft_header(&b, HDR);
    craft_header(&b, HDR);
    rejects(&b, "expected a block or end record, found byte 0x48", "a header where a block belongs");
    cb_free(&b);
    craft_magic(&b, 1);
    craft_end(&b, 0);
    rejects(&b, "expected a tensor header record, found byte 0x45", "an end record with no tensor");
    cb_free(&b);
    /* a concatenation of two whole streams is one stream of their tensors */
    simple(&b, 2);
    simple(&b, 3);
    reads_ok(&b, 2, 5, "two concatenated streams");
    cb_free(&b);
}

static void test_writer_refusals(void) {
    char path[300], err[512];
    ts_header h;
    int64_t big[3] = {INT64_C(1) << 31, INT64_C(1) << 31, 4};
    ts_header_init(&h, "t", TS_F32, 2, NULL);
    CHECK(ts_header_set_shape(&h, 3, big) == -1, "ts_header_set_shape refuses a shape whose product overflows");
    int64_t neg[1] = {-3};
    CHECK(ts_header_set_shape(&h, 1, neg) == -1, "ts_header_set_shape refuses a negative size");
    CHECK(ts_header_set_shape(&h, TS_MAX_DIMS + 1, big) == -1, "ts_header_set_shape refuses 9 dimensions");
    ts_header_free(&h);
    ts_header g;
    CHECK(ts_header_init(&g, "t", TS_F64, INT64_C(1) << 28, NULL) == -1, "ts_header_init refuses a 2 GiB row");
    snprintf(path, sizeof path, "%s/bad.ts", dir);
    const char *cols[2] = {"a", "b"};
    ts_header_init(&h, "t", TS_F32, 2, cols);
    int64_t s2[2] = {2, 2};
    ts_header_set_shape(&h, 2, s2);
    ts_writer *w = ts_open_write(path, err, sizeof err);
    int rc = ts_begin_tensor(w, &h);
    CHECK(rc == -1 && strstr(ts_werror(w), "2 column names for 4 elements"), "writer refuses column names that do not match the shape (%s)", ts_werror(w));
    rc = ts_close(w, err, sizeof err);
    CHECK(rc == -1 && access(path, F_OK) != 0, "the failed output is not left behind");
    ts_header_free(&h);
    ts_header_init(&h, "t", TS_U8, 1, NULL);
    w = ts_open_write(path, err, sizeof err);
    ts_begin_tensor(w, &h);
    char key[TS_MAX_KEY + 1];
    memset(key, 'k', TS_MAX_KEY);
    key[TS_MAX_KEY] = 0;
    rc = ts_write_row(w, key, "x");
    CHECK(rc == -1 && strstr(ts_werror(w), "key too long (4096 bytes; the limit is 4095)"), "writer refuses a 4096-byte key (%s)", ts_werror(w));
    ts_abort(w);
    ts_header_free(&h);
    w = ts_open_write("/nonexistent-dir/x.ts", err, sizeof err);
    CHECK(!w && strstr(err, "cannot create"), "an output in a missing folder: %s", err);
    char e2[512];
    CHECK(!ts_open_read("/nonexistent-dir/x.ts", e2, sizeof e2) && strstr(e2, "cannot open: No such file"), "a missing input: %s", e2);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    test_spec_matches_writer();
    test_not_a_stream();
    test_headers();
    test_block_sizes();
    test_block_contents();
    test_truncation();
    test_checksums();
    test_structure();
    test_writer_refusals();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return CHECK_DONE();
}
