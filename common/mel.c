/* mel.c - mel filter bank (librosa.filters.mel) and power_to_db (see mel.h). */
#include "mel.h"

#include <float.h>
#include <pthread.h>
#include <stdint.h>
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif
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

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define MEL_VEC_LOG10 1
/* log10f, 16 at a time, as glibc computes it (2.28 .. 2.40 at least): the
 * fdlibm log10f (e_log10f.c: x = 2^k m, log10 x = k log10_2lo + logf(m) /
 * ln 10 + k log10_2hi in float) around the logf of ARM's optimized-routines
 * (e_logf.c: a 16-entry table of 1/c and log c, a degree-3 polynomial in
 * double), so that power_to_db keeps libm's bytes at a fraction of the cost
 * of 16 calls.  mel_power_to_db checks it against the libm it runs with
 * once per process and uses libm's log10f when they differ anywhere
 * (another libm, another algorithm); tests/unit/mel.c checks every float
 * from 1e-30 to 2 and a sample above.  Valid for positive normal finite x
 * only; the caller sends the others to log10f. */
static const double logf_invc[16] = {
    0x1.661ec79f8f3bep+0, 0x1.571ed4aaf883dp+0, 0x1.49539f0f010bp+0, 0x1.3c995b0b80385p+0,
    0x1.30d190c8864a5p+0, 0x1.25e227b0b8eap+0, 0x1.1bb4a4a1a343fp+0, 0x1.12358f08ae5bap+0,
    0x1.0953f419900a7p+0, 0x1p+0, 0x1.e608cfd9a47acp-1, 0x1.ca4b31f026aap-1,
    0x1.b2036576afce6p-1, 0x1.9c2d163a1aa2dp-1, 0x1.886e6037841edp-1, 0x1.767dcf5534862p-1};
static const double logf_logc[16] = {
    -0x1.57bf7808caadep-2, -0x1.2bef0a7c06ddbp-2, -0x1.01eae7f513a67p-2, -0x1.b31d8a68224e9p-3,
    -0x1.6574f0ac07758p-3, -0x1.1aa2bc79c81p-3, -0x1.a4e76ce8c0e5ep-4, -0x1.1973c5a611cccp-4,
    -0x1.252f438e10c1ep-5, 0x0p+0, 0x1.aa5aa5df25984p-5, 0x1.c5e53aa362eb4p-4,
    0x1.526e57720db08p-3, 0x1.bc2860d22477p-3, 0x1.1058bc8a07ee1p-2, 0x1.4043057b6ee09p-2};

/* logf of 8 floats in [0.5, 2), given as their bits (e_logf.c, OFF 0x3f330000) */
static inline __m256 logf8(__m256i ix) {
    const __m256i tmp = _mm256_sub_epi32(ix, _mm256_set1_epi32(0x3f330000));
    const __m512i i = _mm512_cvtepi32_epi64(_mm256_and_si256(_mm256_srli_epi32(tmp, 19), _mm256_set1_epi32(15)));
    const __m256i k = _mm256_srai_epi32(tmp, 23);
    const __m256i iz = _mm256_sub_epi32(ix, _mm256_and_si256(tmp, _mm256_set1_epi32((int)0xff800000)));
    const __m512d invc = _mm512_permutex2var_pd(_mm512_loadu_pd(logf_invc), i, _mm512_loadu_pd(logf_invc + 8));
    const __m512d logc = _mm512_permutex2var_pd(_mm512_loadu_pd(logf_logc), i, _mm512_loadu_pd(logf_logc + 8));
    const __m512d z = _mm512_cvtps_pd(_mm256_castsi256_ps(iz));
    /* r = z invc - 1; y0 = logc + k ln2; y = (A1 r + A2 + A0 r^2) r^2 + (y0 + r) */
    const __m512d r = _mm512_fmsub_pd(z, invc, _mm512_set1_pd(1.0));
    const __m512d y0 = _mm512_fmadd_pd(_mm512_cvtepi32_pd(k), _mm512_set1_pd(0x1.62e42fefa39efp-1), logc);
    const __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(0x1.5575b0be00b6ap-2), r, _mm512_set1_pd(-0x1.ffffef20a4123p-2));
    y = _mm512_fmadd_pd(_mm512_set1_pd(-0x1.00ea348b88334p-2), r2, y);
    y = _mm512_fmadd_pd(y, r2, _mm512_add_pd(y0, r));
    const __mmask8 one = _mm256_cmpeq_epi32_mask(ix, _mm256_set1_epi32(0x3f800000));   /* logf(1) = 0 */
    return _mm256_mask_blend_ps(one, _mm512_cvtpd_ps(y), _mm256_setzero_ps());
}

static inline __m512 log10f16(__m512 x) {
    const __m512i hx = _mm512_castps_si512(x);
    const __m512i k = _mm512_sub_epi32(_mm512_srai_epi32(hx, 23), _mm512_set1_epi32(127));
    const __m512i below1 = _mm512_srli_epi32(k, 31);
    const __m512i m = _mm512_or_si512(_mm512_and_si512(hx, _mm512_set1_epi32(0x007fffff)),
                                      _mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(0x7f), below1), 23));
    const __m512 y = _mm512_cvtepi32_ps(_mm512_add_epi32(k, below1));
    const __m512 l = _mm512_insertf32x8(_mm512_castps256_ps512(logf8(_mm512_castsi512_si256(m))),
                                        logf8(_mm512_extracti64x4_epi64(m, 1)), 1);
    const __m512 z = _mm512_add_ps(_mm512_mul_ps(y, _mm512_set1_ps(7.9034151668e-07f)),
                                   _mm512_mul_ps(_mm512_set1_ps(4.3429449201e-01f), l));
    return _mm512_add_ps(z, _mm512_mul_ps(y, _mm512_set1_ps(3.0102920532e-01f)));
}

/* 1 when log10f16 gives libm's log10f on a spread of 65536 floats from
 * 1e-30 up (every exponent, mantissas in steps of an odd stride) */
static int vec_log10_ok;
static pthread_once_t vec_log10_once = PTHREAD_ONCE_INIT;
static void vec_log10_check(void) {
    const uint32_t lo = 0x0da24260u, hi = 0x7f7fffffu;    /* 1e-30 .. FLT_MAX */
    const uint32_t step = (hi - lo) / 65536u | 1u;
    float x[16], y[16];
    for (uint32_t b = lo; b <= hi - 16 * step; b += 16 * step) {
        for (int l = 0; l < 16; l++) {
            uint32_t u = b + (uint32_t)l * step;
            memcpy(&x[l], &u, sizeof u);
        }
        _mm512_storeu_ps(y, log10f16(_mm512_loadu_ps(x)));
        for (int l = 0; l < 16; l++) {
            float r = log10f(x[l]);
            if (memcmp(&r, &y[l], sizeof r)) return;
        }
    }
    vec_log10_ok = 1;
}

int mel_vec_log10_used(void) {
    pthread_once(&vec_log10_once, vec_log10_check);
    return vec_log10_ok;
}
#else
int mel_vec_log10_used(void) { return 0; }
#endif

float mel_power_to_db(float *x, size_t n, double ref, double amin) {
    const float fa = (float)amin;
    const float off = (float)(10.0 * log10(ref > amin ? ref : amin));
    float mx = -FLT_MAX;
    size_t i = 0;
#ifdef MEL_VEC_LOG10
    if (n >= 16 && mel_vec_log10_used()) {
        const __m512 vfa = _mm512_set1_ps(fa), ten = _mm512_set1_ps(10.0f), voff = _mm512_set1_ps(off);
        __m512 vmx = _mm512_set1_ps(-FLT_MAX);
        for (; i + 16 <= n; i += 16) {
            __m512 v = _mm512_loadu_ps(x + i);
            v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, vfa, _CMP_GT_OQ), vfa, v);  /* x > fa ? x : fa */
            const __mmask16 normal = _mm512_cmp_ps_mask(v, _mm512_set1_ps(FLT_MIN), _CMP_GE_OQ) &
                                     _mm512_cmp_ps_mask(v, _mm512_set1_ps(FLT_MAX), _CMP_LE_OQ);
            if (normal != 0xffff) break;        /* infinity, or a subnormal amin: the scalar loop */
            const __m512 d = _mm512_sub_ps(_mm512_mul_ps(ten, log10f16(v)), voff);
            _mm512_storeu_ps(x + i, d);
            vmx = _mm512_max_ps(vmx, d);        /* no NaN here: the max of any order */
        }
        mx = _mm512_reduce_max_ps(vmx);
    }
#endif
    for (; i < n; i++) {
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
