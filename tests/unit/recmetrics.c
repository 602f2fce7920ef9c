/* recmetrics.c - the RecSys Challenge 2018 metrics on hand-computed
 * examples, and against naive O(n^2) transcriptions of the formulas on
 * random lists (duplicates included). */
#include "check.h"
#include "recmetrics.h"
#include "rng.h"

#include <string.h>

#define L(...) ((const int32_t[]){__VA_ARGS__})
#define N(...) ((int64_t)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

/* ---- naive transcriptions of the formulas in recmetrics.h ---- */
static int in(const int32_t *v, int64_t n, int32_t x) {
    for (int64_t i = 0; i < n; i++) if (v[i] == x) return 1;
    return 0;
}
static int64_t dedup(int32_t *out, const int32_t *v, int64_t n) {
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++) if (!in(out, u, v[i])) out[u++] = v[i];
    return u;
}
/* metrics.py: target_count = len(set(targets)) is both the cut and the
 * denominator */
static double naive_rprec(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr) {
    int32_t s[600], g[600];
    int64_t ug = dedup(g, G, ng);
    int64_t u = dedup(s, R, nr < ug ? nr : ug), h = 0;
    for (int64_t i = 0; i < u; i++) h += in(G, ng, s[i]);
    return (double)h / (double)ug;
}
static double naive_ndcg(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr, int64_t k) {
    int32_t r[600], g[600];
    int64_t ur = dedup(r, R, nr < k ? nr : k), ug = dedup(g, G, ng < k ? ng : k);
    double dcg = 0, idcg = 0;
    for (int64_t i = 0; i < ur; i++) dcg += in(G, ng, r[i]) / log2(i + 2.0);
    for (int64_t i = 0; i < ug; i++) idcg += 1 / log2(i + 2.0);
    return dcg / idcg;
}
static double naive_clicks(const int32_t *G, int64_t ng, const int32_t *R, int64_t nr) {
    for (int64_t i = 0; i < nr && i < 500; i++) if (in(G, ng, R[i])) return (double)(i / 10);
    return 51;
}

int main(void) {
    /* Example 1: G = {1,2,3,4}; R = 5,1,6,2,7,8: hits at places 2 and 4. */
    const int32_t *G1 = L(1, 2, 3, 4), *R1 = L(5, 1, 6, 2, 7, 8);
    CHECK(CLOSE(rm_r_precision(G1, 4, R1, 6, 500), 0.5, 1e-12, 0), "R-precision: 2 of R[1:4] in G, / |G| = 4 -> 0.5");
    /* DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4) + 1/log2(5) */
    CHECK(CLOSE(rm_ndcg(G1, 4, R1, 6, 500), 0.4144299250118475, 1e-12, 0), "NDCG: (1/log2 3 + 1/log2 5) / IDCG(4) = 0.41443");
    CHECK(rm_clicks(G1, 4, R1, 6, 500) == 0, "clicks: first hit at place 2 (index 1) -> 0 refreshes");

    /* Example 2: duplicates.  G = 1,1,2 (|set(G)| = 2, as metrics.py's
     * len(set(targets))); R = 1,1,9,2: R[1:2] = {1} -> 1 hit / 2; with
     * R = 1,2: 2 / 2.  R' = 1,9,2: DCG = 1 + 1/log2 4; IDCG over
     * set(G) = {1,2}: 1 + 1/log2 3. */
    const int32_t *G2 = L(1, 1, 2), *R2 = L(1, 1, 9, 2);
    CHECK(CLOSE(rm_r_precision(G2, 3, R2, 4, 500), 1.0 / 2, 1e-12, 0), "R-precision cuts R and divides by |set(G)|, a repeated truth counts once");
    CHECK(rm_r_precision(G2, 3, L(2, 1, 9), 3, 500) == 1, "R-precision 1 when R[1:|set(G)|] is set(G) although G repeats a track");
    CHECK(CLOSE(rm_ndcg(G2, 3, R2, 4, 500), 0.9197207891481876, 1e-12, 0), "NDCG de-duplicates R before numbering places");

    /* Example 3: nothing relevant among 500, the hit at place 501 is cut. */
    int32_t R3[501];
    for (int i = 0; i < 501; i++) R3[i] = 1000 + i;
    const int32_t *G3 = L(1500);
    CHECK(rm_clicks(G3, 1, R3, 501, 500) == 51, "clicks = 51 when no hit within R[1:500]");
    CHECK(rm_r_precision(G3, 1, R3, 501, 500) == 0 && rm_ndcg(G3, 1, R3, 501, 500) == 0, "no hit: R-precision 0, NDCG 0");
    const int32_t *G4 = L(1023, 1499);
    CHECK(rm_clicks(G4, 2, R3, 501, 500) == 2, "first hit at index 23 -> floor(23/10) = 2 clicks");
    CHECK(rm_clicks(G4 + 1, 1, R3, 501, 500) == 49, "hit at index 499 (the 500th) -> 49 clicks");
    CHECK(rm_ndcg(G3, 1, R3, 501, 501) == 1.0 / log2(502), "NDCG@k counts a hit at place k");

    /* perfect ranking: NDCG 1, R-precision 1 */
    const int32_t *G5 = L(7, 3, 9);
    CHECK(CLOSE(rm_ndcg(G5, 3, L(9, 7, 3, 1), 4, 500), 1.0, 1e-12, 0) && rm_r_precision(G5, 3, L(9, 7, 3, 1), 4, 500) == 1,
          "perfect ranking: NDCG 1, R-precision 1");
    CHECK(isnan(rm_ndcg(G5, 0, G5, 3, 500)) && isnan(rm_r_precision(G5, 0, G5, 3, 500)), "empty ground truth: undefined (NAN)");

    /* Artist partial credit: artist(t) = t / 10.  G = 10,11,20 (artists 1,1,2);
     * R[1:3] = 10,12,30: track hit 10; the misses 12 (artist 1) and 30
     * (artist 3) give S_A = {1,3}, G_A = {1,2}: one artist match.
     * (1 + 0.25 * 1) / 3 = 0.416667. */
    int32_t artist[64];
    for (int t = 0; t < 64; t++) artist[t] = t / 10;
    const int32_t *GA = L(10, 11, 20), *RA = L(10, 12, 30, 21);
    CHECK(CLOSE(rm_r_precision_artist(GA, 3, RA, 4, 500, artist, 64), 1.25 / 3, 1e-12, 0), "R-precision with artist credit: (1 + 0.25*1)/3");
    /* the artist version cuts and divides by the distinct tracks too:
     * G = 10,10,11 (G_T = {10,11}); R[1:2] = 10,12: 1 + 0.25 (artist 1) */
    CHECK(CLOSE(rm_r_precision_artist(L(10, 10, 11), 3, L(10, 12, 11), 3, 500, artist, 64), 1.25 / 2, 1e-12, 0),
          "R-precision with artist credit over |G_T| distinct tracks: (1 + 0.25)/2");
    /* two misses by the same artist count once (distinct artists) */
    CHECK(CLOSE(rm_r_precision_artist(GA, 3, L(12, 13, 14), 3, 500, artist, 64), 0.25 / 3, 1e-12, 0), "artist credit counts distinct artists");
    /* a track hit does not also earn artist credit; unknown artists never match */
    artist[12] = -1;
    CHECK(CLOSE(rm_r_precision_artist(GA, 3, L(10, 11, 12), 3, 500, artist, 64), 2.0 / 3, 1e-12, 0), "track hits earn no extra artist credit; unknown artist (-1) never matches");
    CHECK(rm_r_precision_artist(GA, 3, L(50, 51, 52), 3, 500, artist, 64) == 0, "no track or artist match: 0");

    /* random lists with duplicates against the naive transcriptions */
    rng_state r;
    rng_seed(&r, 42);
    int bad_r = 0, bad_n = 0, bad_c = 0;
    for (int it = 0; it < 2000; it++) {
        int32_t G[300], R[520];
        int64_t ng = 1 + (int64_t)rng_below(&r, 250), nr = (int64_t)rng_below(&r, 520);
        int64_t vocab = 20 + (int64_t)rng_below(&r, 2000);
        for (int64_t i = 0; i < ng; i++) G[i] = (int32_t)rng_below(&r, (uint64_t)vocab);
        for (int64_t i = 0; i < nr; i++) R[i] = (int32_t)rng_below(&r, (uint64_t)vocab);
        int64_t cut = nr < 500 ? nr : 500;
        bad_r += !CLOSE(rm_r_precision(G, ng, R, nr, 500), naive_rprec(G, ng, R, cut), 1e-12, 0);
        bad_n += !CLOSE(rm_ndcg(G, ng, R, nr, 500), naive_ndcg(G, ng, R, nr, 500), 1e-12, 1e-12);
        bad_c += rm_clicks(G, ng, R, nr, 500) != naive_clicks(G, ng, R, nr);
    }
    CHECK(bad_r == 0, "R-precision equals the naive formula on 2000 random lists (%d differ)", bad_r);
    CHECK(bad_n == 0, "NDCG equals the naive formula on 2000 random lists (%d differ)", bad_n);
    CHECK(bad_c == 0, "clicks equal the naive formula on 2000 random lists (%d differ)", bad_c);
    return CHECK_DONE();
}
