/* stft.c - unit tests of common/stft.c: numpy.pad semantics of the padding,
 * power spectra against a naive double-precision DFT with a periodic Hann
 * window, frame counts, and the same frames whatever the chunking. */
#include "check.h"
#include "stft.h"

#include <string.h>

typedef struct { float *rows; long n, cap; int nb; } acc;

static int on_frame(void *ctx, const float *p, int nb) {
    acc *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->rows = realloc(a->rows, (size_t)a->cap * (size_t)nb * sizeof(float));
    }
    memcpy(a->rows + (size_t)a->n * (size_t)nb, p, (size_t)nb * sizeof(float));
    a->nb = nb;
    a->n++;
    return 0;
}

static void pads(void) {
    /* numpy.pad(x, k, mode="reflect") for short signals (printed by numpy 1.24) */
    const float x3[3] = {1, 2, 3}, x4[4] = {1, 2, 3, 4}, x1[1] = {5};
    const float w3[17] = {2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2};
    const float w4[22] = {4, 3, 2, 1, 2, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1};
    float out[32];
    stft_pad_signal(x3, 3, 7, STFT_PAD_REFLECT, out);
    CHECK(memcmp(out, w3, sizeof w3) == 0, "reflect pad 7 of [1 2 3] = numpy.pad");
    stft_pad_signal(x4, 4, 9, STFT_PAD_REFLECT, out);
    CHECK(memcmp(out, w4, sizeof w4) == 0, "reflect pad 9 of [1 2 3 4] = numpy.pad");
    stft_pad_signal(x1, 1, 3, STFT_PAD_REFLECT, out);
    CHECK(out[0] == 5 && out[3] == 5 && out[6] == 5, "reflect of one sample repeats it");
    stft_pad_signal(x3, 3, 2, STFT_PAD_CONSTANT, out);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 1 && out[4] == 3 && out[5] == 0 && out[6] == 0, "constant pad = zeros");
}

/* naive: pad, window, DFT in double */
static double naive_check(const float *x, long L, int n_fft, int hop, int center, stft_pad mode, const acc *a) {
    size_t pad = center ? (size_t)n_fft / 2 : 0;
    float *px = malloc(((size_t)L + 2 * pad + 1) * sizeof *px);
    stft_pad_signal(x, (size_t)L, pad, mode, px);
    long plen = L + 2 * (long)pad, nf = plen >= n_fft ? 1 + (plen - n_fft) / hop : 0;
    if (nf != a->n) { free(px); return 1e30; }
    double worst = 0;
    for (long t = 0; t < nf; t++) {
        double total = 0;
        double *pw = malloc(((size_t)n_fft / 2 + 1) * sizeof *pw);
        for (int k = 0; k <= n_fft / 2; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < n_fft; i++) {
                double w = 0.5 - 0.5 * cos(2 * M_PI * i / n_fft);
                double v = px[t * hop + i] * w, ang = -2 * M_PI * (double)k * i / n_fft;
                re += v * cos(ang);
                im += v * sin(ang);
            }
            pw[k] = re * re + im * im;
            total += pw[k];
        }
        for (int k = 0; k <= n_fft / 2; k++) {   /* error relative to the frame's energy */
            double e = fabs(pw[k] - a->rows[t * a->nb + k]) / (total + 1e-30);
            if (e > worst) worst = e;
        }
        free(pw);
    }
    free(px);
    return worst;
}

static acc run(const stft_plan *p, const float *x, long L, const long *chunks) {
    acc a = {0};
    stft_stream *s = stft_stream_new(p);
    long off = 0;
    for (int c = 0; off < L; c = chunks[c + 1] ? c + 1 : 0) {
        long k = chunks[c] < L - off ? chunks[c] : L - off;
        stft_stream_push(s, x + off, (size_t)k, on_frame, &a);
        off += k;
    }
    stft_stream_finish(s, on_frame, &a);
    stft_stream_free(s);
    return a;
}

static void against_naive(int n_fft, int hop, int center, stft_pad mode, long L) {
    char err[256];
    float *x = malloc(((size_t)L + 1) * sizeof *x);
    unsigned s = 99u + (unsigned)L;
    for (long i = 0; i < L; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)sin(0.05 * i) * 0.5f + ((float)(s >> 9) / (1u << 23) - 0.5f) * 0.3f;
    }
    stft_plan *p = stft_plan_new(n_fft, hop, center, mode, err, sizeof err);
    const long one[] = {L ? L : 1, 0}, odd[] = {1, 7, 300, 2, 4099, 0};
    acc a = run(p, x, L, one), b = run(p, x, L, odd);
    double e = naive_check(x, L, n_fft, hop, center, mode, &a);
    long want = center ? 1 + L / hop : (L >= n_fft ? 1 + (L - n_fft) / hop : 0);
    CHECK(a.n == want && e < 1e-5, "n_fft %d hop %d %s %s, %ld samples: %ld frames (want %ld), "
          "max error %.2g of frame energy vs naive DFT", n_fft, hop, center ? "centred" : "not centred",
          stft_pad_name(mode), L, a.n, want, e);
    CHECK(a.n == b.n && (a.n == 0 || memcmp(a.rows, b.rows, (size_t)a.n * (size_t)a.nb * sizeof(float)) == 0),
          "  same bytes when fed in chunks of 1, 7, 300, 2, 4099 samples");
    free(a.rows);
    free(b.rows);
    free(x);
    stft_plan_free(p);
}

static void sine_peak(void) {
    char err[256];
    stft_plan *p = stft_plan_new(2048, 512, 1, STFT_PAD_CONSTANT, err, sizeof err);
    float x[22050];
    for (int i = 0; i < 22050; i++) x[i] = (float)sin(2 * M_PI * 1000.0 * i / 22050);
    const long one[] = {22050, 0};
    acc a = run(p, x, 22050, one);
    const float *mid = a.rows + (a.n / 2) * a.nb;
    int best = 0;
    for (int k = 1; k < a.nb; k++) if (mid[k] > mid[best]) best = k;
    /* 1000 Hz at 22050/2048 Hz per bin = bin 92.88; |X| = A N/4 for a Hann window */
    CHECK(best == 93, "1 kHz sine peaks in bin 93 (got %d)", best);
    double total = 0;
    for (int k = 0; k < a.nb; k++) total += mid[k];
    /* Parseval: sum_k |X_k|^2 (one-sided, ~half) = N/2 * sum w^2 x^2 = N/2 * (3N/8) * 1/2 */
    double want = 0.5 * 2048 * (3.0 * 2048 / 8) * 0.5;
    CHECK(fabs(total - want) / want < 0.01, "one-sided energy %.4g = Parseval %.4g", total, want);
    free(a.rows);
    stft_plan_free(p);
    CHECK(stft_plan_new(1, 512, 1, STFT_PAD_CONSTANT, err, sizeof err) == NULL, "n_fft 1 refused: %s", err);
}

int main(void) {
    pads();
    against_naive(256, 64, 1, STFT_PAD_CONSTANT, 5000);
    against_naive(256, 64, 1, STFT_PAD_REFLECT, 5000);
    against_naive(256, 100, 0, STFT_PAD_CONSTANT, 5000);
    against_naive(256, 300, 1, STFT_PAD_REFLECT, 3000);      /* hop > n_fft: gaps */
    against_naive(255, 64, 1, STFT_PAD_REFLECT, 1000);       /* odd n_fft */
    against_naive(256, 64, 1, STFT_PAD_REFLECT, 129);        /* exactly pad + 1 samples */
    against_naive(256, 64, 1, STFT_PAD_REFLECT, 100);        /* shorter than pad + 1 */
    against_naive(256, 64, 1, STFT_PAD_CONSTANT, 100);
    against_naive(256, 64, 1, STFT_PAD_REFLECT, 3);
    against_naive(256, 64, 1, STFT_PAD_REFLECT, 1);
    against_naive(256, 64, 1, STFT_PAD_CONSTANT, 0);
    against_naive(256, 64, 0, STFT_PAD_CONSTANT, 200);       /* shorter than a window, not centred */
    sine_peak();
    return CHECK_DONE();
}
