/* audio.c - unit tests of common/audio.c on files written here with
 * libsndfile: resampling (poly and libsamplerate) keeps a sine's frequency and
 * level and removes what lies above the new Nyquist frequency (naive
 * decimation would alias it), poly gives exact lengths and the same bytes
 * whatever the decode chunk, odd rates fall back to libsamplerate, channels
 * are averaged, 8-bit input decodes, errors carry libsndfile's reason.
 * (common/resample.c itself: tests/unit/resample.c.) */
#include "audio.h"
#include "check.h"

#include <sndfile.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/audio_unitXXXXXX";

/* nch channels; channel c = amp[c] * sin(2 pi f t) + dc[c] */
static void write_file(const char *path, int format, int rate, int nch, long frames, double f,
                       const double *amp, const double *dc) {
    SF_INFO info = {.samplerate = rate, .channels = nch, .format = format};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) { printf("FAIL: audio.c: cannot write %s: %s\n", path, sf_strerror(NULL)); exit(1); }
    float *buf = malloc((size_t)frames * (size_t)nch * sizeof *buf);
    for (long i = 0; i < frames; i++)
        for (int c = 0; c < nch; c++)
            buf[i * nch + c] = (float)(amp[c] * sin(2 * M_PI * f * i / rate) + dc[c]);
    sf_writef_float(sf, buf, frames);
    sf_close(sf);
    free(buf);
}

static size_t chunk_frames = 10000;

static float *decode_all(const char *path, int rate, audio_quality q, long *n, char *err, size_t errlen) {
    audio_opts o = {.target_rate = rate, .quality = q, .chunk_frames = chunk_frames};
    audio_reader *a = audio_open(path, &o, err, errlen);
    if (!a) return NULL;
    long cap = 1 << 16, k;
    float *x = malloc((size_t)cap * sizeof *x);
    *n = 0;
    while ((k = audio_read(a, x + *n, 4097 < cap - *n ? 4097 : cap - *n)) > 0) {
        *n += k;
        if (cap - *n < 4097) x = realloc(x, (size_t)(cap *= 2) * sizeof *x);
    }
    if (k < 0) snprintf(err, errlen, "%s", audio_error(a));
    audio_close(a);
    if (k < 0) { free(x); return NULL; }
    return x;
}

/* frequency from interpolated upward zero crossings, and RMS, over [from, to) */
static void measure(const float *x, long from, long to, int rate, double *freq, double *rms) {
    double first = -1, last = -1, ss = 0;
    long crossings = 0;
    for (long i = from; i < to; i++) {
        ss += (double)x[i] * x[i];
        if (i > from && x[i - 1] < 0 && x[i] >= 0) {
            double t = (i - 1) + x[i - 1] / (x[i - 1] - x[i]);
            if (first < 0) first = t;
            last = t;
            crossings++;
        }
    }
    *freq = crossings > 1 ? (crossings - 1) * rate / (last - first) : 0;
    *rms = sqrt(ss / (double)(to - from));
}

static void resample_sine(const char *name, int in_rate, int out_rate, double f, audio_quality q) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s.wav", dir, name);
    const double amp[2] = {0.5, 0.5}, dc[2] = {0, 0};
    write_file(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, in_rate, 2, 2L * in_rate, f, amp, dc);
    long n;
    float *x = decode_all(path, out_rate, q, &n, err, sizeof err);
    CHECK(x != NULL, "%s decodes", name);
    if (!x) return;
    /* poly: exactly ceil(n * out / in); libsamplerate: within a sample or two */
    long slack = q == AUDIO_POLY || q == AUDIO_POLY_FAST ? 0 : 2;
    CHECK(labs(n - 2L * out_rate) <= slack, "%s: %d Hz -> %d Hz: 2 s give %ld samples (want %d)",
          name, in_rate, out_rate, n, 2 * out_rate);
    double fr, rms;
    measure(x, out_rate / 2, 3 * out_rate / 2, out_rate, &fr, &rms);
    double db = 20 * log10(rms / (0.5 / sqrt(2)));
    CHECK(fabs(fr - f) < 1e-5 * f + 0.005 && fabs(db) < 0.05, "%s (%s): %.0f Hz sine -> %.4f Hz, level %+.4f dB",
          name, audio_quality_name(q), f, fr, db);
    free(x);
}

static void alias_rejection(audio_quality q, double max_db) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/alias.wav", dir);
    const double amp[2] = {0.5, 0.5}, dc[2] = {0, 0};
    write_file(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 2, 88200, 15000, amp, dc);
    long n;
    float *x = decode_all(path, 22050, q, &n, err, sizeof err);
    if (!x) { CHECK(0, "alias.wav decodes: %s", err); return; }
    double fr, rms;
    measure(x, 11025, 33075, 22050, &fr, &rms);
    double db = 20 * log10(rms / (0.5 / sqrt(2)) + 1e-12);
    /* 15 kHz is above the 11.025 kHz Nyquist of 22.05 kHz: dropping every other
     * sample would fold it to 7.05 kHz at full level */
    CHECK(db < max_db, "%s: 15 kHz sine resampled 44.1 -> 22.05 kHz is removed (%.1f dB, want < %.0f)",
          audio_quality_name(q), db, max_db);
    free(x);
}

static void downmix_and_formats(void) {
    char path[256], err[256];
    long n;
    snprintf(path, sizeof path, "%s/stereo_dc.wav", dir);
    const double a2[2] = {0, 0}, d2[2] = {0.6, -0.2};
    write_file(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 2, 1000, 0, a2, d2);
    float *x = decode_all(path, 22050, AUDIO_SRC_MEDIUM, &n, err, sizeof err);
    CHECK(x && n == 1000 && fabsf(x[0] - 0.2f) < 1e-6f && fabsf(x[999] - 0.2f) < 1e-6f,
          "stereo (0.6, -0.2) averages to 0.2, same rate: no resampling, %ld samples", x ? n : -1);
    free(x);

    snprintf(path, sizeof path, "%s/six.wav", dir);
    const double a6[6] = {0, 0, 0, 0, 0, 0}, d6[6] = {0.1, 0.2, 0.3, 0.4, -0.5, 0.6};
    write_file(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 6, 500, 0, a6, d6);
    x = decode_all(path, 0, AUDIO_SRC_MEDIUM, &n, err, sizeof err);
    CHECK(x && n == 500 && fabsf(x[250] - 0.18333f) < 2e-4f, "5.1 channels average to %.5f (want 0.18333)", x ? x[250] : 0);
    free(x);

    snprintf(path, sizeof path, "%s/u8.wav", dir);
    const double a1[1] = {0.8}, d1[1] = {0};
    write_file(path, SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, 8000, 440, a1, d1);
    x = decode_all(path, 0, AUDIO_SRC_MEDIUM, &n, err, sizeof err);
    double worst = 0;
    for (long i = 0; x && i < n; i++) {
        double e = fabs(x[i] - 0.8 * sin(2 * M_PI * 440 * i / 8000));
        if (e > worst) worst = e;
    }
    CHECK(x && n == 8000 && worst <= 1.5 / 128, "8-bit unsigned WAV decodes to floats within 1.5/128 (%.4f)", worst);
    free(x);

    snprintf(path, sizeof path, "%s/sine.flac", dir);
    write_file(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1, 48000, 1000, a1, d1);
    x = decode_all(path, 22050, AUDIO_SRC_MEDIUM, &n, err, sizeof err);
    double fr = 0, rms = 0;
    if (x) measure(x, 5000, 17000, 22050, &fr, &rms);
    CHECK(x && fabs(fr - 1000) < 0.01, "FLAC 48 kHz -> 22.05 kHz keeps 1 kHz (%.4f Hz)", fr);
    free(x);
}

static void errors(void) {
    char path[256], err[256];
    long n;
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    CHECK(decode_all(path, 22050, AUDIO_SRC_MEDIUM, &n, err, sizeof err) == NULL && strstr(err, "No such file"),
          "a missing file says why: %s", err);
    snprintf(path, sizeof path, "%s/garbage.wav", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 3000; i++) fputc("not audio "[i % 10], f);
    fclose(f);
    CHECK(decode_all(path, 22050, AUDIO_SRC_MEDIUM, &n, err, sizeof err) == NULL && strlen(err) > 5 &&
          err[strlen(err) - 1] != '.', "garbage is refused with libsndfile's reason: %s", err);
    audio_quality q, q2, q3, q4;
    CHECK(audio_quality_parse("best", &q) == 0 && q == AUDIO_SRC_BEST && audio_quality_parse("good", &q) == -1 &&
          audio_quality_parse("poly", &q2) == 0 && q2 == AUDIO_POLY && audio_quality_parse("poly-fast", &q3) == 0 &&
          q3 == AUDIO_POLY_FAST && audio_quality_parse("src-fastest", &q4) == 0 && q4 == AUDIO_SRC_FASTEST &&
          audio_quality_parse("src-poly", &q) == -1 && strcmp(audio_quality_name(AUDIO_SRC_MEDIUM), "src-medium") == 0,
          "quality names parse (poly, poly-fast, src-*, and best/medium/fastest)");
}

/* The converter in use: poly, none at equal rates, libsamplerate's best for
 * a rate whose ratio to 22050 has no small terms. */
static void converter_names(void) {
    static const struct { int rate; audio_quality q; const char *want; } c[] = {
        {44100, AUDIO_POLY, "poly"}, {22050, AUDIO_POLY, "none"}, {44101, AUDIO_POLY, "src-best"},
        {48000, AUDIO_POLY_FAST, "poly-fast"}, {48000, AUDIO_SRC_MEDIUM, "src-medium"}};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char path[256], err[256];
        snprintf(path, sizeof path, "%s/rate%d.wav", dir, c[i].rate);
        const double amp[1] = {0.5}, dc[1] = {0};
        write_file(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, c[i].rate, 1, c[i].rate / 4, 1000, amp, dc);
        audio_opts o = {.target_rate = 22050, .quality = c[i].q};
        audio_reader *a = audio_open(path, &o, err, sizeof err);
        const char *got = a ? audio_resampler_name(a) : err;
        CHECK(a && strcmp(got, c[i].want) == 0, "%d Hz asking %s: converter %s (want %s)", c[i].rate,
              audio_quality_name(c[i].q), got, c[i].want);
        audio_close(a);
    }
}

/* poly through audio_read: the decode chunk size does not change a byte */
static void chunk_independence(void) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/noise48.wav", dir);
    SF_INFO info = {.samplerate = 48000, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    float buf[2 * 1000];
    uint32_t s = 3;
    for (int b = 0; sf && b < 50; b++) {
        for (int i = 0; i < 2000; i++) { s = s * 1664525u + 1013904223u; buf[i] = (float)(s >> 8) / (1 << 24) - 0.5f; }
        sf_writef_float(sf, buf, 1000);
    }
    sf_close(sf);
    long n1, n2;
    chunk_frames = 65536;
    float *x1 = decode_all(path, 22050, AUDIO_POLY, &n1, err, sizeof err);
    chunk_frames = 777;
    float *x2 = decode_all(path, 22050, AUDIO_POLY, &n2, err, sizeof err);
    chunk_frames = 10000;
    CHECK(x1 && x2 && n1 == 22969 && n1 == n2 && memcmp(x1, x2, (size_t)n1 * sizeof *x1) == 0,
          "48 kHz noise, 50000 frames -> %ld samples (want 22969 = ceil(50000 * 147 / 320)), "
          "decode chunks of 65536 and 777: same bytes", x1 ? n1 : -1);
    free(x1);
    free(x2);
}

/* audio_decode + audio_set_feed (spectro's two threads, here one): the
 * resampler fed from audio_decode gives audio_read's own bytes */
static long feed_from_decode(void *ctx, float *out, long cap) { return audio_decode(ctx, out, cap); }

static void split_decode(void) {
    static const struct { int rate; audio_quality q; } c[] = {
        {22050, AUDIO_POLY}, {22050, AUDIO_SRC_MEDIUM}, {48000, AUDIO_POLY}, {16000, AUDIO_POLY_FAST}};
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/noise48.wav", dir);
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        long n1 = 0, n2 = 0, k;
        float *x1 = decode_all(path, c[i].rate, c[i].q, &n1, err, sizeof err);
        audio_opts o = {.target_rate = c[i].rate, .quality = c[i].q, .chunk_frames = chunk_frames};
        audio_reader *a = audio_open(path, &o, err, sizeof err);
        float *x2 = malloc((size_t)(n1 + 8192) * sizeof *x2);
        if (a && x2) {
            audio_set_feed(a, feed_from_decode, a);
            while (n2 + 4097 <= n1 + 8192 && (k = audio_read(a, x2 + n2, 4097)) > 0) n2 += k;
        }
        CHECK(x1 && a && x2 && n1 > 0 && n1 == n2 && memcmp(x1, x2, (size_t)n1 * sizeof *x1) == 0 &&
              audio_decoded_frames(a) == 50000,
              "48 kHz noise -> %d Hz (%s): audio_read fed by audio_decode gives audio_read's %ld samples (%ld)",
              c[i].rate, audio_quality_name(c[i].q), n1, n2);
        audio_close(a);
        free(x1);
        free(x2);
    }
}

int main(void) {
    if (!mkdtemp(dir)) { printf("FAIL: audio.c: mkdtemp\n"); return 1; }
    resample_sine("poly_down_1k", 44100, 22050, 1000, AUDIO_POLY);
    resample_sine("poly_down_9k_48k", 48000, 22050, 9000, AUDIO_POLY);
    resample_sine("poly_up_440", 8000, 22050, 440, AUDIO_POLY);
    resample_sine("poly_fast_down_5k", 44100, 22050, 5000, AUDIO_POLY_FAST);
    resample_sine("down_1k", 44100, 22050, 1000, AUDIO_SRC_MEDIUM);
    resample_sine("down_1k_best", 44100, 22050, 1000, AUDIO_SRC_BEST);
    resample_sine("down_5k_fastest", 44100, 22050, 5000, AUDIO_SRC_FASTEST);
    resample_sine("up_440", 8000, 22050, 440, AUDIO_SRC_MEDIUM);
    resample_sine("down_9k_48k", 48000, 22050, 9000, AUDIO_SRC_MEDIUM);
    alias_rejection(AUDIO_POLY, -100);
    alias_rejection(AUDIO_POLY_FAST, -75);
    alias_rejection(AUDIO_SRC_MEDIUM, -60);
    alias_rejection(AUDIO_SRC_FASTEST, -60);
    converter_names();
    chunk_independence();
    split_decode();
    downmix_and_formats();
    errors();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) printf("note: could not remove %s\n", dir);
    return CHECK_DONE();
}
