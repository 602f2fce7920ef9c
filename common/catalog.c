/* catalog.c - loading the song catalogue TSV, mapping index rows to songs
 * (groups of ids with the same title and artist), and name search. */
#include "catalog.h"
#include "songversion.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(buf, nc);
            if (!nb) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
            buf = nb; cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) { snprintf(err, errlen, "%s: read error: %s", path, strerror(errno)); goto fail; }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* Cuts line (NUL-terminated, no newline) at TABs into out[0..max); returns
 * the number of cells (which may exceed max: the extra ones are not stored). */
static int split_tabs(char *line, char **out, int max) {
    int n = 0;
    for (char *p = line;; ) {
        char *t = strchr(p, '\t');
        if (n < max) out[n] = p;
        n++;
        if (!t) break;
        if (out) *t = 0;                        /* out == NULL: only count */
        p = t + 1;
    }
    return n;
}

static char *next_line(char **p, char *end) {
    if (*p >= end) return NULL;
    char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    char *e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (e > s && e[-1] == '\r') e--;
    *e = 0;
    return s;
}

int cat_load(catalog *c, const char *path, char *err, size_t errlen) {
    size_t len;
    memset(c, 0, sizeof *c);
    strmap_init(&c->keys);
    if (!(c->text = read_file(path, &len, err, errlen))) return -1;
    char *p = c->text, *end = c->text + len, *line;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    if (!(line = next_line(&p, end)) || !*line) {
        snprintf(err, errlen, "%s:1: empty catalogue: expected a header line 'KEY<TAB>title<TAB>artist...' (csv-clean --catalog writes one)", path);
        goto fail;
    }
    int nc = split_tabs(line, NULL, 0);
    if (!(c->colnames = malloc((size_t)nc * sizeof *c->colnames))) goto oom;
    c->ncols = split_tabs(line, c->colnames, nc);
    size_t lines = 0;
    for (char *q = p; q < end; q++) lines += *q == '\n';
    lines++;
    if (!(c->cells = malloc(lines * (size_t)nc * sizeof *c->cells))) goto oom;
    for (size_t lineno = 2; (line = next_line(&p, end)); lineno++) {
        if (!*line) continue;
        char **row = c->cells + (size_t)c->nrows * (size_t)nc;
        int got = split_tabs(line, row, nc);
        if (got != nc) {
            snprintf(err, errlen, "%s:%zu: %d cells, but the header has %d; a catalogue line is KEY<TAB>one cell per display column", path, lineno, got, nc);
            goto fail;
        }
        if (!*row[0]) { snprintf(err, errlen, "%s:%zu: empty key (first cell); every line needs its key", path, lineno); goto fail; }
        int64_t had = strmap_put(&c->keys, row[0], c->nrows);
        if (had == -2) goto oom;
        if (had == -1) c->nrows++;      /* a repeated key: the first line wins */
    }
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory loading the catalogue", path);
fail:
    cat_free(c);
    return -1;
}

void cat_free(catalog *c) {
    if (!c) return;
    free(c->colnames); free(c->cells); free(c->text);
    strmap_free(&c->keys);
    memset(c, 0, sizeof *c);
}

int64_t cat_find(const catalog *c, const char *key) { return strmap_get(&c->keys, key); }

int cat_column(const catalog *c, const char *name) {
    for (int i = 1; i < c->ncols; i++)
        if (strcmp(c->colnames[i], name) == 0) return i;
    return -1;
}

int cat_pick_column(const catalog *c, const char *const *names) {
    for (int i = 1; i < c->ncols; i++)
        for (const char *const *n = names; *n; n++)
            if (strcmp(c->colnames[i], *n) == 0) return i;
    return -1;
}

/* ---- songs ---- */

/* Folds every known title and artist into one arena. */
static int fold_all(cat_songs *s) {
    size_t total = 0;
    for (int64_t r = 0; r < s->n; r++)
        total += (s->title[r] ? strlen(s->title[r]) * 4 + 2 : 2) +
                 (s->artist[r] ? strlen(s->artist[r]) * 2 + 1 : 1) + 12;
    if (!(s->fold_arena = malloc(total ? total : 1))) return -1;
    char *a = s->fold_arena;
    for (int64_t r = 0; r < s->n; r++) {
        const char *src[2] = {s->title[r], s->artist[r]};
        char **dst[2] = {&s->ftitle[r], &s->fartist[r]};
        for (int i = 0; i < 2; i++) {
            size_t cap = src[i] ? strlen(src[i]) * 2 + 4 : 1;
            *dst[i] = a;
            if (src[i]) a += text_fold(src[i], a, cap, 1) + 1;
            else *a++ = 0;
        }
        s->fbase[r] = a;
        if (s->title[r]) {
            char *base = strndup(s->title[r], sv_base_title_len(s->title[r]));
            if (!base) return -1;
            a += text_fold(base, a, strlen(s->title[r]) * 2 + 4, 1) + 1;
            free(base);
        } else {
            *a++ = 0;
        }
    }
    return 0;
}

/* 1 when row a is the better representative of a song than row b: an
 * original before a version, then more popular, then the lower row. */
static int better_version(const cat_songs *s, int64_t a, int64_t b) {
    int va = s->title[a] ? sv_is_version(s->title[a]) : 1, vb = s->title[b] ? sv_is_version(s->title[b]) : 1;
    if (va != vb) return va < vb;
    if (s->popularity[a] != s->popularity[b]) return s->popularity[a] > s->popularity[b];
    return a < b;
}

/* version[] from the version keys (songversion.h): each row names its
 * song's best row. */
static int assign_versions(cat_songs *s) {
    strmap keys;
    int rc = -1;
    int64_t *best = malloc(sizeof *best * (size_t)(s->n ? s->n : 1));
    strmap_init(&keys);
    if (!best) goto done;
    for (int64_t r = 0; r < s->n; r++) {        /* version[r] = the first row of r's key */
        s->version[r] = best[r] = r;
        if (!s->title[r]) continue;
        char *k = sv_version_key(s->title[r], s->artist[r]);
        if (!k) goto done;
        int64_t had = strmap_put(&keys, k, r);
        free(k);
        if (had == -2) goto done;
        if (had >= 0) s->version[r] = had;
    }
    for (int64_t r = 0; r < s->n; r++) {        /* best[first row] = the key's best row */
        int64_t f = s->version[r];
        if (better_version(s, r, best[f])) best[f] = r;
    }
    for (int64_t r = 0; r < s->n; r++) s->version[r] = best[s->version[r]];
    rc = 0;
done:
    free(best);
    strmap_free(&keys);
    return rc;
}

/* group[] and artist_id[] from the folded names. */
static int assign_groups(cat_songs *s) {
    strmap songs, artists;
    char *buf = NULL;
    size_t cap = 0;
    int rc = -1;
    strmap_init(&songs); strmap_init(&artists);
    for (int64_t r = 0; r < s->n; r++) {
        s->group[r] = r;
        s->artist_id[r] = -1;
        if (*s->fartist[r]) {
            int64_t had = strmap_put(&artists, s->fartist[r], s->nartists);
            if (had == -2) goto done;
            s->artist_id[r] = had >= 0 ? had : s->nartists++;
        }
        if (!*s->ftitle[r]) continue;
        size_t need = strlen(s->ftitle[r]) + strlen(s->fartist[r]) + 2;
        if (need > cap) {
            char *nb = realloc(buf, need * 2);
            if (!nb) goto done;
            buf = nb; cap = need * 2;
        }
        snprintf(buf, cap, "%s\x1f%s", s->ftitle[r], s->fartist[r]);
        int64_t had = strmap_put(&songs, buf, r);
        if (had == -2) goto done;
        if (had >= 0) s->group[r] = had;
    }
    rc = 0;
done:
    free(buf);
    strmap_free(&songs); strmap_free(&artists);
    return rc;
}

int cat_songs_build(cat_songs *s, const catalog *c, int title_col, int artist_col,
                    const char *const *keys, int64_t n, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    strmap_init(&s->keymap);
    s->n = n;
    s->key = keys;
    size_t m = (size_t)(n ? n : 1);
    s->title = calloc(m, sizeof *s->title);
    s->artist = calloc(m, sizeof *s->artist);
    s->ftitle = calloc(m, sizeof *s->ftitle);
    s->fartist = calloc(m, sizeof *s->fartist);
    s->fbase = calloc(m, sizeof *s->fbase);
    s->group = malloc(m * sizeof *s->group);
    s->version = malloc(m * sizeof *s->version);
    s->popularity = calloc(m, sizeof *s->popularity);
    s->artist_id = malloc(m * sizeof *s->artist_id);
    if (!s->title || !s->artist || !s->ftitle || !s->fartist || !s->fbase || !s->group || !s->version ||
        !s->popularity || !s->artist_id) goto oom;
    static const char *const pnames[] = {"track_popularity", "popularity", "count", NULL};
    int pop_col = c ? cat_pick_column(c, pnames) : -1;
    for (int64_t r = 0; r < n; r++) {
        if (strmap_put(&s->keymap, keys[r], r) == -2) goto oom;
        int64_t cr = c ? cat_find(c, keys[r]) : -1;
        if (c && cr < 0) s->nmissing++;
        if (cr < 0) continue;
        if (title_col > 0) s->title[r] = cat_cell(c, cr, title_col);
        if (artist_col > 0) s->artist[r] = cat_cell(c, cr, artist_col);
        if (pop_col > 0) {
            char *end;
            double v = strtod(cat_cell(c, cr, pop_col), &end);
            s->popularity[r] = end != cat_cell(c, cr, pop_col) && v == v ? v : 0;
        }
    }
    if (fold_all(s) || assign_groups(s) || assign_versions(s)) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory mapping %" PRId64 " index rows to the catalogue", n);
    cat_songs_free(s);
    return -1;
}

void cat_songs_free(cat_songs *s) {
    if (!s) return;
    free(s->title); free(s->artist); free(s->ftitle); free(s->fartist); free(s->fbase);
    free(s->group); free(s->version); free(s->popularity); free(s->artist_id); free(s->fold_arena);
    strmap_free(&s->keymap);
    memset(s, 0, sizeof *s);
}

/* Match tier of row r: 0 exact title, 1 exact base title (version
 * suffixes cut), 2 substring, 3 no match. */
static int match_tier(const cat_songs *s, int64_t r, const char *fq, const char *ft, const char *fa) {
    const char *t = s->ftitle[r], *b = s->fbase[r];
    int tier = 3;
    if (!*t) return 3;
    if (*fq && strstr(t, fq)) tier = strcmp(t, fq) == 0 ? 0 : strcmp(b, fq) == 0 ? 1 : 2;
    if (ft && *ft && *fa && tier > 0 && strstr(t, ft) && strstr(s->fartist[r], fa)) {
        int st = strcmp(t, ft) == 0 ? 0 : strcmp(b, ft) == 0 ? 1 : 2;
        if (st < tier) tier = st;
    }
    return tier;
}

int cat_spotify_track_id(const char *s, char *id, size_t cap) {
    static const char *const PREFIX[] = {"spotify:track:", "https://open.spotify.com/", "http://open.spotify.com/",
                                         "open.spotify.com/", NULL};
    const char *p = NULL;
    for (int k = 0; PREFIX[k] && !p; k++)
        if (strncmp(s, PREFIX[k], strlen(PREFIX[k])) == 0) p = s + strlen(PREFIX[k]);
    if (!p) return 0;
    if (p[-1] == '/') {                         /* a link: [intl-xx/]track/ID[?...] */
        if (strncmp(p, "intl-", 5) == 0 && (p = strchr(p, '/'))) p++;
        if (!p || strncmp(p, "track/", 6) != 0) return 0;
        p += 6;
    }
    size_t n = 0;
    while ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')) n++;
    if (!n || n >= cap || (p[n] && p[n] != '?' && p[n] != '#' && p[n] != '/')) return 0;
    memcpy(id, p, n);
    id[n] = 0;
    return 1;
}

/* most popular first, then an original before a version, then the lower row */
static int popular_order(const void *pa, const void *pb, void *ctx) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    const cat_songs *s = ctx;
    if (s->popularity[a] != s->popularity[b]) return s->popularity[a] > s->popularity[b] ? -1 : 1;
    int va = sv_is_version(s->title[a]), vb = sv_is_version(s->title[b]);
    if (va != vb) return va - vb;
    return (a > b) - (a < b);
}

int64_t cat_songs_find(const cat_songs *s, const char *query, int64_t **rows) {
    *rows = NULL;
    char id[128], uri[160];
    int64_t key_row = strmap_get(&s->keymap, query);
    if (key_row < 0 && cat_spotify_track_id(query, id, sizeof id)) {
        snprintf(uri, sizeof uri, "spotify:track:%s", id);
        if ((key_row = strmap_get(&s->keymap, id)) < 0) key_row = strmap_get(&s->keymap, uri);
        if (key_row < 0) return 0;              /* a track id names one track or none */
    }
    if (key_row >= 0) {
        if (!(*rows = malloc(sizeof **rows))) return -1;
        (*rows)[0] = key_row;
        return 1;
    }
    char *fq = text_fold_dup(query, 1), *ft = NULL, *fa = NULL;
    int64_t *out = NULL, nout = 0, *slot = calloc((size_t)(s->n ? s->n : 1), sizeof *slot);
    const char *artist;
    size_t tl;
    int best = 3;
    if (!fq || !slot) goto oom;
    if (text_split_title_artist(query, &tl, &artist)) {
        char *title = strndup(query, tl);
        if (!title) goto oom;
        ft = text_fold_dup(title, 1);
        fa = text_fold_dup(artist, 1);
        free(title);
        if (!ft || !fa) goto oom;
    }
    /* slot[version] = 1 + its place in out (of the current tier) */
    for (int64_t r = 0; r < s->n; r++) {
        int t = match_tier(s, r, fq, ft, fa);
        if (t == 3 || t > best) continue;
        if (t < best) {
            for (int64_t i = 0; i < nout; i++) slot[s->version[out[i]]] = 0;
            best = t;
            nout = 0;
        }
        int64_t v = s->version[r];
        if (slot[v]) {                          /* another version of a listed song */
            if (better_version(s, r, out[slot[v] - 1])) out[slot[v] - 1] = r;
            continue;
        }
        if (!out || (nout & (nout - 1)) == 0) { /* grow at powers of two */
            int64_t *no = realloc(out, (size_t)(nout ? nout * 2 : 1) * sizeof *out);
            if (!no) goto oom;
            out = no;
        }
        out[nout++] = r;
        slot[v] = nout;
    }
    if (nout > 1) qsort_r(out, (size_t)nout, sizeof *out, popular_order, (void *)s);
    free(fq); free(ft); free(fa); free(slot);
    if (!nout) { free(out); out = NULL; }
    *rows = out;
    return nout;
oom:
    free(fq); free(ft); free(fa); free(out); free(slot);
    return -1;
}

int cat_songs_suggest(const cat_songs *s, const char *query, int64_t *rows, int max) {
    char *fq = text_fold_dup(query, 1);
    size_t tl;
    const char *artist;
    if (!fq) return 0;
    if (text_split_title_artist(query, &tl, &artist)) {
        char *title = strndup(query, tl);
        if (title) { free(fq); fq = text_fold_dup(title, 1); free(title); }
        if (!fq) return 0;
    }
    int m = (int)strlen(fq), limit = m / 3 > 1 ? m / 3 : 1, n = 0;
    int dist[16], diff[16];
    if (max > 16) max = 16;
    for (int64_t r = 0; r < s->n && m; r++) {
        if (s->group[r] != r || !*s->ftitle[r]) continue;
        int d = text_substring_distance(fq, s->ftitle[r]);
        int df = abs((int)strlen(s->ftitle[r]) - m);
        if (d > limit) continue;
        int pos = n;                            /* insertion into a short sorted list */
        while (pos > 0 && (d < dist[pos - 1] || (d == dist[pos - 1] && df < diff[pos - 1]))) pos--;
        if (pos >= max) continue;
        int last = n < max ? n : max - 1;
        for (int i = last; i > pos; i--) { rows[i] = rows[i - 1]; dist[i] = dist[i - 1]; diff[i] = diff[i - 1]; }
        rows[pos] = r; dist[pos] = d; diff[pos] = df;
        if (n < max) n++;
    }
    free(fq);
    return n;
}

const char *cat_songs_label(const cat_songs *s, int64_t row, char *buf, size_t cap) {
    if (s->title[row] && s->artist[row] && *s->artist[row])
        snprintf(buf, cap, "%s by %s", s->title[row], s->artist[row]);
    else if (s->title[row])
        snprintf(buf, cap, "%s", s->title[row]);
    else
        snprintf(buf, cap, "%s", s->key[row]);
    return buf;
}
