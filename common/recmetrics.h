/* recmetrics.h - the RecSys Challenge 2018 playlist-continuation metrics,
 * exactly as the challenge's metrics.py (Spotify AB, C. De Boom, v0.1,
 * 2017-10-27) computes them; the formulas are stated in README.md.
 * G is the ground truth: the hidden tracks in playlist order, duplicates
 * kept (ng counts them); R the recommendations, best first.  Items are
 * int32 ids (track indices, or artist ids for artist-level scores).
 * Every function returns NAN when out of memory or when ng == 0. */
#ifndef SONGPIPE_RECMETRICS_H
#define SONGPIPE_RECMETRICS_H
#include <stdint.h>

#define RM_MAX_N 500    /* the challenge caps R at 500 recommendations */

/* R-precision = |set(R[1:|set(G)|]) ∩ set(G)| / |set(G)|, R first cut to
 * max_n: the distinct ground-truth tracks, as metrics.py's
 * target_count = len(set(targets)); a repeated hidden track counts once. */
double rm_r_precision(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t max_n);

/* NDCG@k = DCG / IDCG (metrics.py ndcg):
 *   DCG  = sum_i rel_i / log2(i + 1) over R' = R[1:k] de-duplicated (first
 *          occurrence kept; i is the 1-based place in R'),
 *          rel_i = 1 when R'_i is in G;
 *   IDCG = sum_{i=1..u} 1 / log2(i + 1), u = number of distinct items in
 *          G[1:min(k, |G|)] (= |set(G)| whenever |G| <= k). */
double rm_ndcg(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t k);

/* Recommended Songs clicks = floor(i0 / 10), i0 the 0-based place of the
 * first R item (within R[1:max_n]) in G; max_n / 10 + 1 (51 for 500) when
 * none is (metrics.py playlist_extender_clicks). */
double rm_clicks(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t max_n);

/* R-precision with artist partial credit (the challenge's later rules text,
 * Zamani et al. 2019; see README.md for the reading taken here):
 *   (|S_T ∩ G_T| + 0.25 |S_A ∩ G_A|) / |G_T|
 * S_T = distinct tracks of R[1:|G_T|]; G_T = distinct tracks of G; S_A = the
 * distinct artists of the tracks of S_T NOT in G_T; G_A = the distinct
 * artists of G.  artist[t] is track t's artist id (< 0: unknown, never
 * matches); every track id must be < nartist. */
double rm_r_precision_artist(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr,
                             int64_t max_n, const int32_t *artist, int64_t nartist);
#endif
