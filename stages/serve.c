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
 *   GET  /audio/KEY              a library song's audio file (one Range: 206, 416)
 *   GET  /api/charts             chart names;  GET /charts/NAME.png|svg
 *
 * Errors are {"error": "..."} with the HTTP status and the CLI's words.
 * A main loop waits for signals and polls the artifacts' mtimes: a changed
 * set is loaded aside and swapped in under a lock; requests hold a
 * reference to the set they started with, so none is dropped.
 * This file: options, HTTP plumbing, routing, main; the rest is in
 * stages/serve/ (artifacts.c, api.c, files.c; serve.h says what each holds). */
#include "serve.h"
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
"  --max-conns N      connections served at once (default 64); one past\n"
"                     them gets 503 to its request and is closed, or is\n"
"                     closed after 1 s idle; past 2N + threads libmicro-\n"
"                     httpd closes new connections unanswered\n"
"  --max-conns-per-ip N  connections from one address (default 0: no\n"
"                     limit); more are closed unanswered at once\n"
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
"  --continue-model M playlist continuation model, any of mpd-recommend's:\n"
"                     pop, title, cooc (default, as make continue), neural,\n"
"                     blend, itemknn, rp3beta, ease or als, with its\n"
"                     defaults; neural and blend need DIR/playlists/model.ts;\n"
"                     ease and als are fitted at every load (ease: seconds on\n"
"                     8192 tracks, 268 MB; als: 15 iterations, 128 factors)\n"
"  --poll S           check the artifacts' mtimes every S seconds and reload\n"
"                     a changed set once it has been still for S (default 2)\n"
"  --log              one line per request on stderr\n"
"  -h, --help         this help;  -V, --version\n"
"\n"
"Memory: every style's table twice (the rows and the engine's copy) and the\n"
"catalogues, once more while a changed set loads beside the one in use.\n"
"SIGINT/SIGTERM stop the server (exit 0).\n";


static opts parse_opts(int argc, char **argv) {
    enum { O_OUT = 256, O_LISTEN, O_PORT, O_THREADS, O_MAXC, O_TIMEOUT, O_BODY, O_MAXK, O_METRIC, O_POLL, O_LOG, O_CONT, O_UPLOAD, O_SMODEL, O_SDIR, O_PERIP };
    static const struct option lo[] = {
        {"out", 1, 0, O_OUT}, {"listen", 1, 0, O_LISTEN}, {"port", 1, 0, O_PORT}, {"threads", 1, 0, O_THREADS},
        {"max-conns", 1, 0, O_MAXC}, {"timeout", 1, 0, O_TIMEOUT}, {"max-body", 1, 0, O_BODY},
        {"max-k", 1, 0, O_MAXK}, {"metric", 1, 0, O_METRIC}, {"poll", 1, 0, O_POLL}, {"log", 0, 0, O_LOG},
        {"continue-model", 1, 0, O_CONT}, {"max-upload", 1, 0, O_UPLOAD}, {"sound-model", 1, 0, O_SMODEL},
        {"sounds-dir", 1, 0, O_SDIR}, {"max-conns-per-ip", 1, 0, O_PERIP}, {0, 0, 0, 0}};
    opts o = {.out = "out", .listen = "127.0.0.1", .port = 8080, .threads = 2, .max_conns = 64,
              .timeout = 10, .max_k = 1000, .max_body = 65536, .poll = 2, .metric = KNN_COSINE, .plmodel = PLR_COOC,
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
        case O_PERIP: o.max_conns_per_ip = (int)cli_long("--max-conns-per-ip", optarg, 0, 10000); break;
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
        case O_CONT: {
            char list[128];
            int m = plr_parse(optarg);
            if (m < 0) cli_usage("--continue-model: unknown model '%s'; use %s", optarg, plr_list(list, sizeof list));
            o.plmodel = (plr_kind)m;
            break;
        }
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    return o;
}

opts O;

/* ---- HTTP plumbing ---- */

extern const char serve_page[];         /* stages/serve.html, see page_blob below */
extern const unsigned int serve_page_len;
__asm__(".section .rodata\n"
        ".global serve_page\n.type serve_page, @object\n.balign 16\n"
        "serve_page:\n.incbin \"stages/serve.html\"\nserve_page_end:\n.byte 0\n"
        ".global serve_page_len\n.type serve_page_len, @object\n.balign 4\n"
        "serve_page_len:\n.int serve_page_end - serve_page\n.previous\n");

static char over_limit;                 /* its address marks a connection past --max-conns */

typedef struct {
    char *body;
    size_t len;
    size_t limit;               /* --max-body, or --max-upload for sounds-like */
    int too_big, upload, over; /* over: the connection is past --max-conns */
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
    if (r->close) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (r->content_range[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, r->content_range);
    log_request(method, url, r->status, t0);
    return queue(c, r->status, resp, "application/json; charset=utf-8");
}

/* A decimal number of the Range header at *p (saturating at UINT64_MAX);
 * 0 when there is no digit. */
static int range_number(const char **p, uint64_t *v) {
    const char *s = *p;
    *v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        *v = *v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : *v * 10 + (uint64_t)(*s - '0');
    if (s == *p) return 0;
    *p = s;
    return 1;
}

/* The byte range a Range header asks of a file of size bytes (RFC 9110
 * 14.1.2: "bytes=FIRST-LAST", "bytes=FIRST-", "bytes=-SUFFIX"; one range
 * only): 1 with [*from, *to] inside the file; 0 when the whole file goes
 * (no header, another unit, several ranges, a malformed one: the RFC lets
 * a server ignore each); -1 when no byte of the file is in the range. */
static int byte_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to) {
    uint64_t a, b;
    if (!h || strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 0;
    const char *p = h + 6;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '-') {                        /* the last b bytes */
        p++;
        if (!range_number(&p, &b)) return 0;
        while (*p == ' ' || *p == '\t') p++;
        if (*p) return 0;
        if (b == 0 || size == 0) return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (!range_number(&p, &a) || *p++ != '-') return 0;
    int has_b = range_number(&p, &b);
    while (*p == ' ' || *p == '\t') p++;
    if (*p || (has_b && b < a)) return 0;
    if (a >= size) return -1;
    *from = a;
    *to = has_b && b < size - 1 ? b : size - 1;
    return 1;
}

/* A regular file as the response, read by MHD from the descriptor as it
 * sends (MHD_create_response_from_fd_at_offset64); a Range header gets
 * 206 with Content-Range or 416 (r, with the JSON error).  MHD_NO when the
 * file cannot be opened (the caller answers 404). */
static enum MHD_Result send_file(struct MHD_Connection *c, reply *r, const char *path, const char *type, int *refused) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint64_t from = 0, to = 0;
    *refused = 0;
    if (fd < 0) return MHD_NO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return MHD_NO; }
    uint64_t size = (uint64_t)st.st_size;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    int part = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE) ? 0 : byte_range(h, size, &from, &to);
    if (part < 0) {
        close(fd);
        snprintf(r->content_range, sizeof r->content_range, "bytes */%" PRIu64, size);
        *refused = 1;
        return fail_with(r, 416, "range '%.100s' is outside the file (%" PRIu64 " bytes); ask for bytes 0 to %" PRIu64,
                         utf8_ok(h) ? h : "?", size, size ? size - 1 : 0), MHD_NO;
    }
    /* MHD closes the descriptor with the response */
    struct MHD_Response *resp = part ? MHD_create_response_from_fd_at_offset64(to - from + 1, fd, from)
                                     : MHD_create_response_from_fd64(size, fd);
    if (!resp) { close(fd); return MHD_NO; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (part) {
        char cr[80];
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    return queue(c, part ? 206 : 200, resp, type);
}

/* The answer to a connection past --max-conns: 503, then closed. */
static enum MHD_Result refuse_over(struct MHD_Connection *c, reply *r, const char *method, const char *url, double t0) {
    fail_with(r, 503, "too many connections: serve answers %d at once (--max-conns); try again", O.max_conns);
    r->close = 1;
    return send_reply(c, r, method, url, t0);
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
    int refused = 0;
    if (strncmp(url, "/audio/", 7) == 0 && get) {
        char *p = utf8_ok(url) ? audio_path(a, url + 7) : NULL;
        *ret = p ? send_file(c, r, p, audio_type(p), &refused) : MHD_NO;
        free(p);
        if (refused) return 0;
        if (*ret == MHD_NO) return fail_with(r, 404, "no such library song: %.200s", utf8_ok(url) ? url + 7 : "?"), 0;
        return 1;
    }
    if (strncmp(url, "/charts/", 8) == 0 && get) {
        char *p, *dir = path_in("charts"), *f = NULL;
        if (!chart_name_ok(url + 8)) return free(dir), fail_with(r, 404, "no such chart: %.200s", utf8_ok(url) ? url + 8 : "?"), 0;
        if (!dir || asprintf(&p, "%s/%s", dir, url + 8) < 0) return free(dir), fail_with(r, 500, "out of memory"), 0;
        f = file_inside(dir, p);        /* a link out of the folder is not a chart */
        *ret = f ? send_file(c, r, f, url[strlen(url) - 1] == 'g' && url[strlen(url) - 2] == 'n' ? "image/png" : "image/svg+xml",
                             &refused) : MHD_NO;
        free(p); free(f); free(dir);
        if (refused) return 0;
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
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long want = cl ? strtoull(cl, NULL, 10) : 0;
        if (ci && ci->socket_context == &over_limit) {
            /* a small body is read and dropped, then the 503 (as for a 413 below) */
            rq->over = rq->too_big = 1;
            if (want <= rq->limit) return MHD_YES;
            return refuse_over(c, &r, method, url, rq->t0);
        }
        if (is(url, "/api/sounds-like") && is(method, "POST")) {
            /* audio bodies are large: two received at a time at most */
            rq->upload = 1;
            if (atomic_fetch_add(&uploads_receiving, 1) >= 2) {
                fail_with(&r, 503, "too many uploads at once; try again");
                return send_reply(c, &r, method, url, rq->t0);
            }
            rq->limit = (size_t)O.max_upload;
        }
        /* A body a little over the limit is read and dropped, and the 413
         * sent after it: answering at once closes the connection with the
         * body unread, and the reset can destroy the answer before the
         * client reads it.  A far larger one is refused at once. */
        if (want > 16ULL * rq->limit) {
            fail_with(&r, 413, "the request body is larger than %zu bytes", rq->limit);
            return send_reply(c, &r, method, url, rq->t0);
        }
        rq->too_big = want > rq->limit;
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
    if (rq->over) return refuse_over(c, &r, method, url, rq->t0);
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

/* The bounded pool (--max-conns): MHD reports every connection it set up
 * (STARTED) and closed (CLOSED), in pairs; those past the limit are marked,
 * get a 1 s idle timeout and a 503 to their first request.  (Refusing them
 * in an accept policy callback would leave the client without a reason;
 * MHD's own limit, set above this one, closes them unanswered.) */
static atomic_int open_conns;
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code) {
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (atomic_fetch_add(&open_conns, 1) >= O.max_conns) {
            *socket_context = &over_limit;
            MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
        }
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&open_conns, 1);
    }
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
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(2 * O.max_conns + O.threads),
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)O.max_conns_per_ip,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)O.timeout,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_END);
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
        artset_maybe_reload(&pending);
    }
    MHD_stop_daemon(d);
    free(pending);
    artset_shutdown();
    fprintf(stderr, "serve: stopped\n");
    return EXIT_OK;
}

