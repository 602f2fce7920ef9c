/* conv.c - the layers of conv.h.  Formulas follow the PyTorch documentation
 * of the module named next to each function; products go to OpenBLAS. */
#include "conv.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double row_sum(const float *p, int n);

/* ---------- conv2d (torch.nn.Conv2d) ---------- */
/* aim for sgemm operands of at least this many columns, and at most this
 * many floats of workspace (32 MiB) unless one sample needs more */
#define CONV_COLS_TARGET 4096
#define CONV_WS_MAX ((size_t)8 << 20)

int nn_conv_shape_init(nn_conv_shape *s, int C, int H, int W, int O, int k,
                       int stride, int pad, int B) {
    memset(s, 0, sizeof *s);
    if (C < 1 || H < 1 || W < 1 || O < 1 || k < 1 || stride < 1 || pad < 0 || B < 1) return -1;
    if (H + 2 * pad < k || W + 2 * pad < k) return -1;
    s->C = C, s->H = H, s->W = W, s->O = O, s->k = k, s->stride = stride, s->pad = pad;
    s->Ho = (H + 2 * pad - k) / stride + 1;
    s->Wo = (W + 2 * pad - k) / stride + 1;
    size_t hw = (size_t)s->Ho * s->Wo, per = ((size_t)C * k * k + (size_t)O) * hw;
    size_t chunk = (CONV_COLS_TARGET + hw - 1) / hw;
    if (chunk * per > CONV_WS_MAX) chunk = CONV_WS_MAX / per;
    if (chunk < 1) chunk = 1;
    if (chunk > (size_t)B) chunk = (size_t)B;
    s->chunk = (int)chunk;
    return 0;
}

size_t nn_conv_workspace(const nn_conv_shape *s) {
    size_t hw = (size_t)s->Ho * s->Wo;
    return ((size_t)s->C * s->k * s->k + (s->chunk > 1 ? (size_t)s->O : 0)) * hw * (size_t)s->chunk;
}

/* output columns ow with 0 <= ow*stride + off < W, as [*lo, *hi) */
static void valid_range(int off, int W, int Wo, int stride, int *lo, int *hi) {
    int a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int b = W - 1 - off < 0 ? 0 : (W - 1 - off) / stride + 1;
    if (b > Wo) b = Wo;
    if (a > b) a = b;
    *lo = a, *hi = b;
}

/* col[(c k + ki) k + kj, oh Wo + ow] (leading dim ldc) = x[c, oh s - p + ki, ow s - p + kj] */
static void im2col(float *col, size_t ldc, const float *x, const nn_conv_shape *s) {
    const int k = s->k, st = s->stride, p = s->pad, Wo = s->Wo;
    for (int c = 0; c < s->C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + (size_t)((c * k + ki) * k + kj) * ldc;
                int off = kj - p, lo, hi;
                valid_range(off, s->W, Wo, st, &lo, &hi);
                for (int oh = 0; oh < s->Ho; oh++) {
                    float *d = dst + (size_t)oh * Wo;
                    int ih = oh * st - p + ki;
                    if (ih < 0 || ih >= s->H) { memset(d, 0, sizeof *d * (size_t)Wo); continue; }
                    const float *xr = x + ((size_t)c * s->H + ih) * s->W + off;
                    for (int ow = 0; ow < lo; ow++) d[ow] = 0;
                    if (st == 1) memcpy(d + lo, xr + lo, sizeof *d * (size_t)(hi - lo));
                    else for (int ow = lo; ow < hi; ow++) d[ow] = xr[ow * st];
                    for (int ow = hi; ow < Wo; ow++) d[ow] = 0;
                }
            }
}

/* the adjoint of im2col: dx[c, ih, iw] += col[...] (dx zeroed by the caller) */
static void col2im(float *dx, const float *col, size_t ldc, const nn_conv_shape *s) {
    const int k = s->k, st = s->stride, p = s->pad, Wo = s->Wo;
    for (int c = 0; c < s->C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *src = col + (size_t)((c * k + ki) * k + kj) * ldc;
                int off = kj - p, lo, hi;
                valid_range(off, s->W, Wo, st, &lo, &hi);
                for (int oh = 0; oh < s->Ho; oh++) {
                    int ih = oh * st - p + ki;
                    if (ih < 0 || ih >= s->H) continue;
                    const float *d = src + (size_t)oh * Wo;
                    float *xr = dx + ((size_t)c * s->H + ih) * s->W + off;
                    if (st == 1) for (int ow = lo; ow < hi; ow++) xr[ow] += d[ow];
                    else for (int ow = lo; ow < hi; ow++) xr[ow * st] += d[ow];
                }
            }
}

void nn_conv2d_forward(float *y, const float *x, const float *W, const float *b,
                       float *ws, const nn_conv_shape *s, int B) {
    const size_t hw = (size_t)s->Ho * s->Wo, xin = (size_t)s->C * s->H * s->W;
    const int K = s->C * s->k * s->k;
    for (int b0 = 0; b0 < B; b0 += s->chunk) {
        int S = B - b0 < s->chunk ? B - b0 : s->chunk;
        size_t N = (size_t)S * hw;
        float *col = ws, *yb = ws + (size_t)K * N;
        for (int i = 0; i < S; i++) im2col(col + i * hw, N, x + (size_t)(b0 + i) * xin, s);
        float *out = S == 1 ? y + (size_t)b0 * s->O * hw : yb;
        /* out[O, N] = W[O, K] col[K, N] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->O, (int)N, K,
                    1.0f, W, K, col, (int)N, 0.0f, out, (int)N);
        for (int i = 0; i < S; i++)
            for (int o = 0; o < s->O; o++) {
                float *dst = y + ((size_t)(b0 + i) * s->O + o) * hw;
                if (S > 1) memcpy(dst, yb + (size_t)o * N + i * hw, sizeof *dst * hw);
                if (b) for (size_t j = 0; j < hw; j++) dst[j] += b[o];
            }
    }
}

void nn_conv2d_backward(float *dx, float *dW, float *db, const float *dy,
                        const float *x, const float *W, float *ws,
                        const nn_conv_shape *s, int B) {
    const size_t hw = (size_t)s->Ho * s->Wo, xin = (size_t)s->C * s->H * s->W;
    const int K = s->C * s->k * s->k;
    if (db)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < s->O; o++) {
                const float *d = dy + ((size_t)i * s->O + o) * hw;
                db[o] += (float)row_sum(d, (int)hw);
            }
    for (int b0 = 0; b0 < B; b0 += s->chunk) {
        int S = B - b0 < s->chunk ? B - b0 : s->chunk;
        size_t N = (size_t)S * hw;
        float *col = ws, *dyc = ws + (size_t)K * N;
        if (S == 1) dyc = (float *)dy + (size_t)b0 * s->O * hw;      /* read only */
        else
            for (int i = 0; i < S; i++)
                for (int o = 0; o < s->O; o++)
                    memcpy(dyc + (size_t)o * N + i * hw, dy + ((size_t)(b0 + i) * s->O + o) * hw,
                           sizeof *dyc * hw);
        for (int i = 0; i < S; i++) im2col(col + i * hw, N, x + (size_t)(b0 + i) * xin, s);
        /* dW[O, K] += dyc[O, N] col[K, N]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->O, K, (int)N,
                    1.0f, dyc, (int)N, col, (int)N, 1.0f, dW, K);
        if (!dx) continue;
        /* dcol[K, N] = W[O, K]^T dyc[O, N], then scattered back onto dx */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)N, s->O,
                    1.0f, W, K, dyc, (int)N, 0.0f, col, (int)N);
        for (int i = 0; i < S; i++) {
            float *d = dx + (size_t)(b0 + i) * xin;
            memset(d, 0, sizeof *d * xin);
            col2im(d, col + i * hw, N, s);
        }
    }
}

void nn_conv2d_init(float *W, float *b, const nn_conv_shape *s, rng_state *r) {
    int fan_in = s->C * s->k * s->k;
    float bound = 1.0f / sqrtf((float)fan_in);
    for (int64_t i = 0; i < (int64_t)s->O * fan_in; i++) W[i] = (2.0f * rng_float(r) - 1.0f) * bound;
    if (b)
        for (int o = 0; o < s->O; o++) b[o] = (2.0f * rng_float(r) - 1.0f) * bound;
}

/* ---------- batch normalisation (torch.nn.BatchNorm2d) ---------- */
/* Row sums in 16 float lanes (the compiler vectorises them; a double
 * accumulator is a serial chain of dependent adds), each row's total added
 * into a double.  The order is fixed, so results stay reproducible. */
#define LANES 16
static double row_sum(const float *p, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += p[i + l];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; i < n; i++) s += p[i];
    return s;
}

/* sum (p - m)^2 */
static double row_sqdev(const float *p, int n, float m) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) { float d = p[i + l] - m; acc[l] += d * d; }
    double s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; i < n; i++) { double d = p[i] - m; s += d * d; }
    return s;
}

/* sum d and sum d (p - m) is */
static void row_dy_sums(const float *d, const float *p, int n, float m, float is, double *sdy, double *sdyx) {
    float a[LANES] = {0}, b[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) { a[l] += d[i + l]; b[l] += d[i + l] * ((p[i + l] - m) * is); }
    double s = 0, t = 0;
    for (int l = 0; l < LANES; l++) s += a[l], t += b[l];
    for (; i < n; i++) { s += d[i]; t += (double)d[i] * ((p[i] - m) * is); }
    *sdy += s, *sdyx += t;
}

/* ---- batch statistics in parts: per-sample sums, totals in sample order ---- */
void nn_bn2d_sums(double *s, const float *x, int B, int C, int HW) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) s[(size_t)b * C + c] = row_sum(x + ((size_t)b * C + c) * HW, HW);
}

void nn_bn2d_mean(float *mean, const double *s, int Btot, int C, int HW) {
    const double n = (double)Btot * HW;
    for (int c = 0; c < C; c++) {
        double sum = 0;
        for (int b = 0; b < Btot; b++) sum += s[(size_t)b * C + c];
        mean[c] = (float)(sum / n);
    }
}

void nn_bn2d_sqdevs(double *q, const float *x, const float *mean, int B, int C, int HW) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) q[(size_t)b * C + c] = row_sqdev(x + ((size_t)b * C + c) * HW, HW, mean[c]);
}

void nn_bn2d_finish(float *invstd, float *run_mean, float *run_var, const float *mean,
                    const double *q, int Btot, int C, int HW, float momentum, float eps) {
    const double n = (double)Btot * HW;
    for (int c = 0; c < C; c++) {
        double sq = 0;
        for (int b = 0; b < Btot; b++) sq += q[(size_t)b * C + c];
        double var = sq / n;
        invstd[c] = (float)(1.0 / sqrt(var + eps));
        if (!run_mean) continue;
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * mean[c];
        double unbiased = n > 1 ? sq / (n - 1) : var;
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
    }
}

void nn_bn2d_apply(float *y, const float *x, const float *mean, const float *invstd,
                   const float *gamma, const float *beta, int B, int C, int HW) {
    for (int c = 0; c < C; c++) {
        const float g = gamma[c] * invstd[c], m = mean[c], bb = beta[c];
        for (int b = 0; b < B; b++) {
            const float *p = x + ((size_t)b * C + c) * HW;
            float *q = y + ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) q[i] = (p[i] - m) * g + bb;
        }
    }
}

void nn_bn2d_dsums(double *d, const float *dy, const float *x, const float *mean,
                   const float *invstd, int B, int C, int HW) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double *o = d + 2 * ((size_t)b * C + c);
            o[0] = o[1] = 0;
            row_dy_sums(dy + ((size_t)b * C + c) * HW, x + ((size_t)b * C + c) * HW, HW,
                        mean[c], invstd[c], &o[0], &o[1]);
        }
}

/* dxhat = dy gamma;  dx = invstd / n (n dxhat - sum dxhat - xhat sum(dxhat xhat)) */
void nn_bn2d_backward_apply(float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *x, const float *mean, const float *invstd,
                            const float *gamma, const double *d, int Btot, int B, int C, int HW) {
    const double n = (double)Btot * HW;
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (int b = 0; b < Btot; b++) sdy += d[2 * ((size_t)b * C + c)], sdyx += d[2 * ((size_t)b * C + c) + 1];
        if (dgamma) dgamma[c] += (float)sdyx, dbeta[c] += (float)sdy;
        const float m = mean[c], is = invstd[c];
        const float k = gamma[c] * is, a = (float)(sdy / n), bq = (float)(sdyx / n);
        for (int b = 0; b < B; b++) {
            const float *dd = dy + ((size_t)b * C + c) * HW, *p = x + ((size_t)b * C + c) * HW;
            float *q = dx + ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) q[i] = k * (dd[i] - a - (p[i] - m) * is * bq);
        }
    }
}

/* ---- the whole batch at once ---- */
int nn_bn2d_forward_train(float *y, float *mean, float *invstd, float *run_mean,
                          float *run_var, const float *x, const float *gamma,
                          const float *beta, int B, int C, int HW,
                          float momentum, float eps) {
    double *s = malloc(sizeof *s * (size_t)B * C);
    if (!s) return -1;
    nn_bn2d_sums(s, x, B, C, HW);
    nn_bn2d_mean(mean, s, B, C, HW);
    nn_bn2d_sqdevs(s, x, mean, B, C, HW);
    nn_bn2d_finish(invstd, run_mean, run_var, mean, s, B, C, HW, momentum, eps);
    nn_bn2d_apply(y, x, mean, invstd, gamma, beta, B, C, HW);
    free(s);
    return 0;
}

void nn_bn2d_forward_eval(float *y, const float *x, const float *gamma,
                          const float *beta, const float *run_mean,
                          const float *run_var, int B, int C, int HW, float eps) {
    for (int c = 0; c < C; c++) {
        float g = gamma[c] / sqrtf(run_var[c] + eps), m = run_mean[c], bb = beta[c];
        for (int b = 0; b < B; b++) {
            const float *p = x + ((size_t)b * C + c) * HW;
            float *q = y + ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) q[i] = (p[i] - m) * g + bb;
        }
    }
}

int nn_bn2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                     const float *x, const float *mean, const float *invstd,
                     const float *gamma, int B, int C, int HW) {
    double *d = malloc(sizeof *d * 2 * (size_t)B * C);
    if (!d) return -1;
    nn_bn2d_dsums(d, dy, x, mean, invstd, B, C, HW);
    nn_bn2d_backward_apply(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, d, B, B, C, HW);
    free(d);
    return 0;
}

/* ---------- relu ---------- */
void nn_relu_inplace(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0.0f;
}

void nn_relu_backward_inplace(float *dy, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dy[i] = y[i] > 0 ? dy[i] : 0.0f;
}

/* ---------- pooling (torch.nn.AvgPool2d, MaxPool2d: no padding, floor) ---------- */
void nn_avgpool_forward(float *y, const float *x, int N, int H, int W, int k, int s) {
    const int Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
    const float inv = 1.0f / (float)(k * k);
    if (k == 2 && s == 2) {      /* the CNN's pooling: same sums, same order */
        for (int n = 0; n < N; n++)
            for (int oh = 0; oh < Ho; oh++) {
                const float *r0 = x + ((size_t)n * H + 2 * oh) * W, *r1 = r0 + W;
                float *q = y + ((size_t)n * Ho + oh) * Wo;
                for (int ow = 0; ow < Wo; ow++)
                    q[ow] = (r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) * inv;
            }
        return;
    }
    for (int n = 0; n < N; n++) {
        const float *p = x + (size_t)n * H * W;
        float *q = y + (size_t)n * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                float acc = 0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) acc += p[(oh * s + i) * W + ow * s + j];
                q[oh * Wo + ow] = acc * inv;
            }
    }
}

void nn_avgpool_backward(float *dx, const float *dy, int N, int H, int W, int k, int s) {
    const int Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
    const float inv = 1.0f / (float)(k * k);
    if (k == 2 && s == 2 && H % 2 == 0 && W % 2 == 0) {   /* every input cell written once */
        for (int n = 0; n < N; n++)
            for (int oh = 0; oh < Ho; oh++) {
                float *r0 = dx + ((size_t)n * H + 2 * oh) * W, *r1 = r0 + W;
                const float *q = dy + ((size_t)n * Ho + oh) * Wo;
                for (int ow = 0; ow < Wo; ow++) {
                    float g = q[ow] * inv;
                    r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = g;
                }
            }
        return;
    }
    memset(dx, 0, sizeof *dx * (size_t)N * H * W);
    for (int n = 0; n < N; n++) {
        float *p = dx + (size_t)n * H * W;
        const float *q = dy + (size_t)n * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                float g = q[oh * Wo + ow] * inv;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) p[(oh * s + i) * W + ow * s + j] += g;
            }
    }
}

void nn_maxpool_forward(float *y, int32_t *argmax, const float *x, int N, int H, int W, int k, int s) {
    const int Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
    for (int n = 0; n < N; n++) {
        const float *p = x + (size_t)n * H * W;
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                int best = oh * s * W + ow * s;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int at = (oh * s + i) * W + ow * s + j;
                        /* NaN wins, as in torch */
                        if (p[at] > p[best] || isnan(p[at])) best = at;
                    }
                size_t o = (size_t)n * Ho * Wo + (size_t)oh * Wo + ow;
                y[o] = p[best];
                argmax[o] = best;
            }
    }
}

void nn_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int N,
                         int H, int W, int k, int s) {
    const int Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
    memset(dx, 0, sizeof *dx * (size_t)N * H * W);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Ho * Wo; o++) {
            size_t i = (size_t)n * Ho * Wo + o;
            dx[(size_t)n * H * W + argmax[i]] += dy[i];
        }
}

/* ---------- adaptive average pooling (torch.nn.AdaptiveAvgPool2d) ---------- */
#define AD_START(i, in, out) ((i) * (in) / (out))
#define AD_END(i, in, out) (((i) + 1) * (in) + (out) - 1) / (out)

void nn_adaptive_avgpool_forward(float *y, const float *x, int N, int H, int W, int oh, int ow) {
    for (int n = 0; n < N; n++) {
        const float *p = x + (size_t)n * H * W;
        for (int i = 0; i < oh; i++) {
            int h0 = AD_START(i, H, oh), h1 = AD_END(i, H, oh);
            for (int j = 0; j < ow; j++) {
                int w0 = AD_START(j, W, ow), w1 = AD_END(j, W, ow);
                float acc = 0;
                for (int a = h0; a < h1; a++)
                    for (int b = w0; b < w1; b++) acc += p[a * W + b];
                y[((size_t)n * oh + i) * ow + j] = acc / (float)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

void nn_adaptive_avgpool_backward(float *dx, const float *dy, int N, int H, int W, int oh, int ow) {
    memset(dx, 0, sizeof *dx * (size_t)N * H * W);
    for (int n = 0; n < N; n++) {
        float *p = dx + (size_t)n * H * W;
        for (int i = 0; i < oh; i++) {
            int h0 = AD_START(i, H, oh), h1 = AD_END(i, H, oh);
            for (int j = 0; j < ow; j++) {
                int w0 = AD_START(j, W, ow), w1 = AD_END(j, W, ow);
                float g = dy[((size_t)n * oh + i) * ow + j] / (float)((h1 - h0) * (w1 - w0));
                for (int a = h0; a < h1; a++)
                    for (int b = w0; b < w1; b++) p[a * W + b] += g;
            }
        }
    }
}
