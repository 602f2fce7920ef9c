/* mel.c - unit tests of common/mel.c: mel scales at known points (librosa
 * docs), filter banks against torchaudio.functional.melscale_fbanks
 * (tests/data/audio/ref/fbank_*.npy from tests/ref/make_spectro_ref.py),
 * Slaney area normalisation, sparse apply vs the dense product, power_to_db. */
#include "check.h"
#include "mel.h"
#include "npy.h"

#include <float.h>
#include <string.h>

static void scales(void) {
    /* librosa.hz_to_mel(60) = 0.9, hz_to_mel(1000) = 15, hz_to_mel(4000) ~ 35.163; htk 1000 Hz ~ 999.9855 */
    CHECK(CLOSE(mel_from_hz(60, MEL_SCALE_SLANEY), 0.9, 1e-12, 0), "slaney 60 Hz = 0.9 mel");
    CHECK(CLOSE(mel_from_hz(1000, MEL_SCALE_SLANEY), 15.0, 1e-12, 0), "slaney 1 kHz = 15 mel");
    CHECK(CLOSE(mel_from_hz(4000, MEL_SCALE_SLANEY), 15.0 + 27.0 * log(4.0) / log(6.4), 1e-12, 0),
          "slaney 4 kHz = 15 + 27 log(4)/log(6.4) mel");
    CHECK(CLOSE(mel_from_hz(1000, MEL_SCALE_HTK), 2595 * log10(1 + 1000 / 700.0), 1e-9, 0),
          "htk 1 kHz = %.4f mel", mel_from_hz(1000, MEL_SCALE_HTK));
    double worst = 0;
    for (double f = 0; f <= 20000; f += 37.5)
        for (int s = 0; s < 2; s++) {
            double back = mel_to_hz(mel_from_hz(f, (mel_scale)s), (mel_scale)s);
            if (fabs(back - f) > worst) worst = fabs(back - f);
        }
    CHECK(worst < 1e-8, "mel_to_hz(mel_from_hz(f)) = f for both scales (worst %.2g Hz)", worst);
}

/* dense bank [n_mels][nbins] vs torchaudio's [nbins][n_mels] */
static void vs_torchaudio(const char *name, double sr, int n_fft, int n_mels, double fmin, double fmax,
                          mel_scale sc, mel_norm nrm) {
    char path[256], err[256];
    snprintf(path, sizeof path, "tests/data/audio/ref/fbank_%s.npy", name);
    long rows, cols;
    float *ref = npy_load_f32(path, &rows, &cols);
    CHECK(ref != NULL, "%s loads", path);
    if (!ref) return;
    mel_bank b;
    int rc = mel_bank_init(&b, sr, n_fft, n_mels, fmin, fmax, sc, nrm, err, sizeof err);
    CHECK(rc == 0 && rows == b.nbins && cols == n_mels, "%s: bank %d x %d", name, n_mels, n_fft / 2 + 1);
    if (rc || rows != b.nbins || cols != n_mels) { free(ref); return; }
    float *d = malloc((size_t)n_mels * (size_t)b.nbins * sizeof *d);
    mel_bank_dense(&b, d);
    double worst = 0, peak = 0;
    for (int m = 0; m < n_mels; m++)
        for (int k = 0; k < b.nbins; k++) {
            double r = ref[(size_t)k * n_mels + m], g = d[(size_t)m * b.nbins + k];
            if (fabs(r - g) > worst) worst = fabs(r - g);
            if (fabs(r) > peak) peak = fabs(r);
        }
    CHECK(worst <= 1e-5 * peak + 1e-9, "%s: max |ours - torchaudio| = %.3g (peak weight %.3g)", name, worst, peak);
    free(d);
    free(ref);
    mel_bank_free(&b);
}

static void slaney_area_and_apply(void) {
    char err[256];
    mel_bank b;
    mel_bank_init(&b, 22050, 2048, 128, 0, 11025, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, err, sizeof err);
    /* area normalisation: each triangle has area 1 in Hz (sum of weights x bin width ~ 1)
     * for the filters wide enough to be sampled by several bins */
    const double df = 22050.0 / 2048;
    int bad = 0;
    for (int m = 40; m < 128; m++) {
        double s = 0;
        for (int j = 0; j < b.count[m]; j++) s += b.w[b.offset[m] + j];
        if (fabs(s * df - 1.0) > 0.05) bad++;
    }
    CHECK(bad == 0, "slaney-normalised filters 40..127 have area 1 within 5%% (%d off)", bad);
    /* sparse apply == dense product in double */
    float *dense = malloc((size_t)128 * b.nbins * sizeof *dense), power[1025], mel[128];
    mel_bank_dense(&b, dense);
    unsigned s = 12345;
    for (int k = 0; k < b.nbins; k++) { s = s * 1103515245u + 12345u; power[k] = (float)(s >> 8) / (1u << 24); }
    mel_apply(&b, power, mel);
    double worst = 0;
    for (int m = 0; m < 128; m++) {
        double ref = 0;
        for (int k = 0; k < b.nbins; k++) ref += (double)dense[(size_t)m * b.nbins + k] * power[k];
        double e = fabs(ref - mel[m]) / (fabs(ref) + 1e-30);
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-5, "sparse mel_apply = dense product (worst relative error %.2g)", worst);
    int empty = 0;
    for (int m = 0; m < 128; m++) empty += b.count[m] == 0;
    CHECK(empty == 0, "n_fft 2048 at 22050 Hz: no empty filter among 128");
    free(dense);
    mel_bank_free(&b);
    CHECK(mel_bank_init(&b, 22050, 2048, 128, 0, 12000, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, err, sizeof err) == -1 &&
          strstr(err, "fmax"), "fmax above Nyquist is refused: %s", err);
}

static void db(void) {
    float x[5] = {1.0f, 100.0f, 1e-3f, 0.0f, 1e-12f};
    float mx = mel_power_to_db(x, 5, 1.0, 1e-10);
    CHECK(CLOSE(x[0], 0, 1e-6, 0) && CLOSE(x[1], 20, 1e-5, 0) && CLOSE(x[2], -30, 1e-4, 0) &&
          CLOSE(x[3], -100, 1e-4, 0) && CLOSE(x[4], -100, 1e-4, 0),
          "10 log10(max(1e-10, x)): %g %g %g %g %g", x[0], x[1], x[2], x[3], x[4]);
    CHECK(CLOSE(mx, 20, 1e-5, 0), "power_to_db returns the max (%g)", mx);
    mel_db_floor(x, 5, mx - 80);
    CHECK(CLOSE(x[3], -60, 1e-5, 0) && CLOSE(x[2], -30, 1e-4, 0), "top_db 80 floors at max - 80 (%g)", x[3]);
    float y[2] = {4.0f, 0.5f};
    mel_power_to_db(y, 2, 2.0, 1e-10);
    CHECK(CLOSE(y[0], 10 * log10(2.0), 1e-5, 0) && CLOSE(y[1], 10 * log10(0.25), 1e-5, 0), "ref 2 subtracts 10 log10(2)");
}

int main(void) {
    scales();
    vs_torchaudio("slaney_slaney", 22050, 256, 24, 0, 11025, MEL_SCALE_SLANEY, MEL_NORM_SLANEY);
    vs_torchaudio("htk_none_300_8000", 22050, 256, 24, 300, 8000, MEL_SCALE_HTK, MEL_NORM_NONE);
    vs_torchaudio("slaney_slaney_16k", 16000, 512, 40, 50, 7000, MEL_SCALE_SLANEY, MEL_NORM_SLANEY);
    slaney_area_and_apply();
    db();
    return CHECK_DONE();
}
