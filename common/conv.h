/* conv.h - convolutional layers as forward/backward pairs over plain float
 * arrays (llm.c style, like nn.h): conv2d by im2col + sgemm, batch
 * normalisation over channels, pooling, adaptive average pooling.  Tensors
 * are NCHW, batch first, exactly torch's layout, so a flatten is a no-op and
 * weights line up with a torch state_dict.  *_backward ACCUMULATES parameter
 * gradients and WRITES dx (dx may be NULL where not needed). */
#ifndef SONGPIPE_CONV_H
#define SONGPIPE_CONV_H
#include <stddef.h>
#include <stdint.h>
#include "rng.h"

/* ---- conv2d (torch.nn.Conv2d, square kernel, zero padding, groups 1) ----
 * x[B,C,H,W] -> y[B,O,Ho,Wo], Ho = (H + 2 pad - k) / stride + 1;
 * weights W[O,C,k,k], bias b[O] (NULL: no bias).  Samples are processed in
 * chunks whose im2col matrix [C k k, chunk Ho Wo] is one sgemm operand, so
 * small late layers still give OpenBLAS large products. */
typedef struct {
    int C, H, W, O, k, stride, pad, Ho, Wo;
    int chunk;                 /* samples per sgemm */
} nn_conv_shape;

/* 0 ok, -1 if the kernel does not fit the padded input */
int nn_conv_shape_init(nn_conv_shape *s, int C, int H, int W, int O, int k,
                       int stride, int pad, int B);
/* floats of workspace the forward and backward passes need */
size_t nn_conv_workspace(const nn_conv_shape *s);
void nn_conv2d_forward(float *y, const float *x, const float *W, const float *b,
                       float *ws, const nn_conv_shape *s, int B);
/* dW += dy * col(x)^T, db += sum dy, dx = col2im(W^T dy) */
void nn_conv2d_backward(float *dx, float *dW, float *db, const float *dy,
                        const float *x, const float *W, float *ws,
                        const nn_conv_shape *s, int B);
/* torch's default (kaiming_uniform a=sqrt(5)): U(+-1/sqrt(C k k)) */
void nn_conv2d_init(float *W, float *b, const nn_conv_shape *s, rng_state *r);

/* ---- batch normalisation over channels (torch.nn.BatchNorm2d) ----
 * Statistics over B*HW values per channel.  Training: batch mean and biased
 * variance normalise; running statistics move by momentum towards the mean
 * and the UNBIASED variance.  mean[C] and invstd[C] are kept for the
 * backward pass, which recomputes xhat from x (saves one activation). */
int nn_bn2d_forward_train(float *y, float *mean, float *invstd, float *run_mean,
                          float *run_var, const float *x, const float *gamma,
                          const float *beta, int B, int C, int HW,
                          float momentum, float eps);
void nn_bn2d_forward_eval(float *y, const float *x, const float *gamma,
                          const float *beta, const float *run_mean,
                          const float *run_var, int B, int C, int HW, float eps);
/* dx may alias dy.  Both return 0, or -1 out of memory (scratch of B*C doubles). */
int nn_bn2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                     const float *x, const float *mean, const float *invstd,
                     const float *gamma, int B, int C, int HW);

/* The same in parts, for workers that each hold some of a batch's samples:
 * each writes per-sample partial sums for its samples into one shared array
 * (s[b C + c], sample b counted across the whole batch of Btot), and the
 * totals are taken in sample order, so any split of the batch gives the
 * statistics of the whole batch bit for bit.  Forward: sums, mean, sqdevs,
 * finish (run_mean NULL: running statistics stay), apply.  Backward: dsums
 * (two doubles per sample and channel), backward_apply (dgamma NULL: the
 * parameter gradients are left to another worker). */
void nn_bn2d_sums(double *s, const float *x, int B, int C, int HW);
void nn_bn2d_mean(float *mean, const double *s, int Btot, int C, int HW);
void nn_bn2d_sqdevs(double *q, const float *x, const float *mean, int B, int C, int HW);
void nn_bn2d_finish(float *invstd, float *run_mean, float *run_var, const float *mean,
                    const double *q, int Btot, int C, int HW, float momentum, float eps);
void nn_bn2d_apply(float *y, const float *x, const float *mean, const float *invstd,
                   const float *gamma, const float *beta, int B, int C, int HW);
void nn_bn2d_dsums(double *d, const float *dy, const float *x, const float *mean,
                   const float *invstd, int B, int C, int HW);
void nn_bn2d_backward_apply(float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *x, const float *mean, const float *invstd,
                            const float *gamma, const double *d, int Btot, int B, int C, int HW);

/* ---- relu in place; backward masks dy by y > 0 (torch: 0 at exactly 0) ---- */
void nn_relu_inplace(float *x, int64_t n);
void nn_relu_backward_inplace(float *dy, const float *y, int64_t n);

/* ---- pooling over [N = B*C planes, H, W], kernel k, stride s, no padding
 * (torch.nn.AvgPool2d / MaxPool2d, floor mode): Ho = (H - k)/s + 1 ---- */
void nn_avgpool_forward(float *y, const float *x, int N, int H, int W, int k, int s);
void nn_avgpool_backward(float *dx, const float *dy, int N, int H, int W, int k, int s);
/* argmax[N*Ho*Wo] keeps the winning input offset within its plane */
void nn_maxpool_forward(float *y, int32_t *argmax, const float *x, int N, int H, int W, int k, int s);
void nn_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int N,
                         int H, int W, int k, int s);
/* torch.nn.AdaptiveAvgPool2d((oh, ow)): cell i spans rows
 * floor(i H / oh) .. ceil((i+1) H / oh) - 1, likewise columns */
void nn_adaptive_avgpool_forward(float *y, const float *x, int N, int H, int W, int oh, int ow);
void nn_adaptive_avgpool_backward(float *dx, const float *dy, int N, int H, int W, int oh, int ow);
#endif
