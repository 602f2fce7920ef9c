/* plneural.h - the neural playlist-continuation model: track embeddings
 * (width dim), the mean and standard deviation of the seed tracks'
 * embeddings, an input dense layer and residual MLP blocks, a projection
 * back to embedding width, and a full softmax over the model's vocabulary
 * whose output weights are the same embeddings (tied), plus a bias per
 * track.  Layers come from nn.h (llm.c style: forward/backward pairs, all
 * parameters in one allocation, gradients in another of the same layout);
 * the seed pooling is the one layer defined here.
 *
 *   x0 = [mean_i E[s_i], std_i E[s_i]]                      (2 dim)
 *   h  = relu(Win x0 + bin)                                 (hidden)
 *   h  = h + Wb relu(Wa h + ba) + bb        for each block
 *   p  = Wp h + bp                                          (dim)
 *   z  = E p + bout,  P(next track = t) = softmax(z)_t      (vocab)
 */
#ifndef SONGPIPE_PLNEURAL_H
#define SONGPIPE_PLNEURAL_H
#include <stddef.h>
#include <stdint.h>
#include "plmodel.h"
#include "rng.h"

#define PLN_MAX_BLOCKS 16
#define PLN_STD_EPS 1e-5f    /* std = sqrt(var + eps): differentiable at k = 1 */

typedef struct {
    int dim, hidden, blocks;
    int64_t vocab;
} pln_arch;

typedef struct {
    float *E, *bout, *Win, *bin, *Wa[PLN_MAX_BLOCKS], *ba[PLN_MAX_BLOCKS],
          *Wb[PLN_MAX_BLOCKS], *bb[PLN_MAX_BLOCKS], *Wp, *bp;
} pln_params;

typedef struct {
    pln_arch a;
    size_t nparams;
    float *params, *grads;      /* one allocation each, same layout */
    pln_params p, g;
    int32_t *track;             /* vocab row -> global track index */
    int32_t *row_of;            /* global track -> vocab row, -1 outside */
    int32_t ntracks;            /* size of row_of */
    /* training-time dropout on the pooled input (0 = none); when `training`
     * is set, pln_forward draws a fresh mask from *rng */
    float dropout;
    int training;
    rng_state *rng;
    /* activations for up to `cap` examples (one arena) */
    int cap;
    float *arena;
    float *x0, *xd, *keep, *a0, *h[PLN_MAX_BLOCKS + 1], *ua[PLN_MAX_BLOCKS], *ur[PLN_MAX_BLOCKS], *v, *pr, *z;
    float *dz, *dp, *dh, *dt, *du, *dx0;
} pln_model;

/* A batch: example b has seeds rows[off[b] .. off[b+1]) (vocab rows; -1 =
 * outside the vocabulary, skipped) and, for training, target weights:
 * tgt[toff[b] .. toff[b+1]) vocab rows, each with weight 1/count. */
typedef struct {
    int B;
    const int64_t *off;
    const int32_t *rows;
    const int64_t *toff;
    const int32_t *tgt;
} pln_batch;

/* vocab tracks: the global track ids of the model's rows; ntracks bounds
 * them.  Parameters initialised as torch does (nn_dense_init, embeddings
 * N(0,1) scaled by 1/sqrt(dim) so that initial logits are O(1)).
 * 0 ok, -1 out of memory / bad arch (err says). */
int pln_init(pln_model *m, const pln_arch *a, const int32_t *vocab_tracks, int32_t ntracks,
             uint64_t seed, char *err, size_t errlen);
void pln_free(pln_model *m);
int pln_reserve(pln_model *m, int B);   /* activations for B examples; 0 / -1 */

/* forward for a batch (B <= cap); logits in m->z [B, vocab].  With
 * m->training and m->dropout > 0, each pooled input is zeroed with
 * probability dropout and the rest scaled by 1 / (1 - dropout) (inverted
 * dropout, as torch.nn.Dropout). */
void pln_forward(pln_model *m, const pln_batch *b);
/* loss (mean over the batch of -sum_t w_t log softmax(z)_t) and, when
 * grads, the backward pass accumulating into m->grads (zero them first) */
double pln_loss_backward(pln_model *m, const pln_batch *b, int grads);

/* seed pooling, exposed for its finite-difference test:
 * x0[b] = [mean, std] of E rows; backward accumulates into dE */
void pln_pool_forward(float *x0, const float *E, int dim, const pln_batch *b);
void pln_pool_backward(float *dE, const float *dx0, const float *x0, const float *E, int dim,
                       const pln_batch *b);

/* model file: a tensor stream, one tensor per parameter (emb.weight keyed by
 * global track index, ...), the architecture in the first tensor's meta. */
int pln_save(const pln_model *m, const char *path, const char *meta_json, char *err, size_t errlen);
pln_model *pln_load(const char *path, char *err, size_t errlen);

/* the n best tracks after the given seeds (global ids), seeds excluded,
 * ranked through plm_top_dense (ties: popularity); -1 out of memory */
int64_t pln_recommend(pln_model *m, plm_model *base, const int32_t *seeds, int64_t ns,
                      int32_t *out, int64_t n);

/* The blend of the neural model with item co-occurrence (a mixture of two
 * distributions over the tracks):
 *   score(t) = (1 - w) c(t) / sum_u c(u) + w softmax(z)_t
 * c(t) = sum over the seeds s of C[s, t], C = A^T A as plm_cooc counts it
 * over base's training playlists; softmax over the model's vocabulary (0
 * outside).  w = 1 ranks as pln_recommend (out-of-vocabulary tracks then
 * tie at 0 and go by popularity), w = 0 as co-occurrence.  Seeds unknown to
 * both: popularity.  -1 out of memory. */
int64_t pln_recommend_blend(pln_model *m, plm_model *base, const int32_t *seeds, int64_t ns,
                            float w, int32_t *out, int64_t n);
#endif
