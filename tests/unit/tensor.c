/* tensor.c - unit tests of the tensor stream: round trips and rejections. */
#include "check.h"
#include "tensor.h"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ts_unitXXXXXX";

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

int main(void) {
    if (!mkdtemp(dir)) return 1;
    for (int t = 0; t < TS_NDTYPES; t++) {
        roundtrip_dtype((ts_dtype)t, 1000, 1 << 20);
        roundtrip_dtype((ts_dtype)t, 1000, 100);    /* many blocks */
        roundtrip_dtype((ts_dtype)t, 0, 100);       /* empty table */
    }
    CHECK(ts_crc32c(0, "123456789", 9) == 0xE3069283u, "crc32c check value");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return CHECK_DONE();
}
