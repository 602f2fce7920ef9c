/* audio.c - libsndfile decoding, down-mix to mono, resampling (common/resample.c
 * or libsamplerate), all streaming in chunks of a fixed number of frames (see
 * audio.h). */
#include "audio.h"
#include "resample.h"

#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audio_reader {
    SNDFILE *sf;
    SF_INFO info;
    int out_rate;
    SRC_STATE *src;             /* libsamplerate, or */
    resampler *poly;            /* ours; both NULL when the rates match */
    audio_quality used;         /* the converter actually in use */
    double ratio;               /* out_rate / file rate */
    size_t chunk;               /* frames per decode call */
    float *inter;               /* chunk * channels, interleaved decode buffer */
    float *mono;                /* chunk mono samples waiting for the resampler */
    size_t mono_pos, mono_len;
    int eof;                    /* libsndfile has no more frames (the decoding side) */
    int in_eof;                 /* the resampling side has had its last samples */
    long (*feed)(void *, float *, long);  /* audio_set_feed: where audio_read's samples come from */
    void *feed_ctx;
    int64_t decoded;            /* frames libsndfile has handed out */
    int flushed;                /* resampler has been told end_of_input and drained */
    char err[256];
};

/* libsndfile's messages end with a full stop; ours go on after them */
static void copy_reason(char *dst, size_t n, const char *why) {
    snprintf(dst, n, "%s", why && *why ? why : "unknown libsndfile error");
    size_t l = strlen(dst);
    while (l && (dst[l - 1] == '.' || dst[l - 1] == '\n' || dst[l - 1] == ' ')) dst[--l] = 0;
}

static const char *const quality_names[] = {"poly", "poly-fast", "src-best", "src-medium", "src-fastest"};

int audio_quality_parse(const char *s, audio_quality *q) {
    for (int i = 0; i < 5; i++)
        if (strcmp(s, quality_names[i]) == 0 || (i >= 2 && strcmp(s, quality_names[i] + 4) == 0)) {
            *q = (audio_quality)i;
            return 0;
        }
    return -1;
}

const char *audio_quality_name(audio_quality q) {
    return (unsigned)q < 5 ? quality_names[q] : "?";
}

static int src_type(audio_quality q) {
    switch (q) {
    case AUDIO_SRC_BEST: return SRC_SINC_BEST_QUALITY;
    case AUDIO_SRC_FASTEST: return SRC_SINC_FASTEST;
    default: return SRC_SINC_MEDIUM_QUALITY;
    }
}

audio_reader *audio_open(const char *path, const audio_opts *o, char *err, size_t errlen) {
    audio_reader *a = calloc(1, sizeof *a);
    if (!a) { snprintf(err, errlen, "out of memory"); return NULL; }
    a->sf = sf_open(path, SFM_READ, &a->info);
    if (!a->sf) {
        copy_reason(err, errlen, sf_strerror(NULL));
        free(a);
        return NULL;
    }
    if (a->info.channels < 1 || a->info.samplerate < 1) {
        snprintf(err, errlen, "header says %d channels at %d Hz", a->info.channels, a->info.samplerate);
        goto fail;
    }
    a->chunk = o && o->chunk_frames ? o->chunk_frames : 65536;
    a->out_rate = o && o->target_rate > 0 ? o->target_rate : a->info.samplerate;
    a->ratio = (double)a->out_rate / a->info.samplerate;
    audio_quality q = o ? o->quality : AUDIO_POLY;
    if (a->out_rate != a->info.samplerate && (q == AUDIO_POLY || q == AUDIO_POLY_FAST)) {
        char why[200];
        a->poly = resample_new(a->info.samplerate, a->out_rate,
                               q == AUDIO_POLY ? RESAMPLE_POLY : RESAMPLE_POLY_FAST, why, sizeof why);
        a->used = q;
        if (!a->poly) q = AUDIO_SRC_BEST;       /* a ratio like 44101/22050: table too big */
    }
    if (a->out_rate != a->info.samplerate && !a->poly) {
        if (!src_is_valid_ratio(a->ratio)) {
            snprintf(err, errlen, "cannot resample %d Hz to %d Hz (ratio beyond 1/256..256)",
                     a->info.samplerate, a->out_rate);
            goto fail;
        }
        int e = 0;
        a->src = src_new(src_type(q), 1, &e);
        a->used = q;
        if (!a->src) { snprintf(err, errlen, "libsamplerate: %s", src_strerror(e)); goto fail; }
    }
    if ((size_t)a->info.channels > SIZE_MAX / sizeof(float) / a->chunk) {
        snprintf(err, errlen, "too many channels (%d)", a->info.channels);
        goto fail;
    }
    a->inter = malloc(a->chunk * (size_t)a->info.channels * sizeof(float));
    a->mono = malloc(a->chunk * sizeof(float));
    if (!a->inter || !a->mono) { snprintf(err, errlen, "out of memory"); goto fail; }
    return a;
fail:
    audio_close(a);
    return NULL;
}

/* Decode up to n frames and average the channels into out (librosa.to_mono:
 * the plain mean of all channels, LFE included).  Returns frames, -1 on error. */
static long decode_mono(audio_reader *a, float *out, size_t n) {
    if (n > a->chunk) n = a->chunk;
    const int ch = a->info.channels;
    float *in = ch == 1 ? out : a->inter;       /* mono: no copy */
    sf_count_t got = sf_readf_float(a->sf, in, (sf_count_t)n);
    if (got <= 0) {
        if (sf_error(a->sf)) {
            copy_reason(a->err, sizeof a->err, sf_strerror(a->sf));
            return -1;
        }
        a->eof = 1;
        return 0;
    }
    a->decoded += got;
    if (ch == 2) {              /* the common case, in a loop the compiler vectorises */
        for (sf_count_t i = 0; i < got; i++) out[i] = (in[2 * i] + in[2 * i + 1]) * 0.5f;
    } else if (ch > 2) {
        const float inv = 1.0f / (float)ch;
        for (sf_count_t i = 0; i < got; i++) {
            const float *f = in + i * ch;
            float s = 0;
            for (int c = 0; c < ch; c++) s += f[c];
            out[i] = s * inv;
        }
    }
    return (long)got;
}

/* audio_read's mono samples at the file's rate: decoded here, or handed over
 * by the caller's feed (audio_set_feed) from audio_decode on another thread */
static long next_mono(audio_reader *a, float *out, size_t n) {
    long got = a->feed ? a->feed(a->feed_ctx, out, (long)n) : decode_mono(a, out, n);
    if (got == 0) a->in_eof = 1;
    return got;
}

long audio_decode(audio_reader *a, float *out, long cap) {
    if (cap <= 0 || a->eof) return 0;
    return decode_mono(a, out, (size_t)cap);
}

void audio_set_feed(audio_reader *a, long (*fn)(void *ctx, float *out, long cap), void *ctx) {
    a->feed = fn;
    a->feed_ctx = ctx;
}

/* Pull what the resampler can give; feed it decoded samples when it needs them. */
static long read_poly(audio_reader *a, float *out, long cap) {
    for (;;) {
        size_t got = resample_pull(a->poly, out, (size_t)cap);
        if (got) return (long)got;
        if (a->flushed) return 0;
        if (a->mono_pos == a->mono_len) {
            if (a->in_eof) {
                resample_finish(a->poly);
                a->flushed = 1;
                continue;
            }
            long n = next_mono(a, a->mono, a->chunk);
            if (n < 0) return -1;
            a->mono_pos = 0;
            a->mono_len = (size_t)n;
        }
        a->mono_pos += resample_push(a->poly, a->mono + a->mono_pos, a->mono_len - a->mono_pos);
    }
}

long audio_read(audio_reader *a, float *out, long cap) {
    if (cap <= 0) return 0;
    if (a->poly) return read_poly(a, out, cap);
    if (!a->src) {
        if (a->in_eof) return 0;
        return next_mono(a, out, (size_t)cap < a->chunk ? (size_t)cap : a->chunk);
    }
    while (!a->flushed) {
        if (a->mono_pos == a->mono_len && !a->in_eof) {
            long n = next_mono(a, a->mono, a->chunk);
            if (n < 0) return -1;
            a->mono_pos = 0;
            a->mono_len = (size_t)n;
        }
        SRC_DATA d = {
            .data_in = a->mono + a->mono_pos,
            .input_frames = (long)(a->mono_len - a->mono_pos),
            .data_out = out,
            .output_frames = cap,
            .end_of_input = a->in_eof,
            .src_ratio = a->ratio,
        };
        int e = src_process(a->src, &d);
        if (e) {
            snprintf(a->err, sizeof a->err, "libsamplerate: %s", src_strerror(e));
            return -1;
        }
        a->mono_pos += (size_t)d.input_frames_used;
        if (d.output_frames_gen > 0) return d.output_frames_gen;
        if (a->in_eof && a->mono_pos == a->mono_len) a->flushed = 1;
    }
    return 0;
}

const char *audio_error(const audio_reader *a) { return a->err; }
int audio_file_rate(const audio_reader *a) { return a->info.samplerate; }
int audio_file_channels(const audio_reader *a) { return a->info.channels; }
int64_t audio_file_frames(const audio_reader *a) { return (int64_t)a->info.frames; }
int64_t audio_decoded_frames(const audio_reader *a) { return a->decoded; }

int audio_ends_early(const audio_reader *a) {
    int64_t said = (int64_t)a->info.frames, got = a->decoded, slack = said / 50;
    if (said <= 0 || said == (int64_t)SF_COUNT_MAX) return 0;       /* the header does not say */
    if (slack < a->info.samplerate / 2) slack = a->info.samplerate / 2;
    return got + slack < said;
}
int audio_out_rate(const audio_reader *a) { return a->out_rate; }
const char *audio_resampler_name(const audio_reader *a) {
    return a->poly || a->src ? audio_quality_name(a->used) : "none";
}

const char *audio_tag_title(const audio_reader *a) { return sf_get_string(a->sf, SF_STR_TITLE); }
const char *audio_tag_artist(const audio_reader *a) { return sf_get_string(a->sf, SF_STR_ARTIST); }

void audio_close(audio_reader *a) {
    if (!a) return;
    if (a->sf) sf_close(a->sf);
    if (a->src) src_delete(a->src);
    resample_free(a->poly);
    free(a->inter);
    free(a->mono);
    free(a);
}
