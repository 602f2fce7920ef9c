/* stft.h - streaming short-time Fourier transform, power spectrum per frame,
 * with the conventions of torch.stft / librosa.stft: periodic Hann window of
 * n_fft samples, frame t centred on sample t*hop when `center` (the signal is
 * padded by n_fft/2 on both sides, with zeros or by reflection), FFTW single
 * precision real-to-complex.
 *
 * The plan (FFTW plan + window) is made once per process and shared read-only
 * by any number of streams, one per track and thread:
 *   stft_plan *p = stft_plan_new(2048, 512, 1, STFT_PAD_CONSTANT, err, n);
 *   stft_stream *s = stft_stream_new(p);
 *   stft_stream_push(s, x, n, on_frame, ctx) ... stft_stream_finish(s, on_frame, ctx);
 *   stft_stream_reset(s) for the next track. */
#ifndef SONGPIPE_STFT_H
#define SONGPIPE_STFT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { STFT_PAD_CONSTANT, STFT_PAD_REFLECT } stft_pad;

typedef struct stft_plan stft_plan;
typedef struct stft_stream stft_stream;

/* Called once per frame with |X[k]|^2 for k = 0..n_fft/2.  Non-zero aborts. */
typedef int (*stft_frame_fn)(void *ctx, const float *power, int nbins);

/* Not thread-safe (FFTW planning); call once, before starting threads. */
stft_plan *stft_plan_new(int n_fft, int hop, int center, stft_pad pad, char *err, size_t errlen);
void stft_plan_free(stft_plan *p);
int stft_nbins(const stft_plan *p);

stft_stream *stft_stream_new(const stft_plan *p);
void stft_stream_reset(stft_stream *s);
void stft_stream_free(stft_stream *s);
/* Feed n samples; calls fn for every frame that is complete.  0 ok, else the
 * callback's non-zero value or -1 (out of memory). */
int stft_stream_push(stft_stream *s, const float *x, size_t n, stft_frame_fn fn, void *ctx);
/* End of the signal: right padding and the last frames.  Frame count is
 * 1 + L/hop when centred (L samples), 1 + (L - n_fft)/hop otherwise (0 if L < n_fft). */
int stft_stream_finish(stft_stream *s, stft_frame_fn fn, void *ctx);
int64_t stft_stream_frames(const stft_stream *s);

/* x padded by `pad` samples each side, numpy.pad semantics: constant = zeros;
 * reflect = mirror without repeating the edge, repeated for pads longer than
 * the signal (period 2(L-1)); L == 0 gives zeros, L == 1 repeats the sample.
 * out has L + 2*pad samples. */
void stft_pad_signal(const float *x, size_t L, size_t pad, stft_pad mode, float *out);

const char *stft_pad_name(stft_pad p);
int stft_pad_parse(const char *s, stft_pad *p);

#endif
