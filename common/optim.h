/* optim.h - optimisers over one flat parameter array (llm.c keeps all
 * parameters in one allocation; so do we), and early stopping with patience
 * and restore-best-weights.  Update rules are exactly those of the PyTorch
 * documentation pages torch.optim.SGD, RMSprop, Adam and AdamW (no nesterov,
 * no amsgrad, no centered RMSprop), in the same order of operations as
 * torch's single-tensor implementations. */
#ifndef SONGPIPE_OPTIM_H
#define SONGPIPE_OPTIM_H
#include <stddef.h>

typedef enum { NN_SGD, NN_RMSPROP, NN_ADAM, NN_ADAMW, NN_NOPTIM } nn_optim_kind;
const char *nn_optim_name(nn_optim_kind k);
int nn_optim_parse(const char *s, nn_optim_kind *k);     /* 0 ok, -1 unknown */
#define NN_OPTIM_NAMES "sgd, rmsprop, adam, adamw"

typedef struct {
    nn_optim_kind kind;
    float lr;
    float momentum;        /* SGD, RMSprop: mu */
    float dampening;       /* SGD: tau */
    float alpha;           /* RMSprop smoothing constant */
    float beta1, beta2;    /* Adam, AdamW */
    float eps;
    float weight_decay;    /* lambda: L2 in the gradient; AdamW: decoupled */
    long t;                /* steps taken */
    size_t n;
    float *m;              /* momentum buffer / first moment; NULL if unused */
    float *v;              /* square average / second moment; NULL if unused */
} nn_optim;

/* PyTorch's defaults for kind: SGD lr 1e-3 (torch requires lr; we pick this)
 * momentum 0; RMSprop lr 1e-2 alpha 0.99 eps 1e-8; Adam lr 1e-3 betas
 * (0.9, 0.999) eps 1e-8 weight_decay 0; AdamW the same with weight_decay 1e-2. */
void nn_optim_defaults(nn_optim *o, nn_optim_kind kind);
/* allocate state for n parameters (after setting the hyper-parameters);
 * 0 ok, -1 out of memory */
int nn_optim_init(nn_optim *o, size_t n);
void nn_optim_free(nn_optim *o);
/* one step: p -= update(g) */
void nn_optim_step(nn_optim *o, float *p, const float *g);

/* ---- early stopping (Keras EarlyStopping(patience, min_delta,
 * restore_best_weights=True)): a loss improves when it is below
 * best - min_delta; after `patience` epochs without improvement, stop. ---- */
typedef struct {
    int patience;          /* 0 = never stop early */
    double min_delta;
    double best;
    int best_epoch;        /* -1 before the first update */
    int bad_epochs;
    size_t n;
    float *best_params;    /* copy of the parameters at the best epoch */
} nn_early_stop;

int nn_early_stop_init(nn_early_stop *e, int patience, double min_delta, size_t n);
void nn_early_stop_free(nn_early_stop *e);
enum { NN_ES_IMPROVED = 1, NN_ES_WORSE = 0, NN_ES_STOP = -1 };
/* record the epoch's loss; on improvement copies params */
int nn_early_stop_update(nn_early_stop *e, int epoch, double loss, const float *params);
/* copy the best parameters back (no-op before any update) */
void nn_early_stop_restore(const nn_early_stop *e, float *params);
#endif
