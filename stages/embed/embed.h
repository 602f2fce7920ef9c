/* embed.h - what the two halves of the `embed` stage share: its options
 * (parsed in stages/embed.c) and the train-cnn half (stages/embed/cnn.c),
 * which embed's main hands over to when the model is a train-cnn model. */
#ifndef SONGPIPE_EMBED_H
#define SONGPIPE_EMBED_H

#include "shard.h"

typedef struct {
    const char *model, *input, *output, *layer, *tensor, *name;
    int predict, list, batch, threads, track_keys;
    shard_spec shard;
} embed_opts;

/* spectrogram tiles in, one row per tile out (the embedding, the logits or
 * the class probabilities); exit code of the stage (dies on errors) */
int embed_cnn(const embed_opts *o);

#endif
