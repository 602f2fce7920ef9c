/* plvocab.c - the playlist models' track vocabulary and playlist titles
 * (see plvocab.h). */
#include "plvocab.h"
#include "errbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int plv_load(pl_vocab *v, const char *path, char *err, size_t errlen) {
    memset(v, 0, sizeof *v);
    if (cat_load(&v->cat, path, err, errlen)) return -1;
    int tc = cat_column(&v->cat, "track");
    v->name_col = cat_column(&v->cat, "track_name");
    v->artist_col = cat_column(&v->cat, "artist_name");
    v->count_col = cat_column(&v->cat, "count");
    const char **keys = NULL;
    if (tc < 0 || v->name_col < 0 || v->artist_col < 0) {
        err_fail(err, errlen, "%s: needs columns track, track_name, artist_name (mpd-ingest --tracks)", path);
        goto fail;
    }
    for (int64_t r = 0; r < v->cat.nrows; r++)
        if (strtoll(cat_cell(&v->cat, r, tc), NULL, 10) != r) {
            err_fail(err, errlen, "%s:%" PRId64 ": track index %s out of order; give the file mpd-ingest wrote", path, r + 2,
                     cat_cell(&v->cat, r, tc));
            goto fail;
        }
    if (!(keys = malloc((size_t)(v->cat.nrows ? v->cat.nrows : 1) * sizeof *keys))) {
        err_fail(err, errlen, "out of memory");
        goto fail;
    }
    for (int64_t r = 0; r < v->cat.nrows; r++) keys[r] = cat_cell(&v->cat, r, 0);
    if (cat_songs_build(&v->songs, &v->cat, v->name_col, v->artist_col, keys, v->cat.nrows, err, errlen)) goto fail;
    free(keys);
    return 0;
fail:
    free(keys);
    cat_free(&v->cat);
    memset(v, 0, sizeof *v);
    return -1;
}

void plv_free(pl_vocab *v) {
    cat_songs_free(&v->songs);
    cat_free(&v->cat);
}

const char *plv_label(const pl_vocab *v, int32_t t, char *buf, size_t cap) {
    if (t < 0 || t >= v->cat.nrows) { snprintf(buf, cap, "track %d (not in the vocabulary)", t); return buf; }
    snprintf(buf, cap, "%s - %s", cat_cell(&v->cat, t, v->name_col), cat_cell(&v->cat, t, v->artist_col));
    return buf;
}

int plv_resolve(const pl_vocab *v, const char *query, int32_t *track, char *msg, size_t cap) {
    int64_t *rows, n = cat_songs_find(&v->songs, query, &rows);
    if (n < 0) return -1;
    if (n == 0) {
        int64_t sug[3];
        int ns = cat_songs_suggest(&v->songs, query, sug, 3);
        char buf[1536] = "", lab[512];
        size_t len = 0;
        for (int i = 0; i < ns && len < sizeof buf; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "; " : "", plv_label(v, (int32_t)sug[i], lab, sizeof lab));
        if (ns) snprintf(msg, cap, "no song matches '%s'; did you mean: %s?", query, buf);
        else snprintf(msg, cap, "no song matches '%s' (titles are searched; add ' - ARTIST' to narrow it, or give a track_uri)", query);
        return 1;
    }
    int64_t best = rows[0];
    if (v->count_col >= 0)
        for (int64_t i = 1; i < n; i++)
            if (atoll(cat_cell(&v->cat, rows[i], v->count_col)) > atoll(cat_cell(&v->cat, best, v->count_col))) best = rows[i];
    free(rows);
    *track = (int32_t)best;
    return 0;
}

const char **plv_train_titles(const pl_set *train, const char *names_path, catalog *cat, char *err, size_t errlen) {
    if (cat_load(cat, names_path, err, errlen)) return NULL;
    int col = cat_column(cat, "name");
    const char **t = NULL;
    if (col < 0) {
        err_fail(err, errlen, "%s: no 'name' column; give the playlist catalogue of mpd-ingest --names", names_path);
        goto fail;
    }
    if (!(t = malloc((size_t)(train->n ? train->n : 1) * sizeof *t))) { err_fail(err, errlen, "out of memory"); goto fail; }
    for (int64_t p = 0; p < train->n; p++) {
        int64_t r = cat_find(cat, pl_key(train, p));
        t[p] = r >= 0 ? cat_cell(cat, r, col) : NULL;
    }
    return t;
fail:
    cat_free(cat);
    return NULL;
}
