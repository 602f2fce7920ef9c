/* serve.c - the recommender over HTTP: a JSON API and one web page, answered
 * from memory from the artifacts the pipelines build, on libmicrohttpd.
 * The API is documented with examples in pipelines/serve.md; in short:
 *
 *   GET  /                       the page (stages/serve.html, built in)
 *   GET  /api/styles             the loaded styles, rows, metric, reload count
 *   GET  /api/search?q=&limit=   songs whose titles match (typo-tolerant)
 *   GET  /api/similar?id=&style=&k=   neighbours of one song (as knn --song)
 *   POST /api/similar            body ["id", ...] or {"ids": [...], "style":
 *                                "raw", "k": 10}: songs like a list (as knn
 *                                --playlist)
 *   GET  /api/artist?name=&k=    songs like an artist (as knn --artist)
 *   POST /api/continue           body {"songs": ["Title - Artist", ...], "n":
 *                                20}: the next songs of a playlist (as
 *                                mpd-recommend --songs), when out/playlists exists
 *   POST /api/sounds-like?k=     body: an audio file; the library songs that
 *                                sound like it (spectro | slice | embed | pool,
 *                                the stages themselves, then the CNN index)
 *   GET  /audio/KEY              a library song's audio file
 *   GET  /api/charts             chart names;  GET /charts/NAME.png|svg
 *
 * Errors are {"error": "..."} with the HTTP status and the CLI's words.
 * A main loop waits for signals and polls the artifacts' mtimes: a changed
 * set is loaded aside and swapped in under a lock; requests hold a
 * reference to the set they started with, so none is dropped. */
#include "catalog.h"
#include "cli.h"
#include "knn.h"
#include "playlists.h"
#include "plmodel.h"
#include "plvocab.h"
#include "songsearch.h"
#include "text.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char HELP[] =
"Usage: serve [--out DIR] [--listen ADDR] [--port N] [options]\n"
"A JSON API and a web page over the artifacts the pipelines built under DIR:\n"
"features/songs.norm.ts + songs.tsv (style 'raw', required), features/\n"
"artists.norm.ts (artist queries), learned/STYLE.emb.ts + learned/songs.tsv\n"
"(one style each), playlists/playlists.ts + tracks.tsv [+ names.tsv]\n"
"(playlist continuation), cnn/index.ts + cnn/library.list (sounds-like, the\n"
"library's audio), charts/*.png|svg.  API and examples:\n"
"pipelines/serve.md.\n"
"\n"
"Options:\n"
"  --out DIR          the pipelines' output folder (default out)\n"
"  --listen ADDR      IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
"  --port N           TCP port (default 8080; 0 = any free port, printed)\n"
"  --threads N        worker threads answering requests (default 2)\n"
"  --max-conns N      open connections at most; more are closed at once\n"
"                     (default 64)\n"
"  --timeout S        close a connection idle for S seconds (default 10)\n"
"  --max-body BYTES   largest request body (default 65536; larger: 413)\n"
"  --max-upload BYTES largest audio upload to /api/sounds-like (default\n"
"                     20 MiB); one upload is analysed at a time\n"
"  --sound-model FILE the sound model (default data/sound.model; its .inputs\n"
"                     file gives the spectro and slice options)\n"
"  --sounds-dir DIR   the sound library: /audio serves files under it only\n"
"                     (default data/sounds)\n"
"  --max-k N          largest k a request may ask (default 1000)\n"
"  --metric M         cosine (default), euclidean, dot or mad, every style\n"
"  --continue-model M playlist continuation model: pop, title or cooc\n"
"                     (default cooc, as make continue)\n"
"  --poll S           check the artifacts' mtimes every S seconds and reload\n"
"                     a changed set once it has been still for S (default 2)\n"
"  --log              one line per request on stderr\n"
"  -h, --help         this help;  -V, --version\n"
"\n"
"Memory: every style's table twice (the rows and the engine's copy) and the\n"
"catalogues, once more while a changed set loads beside the one in use.\n"
"SIGINT/SIGTERM stop the server (exit 0).\n";

typedef struct {
    const char *out, *listen;
    int port, threads, max_conns, timeout, max_k, log;
    long max_body;
    double poll;
    knn_metric metric;
    int plmodel;                /* 0 pop, 1 title, 2 cooc */
    long max_upload;
    const char *sound_model, *sounds_dir;
} opts;

static opts parse_opts(int argc, char **argv) {
    enum { O_OUT = 256, O_LISTEN, O_PORT, O_THREADS, O_MAXC, O_TIMEOUT, O_BODY, O_MAXK, O_METRIC, O_POLL, O_LOG, O_CONT, O_UPLOAD, O_SMODEL, O_SDIR };
    static const struct option lo[] = {
        {"out", 1, 0, O_OUT}, {"listen", 1, 0, O_LISTEN}, {"port", 1, 0, O_PORT}, {"threads", 1, 0, O_THREADS},
        {"max-conns", 1, 0, O_MAXC}, {"timeout", 1, 0, O_TIMEOUT}, {"max-body", 1, 0, O_BODY},
        {"max-k", 1, 0, O_MAXK}, {"metric", 1, 0, O_METRIC}, {"poll", 1, 0, O_POLL}, {"log", 0, 0, O_LOG},
        {"continue-model", 1, 0, O_CONT}, {"max-upload", 1, 0, O_UPLOAD}, {"sound-model", 1, 0, O_SMODEL},
        {"sounds-dir", 1, 0, O_SDIR}, {0, 0, 0, 0}};
    opts o = {.out = "out", .listen = "127.0.0.1", .port = 8080, .threads = 2, .max_conns = 64,
              .timeout = 10, .max_k = 1000, .max_body = 65536, .poll = 2, .metric = KNN_COSINE, .plmodel = 2,
              .max_upload = 20L << 20, .sound_model = "data/sound.model", .sounds_dir = "data/sounds"};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        switch (c) {
        case O_OUT: o.out = optarg; break;
        case O_LISTEN: o.listen = optarg; break;
        case O_PORT: o.port = (int)cli_long("--port", optarg, 0, 65535); break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, 64); break;
        case O_MAXC: o.max_conns = (int)cli_long("--max-conns", optarg, 1, 10000); break;
        case O_TIMEOUT: o.timeout = (int)cli_long("--timeout", optarg, 1, 3600); break;
        case O_BODY: o.max_body = cli_long("--max-body", optarg, 16, 1L << 30); break;
        case O_MAXK: o.max_k = (int)cli_long("--max-k", optarg, 1, 100000); break;
        case O_METRIC:
            if (knn_metric_parse(optarg, &o.metric))
                cli_usage("--metric: unknown metric '%s'; use cosine, euclidean, dot or mad", optarg);
            break;
        case O_POLL: o.poll = cli_double("--poll", optarg, 0.05, 3600); break;
        case O_LOG: o.log = 1; break;
        case O_UPLOAD: o.max_upload = cli_long("--max-upload", optarg, 1024, 1L << 30); break;
        case O_SMODEL: o.sound_model = optarg; break;
        case O_SDIR: o.sounds_dir = optarg; break;
        case O_CONT:
            o.plmodel = !strcmp(optarg, "pop") ? 0 : !strcmp(optarg, "title") ? 1 : !strcmp(optarg, "cooc") ? 2 : -1;
            if (o.plmodel < 0) cli_usage("--continue-model: unknown model '%s'; use pop, title or cooc", optarg);
            break;
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    return o;
}

static opts O;

/* ---- the artifact set: everything a request reads, loaded as one ---- */

#define MAX_STYLES 16

typedef struct {
    char name[64], path[PATH_MAX];
    ts_table tab;
    int d;
    knn_index ix;
    const catalog *cat;
    int genre_col, subgenre_col;
    double *mean, *sd;          /* per column, for the reasons */
    cat_songs songs;
    /* one filter state per concurrent request (songsearch.h) */
    pthread_mutex_t mu;
    song_search *pool;
    int *free_ids, nfree, npool;
} style;

/* Playlist continuation (out/playlists): the training playlists, their
 * titles, the track vocabulary and the model, whose scratch space makes
 * one query at a time (mu). */
typedef struct {
    pl_set train;
    pl_vocab vocab;
    catalog names;
    const char **titles;
    plm_model m;
    int built;
    pthread_mutex_t mu;
} playlists;

typedef struct artset {
    int refs;                   /* requests using it, plus 1 while current (G.mu) */
    long generation;
    catalog cat[2];             /* features, learned */
    int have_cat[2];
    style st[MAX_STYLES];       /* st[0] = raw */
    int nstyles;
    ts_table artists;           /* features/artists.norm.ts, optional */
    int have_artists, *amap;
    playlists *pl;              /* NULL: no playlist artifacts */
    style *sound;               /* cnn/index.ts, NULL when absent */
    strmap audio;               /* library key -> line of audio_paths */
    char **audio_paths;
    int64_t naudio;
    char *sig;                  /* the files' identity when loaded */
} artset;

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
    if (p->built) plm_free(&p->m);
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

static artset *artset_get(void) {
    pthread_mutex_lock(&G.mu);
    artset *a = G.cur;
    a->refs++;
    pthread_mutex_unlock(&G.mu);
    return a;
}

static void artset_put(artset *a) {
    pthread_mutex_lock(&G.mu);
    int last = --a->refs == 0;
    pthread_mutex_unlock(&G.mu);
    if (last) artset_free(a);
}

/* Swaps in a new set; the old one goes when its last request ends. */
static void artset_install(artset *a) {
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
static song_search *style_take(style *s) {
    song_search *ss = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->nfree) ss = &s->pool[s->free_ids[--s->nfree]];
    pthread_mutex_unlock(&s->mu);
    return ss;
}

static void style_give(style *s, song_search *ss) {
    pthread_mutex_lock(&s->mu);
    s->free_ids[s->nfree++] = (int)(ss - s->pool);
    pthread_mutex_unlock(&s->mu);
}

static char *path_in(const char *sub) {
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
                                        "playlists/names.tsv", "cnn/index.ts", "cnn/library.list", NULL};
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
 * then required, names.tsv (the title model's titles) optional. */
static int load_playlists(artset *a, char *err, size_t errlen) {
    char *pp = path_in("playlists/playlists.ts"), *tp = path_in("playlists/tracks.tsv"), *np = path_in("playlists/names.tsv");
    struct stat st;
    int rc = -1;
    playlists *p = NULL;
    if (!pp || !tp || !np) { snprintf(err, errlen, "out of memory"); goto done; }
    if (stat(pp, &st) != 0) { rc = 0; goto done; }
    if (!(p = calloc(1, sizeof *p))) { snprintf(err, errlen, "out of memory"); goto done; }
    pthread_mutex_init(&p->mu, NULL);
    pl_init(&p->train);
    if (pl_load(&p->train, pp, NULL, err, errlen) || plv_load(&p->vocab, tp, err, errlen)) goto done;
    if (stat(np, &st) == 0 && !(p->titles = plv_train_titles(&p->train, np, &p->names, err, errlen))) goto done;
    int32_t ntracks = p->train.ntracks > p->vocab.cat.nrows ? p->train.ntracks : (int32_t)p->vocab.cat.nrows;
    if (plm_build(&p->m, &p->train, p->titles, ntracks, err, errlen)) goto done;
    p->built = 1;
    a->pl = p;
    p = NULL;
    rc = 0;
done:
    playlists_free(p);
    free(pp); free(tp); free(np);
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
static artset *artset_load(char *err, size_t errlen) {
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

/* ---- JSON helpers ---- */

/* 1 when s is well-formed UTF-8 (cJSON copies bytes; a reply must stay valid JSON). */
static int utf8_ok(const char *s) {
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

typedef struct {
    int status;
    cJSON *body;                /* NULL: error reply */
    char err[3072];
    int64_t *cands;             /* ambiguous names: candidate rows of cand_style */
    int64_t ncands;
    const style *cand_style;
    const char *const *cand_keys;   /* or candidate keys (artists) */
    const char *allow;          /* 405: the methods allowed */
} reply;

static int fail_with(reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_with(reply *r, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->status = status;
    return -1;
}

static void add_str(cJSON *o, const char *k, const char *v) { if (v) cJSON_AddStringToObject(o, k, v); }

static cJSON *song_json(const style *s, int64_t r) {
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

static const char *score_desc(knn_metric m) {
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
    if (!s->tab.h.columns || !q || cap < 2) return 0;
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
    if (!len) ADD("near in the %s %s", s->name, s->tab.h.columns ? "features" : "embedding");
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
static int int_arg(struct MHD_Connection *c, reply *r, const char *name, long lo, long hi, long def, long *v) {
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

static int api_styles(artset *a, reply *r) {
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
        static const char *const names[] = {"pop", "title", "cooc"};
        cJSON *p = cJSON_AddObjectToObject(o, "playlists");
        cJSON_AddStringToObject(p, "model", names[O.plmodel]);
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

static int api_search(struct MHD_Connection *c, artset *a, reply *r) {
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
static song_search *take_or_busy(style *s, reply *r) {
    song_search *ss = style_take(s);
    if (!ss) fail_with(r, 503, "all search slots are busy; try again");
    return ss;
}

static int api_similar_get(struct MHD_Connection *c, artset *a, reply *r) {
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

static int api_similar_post(struct MHD_Connection *c, artset *a, reply *r, const char *body, size_t len) {
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

static int api_artist(struct MHD_Connection *c, artset *a, reply *r) {
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
    if (t < p->m.ntracks) {
        all = p->m.tr_off[t + 1] - p->m.tr_off[t];
        for (int64_t i = p->m.tr_off[t]; i < p->m.tr_off[t + 1]; i++) with += seedpl[p->m.tr_pl[i]];
    }
    if (with) snprintf(buf, cap, "in %" PRId64 " of the %" PRId64 " training playlists with your songs", with, all);
    else snprintf(buf, cap, "popular: in %" PRId64 " training playlists, none with your songs", all);
}

/* The body: {"songs": ["Title - Artist", ...], "n": 20, "title": "...",
 * "lenient": false}; lenient skips songs the vocabulary lacks (listed in
 * "unmatched") as long as one matches. */
static int api_continue(artset *a, reply *r, const char *body, size_t len) {
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
    int64_t k = O.plmodel == 0 ? plm_popular(&p->m, seeds, ns, out, n)
              : O.plmodel == 1 ? plm_title(&p->m, title, seeds, ns, out, n) : plm_cooc(&p->m, title, seeds, ns, out, n);
    pthread_mutex_unlock(&p->mu);
    if (k < 0) { fail_with(r, 500, k == -2 ? "co-occurrence scores past 2^32 - 1" : "out of memory"); goto done; }
    for (int64_t s = 0; s < ns; s++)
        if (seeds[s] < p->m.ntracks)
            for (int64_t j = p->m.tr_off[seeds[s]]; j < p->m.tr_off[seeds[s] + 1]; j++) seedpl[p->m.tr_pl[j]] = 1;
    static const char *const names[] = {"pop", "title", "cooc"};
    cJSON *o = cJSON_CreateObject(), *sj = cJSON_AddArrayToObject(o, "seeds"), *res = cJSON_AddArrayToObject(o, "results");
    cJSON_AddStringToObject(o, "model", names[O.plmodel]);
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

/* ---- sounds like an uploaded file: the sound pipeline's own stages ---- */

extern char **environ;
static char stage_dir[PATH_MAX];        /* where bin/serve is: the other stages are there */
static pthread_mutex_t upload_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int uploads_receiving;

/* The options a stage ran with when the model was made: the line "STAGE
 * opts..." of the model's .inputs file, split at spaces into words[]
 * (pointing into buf).  Count, or -1 when the file or line is missing. */
static int stage_opts(const char *stage, char *buf, size_t cap, char **words, int max) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s.inputs", O.sound_model);
    FILE *f = fopen(path, "r");
    int n = -1;
    size_t sl = strlen(stage);
    if (!f) return -1;
    while (fgets(buf, (int)cap, f)) {
        buf[strcspn(buf, "\n")] = 0;
        if (strncmp(buf, stage, sl) || (buf[sl] && buf[sl] != ' ')) continue;
        n = 0;
        for (char *save = NULL, *w = strtok_r(buf + sl, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
            words[n++] = w;
        break;
    }
    fclose(f);
    return n;
}

/* Runs the stage argv[0] (a name in stage_dir) with stdin and stdout on
 * /dev/null and stderr appended to errpath; 0 when it exits 0. */
static int run_stage(char **argv, const char *errpath) {
    char exe[PATH_MAX + 64];
    snprintf(exe, sizeof exe, "%s/%s", stage_dir, argv[0]);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawnattr_init(&at);
    /* the server blocks SIGTERM (main waits for it) and ignores SIGPIPE;
     * a stage gets the usual dispositions back */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    pid_t pid;
    int st = 0, rc = posix_spawn(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return -1;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The first line a failed stage wrote, with the upload's temporary path
 * replaced by "the uploaded file". */
static void stage_message(const char *errpath, const char *upload, char *out, size_t cap) {
    char line[1024] = "";
    FILE *f = fopen(errpath, "r");
    if (f) { if (!fgets(line, sizeof line, f)) line[0] = 0; fclose(f); }
    line[strcspn(line, "\n")] = 0;
    size_t len = 0, ul = strlen(upload);
    for (const char *p = line; *p && len + 1 < cap; ) {
        if (strncmp(p, upload, ul) == 0) {
            len += (size_t)snprintf(out + len, cap - len, "the uploaded file");
            p += ul;
        } else {
            out[len++] = *p++;
        }
    }
    out[len < cap ? len : cap - 1] = 0;
    if (!*out) snprintf(out, cap, "the analysis failed without a message");
}

/* Writes the upload, runs spectro | slice | embed | pool on it as the sound
 * pipeline does (pipelines/cnn.mk), and loads the song's vector into q. */
static int analyse_upload(const char *dir, const char *body, size_t len, ts_table *q, reply *r) {
    char up[1200], mel[1200], tiles[1200], emb[1200], vec[1200], errp[1200];   /* dir: < 1100 bytes */
    char sbuf[1024], lbuf[1024], *sw[32], *lw[32], *argv[48], msg[1200];
    snprintf(up, sizeof up, "%s/upload", dir);
    snprintf(mel, sizeof mel, "%s/q.mel", dir);
    snprintf(tiles, sizeof tiles, "%s/q.tiles", dir);
    snprintf(emb, sizeof emb, "%s/q.emb", dir);
    snprintf(vec, sizeof vec, "%s/q.ts", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    int fd = open(up, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return fail_with(r, 500, "cannot store the upload: %s", strerror(errno));
    for (size_t off = 0; off < len; ) {
        ssize_t w = write(fd, body + off, len - off);
        if (w <= 0) { close(fd); return fail_with(r, 500, "cannot store the upload: %s", strerror(errno)); }
        off += (size_t)w;
    }
    close(fd);
    int ns = stage_opts("spectro", sbuf, sizeof sbuf, sw, 32), nl = stage_opts("slice", lbuf, sizeof lbuf, lw, 32), n = 0;
    if (ns < 0 || nl < 0)
        return fail_with(r, 500, "%s.inputs: no 'spectro' and 'slice' lines (the options the model was made with)", O.sound_model);
    argv[n++] = "spectro"; argv[n++] = "-q";
    for (int i = 0; i < ns; i++) argv[n++] = sw[i];
    argv[n++] = "-o"; argv[n++] = mel; argv[n++] = "--"; argv[n++] = up; argv[n] = NULL;
    if (run_stage(argv, errp)) {        /* not audio: the client's fault */
        stage_message(errp, up, msg, sizeof msg);
        return fail_with(r, 400, "%s", msg);
    }
    n = 0;
    argv[n++] = "slice";
    for (int i = 0; i < nl; i++) argv[n++] = lw[i];
    argv[n++] = "-o"; argv[n++] = tiles; argv[n++] = mel; argv[n] = NULL;
    char *embed[] = {"embed", "-m", (char *)O.sound_model, "--track-keys", "-o", emb, tiles, NULL};
    char *pool[] = {"pool", "-o", vec, emb, NULL};
    if (run_stage(argv, errp) || run_stage(embed, errp) || run_stage(pool, errp)) {
        stage_message(errp, up, msg, sizeof msg);
        return fail_with(r, 500, "%s", msg);
    }
    char err[1024];
    if (ts_load_table(vec, NULL, q, err, sizeof err)) return fail_with(r, 500, "%s", err);
    if (q->nrows != 1) return fail_with(r, 400, "the uploaded file gave %" PRId64 " songs, not one", q->nrows);
    return 0;
}

static void remove_dir(const char *dir) {
    static const char *const names[] = {"upload", "q.mel", "q.tiles", "q.emb", "q.ts", "stderr", NULL};
    char p[1200];                       /* dir: < 1100 bytes */
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s.tmp", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int api_sounds_like(struct MHD_Connection *c, artset *a, reply *r, const char *body, size_t len) {
    long k;
    style *s = a->sound;
    if (!s) return fail_with(r, 404, "no sound index: build %s/cnn/index.ts (make sound-library)", O.out);
    if (int_arg(c, r, "k", 1, O.max_k, 5, &k)) return -1;
    if (!len) return fail_with(r, 400, "send the audio file as the request body (curl --data-binary @song.mp3)");
    if (pthread_mutex_trylock(&upload_mu)) return fail_with(r, 503, "another upload is being analysed; try again");
    const char *tmp = getenv("TMPDIR");
    char dir[1100];
    if (!tmp || !*tmp || strlen(tmp) > 1000) tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/serve-XXXXXX", tmp);
    ts_table q = {0};
    int rc = -1, *map = NULL, n = -1;
    int64_t *rows = malloc(sizeof *rows * (size_t)k);
    double *sc = malloc(sizeof *sc * (size_t)k);
    float *v = malloc(sizeof *v * (size_t)s->d);
    char err[1024];
    if (!mkdtemp(dir)) { pthread_mutex_unlock(&upload_mu); free(rows); free(sc); free(v); return fail_with(r, 500, "cannot make a temporary folder in %s: %s", tmp, strerror(errno)); }
    if (!rows || !sc || !v || !(map = malloc(sizeof *map * (size_t)s->d))) { fail_with(r, 500, "out of memory"); goto done; }
    if (analyse_upload(dir, body, len, &q, r)) goto done;
    if (ss_map_columns(&s->tab.h, s->d, &q.h, "the uploaded file's vector", s->path, map, err, sizeof err)) {
        fail_with(r, 500, "%s (rebuild the index with make sound-library)", err);
        goto done;
    }
    ss_gather_row(&q.h, q.data, 0, map, s->d, v);
    song_search *ss = take_or_busy(s, r);
    if (!ss) goto done;
    ss_begin(ss);
    n = ss_search(ss, v, (int)k, rows, sc);
    style_give(s, ss);
    if (n < 0) { fail_with(r, 500, "out of memory"); goto done; }
    cJSON *o = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(o, "results");
    cJSON_AddStringToObject(o, "metric", knn_metric_name(O.metric));
    cJSON_AddStringToObject(o, "score", score_desc(O.metric));
    cJSON_AddNumberToObject(o, "k", (double)k);
    cJSON_AddNumberToObject(o, "bytes", (double)len);
    for (int i = 0; res && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", s->songs.key[rows[i]]);
        cJSON_AddNumberToObject(e, "rank", i + 1);
        cJSON_AddNumberToObject(e, "score", isfinite(sc[i]) ? sc[i] : 0);
        if (strmap_get(&a->audio, s->songs.key[rows[i]]) >= 0) {
            char *u = NULL;
            if (asprintf(&u, "/audio/%s", s->songs.key[rows[i]]) >= 0) cJSON_AddStringToObject(e, "audio", u);
            free(u);
        }
        cJSON_AddItemToArray(res, e);
    }
    r->body = o;
    rc = 0;
done:
    remove_dir(dir);
    pthread_mutex_unlock(&upload_mu);
    ts_table_free(&q);
    free(map); free(rows); free(sc); free(v);
    return rc;
}

/* ---- the library's audio: only files under --sounds-dir, by key ---- */

static const char *audio_type(const char *path) {
    const char *dot = strrchr(path, '.');
    static const char *const map[][2] = {{".ogg", "audio/ogg"}, {".opus", "audio/ogg"}, {".flac", "audio/flac"},
                                         {".mp3", "audio/mpeg"}, {".wav", "audio/wav"}};
    for (size_t i = 0; dot && i < sizeof map / sizeof *map; i++) if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
    return "application/octet-stream";
}

/* The file of library key, when it resolves to a regular file under the
 * library folder (symbolic links and ".." resolved first); NULL otherwise. */
static char *file_inside(const char *dir, const char *path);
static char *audio_path(artset *a, const char *key) {
    int64_t i = *key && !strchr(key, '/') ? strmap_get(&a->audio, key) : -1;
    return i >= 0 ? file_inside(O.sounds_dir, a->audio_paths[i]) : NULL;
}

/* ---- charts: files of OUT/charts, served by exact name only ---- */

/* path when its real path is a regular file inside the real path of dir. */
static char *file_inside(const char *dir, const char *path) {
    char *d = realpath(dir, NULL), *f = realpath(path, NULL);
    size_t dl = d ? strlen(d) : 0;
    struct stat st;
    if (!d || !f || strncmp(f, d, dl) != 0 || f[dl] != '/' || stat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(f);
        f = NULL;
    }
    free(d);
    return f;
}

static int chart_name_ok(const char *n) {
    size_t len = strlen(n);
    if (!len || len > 200 || n[0] == '.') return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return 0;
    return (len > 4 && (strcmp(n + len - 4, ".png") == 0 || strcmp(n + len - 4, ".svg") == 0));
}

static char *file_inside(const char *dir, const char *path);
static int api_charts(reply *r) {
    char *dir = path_in("charts");
    DIR *d = dir ? opendir(dir) : NULL;
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "charts");
    struct dirent *e;
    while (d && arr && (e = readdir(d))) {
        char *p = NULL, *f = NULL;
        if (chart_name_ok(e->d_name) && asprintf(&p, "%s/%s", dir, e->d_name) >= 0 && (f = file_inside(dir, p)))
            cJSON_AddItemToArray(arr, cJSON_CreateString(e->d_name));
        free(p); free(f);
    }
    if (d) closedir(d);
    free(dir);
    r->body = o;
    return 0;
}

/* ---- HTTP plumbing ---- */

extern const char serve_page[];         /* stages/serve.html, see page_blob below */
extern const unsigned int serve_page_len;
__asm__(".section .rodata\n"
        ".global serve_page\n.type serve_page, @object\n.balign 16\n"
        "serve_page:\n.incbin \"stages/serve.html\"\nserve_page_end:\n.byte 0\n"
        ".global serve_page_len\n.type serve_page_len, @object\n.balign 4\n"
        "serve_page_len:\n.int serve_page_end - serve_page\n.previous\n");

typedef struct {
    char *body;
    size_t len;
    size_t limit;               /* --max-body, or --max-upload for sounds-like */
    int too_big, upload;
    double t0;
} request;

static enum MHD_Result queue(struct MHD_Connection *c, int status, struct MHD_Response *resp, const char *type) {
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void log_request(const char *method, const char *url, int status, double t0) {
    if (O.log || status >= 500)
        fprintf(stderr, "serve: %s %s %d %.1f ms\n", method, url, status, (cli_now() - t0) * 1e3);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, reply *r, const char *method, const char *url, double t0) {
    cJSON *o = r->body;
    if (!o) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", r->err);
        if (r->ncands) {
            cJSON *arr = cJSON_AddArrayToObject(o, "candidates");
            for (int64_t i = 0; arr && i < r->ncands && i < 20; i++)
                cJSON_AddItemToArray(arr, r->cand_style ? song_json(r->cand_style, r->cands[i])
                                                        : cJSON_CreateString(r->cand_keys[r->cands[i]]));
        }
    } else if (!r->status) {
        r->status = 200;
    }
    free(r->cands);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(text); return MHD_NO; }
    if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
    log_request(method, url, r->status, t0);
    return queue(c, r->status, resp, "application/json; charset=utf-8");
}

static enum MHD_Result send_file(struct MHD_Connection *c, const char *path, const char *type) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) return MHD_NO;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) { fclose(f); return MHD_NO; }
    /* MHD reads the file as it sends and closes the descriptor */
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, dup(fileno(f)));
    fclose(f);
    return queue(c, 200, resp, type);
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Dispatches a complete request; 1 when it queued a response itself. */
static int route(struct MHD_Connection *c, artset *a, reply *r, const char *url, const char *method,
                 const request *rq, enum MHD_Result *ret) {
    int get = is(method, "GET") || is(method, "HEAD"), post = is(method, "POST");
    if (is(url, "/") || is(url, "/index.html")) {
        if (!get) return r->allow = "GET, HEAD", fail_with(r, 405, "%s is not allowed on %s", method, url), 0;
        struct MHD_Response *resp = MHD_create_response_from_buffer(serve_page_len, (void *)serve_page, MHD_RESPMEM_PERSISTENT);
        if (resp) MHD_add_response_header(resp, "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self'");
        *ret = queue(c, 200, resp, "text/html; charset=utf-8");
        return 1;
    }
    if (strncmp(url, "/audio/", 7) == 0 && get) {
        char *p = utf8_ok(url) ? audio_path(a, url + 7) : NULL;
        *ret = p ? send_file(c, p, audio_type(p)) : MHD_NO;
        free(p);
        if (*ret == MHD_NO) return fail_with(r, 404, "no such library song: %.200s", utf8_ok(url) ? url + 7 : "?"), 0;
        return 1;
    }
    if (strncmp(url, "/charts/", 8) == 0 && get) {
        char *p, *dir = path_in("charts"), *f = NULL;
        if (!chart_name_ok(url + 8)) return free(dir), fail_with(r, 404, "no such chart: %.200s", utf8_ok(url) ? url + 8 : "?"), 0;
        if (!dir || asprintf(&p, "%s/%s", dir, url + 8) < 0) return free(dir), fail_with(r, 500, "out of memory"), 0;
        f = file_inside(dir, p);        /* a link out of the folder is not a chart */
        *ret = f ? send_file(c, f, url[strlen(url) - 1] == 'g' && url[strlen(url) - 2] == 'n' ? "image/png" : "image/svg+xml") : MHD_NO;
        free(p); free(f); free(dir);
        if (*ret == MHD_NO) return fail_with(r, 404, "no such chart: %.200s (run make charts)", url + 8), 0;
        return 1;
    }
    static const char *const paths[] = {"/api/styles", "/api/search", "/api/similar", "/api/artist", "/api/charts",
                                        "/api/continue", "/api/sounds-like", NULL};
    int known = 0;
    for (int i = 0; paths[i]; i++) known |= is(url, paths[i]);
    if (!known) return fail_with(r, 404, "no such page: %.200s", utf8_ok(url) ? url : "(not UTF-8)"), 0;
    if (is(url, "/api/similar") && post) return api_similar_post(c, a, r, rq->body ? rq->body : "", rq->len), 0;
    if (is(url, "/api/continue") && post) return api_continue(a, r, rq->body ? rq->body : "", rq->len), 0;
    if (is(url, "/api/sounds-like") && post) return api_sounds_like(c, a, r, rq->body ? rq->body : "", rq->len), 0;
    if (is(url, "/api/continue") || is(url, "/api/sounds-like")) {
        r->allow = "POST";
        return fail_with(r, 405, "%s is not allowed on %s (allowed: POST)", method, url), 0;
    }
    if (!get) {
        r->allow = is(url, "/api/similar") ? "GET, HEAD, POST" : "GET, HEAD";
        return fail_with(r, 405, "%s is not allowed on %s (allowed: %s)", method, url, r->allow), 0;
    }
    if (is(url, "/api/styles")) api_styles(a, r);
    else if (is(url, "/api/search")) api_search(c, a, r);
    else if (is(url, "/api/similar")) api_similar_get(c, a, r);
    else if (is(url, "/api/artist")) api_artist(c, a, r);
    else api_charts(r);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    request *rq = *con_cls;
    reply r = {0};
    if (!rq) {                  /* headers only so far */
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        rq->t0 = cli_now();
        *con_cls = rq;
        rq->limit = (size_t)O.max_body;
        if (is(url, "/api/sounds-like") && is(method, "POST")) {
            /* audio bodies are large: two received at a time at most */
            rq->upload = 1;
            if (atomic_fetch_add(&uploads_receiving, 1) >= 2) {
                fail_with(&r, 503, "too many uploads at once; try again");
                return send_reply(c, &r, method, url, rq->t0);
            }
            rq->limit = (size_t)O.max_upload;
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)rq->limit) {
            fail_with(&r, 413, "the request body is larger than %zu bytes", rq->limit);
            return send_reply(c, &r, method, url, rq->t0);
        }
        return MHD_YES;
    }
    if (*upload_size) {         /* a piece of the body */
        if (!rq->too_big && rq->len + *upload_size <= rq->limit) {
            char *nb = realloc(rq->body, rq->len + *upload_size + 1);
            if (!nb) return MHD_NO;
            memcpy(nb + rq->len, upload, *upload_size);
            rq->body = nb;
            rq->len += *upload_size;
            rq->body[rq->len] = 0;
        } else {
            rq->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big) {
        fail_with(&r, 413, "the request body is larger than %zu bytes", rq->limit);
        return send_reply(c, &r, method, url, rq->t0);
    }
    enum MHD_Result ret = MHD_NO;
    artset *a = artset_get();
    int done = route(c, a, &r, url, method, rq, &ret);
    if (!done) ret = send_reply(c, &r, method, url, rq->t0);
    else log_request(method, url, 200, rq->t0);
    artset_put(a);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    request *rq = *con_cls;
    if (rq && rq->upload) atomic_fetch_sub(&uploads_receiving, 1);
    if (rq) { free(rq->body); free(rq); }
    *con_cls = NULL;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
    if (!O.log) return;         /* timeouts and refused connections are routine */
    fprintf(stderr, "serve: libmicrohttpd: ");
    vfprintf(stderr, fmt, ap);
}

/* Percent-decoding of paths and arguments, as MHD's own except that %00
 * stays as it is: a decoded NUL would cut "/charts/a.png%00.txt" short. */
static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* The --listen address with the port (exits 2 when it is no address). */
static socklen_t listen_addr(struct sockaddr_storage *ss, unsigned *flags) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, O.listen, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)O.port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, O.listen, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)O.port);
        *flags |= MHD_USE_IPv6;
        return sizeof *v6;
    }
    cli_usage("--listen: '%s' is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::1)", O.listen);
}

static struct MHD_Daemon *start(void) {
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    listen_addr(&ss, &flags);
    return MHD_start_daemon(flags, (uint16_t)O.port, NULL, NULL, on_request, NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)O.threads,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)O.max_conns,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)O.timeout,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_END);
}

/* Reloads once the artifacts changed and then stayed still for one poll. */
static void maybe_reload(char **pending) {
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

int main(int argc, char **argv) {
    cli_init("serve", argc, argv, HELP);
    O = parse_opts(argc, argv);
    char err[3072];
    struct sockaddr_storage probe;
    unsigned pf = 0;
    listen_addr(&probe, &pf);                   /* usage errors before loading anything */
    char *self = realpath("/proc/self/exe", NULL), *slash = self ? strrchr(self, '/') : NULL;
    if (!slash) cli_die("cannot find the folder of the serve binary: %s", strerror(errno));
    snprintf(stage_dir, sizeof stage_dir, "%.*s", (int)(slash - self), self);
    free(self);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);     /* threads inherit it; main waits for them */
    signal(SIGPIPE, SIG_IGN);
    artset *a = artset_load(err, sizeof err);
    if (!a) cli_die("%s (build it with make features; --out names the folder)", err);
    artset_install(a);
    struct MHD_Daemon *d = start();
    if (!d) cli_die("cannot listen on %s port %d: %s", O.listen, O.port, strerror(errno));
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : O.port;
    fprintf(stderr, "serve: listening on http://%s%s%s:%d/ (%d styles, %" PRId64 " songs)\n",
            strchr(O.listen, ':') ? "[" : "", O.listen, strchr(O.listen, ':') ? "]" : "", port, a->nstyles,
            a->st[0].tab.nrows);
    char *pending = NULL;
    struct timespec ts = {.tv_sec = (time_t)O.poll, .tv_nsec = (long)((O.poll - (double)(time_t)O.poll) * 1e9)};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0) break;
        maybe_reload(&pending);
    }
    MHD_stop_daemon(d);
    free(pending);
    pthread_mutex_lock(&G.mu);
    a = G.cur;
    G.cur = NULL;
    pthread_mutex_unlock(&G.mu);
    artset_put(a);
    fprintf(stderr, "serve: stopped\n");
    return EXIT_OK;
}
