/* mlp.h - a feed-forward network built from the layers of nn.h: numeric
 * inputs (normalised) concatenated with one embedding per categorical input,
 * hidden dense layers (each: dense -> [batchnorm] -> activation -> [dropout]),
 * and an output dense layer split into heads, each with its own activation,
 * loss and targets.  Parameters live in one allocation, gradients in another
 * with the same layout, activations in one arena sized for a batch (llm.c).
 *
 * Files: mlp.c (network), mlp_arch.c (architecture: flags, checks),
 * mlp_json.c (architecture from and to JSON), mlp_io.c (model file).
 * The training loops are the train-mlp stage's (stages/train-mlp/), as
 * train-cnn's and mpd-train's are theirs. */
#ifndef SONGPIPE_MLP_H
#define SONGPIPE_MLP_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "nn.h"
#include "loss.h"
#include "optim.h"
#include "rng.h"
#include "tensor.h"

#define NN_MAX_LAYERS 64
#define NN_MAX_CAT 32
#define NN_MAX_HEADS 32
#define NN_MAX_UNITS 1000000
#define NN_MAX_VOCAB 100000000
#define NN_MAX_INPUTS 100000
#define NN_MLP_VERSION 1

/* ---------------- architecture ---------------- */
typedef struct {
    char *column;          /* input column holding integer codes */
    int64_t vocab;         /* table rows; 0 = take max code + 1 from the data */
    int dim;               /* embedding width */
} nn_cat_spec;

typedef struct {
    char *name;            /* NULL = "dense.<index>" */
    int units;
    nn_act act;
    float slope;           /* leaky_relu negative slope */
    float dropout;         /* probability of zeroing, training only */
    int batchnorm;
} nn_layer_spec;

typedef struct {
    nn_loss loss;
    nn_act act;            /* applied to this head's outputs (not for ce) */
    float slope;           /* its leaky_relu slope */
    int from_inputs;       /* targets = the normalised numeric inputs (autoencoder) */
    int ntargets;
    char **targets;        /* regression/bce: one column per output; ce: 1 column of class codes */
    int64_t classes;       /* ce: number of classes; 0 = from the data */
    float weight;          /* the head's loss is multiplied by this */
    int dim;               /* infonce/triplet: embedding width (no targets) */
    float temperature;     /* infonce: tau (default 0.1) */
    float margin;          /* triplet: margin (default 0.3) */
} nn_head_spec;

typedef struct {
    int n_num;
    char **num;            /* numeric input columns */
    int n_cat;
    nn_cat_spec cat[NN_MAX_CAT];
    int n_layers;          /* hidden layers + the output layer (last) */
    nn_layer_spec layer[NN_MAX_LAYERS];
    int n_heads;
    nn_head_spec head[NN_MAX_HEADS];
} nn_arch;

/* what the compact flags say: --layers 10,8,6,1 --act leaky_relu ... */
typedef struct {
    const char *layers;          /* "10,8,6,1": hidden widths then the output width */
    const char *act;             /* hidden activation */
    float slope, dropout;
    int batchnorm;
    const char *out_act;         /* output activation (default: linear; bce: sigmoid) */
    nn_loss loss;
    int n_num; char **num;       /* numeric inputs */
    const char *categorical;     /* "col:dim,col:dim" or NULL */
    int n_targets; char **targets;
    int autoencoder;             /* targets = the numeric inputs */
    float temperature, margin;   /* infonce, triplet (0 = defaults) */
} nn_arch_flags;

int nn_arch_from_flags(nn_arch *a, const nn_arch_flags *f, char *err, size_t errlen);
/* `src` names the JSON in messages (a file name, or "model meta") */
int nn_arch_from_json(nn_arch *a, const cJSON *j, const char *src, char *err, size_t errlen);
/* read and parse a JSON architecture file; syntax errors name the line */
int nn_arch_load_file(nn_arch *a, const char *path, char *err, size_t errlen);
cJSON *nn_arch_to_json(const nn_arch *a);
/* a float as the shortest decimal that reads back as the same float */
cJSON *nn_json_float(float v);
int nn_arch_copy(nn_arch *dst, const nn_arch *src);
void nn_arch_free(nn_arch *a);
/* ranges and consistency; `resolved` also requires every vocab and class
 * count to be known */
int nn_arch_check(const nn_arch *a, int resolved, char *err, size_t errlen);
/* once every class count is known: set the output layer's width to what the
 * heads need, or check the width the user gave (flags) against it */
int nn_arch_resolve_output(nn_arch *a, char *err, size_t errlen);
int nn_head_width(const nn_head_spec *h);         /* outputs of the head */
int nn_head_tcols(const nn_head_spec *h);         /* target columns it reads */
/* name of layer l ("dense.<l>" unless named) into buf */
const char *nn_layer_name(const nn_arch *a, int l, char *buf, size_t n);

/* ---------------- network ---------------- */
typedef struct {
    char name[64];         /* "dense.0.weight", "bn.1.running_var", "emb.0.weight" */
    float *p;              /* values */
    float *g;              /* gradient, NULL for buffers (running statistics) */
    int64_t rows, cols;    /* rows = 1 for vectors */
    int ndim;              /* 2: a matrix [rows, cols]; 1: a vector [cols] */
} nn_tensor;

typedef struct {
    nn_arch arch;
    int in_width;                      /* n_num + sum of embedding dims */
    int n_tcols;                       /* columns of the target matrix */
    int in_dim[NN_MAX_LAYERS];         /* input width of each layer */
    int head_off[NN_MAX_HEADS];        /* first output column of each head */
    int head_toff[NN_MAX_HEADS];       /* first target column of each head */
    int emb_off[NN_MAX_CAT];           /* column of each embedding in x0 */
    size_t n_params, n_buffers;
    float *params, *grads, *buffers;   /* one allocation each */
    float *emb[NN_MAX_CAT], *demb[NN_MAX_CAT];
    float *W[NN_MAX_LAYERS], *b[NN_MAX_LAYERS], *dW[NN_MAX_LAYERS], *db[NN_MAX_LAYERS];
    float *gamma[NN_MAX_LAYERS], *beta[NN_MAX_LAYERS];
    float *dgamma[NN_MAX_LAYERS], *dbeta[NN_MAX_LAYERS];
    float *run_mean[NN_MAX_LAYERS], *run_var[NN_MAX_LAYERS];
    float *norm_mean, *norm_std;       /* n_num, in buffers */
    float *t_shift, *t_scale;          /* n_tcols: target = (raw - shift) / scale */
    int n_tensors;
    nn_tensor *tensors;
    float bn_momentum, bn_eps;         /* torch defaults 0.1, 1e-5 */
    rng_state rng;                     /* dropout masks */
    /* arena for batches of up to B rows */
    int B;
    float *arena;
    int32_t *ids;                      /* B * n_cat */
    float *x0, *dx0, *g0, *g1, *dpred;
    float *z[NN_MAX_LAYERS], *xhat[NN_MAX_LAYERS], *invstd[NN_MAX_LAYERS];
    float *bn[NN_MAX_LAYERS], *a[NN_MAX_LAYERS], *mask[NN_MAX_LAYERS], *h[NN_MAX_LAYERS];
    const float *inp[NN_MAX_LAYERS];   /* what layer l read in the last forward */
    int last_train;                    /* the last forward was in training mode */
} nn_mlp;

/* arch must pass nn_arch_check(resolved=1); it is copied.  Parameters are
 * zero; call nn_mlp_init_params or load them. */
int nn_mlp_create(nn_mlp *net, const nn_arch *arch, char *err, size_t errlen);
void nn_mlp_free(nn_mlp *net);
/* PyTorch's default initialisation (nn.Linear, nn.Embedding N(0,1),
 * BatchNorm gamma 1 beta 0, running mean 0 var 1), from our seeded rng */
void nn_mlp_init_params(nn_mlp *net, uint64_t seed);
nn_tensor *nn_mlp_tensor(nn_mlp *net, const char *name);
/* size the activation arena for batches of up to B rows; 0 ok, -1 OOM */
int nn_mlp_reserve(nn_mlp *net, int B);

/* x[B, n_num + n_cat] (leading dim ldx): raw numeric inputs then category
 * codes (floats holding integers), in arch order.  Returns -1 with *bad_row
 * and *bad_col set if a code is not an integer in [0, vocab) or a numeric
 * value is not finite. */
int nn_mlp_check_input(const nn_mlp *net, const float *x, int ldx, int B,
                       int *bad_row, int *bad_col);
/* forward pass; train = 1 uses batch statistics and dropout */
void nn_mlp_forward(nn_mlp *net, const float *x, int ldx, int B, int train);
/* output of layer l (after its activation; the output layer after the head
 * activations, ce heads as logits): B rows of layer[l].units, contiguous */
const float *nn_mlp_output(const nn_mlp *net, int l);
/* loss of the last forward against scaled targets t[B, n_tcols]; writes the
 * gradient for nn_mlp_backward.  head_loss (may be NULL) gets each head's. */
double nn_mlp_loss(nn_mlp *net, const float *t, int ldt, int B, double *head_loss);
void nn_mlp_zero_grad(nn_mlp *net);
void nn_mlp_backward(nn_mlp *net, int B);
/* predictions in target units: head activations, softmax for ce heads,
 * regression heads unscaled (raw = y * scale + shift); y[B, out_width] */
void nn_mlp_predict(const nn_mlp *net, float *y, int B);
int nn_mlp_out_width(const nn_mlp *net);

/* ---------------- model file (mlp_io.c) ----------------
 * A tensor stream with one tensor per parameter or buffer (one row of shape
 * [rows, cols] or [n], key = the tensor's name).  The first tensor's meta
 * holds {"songpipe_mlp": 1, "arch": {...}, "normalize": {normstats JSON of
 * the numeric inputs}, "targets": {"columns", "shift", "scale"}, "train": {...}}. */
int nn_mlp_save(const nn_mlp *net, const char *path, const cJSON *train_meta,
                char *err, size_t errlen);
/* builds net from the file; checks every name and shape and says which
 * tensor is missing, extra, or of the wrong shape */
int nn_mlp_load(nn_mlp *net, const char *path, char *err, size_t errlen);

/* Gather columns cols[0..ncols) of n rows (row_elems values of dtype t
 * each) as floats into dst (leading dim ld): what train-mlp and embed feed
 * the network from any numeric tensor. */
void nn_gather_f32(float *dst, int ld, const void *rows, ts_dtype t, int64_t row_elems,
                   int64_t n, const int *cols, int ncols);

#endif
