/* cnn.h - the sound-similarity CNN (the architecture of the GTZAN CNN notebook songpipe replaces) from the layers
 * of conv.h and nn.h: per stage conv3x3-bn-relu + pool2, then a residual
 * block relu(x + bn(conv(relu(bn(conv(x)))))); adaptive average pool to
 * a x a; dense -> the embedding (linear); dense -> class logits.  Parameters
 * live in one allocation, gradients in another of the same layout,
 * activations in one arena sized for a batch (llm.c).
 *
 * Files: cnn.c (network), cnn_io.c (model file, architecture JSON). */
#ifndef SONGPIPE_CNN_H
#define SONGPIPE_CNN_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "conv.h"
#include "rng.h"

#define CNN_MAX_STAGES 8
#define CNN_VERSION 1
#define CNN_MAX_CLASSES 10000000

enum { CNN_POOL_AVG = 0, CNN_POOL_MAX = 1 };

typedef struct {
    int in_h, in_w;                    /* tile: mel bands x frames */
    int n_stages;
    int base[CNN_MAX_STAGES];          /* widths before the multiplier */
    float width_mult;
    int width[CNN_MAX_STAGES];         /* max(1, round(base * width_mult)) */
    int residual;                      /* a residual block after each stage */
    int pool;                          /* CNN_POOL_AVG | CNN_POOL_MAX */
    int adapt;                         /* adaptive average pool to adapt x adapt */
    int embed;                         /* embedding width */
    int classes;
} cnn_arch;

/* "64,64,128,256,512" and the rest; fills width[] and checks that every
 * stage's pool has at least 2x2 to work on.  0 ok, -1 with err */
int cnn_arch_set(cnn_arch *a, const char *widths, float mult, int in_h, int in_w,
                 char *err, size_t errlen);
cJSON *cnn_arch_to_json(const cnn_arch *a);
int cnn_arch_from_json(cnn_arch *a, const cJSON *j, const char *src, char *err, size_t errlen);

typedef struct {
    char name[64];                     /* "stage.0.conv.weight" (torch state_dict) */
    float *p, *g;                      /* g NULL for buffers */
    int ndim;
    int64_t shape[4];
    size_t n;
} cnn_tensor;

typedef struct {
    float *gamma, *beta, *dgamma, *dbeta, *run_mean, *run_var;
    float *mean, *invstd;              /* batch statistics (arena) */
} cnn_bn;

typedef struct {
    float *w, *dw;
    nn_conv_shape s;
} cnn_conv;

typedef struct {
    int Cin, H, W, C, Hp, Wp;          /* input, conv output (same size), after pool */
    cnn_conv conv, rc1, rc2;
    cnn_bn bn, bn1, bn2;
    /* activations for the backward pass */
    float *z1, *a1, *p, *z2, *a2, *z3, *out;
    int32_t *argmax;
} cnn_stage;

typedef struct cnn_sync cnn_sync;

typedef struct cnn_net {
    cnn_arch arch;
    float norm_mean, norm_std;         /* input standardisation (training tiles) */
    char **class_names;                /* arch.classes names, may be NULL */
    size_t n_params, n_buffers;
    float *params, *grads, *buffers;
    int n_tensors;
    cnn_tensor *tensors;
    cnn_stage st[CNN_MAX_STAGES];
    int feat;                          /* C_last * adapt * adapt */
    float *We, *be, *dWe, *dbe, *Wo, *bo, *dWo, *dbo;
    float bn_momentum, bn_eps;         /* torch defaults 0.1, 1e-5 */
    /* arena for batches of up to B tiles */
    int B;
    float *arena, *x0, *ad, *emb, *logits, *dlogits, *tlab, *g[3], *ws;
    int32_t *argmax_arena;
    double *bnbuf[2];                  /* per-sample batch-norm sums, alternating */
    int bnphase;
    /* data parallelism (cnn_set_threads): nrep workers, each a net of its
     * own arena and gradients that shares params and buffers; worker r
     * holds samples [b0, b0 + its B) of a batch of btot */
    int threads, nrep, rank, b0, btot;
    struct cnn_net *rep;
    cnn_sync *sync;
} cnn_net;

int cnn_create(cnn_net *net, const cnn_arch *a, char *err, size_t errlen);
void cnn_free(cnn_net *net);
/* torch defaults: conv and dense U(+-1/sqrt(fan_in)), bn gamma 1 beta 0 */
void cnn_init_params(cnn_net *net, uint64_t seed);
cnn_tensor *cnn_tensor_find(cnn_net *net, const char *name);
/* Split each batch over T threads (before cnn_reserve): every thread runs
 * the whole network on its share of the tiles with single-threaded BLAS,
 * batch-norm statistics are summed across the threads in tile order (so
 * they are those of the whole batch), and the gradients are added up after
 * the backward pass.  Sets OpenBLAS to one thread.  The same T
 * gives the same results run after run. */
void cnn_set_threads(cnn_net *net, int T);
/* size the arena for batches of up to B tiles; 0 ok, -1 out of memory */
int cnn_reserve(cnn_net *net, int B);
/* bytes cnn_reserve(B) allocates */
size_t cnn_arena_bytes(const cnn_net *net, int B);
/* x: B raw tiles [in_h, in_w] (standardised inside with norm_mean/std).
 * train = 1: batch statistics (and running statistics move).
 * cnn_forward and cnn_backward: 0, or -1 when a worker thread could not be
 * started (nothing was computed; fewer threads may work). */
int cnn_forward(cnn_net *net, const float *x, int B, int train);
/* mean cross-entropy of the last forward's logits against class indices;
 * writes the logits' gradient; *correct (may be NULL) = argmax hits */
double cnn_loss(cnn_net *net, const int32_t *labels, int B, int *correct);
void cnn_zero_grad(cnn_net *net);
int cnn_backward(cnn_net *net, int B);

/* model file: a tensor stream, one tensor per parameter/buffer (torch
 * state_dict names and shapes); the first tensor's meta holds
 * {"songpipe_cnn": 1, "arch", "normalize": {"mean", "std"}, "classes", "train"} */
int cnn_save(const cnn_net *net, const char *path, const cJSON *train_meta,
             char *err, size_t errlen);
int cnn_load(cnn_net *net, const char *path, char *err, size_t errlen);
/* 1 if the file's first tensor says songpipe_cnn, 0 if not, -1 unreadable */
int cnn_is_model(const char *path);
#endif
