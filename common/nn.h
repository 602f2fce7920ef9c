/* nn.h - neural network layers as forward/backward pairs over plain float
 * arrays (llm.c style, STYLE.md section 6): no graph, no hidden allocation.
 * Matrices are row-major, batch first.  Dense weights use torch.nn.Linear's
 * layout W[out,in], so model files and golden tests line up with PyTorch.
 * Every *_backward ACCUMULATES into parameter gradients (zero them per batch)
 * and WRITES the input gradient dx (dx may be NULL when not needed). */
#ifndef SONGPIPE_NN_H
#define SONGPIPE_NN_H
#include <stdint.h>
#include "rng.h"

/* ---- dense (torch.nn.Linear): y[B,out] = x[B,in] W[out,in]^T + b[out] ---- */
void nn_dense_forward(float *y, const float *x, const float *W, const float *b,
                      int B, int in, int out);
/* dW += dy^T x, db += sum_b dy, dx = dy W */
void nn_dense_backward(float *dx, float *dW, float *db, const float *dy,
                       const float *x, const float *W, int B, int in, int out);
/* torch.nn.Linear.reset_parameters: W, b ~ U(-1/sqrt(in), 1/sqrt(in)) */
void nn_dense_init(float *W, float *b, int in, int out, rng_state *r);

/* ---- activations, elementwise over n values (dx may alias dy) ---- */
typedef enum { NN_LINEAR, NN_RELU, NN_LEAKY_RELU, NN_SIGMOID, NN_TANH, NN_NACT } nn_act;
const char *nn_act_name(nn_act a);
int nn_act_parse(const char *s, nn_act *a);          /* 0 ok, -1 unknown */
#define NN_ACT_NAMES "linear, relu, leaky_relu, sigmoid, tanh"
/* slope: the negative slope of leaky_relu (torch default 0.01) */
void nn_act_forward(nn_act a, float *y, const float *x, int64_t n, float slope);
/* needs the forward input x (relu family) or output y (sigmoid, tanh) */
void nn_act_backward(nn_act a, float *dx, const float *dy, const float *x,
                     const float *y, int64_t n, float slope);

/* ---- dropout (torch.nn.Dropout, inverted): training only ----
 * mask[i] = 0 with probability p, else 1/(1-p); y = x * mask. */
void nn_dropout_forward(float *y, float *mask, const float *x, int64_t n,
                        float p, rng_state *r);
void nn_dropout_backward(float *dx, const float *dy, const float *mask, int64_t n);

/* ---- batch normalisation (torch.nn.BatchNorm1d over [B,C]) ----
 * Training: batch mean and biased variance normalise; running statistics
 * move by `momentum` towards the batch mean and the UNBIASED variance
 * (torch docs: "running estimate ... unbiased variance").  Needs B >= 2.
 * xhat[B,C] and invstd[C] are kept for the backward pass. */
void nn_batchnorm_forward_train(float *y, float *xhat, float *invstd,
                                float *run_mean, float *run_var, const float *x,
                                const float *gamma, const float *beta,
                                int B, int C, float momentum, float eps);
void nn_batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, int B, int C, float eps);
void nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                           const float *xhat, const float *invstd,
                           const float *gamma, int B, int C);

/* ---- embedding lookup (torch.nn.Embedding) for one categorical column ----
 * y row b (at y + b*ldy) = table[ids[b*ldid], 0..dim-1].  ids are checked by
 * the caller to lie in [0, vocab).  init: N(0, 1) as torch. */
void nn_embedding_forward(float *y, int ldy, const int32_t *ids, int ldid,
                          const float *table, int B, int dim);
void nn_embedding_backward(float *dtable, const float *dy, int ldy,
                           const int32_t *ids, int ldid, int B, int dim);
void nn_embedding_init(float *table, int64_t vocab, int dim, rng_state *r);

/* ---- concatenation: copy x[B, w] (leading dim ldx) into columns
 * [off, off+w) of y[B, ldy]; backward copies the gradient back out ---- */
void nn_concat_forward(float *y, int ldy, int off, const float *x, int ldx, int B, int w);
void nn_concat_backward(float *dx, int ldx, const float *dy, int ldy, int off, int B, int w);

/* ---- input normalisation (sklearn StandardScaler: population std) ----
 * fit over N rows of x (leading dim ldx), accumulating in double; a column
 * with std 0 gets std 1.  apply: y = (x - mean) / std. */
void nn_norm_fit(float *mean, float *std, const float *x, int ldx, int64_t N, int n);
void nn_norm_apply(float *y, int ldy, const float *x, int ldx, int B, int n,
                   const float *mean, const float *std);
#endif
