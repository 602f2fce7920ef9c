/* plmodel_graph.c - the item kNN and RP3beta continuation models (plmodel.h:
 * plm_graph) against a dense transcription of their formulas on random
 * playlists: every place of the returned list holds a track whose naive
 * score equals the naive score ranked there (so ties may go either way
 * only where the scores tie within float rounding), seeds never come back,
 * no track twice, and popularity fills the rest.  The cases run one after
 * another on one model, so the table of degree^x (made once per exponent)
 * must follow each case's alpha and beta. */
#include "check.h"
#include "plmodel.h"
#include "rng.h"

#include <string.h>

#define NT 40
#define NP 60

static double A[NP][NT];          /* binary playlist x track */
static double len[NP], deg[NT];

/* the naive score of every track for the seeds; -1 for a seed */
static void naive(const plm_model *m, const plm_graph_opts *o, const int32_t *seeds, int ns, double *score) {
    for (int t = 0; t < NT; t++) score[t] = 0;
    int done[NT] = {0};
    for (int i = 0; i < ns; i++) {
        int s = seeds[i];
        if (done[s]) continue;
        done[s] = 1;
        double row[NT] = {0};
        int has[NT] = {0}, kept[NT] = {0};
        for (int t = 0; t < NT; t++) {
            if (t == s) continue;
            double c = 0;
            for (int p = 0; p < NP; p++) {
                if (!A[p][s] || !A[p][t]) continue;
                has[t] = 1;
                c += o->kind == PLM_RP3BETA ? pow(1.0 / (deg[s] * len[p]), o->alpha) : pow(len[p], -o->pl_pow);
            }
            if (!has[t]) continue;
            row[t] = o->kind == PLM_RP3BETA ? c / pow(deg[t], o->beta)
                                            : c / (pow(deg[s], o->alpha) * pow(deg[t], 1 - o->alpha) + o->shrink);
            row[t] = pow(row[t], o->power);
        }
        /* keep the N best (score, then popularity rank) */
        for (int t = 0; t < NT; t++) {
            if (!has[t]) continue;
            int better = 0;
            for (int u = 0; u < NT; u++)
                if (has[u] && (row[u] > row[t] * (1 + 1e-9) || (fabs(row[u] - row[t]) <= 1e-9 * row[t] && m->rank[u] < m->rank[t])))
                    better++;
            if (o->neighbours == 0 || better < o->neighbours) kept[t] = 1;
        }
        double top = 0;
        for (int t = 0; t < NT; t++) if (kept[t] && row[t] > top) top = row[t];
        for (int t = 0; t < NT; t++) if (kept[t]) score[t] += o->row_norm && top > 0 ? row[t] / top : row[t];
    }
    for (int i = 0; i < ns; i++) score[seeds[i]] = -1;
}

static int ranked_like_naive(const plm_model *m, const double *score, const int32_t *out, int64_t k, int64_t n) {
    if (k != n) return 0;
    double sorted[NT];
    int m_pos = 0;
    for (int t = 0; t < NT; t++) if (score[t] > 0) sorted[m_pos++] = score[t];
    for (int i = 0; i < m_pos; i++)                 /* descending */
        for (int j = i + 1; j < m_pos; j++) if (sorted[j] > sorted[i]) { double x = sorted[i]; sorted[i] = sorted[j]; sorted[j] = x; }
    int seen[NT] = {0};
    for (int64_t i = 0; i < k; i++) {
        int32_t t = out[i];
        if (t < 0 || t >= NT || seen[t] || score[t] < 0) return 0;
        seen[t] = 1;
        if (i < m_pos) { if (!CLOSE(score[t], sorted[i], 1e-12, 1e-5)) return 0; }
        else if (score[t] > 0) return 0;            /* a scored track in the popularity tail */
    }
    /* the tail: the most popular remaining tracks, in popularity order */
    for (int64_t i = m_pos + 1; i < k; i++) if (m->rank[out[i]] < m->rank[out[i - 1]]) return 0;
    return 1;
}

int main(void) {
    rng_state r;
    rng_seed(&r, 7);
    char err[256], key[16];
    pl_set train;
    pl_init(&train);
    int added = 0;
    for (int p = 0; p < NP; p++) {
        int32_t t[12];
        int n = 2 + (int)rng_below(&r, 10);
        for (int i = 0; i < n; i++) t[i] = (int32_t)(rng_below(&r, 3) ? rng_below(&r, NT / 2) : rng_below(&r, NT));  /* skewed */
        snprintf(key, sizeof key, "p%d", p);
        added += pl_add(&train, key, t, n, err, sizeof err) == 0;
        for (int i = 0; i < n; i++) A[p][t[i]] = 1;
    }
    for (int p = 0; p < NP; p++) for (int t = 0; t < NT; t++) { len[p] += A[p][t]; deg[t] += A[p][t]; }
    CHECK(added == NP, "%d random playlists", added);
    plm_model m;
    CHECK(plm_build(&m, &train, NULL, NT, err, sizeof err) == 0, "model built");

    const plm_graph_opts cases[] = {
        {PLM_ITEMKNN, 0.5, 0, 0, 0, 1, 0, 0}, {PLM_ITEMKNN, 0.7, 0, 10, 0, 1, 0, 0}, {PLM_ITEMKNN, 0.3, 0, 2, 3, 1, 0, 0},
        {PLM_RP3BETA, 1.0, 0.5, 0, 0, 1, 0, 0}, {PLM_RP3BETA, 0.5, 0, 0, 0, 1, 0, 0}, {PLM_RP3BETA, 0.7, 0.3, 0, 4, 1, 0, 0},
        {PLM_ITEMKNN, 0.7, 0, 10, 0, 1, 0.3, 0}, {PLM_ITEMKNN, 0.6, 0, 5, 0, 2, 0.5, 1}, {PLM_ITEMKNN, 0.5, 0, 1, 4, 1.5, 0, 1},
        {PLM_RP3BETA, 0.5, 0, 0, 0, 2, 0, 0}, {PLM_RP3BETA, 0.7, 0.2, 0, 3, 1, 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const plm_graph_opts *o = &cases[c];
        int bad = 0, tries = 0;
        for (int q = 0; q < 50; q++) {
            int32_t seeds[6], out[NT];
            int ns = 1 + (int)rng_below(&r, 5);
            for (int i = 0; i < ns; i++) seeds[i] = (int32_t)rng_below(&r, NT / 2);
            if (q % 10 == 0) seeds[ns++] = seeds[0];         /* a repeated seed counts once */
            int distinct = 0, mark[NT] = {0};
            for (int i = 0; i < ns; i++) distinct += !mark[seeds[i]]++;
            double score[NT];
            naive(&m, o, seeds, ns, score);
            int64_t n = 12 + (int64_t)rng_below(&r, NT - 12 - distinct + 1);
            int64_t k = plm_graph(&m, o, "", seeds, ns, out, n);
            bad += !ranked_like_naive(&m, score, out, k, n);
            tries++;
        }
        CHECK(!bad, "%s alpha %.1f beta %.1f shrink %.0f neighbours %lld power %.1f pl_pow %.1f row_norm %d: %d of %d random queries ranked as the formula",
              o->kind == PLM_ITEMKNN ? "itemknn" : "rp3beta", o->alpha, o->beta, o->shrink, (long long)o->neighbours,
              o->power, o->pl_pow, o->row_norm, tries - bad, tries);
    }
    /* no known seed: the title model (here: popularity, no titles) */
    int32_t out[10], pop[10], unknown[] = {NT + 5};
    plm_graph_opts o = {PLM_ITEMKNN, 0.5, 0, 0, 0, 1, 0, 0};
    int64_t k1 = plm_graph(&m, &o, "", unknown, 1, out, 10), k2 = plm_popular(&m, NULL, 0, pop, 10);
    CHECK(k1 == 10 && k2 == 10 && !memcmp(out, pop, sizeof out), "no known seed: the title model's list (popularity without titles)");
    /* the scratch is left clean: the same query twice gives the same list */
    int32_t s2[] = {1, 2}, o1[20], o2[20];
    plm_graph_opts rp = {PLM_RP3BETA, 0.5, 0.2, 0, 0, 1, 0, 0};
    int64_t a = plm_graph(&m, &rp, "", s2, 2, o1, 20), b = plm_graph(&m, &rp, "", s2, 2, o2, 20);
    CHECK(a == 20 && b == 20 && !memcmp(o1, o2, sizeof o1), "a query repeated gives the same list (scratch reset)");
    plm_free(&m);
    pl_free(&train);
    return CHECK_DONE();
}
