/* serve.h - what the parts of the serve stage share: the options, the
 * artifact set a request reads (styles, artists, playlists, sound index),
 * the reply being built, and the functions of artifacts.c (loading and
 * swapping sets), api.c (the JSON endpoints) and files.c (uploads, audio,
 * charts).  stages/serve.c holds the options, the HTTP plumbing and main. */
#ifndef SONGPIPE_SERVE_H
#define SONGPIPE_SERVE_H

#include "catalog.h"
#include "cli.h"
#include "knn.h"
#include "playlists.h"
#include "plrec.h"
#include "plvocab.h"
#include "songsearch.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    const char *out, *listen;
    int port, threads, max_conns, max_conns_per_ip, timeout, max_k, log;
    long max_body;
    double poll;
    knn_metric metric;
    plr_kind plmodel;           /* --continue-model, with plrec.c's defaults */
    long max_upload;
    const char *sound_model, *sounds_dir;
} opts;

extern opts O;

/* ---- artifacts.c ---- */
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
 * titles, the track vocabulary and the model (plrec.h, as mpd-recommend
 * builds it), whose scratch space makes one query at a time (mu). */
typedef struct {
    pl_set train;
    pl_vocab vocab;
    catalog names;
    const char **titles;
    plr_model r;
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

/* The current set with a reference held; give it back with artset_put. */
artset *artset_get(void);
void artset_put(artset *a);
/* Makes a the current set; the previous one goes with its last request. */
void artset_install(artset *a);
/* Loads every artifact under O.out; NULL with the reason in err. */
artset *artset_load(char *err, size_t errlen);
/* Polls the artifacts; reloads once they changed and stayed still for one
 * poll (*pending: the changed identity seen last time). */
void artset_maybe_reload(char **pending);
void artset_shutdown(void);
/* A filter state of the style for one request (NULL: all busy), and back. */
song_search *style_take(style *s);
void style_give(style *s, song_search *ss);
char *path_in(const char *sub);                 /* O.out/sub, malloc'd */

/* ---- api.c ---- */
typedef struct {
    int status;
    cJSON *body;                /* NULL: error reply */
    char err[3072];
    int64_t *cands;             /* ambiguous names: candidate rows of cand_style */
    int64_t ncands;
    const style *cand_style;
    const char *const *cand_keys;   /* or candidate keys (artists) */
    const char *allow;          /* 405: the methods allowed */
    int close;                  /* 503 past --max-conns: Connection: close, Retry-After */
    char content_range[80];     /* 416: bytes, star, slash, the size */
} reply;

int fail_with(reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int utf8_ok(const char *s);
cJSON *song_json(const style *s, int64_t r);
const char *score_desc(knn_metric m);
int int_arg(struct MHD_Connection *c, reply *r, const char *name, long lo, long hi, long def, long *v);
song_search *take_or_busy(style *s, reply *r);
int api_styles(artset *a, reply *r);
int api_search(struct MHD_Connection *c, artset *a, reply *r);
int api_similar_get(struct MHD_Connection *c, artset *a, reply *r);
int api_similar_post(struct MHD_Connection *c, artset *a, reply *r, const char *body, size_t len);
int api_artist(struct MHD_Connection *c, artset *a, reply *r);
int api_continue(artset *a, reply *r, const char *body, size_t len);

/* ---- files.c ---- */
extern char stage_dir[PATH_MAX];                /* where bin/serve and the other stages are */
extern atomic_int uploads_receiving;
int api_sounds_like(struct MHD_Connection *c, artset *a, reply *r, const char *body, size_t len);
int api_charts(reply *r);
const char *audio_type(const char *path);
char *audio_path(artset *a, const char *key);  /* a library file by key, or NULL */
char *file_inside(const char *dir, const char *path);
int chart_name_ok(const char *name);

#endif
