/* contrastive.h - losses over a batch of B (anchor, positive) embedding
 * pairs A[B,d], P[B,d] (row-major, leading dim d), with the other rows'
 * positives as the negatives of each anchor ("in-batch negatives").  Both
 * losses compare L2-normalised rows (torch.nn.functional.normalize, eps
 * 1e-12), so the similarity is the cosine.  Each returns the mean loss over
 * the anchors and WRITES the gradients, times `scale`, into dA and dP (both
 * NULL to only evaluate).  ids[B] (may be NULL) names each positive's song:
 * a negative j with ids[j] == ids[i] (the same song twice in the batch) is
 * left out of anchor i's terms.  work holds nn_contrastive_work(B, d) floats.
 * Reference: tests/ref/make_contrastive_golden.py computes both in PyTorch. */
#ifndef SONGPIPE_CONTRASTIVE_H
#define SONGPIPE_CONTRASTIVE_H
#include <stdint.h>

/* InfoNCE / sampled softmax (van den Oord et al. 2018, "Representation
 * learning with contrastive predictive coding"; in-batch form of CLIP's
 * one direction) with the logQ correction of Yi et al. 2019 ("Sampling-bias-
 * corrected neural modeling for large corpus item recommendations"):
 *   s_ij = cos(a_i, p_j) / tau - logq[j]    (logq may be NULL: 0)
 *   L = mean_i [ logsumexp_{j valid} s_ij - s_ii ]
 * logq[j] = log of the probability that song j is drawn as a positive, so
 * popular songs are not pushed away just for appearing often as negatives. */
double nn_infonce(float *dA, float *dP, const float *A, const float *P, int B, int d,
                  const float *logq, const int32_t *ids, float tau, float scale, float *work);

/* Triplet loss with margin m (Schroff et al. 2015, FaceNet), every valid
 * in-batch negative, on cosines:
 *   L = mean_i mean_{j != i valid} max(0, m - cos(a_i, p_i) + cos(a_i, p_j))
 * (an anchor without a valid negative contributes 0 but still counts) */
double nn_triplet(float *dA, float *dP, const float *A, const float *P, int B, int d,
                  const int32_t *ids, float margin, float scale, float *work);

/* floats of work the two need for B pairs of width d */
static inline int64_t nn_contrastive_work(int B, int d) { return 2 * (int64_t)B * B + 2 * (int64_t)B * d + 2 * (int64_t)B; }
#endif
