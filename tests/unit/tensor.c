/* tensor.c - unit tests of the tensor stream: round trips and rejections. */
#include "check.h"
#include "tensor.h"
#include <stdint.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/ts_unitXXXXXX";

/* the names in dir, sorted and joined with spaces */
static void list_dir(char *out, size_t n) {
    struct dirent **e;
    int k = scandir(dir, &e, NULL, alphasort);
    out[0] = 0;
    for (int i = 0; i < k; i++) {
        if (e[i]->d_name[0] != '.') {
            strncat(out, e[i]->d_name, n - strlen(out) - 2);
            strcat(out, " ");
        }
        free(e[i]);
    }
    free(e);
}

static void clear_dir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -f %s/*", dir);
    if (system(cmd)) printf("# rm failed\n");
}

/* writes tensors "a" (f32, shape [2,3], 5 rows), "b" (i64 scalars, 4 rows),
 * "c" (u8, 0 elements per row, 3 rows) to path */
static int write_three(const char *path, const char *prefix) {
    char err[512], key[64];
    ts_writer *w = ts_open_write(path, err, sizeof err);
    if (!w) return -1;
    ts_writer_set_block_bytes(w, 40);
    ts_header h;
    int64_t s23[2] = {2, 3};
    ts_header_init(&h, "a", TS_F32, 6, NULL);
    ts_header_set_shape(&h, 2, s23);
    h.key_name = strdup("song");
    ts_begin_tensor(w, &h);
    for (int i = 0; i < 5; i++) {
        float row[6];
        for (int j = 0; j < 6; j++) row[j] = (float)(i * 10 + j);
        snprintf(key, sizeof key, "%sa%d", prefix, i);
        ts_write_row(w, key, row);
    }
    ts_end_tensor(w);
    ts_header_free(&h);
    ts_header_init(&h, "b", TS_I64, 1, NULL);
    ts_header_set_shape(&h, 0, NULL);
    ts_begin_tensor(w, &h);
    int64_t v[4] = {-1, INT64_MAX, INT64_MIN, 7};
    const char *keys[4] = {"", "comma,key", "quote\"key", "new\nline"};
    ts_write_rows(w, 4, keys, v);
    ts_end_tensor(w);
    ts_header_free(&h);
    ts_header_init(&h, "c", TS_U8, 0, NULL);
    ts_begin_tensor(w, &h);
    const char *ck[3] = {"x", "y", "z"};
    ts_write_rows(w, 3, ck, NULL);
    ts_header_free(&h);       /* c is ended by ts_close */
    return ts_close(w, err, sizeof err);
}

static void test_multi_tensor(void) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/three.ts", dir);
    CHECK(write_three(path, "") == 0, "a three-tensor stream is written");
    ts_table t;
    int rc = ts_load_table(path, "b", &t, err, sizeof err);
    CHECK(rc == 0 && t.nrows == 4 && t.h.ndim == 0 && t.h.row_elems == 1 && ((int64_t *)t.data)[1] == INT64_MAX &&
          ((int64_t *)t.data)[2] == INT64_MIN && strcmp(t.keys[2], "quote\"key") == 0 && strcmp(t.keys[0], "") == 0,
          "ts_load_table by name: scalar i64 rows and odd keys (%s)", rc ? err : "");
    if (!rc) ts_table_free(&t);
    rc = ts_load_table(path, "a", &t, err, sizeof err);
    CHECK(rc == 0 && t.nrows == 5 && t.h.ndim == 2 && t.h.shape[0] == 2 && t.h.shape[1] == 3 &&
          ((float *)t.data)[4 * 6 + 5] == 45.0f && strcmp(t.h.key_name, "song") == 0,
          "a 2x3 shape round-trips with its key name");
    if (!rc) ts_table_free(&t);
    rc = ts_load_table(path, "c", &t, err, sizeof err);
    CHECK(rc == 0 && t.nrows == 3 && t.h.row_bytes == 0 && strcmp(t.keys[2], "z") == 0, "0-element rows keep their keys");
    if (!rc) ts_table_free(&t);
    rc = ts_load_table(path, "d", &t, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "no tensor named 'd'"), "a missing name is reported: %s", err);
    /* streaming: tensors in order, blocks bounded by the block size */
    ts_reader *r = ts_open_read(path, err, sizeof err);
    const ts_header *h;
    ts_block b;
    char names[16] = "";
    int64_t max_rows = 0, blocks = 0;
    while (ts_next_tensor(r, &h) == 1) {
        strncat(names, h->name, 2);
        while (ts_read_block(r, &b) == 1) {
            blocks++;
            if (b.nrows > max_rows && h->row_bytes == 24) max_rows = b.nrows;
        }
    }
    CHECK(strcmp(names, "abc") == 0 && ts_error(r)[0] == 0, "tensors stream in order: %s", names);
    CHECK(max_rows == 1 && blocks >= 6, "blocks of at most 40 bytes of payload: %lld rows max, %lld blocks", (long long)max_rows, (long long)blocks);
    ts_close_read(r);
    /* skipping a tensor without reading its blocks */
    r = ts_open_read(path, err, sizeof err);
    ts_next_tensor(r, &h);
    rc = ts_next_tensor(r, &h);
    CHECK(rc == 1 && strcmp(h->name, "b") == 0, "ts_next_tensor skips the unread blocks of the previous tensor");
    ts_close_read(r);
}

static void test_concatenated(void) {
    char p1[300], p2[300], cat[700], err[512];
    snprintf(p1, sizeof p1, "%s/one.ts", dir);
    snprintf(p2, sizeof p2, "%s/two.ts", dir);
    write_three(p1, "first-");
    write_three(p2, "second-");
    snprintf(cat, sizeof cat, "cat %s %s > %s/both.ts", p1, p2, dir);
    if (system(cat)) return;
    snprintf(cat, sizeof cat, "%s/both.ts", dir);
    ts_reader *r = ts_open_read(cat, err, sizeof err);
    const ts_header *h;
    ts_block b;
    int n = 0;
    char last[64] = "";
    int64_t rows = 0;
    while (ts_next_tensor(r, &h) == 1) {
        n++;
        while (ts_read_block(r, &b) == 1) {
            rows += b.nrows;
            if (!strcmp(h->name, "a")) snprintf(last, sizeof last, "%s", b.keys[b.nrows - 1]);
        }
    }
    CHECK(n == 6 && rows == 24 && strcmp(last, "second-a4") == 0 && ts_error(r)[0] == 0,
          "cat of two streams reads as six tensors (%d, %lld rows, last key %s)", n, (long long)rows, last);
    ts_close_read(r);
}

/* ts_read_table of a file takes its final sizes from the block headers
 * (2 MiB-aligned arrays past 2 MiB); a pipe, and a file of blocks whose
 * raw size the compressed bytes cannot plausibly back (zeros: ~1000x),
 * grow the arrays instead: the same table every way. */
static void test_table_sizes(void) {
    char path[300], zpath[300], err[512];
    snprintf(path, sizeof path, "%s/sizes.ts", dir);
    snprintf(zpath, sizeof zpath, "%s/zeros.ts", dir);
    enum { N = 200000, D = 6 };
    ts_header h;
    ts_header_init(&h, "s", TS_F32, D, NULL);
    int bad = 0;
    for (int z = 0; z < 2; z++) {
        ts_writer *w = ts_open_write(z ? zpath : path, err, sizeof err);
        bad |= !w || ts_begin_tensor(w, &h);
        uint32_t x = 1;
        for (int i = 0; w && i < N; i++) {
            float row[D];
            char key[32];
            for (int j = 0; j < D; j++) { x = x * 1664525u + 1013904223u; row[j] = z ? 0.0f : (float)(x >> 8) / 65536.0f; }
            snprintf(key, sizeof key, "row%d", i);
            bad |= ts_write_row(w, key, row);
        }
        bad |= !w || ts_close(w, err, sizeof err);
    }
    CHECK(!bad, "a %d-row table of random floats and one of zeros are written", N);
    for (int z = 0; z < 2; z++) {
        ts_table t, u;
        int rc = ts_load_table(z ? zpath : path, NULL, &t, err, sizeof err);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "cat '%s'", z ? zpath : path);
        FILE *p = popen(cmd, "r");
        ts_reader *r = p ? ts_open_read_fp(p, "pipe", err, sizeof err) : NULL;
        const ts_header *ph;
        int rc2 = r && ts_next_tensor(r, &ph) == 1 ? ts_read_table(r, &u) : -1;
        int same = rc == 0 && rc2 == 0 && t.nrows == N && u.nrows == N &&
                   memcmp(t.data, u.data, (size_t)N * D * sizeof(float)) == 0;
        for (int i = 0; same && i < N; i++) same = strcmp(t.keys[i], u.keys[i]) == 0;
        CHECK(same, "%s: the file (size hint) and a pipe (growth) give the same table", z ? "zeros" : "random floats");
        if (!rc) ts_table_free(&t);
        if (!rc2) ts_table_free(&u);
        ts_close_read(r);
        if (p) pclose(p);
    }
    ts_header_free(&h);
}

static void test_long_keys(void) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/keys.ts", dir);
    static char key[TS_MAX_KEY];
    memset(key, 'q', TS_MAX_KEY - 1);
    ts_header h;
    ts_header_init(&h, "k", TS_F32, 1, NULL);
    ts_writer *w = ts_open_write(path, err, sizeof err);
    ts_writer_set_block_bytes(w, 1000);
    ts_begin_tensor(w, &h);
    int bad = 0;
    for (int i = 0; i < 50; i++) {
        float v = (float)i;
        key[0] = (char)('A' + i % 26);
        bad |= ts_write_row(w, key, &v);
    }
    int rc = ts_close(w, err, sizeof err);
    CHECK(!bad && rc == 0, "50 keys of 4095 bytes are written");
    ts_table t;
    rc = ts_load_table(path, NULL, &t, err, sizeof err);
    int same = rc == 0 && t.nrows == 50;
    for (int i = 0; same && i < 50; i++) {
        key[0] = (char)('A' + i % 26);
        same = strcmp(t.keys[i], key) == 0 && ((float *)t.data)[i] == (float)i;
    }
    CHECK(same, "and read back");
    if (!rc) ts_table_free(&t);
    ts_header_free(&h);
}

static void test_tmp_files(void) {
    char path[300], err[512], names[1024];
    clear_dir();
    snprintf(path, sizeof path, "%s/out.ts", dir);
    ts_header h;
    ts_header_init(&h, "t", TS_F32, 1, NULL);
    ts_writer *w = ts_open_write(path, err, sizeof err);
    ts_begin_tensor(w, &h);
    float v = 1;
    ts_write_row(w, "k", &v);
    list_dir(names, sizeof names);
    char want[64];
    snprintf(want, sizeof want, "out.ts.tmp.%ld.", (long)getpid());
    CHECK(strncmp(names, want, strlen(want)) == 0 && strlen(names) == strlen(want) + 9,
          "while writing, only out.ts.tmp.PID.RANDOM exists: '%s'", names);
    ts_close(w, err, sizeof err);
    list_dir(names, sizeof names);
    CHECK(strcmp(names, "out.ts ") == 0, "after ts_close, only out.ts exists: '%s'", names);
    clear_dir();
    w = ts_open_write(path, err, sizeof err);
    ts_begin_tensor(w, &h);
    ts_write_row(w, "k", &v);
    ts_abort(w);
    list_dir(names, sizeof names);
    CHECK(strcmp(names, "") == 0, "ts_abort leaves nothing: '%s'", names);
    /* an existing file is only replaced on success */
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    w = ts_open_write(path, err, sizeof err);
    ts_begin_tensor(w, &h);
    ts_abort(w);
    f = fopen(path, "r");
    char buf[8] = "";
    if (f) { if (!fgets(buf, sizeof buf, f)) buf[0] = 0; fclose(f); }
    list_dir(names, sizeof names);
    CHECK(strcmp(buf, "old") == 0 && strcmp(names, "out.ts ") == 0, "an aborted write leaves the old file untouched");
    clear_dir();
    /* -o /dev/null must not replace the device: through a symlink to it, so
     * that a regression replaces only the link */
    char link[300];
    snprintf(link, sizeof link, "%s/null", dir);
    if (symlink("/dev/null", link) == 0) {
        w = ts_open_write(link, err, sizeof err);
        ts_begin_tensor(w, &h);
        ts_write_row(w, "k", &v);
        int rc = ts_close(w, err, sizeof err);
        struct stat st;
        CHECK(rc == 0 && lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "writing to a device writes in place (no .tmp renamed over it)");
        list_dir(names, sizeof names);
        CHECK(strcmp(names, "null ") == 0, "and leaves no .tmp: '%s'", names);
    }
    clear_dir();
    ts_header_free(&h);
}

static void roundtrip_dtype(ts_dtype t, int64_t nrows, size_t block_bytes) {
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/rt_%s.ts", dir, ts_dtype_name(t));
    ts_header h;
    const char *cols[3] = {"a", "b", "c"};
    ts_header_init(&h, "x", t, 3, cols);
    cJSON_AddStringToObject(ts_header_meta(&h), "unit", "test");
    ts_writer *w = ts_open_write(path, err, sizeof err);
    ts_writer_set_block_bytes(w, block_bytes);
    ts_begin_tensor(w, &h);
    size_t es = ts_dtype_size(t);
    unsigned char row[3 * 8];
    char key[32];
    for (int64_t i = 0; i < nrows; i++) {
        for (size_t j = 0; j < sizeof row; j++) row[j] = (unsigned char)(i * 7 + j * 13);
        snprintf(key, sizeof key, "k%lld", (long long)i);
        ts_write_row(w, key, row);
    }
    int rc = ts_close(w, err, sizeof err);
    CHECK(rc == 0, "%s: close ok (%s)", ts_dtype_name(t), rc ? err : "");
    ts_table tab;
    rc = ts_load_table(path, NULL, &tab, err, sizeof err);
    CHECK(rc == 0, "%s: load ok (%s)", ts_dtype_name(t), rc ? err : "");
    if (rc) return;
    int same = tab.nrows == nrows && tab.h.dtype == t && tab.h.ncols == 3 &&
               strcmp(tab.h.columns[2], "c") == 0;
    for (int64_t i = 0; same && i < nrows; i++) {
        for (size_t j = 0; j < 3 * es; j++) row[j] = (unsigned char)(i * 7 + j * 13);
        snprintf(key, sizeof key, "k%lld", (long long)i);
        same = memcmp((char *)tab.data + i * 3 * es, row, 3 * es) == 0 && strcmp(tab.keys[i], key) == 0;
    }
    CHECK(same, "%s: %lld rows, block %zu bytes: keys, payload, columns round-trip", ts_dtype_name(t), (long long)nrows, block_bytes);
    cJSON *u = cJSON_GetObjectItem(tab.h.meta, "unit");
    CHECK(u && strcmp(u->valuestring, "test") == 0, "%s: metadata round-trips", ts_dtype_name(t));
    ts_table_free(&tab);
    ts_header_free(&h);
}

/* ts_writer_set_async: the same bytes as without the thread, over many
 * blocks and two tensors */
static long write_stream(const char *path, int async, size_t block_bytes) {
    char err[512];
    ts_writer *w = ts_open_write(path, err, sizeof err);
    if (!w) return -1;
    if (async && ts_writer_set_async(w)) { ts_abort(w); return -1; }
    ts_writer_set_block_bytes(w, block_bytes);
    for (int t = 0; t < 2; t++) {
        ts_header h;
        ts_header_init(&h, t ? "second" : "first", TS_F32, 4, NULL);
        ts_begin_tensor(w, &h);
        for (int i = 0; i < 5000; i++) {
            float row[4] = {(float)i, (float)(i % 7) * 0.5f, (float)t, 1.0f / (float)(i + 1)};
            char key[32];
            snprintf(key, sizeof key, "row%d", i * (t + 1));
            ts_write_row(w, key, row);
        }
        ts_end_tensor(w);
        ts_header_free(&h);
    }
    if (ts_close(w, err, sizeof err)) return -1;
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

static void async_same_bytes(void) {
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/sync.ts", dir);
    snprintf(b, sizeof b, "%s/async.ts", dir);
    for (size_t bb = 64; bb <= (1u << 20); bb *= 128) {
        long na = write_stream(a, 0, bb), nb = write_stream(b, 1, bb);
        int same = na > 0 && na == nb;
        FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
        for (int ca = 0, cb = 0; same && fa && fb && ca != EOF;) {
            ca = getc(fa);
            cb = getc(fb);
            same = ca == cb;
        }
        if (fa) fclose(fa);
        if (fb) fclose(fb);
        CHECK(same && fa && fb, "async writer, blocks of %zu bytes: the same %ld bytes as the plain one (%ld)", bb, na, nb);
    }
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    async_same_bytes();
    for (int t = 0; t < TS_NDTYPES; t++) {
        roundtrip_dtype((ts_dtype)t, 1000, 1 << 20);
        roundtrip_dtype((ts_dtype)t, 1000, 100);    /* many blocks */
        roundtrip_dtype((ts_dtype)t, 0, 100);       /* empty table */
    }
    CHECK(ts_crc32c(0, "123456789", 9) == 0xE3069283u, "crc32c check value");
    CHECK(ts_crc32c_portable(0, "123456789", 9) == 0xE3069283u, "portable crc32c check value");
    {   /* the hardware and table versions agree on every length and alignment */
        unsigned char buf[300];
        for (int i = 0; i < 300; i++) buf[i] = (unsigned char)(i * 131 + 7);
        int same = 1;
        for (int off = 0; off < 9; off++)
            for (int len = 0; len + off <= 300; len += 7)
                if (ts_crc32c(5, buf + off, (size_t)len) != ts_crc32c_portable(5, buf + off, (size_t)len)) same = 0;
        uint32_t part = ts_crc32c(ts_crc32c(0, buf, 100), buf + 100, 200);
        CHECK(same && part == ts_crc32c_portable(0, buf, 300), "crc32c: fast and portable paths agree; chaining works");
    }
    CHECK(ts_crc32c(ts_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u, "crc32c continues across calls");
    test_multi_tensor();
    test_concatenated();
    test_long_keys();
    test_table_sizes();
    test_tmp_files();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return CHECK_DONE();
}
