/* resample.c - unit tests of common/resample.c: a sine keeps its frequency,
 * level and phase (44.1/48/8 -> 22.05 kHz), passband ripple, stopband and
 * image rejection, aliasing, identity at equal rates, exact lengths, impulse
 * alignment and symmetry, and chunked streaming = one-shot, byte for byte. */
#include "check.h"
#include "resample.h"

#include <stdint.h>
#include <string.h>

/* All of x through a resampler, pushing `chunk` inputs at a time (0: all) and
 * pulling at most `pull` outputs per call; *n_out outputs, malloc'ed. */
static float *run(int in_rate, int out_rate, resample_quality q, const float *x, size_t n,
                  size_t chunk, size_t pull, size_t *n_out) {
    char err[200];
    resampler *r = resample_new(in_rate, out_rate, q, err, sizeof err);
    if (!r) { printf("FAIL: resample_new %d -> %d: %s\n", in_rate, out_rate, err); exit(1); }
    size_t cap = (size_t)resample_out_length(r, (int64_t)n) + 1, got = 0, off = 0;
    float *y = malloc(cap * sizeof *y);
    while (off < n) {
        size_t k = chunk && n - off > chunk ? chunk : n - off;
        size_t used = resample_push(r, x + off, k);
        off += used;
        size_t g;
        while ((g = resample_pull(r, y + got, pull < cap - got ? pull : cap - got)) > 0) got += g;
        if (got >= cap) break;
    }
    resample_finish(r);
    size_t g;
    while (got < cap && (g = resample_pull(r, y + got, pull < cap - got ? pull : cap - got)) > 0) got += g;
    resample_free(r);
    *n_out = got;
    return y;
}

static float *sine(int rate, double f, double amp, size_t n) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * M_PI * f * (double)i / rate));
    return x;
}

/* Least-squares fit y ~ a cos(wn) + b sin(wn) over [from, to); returns the
 * amplitude, the phase of sin (0 = in phase with the input sine) in *phase and
 * the RMS of what the fit leaves in *resid. */
static double fit(const float *y, size_t from, size_t to, int rate, double f, double *phase, double *resid) {
    double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0, w = 2 * M_PI * f / rate;
    for (size_t i = from; i < to; i++) {
        double c = cos(w * (double)i), s = sin(w * (double)i);
        cc += c * c; ss += s * s; cs += c * s; yc += y[i] * c; ys += y[i] * s;
    }
    double det = cc * ss - cs * cs, a = (yc * ss - ys * cs) / det, b = (ys * cc - yc * cs) / det;
    double e = 0;
    for (size_t i = from; i < to; i++) {
        double d = y[i] - a * cos(w * (double)i) - b * sin(w * (double)i);
        e += d * d;
    }
    if (phase) *phase = atan2(a, b);
    if (resid) *resid = sqrt(e / (double)(to - from));
    return sqrt(a * a + b * b);
}

static double db(double x) { return 20 * log10(x + 1e-30); }

/* a sine far from both band edges: level, phase (zero delay), and nothing else */
static void sine_through(int in_rate, int out_rate, double f) {
    const size_t n = (size_t)in_rate;             /* 1 s */
    float *x = sine(in_rate, f, 0.5, n);
    size_t m;
    float *y = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 0, SIZE_MAX, &m);
    double ph, res, a = fit(y, m / 4, 3 * m / 4, out_rate, f, &ph, &res);
    CHECK(fabs(db(a / 0.5)) < 0.001 && fabs(ph) < 1e-4 && db(res / 0.5) < -100,
          "%d -> %d Hz: %.0f Hz sine: level %+.5f dB, phase %.1e rad, rest %.1f dB", in_rate, out_rate,
          f, db(a / 0.5), ph, db(res / 0.5));
    free(x);
    free(y);
}

/* levels of sines from 50 Hz to 0.9 of the lower Nyquist frequency */
static void ripple(int in_rate, int out_rate) {
    const size_t n = (size_t)in_rate / 2;
    double nyq = (in_rate < out_rate ? in_rate : out_rate) / 2.0, lo = 1e9, hi = -1e9, worst_res = -1e9;
    for (double f = 50; f <= 0.9 * nyq; f += 0.9 * nyq / 61) {
        float *x = sine(in_rate, f, 0.5, n);
        size_t m;
        float *y = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 0, SIZE_MAX, &m);
        double res, l = db(fit(y, m / 4, 3 * m / 4, out_rate, f, NULL, &res) / 0.5);
        if (l < lo) lo = l;
        if (l > hi) hi = l;
        if (db(res / 0.5) > worst_res) worst_res = db(res / 0.5);
        free(x);
        free(y);
    }
    CHECK(hi - lo < 0.01 && fabs(hi) < 0.01 && fabs(lo) < 0.01 && worst_res < -100,
          "%d -> %d Hz: passband to 0.9 Nyquist: levels %+.5f .. %+.5f dB (ripple %.5f dB), images/aliases <= %.1f dB",
          in_rate, out_rate, lo, hi, hi - lo, worst_res);
}

/* tones above the output Nyquist frequency: whatever comes out is aliasing */
static void stopband(int in_rate, int out_rate) {
    const size_t n = (size_t)in_rate / 2;
    double worst = -1e9, at = 0;
    for (double f = out_rate / 2.0 + 1; f < in_rate / 2.0; f += (in_rate - out_rate) / 2.0 / 23) {
        float *x = sine(in_rate, f, 0.5, n);
        size_t m;
        float *y = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 0, SIZE_MAX, &m);
        double ss = 0;
        for (size_t i = m / 4; i < 3 * m / 4; i++) ss += (double)y[i] * y[i];
        double l = db(sqrt(ss / (double)(3 * m / 4 - m / 4)) / (0.5 / sqrt(2)));
        if (l > worst) { worst = l; at = f; }
        free(x);
        free(y);
    }
    CHECK(worst <= -100, "%d -> %d Hz: stopband (Nyquist .. %d Hz): worst %.1f dB at %.0f Hz",
          in_rate, out_rate, in_rate / 2, worst, at);
}

/* 15 kHz at 44.1 kHz: dropping every other sample would fold it to 7.05 kHz */
static void alias_15k(void) {
    float *x = sine(44100, 15000, 0.5, 44100);
    size_t m;
    float *y = run(44100, 22050, RESAMPLE_POLY, x, 44100, 0, SIZE_MAX, &m);
    double l = db(fit(y, m / 4, 3 * m / 4, 22050, 22050 - 15000, NULL, NULL) / 0.5);
    CHECK(l < -100, "15 kHz at 44.1 kHz -> 22.05 kHz: the 7.05 kHz alias is at %.1f dB", l);
    free(x);
    free(y);
    /* poly-fast is still a real low-pass */
    x = sine(44100, 15000, 0.5, 44100);
    y = run(44100, 22050, RESAMPLE_POLY_FAST, x, 44100, 0, SIZE_MAX, &m);
    l = db(fit(y, m / 4, 3 * m / 4, 22050, 22050 - 15000, NULL, NULL) / 0.5);
    CHECK(l < -75, "poly-fast: the 7.05 kHz alias is at %.1f dB", l);
    free(x);
    free(y);
}

static void identity(void) {
    const size_t n = 30001;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++) { s = s * 1664525u + 1013904223u; x[i] = (float)(s >> 8) / (1 << 24) - 0.5f; }
    size_t m;
    float *y = run(22050, 22050, RESAMPLE_POLY, x, n, 777, 1000, &m);
    CHECK(m == n && memcmp(x, y, n * sizeof *x) == 0, "22050 -> 22050 passes %zu samples through unchanged (%zu)", n, m);
    free(x);
    free(y);
}

static void lengths(void) {
    static const int rates[][2] = {{44100, 22050}, {48000, 22050}, {8000, 22050}, {11025, 22050},
                                   {22050, 16000}, {96000, 22050}};
    static const size_t ns[] = {0, 1, 2, 3, 159, 160, 161, 1000, 44101};
    int bad = 0, total = 0;
    char err[200];
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            float *x = calloc(ns[k] + 1, sizeof *x);
            size_t m;
            float *y = run(rates[i][0], rates[i][1], RESAMPLE_POLY, x, ns[k], 100, 33, &m);
            resampler *r = resample_new(rates[i][0], rates[i][1], RESAMPLE_POLY, err, sizeof err);
            uint64_t want = ((uint64_t)ns[k] * (uint64_t)rates[i][1] + (uint64_t)rates[i][0] - 1) / (uint64_t)rates[i][0];
            if (m != want || resample_out_length(r, (int64_t)ns[k]) != (int64_t)want) {
                bad++;
                printf("  %d -> %d Hz, %zu in: %zu out, want %llu\n", rates[i][0], rates[i][1], ns[k], m,
                       (unsigned long long)want);
            }
            total++;
            resample_free(r);
            free(x);
            free(y);
        }
    CHECK(!bad, "output length = ceil(n_in * out / in) in %d of %d cases", total - bad, total);
    resampler *r = resample_new(48000, 22050, RESAMPLE_POLY, err, sizeof err);
    CHECK(r && resample_up(r) == 147 && resample_down(r) == 320, "48000 -> 22050 reduces to 147/320");
    resample_free(r);
    static const int tr[][3] = {{44100, 22050, RESAMPLE_POLY}, {48000, 22050, RESAMPLE_POLY},
                                {8000, 22050, RESAMPLE_POLY}, {44100, 22050, RESAMPLE_POLY_FAST}};
    printf("  taps per output (poly: 44.1, 48, 8 -> 22.05 kHz; poly-fast 44.1 -> 22.05):");
    for (int i = 0; i < 4; i++) {
        r = resample_new(tr[i][0], tr[i][1], (resample_quality)tr[i][2], err, sizeof err);
        printf(" %d", r ? resample_taps(r) : -1);
        resample_free(r);
    }
    printf("\n");
    r = resample_new(44101, 22050, RESAMPLE_POLY, err, sizeof err);
    CHECK(!r && strstr(err, "too big"), "44101 -> 22050 Hz is refused: %s", err);
    resample_free(r);
}

/* An impulse at input time t comes out centred on output time t * out / in,
 * and symmetric about it (linear phase). */
static void alignment(int in_rate, int out_rate, size_t at_in, size_t want_out) {
    const size_t n = 4 * at_in;
    float *x = calloc(n, sizeof *x);
    x[at_in] = 1;
    size_t m, peak = 0;
    float *y = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 1000, 500, &m);
    for (size_t i = 0; i < m; i++) if (fabsf(y[i]) > fabsf(y[peak])) peak = i;
    double asym = 0;
    for (size_t k = 1; k < 200 && k <= want_out; k++) {
        double d = fabs(y[want_out - k] - y[want_out + k]);
        if (d > asym) asym = d;
    }
    CHECK(peak == want_out && asym < 1e-6, "%d -> %d Hz: impulse at input %zu peaks at output %zu (want %zu), "
          "asymmetry %.1e", in_rate, out_rate, at_in, peak, want_out, asym);
    free(x);
    free(y);
}

/* pushing 1..997 samples and pulling 1..613 at a time gives the same bytes */
static void chunking(int in_rate, int out_rate) {
    const size_t n = 100003;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 1;
    for (size_t i = 0; i < n; i++) { s = s * 1664525u + 1013904223u; x[i] = (float)(s >> 8) / (1 << 24) - 0.5f; }
    size_t m1, m2, m3;
    float *a = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 0, SIZE_MAX, &m1);
    float *b = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 997, 613, &m2);
    float *c = run(in_rate, out_rate, RESAMPLE_POLY, x, n, 1, 1, &m3);
    CHECK(m1 == m2 && m1 == m3 && !memcmp(a, b, m1 * sizeof *a) && !memcmp(a, c, m1 * sizeof *a),
          "%d -> %d Hz: chunks of 997 / 1 in and 613 / 1 out = one shot, byte for byte (%zu samples)",
          in_rate, out_rate, m1);
    free(x); free(a); free(b); free(c);
}

int main(void) {
    sine_through(44100, 22050, 1000);
    sine_through(44100, 22050, 9000);
    sine_through(48000, 22050, 1000);
    sine_through(48000, 22050, 9500);
    sine_through(8000, 22050, 440);
    sine_through(8000, 22050, 3500);
    sine_through(11025, 22050, 2000);
    ripple(44100, 22050);
    ripple(48000, 22050);
    ripple(8000, 22050);
    stopband(44100, 22050);
    stopband(48000, 22050);
    alias_15k();
    identity();
    lengths();
    alignment(44100, 22050, 1000, 500);
    alignment(48000, 22050, 3200, 1470);
    alignment(8000, 22050, 1600, 4410);
    chunking(44100, 22050);
    chunking(48000, 22050);
    chunking(8000, 22050);
    return CHECK_DONE();
}
