/* knn_stage.h - what the knn stage's files share: its options, its state
 * (one app, the context every part is handed) and the helpers both the
 * query paths (knn.c) and the --index-shard part (index_shard.c) call. */
#ifndef SONGPIPE_KNN_STAGE_H
#define SONGPIPE_KNN_STAGE_H

#include "catalog.h"
#include "knn.h"
#include "knncache.h"
#include "shard.h"
#include "songsearch.h"
#include "../formats/tensor.h"

#include <stdio.h>

enum { FMT_AUTO, FMT_TEXT, FMT_TSV, FMT_JSON, FMT_TENSOR };

typedef struct {
    const char *index, *catalog, *output, *song, *playlist, *playlist_file;
    const char *artist, *artists, *batch, *title_col, *artist_col;
    int k, threads, first, self, max_per_artist, fmt, timing, index_cache;
    knn_metric metric;
    shard_spec shard, index_shard;
    int candidates;             /* --index-shard: per query and part; 0 = default */
} opts;

/* the stage's state */
typedef struct {
    opts o;
    ts_table tab;               /* the index table (f32 rows) */
    int d;
    knn_index ix;
    knn_cache cache;            /* --index-cache: the mapped index */
    catalog cat;
    int have_cat;
    cat_songs songs;
    double search_secs;
    song_search ss;             /* the filter and the filtered search */
    /* output */
    int fmt;
    ts_writer *w;
    FILE *f;
    shard_out *so;              /* --shard: meta and row positions */
} app;

/* knn.c */
void knn_load_catalog(app *a);               /* a->cat, a->songs, a->ss over a->tab */
void knn_shard_describe(app *a, int self);   /* the inputs and options of a part, in a->so */
int *knn_map_columns(app *a, const ts_header *qh, const char *path);
int knn_same_file(const char *x, const char *y);
/* index_shard.c: --index-shard I/N, the whole run */
void knn_run_index_shard(app *a);

#endif
