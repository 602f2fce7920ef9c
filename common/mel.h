/* mel.h - mel filter bank and power-to-decibel conversion, with the exact
 * definitions of librosa.filters.mel / torchaudio.functional.melscale_fbanks
 * and librosa.power_to_db / torchaudio.transforms.AmplitudeToDB.
 *
 * The filters are triangles, so the bank is stored sparsely (first bin and
 * weights of each filter): applying it costs ~2 multiply-adds per FFT bin
 * instead of n_mels per bin for the dense matrix product. */
#ifndef SONGPIPE_MEL_H
#define SONGPIPE_MEL_H

#include <stddef.h>

typedef enum { MEL_SCALE_SLANEY, MEL_SCALE_HTK } mel_scale;
typedef enum { MEL_NORM_SLANEY, MEL_NORM_NONE } mel_norm;

typedef struct {
    int n_mels, nbins;
    int *first;                 /* n_mels: first non-zero bin of each filter */
    int *count;                 /* n_mels: number of bins from `first` */
    size_t *offset;             /* n_mels: where the filter's weights start in w */
    float *w;                   /* all weights, filter after filter */
} mel_bank;

/* Slaney: linear below 1 kHz (200/3 Hz per mel), logarithmic above
 * (librosa.hz_to_mel(htk=False)); HTK: 2595 log10(1 + f/700). */
double mel_from_hz(double hz, mel_scale s);
double mel_to_hz(double mel, mel_scale s);

/* Filters over the bins of an n_fft real FFT at rate sr, n_mels + 2 points
 * equally spaced in mel between fmin and fmax.  Slaney norm scales filter i
 * by 2 / (f[i+2] - f[i]) (constant area per filter).  0 ok, -1 with err. */
int mel_bank_init(mel_bank *b, double sr, int n_fft, int n_mels, double fmin, double fmax,
                  mel_scale scale, mel_norm norm, char *err, size_t errlen);
void mel_bank_free(mel_bank *b);
/* The dense matrix, n_mels rows of nbins (for tests and inspection). */
void mel_bank_dense(const mel_bank *b, float *out);
/* mel[m] = sum_k w[m][k] * power[k] */
void mel_apply(const mel_bank *b, const float *power, float *mel);

/* x = 10 log10(max(amin, x)) - 10 log10(max(amin, ref)), in place; returns the max. */
float mel_power_to_db(float *x, size_t n, double ref, double amin);
/* 1 when mel_power_to_db's 16-lane log10f is in use: built with AVX-512
 * and checked equal to this libm's log10f (else libm's log10f is called) */
int mel_vec_log10_used(void);
/* x = max(x, floor), in place (top_db: floor = max over the track - top_db). */
void mel_db_floor(float *x, size_t n, float floor);

const char *mel_scale_name(mel_scale s);
const char *mel_norm_name(mel_norm n);
int mel_scale_parse(const char *s, mel_scale *out);
int mel_norm_parse(const char *s, mel_norm *out);

#endif
