/* memlimit.c - the tensor reader's memory limit (ts_mem_limit): a block or a
 * table larger than the limit is refused before it is allocated, with the
 * bytes it needs in the message.  `memlimit --write-bomb FILE` writes the
 * stream of issue 14 (four zstd frames of zeros, 1 GiB each, 130 KB on disk)
 * for the shell tests of the stages that load whole tables. */
#include "check.h"
#include "ts_craft.h"

#include <string.h>

/* Rows of 63 f32 zeros with empty keys: a block of n rows is n * 253 zero
 * bytes, so one zstd frame of RLE blocks holds it whatever its size. */
enum { BOMB_COLS = 63, BOMB_ROWS = 4243000, BOMB_BLOCKS = 4 };
#define BOMB_RAW ((uint32_t)BOMB_ROWS * (BOMB_COLS * 4 + 1))

/* a zstd frame (RFC 8878) of raw_len zero bytes: single segment, the content
 * size stated, RLE blocks of 128 KiB (4 bytes each) */
static void zero_frame(cbuf *c, uint64_t raw_len) {
    cb_u32(c, 0xFD2FB528u);
    cb_u8(c, 0xE0);                     /* 8-byte content size, single segment */
    cb_u64(c, raw_len);
    for (uint64_t left = raw_len; left;) {
        uint32_t n = left > (1u << 17) ? 1u << 17 : (uint32_t)left;
        left -= n;
        uint32_t hdr = (left == 0) | 1u << 1 | n << 3;   /* last, RLE, size */
        cb_u8(c, hdr & 0xff); cb_u8(c, (hdr >> 8) & 0xff); cb_u8(c, hdr >> 16);
        cb_u8(c, 0);
    }
}

static void craft_bomb(cbuf *b) {
    char js[128];
    snprintf(js, sizeof js, "{\"name\":\"zeros\",\"dtype\":\"f32\",\"shape\":[%d]}", BOMB_COLS);
    craft_magic(b, 1);
    craft_header(b, js);
    cbuf f = {0};
    zero_frame(&f, BOMB_RAW);
    for (int i = 0; i < BOMB_BLOCKS; i++) craft_block_fields(b, BOMB_ROWS, BOMB_RAW, f.p, (uint32_t)f.n);
    craft_end(b, (uint64_t)BOMB_ROWS * BOMB_BLOCKS);
    craft_zend(b, 1);
    cb_free(&f);
}

/* a small honest table: n rows of 16 f32, keys "k<i>", small blocks */
static void craft_table(cbuf *b, int n, int per_block) {
    craft_magic(b, 1);
    craft_header(b, "{\"name\":\"t\",\"dtype\":\"f32\",\"shape\":[16]}");
    for (int at = 0; at < n; at += per_block) {
        int m = n - at < per_block ? n - at : per_block;
        cbuf raw = {0};
        for (int i = 0; i < m; i++)
            for (int j = 0; j < 16; j++) { float v = (float)(at + i + j); cb_put(&raw, &v, 4); }
        for (int i = 0; i < m; i++) { char k[16]; snprintf(k, sizeof k, "k%d", at + i); cb_put(&raw, k, strlen(k) + 1); }
        craft_block(b, (uint32_t)m, raw.p, raw.n);
        cb_free(&raw);
    }
    craft_end(b, (uint64_t)n);
    craft_zend(b, 1);
}

static ts_reader *open_mem(cbuf *b, const char *name, FILE **f) {
    char err[256];
    *f = fmemopen(b->p, b->n, "rb");
    ts_reader *r = *f ? ts_open_read_fp(*f, name, err, sizeof err) : NULL;
    const ts_header *h;
    if (!r || ts_next_tensor(r, &h) != 1) { printf("FAIL: memlimit: cannot open %s\n", name); exit(1); }
    return r;
}

/* 0 when the table loads; else -1 with the reader's message in msg */
static int load(cbuf *b, uint64_t limit, char *msg, size_t len, int64_t *rows) {
    FILE *f;
    ts_set_mem_limit(limit, "--mem-limit");
    ts_reader *r = open_mem(b, "t.ts", &f);
    ts_table t;
    int rc = ts_read_table(r, &t);
    snprintf(msg, len, "%s", rc ? ts_error(r) : "");
    if (!rc) { *rows = t.nrows; ts_table_free(&t); }
    ts_close_read(r);
    fclose(f);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-bomb")) {
        cbuf b = {0};
        craft_bomb(&b);
        FILE *f = fopen(argv[2], "wb");
        int bad = !f || fwrite(b.p, 1, b.n, f) != b.n;
        if (f && fclose(f)) bad = 1;
        cb_free(&b);
        if (bad) { fprintf(stderr, "memlimit: cannot write %s\n", argv[2]); return 1; }
        return 0;
    }
    char msg[1024];
    int64_t rows = 0;

    CHECK(ts_mem_limit() >= (64u << 20), "the default limit is half of physical memory (%llu bytes, %s)",
          (unsigned long long)ts_mem_limit(), ts_mem_limit_origin());

    cbuf bomb = {0};
    craft_bomb(&bomb);
    CHECK(bomb.n < 200000, "the bomb is small on disk (%zu bytes) and claims %u bytes a block", bomb.n, BOMB_RAW);
    int rc = load(&bomb, 1u << 20, msg, sizeof msg, &rows);
    char want[128];
    snprintf(want, sizeof want, "needs %u bytes", BOMB_RAW);
    CHECK(rc == -1 && strstr(msg, want) && strstr(msg, "memory limit is 1048576 bytes") &&
          strstr(msg, "--mem-limit") && strstr(msg, "block 1"),
          "a 1 GiB block is refused at its header under a 1 MiB limit: %s", msg);

    /* block by block, too: a block larger than the limit is never allocated */
    FILE *f;
    ts_set_mem_limit(1u << 20, "--mem-limit");
    ts_reader *r = open_mem(&bomb, "bomb.ts", &f);
    ts_block blk;
    CHECK(ts_read_block(r, &blk) == -1 && strstr(ts_error(r), "a block of this size needs"),
          "ts_read_block refuses the block too: %s", ts_error(r));
    ts_close_read(r);
    fclose(f);
    cb_free(&bomb);

    /* a table of small blocks: each block fits, the whole does not */
    cbuf tab = {0};
    craft_table(&tab, 1000, 100);       /* 1000 x (64 + 16 + key) bytes */
    rc = load(&tab, 40000, msg, sizeof msg, &rows);
    CHECK(rc == -1 && strstr(msg, "holding the whole tensor") && strstr(msg, "memory limit is 40000 bytes"),
          "a table over the limit is refused while it is read: %s", msg);
    rc = load(&tab, 1u << 20, msg, sizeof msg, &rows);
    CHECK(rc == 0 && rows == 1000, "the same table loads under a 1 MiB limit (%lld rows) %s", (long long)rows, msg);
    cb_free(&tab);
    return CHECK_DONE();
}
