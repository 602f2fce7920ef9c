/* resample.h - rational polyphase FIR sample-rate conversion (Crochiere &
 * Rabiner 1983, "Multirate Digital Signal Processing", ch. 3; the scheme of
 * scipy.signal.resample_poly), streaming with bounded memory.
 *
 * in_rate/out_rate reduce to L/M (44100 -> 22050 = 1/2, 48000 -> 22050 =
 * 147/320, 8000 -> 22050 = 441/160).  One Kaiser-windowed sinc low-pass at
 * L * in_rate, cut off below min(in_rate, out_rate)/2, is split into L phases
 * of contiguous taps; output j is one dot product of a phase with the input
 * around time j * M / L.  The filter is symmetric (linear phase) and centred,
 * so output sample j is at input time j * in_rate / out_rate exactly (zero
 * group delay, as soxr), and the signal is taken as zero outside its samples.
 * n_in input samples give exactly ceil(n_in * L / M) outputs (librosa/soxr).
 * Equal rates pass samples through unchanged.
 *
 *   resampler *r = resample_new(44100, 22050, RESAMPLE_POLY, err, sizeof err);
 *   loop: used = resample_push(r, x, n);  got = resample_pull(r, out, cap);
 *   resample_finish(r);  then resample_pull until it returns 0.
 * Memory: the L * taps table (<= 4 Mi floats; rates whose L is so large
 * that the table would not fit are refused; 320 floats for 44.1 -> 22.05 kHz,
 * 51744 for 48 -> 22.05 kHz), designed once per process and rate pair and
 * shared read-only by all resamplers (up to 8 pairs are kept), and per
 * resampler a buffer of 1.5 taps + 8192 inputs.  Thread-safe. */
#ifndef SONGPIPE_RESAMPLE_H
#define SONGPIPE_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RESAMPLE_POLY, RESAMPLE_POLY_FAST } resample_quality;

/* The prototype filter, relative to the lower of the two Nyquist frequencies. */
typedef struct {
    double pass;                /* passband edge, fraction of min Nyquist */
    double stop;                /* stopband edge (1.0: nothing above Nyquist folds back) */
    double atten_db;            /* Kaiser design attenuation A */
} resample_design;

typedef struct resampler resampler;

/* NULL with a reason in err when a rate is < 1 or the table would be too big. */
resampler *resample_new(int in_rate, int out_rate, resample_quality q, char *err, size_t errlen);
/* The same with an explicit design (tests, experiments). */
resampler *resample_new_design(int in_rate, int out_rate, const resample_design *d, char *err,
                               size_t errlen);
void resample_free(resampler *r);

/* Copies up to n input samples into the internal buffer; returns how many it
 * took (less than n when the buffer is full: pull, then push the rest). */
size_t resample_push(resampler *r, const float *x, size_t n);
/* No more input: the signal continues with zeros up to the last output. */
void resample_finish(resampler *r);
/* Writes up to cap outputs that the pushed input determines; 0 when more
 * input is needed, or after resample_finish when all outputs are out. */
size_t resample_pull(resampler *r, float *out, size_t cap);

int resample_up(const resampler *r);        /* L */
int resample_down(const resampler *r);      /* M */
int resample_taps(const resampler *r);      /* taps per output sample (0 when L == M) */
/* ceil(n_in * L / M): the number of outputs n_in inputs give */
int64_t resample_out_length(const resampler *r, int64_t n_in);
/* The design a quality uses. */
resample_design resample_quality_design(resample_quality q);

#endif
