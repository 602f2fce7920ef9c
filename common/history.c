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
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define HIST_MAX_FILE (1u << 30)

void hist_init(hist *h, long min_ms) {
    memset(h, 0, sizeof *h);
    strmap_init(&h->ids);
    h->min_ms = min_ms;
}

void hist_free(hist *h) {
    for (int64_t i = 0; i < h->n; i++) { free(h->t[i].uri); free(h->t[i].artist); free(h->t[i].title); }
    free(h->t);
    strmap_free(&h->ids);
    memset(h, 0, sizeof *h);
}

int hist_is_history_name(const char *name) {
    return (!strncmp(name, "StreamingHistory", 16) || !strncmp(name, "Streaming_History_Audio_", 24) ||
            !strncmp(name, "endsong", 7)) && strlen(name) > 5 && !strcmp(name + strlen(name) - 5, ".json");
}

static char *cut_title(const char *title) {
    size_t n = strlen(title);
    const char *cuts[] = {" - ", " (", " ["};
    for (int i = 0; i < 3; i++) {
        const char *p = strstr(title, cuts[i]);
        if (p && p > title && (size_t)(p - title) < n) n = (size_t)(p - title);
    }
    return strndup(title, n);
}

char *hist_name_key(const char *title, const char *artist, int loose) {
    char *t = loose ? cut_title(title) : strdup(title);
    char *ft = t ? text_fold_dup(t, 1) : NULL, *fa = text_fold_dup(artist, 1), *k = NULL;
    if (ft && fa && (k = malloc(strlen(ft) + strlen(fa) + 2))) sprintf(k, "%s\x1f%s", ft, fa);
    free(t); free(ft); free(fa);
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
    if (!title || !artist || (extended && str_field(e, "spotify_episode_uri"))) { h->other++; return 1; }
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

int hist_add_json(hist *h, const char *text, size_t len, const char *name, char *err, size_t errlen) {
    const char *end = NULL;
    if (json_check_text(text, len, name, err, errlen)) return -1;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        return err_fail(err, errlen, "%s:%ld: invalid JSON; expected the array of a Spotify streaming-history file",
                    name, at && at >= text && at <= text + len ? line_of(text, at) : 1L);
    }
    int rc = 0;
    if (json_check_end(text, len, end, name, err, errlen) || json_check_keys(root, name, err, errlen)) {
        rc = -1;
    } else if (!cJSON_IsArray(root)) {
        rc = err_fail(err, errlen, "%s: the JSON is not an array of plays; a Spotify history file is [{\"endTime\": ...}, ...] "
                  "or [{\"ts\": ...}, ...]", name);
    } else {
        int64_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, root) {
            if (add_entry(h, e, name, i++, err, errlen) < 0) { rc = -1; break; }
        }
        h->plays_input = 1;
    }
    cJSON_Delete(root);
    return rc;
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

static int add_file(hist *h, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    int c;
    while ((c = getc(f)) == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xEF || c == 0xBB || c == 0xBF) {}
    if (c != '[' && c != '{') {     /* not JSON: a ranked CSV list */
        fclose(f);
        h->files++;
        return hist_add_csv(h, path, err, errlen);
    }
    rewind(f);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *p = cap < HIST_MAX_FILE ? realloc(buf, cap * 2) : NULL;
            if (!p) { free(buf); buf = NULL; break; }
            buf = p;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return err_fail(err, errlen, "%s: out of memory or larger than %u MiB", path, HIST_MAX_FILE >> 20);
    if (bad) { free(buf); return err_fail(err, errlen, "%s: read error", path); }
    int rc = hist_add_json(h, buf, n, path, err, errlen);
    free(buf);
    h->files++;
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int hist_add_path(hist *h, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st)) return err_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return add_file(h, path, err, errlen);
    DIR *d = opendir(path);
    if (!d) return err_fail(err, errlen, "%s: cannot open the folder: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!hist_is_history_name(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) break;
            names = p;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);      /* file order: the export's order */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p = malloc(strlen(path) + strlen(names[i]) + 2);
        if (!p) { rc = err_fail(err, errlen, "out of memory"); break; }
        sprintf(p, "%s/%s", path, names[i]);
        rc = add_file(h, p, err, errlen);
        free(p);
    }
    if (rc == 0 && n == 0)
        rc = err_fail(err, errlen, "%s: no streaming-history file in the folder (StreamingHistory*.json, "
                  "StreamingHistory_music_*.json, Streaming_History_Audio_*.json or endsong*.json)", path);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}
