/* resample.c - rational polyphase FIR resampler (see resample.h): Kaiser
 * window design, coefficient table, streaming buffer and the dot product. */
#include "resample.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESAMPLE_CHUNK 8192             /* free room in the input buffer */
#define RESAMPLE_MAX_TABLE (4u << 20)   /* coefficients: 16 MiB */
#define TAP_MULTIPLE 16                 /* taps per phase: two 8-float vectors */

struct resampler {
    int L, M;                   /* out/in rates reduced by their gcd */
    int hw;                     /* half-width in input samples; taps = 2 hw */
    int taps;
    const float *coef;          /* L rows of taps: row phi serves outputs with j*M = phi (mod L) */
    float *own;                 /* coef when it is not in the shared cache */
    float *buf;                 /* inputs base .. base+len-1 */
    size_t cap, len;
    int64_t base;
    int64_t n_in;               /* inputs pushed */
    int64_t j, i0;              /* next output; i0 = floor(j*M/L) */
    int phase;                  /* j*M - i0*L */
    int64_t out_total;          /* -1 until resample_finish */
    int padded;                 /* trailing zeros appended */
};

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) { int64_t t = a % b; a = b; b = t; }
    return a;
}

/* Modified Bessel function of the first kind, order 0: sum_k ((x/2)^k / k!)^2. */
static double bessel_i0(double x) {
    double s = 1, t = 1, q = x * x / 4;
    for (int k = 1; k < 200 && t > 1e-17 * s; k++) {
        t *= q / ((double)k * k);
        s += t;
    }
    return s;
}

/* Kaiser 1974 (as scipy.signal.kaiser_beta): window shape for attenuation A dB. */
static double kaiser_beta(double A) {
    if (A > 50) return 0.1102 * (A - 8.7);
    if (A >= 21) return 0.5842 * pow(A - 21, 0.4) + 0.07886 * (A - 21);
    return 0;
}

resample_design resample_quality_design(resample_quality q) {
    /* poly: soxr "HQ"-like band edges (passband to 0.91 of Nyquist, stopband
     * from Nyquist, so nothing folds back into the band); poly-fast trades
     * the top of the band and some depth for ~1/3 of the taps. */
    if (q == RESAMPLE_POLY_FAST) return (resample_design){.pass = 0.80, .stop = 1.0, .atten_db = 80};
    return (resample_design){.pass = 0.91, .stop = 1.0, .atten_db = 110};
}

/* The prototype h(u) at the upsampled rate L*in_rate, u in upsampled samples
 * from the centre (scipy.signal.firwin with a Kaiser window):
 *   h(u) = 2 fc sinc(2 fc u) w(u),  fc = cutoff / (L in_rate),
 *   w(u) = I0(beta sqrt(1 - (u/W)^2)) / I0(beta) for |u| < W, else 0,
 * scaled so that sum h = L (unit gain after inserting L-1 zeros per input,
 * as resample_poly).  Phase phi, tap t: u = phi + (hw - 1 - t) L. */
static float *design_table(resampler *r, double in_rate, double out_rate, const resample_design *d,
                           char *err, size_t errlen) {
    const int L = r->L;
    const double nyq = (in_rate < out_rate ? in_rate : out_rate) / 2;
    const double fs_up = (double)L * in_rate;
    const double fc = (d->pass + d->stop) / 2 * nyq / fs_up;        /* cycles per upsampled sample */
    const double dw = 2 * M_PI * (d->stop - d->pass) * nyq / fs_up; /* transition, rad per sample */
    /* Kaiser's length estimate (scipy.signal.kaiserord): N = (A - 7.95) / (2.285 dw) + 1 */
    const double n_taps = (d->atten_db - 7.95) / (2.285 * dw) + 1;
    /* window points strictly inside |u| < W = hw L must cover N taps */
    double hw = ceil((n_taps + 1) / (2.0 * L));
    hw = ceil(hw / (TAP_MULTIPLE / 2)) * (TAP_MULTIPLE / 2);
    if (hw * 2 * L > RESAMPLE_MAX_TABLE) {
        snprintf(err, errlen, "%g Hz -> %g Hz reduces to %d/%d: a %.0f-coefficient table is too big",
                 in_rate, out_rate, r->L, r->M, hw * 2 * L);
        return NULL;
    }
    r->hw = (int)hw;
    const int taps = 2 * r->hw;
    const size_t n = (size_t)L * (size_t)taps;
    double *h = malloc(n * sizeof *h);
    float *coef = malloc(n * sizeof *coef);
    if (!h || !coef) {
        free(h);
        free(coef);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const double beta = kaiser_beta(d->atten_db), i0b = bessel_i0(beta), W = hw * L;
    double sum = 0;
    for (int phi = 0; phi < L; phi++)
        for (int t = 0; t < taps; t++) {
            double u = phi + (double)(r->hw - 1 - t) * L, ru = u / W, v = 0;
            if (fabs(ru) < 1) {
                double x = 2 * fc * u;
                double sinc = x == 0 ? 1 : sin(M_PI * x) / (M_PI * x);
                v = 2 * fc * sinc * bessel_i0(beta * sqrt(1 - ru * ru)) / i0b;
            }
            h[(size_t)phi * taps + t] = v;
            sum += v;
        }
    for (size_t i = 0; i < n; i++) coef[i] = (float)(h[i] * L / sum);
    free(h);
    return coef;
}

/* Tables already designed, shared read-only by every resampler of the
 * process (a file at 48 kHz takes ~6 ms to design; a batch of files shares
 * one rate).  Kept until exit; at most CACHE_SLOTS of them. */
#define CACHE_SLOTS 8
typedef struct {
    int in, out, hw;
    resample_design d;
    float *coef;
} cached_table;
static cached_table cache[CACHE_SLOTS];
static int cache_used;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_design(const resample_design *a, const resample_design *b) {
    return a->pass == b->pass && a->stop == b->stop && a->atten_db == b->atten_db;
}

static int get_table(resampler *r, int in_rate, int out_rate, const resample_design *d, char *err,
                     size_t errlen) {
    int rc = 0;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < cache_used; i++)
        if (cache[i].in == in_rate && cache[i].out == out_rate && same_design(&cache[i].d, d)) {
            r->hw = cache[i].hw;
            r->coef = cache[i].coef;
            goto done;
        }
    float *coef = design_table(r, in_rate, out_rate, d, err, errlen);
    if (!coef) { rc = -1; goto done; }
    r->coef = coef;
    if (cache_used < CACHE_SLOTS)
        cache[cache_used++] = (cached_table){.in = in_rate, .out = out_rate, .hw = r->hw, .d = *d, .coef = coef};
    else
        r->own = coef;
done:
    pthread_mutex_unlock(&cache_lock);
    r->taps = 2 * r->hw;
    return rc;
}

resampler *resample_new_design(int in_rate, int out_rate, const resample_design *d, char *err,
                               size_t errlen) {
    if (in_rate < 1 || out_rate < 1 || !(d->pass > 0 && d->pass < d->stop && d->atten_db > 0)) {
        snprintf(err, errlen, "bad resampler parameters (%d Hz -> %d Hz)", in_rate, out_rate);
        return NULL;
    }
    resampler *r = calloc(1, sizeof *r);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    int64_t g = gcd64(in_rate, out_rate);
    r->L = (int)(out_rate / g);
    r->M = (int)(in_rate / g);
    r->out_total = -1;
    if (r->L != r->M && get_table(r, in_rate, out_rate, d, err, errlen)) goto fail;
    r->cap = (size_t)r->taps + (size_t)r->hw + RESAMPLE_CHUNK;   /* room for the trailing zeros */
    r->buf = calloc(r->cap, sizeof *r->buf);
    if (!r->buf) { snprintf(err, errlen, "out of memory"); goto fail; }
    /* x[i] = 0 for i < 0: output 0 needs inputs from 1 - hw */
    if (r->hw > 1) {
        r->base = -(int64_t)(r->hw - 1);
        r->len = (size_t)(r->hw - 1);
    }
    return r;
fail:
    resample_free(r);
    return NULL;
}

resampler *resample_new(int in_rate, int out_rate, resample_quality q, char *err, size_t errlen) {
    resample_design d = resample_quality_design(q);
    return resample_new_design(in_rate, out_rate, &d, err, errlen);
}

void resample_free(resampler *r) {
    if (!r) return;
    free(r->own);
    free(r->buf);
    free(r);
}

int resample_up(const resampler *r) { return r->L; }
int resample_down(const resampler *r) { return r->M; }
int resample_taps(const resampler *r) { return r->taps; }

int64_t resample_out_length(const resampler *r, int64_t n_in) {
    /* ceil(n_in L / M) without forming n_in * L */
    return n_in / r->M * r->L + ((n_in % r->M) * r->L + r->M - 1) / r->M;
}

/* Keep inputs from the first one the next output needs. */
static void compact(resampler *r) {
    int64_t first = r->L == r->M ? r->j : r->i0 - r->hw + 1;
    int64_t drop = first - r->base;
    if (drop <= 0) return;
    if ((size_t)drop > r->len) drop = (int64_t)r->len;
    memmove(r->buf, r->buf + drop, (r->len - (size_t)drop) * sizeof *r->buf);
    r->len -= (size_t)drop;
    r->base += drop;
}

size_t resample_push(resampler *r, const float *x, size_t n) {
    if (r->out_total >= 0) return 0;
    if (r->cap - r->len < n) compact(r);
    size_t k = r->cap - r->len < n ? r->cap - r->len : n;
    memcpy(r->buf + r->len, x, k * sizeof *x);
    r->len += k;
    r->n_in += (int64_t)k;
    return k;
}

void resample_finish(resampler *r) {
    if (r->out_total < 0) r->out_total = resample_out_length(r, r->n_in);
}

typedef float v8sf __attribute__((vector_size(32)));

/* a + b * c, fused where the CPU has FMA (one rounding, and half the
 * instructions); either way the same for every call in a build */
#if defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__FMA__)
#define MADD(a, b, c) ((v8sf)_mm256_fmadd_ps((__m256)(b), (__m256)(c), (__m256)(a)))
#else
#define MADD(a, b, c) ((a) + (b) * (c))
#endif
#define HSUM(a) ((((a)[0] + (a)[4]) + ((a)[1] + (a)[5])) + (((a)[2] + (a)[6]) + ((a)[3] + (a)[7])))

/* sum c[t] x[t], t < taps (a multiple of 16), in a fixed order: two 8-lane
 * accumulators, so the bytes do not depend on where x sits in memory. */
static inline float dot(const float *c, const float *x, int taps) {
    v8sf a0 = {0}, a1 = {0};
    for (int t = 0; t < taps; t += 16) {
        v8sf c0, c1, x0, x1;
        memcpy(&c0, c + t, sizeof c0);
        memcpy(&c1, c + t + 8, sizeof c1);
        memcpy(&x0, x + t, sizeof x0);
        memcpy(&x1, x + t + 8, sizeof x1);
        a0 = MADD(a0, c0, x0);
        a1 = MADD(a1, c1, x1);
    }
    a0 += a1;
    return HSUM(a0);
}

/* NB dot products with one coefficient row, inputs x + k*xs, outputs
 * y[k*ys], k < NB: outputs j, j+L, j+2L, ... share a phase and their inputs
 * are M apart, so the row is loaded once for NB outputs.  Each output gets
 * exactly dot()'s operations in dot()'s order. */
#if defined(__AVX512F__)
/* With AVX-512, one 16-lane accumulator per output holds dot()'s two 8-lane
 * ones side by side (lanes 0-7: a0, 8-15: a1): lane for lane the same fused
 * multiply-adds in the same order, in half the instructions, and room in the
 * 32 registers for 12 outputs per row; the two halves are then added and
 * summed as dot() does.  The same bytes as without AVX-512. */
#define DOT_WIDE 12             /* outputs per row in pull_block when the input is there */
static inline void dotn(const float *c, const float *x, size_t xs, int taps, float *y, size_t ys, const int nb) {
    __m512 a[DOT_WIDE];
    for (int k = 0; k < nb; k++) a[k] = _mm512_setzero_ps();
    for (int t = 0; t < taps; t += 16) {
        __m512 cv = _mm512_loadu_ps(c + t);
        for (int k = 0; k < nb; k++) a[k] = _mm512_fmadd_ps(cv, _mm512_loadu_ps(x + k * xs + t), a[k]);
    }
    for (int k = 0; k < nb; k++) {
        v8sf lo = (v8sf)_mm512_castps512_ps256(a[k]), hi = (v8sf)_mm512_extractf32x8_ps(a[k], 1);
        lo += hi;
        y[k * ys] = HSUM(lo);
    }
}

/* 16 outputs of a 2:1 decimation (L = 1, M = 2: 44.1 -> 22.05 kHz), which
 * share one coefficient row: output k reads x + 2k, so the 16 inputs of
 * output k+8 at taps t .. t+15 are those of output k at taps t+16 .. t+31.
 * One load serves both: in step b, Y_j = x[16b + 2j ..] (j < 8) is tap
 * block b of output j and tap block b-1 of output j+8, and each output
 * still takes its tap blocks in order, as dotn: the same bytes, with 0.6
 * loads per multiply-add instead of 1.1 (44.1 -> 22.05 kHz: 6.4 -> 4.0 ms
 * for 30 s). */
static inline void dot16_half(const float *c, const float *x, int taps, float *y) {
    __m512 a[16], cq[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};  /* rows of blocks b, b-1 */
    for (int k = 0; k < 16; k++) a[k] = _mm512_setzero_ps();
    const int nb = taps / 16;
    for (int b = 0; b < nb + 1; b++) {
        cq[1] = cq[0];
        cq[0] = b < nb ? _mm512_loadu_ps(c + 16 * b) : _mm512_setzero_ps();
        for (int j = 0; j < 8; j++) {
            const __m512 yv = _mm512_loadu_ps(x + 16 * b + 2 * j);
            for (int g = 0; g < 2; g++)
                if (b - g >= 0 && b - g < nb) a[j + 8 * g] = _mm512_fmadd_ps(cq[g], yv, a[j + 8 * g]);
        }
    }
    for (int k = 0; k < 16; k++) {
        v8sf lo = (v8sf)_mm512_castps512_ps256(a[k]), hi = (v8sf)_mm512_extractf32x8_ps(a[k], 1);
        lo += hi;
        y[k] = HSUM(lo);
    }
}
#define HAVE_DOT16_HALF 1
#else
#define DOT_WIDE 4
static inline void dotn(const float *c, const float *x, size_t xs, int taps, float *y, size_t ys, const int nb) {
    v8sf a[4] = {{0}}, b[4] = {{0}};
    for (int t = 0; t < taps; t += 16) {
        v8sf c0, c1, x0, x1;
        memcpy(&c0, c + t, sizeof c0);
        memcpy(&c1, c + t + 8, sizeof c1);
        for (int k = 0; k < 4; k++) {
            memcpy(&x0, x + k * xs + t, sizeof x0);
            memcpy(&x1, x + k * xs + t + 8, sizeof x1);
            a[k] = MADD(a[k], c0, x0);
            b[k] = MADD(b[k], c1, x1);
        }
    }
    for (int k = 0; k < 4; k++) {
        a[k] += b[k];
        y[k * ys] = HSUM(a[k]);
    }
}
#endif

static size_t pull_same_rate(resampler *r, float *out, size_t cap) {
    size_t avail = (size_t)(r->base + (int64_t)r->len - r->j);
    size_t k = avail < cap ? avail : cap;
    memcpy(out, r->buf + (r->j - r->base), k * sizeof *out);
    r->j += (int64_t)k;
    return k;
}

/* Outputs j .. j+nb*L-1, whose inputs are all in the buffer: for each of
 * the L phases, the nb outputs k, k+L, k+2L, ... in one dotn (nb = 4, or
 * DOT_WIDE; a constant in each inlined copy). */
static inline size_t pull_block(resampler *r, float *out, const int nb) {
    const int L = r->L, frac = r->M % L;
    const int64_t step = r->M / L;
    int64_t i0 = r->i0;
    int phase = r->phase;
    for (int k = 0; k < L; k++) {
        dotn(r->coef + (size_t)phase * r->taps, r->buf + (i0 - r->hw + 1 - r->base), (size_t)r->M,
             r->taps, out + k, (size_t)L, nb);
        i0 += step;
        phase += frac;
        if (phase >= L) { phase -= L; i0++; }
    }
    /* (j + nb L) M = j M + nb L M: same phase, i0 + nb M */
    r->j += (int64_t)nb * L;
    r->i0 += (int64_t)nb * r->M;
    return (size_t)nb * L;
}

/* a block of nb L outputs fits in out's room, before the end, and its
 * inputs are in the buffer */
static inline int block_fits(const resampler *r, size_t room, int nb) {
    const int64_t n = (int64_t)nb * r->L;
    return (size_t)n <= room && (r->out_total < 0 || r->j + n <= r->out_total) &&
           r->i0 + (int64_t)nb * r->M + r->hw < r->base + (int64_t)r->len;
}

size_t resample_pull(resampler *r, float *out, size_t cap) {
    if (r->L == r->M) return pull_same_rate(r, out, cap);
    const int L = r->L, hw = r->hw, taps = r->taps;
    const int64_t step = r->M / L;
    const int frac = r->M % L;
    size_t n = 0;
    while (n < cap && (r->out_total < 0 || r->j < r->out_total)) {
        if (r->i0 + hw >= r->base + (int64_t)r->len) {   /* needs x[i0 + hw] */
            if (r->out_total < 0 || r->padded) break;
            /* the zeros after the last input: hw of them reach every output
             * j < ceil(n_in L / M), whose i0 <= n_in - 1 */
            compact(r);
            memset(r->buf + r->len, 0, (size_t)hw * sizeof *r->buf);
            r->len += (size_t)hw;
            r->padded = 1;
            continue;
        }
#ifdef HAVE_DOT16_HALF
        if (L == 1 && r->M == 2 && block_fits(r, cap - n, 16)) {
            dot16_half(r->coef, r->buf + (r->i0 - hw + 1 - r->base), taps, out + n);
            n += 16;
            r->j += 16;
            r->i0 += 32;
            continue;
        }
#endif
        if (DOT_WIDE > 4 && block_fits(r, cap - n, DOT_WIDE)) {
            n += pull_block(r, out + n, DOT_WIDE);
            continue;
        }
        if (block_fits(r, cap - n, 4)) {
            n += pull_block(r, out + n, 4);
            continue;
        }
        const float *x = r->buf + (r->i0 - hw + 1 - r->base);
        out[n++] = dot(r->coef + (size_t)r->phase * taps, x, taps);
        r->j++;
        r->i0 += step;
        r->phase += frac;
        if (r->phase >= L) { r->phase -= L; r->i0++; }
    }
    return n;
}
