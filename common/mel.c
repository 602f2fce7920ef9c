/* mel.c - mel filter bank (librosa.filters.mel) and power_to_db (see mel.h). */
#include "mel.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* librosa.core.convert.hz_to_mel / mel_to_hz (Slaney's Auditory Toolbox) */
#define SLANEY_F_SP (200.0 / 3.0)
#define SLANEY_MIN_LOG_HZ 1000.0
#define SLANEY_MIN_LOG_MEL (SLANEY_MIN_LOG_HZ / SLANEY_F_SP)     /* 15 */
#define SLANEY_LOGSTEP (log(6.4) / 27.0)

double mel_from_hz(double hz, mel_scale s) {
    if (s == MEL_SCALE_HTK) return 2595.0 * log10(1.0 + hz / 700.0);
    if (hz >= SLANEY_MIN_LOG_HZ) return SLANEY_MIN_LOG_MEL + log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
    return hz / SLANEY_F_SP;
}

double mel_to_hz(double mel, mel_scale s) {
    if (s == MEL_SCALE_HTK) return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
    if (mel >= SLANEY_MIN_LOG_MEL) return SLANEY_MIN_LOG_HZ * exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
    return SLANEY_F_SP * mel;
}

/* Weight of bin frequency f in filter i with corner points fp[i..i+2]:
 * librosa: max(0, min(-(fp[i]-f)/(fp[i+1]-fp[i]), (fp[i+2]-f)/(fp[i+2]-fp[i+1]))) */
static double tri(const double *fp, int i, double f) {
    double lower = (f - fp[i]) / (fp[i + 1] - fp[i]);
    double upper = (fp[i + 2] - f) / (fp[i + 2] - fp[i + 1]);
    double w = lower < upper ? lower : upper;
    return w > 0 ? w : 0;
}

int mel_bank_init(mel_bank *b, double sr, int n_fft, int n_mels, double fmin, double fmax,
                  mel_scale scale, mel_norm norm, char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    if (!(sr > 0) || n_fft < 2 || n_mels < 1 || !(fmin >= 0) || !(fmax > fmin) || fmax > sr / 2 + 1e-9) {
        snprintf(err, errlen, "mel bank needs 0 <= fmin < fmax <= sr/2 (%g) and n_mels >= 1 "
                 "(got fmin %g, fmax %g, n_mels %d)", sr / 2, fmin, fmax, n_mels);
        return -1;
    }
    const int nb = n_fft / 2 + 1;
    double *fp = malloc(((size_t)n_mels + 2) * sizeof *fp);
    b->n_mels = n_mels;
    b->nbins = nb;
    b->first = calloc((size_t)n_mels, sizeof *b->first);
    b->count = calloc((size_t)n_mels, sizeof *b->count);
    b->offset = calloc((size_t)n_mels, sizeof *b->offset);
    if (!fp || !b->first || !b->count || !b->offset) goto oom;
    const double m0 = mel_from_hz(fmin, scale), m1 = mel_from_hz(fmax, scale);
    for (int i = 0; i < n_mels + 2; i++)        /* np.linspace(m0, m1, n_mels + 2) */
        fp[i] = mel_to_hz(m0 + (m1 - m0) * i / (n_mels + 1), scale);
    size_t total = 0;
    for (int i = 0; i < n_mels; i++) {          /* non-zero bins: fp[i] < f < fp[i+2] */
        int lo = nb, hi = -1;
        for (int k = 0; k < nb; k++) {
            double f = k * (sr / 2) / (nb - 1);  /* np.linspace(0, sr/2, nb) */
            if (tri(fp, i, f) > 0) { if (k < lo) lo = k; hi = k; }
        }
        b->first[i] = hi < 0 ? 0 : lo;
        b->count[i] = hi < 0 ? 0 : hi - lo + 1;
        b->offset[i] = total;
        total += (size_t)b->count[i];
    }
    b->w = malloc((total ? total : 1) * sizeof *b->w);
    if (!b->w) goto oom;
    for (int i = 0; i < n_mels; i++) {
        double enorm = norm == MEL_NORM_SLANEY ? 2.0 / (fp[i + 2] - fp[i]) : 1.0;
        for (int j = 0; j < b->count[i]; j++) {
            int k = b->first[i] + j;
            b->w[b->offset[i] + j] = (float)(tri(fp, i, k * (sr / 2) / (nb - 1)) * enorm);
        }
    }
    free(fp);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    free(fp);
    mel_bank_free(b);
    return -1;
}

void mel_bank_free(mel_bank *b) {
    free(b->first);
    free(b->count);
    free(b->offset);
    free(b->w);
    memset(b, 0, sizeof *b);
}

void mel_bank_dense(const mel_bank *b, float *out) {
    memset(out, 0, (size_t)b->n_mels * (size_t)b->nbins * sizeof *out);
    for (int i = 0; i < b->n_mels; i++)
        for (int j = 0; j < b->count[i]; j++)
            out[(size_t)i * b->nbins + b->first[i] + j] = b->w[b->offset[i] + j];
}

void mel_apply(const mel_bank *b, const float *power, float *mel) {
    for (int i = 0; i < b->n_mels; i++) {
        const float *w = b->w + b->offset[i], *p = power + b->first[i];
        float s = 0;
        for (int j = 0; j < b->count[i]; j++) s += w[j] * p[j];
        mel[i] = s;
    }
}

float mel_power_to_db(float *x, size_t n, double ref, double amin) {
    const float fa = (float)amin;
    const float off = (float)(10.0 * log10(ref > amin ? ref : amin));
    float mx = -FLT_MAX;
    for (size_t i = 0; i < n; i++) {
        float v = 10.0f * log10f(x[i] > fa ? x[i] : fa) - off;
        x[i] = v;
        if (v > mx) mx = v;
    }
    return mx;
}

void mel_db_floor(float *x, size_t n, float floor) {
    for (size_t i = 0; i < n; i++)
        if (x[i] < floor) x[i] = floor;
}

const char *mel_scale_name(mel_scale s) { return s == MEL_SCALE_HTK ? "htk" : "slaney"; }
const char *mel_norm_name(mel_norm n) { return n == MEL_NORM_NONE ? "none" : "slaney"; }

int mel_scale_parse(const char *s, mel_scale *out) {
    if (strcmp(s, "slaney") == 0) *out = MEL_SCALE_SLANEY;
    else if (strcmp(s, "htk") == 0) *out = MEL_SCALE_HTK;
    else return -1;
    return 0;
}

int mel_norm_parse(const char *s, mel_norm *out) {
    if (strcmp(s, "slaney") == 0) *out = MEL_NORM_SLANEY;
    else if (strcmp(s, "none") == 0) *out = MEL_NORM_NONE;
    else return -1;
    return 0;
}
