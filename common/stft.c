/* stft.c - streaming STFT power spectra with FFTW (see stft.h).  A stream
 * keeps a sliding buffer of the padded signal holding at most one frame plus
 * one chunk, so memory does not grow with the length of the track. */
#include "stft.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STFT_CHUNK 8192         /* free space kept in the sliding buffer */

struct stft_plan {
    int n_fft, hop, center;
    size_t pad;                 /* n_fft/2 when centred, else 0 */
    stft_pad mode;
    float *window;
    fftwf_plan plan;
};

struct stft_stream {
    const stft_plan *p;
    float *buf;                 /* padded signal from padded position `origin` */
    size_t cap, len;
    int64_t origin;
    int64_t frames;             /* frames emitted; the next starts at frames*hop */
    float *head;                /* the first pad+1 samples, before the left pad exists */
    size_t head_len;
    int started;                /* left pad written into buf */
    float *fin, *power;         /* FFTW-aligned frame and |X|^2 */
    fftwf_complex *fout;
};

const char *stft_pad_name(stft_pad p) { return p == STFT_PAD_REFLECT ? "reflect" : "constant"; }

int stft_pad_parse(const char *s, stft_pad *p) {
    if (strcmp(s, "constant") == 0) *p = STFT_PAD_CONSTANT;
    else if (strcmp(s, "reflect") == 0) *p = STFT_PAD_REFLECT;
    else return -1;
    return 0;
}

stft_plan *stft_plan_new(int n_fft, int hop, int center, stft_pad mode, char *err, size_t errlen) {
    if (n_fft < 2 || n_fft > (1 << 20) || hop < 1) {
        snprintf(err, errlen, "n_fft must be 2..1048576 and hop >= 1 (got %d, %d)", n_fft, hop);
        return NULL;
    }
    stft_plan *p = calloc(1, sizeof *p);
    float *in = fftwf_alloc_real((size_t)n_fft);
    fftwf_complex *out = fftwf_alloc_complex((size_t)n_fft / 2 + 1);
    if (!p || !in || !out) goto oom;
    p->n_fft = n_fft;
    p->hop = hop;
    p->center = center;
    p->pad = center ? (size_t)n_fft / 2 : 0;
    p->mode = mode;
    p->window = malloc((size_t)n_fft * sizeof(float));
    if (!p->window) goto oom;
    /* periodic Hann, torch.hann_window(periodic=True) = scipy.signal.get_window("hann", N) */
    for (int i = 0; i < n_fft; i++)
        p->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / n_fft));
    /* FFTW_ESTIMATE: no timing-dependent choice, so the same input gives the
     * same bytes on every run; streams execute it on their own aligned arrays. */
    p->plan = fftwf_plan_dft_r2c_1d(n_fft, in, out, FFTW_ESTIMATE);
    if (!p->plan) { snprintf(err, errlen, "FFTW could not plan a size-%d transform", n_fft); goto fail; }
    fftwf_free(in);
    fftwf_free(out);
    return p;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    fftwf_free(in);
    fftwf_free(out);
    stft_plan_free(p);
    return NULL;
}

void stft_plan_free(stft_plan *p) {
    if (!p) return;
    if (p->plan) fftwf_destroy_plan(p->plan);
    free(p->window);
    free(p);
}

int stft_nbins(const stft_plan *p) { return p->n_fft / 2 + 1; }

stft_stream *stft_stream_new(const stft_plan *p) {
    stft_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p;
    s->cap = (size_t)p->n_fft + p->pad + 1 + STFT_CHUNK;
    s->buf = malloc(s->cap * sizeof(float));
    s->head = malloc((p->pad + 1) * sizeof(float));
    s->fin = fftwf_alloc_real((size_t)p->n_fft);
    s->power = fftwf_alloc_real((size_t)p->n_fft / 2 + 1);
    s->fout = fftwf_alloc_complex((size_t)p->n_fft / 2 + 1);
    if (!s->buf || !s->head || !s->fin || !s->power || !s->fout) {
        stft_stream_free(s);
        return NULL;
    }
    stft_stream_reset(s);
    return s;
}

void stft_stream_reset(stft_stream *s) {
    s->len = 0;
    s->origin = 0;
    s->frames = 0;
    s->head_len = 0;
    s->started = s->p->pad == 0;
}

void stft_stream_free(stft_stream *s) {
    if (!s) return;
    free(s->buf);
    free(s->head);
    fftwf_free(s->fin);
    fftwf_free(s->power);
    fftwf_free(s->fout);
    free(s);
}

int64_t stft_stream_frames(const stft_stream *s) { return s->frames; }

static int do_frame(stft_stream *s, const float *x, stft_frame_fn fn, void *ctx) {
    const stft_plan *p = s->p;
    const int n = p->n_fft, nb = n / 2 + 1;
    for (int i = 0; i < n; i++) s->fin[i] = x[i] * p->window[i];
    fftwf_execute_dft_r2c(p->plan, s->fin, s->fout);
    for (int k = 0; k < nb; k++)
        s->power[k] = s->fout[k][0] * s->fout[k][0] + s->fout[k][1] * s->fout[k][1];
    return fn(ctx, s->power, nb);
}

static int emit_frames(stft_stream *s, stft_frame_fn fn, void *ctx) {
    const stft_plan *p = s->p;
    for (;;) {
        int64_t start = s->frames * p->hop;
        if (start + p->n_fft > s->origin + (int64_t)s->len) return 0;
        int rc = do_frame(s, s->buf + (start - s->origin), fn, ctx);
        if (rc) return rc;
        s->frames++;
    }
}

/* Drop what no future frame or right reflection needs: keep from the next
 * frame's start, and always the last pad+1 samples. */
static void compact(stft_stream *s) {
    int64_t next = s->frames * s->p->hop - s->origin;
    int64_t tail = (int64_t)s->len - (int64_t)(s->p->pad + 1);
    int64_t from = next < tail ? next : tail;
    if (from <= 0) return;
    memmove(s->buf, s->buf + from, (s->len - (size_t)from) * sizeof(float));
    s->len -= (size_t)from;
    s->origin += from;
}

static int append(stft_stream *s, const float *x, size_t n, stft_frame_fn fn, void *ctx) {
    while (n) {
        if (s->len == s->cap) compact(s);
        size_t k = s->cap - s->len;
        if (k > n) k = n;
        memcpy(s->buf + s->len, x, k * sizeof(float));
        s->len += k;
        x += k;
        n -= k;
        int rc = emit_frames(s, fn, ctx);
        if (rc) return rc;
    }
    return 0;
}

/* The first pad+1 samples are known: write the left pad and them. */
static int start(stft_stream *s, stft_frame_fn fn, void *ctx) {
    size_t pad = s->p->pad;
    for (size_t i = 0; i < pad; i++)
        s->buf[i] = s->p->mode == STFT_PAD_REFLECT ? s->head[pad - i] : 0.0f;
    s->len = pad;
    s->started = 1;
    return append(s, s->head, s->head_len, fn, ctx);
}

int stft_stream_push(stft_stream *s, const float *x, size_t n, stft_frame_fn fn, void *ctx) {
    if (!s->started) {
        size_t want = s->p->pad + 1 - s->head_len;
        size_t k = n < want ? n : want;
        memcpy(s->head + s->head_len, x, k * sizeof(float));
        s->head_len += k;
        x += k;
        n -= k;
        if (s->head_len < s->p->pad + 1) return 0;
        int rc = start(s, fn, ctx);
        if (rc) return rc;
    }
    return append(s, x, n, fn, ctx);
}

int stft_stream_finish(stft_stream *s, stft_frame_fn fn, void *ctx) {
    const size_t pad = s->p->pad;
    if (!s->started) {
        /* shorter than pad+1 samples: pad the whole signal at once */
        size_t L = s->head_len;
        stft_pad_signal(s->head, L, pad, s->p->mode, s->buf);
        s->len = L + 2 * pad;
        s->origin = 0;
        s->started = 1;
        return emit_frames(s, fn, ctx);
    }
    if (s->cap - s->len < pad) compact(s);
    size_t e = s->len;                          /* buf[e-1] is the last sample */
    for (size_t i = 1; i <= pad; i++)
        s->buf[e - 1 + i] = s->p->mode == STFT_PAD_REFLECT ? s->buf[e - 1 - i] : 0.0f;
    s->len += pad;
    return emit_frames(s, fn, ctx);
}

void stft_pad_signal(const float *x, size_t L, size_t pad, stft_pad mode, float *out) {
    const int64_t n = (int64_t)L, period = 2 * (n - 1);
    for (int64_t j = 0; j < n + 2 * (int64_t)pad; j++) {
        int64_t i = j - (int64_t)pad;
        if (i >= 0 && i < n) out[j] = x[i];
        else if (mode == STFT_PAD_CONSTANT || n == 0) out[j] = 0.0f;
        else if (n == 1) out[j] = x[0];
        else {
            int64_t m = ((i % period) + period) % period;
            out[j] = x[m < n ? m : period - m];
        }
    }
}
