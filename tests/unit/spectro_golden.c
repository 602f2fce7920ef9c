/* spectro_golden.c - log-mel of the committed clips (tests/data/audio) through
 * common/audio + stft + mel, against torchaudio references made by
 * tests/ref/make_spectro_ref.py: max |difference| <= 0.05 dB.
 *
 * With arguments, compares a spectro output stream instead (used by
 * tests/test_spectro.sh):  spectro_golden STREAM.ts KEY REF.npy [TOL_DB] */
#include "audio.h"
#include "check.h"
#include "mel.h"
#include "npy.h"
#include "stft.h"
#include "tensor.h"

#include <float.h>
#include <string.h>

#define DIR "tests/data/audio/"
#define TOL_DB 0.05

typedef struct { const mel_bank *bank; float *rows; long n, cap; } acc;

static int on_frame(void *ctx, const float *power, int nbins) {
    acc *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 256;
        a->rows = realloc(a->rows, (size_t)a->cap * (size_t)a->bank->n_mels * sizeof(float));
    }
    mel_apply(a->bank, power, a->rows + (size_t)a->n * (size_t)a->bank->n_mels);
    a->n++;
    return 0;
}

/* returns the max |diff| in dB, or -1 on a shape mismatch */
static double compare(const float *got, long n, const float *ref, long rn, long rc, int nm) {
    if (n != rn || rc != nm) return -1;
    double mx = 0;
    for (long i = 0; i < n * nm; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (d > mx) mx = d;
    }
    return mx;
}

static void golden(const char *clip, const char *variant, stft_pad pad, mel_scale sc, mel_norm nrm,
                   double fmin, double fmax) {
    char path[256], refp[256], err[256];
    snprintf(path, sizeof path, DIR "%s", clip);
    const char *dot = strrchr(clip, '.');
    snprintf(refp, sizeof refp, DIR "ref/%.*s.%s.npy", (int)(dot - clip), clip, variant);
    long rn, rc;
    float *ref = npy_load_f32(refp, &rn, &rc);
    CHECK(ref != NULL, "%s: reference loads", refp);
    if (!ref) return;
    mel_bank bank;
    stft_plan *plan = stft_plan_new(2048, 512, 1, pad, err, sizeof err);
    mel_bank_init(&bank, 22050, 2048, 128, fmin, fmax, sc, nrm, err, sizeof err);
    stft_stream *s = stft_stream_new(plan);
    audio_opts ao = {.target_rate = 22050};
    audio_reader *a = audio_open(path, &ao, err, sizeof err);
    CHECK(a != NULL, "%s opens%s%s", path, a ? "" : ": ", a ? "" : err);
    acc ac = {.bank = &bank};
    if (a) {
        float buf[3000];                         /* an odd chunk size on purpose */
        long n;
        while ((n = audio_read(a, buf, 3000)) > 0) stft_stream_push(s, buf, (size_t)n, on_frame, &ac);
        stft_stream_finish(s, on_frame, &ac);
        audio_close(a);
        float mx = -FLT_MAX;                     /* power_to_db, then top_db over the track */
        for (long i = 0; i < ac.n; i++) {
            float m = mel_power_to_db(ac.rows + i * 128, 128, 1.0, 1e-10);
            if (m > mx) mx = m;
        }
        mel_db_floor(ac.rows, (size_t)ac.n * 128, mx - 80.0f);
        double d = compare(ac.rows, ac.n, ref, rn, rc, 128);
        CHECK(d >= 0 && d <= TOL_DB, "%s %s: %ld frames, max |spectro - torchaudio| = %.5f dB (<= %.2f)",
              clip, variant, ac.n, d, TOL_DB);
    }
    free(ac.rows);
    free(ref);
    stft_stream_free(s);
    stft_plan_free(plan);
    mel_bank_free(&bank);
}

/* spectro_golden STREAM KEY REF [TOL]: the rows of KEY in the first tensor */
static int compare_stream(int argc, char **argv) {
    char err[512];
    double tol = argc > 4 ? atof(argv[4]) : TOL_DB;
    long rn, rc;
    float *ref = npy_load_f32(argv[3], &rn, &rc);
    if (!ref) { printf("FAIL: spectro_golden: cannot read %s\n", argv[3]); return 1; }
    ts_reader *r = ts_open_read(argv[1], err, sizeof err);
    const ts_header *h;
    if (!r || ts_next_tensor(r, &h) != 1 || h->dtype != TS_F32 || h->row_elems != rc) {
        printf("FAIL: spectro_golden: %s: not an f32 stream of %ld columns (%s)\n", argv[1], rc, r ? ts_error(r) : err);
        return 1;
    }
    float *got = malloc((size_t)(rn + 1) * (size_t)rc * sizeof(float));
    long n = 0;
    ts_block b;
    int rcode;
    while ((rcode = ts_read_block(r, &b)) == 1)
        for (int64_t i = 0; i < b.nrows; i++)
            if (strcmp(b.keys[i], argv[2]) == 0 && n <= rn)
                memcpy(got + (size_t)n++ * (size_t)rc, (const float *)b.data + i * rc, (size_t)rc * sizeof(float));
    double d = rcode == 0 ? compare(got, n, ref, rn, rc, (int)rc) : -1;
    CHECK(d >= 0 && d <= tol, "%s key %s vs %s: %ld frames (ref %ld), max |diff| = %.5f dB (<= %.3f)",
          argv[1], argv[2], argv[3], n, rn, d, tol);
    ts_close_read(r);
    free(got);
    free(ref);
    return CHECK_DONE();
}

int main(int argc, char **argv) {
    if (argc >= 4) return compare_stream(argc, argv);
    golden("trumpet.ogg", "default", STFT_PAD_CONSTANT, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, 0, 11025);
    golden("robin.ogg", "default", STFT_PAD_CONSTANT, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, 0, 11025);
    golden("brahms_4s.flac", "default", STFT_PAD_CONSTANT, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, 0, 11025);
    golden("machine_wars_4s.flac", "default", STFT_PAD_CONSTANT, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, 0, 11025);
    golden("trumpet.ogg", "htk_none_8k_reflect", STFT_PAD_REFLECT, MEL_SCALE_HTK, MEL_NORM_NONE, 0, 8000);
    golden("machine_wars_4s.flac", "slaney_fmin30_8k", STFT_PAD_CONSTANT, MEL_SCALE_SLANEY, MEL_NORM_SLANEY, 30, 8000);
    return CHECK_DONE();
}
