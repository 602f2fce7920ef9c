/* normstats.c - unit tests of the normalisation statistics: fits against values
 * worked out by hand and against naive double loops, quantiles against a full
 * sort, apply/invert, JSON round trip, and rejected statistics files. */
#include "check.h"
#include "normstats.h"
#include <float.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ns_unitXXXXXX";

static uint64_t rng = 88172645463325252ull;
static double urand(void) {            /* xorshift64, [0,1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Fits one column of n f64 values with the given method; returns its stats. */
static int fit1(const double *x, int n, ns_method m, int log, ns_column *out, int64_t *nans, char *err) {
    ns_column spec = {.name = "c", .method = m, .log = log};
    ns_fit *f = ns_fit_new(1, &spec);
    ns_stats s;
    int rc = ns_fit_add_f64(f, x, n, 1, NULL, err, 512);
    if (!rc) rc = ns_fit_finish(f, &s, err, 512);
    if (!rc) {
        *out = s.cols[0];
        out->name = NULL;
        ns_stats_free(&s);
    }
    if (nans) *nans = ns_fit_nans(f, 0);
    ns_fit_free(f);
    return rc;
}

static void hand_values(void) {
    ns_column c;
    char err[512];
    double a[] = {3, 1, 4, 1, 5};
    fit1(a, 5, NS_MINMAX, 0, &c, NULL, err);
    CHECK(c.center == 1 && c.scale == 4, "minmax {3,1,4,1,5}: center 1, scale 4 (got %g, %g)", c.center, c.scale);
    CHECK(ns_apply_value(&c, 5) == 1 && ns_apply_value(&c, 1) == 0 && ns_apply_value(&c, 3) == 0.5,
          "minmax maps max to 1, min to 0, 3 to 0.5");
    double z[] = {2, 4, 4, 4, 5, 5, 7, 9};
    fit1(z, 8, NS_ZSCORE, 0, &c, NULL, err);
    CHECK(CLOSE(c.center, 5, 1e-15, 0) && CLOSE(c.scale, 2, 1e-15, 0),
          "zscore {2,4,4,4,5,5,7,9}: mean 5, population std 2 (got %.17g, %.17g)", c.center, c.scale);
    double odd[] = {5, 1, 4, 2, 3};
    fit1(odd, 5, NS_ROBUST, 0, &c, NULL, err);
    CHECK(c.center == 3 && c.scale == 2, "robust odd n {5,1,4,2,3}: median 3, IQR 4-2=2 (got %g, %g)", c.center, c.scale);
    double even[] = {4, 1, 3, 2};
    fit1(even, 4, NS_ROBUST, 0, &c, NULL, err);
    /* numpy: q25 at index 0.75 -> 1.75, q75 at index 2.25 -> 3.25, median 2.5 */
    CHECK(c.center == 2.5 && c.scale == 1.5, "robust even n {4,1,3,2}: median 2.5, IQR 3.25-1.75 (got %g, %g)", c.center, c.scale);
    double dup[] = {7, 1, 3, 3, 10, 2};
    fit1(dup, 6, NS_ROBUST, 0, &c, NULL, err);
    /* sorted 1 2 3 3 7 10: q25 index 1.25 -> 2.25; q75 index 3.75 -> 7 - 4*0.25 = 6 */
    CHECK(c.center == 3 && c.scale == 3.75, "robust with ties {7,1,3,3,10,2}: median 3, IQR 6-2.25 (got %g, %g)", c.center, c.scale);
    double k[] = {5, 5, 5};
    for (int m = NS_MINMAX; m <= NS_ROBUST; m++) {
        fit1(k, 3, (ns_method)m, 0, &c, NULL, err);
        CHECK(c.center == 5 && c.scale == 1 && ns_apply_value(&c, 5) == 0,
              "%s on a constant column: center 5, scale 1, maps to 0 (got %g, %g)", ns_method_name((ns_method)m), c.center, c.scale);
    }
    double one[] = {-2.5};
    fit1(one, 1, NS_ZSCORE, 0, &c, NULL, err);
    CHECK(c.center == -2.5 && c.scale == 1, "zscore of a single row: scale 1, no NaN");
    double nan[] = {1, NAN, 3, NAN};
    int64_t nn;
    for (int m = NS_MINMAX; m <= NS_ROBUST; m++) {
        fit1(nan, 4, (ns_method)m, 0, &c, &nn, err);
        double want_scale = m == NS_MINMAX ? 2 : m == NS_ZSCORE ? 1 : 1;
        CHECK(c.center == 2 - (m == NS_MINMAX) && c.scale == want_scale && nn == 2,
              "%s ignores NaN and counts 2 (center %g, scale %g, nans %lld)", ns_method_name((ns_method)m), c.center, c.scale, (long long)nn);
        CHECK(isnan(ns_apply_value(&c, NAN)), "%s: NaN stays NaN", ns_method_name((ns_method)m));
    }
    double allnan[] = {NAN, NAN};
    fit1(allnan, 2, NS_ZSCORE, 0, &c, &nn, err);
    CHECK(c.center == 0 && c.scale == 1 && nn == 2, "an all-NaN column gets center 0, scale 1");
    double lg[] = {0, M_E - 1, M_E * M_E - 1};
    fit1(lg, 3, NS_MINMAX, 1, &c, NULL, err);
    CHECK(c.log && CLOSE(c.center, 0, 1e-15, 0) && CLOSE(c.scale, 2, 1e-15, 0),
          "log minmax {0, e-1, e^2-1}: log1p gives 0,1,2: center 0, scale 2 (got %.17g, %.17g)", c.center, c.scale);
    CHECK(CLOSE(ns_apply_value(&c, M_E - 1), 0.5, 1e-15, 0), "log minmax maps e-1 to 0.5");
    double bad[] = {1, -1};
    int rc = fit1(bad, 2, NS_ZSCORE, 1, &c, NULL, err);
    CHECK(rc == -1 && strstr(err, "row 2") && strstr(err, "column 'c'") && strstr(err, "> -1"),
          "log of -1 is refused naming row and column: %s", err);
    double inf[] = {1, INFINITY};
    rc = fit1(inf, 2, NS_MINMAX, 0, &c, NULL, err);
    CHECK(rc == -1 && strstr(err, "infinite") && strstr(err, "row 2"), "infinity in a fitted column is refused: %s", err);
    rc = fit1(inf, 2, NS_NONE, 0, &c, NULL, err);
    CHECK(rc == 0 && c.center == 0 && c.scale == 1, "method none accepts infinity and stays identity");
}

/* numpy.percentile 'linear' on a sorted array, written out naively */
static double ref_quantile(const double *s, size_t n, double q) {
    double h = (double)(n - 1) * q, lo = floor(h), t = h - lo;
    size_t i = (size_t)lo;
    if (i + 1 >= n) return s[n - 1];
    double a = s[i], b = s[i + 1];
    return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


static void quantiles(void) {
    const double qs[] = {0, 0.1, 0.25, 0.5, 0.75, 0.9, 1};
    int ok = 1, okm = 1;
    double *v = malloc(200000 * sizeof *v), *s = malloc(200000 * sizeof *s), *w = malloc(200000 * sizeof *w);
    for (size_t n = 1; n <= 60 && ok && okm; n++) {
        for (int rep = 0; rep < 20; rep++) {
            for (size_t i = 0; i < n; i++) v[i] = floor(urand() * (rep % 2 ? 5 : 1000));  /* ties on odd reps */
            memcpy(s, v, n * sizeof *v);
            qsort(s, n, sizeof *s, cmpd);
            for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
                memcpy(w, v, n * sizeof *v);
                double got = ns_quantile(w, n, qs[k]), want = ref_quantile(s, n, qs[k]);
                if (got != want) { ok = 0; printf("# n=%zu q=%g got %.17g want %.17g\n", n, qs[k], got, want); }
            }
            memcpy(w, v, n * sizeof *v);
            double med = ns_median(w, n), want = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            if (med != want) { okm = 0; printf("# median n=%zu got %g want %g\n", n, med, want); }
        }
    }
    CHECK(ok, "ns_quantile equals numpy linear interpolation on a sorted copy, n = 1..60, with and without ties");
    CHECK(okm, "ns_median equals the middle (odd n) or the mean of the two middle values (even n)");
    /* patterns that defeat naive pivots: sorted, reversed, constant, organ pipe, sawtooth */
    size_t n = 200000;
    const char *names[] = {"sorted", "reversed", "constant", "organ pipe", "sawtooth"};
    for (int p = 0; p < 5; p++) {
        for (size_t i = 0; i < n; i++)
            v[i] = p == 0 ? (double)i : p == 1 ? (double)(n - i) : p == 2 ? 7.0
                 : p == 3 ? (double)(i < n / 2 ? i : n - i) : (double)(i % 17);
        memcpy(s, v, n * sizeof *v);
        qsort(s, n, sizeof *s, cmpd);
        int good = 1;
        for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
            memcpy(w, v, n * sizeof *v);
            good &= ns_quantile(w, n, qs[k]) == ref_quantile(s, n, qs[k]);
        }
        CHECK(good, "ns_quantile on a %s array of %zu values", names[p], n);
    }
    free(v); free(s); free(w);
}

/* Fit 5 columns of random f32 data in uneven chunks; compare with naive loops. */
static void against_naive(void) {
    enum { N = 10007, C = 5 };
    float *x = malloc(sizeof(float) * N * C);
    for (int i = 0; i < N; i++) {
        x[i * C + 0] = (float)(urand() * 10 - 3);
        x[i * C + 1] = (float)(1000 + urand());                 /* large offset, small spread */
        x[i * C + 2] = (float)floor(urand() * 50);              /* ties */
        x[i * C + 3] = (float)(urand() * 100);
        x[i * C + 4] = (float)(exp(urand() * 8) - 1);           /* skewed, for log */
        if (i % 97 == 0) x[i * C + 3] = NAN;
    }
    ns_column spec[C] = {{"mm", NS_MINMAX, 0, 0, 0}, {"z", NS_ZSCORE, 0, 0, 0}, {"rb", NS_ROBUST, 0, 0, 0},
                         {"zn", NS_ZSCORE, 0, 0, 0}, {"lz", NS_ZSCORE, 1, 0, 0}};
    ns_fit *f = ns_fit_new(C, spec);
    char err[512];
    int chunks[] = {1000, 3, 5000, 1, 4003}, rc = 0;
    for (int k = 0, at = 0; k < 5; at += chunks[k++])
        rc |= ns_fit_add_f32(f, x + (size_t)at * C, chunks[k], C, NULL, err, sizeof err);
    ns_stats s;
    rc |= ns_fit_finish(f, &s, err, sizeof err);
    CHECK(rc == 0 && ns_fit_rows(f) == N && ns_fit_nans(f, 3) == (N + 96) / 97, "fit of %d rows in 5 uneven chunks", N);
    /* naive references in double */
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < N; i++) { mn = fmin(mn, x[i * C]); mx = fmax(mx, x[i * C]); }
    CHECK(s.cols[0].center == mn && s.cols[0].scale == mx - mn, "minmax equals a naive min/max loop");
    for (int j = 1; j <= 4; j += (j == 1 ? 2 : 1)) {
        double sum = 0, ss = 0;
        int n = 0;
        for (int i = 0; i < N; i++) {
            double v = x[i * C + j];
            if (j == 4) v = log1p(v);
            if (!isnan(v)) { sum += v; n++; }
        }
        double mean = sum / n;
        for (int i = 0; i < N; i++) {
            double v = x[i * C + j];
            if (j == 4) v = log1p(v);
            if (!isnan(v)) ss += (v - mean) * (v - mean);
        }
        double sd = sqrt(ss / n);
        CHECK(CLOSE(s.cols[j].center, mean, 0, 1e-13) && CLOSE(s.cols[j].scale, sd, 0, 1e-11),
              "zscore column '%s' equals a naive two-pass mean/std: %.17g vs %.17g, %.17g vs %.17g",
              s.cols[j].name, s.cols[j].center, mean, s.cols[j].scale, sd);
    }
    double *srt = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) srt[i] = x[i * C + 2];
    qsort(srt, N, sizeof *srt, cmpd);
    double med = srt[N / 2], iqr = ref_quantile(srt, N, 0.75) - ref_quantile(srt, N, 0.25);
    CHECK(s.cols[2].center == med && s.cols[2].scale == iqr, "robust equals median and IQR of a full sort (%g %g vs %g %g)",
          s.cols[2].center, s.cols[2].scale, med, iqr);
    /* apply then invert gives the input back; the map follows names */
    const char *cols[C + 1] = {"extra", "lz", "rb", "zn", "z", "mm"};
    int map[C + 1], un = -1;
    rc = ns_stats_map(&s, C + 1, cols, map, &un, err, sizeof err);
    CHECK(rc == 0 && un == 1 && map[0] == -1 && map[1] == 4 && map[5] == 0, "columns are mapped by name, 1 unmapped");
    int inv_ok = 1, pass_ok = 1, range_ok = 1;
    for (int i = 0; i < N; i++) {
        float row[C + 1] = {x[i * C] + 0.5f, x[i * C + 4], x[i * C + 2], x[i * C + 3], x[i * C + 1], x[i * C]};
        float orig[C + 1];
        memcpy(orig, row, sizeof row);
        ns_apply_f32(&s, map, row, C + 1, NULL);
        pass_ok &= memcmp(&row[0], &orig[0], sizeof(float)) == 0;
        range_ok &= row[5] >= 0 && row[5] <= 1;
        for (int j = 1; j <= C; j++) {
            if (isnan(orig[j])) { inv_ok &= isnan(row[j]); continue; }
            double back = ns_invert_value(&s.cols[map[j]], row[j]);
            inv_ok &= CLOSE(back, orig[j], 1e-4, 1e-5);
        }
    }
    CHECK(pass_ok, "an input column without statistics passes through bit for bit");
    CHECK(range_ok, "minmax output lies in [0,1] on the fitted data");
    CHECK(inv_ok, "ns_invert_value(ns_apply_f32(x)) == x within f32 precision, NaN stays NaN");
    double row64[C + 1] = {0, -1.5, 1, 2, 3, 4};
    int badc = -9;
    rc = ns_apply_f64(&s, map, row64, C + 1, &badc);
    CHECK(rc == -1 && badc == 1, "apply refuses a log column value <= -1 and names its column index");
    const char *fewer[] = {"mm", "z", "rb", "zn"};
    rc = ns_stats_map(&s, 4, fewer, map, NULL, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "'lz'"), "a statistics column missing from the input is named: %s", err);
    ns_stats_free(&s);
    free(srt);
    ns_fit_free(f);
    free(x);
}

/* zscore of 1e9 +- 0.5 (exact in double): sum(x^2)/n - mean^2 would lose
 * every digit (sum(x^2) ~ 1e23 has an ulp of ~1e7) */
static void zscore_stability(void) {
    enum { N = 100000 };
    double *x = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) x[i] = 1e9 + (i % 3 ? 0.5 : -0.5);   /* mean 1e9 + 1/6, std sqrt(2)/3 */
    ns_column c;
    char err[512];
    fit1(x, N, NS_ZSCORE, 0, &c, NULL, err);
    double n1 = (N + 2) / 3, p1 = n1 / N, want = sqrt(p1 * (1 - p1));  /* Bernoulli std */
    CHECK(CLOSE(c.center, 1e9 + 0.5 - p1, 0, 1e-15) && CLOSE(c.scale, want, 0, 1e-9),
          "zscore of 1e9 +- 0.5: std %.17g (got %.17g)", want, c.scale);
    free(x);
}

static void json_roundtrip(void) {
    ns_column cols[] = {{"energy", NS_MINMAX, 0, 0.000175, 0.999825}, {"tempo", NS_ZSCORE, 1, 4.7912345678901234, 0.1234567890123457},
                        {"key", NS_NONE, 0, 0, 1}, {"weird \"name\", é", NS_ROBUST, 0, -1e-300, 3e200}};
    ns_stats s = {4, cols}, t, u;
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/stats.json", dir);
    int rc = ns_stats_save(path, &s, err, sizeof err);
    CHECK(rc == 0, "save (%s)", rc ? err : "");
    char tmp[310];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "save leaves no .tmp file");
    rc = ns_stats_load(path, &t, err, sizeof err);
    int same = rc == 0 && t.ncols == 4;
    for (int i = 0; same && i < 4; i++)
        same = strcmp(t.cols[i].name, cols[i].name) == 0 && t.cols[i].method == cols[i].method &&
               t.cols[i].log == cols[i].log && t.cols[i].center == cols[i].center && t.cols[i].scale == cols[i].scale;
    CHECK(same, "save/load round-trips names, methods, log and exact doubles (%s)", rc ? err : "");
    cJSON *j = ns_stats_to_json(&s);
    rc = ns_stats_from_json(j, "meta", &u, err, sizeof err);
    CHECK(rc == 0 && u.ncols == 4 && u.cols[1].center == cols[1].center, "to_json/from_json round trip");
    cJSON_Delete(j);
    ns_stats_free(&u);
    /* printed and parsed again, 2000 random doubles come back bit for bit
     * (cJSON's own %1.15g printing does not guarantee this) */
    ns_column many[1000];
    char names[1000][8];
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        many[i] = (ns_column){names[i], NS_ZSCORE, 0, (urand() - 0.5) * pow(10, floor(urand() * 40 - 20)),
                              urand() * pow(10, floor(urand() * 40 - 20))};
    }
    ns_stats m = {1000, many};
    j = ns_stats_to_json(&m);
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    j = cJSON_Parse(txt);
    rc = ns_stats_from_json(j, "text", &u, err, sizeof err);
    int exact = rc == 0 && u.ncols == 1000;
    for (int i = 0; exact && i < 1000; i++) exact = u.cols[i].center == many[i].center && u.cols[i].scale == many[i].scale;
    CHECK(exact, "1000 columns of random doubles print and parse back exactly");
    free(txt);
    cJSON_Delete(j);
    ns_stats_free(&t);
    ns_stats_free(&u);
    snprintf(path, sizeof path, "%s/no/such/dir/stats.json", dir);
    CHECK(ns_stats_save(path, &s, err, sizeof err) == -1 && strstr(err, "cannot create"), "save to a missing folder fails: %s", err);
}

static void rejected(const char *text, const char *want, const char *what) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    ns_stats s;
    int rc = ns_stats_load(path, &s, err, sizeof err);
    CHECK(rc == -1 && strstr(err, path) && strstr(err, want), "rejects %s: %s", what, rc ? err : "(accepted)");
    if (!rc) ns_stats_free(&s);
}

static void malformed(void) {
    const char *col = "\"name\": \"a\", \"method\": \"minmax\", \"log\": false, \"center\": 0";
    char buf[512];
    rejected("", "empty file", "an empty file");
    rejected("{\"songpipe_normalize\": 1,\n \"columns\": [\n{\"name\": }]}", ":3: invalid JSON", "broken JSON with its line");
    rejected("[1, 2]", "not a JSON object", "an array");
    rejected("{\"columns\": []}", "no \"songpipe_normalize\"", "a missing version");
    rejected("{\"songpipe_normalize\": 2, \"columns\": []}", "version 2 is not supported", "version 2");
    rejected("{\"songpipe_normalize\": 1}", "non-empty array", "missing columns");
    rejected("{\"songpipe_normalize\": 1, \"columns\": []}", "non-empty array", "empty columns");
    rejected("{\"songpipe_normalize\": 1, \"columns\": [3]}", "columns[0] is not an object", "a column that is a number");
    rejected("{\"songpipe_normalize\": 1, \"columns\": [{\"method\": \"minmax\"}]}", "\"name\" must be", "a column without name");
    snprintf(buf, sizeof buf, "{\"songpipe_normalize\": 1, \"columns\": [{%s, \"scale\": 1, \"centre\": 2}]}", col);
    rejected(buf, "unknown member \"centre\"", "an unknown member");
    rejected("{\"songpipe_normalize\": 1, \"columns\": [{\"name\": \"a\", \"method\": \"maxabs\", \"log\": false, \"center\": 0, \"scale\": 1}]}",
             "\"method\" must be", "an unknown method");
    rejected("{\"songpipe_normalize\": 1, \"columns\": [{\"name\": \"a\", \"method\": \"minmax\", \"log\": 0, \"center\": 0, \"scale\": 1}]}",
             "\"log\" must be true or false", "log given as a number");
    rejected("{\"songpipe_normalize\": 1, \"columns\": [{\"name\": \"a\", \"method\": \"minmax\", \"log\": false, \"center\": \"0\", \"scale\": 1}]}",
             "\"center\" must be a finite number", "center given as a string");
    snprintf(buf, sizeof buf, "{\"songpipe_normalize\": 1, \"columns\": [{%s, \"scale\": -2}]}", col);
    rejected(buf, "\"scale\" must be a finite number >= 0", "a negative scale");
    snprintf(buf, sizeof buf, "{\"songpipe_normalize\": 1, \"columns\": [{%s, \"scale\": 1e999}]}", col);
    rejected(buf, "at columns[0].scale: the number inf is outside the range of a double", "an infinite scale");
    snprintf(buf, sizeof buf, "{\"songpipe_normalize\": 1, \"columns\": [{%s}]}", col);
    rejected(buf, "\"scale\" must be", "a missing scale");
    snprintf(buf, sizeof buf, "{\"songpipe_normalize\": 1, \"columns\": [{%s, \"scale\": 1}, {%s, \"scale\": 2}]}", col, col);
    rejected(buf, "column 'a' appears twice", "a duplicate column");
    char err[512];
    ns_stats s;
    CHECK(ns_stats_load("/nonexistent/stats.json", &s, err, sizeof err) == -1 && strstr(err, "/nonexistent/stats.json: cannot open"),
          "a missing file is named: %s", err);
    /* scale 0 is accepted and means 1 */
    char path[300];
    snprintf(path, sizeof path, "%s/zero.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"songpipe_normalize\": 1, \"columns\": [{%s, \"scale\": 0}]}", col);
    fclose(f);
    int rc = ns_stats_load(path, &s, err, sizeof err);
    CHECK(rc == 0 && s.cols[0].scale == 1 && ns_apply_value(&s.cols[0], 3) == 3, "scale 0 in a file means 1");
    if (!rc) ns_stats_free(&s);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    hand_values();
    quantiles();
    against_naive();
    zscore_stability();
    json_roundtrip();
    malformed();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return CHECK_DONE();
}
