/* csv_clean_stage.c - exact cells of what bin/csv-clean writes for the
 * committed slice of spotify-2023-dirty.csv, read back with ts_load_table.
 * Reference numbers: tests/data/csv_clean_ref.py (pandas, run once).
 * Runs $BIN/csv-clean (tests/run.sh exports BIN; default bin/). */
#include "check.h"
#include "tensor.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define SLICE "tests/data/spotify-2023-dirty-slice.csv"
#define COLS "streams,in_shazam_charts,bpm,year:released_year"

static char out[64];

/* runs csv-clean with args on the slice and loads the tensor; 0 ok */
static int run(const char *args, ts_table *t) {
    const char *bin = getenv("BIN") ? getenv("BIN") : "bin";
    char cmd[1024], err[256];
    snprintf(cmd, sizeof cmd, "'%s/csv-clean' %s -o %s " SLICE " 2>/dev/null", bin, args, out);
    if (system(cmd) != 0) return -1;
    return ts_load_table(out, NULL, t, err, sizeof err);
}

static const float *row_of(const ts_table *t, const char *key) {
    for (int64_t i = 0; i < t->nrows; i++)
        if (strcmp(t->keys[i], key) == 0) return (const float *)t->data + i * t->h.row_elems;
    return NULL;
}

static double meta_num(const ts_table *t, const char *name) {
    cJSON *cc = t->h.meta ? cJSON_GetObjectItem(t->h.meta, "csv_clean") : NULL;
    cJSON *v = cc ? cJSON_GetObjectItem(cc, name) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

int main(void) {
    CHECK(access(SLICE, R_OK) == 0, "fixture %s (run from the project root)", SLICE);
    snprintf(out, sizeof out, "/tmp/csv-clean-unit-%d.ts", (int)getpid());
    ts_table t;

    int rc = run("--cols " COLS " --category key", &t);
    CHECK(rc == 0, "csv-clean --empty drop ran and its output loads");
    if (rc) return 1;
    CHECK(t.nrows == 38 && t.h.row_elems == 5, "38 rows of 5 (pandas: 38)");
    CHECK(strcmp(t.h.key_name, "track_name") == 0, "key name track_name (BOM dropped): '%s'", t.h.key_name);
    CHECK(t.h.ncols == 5 && strcmp(t.h.columns[3], "year") == 0 && strcmp(t.h.columns[4], "key") == 0,
          "column names: ..., year, key");
    CHECK(strcmp(t.keys[0], "Seven (feat. Latto) (Explicit Ver.)") == 0 && strcmp(t.keys[1], "LALA") == 0,
          "first keys in file order");
    const float *f = row_of(&t, "Flowers");
    CHECK(f && f[0] == (float)1316855716.0 && f[1] == 1021.0f && f[2] == 118.0f && f[3] == 2023.0f,
          "Flowers: streams 1316855716, quoted thousands \"1,021\" -> 1021, bpm 118, year 2023");
    CHECK(f && f[4] == 6.0f, "Flowers: empty key cell -> category code 6 (pandas first-seen order)");
    CHECK(row_of(&t, "As It Was") == NULL, "row with an empty in_shazam_charts dropped");
    double sum = 0;
    for (int64_t i = 0; i < t.nrows; i++) sum += ((const float *)t.data)[i * 5];
    CHECK(CLOSE(sum, 16132602073.0, 38 * 64, 0), "sum of streams %.0f (pandas 16132602073, f32 rounding)", sum);
    CHECK(meta_num(&t, "rows_in") == 42 && meta_num(&t, "rows_out") == 38 &&
          meta_num(&t, "dropped_empty") == 1 && meta_num(&t, "dropped_unparsable") == 1 &&
          meta_num(&t, "duplicate_keys") == 2 && meta_num(&t, "filled") == 0,
          "meta csv_clean counts 42/38/1/1/2/0");
    ts_table_free(&t);

    struct { const char *policy; double want; } fills[] = {
        {"mean", 375.60526315789474}, {"median", 211.5}, {"zero", 0}};
    for (int k = 0; k < 3; k++) {
        char args[256];
        snprintf(args, sizeof args, "--cols " COLS " --empty %s", fills[k].policy);
        rc = run(args, &t);
        const float *a = rc ? NULL : row_of(&t, "As It Was");
        CHECK(a && t.nrows == 39 && a[1] == (float)fills[k].want && meta_num(&t, "filled") == 1,
              "--empty %s: 39 rows, 'As It Was' in_shazam_charts = %g (pandas %.9g)", fills[k].policy,
              a ? a[1] : -1.0, fills[k].want);
        if (!rc) ts_table_free(&t);
    }
    unlink(out);
    return CHECK_DONE();
}
