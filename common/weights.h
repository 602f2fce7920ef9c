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

#endif
