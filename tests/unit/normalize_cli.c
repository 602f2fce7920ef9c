/* normalize_cli.c - runs bin/normalize on streams written with the tensor API
 * (so it needs no csv-clean): f32 and f64 outputs against naive double
 * loops, NaN, meta, keys, further tensors, wrong dtypes, pipe vs file, and
 * no temporary file left behind.  $BIN names the binaries (tests/run.sh). */
#include "check.h"
#include "tensor.h"
#include "normstats.h"
#include <dirent.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum { N = 3001, C = 4 };
static char dir[] = "/tmp/ns_cliXXXXXX";
static char bin[2048];
static double X[N][C];          /* the input values (f32-representable) */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[8192], full[8300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && %s", dir, cmd);
    int rc = system(full);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static char *slurp(const char *name) {
    static char buf[65536];
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = i + 1 == n ? 0 : '/';   /* one line for messages */
    return buf;
}

/* in.ts: tensor "features" (f32 or f64, 4 columns, meta {"source":"unit"}),
 * small blocks; optionally a second tensor "extra". */
static void write_input(const char *name, ts_dtype t, int second) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const char *cols[C] = {"energy", "tempo", "loudness", "mode"};
    ts_header h;
    ts_header_init(&h, "features", t, C, cols);
    h.key_name = strdup("track_id");
    cJSON_AddStringToObject(ts_header_meta(&h), "source", "unit");
    ts_writer *w = ts_open_write(path, err, sizeof err);
    ts_writer_set_block_bytes(w, 4000);          /* many blocks */
    ts_begin_tensor(w, &h);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "t%04d", i);
        float rf[C];
        double rd[C];
        for (int j = 0; j < C; j++) { rd[j] = X[i][j]; rf[j] = (float)X[i][j]; }
        ts_write_row(w, key, t == TS_F32 ? (void *)rf : (void *)rd);
    }
    ts_end_tensor(w);
    ts_header_free(&h);
    if (second) {
        ts_header_init(&h, "extra", TS_I32, 1, NULL);
        ts_begin_tensor(w, &h);
        for (int32_t i = 0; i < 10; i++) ts_write_row(w, "k", &i);
        ts_end_tensor(w);
        ts_header_free(&h);
    }
    if (ts_close(w, err, sizeof err)) printf("# %s\n", err);
}

static void make_values(void) {
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < C; j++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            double u = (double)(s >> 11) / 9007199254740992.0;
            X[i][j] = (float)(j == 0 ? u : j == 1 ? 60 + 140 * u : j == 2 ? -30 * u : (double)(u > 0.4));
        }
    }
    X[17][0] = NAN;
    X[2000][0] = NAN;
}

/* naive reference of one column: minmax or zscore over the non-NaN values */
static void naive(int j, int zscore, double *center, double *scale) {
    double mn = INFINITY, mx = -INFINITY, sum = 0, ss = 0;
    int n = 0;
    for (int i = 0; i < N; i++) if (!isnan(X[i][j])) { mn = fmin(mn, X[i][j]); mx = fmax(mx, X[i][j]); sum += X[i][j]; n++; }
    double mean = sum / n;
    for (int i = 0; i < N; i++) if (!isnan(X[i][j])) ss += (X[i][j] - mean) * (X[i][j] - mean);
    *center = zscore ? mean : mn;
    *scale = zscore ? sqrt(ss / n) : mx - mn;
}

static void check_output(const char *name, ts_dtype t, int zscore) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ts_table tab;
    if (ts_load_table(path, NULL, &tab, err, sizeof err)) { CHECK(0, "load %s: %s", name, err); return; }
    CHECK(tab.nrows == N && tab.h.dtype == t && tab.h.ncols == C && strcmp(tab.h.name, "features") == 0 &&
          tab.h.key_name && strcmp(tab.h.key_name, "track_id") == 0 && strcmp(tab.h.columns[3], "mode") == 0 &&
          strcmp(tab.keys[1234], "t1234") == 0,
          "%s: name, dtype %s, columns, key name and keys kept", name, ts_dtype_name(t));
    cJSON *src = cJSON_GetObjectItem(tab.h.meta, "source");
    cJSON *nm = cJSON_GetObjectItem(tab.h.meta, "normalize");
    CHECK(cJSON_IsString(src) && cJSON_IsObject(nm), "%s: meta keeps \"source\" and gains \"normalize\"", name);
    double worst = 0;
    int nan_ok = 1;
    for (int j = 0; j < C; j++) {
        double c, s;
        naive(j, zscore, &c, &s);
        for (int i = 0; i < N; i++) {
            double y = t == TS_F32 ? ((float *)tab.data)[i * C + j] : ((double *)tab.data)[i * C + j];
            if (isnan(X[i][j])) { nan_ok &= isnan(y); continue; }
            double want = (X[i][j] - c) / s, tol = t == TS_F32 ? 1e-6 * fmax(1, fabs(want)) : 1e-12 * fmax(1, fabs(want));
            double d = fabs(y - want) / tol;
            if (d > worst) worst = d;
        }
    }
    CHECK(worst <= 1, "%s: every value equals the naive %s formula (worst error %.3g of tolerance)", name,
          zscore ? "(x-mean)/std" : "(x-min)/(max-min)", worst);
    CHECK(nan_ok, "%s: NaN inputs stay NaN", name);
    ts_table_free(&tab);
}

static int tmpdir_empty(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tmp", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n == 0;
}

int main(void) {
    const char *b = getenv("BIN");
    char rel[1024], *abs;
    snprintf(rel, sizeof rel, "%s/normalize", b && *b ? b : "bin");
    if (!(abs = realpath(rel, NULL))) { printf("SKIP: normalize_cli: %s not built\n", rel); return 0; }
    snprintf(bin, sizeof bin, "%s", abs);   /* the commands run in the scratch folder */
    free(abs);
    if (access(bin, X_OK) != 0) { printf("SKIP: normalize_cli: %s not built\n", bin); return 0; }
    if (!mkdtemp(dir)) return 1;
    run("mkdir tmp");
    make_values();
    write_input("in32.ts", TS_F32, 1);
    write_input("in64.ts", TS_F64, 0);
    const char *env = "TMPDIR=tmp";

    CHECK(run("%s %s --save mm.json in32.ts > mm.ts 2> mm.err", env, bin) == 0, "f32 minmax from a file");
    check_output("mm.ts", TS_F32, 0);
    CHECK(strstr(slurp("mm.err"), "2 NaN values") != NULL, "NaN count on stderr: %s", slurp("mm.err"));
    CHECK(strstr(slurp("mm.err"), "'extra'") != NULL, "further tensors are named as passed through");
    CHECK(run("cat in32.ts | %s %s > mm_pipe.ts 2>/dev/null", env, bin) == 0 && run("cmp -s mm.ts mm_pipe.ts") == 0,
          "a pipe gives the same bytes as a file");
    CHECK(run("%s %s < in32.ts > mm_redir.ts 2>/dev/null", env, bin) == 0 && run("cmp -s mm.ts mm_redir.ts") == 0,
          "stdin redirected from a file (seek back) gives the same bytes");
    CHECK(run("bash -c '%s %s <(cat in32.ts) > mm_fifo.ts' 2>/dev/null", env, bin) == 0 && run("cmp -s mm.ts mm_fifo.ts") == 0,
          "a named pipe argument (<(cat f)) gives the same bytes");
    CHECK(run("%s --stats mm.json in32.ts > mm_stats.ts 2>/dev/null", bin) == 0 && run("cmp -s mm.ts mm_stats.ts") == 0,
          "--stats with the saved statistics gives the same bytes as the fit");
    CHECK(run("%s --fit-only --save fo.json < in32.ts > fo.out 2>/dev/null", bin) == 0 && run("cmp -s mm.json fo.json") == 0 &&
          slurp("fo.out")[0] == 0, "--fit-only writes the same statistics and no rows");

    /* the second tensor passes through byte for byte */
    char err[512];
    ts_table t1, t2;
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/in32.ts", dir);
    snprintf(p2, sizeof p2, "%s/mm.ts", dir);
    int rc = ts_load_table(p1, "extra", &t1, err, sizeof err) | ts_load_table(p2, "extra", &t2, err, sizeof err);
    CHECK(rc == 0 && t1.nrows == 10 && t2.nrows == 10 && memcmp(t1.data, t2.data, 40) == 0, "tensor 'extra' passes unchanged");
    if (!rc) { ts_table_free(&t1); ts_table_free(&t2); }

    /* meta "normalize" equals the --save file */
    ns_stats saved, meta;
    ts_table tab;
    snprintf(p1, sizeof p1, "%s/mm.json", dir);
    rc = ns_stats_load(p1, &saved, err, sizeof err);
    rc |= ts_load_table(p2, NULL, &tab, err, sizeof err);
    if (!rc) rc = ns_stats_from_json(cJSON_GetObjectItem(tab.h.meta, "normalize"), "meta", &meta, err, sizeof err);
    CHECK(rc == 0 && meta.ncols == C && saved.ncols == C && meta.cols[1].center == saved.cols[1].center &&
          meta.cols[2].scale == saved.cols[2].scale, "the meta \"normalize\" object holds the saved statistics");
    if (!rc) { ns_stats_free(&saved); ns_stats_free(&meta); ts_table_free(&tab); }

    CHECK(run("%s %s --method zscore in64.ts > z64.ts 2>/dev/null", env, bin) == 0, "f64 zscore");
    check_output("z64.ts", TS_F64, 1);
    CHECK(run("cat in64.ts | %s %s --method zscore > z64p.ts 2>/dev/null", env, bin) == 0 && run("cmp -s z64.ts z64p.ts") == 0,
          "f64 through a pipe gives the same bytes");

    /* errors */
    CHECK(run("%s %s --log loudness in32.ts -o bad.ts 2> bad.err", env, bin) == 1 &&
          strstr(slurp("bad.err"), "column 'loudness'") && strstr(slurp("bad.err"), "row 't0000'"),
          "--log on negative values fails naming row key and column: %s", slurp("bad.err"));
    CHECK(run("cat in32.ts | %s %s --log loudness -o bad.ts 2>/dev/null", env, bin) == 1 &&
          run("test -e bad.ts || test -e bad.ts.tmp") != 0, "a failed run leaves neither output nor output.tmp");
    CHECK(run("%s --stats mm.json -o bad.ts - < in64.ts >/dev/null 2>&1", bin) == 0, "statistics apply to f64 too");
    CHECK(tmpdir_empty(), "no temporary file is left in TMPDIR after pipe runs, failed ones included");
    CHECK(run("%s %s --col tempo=robust --col nosuch=zscore in32.ts > /dev/null 2> nc.err", env, bin) == 1 &&
          strstr(slurp("nc.err"), "--col 'nosuch': no such column") && strstr(slurp("nc.err"), "energy, tempo"),
          "--col naming a missing column fails listing the columns: %s", slurp("nc.err"));
    CHECK(run("%s --stats mm.json - < /dev/null > /dev/null 2> e.err", bin) == 1 &&
          strstr(slurp("e.err"), "empty input"), "empty input fails: %s", slurp("e.err"));
    /* a stream whose first tensor is i32 */
    ts_header h;
    ts_header_init(&h, "ids", TS_I32, 2, (const char *const[]){"a", "b"});
    snprintf(p1, sizeof p1, "%s/i32.ts", dir);
    ts_writer *w = ts_open_write(p1, err, sizeof err);
    ts_begin_tensor(w, &h);
    ts_write_row(w, "k", (int32_t[]){1, 2});
    ts_close(w, err, sizeof err);
    ts_header_free(&h);
    CHECK(run("%s i32.ts > /dev/null 2> i32.err", bin) == 1 && strstr(slurp("i32.err"), "tensor 'ids' is i32"),
          "an i32 tensor is refused: %s", slurp("i32.err"));

    if (!getenv("KEEP")) run("rm -rf %s", dir);
    return CHECK_DONE();
}
