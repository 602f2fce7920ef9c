/* songsearch.c - filtered song search, playlists and name resolution shared
 * by knn and serve (see songsearch.h). */
#include "songsearch.h"
#include "errbuf.h"
#include "text.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ss_init(song_search *s, const knn_index *ix, const float *rows, const cat_songs *songs,
            int max_per_artist, int threads) {
    *s = (song_search){.ix = ix, .rows = rows, .songs = songs, .max_per_artist = max_per_artist,
                       .threads = threads < 1 ? 1 : threads};
    return sf_init(&s->filter, max_per_artist, 64);
}

void ss_free(song_search *s) { sf_free(&s->filter); }

void ss_begin(song_search *s) { sf_begin(&s->filter); }
void ss_exclude(song_search *s, int64_t r) { if (r >= 0) sf_exclude(&s->filter, s->songs->version[r]); }

void ss_untake(song_search *s, const int64_t *rows, int n) {
    for (int i = 0; i < n; i++) sf_untake(&s->filter, s->songs->version[rows[i]], s->songs->artist_id[rows[i]]);
}

int ss_pick(song_search *s, const int64_t *lab, const float *sc, int kf, int want,
            int64_t *rows, double *scores, int *exhausted) {
    int got = 0;
    *exhausted = kf >= s->ix->n;
    for (int i = 0; i < kf && got < want; i++) {
        if (lab[i] < 0) { *exhausted = 1; break; }
        int t = sf_take(&s->filter, s->songs->version[lab[i]], s->songs->artist_id[lab[i]]);
        if (t < 0) return -1;
        if (!t) continue;
        rows[got] = lab[i];
        scores[got++] = sc[i];
    }
    return got;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int ss_search(song_search *s, const float *q, int want, int64_t *rows, double *scores) {
    int kf = want + 8 + (s->max_per_artist ? 2 * want : 0);
    for (;;) {
        if (kf > s->ix->n) kf = (int)s->ix->n;
        int64_t *lab = malloc((size_t)kf * sizeof *lab);
        float *sc = malloc((size_t)kf * sizeof *sc);
        knn_opts ko = {.k = kf, .threads = s->threads, .self_first = -1};
        int exhausted, got = -1;
        double t0 = now();
        if (lab && sc && knn_search(s->ix, q, 1, &ko, lab, sc) == 0)
            got = ss_pick(s, lab, sc, kf, want, rows, scores, &exhausted);
        s->search_secs += now() - t0;
        free(lab); free(sc);
        if (got < 0) return -1;
        if (got == want || exhausted) return got;
        ss_untake(s, rows, got);
        kf = kf > INT_MAX / 2 ? INT_MAX : kf * 2;
    }
}

/* ---- playlist ---- */

/* Score of index row r against vector q (double precision, as the metric). */
static double score_vs(const song_search *s, const float *q, int64_t r) {
    int d = s->ix->d;
    const float *x = s->rows + r * d;
    double dot = 0, qq = 0, xx = 0, l2 = 0, l1 = 0;
    for (int t = 0; t < d; t++) {
        double a = q[t], b = x[t];
        dot += a * b; qq += a * a; xx += b * b; l2 += (a - b) * (a - b); l1 += fabs(a - b);
    }
    switch (s->ix->metric) {
    case KNN_COSINE: return qq > 0 && xx > 0 ? dot / sqrt(qq * xx) : 0;
    case KNN_EUCLIDEAN: return sqrt(l2);
    case KNN_DOT: return dot;
    default: return l1 / d;
    }
}

typedef struct { int64_t row; double score; int64_t near; int lower_better; } result;

static int result_order(const void *pa, const void *pb) {
    const result *a = pa, *b = pb;
    if (a->score != b->score)
        return (a->lower_better ? a->score > b->score : a->score < b->score) ? 1 : -1;
    return (a->row > b->row) - (a->row < b->row);
}

int ss_playlist(song_search *s, const int64_t *mem, int nm, int k, int64_t *rows,
                double *scores, int64_t *near) {
    int d = s->ix->d, n = 0, rc = -1;
    double *acc = calloc((size_t)d, sizeof *acc);
    float *centroid = malloc(sizeof *centroid * (size_t)d);
    result *res = malloc(sizeof *res * (size_t)(k ? k : 1));
    if (!acc || !centroid || !res) goto fail;
    ss_begin(s);
    for (int i = 0; i < nm; i++) {
        ss_exclude(s, mem[i]);
        for (int t = 0; t < d; t++) acc[t] += s->ix->x[mem[i] * d + t];
    }
    for (int t = 0; t < d; t++) centroid[t] = (float)(acc[t] / nm);
    for (int i = 0; i < nm && n < k; i++) {     /* the nearest song to each member */
        int got = ss_search(s, s->ix->x + mem[i] * d, 1, rows + n, scores + n);
        if (got < 0) goto fail;
        if (got) near[n++] = mem[i];
    }
    int got = ss_search(s, centroid, k - n, rows + n, scores + n);
    if (got < 0) goto fail;
    for (int i = n; i < n + got; i++) near[i] = -1;
    n += got;
    int lower = knn_metric_lower_is_better(s->ix->metric);
    for (int i = 0; i < n; i++) res[i] = (result){rows[i], score_vs(s, centroid, rows[i]), near[i], lower};
    qsort(res, (size_t)n, sizeof *res, result_order);
    for (int i = 0; i < n; i++) { rows[i] = res[i].row; scores[i] = res[i].score; near[i] = res[i].near; }
    rc = n;
fail:
    free(acc); free(centroid); free(res);
    return rc;
}

/* ---- names ---- */

int ss_resolve_song(const cat_songs *s, const char *query, int first, int64_t *row,
                    int64_t **cands, int64_t *ncands, char *msg, size_t cap) {
    int64_t *rows, n = cat_songs_find(s, query, &rows);
    *cands = NULL;
    *ncands = 0;
    if (n < 0) return -1;
    if (n == 1 || (n > 1 && first)) { *row = rows[0]; free(rows); return SS_FOUND; }
    if (n > 1) {
        *cands = rows;
        *ncands = n;
        snprintf(msg, cap, "'%s' matches %" PRId64 " songs; name one (add ' - ARTIST', or give its key)", query, n);
        return SS_AMBIGUOUS;
    }
    free(rows);
    int64_t sug[3];
    int ns = cat_songs_suggest(s, query, sug, 3);
    char buf[2048] = "";
    size_t len = 0;
    for (int i = 0; i < ns; i++) {
        int64_t r = sug[i];
        const char *a = s->artist[r] && *s->artist[r] ? s->artist[r] : NULL;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s%s%s%s", i ? "; " : "", s->title[r],
                                a ? " (" : "", a ? a : "", a ? ")" : "");
        if (len >= sizeof buf) break;
    }
    if (ns) snprintf(msg, cap, "no song matches '%s'; did you mean: %s?", query, buf);
    else snprintf(msg, cap, "no song matches '%s' (titles are searched; add ' - ARTIST' to narrow, or give a track id)", query);
    return SS_NONE;
}

int ss_resolve_key(const char *const *keys, int64_t n, const char *query, int first,
                   int64_t *row, int64_t **cands, int64_t *ncands) {
    int64_t exact = -1, m = 0, *cand = malloc(sizeof *cand * (size_t)(n ? n : 1));
    int best = 2, rc = -1;
    char *fq = text_fold_dup(query, 1);
    *cands = NULL;
    *ncands = 0;
    if (!cand || !fq) goto fail;
    for (int64_t r = 0; r < n && exact < 0; r++)
        if (strcmp(keys[r], query) == 0) exact = r;
    for (int64_t r = 0; r < n && exact < 0 && *fq; r++) {
        char *fk = text_fold_dup(keys[r], 1);
        if (!fk) goto fail;
        int t = strcmp(fk, fq) == 0 ? 0 : strstr(fk, fq) ? 1 : 2;
        free(fk);
        if (t == 2 || t > best) continue;
        if (t < best) { best = t; m = 0; }
        cand[m++] = r;
    }
    if (exact >= 0 || m == 1 || (m > 1 && first)) {
        *row = exact >= 0 ? exact : cand[0];
        rc = SS_FOUND;
    } else if (!m) {
        rc = SS_NONE;
    } else {
        *cands = cand;
        *ncands = m;
        cand = NULL;
        rc = SS_AMBIGUOUS;
    }
fail:
    free(cand); free(fq);
    return rc;
}

int ss_map_columns(const ts_header *ih, int d, const ts_header *qh, const char *qpath,
                   const char *ipath, int *map, char *err, size_t errlen) {
    if (qh->dtype != TS_F32 && qh->dtype != TS_F64)
        return err_fail(err, errlen, "%s: tensor '%s' holds %s; queries must be f32 or f64 rows", qpath, qh->name,
                        ts_dtype_name(qh->dtype));
    if (!ih->columns || !qh->columns) {
        if (qh->row_elems != d)
            return err_fail(err, errlen, "%s: rows of %" PRId64 " values, the index's of %d, and no column names to match them by",
                            qpath, qh->row_elems, d);
        for (int i = 0; i < d; i++) map[i] = i;
        return 0;
    }
    for (int i = 0; i < d; i++)
        if ((map[i] = ts_header_column(qh, ih->columns[i])) < 0)
            return err_fail(err, errlen, "%s: no column '%s', which the index %s has; build both tables with the same columns",
                            qpath, ih->columns[i], ipath);
    return 0;
}

void ss_gather_row(const ts_header *qh, const void *data, int64_t r, const int *map, int d, float *out) {
    for (int i = 0; i < d; i++)
        out[i] = qh->dtype == TS_F32 ? ((const float *)data)[r * qh->row_elems + map[i]]
                                     : (float)((const double *)data)[r * qh->row_elems + map[i]];
}
