/* export_dtypes.c - the inspection/export stages (to-csv, to-npy, inspect) on
 * every dtype, multi-dimensional and 0-element rows, NaN/inf and integer
 * extremes.  csv-clean only makes f32 streams, so these streams are written
 * here with the library and the stages are run from $BIN (set by
 * tests/run.sh); SKIP when the binaries are not there. */
#include "check.h"
#include "tensor.h"
#include <float.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ts_exportXXXXXX";
static const char *bin;

static void write_tensor(ts_writer *w, const char *name, ts_dtype t, int ndim, const int64_t *shape,
                         int64_t nrows, const char *const *keys, const void *data) {
    ts_header h;
    int64_t one = 1;
    ts_header_init(&h, name, t, 1, NULL);
    ts_header_set_shape(&h, ndim, ndim ? shape : &one);
    ts_begin_tensor(w, &h);
    ts_write_rows(w, nrows, keys, data);
    ts_end_tensor(w);
    ts_header_free(&h);
}

static const double F64[6] = {NAN, INFINITY, -0.0, 1e-300, DBL_MAX, -1.0 / 3};
static const int32_t I32[8] = {INT32_MIN, INT32_MAX, 0, -1, 7, 8, 9, 10};
static const int64_t I64[3] = {INT64_MIN, INT64_MAX, 42};
static const uint8_t U8[6] = {0, 255, 1, 2, 3, 4};
static const float F32[4] = {0.1f, NAN, -FLT_MIN, 16777217.0f};

static void make_stream(const char *path) {
    char err[512];
    ts_writer *w = ts_open_write(path, err, sizeof err);
    const char *k3[3] = {"a,b", "q\"q", "x"}, *k2[2] = {"r0", "r1"};
    int64_t s2[1] = {2}, s22[2] = {2, 2}, s3[1] = {3}, s0[1] = {0};
    write_tensor(w, "f64", TS_F64, 1, s2, 3, k3, F64);
    write_tensor(w, "i32", TS_I32, 2, s22, 2, k2, I32);
    write_tensor(w, "i64", TS_I64, 0, NULL, 3, k3, I64);
    write_tensor(w, "u8", TS_U8, 1, s3, 2, k2, U8);
    write_tensor(w, "f32", TS_F32, 1, s2, 2, k2, F32);
    write_tensor(w, "empty", TS_F32, 1, s0, 2, k2, NULL);
    if (ts_close(w, err, sizeof err)) printf("# %s\n", err);
}

/* runs cmd, returns its stdout (malloc'd) */
static char *run(const char *fmt, const char *a, const char *b) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, bin, a, b);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    n = fread(s, 1, cap - 1, p);
    s[n] = 0;
    pclose(p);
    return s;
}

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }

static void test_to_csv(const char *ts) {
    char *s = run("%s/to-csv --tensor f64 %s%s", ts, "");
    int ok = strncmp(s, "key,c0,c1\n\"a,b\",", 16) == 0;
    const char *p = strchr(s, '\n') + 1;
    static const char *const kq[3] = {"\"a,b\",", "\"q\"\"q\",", "\nx,"};
    for (int r = 0; ok && r < 3; r++) {
        const char *k = strstr(p, kq[r]);
        if (!(ok = k != NULL)) break;
        p = k + strlen(kq[r]);
        char *end;
        double a = strtod(p, &end), b = strtod(end + 1, &end);
        ok = same_double(a, F64[2 * r]) && same_double(b, F64[2 * r + 1]);
        if (!ok) printf("# row %d: %.17g %.17g\n", r, a, b);
        p = end;
    }
    CHECK(ok, "to-csv f64: NaN, inf, -0, 1e-300, DBL_MAX, -1/3 read back bit for bit with %%.17g:\n%s", s);
    free(s);
    s = run("%s/to-csv --tensor f32 --no-header %s%s", ts, "");
    float a, b, c, d;
    ok = sscanf(s, "r0,%g,%g\nr1,%g,%g", &a, &b, &c, &d) == 4 && a == F32[0] && isnan(b) && c == F32[2] && d == F32[3];
    CHECK(ok, "to-csv f32: %%.9g reads back to the same floats: %s", s);
    free(s);
    s = run("%s/to-csv --tensor i64 --tsv %s%s", ts, "");
    CHECK(strcmp(s, "key\tc0\na,b\t-9223372036854775808\nq\"q\t9223372036854775807\nx\t42\n") == 0,
          "to-csv i64 scalars, TSV: exact extremes, no quoting: %s", s);
    free(s);
    s = run("%s/to-csv --tensor i32 %s%s", ts, "");
    CHECK(strcmp(s, "key,c0,c1,c2,c3\nr0,-2147483648,2147483647,0,-1\nr1,7,8,9,10\n") == 0,
          "to-csv i32 2x2 rows: 4 columns row-major: %s", s);
    free(s);
    s = run("%s/to-csv --tensor u8 %s%s", ts, "");
    CHECK(strcmp(s, "key,c0,c1,c2\nr0,0,255,1\nr1,2,3,4\n") == 0, "to-csv u8: %s", s);
    free(s);
    s = run("%s/to-csv --tensor empty %s%s", ts, "");
    CHECK(strcmp(s, "key\nr0\nr1\n") == 0, "to-csv 0-element rows: keys only: %s", s);
    free(s);
}

/* reads a .npy, checks its header text and that its data equals want */
static void check_npy(const char *ts, const char *tensor, const char *dict, const void *want, size_t n) {
    char out[300], arg[400];
    snprintf(out, sizeof out, "%s/%s.npy", dir, tensor);
    snprintf(arg, sizeof arg, "--tensor %s -o %s", tensor, out);
    free(run("%s/to-npy %s %s", arg, ts));
    unsigned char buf[4096];
    FILE *f = fopen(out, "rb");
    size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    size_t hl = got >= 10 ? buf[8] | (size_t)buf[9] << 8 : 0;
    int ok = got >= 10 && memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0 && (10 + hl) % 64 == 0 && buf[9 + hl] == '\n' &&
             strncmp((char *)buf + 10, dict, strlen(dict)) == 0 && got == 10 + hl + n &&
             memcmp(buf + 10 + hl, want, n) == 0;
    CHECK(ok, "to-npy %s: header %s, %zu data bytes equal the tensor's (file %zu bytes)", tensor, dict, n, got);
}

static void test_to_npy(const char *ts) {
    check_npy(ts, "f64", "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", F64, sizeof F64);
    check_npy(ts, "i32", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2, 2), }", I32, sizeof I32);
    check_npy(ts, "i64", "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", I64, sizeof I64);
    check_npy(ts, "u8", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", U8, sizeof U8);
    check_npy(ts, "f32", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", F32, sizeof F32);
    check_npy(ts, "empty", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", "", 0);
}

static void test_inspect(const char *ts) {
    char *s = run("%s/inspect %s%s", ts, "");
    /* f64 column c0 = NaN, -0, DBL_MAX: 3 rows, min -0, max DBL_MAX, 1 NaN */
    const char *t = strstr(s, "# tensor 1: f64");
    const char *c0 = t ? strstr(t, "\n  c0 ") : NULL;
    long long rows = 0, nan = -1;
    double mn = 0, mean = 0, mx = 0;
    int n = c0 ? sscanf(c0, " c0 %lld %lf %lf %lf %lld", &rows, &mn, &mean, &mx, &nan) : 0;
    CHECK(n == 5 && rows == 3 && mn == 0 && CLOSE(mx, DBL_MAX, 0, 1e-6) && nan == 1,
          "inspect f64: NaN counted and left out of min/max (%d: %lld %g %g %g %lld)", n, rows, mn, mean, mx, nan);
    const char *c1 = t ? strstr(t, "\n  c1 ") : NULL;
    n = c1 ? sscanf(c1, " c1 %lld %lf %lf %lf %lld", &rows, &mn, &mean, &mx, &nan) : 0;
    CHECK(n == 5 && isinf(mean) && isinf(mx) && nan == 0, "inspect f64: inf shows in the mean and max");
    t = strstr(s, "# tensor 3: i64");
    c0 = t ? strstr(t, "\n  c0 ") : NULL;
    CHECK(c0 && strstr(c0, "-9223372036854775808") && strstr(c0, "9223372036854775807"),
          "inspect i64: exact integer extremes");
    t = strstr(s, "# tensor 2: i32");
    CHECK(t && strstr(t, "shape   [2, 2]  (4 elements, 16 bytes per row)") && strstr(t, "\n  c3 "),
          "inspect i32 2x2: shape and 4 columns");
    t = strstr(s, "# tensor 6: empty");
    CHECK(t && strstr(t, "rows    2 (1 blocks)") && !strstr(t, " min "), "inspect: 0-element rows: rows only");
    free(s);
}

int main(void) {
    bin = getenv("BIN");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/to-npy", bin ? bin : "");
    if (!bin || access(probe, X_OK) != 0) {
        printf("SKIP: export_dtypes: all: $BIN/to-npy not found (run through make test)\n");
        return 0;
    }
    if (!mkdtemp(dir)) return 1;
    char ts[300];
    snprintf(ts, sizeof ts, "%s/all.ts", dir);
    make_stream(ts);
    test_to_csv(ts);
    test_to_npy(ts);
    test_inspect(ts);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return CHECK_DONE();
}
