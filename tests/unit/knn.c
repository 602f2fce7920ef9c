/* knn.c - the search engine against a naive double-precision loop with a
 * full sort, on random data of awkward sizes; self exclusion, ties, thread
 * invariance; then text folding and catalogue name search. */
#include "check.h"
#include "knn.h"
#include "catalog.h"
#include "text.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;
static double urand(void) {                    /* xorshift64* in [0,1) */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

typedef struct { double s; int64_t i; } ref;
static int lower_better;
static const char *kernel = "";
static int ref_cmp(const void *pa, const void *pb) {
    const ref *a = pa, *b = pb;
    if (a->s != b->s) return (lower_better ? a->s > b->s : a->s < b->s) ? 1 : -1;
    return (a->i > b->i) - (a->i < b->i);
}

static double naive_score(knn_metric m, const float *q, const float *x, int d) {
    double dot = 0, qq = 0, xx = 0, l2 = 0, l1 = 0;
    for (int t = 0; t < d; t++) {
        dot += (double)q[t] * x[t]; qq += (double)q[t] * q[t]; xx += (double)x[t] * x[t];
        l2 += ((double)q[t] - x[t]) * ((double)q[t] - x[t]); l1 += fabs((double)q[t] - x[t]);
    }
    switch (m) {
    case KNN_COSINE: return qq > 0 && xx > 0 ? dot / sqrt(qq * xx) : 0;
    case KNN_EUCLIDEAN: return sqrt(l2);
    case KNN_DOT: return dot;
    default: return l1 / d;
    }
}

/* Tolerance of a float score: cancellation in |q|^2+|x|^2-2q.x is relative
 * to the norms, so euclidean is compared squared. */
static int score_close(knn_metric m, double got, double want, double scale) {
    if (m == KNN_EUCLIDEAN) return fabs(got * got - want * want) <= 1e-5 * scale;
    return fabs(got - want) <= 1e-5 * (m == KNN_DOT || m == KNN_MAD ? scale : 1);
}

/* Checks knn_search on (x: n*d, q: nq*d) against the naive reference. */
static void check_case(const char *what, knn_metric m, const float *x, int64_t n, const float *q,
                       int64_t nq, int d, int k, int64_t self, int exact_labels) {
    knn_index ix;
    knn_opts o = {.k = k, .threads = 2, .self_first = self};
    int64_t *lab = malloc((size_t)(nq * k) * sizeof *lab);
    float *sc = malloc((size_t)(nq * k) * sizeof *sc);
    ref *r = malloc((size_t)(n ? n : 1) * sizeof *r);
    int ok = !knn_index_build(&ix, x, n, d, m) && !knn_search(&ix, q, nq, &o, lab, sc);
    int bad_score = 0, bad_label = 0, bad_pad = 0, bad_self = 0;
    double scale = 0;
    for (int64_t i = 0; i < n * d; i++) scale = fmax(scale, fabs(x[i]));
    for (int64_t i = 0; i < nq * d; i++) scale = fmax(scale, fabs(q[i]));
    scale = fmax(1, scale * scale * (double)d);
    lower_better = knn_metric_lower_is_better(m);
    for (int64_t qi = 0; ok && qi < nq; qi++) {
        int64_t nr = 0;
        for (int64_t j = 0; j < n; j++) {
            if (self >= 0 && j == self + qi) continue;
            r[nr].s = naive_score(m, q + qi * d, x + j * d, d);
            r[nr++].i = j;
        }
        qsort(r, (size_t)nr, sizeof *r, ref_cmp);
        for (int i = 0; i < k; i++) {
            int64_t l = lab[qi * k + i];
            double s = sc[qi * k + i];
            if (i >= nr) { bad_pad += !(l == -1 && isnan(s)); continue; }
            if (l < 0 || l >= n) { bad_label++; continue; }
            bad_self += self >= 0 && l == self + qi;
            bad_score += !score_close(m, s, r[i].s, scale);
            bad_score += !score_close(m, s, naive_score(m, q + qi * d, x + l * d, d), scale);
            if (exact_labels) bad_label += l != r[i].i;
        }
    }
    CHECK(ok, "%s%s %s: search ran", kernel, what, knn_metric_name(m));
    CHECK(!bad_score && !bad_label && !bad_pad && !bad_self,
          "%s%s %s n=%lld nq=%lld d=%d k=%d: matches the naive loop (bad scores %d, labels %d, padding %d, self %d)",
          kernel, what, knn_metric_name(m), (long long)n, (long long)nq, d, k, bad_score, bad_label, bad_pad, bad_self);
    knn_index_free(&ix);
    free(lab); free(sc); free(r);
}

static float *random_rows(int64_t n, int d, double lo, double hi) {
    float *x = malloc((size_t)(n * d > 0 ? n * d : 1) * sizeof *x);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)(lo + (hi - lo) * urand());
    return x;
}

static void engine_tests(void) {
    static const struct { int64_t n, nq; int d, k; } sz[] = {
        {5, 3, 4, 10},          /* n < k: padding */
        {1000, 37, 12, 10},     /* n not a multiple of the block */
        {2100, 50, 1, 5},       /* d = 1 */
        {700, 20, 7, 150},      /* large k: reservoir path */
        {3, 2, 3, 1},
    };
    knn_set_blocks(32, 48);     /* small blocks: many edges */
    for (size_t s = 0; s < sizeof sz / sizeof *sz; s++) {
        float *x = random_rows(sz[s].n, sz[s].d, -1, 1), *q = random_rows(sz[s].nq, sz[s].d, -1, 1);
        for (int m = 0; m < KNN_NMETRICS; m++)
            check_case("random", (knn_metric)m, x, sz[s].n, q, sz[s].nq, sz[s].d, sz[s].k, -1, 0);
        free(x); free(q);
    }
    /* all pairs, excluding each row itself */
    float *x = random_rows(333, 12, 0, 1);
    for (int m = 0; m < KNN_NMETRICS; m++) check_case("all-pairs", (knn_metric)m, x, 333, x, 333, 12, 10, 0, 0);
    check_case("all-pairs large k", KNN_EUCLIDEAN, x, 333, x, 333, 12, 120, 0, 0);
    /* part of the index as queries: self_first offsets */
    check_case("self offset", KNN_DOT, x, 333, x + 100 * 12, 50, 12, 7, 100, 0);
    free(x);

    /* ties: small integers (exact in float), each row repeated 3 times:
     * equal scores must come out in increasing row order */
    int64_t n = 300;
    int d = 3;
    x = malloc((size_t)n * d * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        for (int t = 0; t < d; t++) x[i * d + t] = (float)((i / 3 * 7 + t * 3) % 5);
    for (int m = 1; m < KNN_NMETRICS; m++) {    /* not cosine: its normalisation rounds */
        check_case("ties", (knn_metric)m, x, n, x, 40, d, 12, -1, 1);
        check_case("ties all-pairs", (knn_metric)m, x, n, x, n, d, 8, 0, 1);
        check_case("ties large k", (knn_metric)m, x, n, x, 30, d, 130, 0, 1);
    }
    free(x);

    /* thread-count invariance, bit for bit */
    knn_set_blocks(64, 512);
    x = random_rows(5000, 12, 0, 1);
    for (int m = 0; m < KNN_NMETRICS; m++) {
        knn_index ix;
        int k = 10, nq = 1000;
        int64_t *l1 = malloc(sizeof *l1 * nq * k), *l3 = malloc(sizeof *l3 * nq * k);
        float *s1 = malloc(sizeof *s1 * nq * k), *s3 = malloc(sizeof *s3 * nq * k);
        knn_index_build(&ix, x, 5000, 12, (knn_metric)m);
        knn_opts o1 = {k, 1, 0}, o3 = {k, 3, 0};
        knn_search(&ix, x, nq, &o1, l1, s1);
        knn_search(&ix, x, nq, &o3, l3, s3);
        CHECK(!memcmp(l1, l3, sizeof *l1 * nq * k) && !memcmp(s1, s3, sizeof *s1 * nq * k),
              "%s%s: 1 and 3 threads give identical results", kernel, knn_metric_name((knn_metric)m));
        knn_index_free(&ix);
        free(l1); free(l3); free(s1); free(s3);
    }
    free(x);
    knn_metric mm;
    CHECK(knn_metric_parse("cosine", &mm) == 0 && mm == KNN_COSINE && knn_metric_parse("l2", &mm) == -1,
          "metric names parse, unknown ones are refused");
}

static void text_tests(void) {
    char b[256];
    text_fold("Beyoncé", b, sizeof b, 1);
    CHECK(!strcmp(b, "beyonce"), "fold: Beyoncé -> beyonce (got '%s')", b);
    text_fold("Beyonce\xCC\x81 Knowles", b, sizeof b, 0);
    CHECK(!strcmp(b, "beyonce knowles"), "fold: combining accent dropped, spaced form (got '%s')", b);
    text_fold("  Don't Stop Me Now!! ", b, sizeof b, 0);
    CHECK(!strcmp(b, "dont stop me now"), "fold: apostrophe vanishes, punctuation breaks words (got '%s')", b);
    text_fold("AC/DC & Ærø ßtraße ŁÓDŹ Ünïcödé", b, sizeof b, 1);
    CHECK(!strcmp(b, "acdcandaerosstrasselodzunicode"), "fold: Latin-1 and Extended-A letters (got '%s')", b);
    text_fold("МУЗЫКА 音楽", b, sizeof b, 0);
    CHECK(!strcmp(b, "музыка 音楽"), "fold: Cyrillic lowered, CJK kept (got '%s')", b);
    text_fold("abcdef", b, 4, 1);
    CHECK(!strcmp(b, "abc"), "fold: truncated to the buffer");
    size_t tl;
    const char *ar;
    CHECK(text_split_title_artist("Blinding Lights - The Weeknd", &tl, &ar) && tl == 15 && !strcmp(ar, "The Weeknd"),
          "split: 'title - artist'");
    CHECK(text_split_title_artist("Stand By Me by Ben E. King", &tl, &ar) && tl == 11 && !strcmp(ar, "Ben E. King"),
          "split: last ' by ' wins");
    CHECK(!text_split_title_artist("Yesterday", &tl, &ar) && !text_split_title_artist("- x", &tl, &ar),
          "split: nothing to split");
    CHECK(text_substring_distance("yesterdy", "yesterday") == 1 && text_substring_distance("day", "yesterday") == 0 &&
          text_substring_distance("abc", "xyz") == 3, "substring distance");
    CHECK(text_width("Beyoncé", 8) == 7 && text_prefix_bytes("éé", 4, 1) == 2, "width counts characters");
}

static void catalog_tests(void) {
    char path[] = "/tmp/knn_cat_XXXXXX";
    int fd = mkstemp(path);
    const char *tsv =
        "\xEF\xBB\xBFtrack_id\ttrack_name\ttrack_artist\r\n"
        "id1\tCrazy in Love\tBeyoncé\r\n"
        "id2\tHalo\tBeyoncé\n"
        "id3\tHalo - Remix\tSomebody\n"
        "id4\tLove Story\tTaylor Swift\n"
        "id5\tCrazy In Love\tBEYONCE\n"
        "id6\tLovely\tBillie Eilish\n"
        "id1\tignored repeat\tx\n";
    CHECK(fd >= 0 && write(fd, tsv, strlen(tsv)) == (ssize_t)strlen(tsv), "wrote a catalogue");
    close(fd);
    catalog c;
    char err[512];
    int rc = cat_load(&c, path, err, sizeof err);
    CHECK(rc == 0 && c.ncols == 3 && c.nrows == 6 && !strcmp(c.colnames[0], "track_id"), "catalogue loads (BOM, CRLF, repeat)");
    if (rc) { puts(err); unlink(path); return; }
    static const char *const tnames[] = {"track_name", "name", "title", NULL};
    static const char *const anames[] = {"track_artist", "artists", "artist_name", "artist", NULL};
    int tc = cat_pick_column(&c, tnames), ac = cat_pick_column(&c, anames);
    CHECK(tc == 1 && ac == 2 && !strcmp(cat_cell(&c, cat_find(&c, "id1"), tc), "Crazy in Love"), "columns picked, first line of a key wins");
    const char *keys[] = {"id4", "id1", "id2", "id3", "id5", "id6", "id9"};
    cat_songs s;
    CHECK(cat_songs_build(&s, &c, tc, ac, keys, 7, err, sizeof err) == 0, "songs built");
    CHECK(s.group[4] == 1 && s.group[1] == 1 && s.group[2] == 2 && s.nmissing == 1 && s.artist_id[1] == s.artist_id[2],
          "same title+artist under two ids share a group; artists folded");
    int64_t *rows;
    int64_t n = cat_songs_find(&s, "beyonce", &rows);
    CHECK(n == 0, "a title search does not match artists alone (got %lld: %lld)", (long long)n, n > 0 ? (long long)rows[0] : -1LL);
    free(rows);
    n = cat_songs_find(&s, "crazy in love by beyonce", &rows);
    CHECK(n == 1 && rows[0] == 1, "'title by artist', accents and case folded, duplicate shown once");
    free(rows);
    n = cat_songs_find(&s, "halo", &rows);
    CHECK(n == 1 && rows[0] == 2, "an exact title wins over substrings");
    free(rows);
    n = cat_songs_find(&s, "LOVE", &rows);
    CHECK(n == 3 && rows[0] == 0 && rows[1] == 1 && rows[2] == 5, "ambiguous substring: every candidate, in index order");
    free(rows);
    n = cat_songs_find(&s, "id9", &rows);
    CHECK(n == 1 && rows[0] == 6, "a key matches exactly, even without a catalogue line");
    free(rows);
    n = cat_songs_find(&s, "halo - somebody", &rows);
    CHECK(n == 1 && rows[0] == 3, "'title - artist' narrows by artist");
    free(rows);
    int64_t sug[3];
    int ns = cat_songs_suggest(&s, "lovley", sug, 3);
    CHECK(ns >= 1 && sug[0] == 5, "suggestion for a typo (got %d)", ns);
    char lab[128];
    CHECK(!strcmp(cat_songs_label(&s, 2, lab, sizeof lab), "Halo by Beyoncé") &&
          !strcmp(cat_songs_label(&s, 6, lab, sizeof lab), "id9"), "labels");
    cat_songs_free(&s);
    cat_free(&c);
    FILE *f = fopen(path, "w");
    fputs("id\tname\nk1\ta\tb\n", f);
    fclose(f);
    rc = cat_load(&c, path, err, sizeof err);
    CHECK(rc == -1 && strstr(err, ":2: 3 cells, but the header has 2"), "a bad line is reported with its number (%s)", err);
    unlink(path);
}

int main(void) {
    kernel = "gemm path: ";                     /* GEMM + selection everywhere */
    knn_set_fused(0);
    engine_tests();
    kernel = "default path: ";                  /* the fused kernel where it applies */
    knn_set_fused(1);
    engine_tests();
    text_tests();
    catalog_tests();
    return CHECK_DONE();
}
