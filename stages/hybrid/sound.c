/* sound.c - hybrid's sound library (sound.h): the vectors of a make library
 * library tied to catalogue songs by their files' title and artist tags,
 * under the version key that folds versions everywhere else
 * (common/songversion.h), and exact cosine search among the tied ones. */
#include "sound.h"
#include "cli.h"
#include "songversion.h"
#include "strmap.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* a version key whose title and artist both fold to something (a title of
 * punctuation alone, or in a script text_fold drops, names no song: such
 * keys would all be equal) */
static int names_song(const char *k) {
    const char *sep = strchr(k, '\x1f');
    return sep && sep != k && sep[1];
}

/* the catalogue's version keys -> the version's preferred row */
static void version_keys(strmap *vk, const cat_songs *songs, int64_t n) {
    strmap_init(vk);
    for (int64_t r = 0; r < n; r++) {
        if (!songs->title[r] || !songs->artist[r]) continue;
        char *k = sv_version_key(songs->title[r], songs->artist[r]);
        if (!k) cli_die("out of memory");
        if (names_song(k) && strmap_put(vk, k, songs->version[r]) == -2) cli_die("out of memory");
        free(k);
    }
}

/* A library song whose tags give the version key of a catalogue song lends
 * that song (all its versions) its vector; a second library song of the
 * same song is left out (the first in library order wins). */
void hs_load(hybrid_sound *s, const char *index, const char *tags_path, const cat_songs *songs, int64_t nrows) {
    char err[1024];
    memset(s, 0, sizeof *s);
    s->songs = songs;
    s->of_version = malloc(sizeof *s->of_version * (size_t)(nrows ? nrows : 1));
    if (!s->of_version) cli_die("out of memory");
    for (int64_t r = 0; r < nrows; r++) s->of_version[r] = -1;
    if (!index) return;
    if (ts_load_table(index, NULL, &s->lib, err, sizeof err)) cli_die("%s", err);
    if (s->lib.h.dtype != TS_F32 || s->lib.h.ndim != 1 || s->lib.h.row_elems < 1)
        cli_die("%s: a sound library holds f32 vectors (make library writes LIB/index.ts)", index);
    catalog tags;
    if (cat_load(&tags, tags_path, err, sizeof err)) cli_die("%s", err);
    int tc = cat_column(&tags, "title"), ac = cat_column(&tags, "artist");
    if (tc < 0 || ac < 0) {
        cat_free(&tags);
        cli_die("%s:1: no 'title' and 'artist' columns; it is a library's tags.tsv (make library writes it)", tags_path);
    }
    strmap vk;
    version_keys(&vk, songs, nrows);
    int64_t n = s->lib.nrows, tagged = 0, twice = 0, d = (int64_t)s->lib.h.row_elems;
    float *x = malloc(sizeof *x * (size_t)(n ? n : 1) * (size_t)d);
    s->row = malloc(sizeof *s->row * (size_t)(n ? n : 1));
    if (!x || !s->row) cli_die("out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t t = cat_find(&tags, s->lib.keys[i]);
        const char *ti = t >= 0 ? cat_cell(&tags, t, tc) : NULL, *ar = t >= 0 ? cat_cell(&tags, t, ac) : NULL;
        if (!ti || !*ti || !ar || !*ar) continue;
        tagged++;
        char *k = sv_version_key(ti, ar);
        if (!k) cli_die("out of memory");
        int64_t v = names_song(k) ? strmap_get(&vk, k) : -1;
        free(k);
        if (v < 0) continue;
        if (s->of_version[v] >= 0) { twice++; continue; }
        s->of_version[v] = s->nm;
        s->row[s->nm] = v;
        memcpy(x + s->nm * d, (const float *)s->lib.data + i * d, sizeof *x * (size_t)d);
        s->nm++;
    }
    cli_warn("%s: %" PRId64 " library songs, %" PRId64 " with title and artist tags (%s), %" PRId64 " match a catalogue song "
             "(title and artist, versions folded)%s",
             index, n, tagged, tags_path, s->nm + twice, twice ? "; a second file of one song is left out" : "");
    if (s->nm && knn_index_build(&s->ix, x, s->nm, (int)d, KNN_COSINE)) cli_die("out of memory");
    free(x);
    strmap_free(&vk);
    cat_free(&tags);
}

void hs_free(hybrid_sound *s) {
    knn_index_free(&s->ix);
    ts_table_free(&s->lib);
    free(s->row);
    free(s->of_version);
}

double hs_cosine(const hybrid_sound *s, int64_t a, int64_t b) {
    const float *x = s->ix.x + a * s->ix.d, *y = s->ix.x + b * s->ix.d;    /* unit rows */
    double c = 0;
    for (int t = 0; t < s->ix.d; t++) c += (double)x[t] * y[t];
    return c;
}

int hs_neighbours(const hybrid_sound *s, int64_t q, int64_t *rows) {
    int64_t sq = hs_of(s, q);
    if (sq < 0) return 0;
    knn_opts ko = {.k = s->nm < HS_CAND ? (int)s->nm : HS_CAND, .threads = 1, .self_first = -1};
    int64_t lab[HS_CAND];
    float sc[HS_CAND];
    if (knn_search(&s->ix, s->ix.x + sq * s->ix.d, 1, &ko, lab, sc)) cli_die("out of memory searching the sound library");
    int n = 0;
    for (int i = 0; i < ko.k; i++) if (lab[i] >= 0 && lab[i] != sq) rows[n++] = s->row[lab[i]];
    return n;
}
