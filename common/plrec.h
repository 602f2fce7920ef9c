/* plrec.h - the playlist-continuation models as one list, shared by
 * mpd-recommend and serve: their names, their defaults, building what a
 * model needs (the training playlists' CSR arrays, the neural model's
 * weights, the EASE matrix) and answering one query.  The models
 * themselves are plmodel.h (pop, title, cooc, itemknn, rp3beta, ease, als) and
 * plneural.h (neural, blend). */
#ifndef SONGPIPE_PLREC_H
#define SONGPIPE_PLREC_H
#include <stddef.h>
#include <stdint.h>
#include "playlists.h"
#include "plmodel.h"
#include "plneural.h"

typedef enum { PLR_POP, PLR_TITLE, PLR_COOC, PLR_NEURAL, PLR_BLEND, PLR_ITEMKNN, PLR_RP3BETA, PLR_EASE,
               PLR_ALS, PLR_NMODELS } plr_kind;
extern const char *const plr_names[PLR_NMODELS];   /* "pop", "title", ... as --model takes them */
extern const char *const plr_titles[PLR_NMODELS];  /* "popularity", "co-occurrence", ... for people */

/* the kind named name, or -1 */
int plr_parse(const char *name);
/* "pop, title, cooc, neural, blend, itemknn, rp3beta, ease or als" into buf */
const char *plr_list(char *buf, size_t cap);
/* 1 when the model needs the neural model's weights (mpd-train -o) */
int plr_needs_weights(plr_kind kind);
/* 1 when the model may read a file of mpd-train instead of fitting at
 * build: ease (--model ease -o: weights B), als (--model als -o: factors) */
int plr_takes_weights(plr_kind kind);

typedef struct {
    plr_kind kind;
    double blend;               /* blend: the neural share, 0..1 (0.2) */
    plm_graph_opts graph;       /* itemknn, rp3beta: plm_graph_defaults */
    double lambda;              /* ease: the L2 weight (2000) */
    int32_t ease_tracks;        /* ease: the vocabulary, most played first (8192) */
    plm_als_opts als;           /* als: plm_als_defaults */
    double recency;             /* itemknn, rp3beta, als: seed weights by place, plm_seed_weight (0: alike) */
    /* als fitted at build: called after every iteration (may be NULL) */
    void (*als_report)(void *ctx, int iter, const plm_als_model *a);
    void *als_ctx;
} plr_opts;
/* The defaults of every parameter, chosen on a validation split of the
 * training playlists (pipelines/playlists.md). */
plr_opts plr_defaults(plr_kind kind);

typedef struct {
    plr_opts o;
    plm_model m;
    pln_model *net;             /* neural, blend */
    plm_ease_model ease;        /* ease */
    plm_als_model als;          /* als */
    int built;
} plr_model;

/* Builds the model o->kind over train: titles per training playlist (may
 * be NULL), ntracks the vocabulary bound (raised to the network's), weights
 * the neural model's file (neural and blend: required), or mpd-train's EASE
 * weights or ALS factors (ease, als: optional; other models: NULL).
 * Without a file EASE is fitted here (about ease_tracks^3 flops) and ALS
 * too (iterations x (rows x factors^2 x cg_steps) flops; seed o->als.seed,
 * the same factors for the same OpenBLAS thread count).  0, or -1 with
 * err; *r is then empty (plr_free is harmless). */
int plr_build(plr_model *r, const plr_opts *o, const pl_set *train, const char *const *titles, int32_t ntracks,
              const char *weights, char *err, size_t errlen);
void plr_free(plr_model *r);

/* Up to n tracks after the seeds (title: the playlist's name, "" unknown),
 * best first, never a seed, as the model's function does; no seed: the
 * title model for the learned and item models.  The count, -1 out of
 * memory, -2 co-occurrence scores past 2^32 - 1.  Uses the model's scratch
 * space: one query at a time per model. */
int64_t plr_recommend(plr_model *r, const char *title, const int32_t *seeds, int64_t ns, int32_t *out, int64_t n);
/* nq queries (titles[q], seeds[q], ns[q]) into out + q n, k[q] their
 * counts: ALS answers the batch with one matrix product (plm_als_many:
 * the same lists up to near-ties), the other models one query at a time as
 * plr_recommend.  0, or plr_recommend's negative code (-1, -2) of the
 * first query that failed. */
int plr_recommend_many(plr_model *r, int64_t nq, const char *const *titles, const int32_t *const *seeds,
                       const int64_t *ns, int32_t *out, int64_t n, int64_t *k);
#endif
