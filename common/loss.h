/* loss.h - training losses, each the mean over its elements as PyTorch's
 * default reduction='mean'.  Every function returns the loss and WRITES its
 * gradient with respect to the predictions, times `scale`, into dp (same
 * leading dimension as p; dp may be NULL to only evaluate).  Targets are read
 * with their own leading dimension so one target matrix can feed many heads. */
#ifndef SONGPIPE_LOSS_H
#define SONGPIPE_LOSS_H

/* infonce and triplet are pair losses (contrastive.h): the output is an
 * embedding, trained on (anchor, positive) rows by nn_mlp_train_pairs */
typedef enum { NN_LOSS_MSE, NN_LOSS_MAE, NN_LOSS_BCE, NN_LOSS_CE, NN_LOSS_INFONCE, NN_LOSS_TRIPLET,
               NN_NLOSS } nn_loss;
static inline int nn_loss_is_pair(nn_loss l) { return l == NN_LOSS_INFONCE || l == NN_LOSS_TRIPLET; }
const char *nn_loss_name(nn_loss l);
int nn_loss_parse(const char *s, nn_loss *l);      /* 0 ok, -1 unknown */
#define NN_LOSS_NAMES "mse, mae, bce, ce, infonce, triplet"

/* torch.nn.MSELoss: mean (p - t)^2 over B*n */
double nn_loss_mse(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale);
/* torch.nn.L1Loss: mean |p - t|; gradient sign(p - t) (0 at equality) */
double nn_loss_mae(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale);
/* torch.nn.BCELoss on probabilities p in [0,1]:
 * -(t log p + (1-t) log(1-p)), each log clamped to >= -100 as torch does;
 * gradient (p - t) / max(p (1-p), 1e-12) as torch's binary_cross_entropy_backward */
double nn_loss_bce(float *dp, const float *p, int ldp, const float *t, int ldt,
                   int B, int n, float scale);
/* torch.nn.CrossEntropyLoss on logits z[B,C] with class indices t[b] (a float
 * holding an integer in [0,C), checked by the caller): mean over B of
 * logsumexp(z_b) - z_b[t_b]; gradient (softmax(z_b) - onehot(t_b)) / B */
double nn_loss_ce(float *dz, const float *z, int ldz, const float *t, int ldt,
                  int B, int C, float scale);

/* y[i] = expf(x[i] - shift) for i < n, bit for bit (y and x distinct),
 * vectorised: the exponentials of the softmax heads */
void nn_expf_shifted(float *restrict y, const float *restrict x, float shift, int n);

/* softmax of each row of z[B,C] (leading dim ldz) into y (leading dim ldy) */
void nn_softmax(float *y, int ldy, const float *z, int ldz, int B, int C);
#endif
