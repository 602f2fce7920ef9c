/* loss.c - the losses of loss.h, accumulated in double. */
#include "loss.h"

#include <math.h>
#include <string.h>

static const char *const loss_names[NN_NLOSS] = {"mse", "mae", "bce", "ce", "infonce", "triplet"};

const char *nn_loss_name(nn_loss l) { return (unsigned)l < NN_NLOSS ? loss_names[l] : "?"; }

int nn_loss_parse(const char *s, nn_loss *l) {
    for (int i = 0; i < NN_NLOSS; i++)
        if (strcmp(s, loss_names[i]) == 0) { *l = (nn_loss)i; return 0; }
    if (strcmp(s, "cross_entropy") == 0 || strcmp(s, "softmax_ce") == 0) { *l = NN_LOSS_CE; return 0; }
    return -1;
}

double nn_loss_mse(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale) {
    double sum = 0, N = (double)B * n;
    float g = (float)(2.0 / N) * scale;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++) {
            float d = p[(size_t)i * ldp + j] - t[(size_t)i * ldt + j];
            sum += (double)d * d;
            if (dp) dp[(size_t)i * ldp + j] = g * d;
        }
    return sum / N;
}

double nn_loss_mae(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale) {
    double sum = 0, N = (double)B * n;
    float g = (float)(1.0 / N) * scale;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++) {
            float d = p[(size_t)i * ldp + j] - t[(size_t)i * ldt + j];
            sum += fabs((double)d);
            if (dp) dp[(size_t)i * ldp + j] = d > 0 ? g : d < 0 ? -g : 0.0f;
        }
    return sum / N;
}

double nn_loss_bce(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale) {
    double sum = 0, N = (double)B * n;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++) {
            double pv = p[(size_t)i * ldp + j], tv = t[(size_t)i * ldt + j];
            double lp = fmax(log(pv), -100.0), l1p = fmax(log1p(-pv), -100.0);
            sum -= tv * lp + (1 - tv) * l1p;
            if (dp)
                dp[(size_t)i * ldp + j] =
                    (float)((pv - tv) / fmax(pv * (1 - pv), 1e-12) / N) * scale;
        }
    return sum / N;
}

double nn_loss_ce(float *dz, const float *z, int ldz, const float *t, int ldt,
                  int B, int C, float scale) {
    double sum = 0;
    const float g = scale / (float)B;
    for (int i = 0; i < B; i++) {
        const float *zr = z + (size_t)i * ldz;
        float *dr = dz ? dz + (size_t)i * ldz : NULL;
        const int y = (int)t[(size_t)i * ldt];
        const float zy = zr[y];
        float mx = zr[0];
        for (int c = 1; c < C; c++) if (zr[c] > mx) mx = zr[c];
        /* one exp per logit: kept in dz (when asked) and normalised below */
        double se = 0;
        for (int c = 0; c < C; c++) {
            float e = expf(zr[c] - mx);
            se += e;
            if (dr) dr[c] = e;
        }
        sum += (double)mx + log(se) - zy;
        if (dr) {
            const float f = g / (float)se;
            for (int c = 0; c < C; c++) dr[c] *= f;
            dr[y] -= g;
        }
    }
    return sum / B;
}

void nn_softmax(float *y, int ldy, const float *z, int ldz, int B, int C) {
    for (int i = 0; i < B; i++) {
        const float *zr = z + (size_t)i * ldz;
        float *yr = y + (size_t)i * ldy;
        float mx = zr[0];
        for (int c = 1; c < C; c++) if (zr[c] > mx) mx = zr[c];
        double se = 0;
        for (int c = 0; c < C; c++) se += exp((double)zr[c] - mx);
        for (int c = 0; c < C; c++) yr[c] = (float)(exp((double)zr[c] - mx) / se);
    }
}
