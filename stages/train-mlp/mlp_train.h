/* mlp_train.h - the training loops of the train-mlp stage: rows with
 * targets (train.c) and pairs of songs that share a playlist (pairs.c),
 * over the network of common/mlp.h. */
#ifndef SONGPIPE_MLP_TRAIN_H
#define SONGPIPE_MLP_TRAIN_H
#include <signal.h>
#include "mlp.h"

/* ---------------- training (train.c) ---------------- */
/* the per-epoch metric of the first head: AUTO = accuracy for ce/bce, MAE
 * for regression; ACCURACY on a regression head = share of outputs whose
 * prediction rounded to the nearest integer equals the rounded target (both
 * in target units: Keras' accuracy on round(y_pred) for a 0/1 target) */
typedef enum { NN_METRIC_AUTO, NN_METRIC_MAE, NN_METRIC_ACCURACY } nn_metric;
#define NN_METRIC_NAMES "auto mae accuracy"
int nn_metric_parse(const char *s, nn_metric *m);
/* "val_mae" or "val_accuracy": what metric m reports for net's first head */
const char *nn_metric_name(const nn_mlp *net, nn_metric m);

typedef struct {
    int epoch;                 /* 1-based */
    double train_loss, val_loss, metric, seconds;
    int improved;
} nn_epoch_stats;

typedef struct {
    int epochs, batch, patience;
    double min_delta;
    double val_frac;           /* share of rows held out for validation */
    uint64_t seed;
    nn_metric metric;          /* 0 = NN_METRIC_AUTO */
    nn_optim optim;            /* hyper-parameters (state allocated inside) */
    /* called after each epoch; improved = the model is the best so far
     * (save it now).  Non-zero return stops training with an error. */
    int (*on_epoch)(void *ctx, nn_mlp *net, const nn_epoch_stats *s);
    void *ctx;
    volatile sig_atomic_t *stop;   /* set asynchronously (SIGINT) to stop */
} nn_train_cfg;

typedef struct {
    int epochs_run, best_epoch, stopped_early, interrupted;
    double best_loss;
    int64_t n_train, n_val;
    const char *metric_name;   /* "val_mae", "val_accuracy" */
} nn_train_result;

/* x[N, n_num + n_cat] raw inputs (checked), t[N, n_tcols] scaled targets.
 * Shuffles rows with cfg->seed, holds out val_frac, trains, and leaves the
 * best parameters in net.  0 ok, -1 error in err. */
int nn_mlp_train(nn_mlp *net, const float *x, const float *t, int64_t N,
                 nn_train_cfg *cfg, nn_train_result *res, char *err, size_t errlen);

/* The end of epoch s->epoch in either loop (train.c): early stopping judges
 * s->val_loss (the best parameters kept, and the best buffers in best_buf),
 * then cfg->on_epoch runs.  0 go on, 1 stop (early or Ctrl-C), -1 error. */
int nn_train_epoch_end(nn_train_cfg *cfg, nn_mlp *net, nn_early_stop *es, float *best_buf,
                       nn_epoch_stats *s, nn_train_result *res, char *err, size_t errlen);
/* After the last epoch: the best epoch's parameters and buffers in net. */
void nn_train_finish(nn_mlp *net, nn_early_stop *es, const float *best_buf, nn_train_result *res);

/* ---------------- training on pairs (pairs.c) ---------------- */
/* group membership: entry i puts row song[i] of x in group (playlist) list[i] */
typedef struct { const int32_t *song, *list; int64_t n; } nn_members;
/* net's single output is an infonce or triplet embedding.  Holds out
 * cfg->val_frac of the groups with 2+ rows (whole groups) for validation;
 * each epoch pairs every training entry with a random other song of its
 * group; logq_correction subtracts log(share of the training entries) of
 * each positive song from its infonce logits (Yi et al. 2019).  res->n_train
 * and n_val count training entries and validation pairs.  0 ok, -1 error. */
int nn_mlp_train_pairs(nn_mlp *net, const float *x, int64_t N, const nn_members *m, int logq_correction,
                       nn_train_cfg *cfg, nn_train_result *res, char *err, size_t errlen);

#endif
