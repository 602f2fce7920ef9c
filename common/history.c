/* history.c - reading Spotify streaming-history exports into per-track sums.
 * Formats: Spotify's "ReadMeFirst" of the data export (basic and extended
 * streaming history); see history.h. */
#include "history.h"
#include "errbuf.h"
#include "jsoncheck.h"
#include "csvin.h"
#include "csvnum.h"
#include "text.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void hist_init(hist *h, long min_ms) {
    memset(h, 0, sizeof *h);
    strmap_init(&h->ids);
    h->min_ms = min_ms;
    h->max_file = HIST_MAX_FILE;
}

void hist_free(hist *h) {
    for (int64_t i = 0; i < h->n; i++) { free(h->t[i].uri); free(h->t[i].artist); free(h->t[i].title); }
    free(h->t);
    strmap_free(&h->ids);
    memset(h, 0, sizeof *h);
}

static int ends_json(const char *name) {
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".json");
}

enum hist_kind hist_kind_of(const char *base) {
    if (!ends_json(base)) return HIST_NONE;
    if (!strncmp(base, "Streaming_History_Video_", 24)) return HIST_VIDEO;
    if (!strncmp(base, "Streaming_History_Audio_", 24) || !strncmp(base, "endsong", 7)) return HIST_EXTENDED;
    if (!strncmp(base, "StreamingHistory", 16)) return HIST_BASIC;
    return HIST_NONE;
}

int hist_is_history_name(const char *name) {
    enum hist_kind k = hist_kind_of(name);
    return k == HIST_BASIC || k == HIST_EXTENDED;
}

/* length of s before its first cut marker (case-insensitive) */
static size_t cut_at(const char *s, const char *const *marks) {
    size_t n = strlen(s);
    for (int i = 0; marks[i]; i++) {
        const char *p = strcasestr(s, marks[i]);
        if (p && p > s && (size_t)(p - s) < n) n = (size_t)(p - s);
    }
    return n;
}

static const char *const FEAT[] = {" feat. ", " feat ", " ft. ", " featuring ", NULL};
static const char *const TITLE_CUTS[] = {" - ", " (", " [", " feat. ", " feat ", " ft. ", " featuring ", NULL};

char *hist_name_key(const char *title, const char *artist, int loose) {
    char *t = loose ? strndup(title, cut_at(title, TITLE_CUTS)) : strdup(title);
    char *a = loose ? strndup(artist, cut_at(artist, FEAT)) : strdup(artist);
    char *ft = t ? text_fold_dup(t, 1) : NULL, *fa = a ? text_fold_dup(a, 1) : NULL, *k = NULL;
    if (ft && fa && (k = malloc(strlen(ft) + strlen(fa) + 2))) sprintf(k, "%s\x1f%s", ft, fa);
    free(t); free(a); free(ft); free(fa);
    return k;
}

/* the track of (uri | artist + title), created on first sight; NULL: OOM */
static hist_track *track_of(hist *h, const char *uri, const char *artist, const char *title) {
    char *id = uri ? strdup(uri) : hist_name_key(title, artist, 0);
    if (!id) return NULL;
    int64_t i = strmap_get(&h->ids, id);
    if (i < 0) {
        if (h->n == h->cap) {
            int64_t c = h->cap ? h->cap * 2 : 1024;
            hist_track *p = realloc(h->t, (size_t)c * sizeof *p);
            if (!p) { free(id); return NULL; }
            h->t = p;
            h->cap = c;
        }
        hist_track *t = &h->t[h->n];
        memset(t, 0, sizeof *t);
        t->order = h->n;
        if ((uri && !(t->uri = strdup(uri))) || !(t->artist = strdup(artist)) || !(t->title = strdup(title)) ||
            strmap_put(&h->ids, id, h->n) == -2) {
            free(t->uri); free(t->artist); free(t->title); free(id);
            return NULL;
        }
        i = h->n++;
    }
    free(id);
    return &h->t[i];
}

static const char *str_field(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* line of position p in text (1-based) */
static long line_of(const char *text, const char *p) {
    long line = 1;
    for (const char *q = text; q < p; q++) line += *q == '\n';
    return line;
}

/* widens [first_day, last_day] by the YYYY-MM-DD that starts when */
static void note_day(hist *h, const char *when) {
    if (!when || strlen(when) < 10) return;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? when[i] != '-' : !isdigit((unsigned char)when[i])) return;
    if (!h->first_day[0] || strncmp(when, h->first_day, 10) < 0) memcpy(h->first_day, when, 10);
    if (!h->last_day[0] || strncmp(when, h->last_day, 10) > 0) memcpy(h->last_day, when, 10);
}

/* one entry of either JSON format; 0 ok, 1 not music, -1 error */
static int add_entry(hist *h, const cJSON *e, const char *name, int64_t idx, char *err, size_t errlen) {
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "msPlayed");
    int extended = 0;
    if (!ms) { ms = cJSON_GetObjectItemCaseSensitive(e, "ms_played"); extended = 1; }
    if (!cJSON_IsObject(e) || !cJSON_IsNumber(ms) || ms->valuedouble < 0)
        return err_fail(err, errlen, "%s: entry %lld: no msPlayed (basic history) or ms_played (extended history) number; "
                    "is this a Spotify streaming-history file?", name, (long long)idx + 1);
    /* 1e999 parses as infinity; past 2^53 ms (285,000 years) sums lose exactness */
    if (!(ms->valuedouble <= 9007199254740992.0))
        return err_fail(err, errlen, "%s: entry %lld: %s %g is not a finite play time in milliseconds; fix or remove the entry",
                    name, (long long)idx + 1, extended ? "ms_played" : "msPlayed", ms->valuedouble);
    const char *artist = str_field(e, extended ? "master_metadata_album_artist_name" : "artistName");
    const char *title = str_field(e, extended ? "master_metadata_track_name" : "trackName");
    const char *uri = extended ? str_field(e, "spotify_track_uri") : NULL;
    if (!title || !artist || (extended && str_field(e, "spotify_episode_uri"))) {
        int episode = extended ? str_field(e, "spotify_episode_uri") || str_field(e, "episode_name")
                               : str_field(e, "episodeName") || str_field(e, "podcastName");
        if (episode) h->podcast++; else h->other++;
        return 1;
    }
    note_day(h, str_field(e, extended ? "ts" : "endTime"));
    if (uri && strncmp(uri, "spotify:track:", 14)) uri = NULL;
    hist_track *t = track_of(h, uri, artist, title);
    if (!t) return err_fail(err, errlen, "out of memory");
    double m = ms->valuedouble;
    const cJSON *sk = extended ? cJSON_GetObjectItemCaseSensitive(e, "skipped") : NULL;
    t->entries++;
    t->ms += m;
    t->plays += m >= (double)h->min_ms;
    t->skips += cJSON_IsBool(sk) ? cJSON_IsTrue(sk) : m < (double)h->min_ms;
    h->entries++;
    return 0;
}

/* the checked JSON array of a history file, or NULL with err set */
static cJSON *parse_history(const char *text, size_t len, const char *name, char *err, size_t errlen) {
    const char *end = NULL;
    if (json_check_text(text, len, name, err, errlen)) return NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        err_fail(err, errlen, "%s:%ld: invalid JSON; expected the array of a Spotify streaming-history file",
                 name, at && at >= text && at <= text + len ? line_of(text, at) : 1L);
        return NULL;
    }
    if (json_check_end(text, len, end, name, err, errlen) || json_check_keys(root, name, err, errlen)) {
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_IsArray(root)) {
        err_fail(err, errlen, "%s: the JSON is not an array of plays; a Spotify history file is [{\"endTime\": ...}, ...] "
                 "or [{\"ts\": ...}, ...]", name);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int hist_add_json(hist *h, const char *text, size_t len, const char *name, char *err, size_t errlen) {
    cJSON *root = parse_history(text, len, name, err, errlen);
    if (!root) return -1;
    int rc = 0;
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (add_entry(h, e, name, i++, err, errlen) < 0) { rc = -1; break; }
    }
    h->plays_input = 1;
    cJSON_Delete(root);
    return rc;
}

int hist_count_video(hist *h, const char *text, size_t len, const char *name, char *err, size_t errlen) {
    cJSON *root = parse_history(text, len, name, err, errlen);
    if (!root) return -1;
    h->video_files++;
    h->video_rows += cJSON_GetArraySize(root);
    cJSON_Delete(root);
    return 0;
}

/* ---- CSV ranked lists ---- */
typedef struct {
    hist *h;
    const char *name;
    int ct, ca, cu, cr;
    struct row { double rank; int64_t line; char *uri, *artist, *title; } *rows;
    int64_t n, cap;
    char *err;
    size_t errlen;
} csv_ctx;

static int find_col(const csvin_row *r, const char *const *names) {
    for (int k = 0; names[k]; k++)
        for (int i = 0; i < r->nfields; i++)
            if (r->field[i] && !strcasecmp(r->field[i], names[k])) return i;
    return -1;
}

static int on_csv_row(void *vctx, const csvin_row *r) {
    csv_ctx *c = vctx;
    if (r->index == 0) {
        static const char *const T[] = {"track_name", "trackName", "master_metadata_track_name", "title", "name", "track", "song", NULL};
        static const char *const A[] = {"track_artist", "artist", "artist_name", "artistName", "artists", "master_metadata_album_artist_name", NULL};
        static const char *const U[] = {"spotify_track_uri", "uri", "track_uri", "trackUri", "track_id", "id", NULL};
        static const char *const R[] = {"rank", "position", NULL};
        c->ct = find_col(r, T); c->ca = find_col(r, A); c->cu = find_col(r, U); c->cr = find_col(r, R);
        if (c->ct < 0 && c->cu < 0) {
            err_fail(c->err, c->errlen, "%s:1: no title column (track_name, title, name, ...) nor uri column (uri, track_id, ...) in the header", c->name);
            return 1;
        }
        return 0;
    }
    const char *f[4] = {NULL, NULL, NULL, NULL};
    int col[4] = {c->ct, c->ca, c->cu, c->cr};
    for (int k = 0; k < 4; k++) if (col[k] >= 0 && col[k] < r->nfields) f[k] = r->field[col[k]];
    if ((!f[0] || !*f[0]) && (!f[2] || !*f[2])) return 0;     /* a blank line */
    double rank = (double)r->index;
    if (f[3] && *f[3] && csvnum_parse(f[3], strlen(f[3]), &rank) != CSVNUM_OK) {
        err_fail(c->err, c->errlen, "%s:%ld: rank '%s' is not a number", c->name, r->line, f[3]);
        return 1;
    }
    if (c->n == c->cap) {
        int64_t cap = c->cap ? c->cap * 2 : 256;
        struct row *p = realloc(c->rows, (size_t)cap * sizeof *p);
        if (!p) { err_fail(c->err, c->errlen, "out of memory"); return 1; }
        c->rows = p;
        c->cap = cap;
    }
    char uri[256] = "";
    if (f[2] && *f[2]) {        /* a bare 22-character id becomes a uri */
        if (!strncmp(f[2], "spotify:track:", 14)) snprintf(uri, sizeof uri, "%s", f[2]);
        else if (!strncmp(f[2], "https://open.spotify.com/track/", 31)) snprintf(uri, sizeof uri, "spotify:track:%.22s", f[2] + 31);
        else snprintf(uri, sizeof uri, "spotify:track:%s", f[2]);
    }
    struct row *w = &c->rows[c->n];
    w->rank = rank;
    w->line = r->line;
    w->uri = *uri ? strdup(uri) : NULL;
    w->artist = strdup(f[1] ? f[1] : "");
    w->title = strdup(f[0] ? f[0] : "");
    if ((*uri && !w->uri) || !w->artist || !w->title) { err_fail(c->err, c->errlen, "out of memory"); return 1; }
    c->n++;
    return 0;
}

static int cmp_rank(const void *a, const void *b) {
    const struct row *p = a, *q = b;
    if (p->rank != q->rank) return p->rank < q->rank ? -1 : 1;
    return (p->line > q->line) - (p->line < q->line);
}

int hist_add_csv(hist *h, const char *path, char *err, size_t errlen) {
    csvin *in = csvin_open(path, ',', err, errlen);
    if (!in) return -1;
    csv_ctx c = {.h = h, .name = path, .err = err, .errlen = errlen};
    int rc = csvin_each(in, on_csv_row, &c);
    if (rc < 0) err_fail(err, errlen, "%s", csvin_error(in));
    csvin_close(in);
    if (rc == 0) {
        if (c.n) qsort(c.rows, (size_t)c.n, sizeof *c.rows, cmp_rank);
        for (int64_t i = 0; i < c.n && rc == 0; i++) {
            hist_track *t = track_of(h, c.rows[i].uri, c.rows[i].artist, c.rows[i].title);
            if (!t) rc = err_fail(err, errlen, "out of memory");
            else { t->entries++; h->entries++; }
        }
        h->ranked = 1;
    }
    for (int64_t i = 0; i < c.n; i++) { free(c.rows[i].uri); free(c.rows[i].artist); free(c.rows[i].title); }
    free(c.rows);
    return rc ? -1 : 0;
}
