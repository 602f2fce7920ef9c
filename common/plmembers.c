/* plmembers.c - playlist memberships from a songs CSV and from MPD
 * playlists, joined to a catalogue; the seeded split of whole playlists. */
#include "plmembers.h"
#include "csvin.h"
#include "tensor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double plmem_split_u(uint64_t seed, const char *name) {
    uint64_t z = strmap_hash(name) ^ (seed * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* distinct joined songs: a bit per catalogue row */
static int mark_song(unsigned char *seen, int64_t row) {
    unsigned char b = (unsigned char)(1u << (row & 7));
    if (seen[row >> 3] & b) return 0;
    seen[row >> 3] |= b;
    return 1;
}

/* ---------- the CSV ---------- */
typedef struct {
    const char *path, *list_col, *key_col, *prefix;
    const strmap *keys;
    plmem_fn fn;
    void *ctx;
    plmem_stats *st;
    unsigned char *seen;
    int kc, lc;
    char *name;
    size_t name_cap, plen;
    char *err;
    size_t errlen;
} csv_ctx;

static int on_csv_row(void *ctx, const csvin_row *r) {
    csv_ctx *c = ctx;
    if (r->index == 0) {
        for (int i = 0; i < r->nfields; i++) {
            if (!r->field[i]) continue;
            if (c->kc < 0 && strcmp(r->field[i], c->key_col) == 0) c->kc = i;
            if (c->lc < 0 && strcmp(r->field[i], c->list_col) == 0) c->lc = i;
        }
        if (c->kc < 0 || c->lc < 0) {
            snprintf(c->err, c->errlen, "%s:1: no column '%s'; the CSV needs a song key column '%s' and a playlist column '%s'",
                     c->path, c->kc < 0 ? c->key_col : c->list_col, c->key_col, c->list_col);
            return 2;
        }
        return 0;
    }
    c->st->rows++;
    if (r->nfields <= c->kc || r->nfields <= c->lc || !*r->field[c->lc] || !*r->field[c->kc]) return 0;
    int64_t song = strmap_get(c->keys, r->field[c->kc]);
    if (song < 0) return 0;
    size_t need = c->plen + r->len[c->lc] + 1;
    if (need > c->name_cap) {
        char *p = realloc(c->name, need);
        if (!p) { snprintf(c->err, c->errlen, "out of memory"); return 2; }
        c->name = p;
        c->name_cap = need;
    }
    memcpy(c->name, c->prefix, c->plen);
    memcpy(c->name + c->plen, r->field[c->lc], r->len[c->lc] + 1);
    c->st->joined++;
    c->st->distinct += mark_song(c->seen, song);
    if (c->fn(c->ctx, c->name, song)) { snprintf(c->err, c->errlen, "out of memory"); return 2; }
    return 0;
}

int plmem_read_csv(const char *path, const char *list_col, const char *key_col, const char *prefix,
                   const strmap *keys, int64_t n_keys, plmem_fn fn, void *ctx, plmem_stats *st,
                   char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    csv_ctx c = {.path = path, .list_col = list_col, .key_col = key_col, .prefix = prefix ? prefix : "",
                 .keys = keys, .fn = fn, .ctx = ctx, .st = st, .kc = -1, .lc = -1, .err = err, .errlen = errlen};
    c.plen = strlen(c.prefix);
    c.seen = calloc((size_t)(n_keys / 8 + 1), 1);
    if (!c.seen) { snprintf(err, errlen, "out of memory"); return -1; }
    csvin *in = csvin_open(path, ',', err, errlen);
    int rc = -1;
    if (!in) goto done;
    int each = csvin_each(in, on_csv_row, &c);
    if (each < 0) snprintf(err, errlen, "%s", csvin_error(in));
    else if (each == 0) rc = 0;
    csvin_close(in);
done:
    free(c.seen);
    free(c.name);
    return rc;
}

/* ---------- the MPD ---------- */

/* row_of[t]: the catalogue row of track t (-1: none); *n tracks */
static int load_tracks(const char *path, const strmap *keys, int64_t **row_of, int64_t *n, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open the track vocabulary: %s", path, strerror(errno)); return -1; }
    int64_t *row = NULL, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    int rc = -1;
    *n = 0;
    while (getline(&line, &lcap, f) > 0) {
        if (lineno++ == 0) {
            if (strncmp(line, "track_uri\ttrack", 15) != 0) {
                snprintf(err, errlen, "%s:1: expected mpd-ingest's --tracks header (track_uri, track, ...); give the --tracks file of the same mpd-ingest run", path);
                goto done;
            }
            continue;
        }
        char *tab = strchr(line, '\t');
        if (!tab) { snprintf(err, errlen, "%s:%" PRId64 ": no track column; the file is not mpd-ingest's --tracks", path, lineno); goto done; }
        *tab = 0;
        char *end;
        errno = 0;
        long long t = strtoll(tab + 1, &end, 10);
        if (errno || end == tab + 1 || (*end != '\t' && *end != '\n' && *end != '\r' && *end) || t != *n) {
            int len = (int)strcspn(tab + 1, "\t\r\n");
            snprintf(err, errlen, "%s:%" PRId64 ": track index '%.*s' is not %" PRId64 " (line i + 2 holds track i); the file is not mpd-ingest's --tracks",
                     path, lineno, len < 20 ? len : 20, tab + 1, *n);
            goto done;
        }
        const char *id = strncmp(line, "spotify:track:", 14) == 0 ? line + 14 : line;
        if (*n == cap) {
            cap = cap ? 2 * cap : 65536;
            int64_t *p = realloc(row, sizeof *p * (size_t)cap);
            if (!p) { snprintf(err, errlen, "out of memory"); goto done; }
            row = p;
        }
        row[(*n)++] = strmap_get(keys, id);
    }
    if (ferror(f)) { snprintf(err, errlen, "%s: read error: %s", path, strerror(errno)); goto done; }
    rc = 0;
done:
    free(line);
    fclose(f);
    if (rc) free(row);
    else *row_of = row;
    return rc;
}

int plmem_read_mpd(const char *playlists, const char *tracks, const char *prefix,
                   const strmap *keys, int64_t n_keys, plmem_fn fn, void *ctx, plmem_stats *st,
                   char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    int64_t *row = NULL, n = 0;
    if (load_tracks(tracks, keys, &row, &n, err, errlen)) return -1;
    unsigned char *seen = calloc((size_t)(n_keys / 8 + 1), 1);
    char name[TS_MAX_KEY + 64];
    int rc = -1, got;
    if (!prefix) prefix = "";
    ts_reader *r = NULL;
    if (!seen) { snprintf(err, errlen, "out of memory"); goto done; }
    if (!(r = ts_open_read(playlists, err, errlen))) goto done;
    const ts_header *h;
    if ((got = ts_next_tensor(r, &h)) <= 0) {
        snprintf(err, errlen, "%s", got < 0 ? ts_error(r) : "");
        if (got == 0) snprintf(err, errlen, "%s: the stream holds no tensor; give mpd-ingest's playlists stream (-o)", playlists);
        goto done;
    }
    if (h->dtype != TS_I32 || h->row_elems != 2) {
        snprintf(err, errlen, "%s: tensor '%s' is not i32 rows (track, pos); give mpd-ingest's playlists stream (-o)", playlists, h->name);
        goto done;
    }
    ts_block b;
    while ((got = ts_read_block(r, &b)) == 1) {
        const int32_t *d = b.data;
        for (int64_t i = 0; i < b.nrows; i++) {
            int32_t t = d[2 * i];
            st->rows++;
            if (t < 0 || t >= n) {
                snprintf(err, errlen, "%s: row %" PRId64 ": track %d is not a line of %s; ingest both in one mpd-ingest run",
                         playlists, b.first_row + i + 1, t, tracks);
                goto done;
            }
            if (row[t] < 0) continue;
            snprintf(name, sizeof name, "%s%s", prefix, b.keys[i]);
            st->joined++;
            st->distinct += mark_song(seen, row[t]);
            if (fn(ctx, name, row[t])) { snprintf(err, errlen, "out of memory"); goto done; }
        }
    }
    if (got < 0) { snprintf(err, errlen, "%s", ts_error(r)); goto done; }
    rc = 0;
done:
    if (r) ts_close_read(r);
    free(seen);
    free(row);
    return rc;
}
