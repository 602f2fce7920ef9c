/* nn.c - the layers of nn.h.  Formulas follow the PyTorch documentation of
 * the module named next to each function; dense algebra goes to OpenBLAS. */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---------- dense (torch.nn.Linear) ---------- */
void nn_dense_forward(float *y, const float *x, const float *W, const float *b,
                      int B, int in, int out) {
    for (int i = 0; i < B; i++) {
        if (b) memcpy(y + (size_t)i * out, b, sizeof *y * (size_t)out);
        else memset(y + (size_t)i * out, 0, sizeof *y * (size_t)out);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in,
                1.0f, x, in, W, in, 1.0f, y, out);
}

void nn_dense_backward(float *dx, float *dW, float *db, const float *dy,
                       const float *x, const float *W, int B, int in, int out) {
    /* dW[out,in] += dy^T[out,B] x[B,in] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B,
                1.0f, dy, out, x, in, 1.0f, dW, in);
    if (db)
        for (int i = 0; i < B; i++) {
            const float *r = dy + (size_t)i * out;
            for (int j = 0; j < out; j++) db[j] += r[j];
        }
    /* dx[B,in] = dy[B,out] W[out,in] */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out,
                    1.0f, dy, out, W, in, 0.0f, dx, in);
}

void nn_dense_init(float *W, float *b, int in, int out, rng_state *r) {
    /* kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    float bound = in > 0 ? 1.0f / sqrtf((float)in) : 0.0f;
    for (int64_t i = 0; i < (int64_t)in * out; i++) W[i] = (2.0f * rng_float(r) - 1.0f) * bound;
    if (b)
        for (int j = 0; j < out; j++) b[j] = (2.0f * rng_float(r) - 1.0f) * bound;
}

/* ---------- activations ---------- */
static const char *const act_names[NN_NACT] = {"linear", "relu", "leaky_relu", "sigmoid", "tanh"};

const char *nn_act_name(nn_act a) { return (unsigned)a < NN_NACT ? act_names[a] : "?"; }

int nn_act_parse(const char *s, nn_act *a) {
    for (int i = 0; i < NN_NACT; i++)
        if (strcmp(s, act_names[i]) == 0) { *a = (nn_act)i; return 0; }
    return -1;
}

static inline float sigmoidf(float x) {
    /* two branches so exp never overflows */
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void nn_act_forward(nn_act a, float *y, const float *x, int64_t n, float slope) {
    switch (a) {
    case NN_LINEAR: if (y != x) memmove(y, x, sizeof *y * (size_t)n); break;
    case NN_RELU: for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f; break;
    case NN_LEAKY_RELU: for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i]; break;
    case NN_SIGMOID: for (int64_t i = 0; i < n; i++) y[i] = sigmoidf(x[i]); break;
    case NN_TANH: for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]); break;
    default: break;
    }
}

void nn_act_backward(nn_act a, float *dx, const float *dy, const float *x,
                     const float *y, int64_t n, float slope) {
    switch (a) {
    case NN_LINEAR: if (dx != dy) memmove(dx, dy, sizeof *dx * (size_t)n); break;
    /* torch threshold_backward: the gradient at exactly 0 is 0 */
    case NN_RELU: for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0f; break;
    case NN_LEAKY_RELU: for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : slope * dy[i]; break;
    case NN_SIGMOID: for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
    case NN_TANH: for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
    default: break;
    }
}

/* ---------- dropout ---------- */
void nn_dropout_forward(float *y, float *mask, const float *x, int64_t n,
                        float p, rng_state *r) {
    float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        mask[i] = rng_float(r) < p ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

void nn_dropout_backward(float *dx, const float *dy, const float *mask, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
}

/* ---------- batch normalisation (torch.nn.BatchNorm1d) ---------- */
void nn_batchnorm_forward_train(float *y, float *xhat, float *invstd,
                                float *run_mean, float *run_var, const float *x,
                                const float *gamma, const float *beta,
                                int B, int C, float momentum, float eps) {
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int i = 0; i < B; i++) s += x[(size_t)i * C + c];
        double mean = s / B;
        for (int i = 0; i < B; i++) {
            double d = x[(size_t)i * C + c] - mean;
            ss += d * d;
        }
        double var = ss / B;                         /* biased: normalises */
        float is = (float)(1.0 / sqrt(var + eps));
        invstd[c] = is;
        for (int i = 0; i < B; i++) {
            size_t k = (size_t)i * C + c;
            xhat[k] = (float)(x[k] - mean) * is;
            y[k] = gamma[c] * xhat[k] + beta[c];
        }
        double unbiased = B > 1 ? ss / (B - 1) : var;
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * (float)mean;
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
    }
}

void nn_batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, int B, int C, float eps) {
    for (int c = 0; c < C; c++) {
        float is = 1.0f / sqrtf(run_var[c] + eps);
        for (int i = 0; i < B; i++) {
            size_t k = (size_t)i * C + c;
            y[k] = gamma[c] * (x[k] - run_mean[c]) * is + beta[c];
        }
    }
}

void nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                           const float *xhat, const float *invstd,
                           const float *gamma, int B, int C) {
    /* dx = gamma*invstd/B * (B*dy - sum(dy) - xhat*sum(dy*xhat)) */
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < B; i++) {
            size_t k = (size_t)i * C + c;
            sdy += dy[k];
            sdyx += (double)dy[k] * xhat[k];
        }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!dx) continue;
        double f = (double)gamma[c] * invstd[c] / B;
        for (int i = 0; i < B; i++) {
            size_t k = (size_t)i * C + c;
            dx[k] = (float)(f * ((double)B * dy[k] - sdy - (double)xhat[k] * sdyx));
        }
    }
}

/* ---------- embedding (torch.nn.Embedding) ---------- */
void nn_embedding_forward(float *y, int ldy, const int32_t *ids, int ldid,
                          const float *table, int B, int dim) {
    for (int i = 0; i < B; i++)
        memcpy(y + (size_t)i * ldy, table + (size_t)ids[(size_t)i * ldid] * dim,
               sizeof *y * (size_t)dim);
}

void nn_embedding_backward(float *dtable, const float *dy, int ldy,
                           const int32_t *ids, int ldid, int B, int dim) {
    for (int i = 0; i < B; i++) {
        float *t = dtable + (size_t)ids[(size_t)i * ldid] * dim;
        const float *g = dy + (size_t)i * ldy;
        for (int j = 0; j < dim; j++) t[j] += g[j];
    }
}

void nn_embedding_init(float *table, int64_t vocab, int dim, rng_state *r) {
    for (int64_t i = 0; i < vocab * dim; i++) table[i] = (float)rng_normal(r);
}

/* ---------- concatenation ---------- */
void nn_concat_forward(float *y, int ldy, int off, const float *x, int ldx, int B, int w) {
    for (int i = 0; i < B; i++)
        memcpy(y + (size_t)i * ldy + off, x + (size_t)i * ldx, sizeof *y * (size_t)w);
}

void nn_concat_backward(float *dx, int ldx, const float *dy, int ldy, int off, int B, int w) {
    for (int i = 0; i < B; i++)
        memcpy(dx + (size_t)i * ldx, dy + (size_t)i * ldy + off, sizeof *dx * (size_t)w);
}

/* ---------- input normalisation ---------- */
void nn_norm_fit(float *mean, float *std, const float *x, int ldx, int64_t N, int n) {
    for (int j = 0; j < n; j++) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < N; i++) s += x[i * ldx + j];
        double m = N ? s / (double)N : 0;
        for (int64_t i = 0; i < N; i++) {
            double d = x[i * ldx + j] - m;
            ss += d * d;
        }
        double sd = N ? sqrt(ss / (double)N) : 0;
        /* a constant column maps to 0, never NaN (sklearn _handle_zeros_in_scale) */
        if (!(sd > 1e-12 * fmax(1.0, fabs(m)))) sd = 1;
        mean[j] = (float)m;
        std[j] = (float)sd;
    }
}

void nn_norm_apply(float *y, int ldy, const float *x, int ldx, int B, int n,
                   const float *mean, const float *std) {
    for (int i = 0; i < B; i++)
        for (int j = 0; j < n; j++)
            y[(size_t)i * ldy + j] = (x[(size_t)i * ldx + j] - mean[j]) / std[j];
}
