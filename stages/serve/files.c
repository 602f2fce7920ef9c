/* files.c - what serve answers with files: sounds like an uploaded audio
 * file (the sound pipeline's own stages run on it), the library's audio and
 * the charts, each only from inside its folder. */
#include "serve.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- sounds like an uploaded file: the sound pipeline's own stages ---- */

char stage_dir[PATH_MAX];        /* where bin/serve is: the other stages are there */
static pthread_mutex_t upload_mu = PTHREAD_MUTEX_INITIALIZER;
atomic_int uploads_receiving;

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

int api_sounds_like(struct MHD_Connection *c, artset *a, reply *r, const char *body, size_t len) {
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

const char *audio_type(const char *path) {
    const char *dot = strrchr(path, '.');
    static const char *const map[][2] = {{".ogg", "audio/ogg"}, {".opus", "audio/ogg"}, {".flac", "audio/flac"},
                                         {".mp3", "audio/mpeg"}, {".wav", "audio/wav"}};
    for (size_t i = 0; dot && i < sizeof map / sizeof *map; i++) if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
    return "application/octet-stream";
}

/* The file of library key, when it resolves to a regular file under the
 * library folder (symbolic links and ".." resolved first); NULL otherwise. */
char *audio_path(artset *a, const char *key) {
    int64_t i = *key && !strchr(key, '/') ? strmap_get(&a->audio, key) : -1;
    return i >= 0 ? file_inside(O.sounds_dir, a->audio_paths[i]) : NULL;
}

/* ---- charts: files of OUT/charts, served by exact name only ---- */

/* path when its real path is a regular file inside the real path of dir. */
char *file_inside(const char *dir, const char *path) {
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

int chart_name_ok(const char *n) {
    size_t len = strlen(n);
    if (!len || len > 200 || n[0] == '.') return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return 0;
    return (len > 4 && (strcmp(n + len - 4, ".png") == 0 || strcmp(n + len - 4, ".svg") == 0));
}

int api_charts(reply *r) {
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

