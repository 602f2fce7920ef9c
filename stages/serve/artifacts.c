/* artifacts.c - the serve stage's artifact set: every style's table, index
 * and catalogue, the artist table, the playlist model and the sound index,
 * loaded as one; reloaded beside the set in use when the files change, and
 * swapped under a lock with a reference count (see serve.h). */
#include "serve.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <sys/stat.h>

/* ---- the artifact set: everything a request reads, loaded as one ---- */





static struct {
    pthread_mutex_t mu;
    artset *cur;
    long generation;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void style_free(style *s) {
    for (int i = 0; i < s->npool; i++) ss_free(&s->pool[i]);
    free(s->pool); free(s->free_ids);
    pthread_mutex_destroy(&s->mu);
    cat_songs_free(&s->songs);
    free(s->mean); free(s->sd);
    knn_index_free(&s->ix);
    ts_table_free(&s->tab);
}

static void playlists_free(playlists *p) {
    if (!p) return;
    plr_free(&p->r);
    if (p->titles) { free(p->titles); cat_free(&p->names); }
    plv_free(&p->vocab);
    pl_free(&p->train);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void artset_free(artset *a) {
    if (!a) return;
    playlists_free(a->pl);
    if (a->sound) { style_free(a->sound); free(a->sound); }
    for (int64_t i = 0; i < a->naudio; i++) free(a->audio_paths[i]);
    free(a->audio_paths);
    strmap_free(&a->audio);
    for (int i = 0; i < a->nstyles; i++) style_free(&a->st[i]);
    for (int i = 0; i < 2; i++) if (a->have_cat[i]) cat_free(&a->cat[i]);
    if (a->have_artists) ts_table_free(&a->artists);
    free(a->amap); free(a->sig); free(a);
}

artset *artset_get(void) {
    pthread_mutex_lock(&G.mu);
    artset *a = G.cur;
    a->refs++;
    pthread_mutex_unlock(&G.mu);
    return a;
}

void artset_put(artset *a) {
    pthread_mutex_lock(&G.mu);
    int last = --a->refs == 0;
    pthread_mutex_unlock(&G.mu);
    if (last) artset_free(a);
}

/* Swaps in a new set; the old one goes when its last request ends. */
void artset_install(artset *a) {
    pthread_mutex_lock(&G.mu);
    artset *old = G.cur;
    a->refs = 1;
    a->generation = ++G.generation;
    G.cur = a;
    pthread_mutex_unlock(&G.mu);
    if (old) artset_put(old);
}

/* Converts an f64 table to f32 in place (the engine works in f32). */
static int table_to_f32(ts_table *t, const char *path, char *err, size_t errlen) {
    if (t->h.dtype == TS_F32) return 0;
    if (t->h.dtype != TS_F64)
        return snprintf(err, errlen, "%s: tensor '%s' holds %s; serve needs f32 or f64 rows", path, t->h.name,
                        ts_dtype_name(t->h.dtype)), -1;
    size_t n = (size_t)t->nrows * (size_t)t->h.row_elems;
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) return snprintf(err, errlen, "%s: out of memory", path), -1;
    for (size_t i = 0; i < n; i++) f[i] = (float)((double *)t->data)[i];
    free(t->data);
    t->data = f;
    t->h.dtype = TS_F32;
    return 0;
}

/* Mean and standard deviation of every column (finite values only). */
static int column_stats(style *s) {
    s->mean = calloc((size_t)s->d, sizeof *s->mean);
    s->sd = calloc((size_t)s->d, sizeof *s->sd);
    if (!s->mean || !s->sd) return -1;
    const float *x = s->tab.data;
    for (int t = 0; t < s->d; t++) {
        double sum = 0, sq = 0;
        int64_t n = 0;
        for (int64_t r = 0; r < s->tab.nrows; r++) {
            double v = x[r * s->d + t];
            if (isfinite(v)) { sum += v; sq += v * v; n++; }
        }
        s->mean[t] = n ? sum / (double)n : 0;
        s->sd[t] = n ? sqrt(fmax(sq / (double)n - s->mean[t] * s->mean[t], 0)) : 0;
    }
    return 0;
}

static int style_load(style *s, const char *name, const char *path, const catalog *cat, char *err, size_t errlen) {
    static const char *const tnames[] = {"track_name", "name", "title", NULL};
    static const char *const anames[] = {"track_artist", "artists", "artist_name", "artist", NULL};
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->path, sizeof s->path, "%s", path);
    pthread_mutex_init(&s->mu, NULL);
    if (ts_load_table(path, NULL, &s->tab, err, errlen) || table_to_f32(&s->tab, path, err, errlen)) return -1;
    if (s->tab.h.ndim != 1 || s->tab.h.row_elems < 1 || s->tab.h.row_elems > INT_MAX / 16 || s->tab.nrows < 1)
        return snprintf(err, errlen, "%s: tensor '%s' must hold rows of shape [d] and at least one row", path,
                        s->tab.h.name), -1;
    s->d = (int)s->tab.h.row_elems;
    if (knn_index_build(&s->ix, s->tab.data, s->tab.nrows, s->d, O.metric))
        return snprintf(err, errlen, "%s: out of memory building the index", path), -1;
    if (column_stats(s)) return snprintf(err, errlen, "out of memory"), -1;
    s->cat = cat;
    int tc = cat ? cat_pick_column(cat, tnames) : -1, ac = cat ? cat_pick_column(cat, anames) : -1;
    s->genre_col = cat ? cat_column(cat, "playlist_genre") : -1;
    s->subgenre_col = cat ? cat_column(cat, "playlist_subgenre") : -1;
    if (cat_songs_build(&s->songs, cat, tc, ac, (const char *const *)s->tab.keys, s->tab.nrows, err, errlen)) return -1;
    s->npool = O.threads + 2;
    s->pool = calloc((size_t)s->npool, sizeof *s->pool);
    s->free_ids = malloc(sizeof *s->free_ids * (size_t)s->npool);
    if (!s->pool || !s->free_ids) return snprintf(err, errlen, "out of memory"), -1;
    for (int i = 0; i < s->npool; i++) {
        if (ss_init(&s->pool[i], &s->ix, s->tab.data, &s->songs, 0, 1)) {
            s->npool = i;
            return snprintf(err, errlen, "out of memory"), -1;
        }
        s->free_ids[s->nfree++] = i;
    }
    return 0;
}

/* A filter state of the style for one request, or NULL (busy or no memory). */
song_search *style_take(style *s) {
    song_search *ss = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->nfree) ss = &s->pool[s->free_ids[--s->nfree]];
    pthread_mutex_unlock(&s->mu);
    return ss;
}

void style_give(style *s, song_search *ss) {
    pthread_mutex_lock(&s->mu);
    s->free_ids[s->nfree++] = (int)(ss - s->pool);
    pthread_mutex_unlock(&s->mu);
}

char *path_in(const char *sub) {
    char *p;
    return asprintf(&p, "%s/%s", O.out, sub) < 0 ? NULL : p;
}

/* The learned styles built: learned/NAME.emb.ts (raw.emb.ts is the learned
 * pipeline's own z-scored copy of the features, not a style of its own). */
static int learned_styles(glob_t *g) {
    char *pat = path_in("learned/*.emb.ts");
    int rc = pat ? glob(pat, 0, NULL, g) : GLOB_NOSPACE;
    free(pat);
    return rc == 0 ? 0 : rc == GLOB_NOMATCH ? (g->gl_pathc = 0, 0) : -1;
}

static void style_name_of(const char *path, char *name, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b) - strlen(".emb.ts");
    snprintf(name, cap, "%.*s", (int)(n < cap ? n : cap - 1), b);
}

/* The identity of every file a set is built from: path, size, mtime, inode. */
static char *artifacts_sig(void) {
    static const char *const fixed[] = {"features/songs.norm.ts", "features/songs.tsv", "features/artists.norm.ts",
                                        "learned/songs.tsv", "playlists/playlists.ts", "playlists/tracks.tsv",
                                        "playlists/names.tsv", "playlists/model.ts", "cnn/index.ts", "cnn/library.list", NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    glob_t g = {0};
    if (!f) return NULL;
    for (int i = 0; fixed[i]; i++) {
        char *p = path_in(fixed[i]);
        struct stat st;
        if (p && stat(p, &st) == 0)
            fprintf(f, "%s %lld %lld.%09ld %llu\n", p, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                    st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
        else fprintf(f, "%s -\n", p ? p : "?");
        free(p);
    }
    if (learned_styles(&g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat st;
            if (stat(g.gl_pathv[i], &st) == 0)
                fprintf(f, "%s %lld %lld.%09ld %llu\n", g.gl_pathv[i], (long long)st.st_size,
                        (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
        }
    globfree(&g);
    fclose(f);
    return buf;
}

static int load_artists(artset *a, char *err, size_t errlen) {
    char *p = path_in("features/artists.norm.ts");
    struct stat st;
    int rc = -1;
    if (!p) return snprintf(err, errlen, "out of memory"), -1;
    if (stat(p, &st) != 0) { free(p); return 0; }          /* optional */
    if (ts_load_table(p, NULL, &a->artists, err, errlen)) goto done;
    a->have_artists = 1;
    if (!(a->amap = malloc(sizeof *a->amap * (size_t)a->st[0].d))) { snprintf(err, errlen, "out of memory"); goto done; }
    rc = ss_map_columns(&a->st[0].tab.h, a->st[0].d, &a->artists.h, p, a->st[0].path, a->amap, err, errlen);
done:
    free(p);
    return rc;
}

/* The playlist model when OUT/playlists/playlists.ts exists; tracks.tsv is
 * then required, names.tsv (the title model's titles) optional, model.ts
 * (mpd-train's network) required by neural and blend.  Built as
 * mpd-recommend --train playlists.ts --names names.tsv --tracks tracks.tsv
 * [--weights model.ts] builds it, with plrec.c's defaults. */
static int load_playlists(artset *a, char *err, size_t errlen) {
    char *pp = path_in("playlists/playlists.ts"), *tp = path_in("playlists/tracks.tsv"), *np = path_in("playlists/names.tsv"),
         *wp = path_in("playlists/model.ts");
    struct stat st;
    int rc = -1;
    playlists *p = NULL;
    if (!pp || !tp || !np || !wp) { snprintf(err, errlen, "out of memory"); goto done; }
    if (stat(pp, &st) != 0) { rc = 0; goto done; }
    if (!(p = calloc(1, sizeof *p))) { snprintf(err, errlen, "out of memory"); goto done; }
    pthread_mutex_init(&p->mu, NULL);
    pl_init(&p->train);
    if (pl_load(&p->train, pp, NULL, err, errlen) || plv_load(&p->vocab, tp, err, errlen)) goto done;
    if (stat(np, &st) == 0 && !(p->titles = plv_train_titles(&p->train, np, &p->names, err, errlen))) goto done;
    int32_t ntracks = p->train.ntracks > p->vocab.cat.nrows ? p->train.ntracks : (int32_t)p->vocab.cat.nrows;
    if (plr_needs_weights(O.plmodel) && stat(wp, &st) != 0) {
        snprintf(err, errlen, "--continue-model %s needs %s, the network mpd-train makes (make eval-playlists "
                 "MPD_DIR=folder builds it)", plr_names[O.plmodel], wp);
        goto done;
    }
    plr_opts mo = plr_defaults(O.plmodel);
    if (plr_build(&p->r, &mo, &p->train, p->titles, ntracks, plr_needs_weights(O.plmodel) ? wp : NULL, err, errlen))
        goto done;
    a->pl = p;
    p = NULL;
    rc = 0;
done:
    playlists_free(p);
    free(pp); free(tp); free(np); free(wp);
    return rc;
}

/* The library's audio files by key (cnn/library.list: one path a line; the
 * key is the file name without its extension, as spectro keys tracks). */
static int load_library_list(artset *a, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = -1;
    if (!f) return snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)), -1;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        if (!n) continue;
        char **np = realloc(a->audio_paths, sizeof *np * (size_t)(a->naudio + 1)), *key;
        if (!np) goto oom;
        a->audio_paths = np;
        if (!(a->audio_paths[a->naudio] = strdup(line))) goto oom;
        const char *base = strrchr(line, '/'), *dot;
        base = base ? base + 1 : line;
        dot = strrchr(base, '.');
        if (!(key = strndup(base, dot && dot > base ? (size_t)(dot - base) : strlen(base)))) goto oom;
        int64_t put = strmap_put(&a->audio, key, a->naudio++);
        free(key);
        if (put == -2) goto oom;
    }
    rc = ferror(f) ? (snprintf(err, errlen, "%s: read error", path), -1) : 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    free(line);
    fclose(f);
    return rc;
}

/* The sound library's index (cnn/index.ts: one pooled CNN embedding per
 * song, keyed by song), when built; no catalogue, so every key is a song. */
static int load_sound(artset *a, char *err, size_t errlen) {
    char *ip = path_in("cnn/index.ts"), *lp = path_in("cnn/library.list");
    struct stat st;
    int rc = -1;
    if (!ip || !lp) { snprintf(err, errlen, "out of memory"); goto done; }
    if (stat(lp, &st) == 0 && load_library_list(a, lp, err, errlen)) goto done;
    if (stat(ip, &st) != 0) { rc = 0; goto done; }
    if (!(a->sound = calloc(1, sizeof *a->sound))) { snprintf(err, errlen, "out of memory"); goto done; }
    rc = style_load(a->sound, "sound", ip, NULL, err, errlen);
done:
    free(ip); free(lp);
    return rc;
}

/* Loads every artifact; NULL with the reason in err. */
artset *artset_load(char *err, size_t errlen) {
    artset *a = calloc(1, sizeof *a);
    char *sig = artifacts_sig(), *p = NULL;
    glob_t g = {0};
    if (!a || !sig) { snprintf(err, errlen, "out of memory"); goto fail; }
    a->sig = sig;
    sig = NULL;
    if (!(p = path_in("features/songs.tsv")) || cat_load(&a->cat[0], p, err, errlen)) goto fail;
    a->have_cat[0] = 1;
    free(p);
    if (!(p = path_in("features/songs.norm.ts"))) goto fail;
    a->nstyles = 1;
    if (style_load(&a->st[0], "raw", p, &a->cat[0], err, errlen)) goto fail;
    strmap_init(&a->audio);
    if (load_artists(a, err, errlen) || load_playlists(a, err, errlen) || load_sound(a, err, errlen)) goto fail;
    if (learned_styles(&g)) { snprintf(err, errlen, "cannot list %s/learned", O.out); goto fail; }
    if (g.gl_pathc) {
        free(p);
        struct stat st;
        if (!(p = path_in("learned/songs.tsv"))) goto fail;
        if (stat(p, &st) == 0) {
            if (cat_load(&a->cat[1], p, err, errlen)) goto fail;
            a->have_cat[1] = 1;
        }
    }
    for (size_t i = 0; i < g.gl_pathc && a->nstyles < MAX_STYLES; i++) {
        char name[64];
        style_name_of(g.gl_pathv[i], name, sizeof name);
        if (strcmp(name, "raw") == 0) continue;
        if (style_load(&a->st[a->nstyles++], name, g.gl_pathv[i], a->have_cat[1] ? &a->cat[1] : NULL, err, errlen))
            goto fail;
    }
    globfree(&g);
    free(p);
    return a;
fail:
    globfree(&g);
    free(p); free(sig);
    artset_free(a);
    return NULL;
}


/* Reloads once the artifacts changed and then stayed still for one poll. */
void artset_maybe_reload(char **pending) {
    char *sig = artifacts_sig(), err[3072];
    if (!sig) return;
    pthread_mutex_lock(&G.mu);
    int same = strcmp(sig, G.cur->sig) == 0;
    pthread_mutex_unlock(&G.mu);
    if (same || !*pending || strcmp(sig, *pending) != 0) {
        free(*pending);
        *pending = same ? (free(sig), NULL) : sig;
        return;
    }
    free(sig);
    free(*pending);
    *pending = NULL;
    double t0 = cli_now();
    artset *a = artset_load(err, sizeof err);
    if (!a) { cli_warn("reload failed, still serving the previous artifacts: %s", err); return; }
    artset_install(a);
    cli_warn("reloaded %s (%d styles) in %.2f s", O.out, a->nstyles, cli_now() - t0);
}

/* Drops the current set (at exit, once no request runs). */
void artset_shutdown(void) {
    pthread_mutex_lock(&G.mu);
    artset *a = G.cur;
    G.cur = NULL;
    pthread_mutex_unlock(&G.mu);
    if (a) artset_put(a);
}
