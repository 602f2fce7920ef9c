/* weights.h - reading one named weight tensor of a model file (a tensor
 * stream of f32 tensors, one row each), shared by the MLP and CNN loaders. */
#ifndef SONGPIPE_WEIGHTS_H
#define SONGPIPE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>
#include "tensor.h"

/* The tensor h (just opened on r) must be f32 of exactly shape[0..ndim-1]
 * and hold one row; its values go to dst.  0, or -1 with a message naming
 * path and the tensor in err. */
int weights_read(ts_reader *r, const ts_header *h, float *dst, int ndim, const int64_t *shape,
                 const char *path, char *err, size_t errlen);

/* A model file read whole: ops->build makes the model from the first
 * tensor's header (the architecture is in its meta), then every tensor is
 * read into the slot ops->slot names (its index among the model's
 * n tensors, destination, shape); a tensor that is not part of the
 * architecture, one that appears twice and one that is missing are errors.
 * On error the model is freed (ops->destroy) if it was built. */
typedef struct {
    int (*build)(void *model, const ts_header *first, const char *path, char *err, size_t errlen);
    void (*destroy)(void *model);
    int (*count)(void *model);
    const char *(*name)(void *model, int i);
    /* the tensor called name: its index, or -1 when there is none */
    int (*slot)(void *model, const char *name, float **dst, int *ndim, int64_t shape[4]);
} weights_ops;

int weights_load(const char *path, void *model, const weights_ops *ops, char *err, size_t errlen);
/* The model's n tensors in index order, each one f32 row keyed by its name,
 * the first with meta (taken over, freed here).  0, or -1 with err. */
int weights_save(const char *path, void *model, const weights_ops *ops, cJSON *meta,
                 char *err, size_t errlen);

#endif
