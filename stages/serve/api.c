/* api.c - the serve stage's JSON endpoints: search, similar (one song, a
 * list), artist, styles and playlist continuation, with the reason each
 * result gets; the answers are knn's and mpd-recommend's (songsearch.c,
 * plvocab.c, plmodel.c). */
#include "serve.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON helpers ---- */

/* 1 when s is well-formed UTF-8 (cJSON copies bytes; a reply must stay valid JSON). */
int utf8_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 1 : (*p & 0xF0) == 0xE0 ? 2
              : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 3 : -1;
        if (n < 0) return 0;
        for (int i = 1; i <= n; i++) if ((p[i] & 0xC0) != 0x80) return 0;
        p += n + 1;
    }
    return 1;
}


int fail_with(reply *r, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->status = status;
    return -1;
}

static void add_str(cJSON *o, const char *k, const char *v) { if (v) cJSON_AddStringToObject(o, k, v); }

cJSON *song_json(const style *s, int64_t r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_str(o, "id", s->songs.key[r]);
    add_str(o, "title", s->songs.title[r]);
    add_str(o, "artist", s->songs.artist[r]);
    int64_t cr = s->cat ? cat_find(s->cat, s->songs.key[r]) : -1;
    if (cr >= 0) {
        cJSON *cols = cJSON_AddObjectToObject(o, "columns");
        for (int c = 1; cols && c < s->cat->ncols; c++) add_str(cols, s->cat->colnames[c], cat_cell(s->cat, cr, c));
    }
    return o;
}

const char *score_desc(knn_metric m) {
    switch (m) {
    case KNN_EUCLIDEAN: return "euclidean distance, lower is better";
    case KNN_DOT: return "dot product, higher is better";
    case KNN_MAD: return "mean absolute difference, lower is better";
    default: return "cosine similarity, higher is better";
    }
}

/* ---- reasons: one line on why a result is near its query ---- */

static const char *cat_val(const style *s, int64_t r, int col) {
    if (col < 1 || !s->cat) return NULL;
    int64_t cr = cat_find(s->cat, s->songs.key[r]);
    return cr >= 0 ? cat_cell(s->cat, cr, col) : NULL;
}

/* The (up to) three named columns that best explain why row r is near q:
 * both far from the column's mean on the same side, and close to each
 * other (in standard deviations: min(|zq|, |zx|) - |zq - zx|, largest
 * first).  "both high energy (0.91, 0.88), ..." */
static size_t shared_traits(const style *s, const float *q, int64_t r, char *buf, size_t cap) {
    /* only the raw style's columns are features a listener knows; a learned
     * embedding's ("latent.3") say nothing */
    if (strcmp(s->name, "raw") || !s->tab.h.columns || !q || cap < 2) return 0;
    const float *x = (const float *)s->tab.data + r * s->d;
    int best[3] = {-1, -1, -1};
    double val[3] = {0};
    for (int t = 0; t < s->d; t++) {
        if (!(s->sd[t] > 0) || !isfinite(q[t]) || !isfinite(x[t])) continue;
        double zq = (q[t] - s->mean[t]) / s->sd[t], zx = (x[t] - s->mean[t]) / s->sd[t];
        if (zq * zx <= 0) continue;
        double v = fmin(fabs(zq), fabs(zx)) - fabs(zq - zx);
        if (v < 0.25) continue;                 /* nothing notable shared */
        for (int j = 0; j < 3; j++)
            if (best[j] < 0 || v > val[j]) {
                for (int m = 2; m > j; m--) { best[m] = best[m - 1]; val[m] = val[m - 1]; }
                best[j] = t; val[j] = v;
                break;
            }
    }
    size_t len = 0;
    for (int j = 0; j < 3 && best[j] >= 0 && len < cap; j++) {
        int t = best[j];
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %s (%.3g, %.3g)", j ? ", " : "both ",
                                q[t] > s->mean[t] ? "high" : "low", s->tab.h.columns[t], q[t], x[t]);
    }
    return len < cap ? len : cap - 1;
}

/* qrow: the query song or -1; q: the query vector as loaded (may be NULL). */
static void reason(const style *s, int64_t qrow, const float *q, int64_t r, const char *near, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
#define ADD(...) do { if (len < cap) len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__); } while (0)
    if (near) ADD("nearest to '%s'", near);
    if (qrow >= 0) {
        const char *g = cat_val(s, qrow, s->genre_col), *sg = cat_val(s, qrow, s->subgenre_col);
        if (s->songs.artist_id[qrow] >= 0 && s->songs.artist_id[qrow] == s->songs.artist_id[r])
            ADD("%ssame artist", len ? "; " : "");
        if (sg && *sg && strcmp(sg, cat_val(s, r, s->subgenre_col) ? cat_val(s, r, s->subgenre_col) : "") == 0)
            ADD("%ssame subgenre (%s)", len ? "; " : "", sg);
        else if (g && *g && strcmp(g, cat_val(s, r, s->genre_col) ? cat_val(s, r, s->genre_col) : "") == 0)
            ADD("%ssame genre (%s)", len ? "; " : "", g);
    }
    char traits[400];
    if (shared_traits(s, q, r, traits, sizeof traits)) ADD("%s%s", len ? "; " : "", traits);
    if (!len) ADD("near in the %s %s", s->name, strcmp(s->name, "raw") ? "embedding" : "features");
#undef ADD
}

static cJSON *results_json(const style *s, int64_t qrow, const float *q, int n, const int64_t *rows,
                           const double *sc, const int64_t *near) {
    cJSON *arr = cJSON_CreateArray();
    char why[512], lab[512];
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = song_json(s, rows[i]);
        if (!o) { cJSON_Delete(arr); return NULL; }
        cJSON_AddNumberToObject(o, "rank", i + 1);
        cJSON_AddNumberToObject(o, "score", isfinite(sc[i]) ? sc[i] : 0);
        const char *nt = near && near[i] >= 0 ? cat_songs_label(&s->songs, near[i], lab, sizeof lab) : NULL;
        reason(s, qrow, q, rows[i], nt, why, sizeof why);
        cJSON_AddStringToObject(o, "reason", why);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- request parameters ---- */

static const char *arg(struct MHD_Connection *c, const char *name) {
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* An integer parameter in [lo, hi], def when absent; -1 with a 400 otherwise. */
int int_arg(struct MHD_Connection *c, reply *r, const char *name, long lo, long hi, long def, long *v) {
    const char *s = arg(c, name);
    char *end;
    if (!s) { *v = def; return 0; }
    errno = 0;
    *v = strtol(s, &end, 10);
    if (!utf8_ok(s)) return fail_with(r, 400, "%s: not an integer between %ld and %ld", name, lo, hi);
    if (errno || end == s || *end || *v < lo || *v > hi)
        return fail_with(r, 400, "%s: '%.64s' is not an integer between %ld and %ld", name, s, lo, hi);
    return 0;
}

/* A text parameter: required, well-formed UTF-8, at most 1000 bytes. */
static int text_arg(struct MHD_Connection *c, reply *r, const char *name, const char *what, const char **v) {
    *v = arg(c, name);
    if (!*v || !**v) return fail_with(r, 400, "missing parameter '%s' (%s)", name, what);
    if (!utf8_ok(*v)) return fail_with(r, 400, "parameter '%s' is not valid UTF-8", name);
    if (strlen(*v) > 1000) return fail_with(r, 400, "parameter '%s' is longer than 1000 bytes", name);
    return 0;
}

static style *find_style(artset *a, reply *r, const char *name) {
    if (!name || !*name) return &a->st[0];
    for (int i = 0; i < a->nstyles; i++) if (strcmp(a->st[i].name, name) == 0) return &a->st[i];
    char list[1024];
    size_t len = 0;
    for (int i = 0; i < a->nstyles && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", a->st[i].name);
    fail_with(r, 400, "unknown style '%.64s'; the styles built are: %s", utf8_ok(name) ? name : "?", list);
    return NULL;
}

/* The row a song id or name names in style s (ss_resolve_song). */
static int resolve(style *s, reply *r, const char *q, const char *what, int64_t *row) {
    char msg[2600];
    int64_t *cands, n;
    int rc = ss_resolve_song(&s->songs, q, 0, row, &cands, &n, msg, sizeof msg);
    if (rc < 0) return fail_with(r, 500, "out of memory");
    if (rc == SS_FOUND) return 0;
    if (rc == SS_AMBIGUOUS) {
        r->cands = cands;
        r->ncands = n;
        r->cand_style = s;
        return fail_with(r, 409, "%s%s", what, msg);
    }
    return fail_with(r, 404, "%s%s", what, msg);
}

/* ---- endpoints ---- */

int api_styles(artset *a, reply *r) {
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "styles");
    for (int i = 0; arr && i < a->nstyles; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "name", a->st[i].name);
        cJSON_AddNumberToObject(s, "rows", (double)a->st[i].tab.nrows);
        cJSON_AddNumberToObject(s, "dims", a->st[i].d);
        cJSON_AddStringToObject(s, "metric", knn_metric_name(O.metric));
        cJSON_AddStringToObject(s, "score", score_desc(O.metric));
        cJSON_AddItemToArray(arr, s);
    }
    cJSON_AddBoolToObject(o, "artists", a->have_artists);
    if (a->pl) {
        cJSON *p = cJSON_AddObjectToObject(o, "playlists");
        cJSON_AddStringToObject(p, "model", plr_names[O.plmodel]);
        cJSON_AddNumberToObject(p, "playlists", (double)a->pl->train.n);
        cJSON_AddNumberToObject(p, "tracks", (double)a->pl->vocab.cat.nrows);
    } else {
        cJSON_AddNullToObject(o, "playlists");
    }
    if (a->sound) {
        cJSON *p = cJSON_AddObjectToObject(o, "sound");
        cJSON_AddNumberToObject(p, "songs", (double)a->sound->tab.nrows);
        cJSON_AddNumberToObject(p, "dims", a->sound->d);
        cJSON_AddNumberToObject(p, "max_upload", (double)O.max_upload);
    } else {
        cJSON_AddNullToObject(o, "sound");
    }
    cJSON_AddNumberToObject(o, "generation", (double)a->generation);
    r->body = o;
    return 0;
}

int api_search(struct MHD_Connection *c, artset *a, reply *r) {
    const char *q;
    long limit;
    if (text_arg(c, r, "q", "a title, 'TITLE - ARTIST' or a song id", &q) ||
        int_arg(c, r, "limit", 1, 100, 10, &limit))
        return -1;
    style *s = &a->st[0];
    int64_t *rows = NULL, n = cat_songs_find(&s->songs, q, &rows), sug[16];
    const char *match = "title";
    if (n < 0) return fail_with(r, 500, "out of memory");
    if (n == 0) {
        n = cat_songs_suggest(&s->songs, q, sug, (int)(limit < 16 ? limit : 16));
        match = n ? "did you mean" : "none";
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "results");
    cJSON_AddStringToObject(o, "query", q);
    cJSON_AddStringToObject(o, "match", match);
    cJSON_AddNumberToObject(o, "total", (double)n);
    for (int64_t i = 0; arr && i < n && i < limit; i++) cJSON_AddItemToArray(arr, song_json(s, rows ? rows[i] : sug[i]));
    free(rows);
    r->body = o;
    return 0;
}

/* The reply of a finished search: query, style, results. */
static int similar_reply(reply *r, style *s, cJSON *query, int n, int k, const int64_t *rows, const double *sc,
                         const int64_t *near, int64_t qrow, const float *q) {
    cJSON *o = cJSON_CreateObject(), *res = results_json(s, qrow, q, n, rows, sc, near);
    if (!o || !res || !query) { cJSON_Delete(o); cJSON_Delete(res); cJSON_Delete(query); return fail_with(r, 500, "out of memory"); }
    cJSON_AddStringToObject(o, "style", s->name);
    cJSON_AddStringToObject(o, "metric", knn_metric_name(O.metric));
    cJSON_AddStringToObject(o, "score", score_desc(O.metric));
    cJSON_AddNumberToObject(o, "k", k);
    cJSON_AddItemToObject(o, "query", query);
    cJSON_AddItemToObject(o, "results", res);
    r->body = o;
    return 0;
}

/* Runs fn with a filter state of s. */
song_search *take_or_busy(style *s, reply *r) {
    song_search *ss = style_take(s);
    if (!ss) fail_with(r, 503, "all search slots are busy; try again");
    return ss;
}

int api_similar_get(struct MHD_Connection *c, artset *a, reply *r) {
    const char *id;
    long k;
    int64_t row;
    style *s = find_style(a, r, arg(c, "style"));
    if (!s || text_arg(c, r, "id", "a song id, or a title as knn --song takes", &id) ||
        int_arg(c, r, "k", 1, O.max_k, 10, &k) || resolve(s, r, id, "", &row))
        return -1;
    int64_t *rows = malloc(sizeof *rows * (size_t)k);
    double *sc = malloc(sizeof *sc * (size_t)k);
    song_search *ss = take_or_busy(s, r);
    int n = -1;
    if (ss && rows && sc) {
        ss_begin(ss);
        ss_exclude(ss, row);
        n = ss_search(ss, s->ix.x + row * s->d, (int)k, rows, sc);
    }
    if (ss) style_give(s, ss);
    int rc = n < 0 ? (ss ? fail_with(r, 500, "out of memory searching (k=%ld)", k) : -1)
                   : similar_reply(r, s, song_json(s, row), n, (int)k, rows, sc, NULL, row,
                                   (const float *)s->tab.data + row * s->d);
    free(rows); free(sc);
    return rc;
}

/* The body of POST /api/similar: ids (array of strings), style, k. */
static int parse_list(const char *body, size_t len, reply *r, cJSON **root, cJSON **ids, const char **style_name, long *k) {
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!*root) return fail_with(r, 400, "malformed JSON body near byte %ld; send [\"id\", ...] or {\"ids\": [...]}",
                                 end ? (long)(end - body) : 0L);
    *ids = cJSON_IsArray(*root) ? *root : cJSON_GetObjectItemCaseSensitive(*root, "ids");
    if (cJSON_IsObject(*root)) {
        cJSON *st = cJSON_GetObjectItemCaseSensitive(*root, "style"), *kk = cJSON_GetObjectItemCaseSensitive(*root, "k");
        if (st && !cJSON_IsString(st)) return fail_with(r, 400, "\"style\" must be a string");
        if (st) *style_name = st->valuestring;
        if (kk && (!cJSON_IsNumber(kk) || kk->valuedouble != floor(kk->valuedouble) || kk->valuedouble < 1 ||
                   kk->valuedouble > O.max_k))
            return fail_with(r, 400, "\"k\" must be an integer between 1 and %d", O.max_k);
        if (kk) *k = (long)kk->valuedouble;
    }
    if (!cJSON_IsArray(*ids)) return fail_with(r, 400, "the body must be a list of song ids or {\"ids\": [...]}");
    int n = cJSON_GetArraySize(*ids);
    if (n < 1 || n > 1000) return fail_with(r, 400, "the list must hold 1 to 1000 songs (it holds %d)", n);
    cJSON *it;
    cJSON_ArrayForEach(it, *ids)
        if (!cJSON_IsString(it) || !utf8_ok(it->valuestring) || !*it->valuestring)
            return fail_with(r, 400, "every song in the list must be a non-empty string (an id or a title)");
    return 0;
}

int api_similar_post(struct MHD_Connection *c, artset *a, reply *r, const char *body, size_t len) {
    cJSON *root = NULL, *ids = NULL, *it;
    const char *sname = arg(c, "style");
    long k = 10;
    int rc = -1, nm = 0, i = 0;
    int64_t *mem = NULL, *rows = NULL, *near = NULL;
    double *sc = NULL;
    float *mean = NULL;
    song_search *ss = NULL;
    style *s;
    if (int_arg(c, r, "k", 1, O.max_k, 10, &k) || parse_list(body, len, r, &root, &ids, &sname, &k) ||
        !(s = find_style(a, r, sname)))
        goto done;
    mem = malloc(sizeof *mem * (size_t)cJSON_GetArraySize(ids));
    rows = malloc(sizeof *rows * (size_t)k);
    near = malloc(sizeof *near * (size_t)k);
    sc = malloc(sizeof *sc * (size_t)k);
    if (!mem || !rows || !near || !sc) { fail_with(r, 500, "out of memory"); goto done; }
    cJSON_ArrayForEach(it, ids) {
        char what[64];
        int64_t row, dup = 0;
        snprintf(what, sizeof what, "playlist song %d: ", ++i);
        if (resolve(s, r, it->valuestring, what, &row)) goto done;
        for (int j = 0; j < nm; j++) dup |= s->songs.group[mem[j]] == s->songs.group[row];
        if (!dup) mem[nm++] = row;
    }
    if (!(ss = take_or_busy(s, r))) goto done;
    int n = ss_playlist(ss, mem, nm, (int)k, rows, sc, near);
    style_give(s, ss);
    if (n < 0) { fail_with(r, 500, "out of memory searching (k=%ld)", k); goto done; }
    cJSON *q = cJSON_CreateArray();
    for (int j = 0; q && j < nm; j++) cJSON_AddItemToArray(q, song_json(s, mem[j]));
    if (!(mean = calloc((size_t)s->d, sizeof *mean))) { cJSON_Delete(q); fail_with(r, 500, "out of memory"); goto done; }
    for (int j = 0; j < nm; j++)
        for (int t = 0; t < s->d; t++) mean[t] += ((const float *)s->tab.data)[mem[j] * s->d + t] / (float)nm;
    rc = similar_reply(r, s, q, n, (int)k, rows, sc, near, nm == 1 ? mem[0] : -1, mean);
done:
    cJSON_Delete(root);
    free(mem); free(rows); free(near); free(sc); free(mean);
    return rc;
}

int api_artist(struct MHD_Connection *c, artset *a, reply *r) {
    const char *name;
    long k;
    int64_t row, *cands, nc;
    style *s = &a->st[0];
    if (!a->have_artists) return fail_with(r, 404, "no artist table: build %s/features/artists.norm.ts (make features)", O.out);
    if (text_arg(c, r, "name", "an artist's name", &name) || int_arg(c, r, "k", 1, O.max_k, 10, &k)) return -1;
    int rc = ss_resolve_key((const char *const *)a->artists.keys, a->artists.nrows, name, 0, &row, &cands, &nc);
    if (rc < 0) return fail_with(r, 500, "out of memory");
    if (rc == SS_NONE)
        return fail_with(r, 404, "no artist matches '%s' in %s/features/artists.norm.ts (%" PRId64 " artists; names are matched ignoring case, accents and punctuation)",
                         name, O.out, a->artists.nrows);
    if (rc == SS_AMBIGUOUS) {
        r->cands = cands;
        r->ncands = nc;
        r->cand_keys = (const char *const *)a->artists.keys;
        return fail_with(r, 409, "'%s' matches %" PRId64 " artists; name one exactly", name, nc);
    }
    float *v = malloc(sizeof *v * (size_t)s->d);
    int64_t *rows = malloc(sizeof *rows * (size_t)k);
    double *sc = malloc(sizeof *sc * (size_t)k);
    song_search *ss = v && rows && sc ? take_or_busy(s, r) : NULL;
    int n = -1;
    if (ss) {
        ss_gather_row(&a->artists.h, a->artists.data, row, a->amap, s->d, v);
        ss_begin(ss);
        n = ss_search(ss, v, (int)k, rows, sc);
        style_give(s, ss);
    }
    cJSON *q = cJSON_CreateObject();
    if (q) cJSON_AddStringToObject(q, "artist", a->artists.keys[row]);
    rc = n < 0 ? (r->status ? -1 : fail_with(r, 500, "out of memory")) : similar_reply(r, s, q, n, (int)k, rows, sc, NULL, -1, v);
    if (n < 0) cJSON_Delete(q);
    free(v); free(rows); free(sc);
    return rc;
}

/* ---- playlist continuation ---- */

static cJSON *track_json(const pl_vocab *v, int32_t t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "track", t);
    if (t >= 0 && t < v->cat.nrows) {
        add_str(o, "uri", cat_cell(&v->cat, t, 0));
        add_str(o, "title", cat_cell(&v->cat, t, v->name_col));
        add_str(o, "artist", cat_cell(&v->cat, t, v->artist_col));
    }
    return o;
}

/* Why track t follows the seeds: the training playlists holding t, and how
 * many of those also hold a seed (seedpl marks them). */
static void continue_reason(const playlists *p, const unsigned char *seedpl, int32_t t, char *buf, size_t cap) {
    int64_t with = 0, all = 0;
    const plm_model *m = &p->r.m;
    if (t < m->ntracks) {
        all = m->tr_off[t + 1] - m->tr_off[t];
        for (int64_t i = m->tr_off[t]; i < m->tr_off[t + 1]; i++) with += seedpl[m->tr_pl[i]];
    }
    if (with) snprintf(buf, cap, "in %" PRId64 " of the %" PRId64 " training playlists with your songs", with, all);
    else snprintf(buf, cap, "popular: in %" PRId64 " training playlists, none with your songs", all);
}

/* The body: {"songs": ["Title - Artist", ...], "n": 20, "title": "...",
 * "lenient": false}; lenient skips songs the vocabulary lacks (listed in
 * "unmatched") as long as one matches. */
int api_continue(artset *a, reply *r, const char *body, size_t len) {
    playlists *p = a->pl;
    if (!p) return fail_with(r, 404, "no playlist model: build %s/playlists (make playlists MPD_DIR=folder)", O.out);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0), *songs, *it, *unmatched = NULL;
    int rc = -1, i = 0;
    int32_t *seeds = NULL, *out = NULL;
    unsigned char *seedpl = NULL;
    int64_t ns = 0, n = 20;
    if (!root) { fail_with(r, 400, "malformed JSON body near byte %ld; send {\"songs\": [\"Title - Artist\", ...]}", end ? (long)(end - body) : 0L); goto done; }
    songs = cJSON_GetObjectItemCaseSensitive(root, "songs");
    cJSON *jn = cJSON_GetObjectItemCaseSensitive(root, "n"), *jt = cJSON_GetObjectItemCaseSensitive(root, "title");
    int lenient = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "lenient"));
    const char *title = cJSON_IsString(jt) && utf8_ok(jt->valuestring) ? jt->valuestring : "";
    if (!cJSON_IsArray(songs) || cJSON_GetArraySize(songs) > 1000 || (!cJSON_GetArraySize(songs) && !*title)) {
        fail_with(r, 400, "the body must be {\"songs\": [1 to 1000 names], \"n\": 20} (or a \"title\" alone)");
        goto done;
    }
    if (jn && (!cJSON_IsNumber(jn) || jn->valuedouble != floor(jn->valuedouble) || jn->valuedouble < 1 || jn->valuedouble > O.max_k)) {
        fail_with(r, 400, "\"n\" must be an integer between 1 and %d", O.max_k);
        goto done;
    }
    if (jn) n = (int64_t)jn->valuedouble;
    seeds = malloc(sizeof *seeds * (size_t)(cJSON_GetArraySize(songs) + 1));
    out = malloc(sizeof *out * (size_t)n);
    seedpl = calloc((size_t)(p->train.n ? p->train.n : 1), 1);
    unmatched = cJSON_CreateArray();
    if (!seeds || !out || !seedpl || !unmatched) { fail_with(r, 500, "out of memory"); goto done; }
    cJSON_ArrayForEach(it, songs) {
        char msg[2048];
        int32_t t;
        i++;
        if (!cJSON_IsString(it) || !utf8_ok(it->valuestring) || !*it->valuestring) {
            fail_with(r, 400, "song %d: every song must be a non-empty string 'Title - Artist'", i);
            goto done;
        }
        int res = plv_resolve(&p->vocab, it->valuestring, &t, msg, sizeof msg);
        if (res < 0) { fail_with(r, 500, "out of memory"); goto done; }
        if (res == 0) seeds[ns++] = t;
        else if (lenient) cJSON_AddItemToArray(unmatched, cJSON_CreateString(it->valuestring));
        else { fail_with(r, 404, "song %d: %s", i, msg); goto done; }
    }
    if (!ns && !*title) { fail_with(r, 404, "none of the %d songs is in the playlists' vocabulary", i); goto done; }
    pthread_mutex_lock(&p->mu);
    int64_t k = plr_recommend(&p->r, title, seeds, ns, out, n);
    pthread_mutex_unlock(&p->mu);
    if (k < 0) { fail_with(r, 500, k == -2 ? "co-occurrence scores past 2^32 - 1" : "out of memory"); goto done; }
    for (int64_t s = 0; s < ns; s++)
        if (seeds[s] < p->r.m.ntracks)
            for (int64_t j = p->r.m.tr_off[seeds[s]]; j < p->r.m.tr_off[seeds[s] + 1]; j++) seedpl[p->r.m.tr_pl[j]] = 1;
    cJSON *o = cJSON_CreateObject(), *sj = cJSON_AddArrayToObject(o, "seeds"), *res = cJSON_AddArrayToObject(o, "results");
    cJSON_AddStringToObject(o, "model", plr_names[O.plmodel]);
    for (int64_t s = 0; sj && s < ns; s++) cJSON_AddItemToArray(sj, track_json(&p->vocab, seeds[s]));
    for (int64_t j = 0; res && j < k; j++) {
        char why[256];
        cJSON *t = track_json(&p->vocab, out[j]);
        if (!t) break;
        cJSON_AddNumberToObject(t, "rank", (double)(j + 1));
        continue_reason(p, seedpl, out[j], why, sizeof why);
        cJSON_AddStringToObject(t, "reason", why);
        cJSON_AddItemToArray(res, t);
    }
    cJSON_AddItemToObject(o, "unmatched", unmatched);
    unmatched = NULL;
    r->body = o;
    rc = 0;
done:
    cJSON_Delete(root); cJSON_Delete(unmatched);
    free(seeds); free(out); free(seedpl);
    return rc;
}

