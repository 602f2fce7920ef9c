/* plmodel.h - playlist-continuation baselines over a training set of
 * playlists: popularity, title popularity and item co-occurrence.  Each
 * fills up to n distinct tracks, best first, never a seed track; when a
 * model has fewer candidates it continues with the most popular tracks.
 * Ties break by popularity, then by the lower track index, so results are
 * deterministic. */
#ifndef SONGPIPE_PLMODEL_H
#define SONGPIPE_PLMODEL_H
#include <stddef.h>
#include <stdint.h>
#include "playlists.h"
#include "strmap.h"
#include <cjson/cJSON.h>

typedef struct {
    int32_t ntracks;
    int64_t npl;
    int64_t *pl_off;        /* train playlist -> its distinct tracks (CSR) */
    int32_t *pl_tr;
    int64_t *tr_off;        /* track -> the train playlists holding it (CSR) */
    int32_t *tr_pl;
    int64_t *pop;           /* playlist rows per track in the training set */
    int32_t *by_pop;        /* tracks, most popular first */
    int32_t *rank;          /* track -> its place in by_pop (the tie order) */
    strmap title_id;        /* normalised title -> title id */
    int64_t *title_off;     /* title id -> train playlists with that title */
    int32_t *title_pl;
    /* scratch, reset after every query */
    uint32_t *score;        /* integer scores of the count models */
    int32_t *cand;          /* tracks with a non-zero score */
    uint64_t *keys;         /* ranking keys of the candidates */
    int64_t ncand;
    int32_t *plw;           /* per train playlist: seeds it holds */
    int32_t *pl_touched;
    unsigned char *taken;   /* per track: seed or already recommended */
    /* scratch of the item-graph models (plm_graph), made on first use */
    float *g_row, *g_q;     /* one seed's row; the query's scores */
    int32_t *g_rowt, *g_qt; /* the tracks set in each */
    int64_t g_nq;
    void *g_e;              /* (score, track) pairs for the selections */
    double *g_dpow, g_dpow_x;   /* per track: (playlists holding it)^g_dpow_x */
} plm_model;

/* titles: per train playlist its name (NULL or "" unknown); titles may be
 * NULL.  ntracks: the vocabulary size (>= train.ntracks).  0 ok, -1 out of
 * memory (err says so). */
int plm_build(plm_model *m, const pl_set *train, const char *const *titles,
              int32_t ntracks, char *err, size_t errlen);
void plm_free(plm_model *m);

/* The title normalisation of the title model: text_fold compact (lower
 * case, accents and punctuation and spaces removed), into out. */
void plm_norm_title(const char *title, char *out, size_t cap);

/* Each returns how many tracks it wrote to out (n unless the vocabulary
 * minus the seeds is smaller), or -1 out of memory; plm_cooc -2 when a
 * score could pass 2^32 - 1 (more than 4 billion seed-playlist pairs). */
int64_t plm_popular(plm_model *m, const int32_t *seeds, int64_t ns, int32_t *out, int64_t n);
/* popularity within the train playlists whose normalised title equals the
 * query's; no such playlist: plain popularity */
int64_t plm_title(plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                  int32_t *out, int64_t n);
/* score(t) = sum over seed tracks s of C[s,t], C = A^T A the co-occurrence
 * counts of the binary train-playlist x track matrix A, computed without
 * forming C: w[p] = number of seeds in playlist p, score(t) = sum_p w[p] A[p,t].
 * No seed: the title model. */
int64_t plm_cooc(plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                 int32_t *out, int64_t n);
/* The item-to-item models (plmodel_graph.c).  Each known seed s gives a row of
 * an item-item matrix, built at query time from the training playlists p
 * that hold s (d_t = playlists holding t, |p| = distinct tracks of p):
 *   itemknn: C[s,t] / (d_s^alpha d_t^(1-alpha) + shrink), C the
 *            co-occurrence counts: asymmetric cosine with shrinkage
 *            (alpha 0.5 = cosine; Aiolli 2013, as used by the RecSys 2018
 *            teams);
 *   rp3beta: sum_p (1 / (d_s |p|))^alpha / d_t^beta: the random walk
 *            s -> p -> t with its transition probabilities raised to
 *            alpha, divided by the popularity of t to the beta (Paudel,
 *            Christoffel, Newell, Bernstein 2017, "Updatable, accurate,
 *            diverse, and scalable recommendations for interactive
 *            applications").
 * With pl_pow, itemknn's C[s,t] is the weighted count sum_p |p|^-pl_pow
 * (long playlists say less about each pair); each entry is raised to
 * `power` (Aiolli 2013: q > 1 favours the strongest neighbours); with
 * row_norm each row is scaled to a largest entry of 1, so every seed
 * weighs the same.
 * Only each row's `neighbours` best entries count (0: all); the rows of the
 * seeds are added up (a repeated seed counts once), each times its
 * plm_seed_weight under `recency` (1 for every seed when 0), seeds excluded, ties
 * as above, then popularity fills the list.  No known seed: the title
 * model.  Cost per query: the rows of the seeds' playlists. */
/* the ranking rule of every model: score a before score b when higher,
 * then the more popular track, then the lower index (rank = place in
 * by_pop) */
static inline int plm_ahead(const plm_model *m, float sa, int32_t a, float sb, int32_t b) {
    if (sa != sb) return sa > sb;
    return m->rank[a] < m->rank[b];
}

/* Seed position weighting: a query is the start of a playlist and its
 * truth the rest, so the last seeds say more about what follows than the
 * first.  Seed i of seeds[0..ns) (0-based, playlist order) weighs
 * exp(-recency (ns - 1 - i)): the last seed 1, each place further back
 * exp(-recency) as much (recency 0.1: half the weight 7 places back).  A
 * repeated seed counts once, with the weight of its last place.  recency 0
 * gives exactly 1 to every seed (today's models). */
double plm_seed_weight(double recency, const int32_t *seeds, int64_t ns, int64_t i);

typedef enum { PLM_ITEMKNN, PLM_RP3BETA } plm_graph_kind;
typedef struct {
    plm_graph_kind kind;
    double alpha, beta, shrink;
    int64_t neighbours;
    double power;           /* every entry of a row raised to it (Aiolli 2013's locality q; 1 = plain) */
    double pl_pow;          /* itemknn: a playlist p adds |p|^-pl_pow to C[s,t] (0 = counts) */
    int row_norm;           /* 1: each seed's row divided by its largest entry before the sum */
    double recency;         /* seed i of ns (playlist order) weighs exp(-recency (ns-1-i)): plm_seed_weight (0 = alike) */
} plm_graph_opts;
/* the parameters chosen on the validation split (pipelines/playlists.md):
 * itemknn alpha 0.7, shrink 10; rp3beta alpha 0.5, beta 0; every
 * neighbour kept */
plm_graph_opts plm_graph_defaults(plm_graph_kind kind);
int64_t plm_graph(plm_model *m, const plm_graph_opts *o, const char *title, const int32_t *seeds, int64_t ns,
                  int32_t *out, int64_t n);

/* EASE^R (Steck 2019, "Embarrassingly shallow autoencoders for sparse
 * data"): B = I - P diag(1 / diag P), P = (X'X + lambda I)^-1, X the binary
 * training-playlist x track matrix restricted to the V most played tracks
 * (the dense V x V float matrix is the memory: 4 V^2 bytes; the Cholesky
 * factorisation and inverse, spotrf/spotri, cost about V^3 flops).
 * score(t) = sum over the distinct known seeds s of B[s, t]; the tracks
 * outside the vocabulary follow by popularity; no known seed: the title
 * model. */
typedef struct {
    int32_t V, ntracks, nscore;   /* nscore: the entries of score */
    double lambda;
    int32_t *col_of;        /* track -> vocabulary column, or -1 */
    int32_t *vocab;         /* column -> track */
    float *B;               /* V x V, row s = the weights of seed s */
    float *vscore, *score;  /* scratch: V, ntracks */
} plm_ease_model;
/* 0 ok; -1 with err (out of memory, not positive definite): init, gram
 * over every playlist, solve */
int plm_ease_build(plm_ease_model *e, const plm_model *m, int32_t V, double lambda, char *err, size_t errlen);
/* The steps, for a Gram matrix summed over shards (mpd-train --shard):
 * init picks the V most played tracks of m (fewer when fewer are played)
 * and zeroes B; alloc takes a given vocabulary (column -> track) instead;
 * gram adds X'X of the playlists p with owns(ctx, p) (all when owns is
 * NULL) to B as counts; solve turns B = X'X into the weights.  0 ok, -1
 * with err (e freed by init/alloc; left for plm_ease_free by solve). */
int plm_ease_init(plm_ease_model *e, const plm_model *m, int32_t V, char *err, size_t errlen);
int plm_ease_alloc(plm_ease_model *e, int32_t ntracks, const int32_t *vocab, int32_t V, char *err, size_t errlen);
void plm_ease_gram(plm_ease_model *e, const plm_model *m, int (*owns)(void *ctx, int64_t p), void *ctx);
int plm_ease_solve(plm_ease_model *e, double lambda, char *err, size_t errlen);
/* The files of mpd-train --model ease: tensor 'ease.gram' (i32 counts
 * X'X) or 'ease.B' (f32 weights, meta.lambda), V rows of V keyed by track
 * index, rows in vocabulary order.  Load reads the named one into B (the
 * counts as floats, exact below 2^24); ntracks: the vocabulary bound of
 * the caller (a key at or past it is refused).  0 ok, -1 with err. */
int plm_ease_load(plm_ease_model *e, const char *path, const char *tensor, int32_t ntracks, char *err, size_t errlen);
void plm_ease_free(plm_ease_model *e);
int64_t plm_ease(plm_ease_model *e, plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                 int32_t *out, int64_t n);

/* Implicit-feedback matrix factorisation (plmodel_als.c): Hu, Koren,
 * Volinsky 2008, with conjugate-gradient updates (Takacs, Pilaszy, Tikk
 * 2011).  The binary training-playlist x track matrix (distinct tracks) is
 * a preference 1 with confidence 1 + alpha on every observed cell, 0 with
 * confidence 1 elsewhere; the loss
 *   sum_{p,t} c_pt (P_pt - x_p . y_t)^2 + lambda (sum |x_p|^2 + sum |y_t|^2)
 * is lowered by alternating the playlist and track sides, each row taking
 * cg_steps conjugate-gradient steps from its current value (Y'Y once per
 * half-iteration, sgemm).  Memory: (playlists + tracks) x factors floats.
 * A query is folded in as a new playlist, solved exactly (spotrf/spotrs on
 * the factors x factors system), scored against every track (sgemv); the
 * tracks no training playlist holds come last; no known seed: the title
 * model. */
typedef struct {
    int factors, iterations, cg_steps;
    double lambda, alpha;
    uint64_t seed;
} plm_als_opts;
/* the values chosen on the validation split (pipelines/playlists.md) */
plm_als_opts plm_als_defaults(void);
typedef struct {
    int factors, iterations;
    int32_t ntracks;
    double lambda, alpha;
    double recency;         /* fold-in: seed i of ns has confidence 1 + alpha plm_seed_weight (0 after train and load: alike) */
    float *X;               /* playlist factors (training only; NULL when loaded) */
    float *Y;               /* ntracks x factors track factors */
    float *G;               /* Y'Y + lambda I */
    float *A, *xq, *score, *work;   /* scratch */
    int32_t nscore;         /* the entries of score */
    float *qx, *qs;         /* plm_als_many: a batch's factors, a chunk's scores */
    int64_t nqx, nqs;       /* their sizes in floats */
} plm_als_model;
/* report (may be NULL) is called after every iteration.  0 ok; -1 with err */
int plm_als_train(plm_als_model *a, const plm_model *m, const plm_als_opts *o,
                  void (*report)(void *ctx, int iter, const plm_als_model *a), void *ctx,
                  char *err, size_t errlen);
/* the loss above for the current factors (needs X: after plm_als_train) */
double plm_als_loss(const plm_als_model *a, const plm_model *m);
/* x = the exact factors of a playlist holding the seeds (distinct, known;
 * with a->recency, seed i's confidence is 1 + alpha plm_seed_weight, its
 * preference still 1); returns how many seeds counted (0: x = 0), -1 when the system is not
 * positive definite */
int plm_als_fold_in(plm_als_model *a, const int32_t *seeds, int64_t ns, float *x);
int64_t plm_als(plm_als_model *a, plm_model *m, const char *title, const int32_t *seeds, int64_t ns,
                int32_t *out, int64_t n);
/* nq queries at once (titles[q], seeds[q], ns[q]): each folded in as by
 * plm_als, then the scores of the batch's factors against every track's in
 * one sgemm per chunk of rows (a chunk's scores at most
 * PLM_ALS_SCORE_BYTES, or one row), then each row's list as plm_als makes
 * it, into out + q n; k[q] its count.  Memory: nq x factors floats and the
 * chunk.  The scores differ from plm_als's sgemv in their last bits (the
 * summation order of the kernels), so lists may differ where two scores
 * are within rounding of each other; the same batch and thread count give
 * the same lists.  0 ok, -1 out of memory or a system not positive
 * definite (k of the remaining queries undefined). */
#ifndef PLM_ALS_SCORE_BYTES
#define PLM_ALS_SCORE_BYTES ((int64_t)32 << 20)
#endif
int plm_als_many(plm_als_model *a, plm_model *m, int64_t nq, const char *const *titles, const int32_t *const *seeds,
                 const int64_t *ns, int32_t *out, int64_t n, int64_t *k);
/* the model file (tensor 'als.items', f32 x factors keyed by track); extra
 * (may be NULL, taken over) goes to meta.train.  0 ok, -1 with err */
int plm_als_save(const plm_als_model *a, const char *path, cJSON *extra, char *err, size_t errlen);
int plm_als_load(plm_als_model *a, const char *path, char *err, size_t errlen);
void plm_als_free(plm_als_model *a);

/* top n of a dense score over every track (a learned model's scores),
 * seeds excluded, ties as above. */
int64_t plm_top_dense(plm_model *m, const float *score, const int32_t *seeds, int64_t ns,
                      int32_t *out, int64_t n);

/* The co-occurrence counts C = A^T A of the binary playlist x track matrix
 * A of the playlists p of train with owns(ctx, p) (every playlist when owns
 * is NULL): emit(a, b, C[a,b]) for every non-zero C[a,b] with a <= b (C is
 * symmetric; C[a,a] = playlists holding a), in (a, b) order.  Memory: the
 * owned playlists as CSR and two int32 arrays of ntracks.  0 ok; -1 with
 * err (out of memory, emit failed). */
int plm_cooc_counts(const pl_set *train, int (*owns)(void *ctx, int64_t p), void *owns_ctx,
                    int (*emit)(void *ctx, int32_t a, int32_t b, int32_t count), void *emit_ctx,
                    int64_t *nplaylists, char *err, size_t errlen);
#endif
