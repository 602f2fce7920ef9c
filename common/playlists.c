/* playlists.c - playlists streams in memory (playlists.h). */
#include "playlists.h"
#include "../formats/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl_init(pl_set *s) {
    memset(s, 0, sizeof *s);
    strmap_init(&s->index);
}

void pl_free(pl_set *s) {
    free(s->off); free(s->track); free(s->keyoff); free(s->keybuf);
    strmap_free(&s->index);
    memset(s, 0, sizeof *s);
}

int64_t pl_find(const pl_set *s, const char *key) { return strmap_get(&s->index, key); }

static int grow_playlists(pl_set *s) {
    if (s->n + 1 < s->cap) return 0;
    int64_t c = s->cap ? s->cap * 2 : 1024;
    int64_t *off = realloc(s->off, (size_t)(c + 1) * sizeof *off);
    if (off) s->off = off;
    int64_t *key = realloc(s->keyoff, (size_t)c * sizeof *key);
    if (key) s->keyoff = key;
    if (!off || !key) return -1;
    if (!s->cap) s->off[0] = 0;
    s->cap = c;
    return 0;
}

static int grow_rows(pl_set *s, int64_t extra) {
    int64_t need = s->off[s->n] + extra;
    if (need <= s->rows_cap) return 0;
    int64_t c = s->rows_cap ? s->rows_cap : 1 << 16;
    while (c < need) c *= 2;
    int32_t *t = realloc(s->track, (size_t)c * sizeof *t);
    if (!t) return -1;
    s->track = t;
    s->rows_cap = c;
    return 0;
}

/* starts playlist `key`; the caller then appends its rows */
static int begin(pl_set *s, const char *key, char *err, size_t errlen) {
    if (grow_playlists(s)) goto oom;
    int64_t had = strmap_put(&s->index, key, s->n);
    if (had == -2) goto oom;
    if (had >= 0) {
        snprintf(err, errlen, "playlist '%s' appears twice (or its rows are not contiguous)", key);
        return -1;
    }
    size_t kl = strlen(key) + 1;
    if (s->keylen + kl > s->keycap) {
        size_t c = s->keycap ? s->keycap * 2 : 1 << 16;
        while (c < s->keylen + kl) c *= 2;
        char *k = realloc(s->keybuf, c);
        if (!k) goto oom;
        s->keybuf = k;
        s->keycap = c;
    }
    memcpy(s->keybuf + s->keylen, key, kl);
    s->keyoff[s->n] = (int64_t)s->keylen;
    s->keylen += kl;
    s->off[s->n + 1] = s->off[s->n];
    s->n++;
    return 0;
oom:
    snprintf(err, errlen, "out of memory (%lld playlists)", (long long)s->n);
    return -1;
}

static int push(pl_set *s, int32_t t) {
    if (grow_rows(s, 1)) return -1;
    s->track[s->off[s->n]++] = t;
    if (t >= s->ntracks) s->ntracks = t + 1;
    return 0;
}

int pl_add(pl_set *s, const char *key, const int32_t *tracks, int64_t n, char *err, size_t errlen) {
    if (begin(s, key, err, errlen)) return -1;
    if (grow_rows(s, n)) { snprintf(err, errlen, "out of memory (%lld rows)", (long long)s->off[s->n]); return -1; }
    for (int64_t i = 0; i < n; i++) push(s, tracks[i]);
    return 0;
}

int pl_load(pl_set *s, const char *path, const char *name, char *err, size_t errlen) {
    pl_init(s);
    ts_reader *r = ts_open_read(path, err, errlen);
    if (!r) return -1;
    const ts_header *h;
    int rc;
    while ((rc = ts_next_tensor(r, &h)) == 1) {
        if (!name || !strcmp(h->name, name)) break;
        ts_block b;
        while ((rc = ts_read_block(r, &b)) == 1) {}
        if (rc < 0) break;
    }
    if (rc <= 0) {
        if (rc < 0) snprintf(err, errlen, "%s", ts_error(r));
        else snprintf(err, errlen, "%s: %s", ts_reader_name(r),
                      name ? "no tensor of that name" : "the stream holds no tensor");
        if (rc == 0 && name) snprintf(err, errlen, "%s: no tensor named '%s'", ts_reader_name(r), name);
        goto fail;
    }
    if (h->dtype != TS_I32 || h->row_elems < 1) {
        snprintf(err, errlen, "%s: tensor '%s' is %s with %lld values per row; a playlists stream has i32 rows (track, pos) (mpd-ingest writes one)",
                 ts_reader_name(r), h->name, ts_dtype_name(h->dtype), (long long)h->row_elems);
        goto fail;
    }
    int64_t width = h->row_elems;
    ts_block b;
    const char *last = NULL;
    char lastbuf[TS_MAX_KEY];
    while ((rc = ts_read_block(r, &b)) == 1) {
        const int32_t *d = b.data;
        for (int64_t i = 0; i < b.nrows; i++) {
            if (!last || strcmp(last, b.keys[i])) {
                if (begin(s, b.keys[i], err, errlen)) {
                    char m[512];
                    snprintf(m, sizeof m, "%s", err);
                    snprintf(err, errlen, "%s: row %lld: %s; a playlists stream holds each playlist's rows together",
                             ts_reader_name(r), (long long)(b.first_row + i + 1), m);
                    goto fail;
                }
                snprintf(lastbuf, sizeof lastbuf, "%s", b.keys[i]);
                last = lastbuf;
            }
            int32_t t = d[i * width];
            if (t < 0) {
                snprintf(err, errlen, "%s: row %lld: negative track index %d", ts_reader_name(r), (long long)(b.first_row + i + 1), t);
                goto fail;
            }
            if (push(s, t)) { snprintf(err, errlen, "out of memory"); goto fail; }
        }
    }
    if (rc < 0) { snprintf(err, errlen, "%s", ts_error(r)); goto fail; }
    ts_close_read(r);
    return 0;
fail:
    ts_close_read(r);
    pl_free(s);
    return -1;
}
