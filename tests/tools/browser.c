/* browser.c - drives headless Chromium through the DevTools protocol (a small
 * RFC 6455 websocket client on POSIX sockets, JSON with cJSON) to use the serve
 * page as a person would: type a song, pick a suggestion, wait for the results,
 * give it an audio file, take a screenshot and check with libpng it is not blank.
 *
 * usage: browser CHROMIUM URL QUERY PICK SCREENSHOT.png [WIDTH [AUDIO_FILE]]
 * Prints PASS/FAIL lines for tests/run.sh counting; exit 1 on a failure. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <png.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ws.h"

static int failed;              /* checks that failed */

static void check(const char *name, int cond, const char *why) {
    if (cond) printf("PASS: test_serve_browser: %s\n", name);
    else printf("FAIL: test_serve_browser: %s: %s\n", name, why ? why : "");
    fflush(stdout);
    failed += !cond;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void nap(double secs) {
    struct timespec t = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {}
}

/* decodes base64 (no whitespace, as DevTools sends it) in place; returns the length or -1 */
static long unbase64(char *s) {
    static signed char val[256];
    const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(val, -1, sizeof val);
    for (int i = 0; i < 64; i++) val[(unsigned char)A[i]] = (signed char)i;
    size_t n = strlen(s), o = 0;
    while (n && s[n - 1] == '=') n--;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = val[(unsigned char)s[i]];
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v, bits += 6;
        if (bits >= 8) bits -= 8, s[o++] = (char)(acc >> bits & 255);
    }
    return (long)o;
}

/* ---- DevTools calls ---------------------------------------------------- */

typedef struct { int fd, id; char session[128]; } page;

/* sends method(params) (params is consumed) and returns its result, or NULL with err set */
static cJSON *call(page *pg, const char *method, cJSON *params) {
    cJSON *req = cJSON_CreateObject(), *m = NULL, *res = NULL;
    int id = ++pg->id;
    cJSON_AddNumberToObject(req, "id", id);
    cJSON_AddStringToObject(req, "method", method);
    cJSON_AddItemToObject(req, "params", params ? params : cJSON_CreateObject());
    if (pg->session[0]) cJSON_AddStringToObject(req, "sessionId", pg->session);
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    int rc = text ? ws_send(pg->fd, text) : seterr("out of memory");
    free(text);
    while (rc == 0) {                            /* skip events and other replies */
        char *s = ws_recv(pg->fd);
        if (!s) return NULL;
        m = cJSON_Parse(s);
        free(s);
        cJSON *mid = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (cJSON_IsNumber(mid) && mid->valueint == id) break;
        cJSON_Delete(m), m = NULL;
    }
    if (!m) return NULL;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
    if (e) {
        char *es = cJSON_PrintUnformatted(e);
        seterr("%s: %s", method, es ? es : "error");
        free(es);
    } else {
        res = cJSON_DetachItemFromObjectCaseSensitive(m, "result");
        if (!res) res = cJSON_CreateObject();
    }
    cJSON_Delete(m);
    return res;
}

/* calls a method whose result is not needed; -1 on error */
static int call0(page *pg, const char *method, cJSON *params) {
    cJSON *r = call(pg, method, params);
    cJSON_Delete(r);
    return r ? 0 : -1;
}

/* the value of a JS expression (promises awaited), as JSON; NULL with err set on an
 * exception.  An undefined value comes back as JSON null. */
static cJSON *js(page *pg, const char *expr) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "expression", expr);
    cJSON_AddTrueToObject(p, "returnByValue");
    cJSON_AddTrueToObject(p, "awaitPromise");
    cJSON *r = call(pg, "Runtime.evaluate", p), *v = NULL;
    if (!r) return NULL;
    cJSON *ex = cJSON_GetObjectItemCaseSensitive(r, "exceptionDetails");
    if (ex) {
        char *es = cJSON_PrintUnformatted(ex);
        seterr("%.300s: %.600s", expr, es ? es : "exception");
        free(es);
    } else {
        v = cJSON_DetachItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), "value");
        if (!v) v = cJSON_CreateNull();
    }
    cJSON_Delete(r);
    return v;
}

/* JavaScript's truthiness of a returned value */
static int truthy(const cJSON *v) {
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return 0;
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;   /* NaN comes back as null */
    if (cJSON_IsString(v)) return v->valuestring[0] != 0;
    return 1;
}

/* polls expr every 0.1 s until it is truthy or secs pass: 1, 0, or -1 on error */
static int wait_for(page *pg, const char *expr, double secs) {
    double end = now() + secs;
    do {
        cJSON *v = js(pg, expr);
        if (!v) return -1;
        int t = truthy(v);
        cJSON_Delete(v);
        if (t) return 1;
        nap(0.1);
    } while (now() < end);
    return 0;
}

/* expr's value as text, for a failure message (caller frees) */
static char *js_text(page *pg, const char *expr) {
    cJSON *v = js(pg, expr);
    char *s = v ? (cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v)) : strdup(err);
    cJSON_Delete(v);
    return s;
}

static int js_number(page *pg, const char *expr, double *out) {
    cJSON *v = js(pg, expr);
    if (!v) return -1;
    int ok = cJSON_IsNumber(v);
    if (ok) *out = v->valuedouble;
    cJSON_Delete(v);
    return ok ? 0 : seterr("%.300s: not a number", expr);
}

/* ---- chromium ----------------------------------------------------------- */

typedef struct { pid_t pid; char dir[64], profile[96], log[96]; } browser;

/* reads the browser's DevTools port and path from DevToolsActivePort, which
 * chromium writes into the profile once it listens: "PORT\n/devtools/browser/ID" */
static int devtools_url(browser *b, char *url, size_t cap) {
    char path[160], buf[256];
    snprintf(path, sizeof path, "%s/DevToolsActivePort", b->profile);
    double end = now() + 30;
    while (now() < end) {
        int status;
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            if (WIFSIGNALED(status)) return seterr("chromium died of signal %d before listening", WTERMSIG(status));
            return seterr("chromium exited with code %d before listening", WEXITSTATUS(status));
        }
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            unsigned port;
            char p2[200];
            /* both lines, the second whole: it may be read while being written */
            if (sscanf(buf, "%u\n%199s", &port, p2) == 2 && !strncmp(p2, "/devtools/browser/", 18) &&
                strlen(p2) >= 18 + 36) {
                snprintf(url, cap, "ws://127.0.0.1:%u%s", port, p2);
                return 0;
            }
        }
        nap(0.05);
    }
    return seterr("chromium did not write DevToolsActivePort in 30 s");
}

static int start_browser(browser *b, const char *chromium, int width) {
    strcpy(b->dir, "/tmp/serve-chromium-XXXXXX");
    if (!mkdtemp(b->dir)) return seterr("mkdtemp: %s", strerror(errno));
    snprintf(b->profile, sizeof b->profile, "%s/profile", b->dir);   /* new and empty */
    snprintf(b->log, sizeof b->log, "%s/chromium.log", b->dir);
    char udd[128], win[64];
    snprintf(udd, sizeof udd, "--user-data-dir=%s", b->profile);
    snprintf(win, sizeof win, "--window-size=%d,900", width);
    if (mkdir(b->profile, 0700) < 0) return seterr("mkdir %s: %s", b->profile, strerror(errno));
    fflush(stdout);
    b->pid = fork();
    if (b->pid < 0) { b->pid = 0; return seterr("fork: %s", strerror(errno)); }
    if (b->pid == 0) {
        setpgid(0, 0);                           /* its helpers too can be stopped at the end */
        int nul = open("/dev/null", O_RDWR), log = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (nul < 0 || log < 0) _exit(127);
        dup2(nul, 0), dup2(nul, 1), dup2(log, 2);
        execl(chromium, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-dev-shm-usage", udd, "--remote-debugging-port=0", win,
              "about:blank", (char *)NULL);
        dprintf(log, "exec %s: %s\n", chromium, strerror(errno));
        _exit(127);
    }
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    remove(p);
    return 0;
}

/* asks chromium to quit, waits up to 10 s, then kills it and what is left of
 * its process group (a helper still writing would leave files in the profile);
 * removes the profile, again while something is still writing into it */
static void stop_browser(browser *b) {
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        double end = now() + 10;
        while (waitpid(b->pid, NULL, WNOHANG) == 0 && now() < end) nap(0.05);
        if (now() >= end) kill(b->pid, SIGKILL), waitpid(b->pid, NULL, 0);
        kill(-b->pid, SIGKILL);
    }
    for (int i = 0; b->dir[0] && i < 20; i++) {
        nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        if (access(b->dir, F_OK) < 0) break;
        nap(0.1);
    }
}

/* the last line of chromium's stderr, to say why it did not start */
static void log_tail(const browser *b, char *out, size_t cap) {
    FILE *f = fopen(b->log, "r");
    char line[512];
    out[0] = 0;
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n') snprintf(out, cap, "%.380s", line);
    if (f) fclose(f);
    out[strcspn(out, "\n")] = 0;
}

/* a browser-level websocket, attached to the first page target (flat session) */
static int open_page(page *pg, const char *url) {
    if ((pg->fd = ws_open(url)) < 0) return -1;
    cJSON *r = call(pg, "Target.getTargets", NULL), *t;
    if (!r) return -1;
    const char *tid = NULL;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targetInfos")) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
        if (type && !strcmp(type, "page")) {
            tid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "targetId"));
            break;
        }
    }
    if (!tid) { cJSON_Delete(r); return seterr("no page target"); }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "targetId", tid);
    cJSON_AddTrueToObject(p, "flatten");
    cJSON_Delete(r);
    if (!(r = call(pg, "Target.attachToTarget", p))) return -1;
    const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "sessionId"));
    int ok = sid && strlen(sid) < sizeof pg->session;
    if (ok) strcpy(pg->session, sid);
    cJSON_Delete(r);
    return ok ? 0 : seterr("Target.attachToTarget: no sessionId");
}

/* ---- the page, used as a person would ----------------------------------- */

static int type_text(page *pg, const char *q) {
    for (const char *c = q; *c;) {               /* one key per UTF-8 character */
        int len = 1;
        while (c[len] && (c[len] & 0xC0) == 0x80) len++;
        char ch[8];
        snprintf(ch, sizeof ch, "%.*s", len, c);
        c += len;
        cJSON *d = cJSON_CreateObject(), *u = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", "keyDown");
        cJSON_AddStringToObject(d, "text", ch);
        cJSON_AddStringToObject(d, "key", ch);
        cJSON_AddStringToObject(d, "unmodifiedText", ch);
        cJSON_AddStringToObject(u, "type", "keyUp");
        cJSON_AddStringToObject(u, "key", ch);
        int rc = call0(pg, "Input.dispatchKeyEvent", d);
        if (call0(pg, "Input.dispatchKeyEvent", u) < 0 || rc < 0) return -1;
    }
    return 0;
}

/* index of the first suggestion containing pick, -1 if none, -2 on error; *labels for messages */
static int find_pick(page *pg, const char *pick, char **labels) {
    cJSON *v = js(pg, "[...document.querySelectorAll('#sugg li')].map(li => li.textContent)"), *s;
    if (!v) return -2;
    int i = 0, idx = -1;
    cJSON_ArrayForEach(s, v) {
        if (idx < 0 && cJSON_IsString(s) && strstr(s->valuestring, pick)) idx = i;
        i++;
    }
    *labels = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    return idx;
}

static int click(page *pg, int idx) {
    char expr[256];
    double x, y;
    snprintf(expr, sizeof expr, "(() => { const r = document.querySelectorAll('#sugg li')[%d]"
             ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()", idx);
    cJSON *box = js(pg, expr);
    if (!box) return -1;
    int ok = cJSON_GetArraySize(box) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(box, 0)) &&
             cJSON_IsNumber(cJSON_GetArrayItem(box, 1));
    if (ok) x = cJSON_GetArrayItem(box, 0)->valuedouble, y = cJSON_GetArrayItem(box, 1)->valuedouble;
    cJSON_Delete(box);
    if (!ok) return seterr("no box for suggestion %d", idx);
    const char *kinds[] = {"mousePressed", "mouseReleased"};
    for (int k = 0; k < 2; k++) {                /* a real click on it */
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", kinds[k]);
        cJSON_AddNumberToObject(p, "x", x);
        cJSON_AddNumberToObject(p, "y", y);
        cJSON_AddStringToObject(p, "button", "left");
        cJSON_AddNumberToObject(p, "clickCount", 1);
        if (call0(pg, "Input.dispatchMouseEvent", p) < 0) return -1;
    }
    return 0;
}

/* the sounds-like box: gives it the file, waits for players; -1 on a broken step */
static int check_audio(page *pg, const char *audio) {
    char path[PATH_MAX], why[PATH_MAX + 256];
    if (!realpath(audio, path)) return seterr("%s: %s", audio, strerror(errno));
    cJSON *r = call(pg, "DOM.getDocument", NULL), *p;
    if (!r) return -1;
    cJSON *rid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "root"), "nodeId");
    int root = cJSON_IsNumber(rid) ? rid->valueint : 0;
    cJSON_Delete(r);
    if (!root) return seterr("DOM.getDocument: no root node");
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "nodeId", root);
    cJSON_AddStringToObject(p, "selector", "#audiofile");
    if (!(r = call(pg, "DOM.querySelector", p))) return -1;
    cJSON *node = cJSON_GetObjectItemCaseSensitive(r, "nodeId");
    int nid = cJSON_IsNumber(node) ? node->valueint : 0;
    cJSON_Delete(r);
    if (!nid) return seterr("no #audiofile input on the page");
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "nodeId", nid);
    const char *files[] = {path};
    cJSON_AddItemToObject(p, "files", cJSON_CreateStringArray(files, 1));
    if (call0(pg, "DOM.setFileInputFiles", p) < 0) return -1;
    int got = wait_for(pg, "document.querySelectorAll('#soundres li audio').length", 60);
    if (got < 0) return -1;
    char *msg = js_text(pg, "document.getElementById('soundmsg').textContent");
    check("an audio file gives library songs with players", got, msg);
    free(msg);
    char *first = js_text(pg, "document.querySelector('#soundres li .t') && "
                              "document.querySelector('#soundres li .t').textContent");
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s", base);
    char *dot = strrchr(want, '.');
    if (dot && dot != want) *dot = 0;
    snprintf(why, sizeof why, "first is %.200s, want %.1000s", first ? first : "?", want);
    check("the file's own clip is the first sounds-like result", first && !strcmp(first, want), why);
    free(first);
    return 0;
}

/* ---- screenshot ----------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* decodes the PNG with libpng; counts the colours of every other pixel of every
 * other row and the share of them that differ from the commonest (the background) */
static int png_ink(const unsigned char *data, size_t n, int *colours, double *ink) {
    png_image im = {.version = PNG_IMAGE_VERSION};
    unsigned char *px = NULL;
    uint32_t *s = NULL;
    if (!png_image_begin_read_from_memory(&im, data, n)) return seterr("PNG: %s", im.message);
    im.format = PNG_FORMAT_RGB;
    size_t w = im.width, h = im.height, k = 0;
    if (!w || !h || w > 20000 || h > 20000) { png_image_free(&im); return seterr("PNG of %zux%zu", w, h); }
    px = malloc(PNG_IMAGE_SIZE(im));
    s = malloc(((w + 1) / 2) * ((h + 1) / 2) * sizeof *s);
    if (!px || !s) { png_image_free(&im); seterr("out of memory"); goto fail; }
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) { seterr("PNG: %s", im.message); goto fail; }
    for (size_t y = 0; y < h; y += 2)
        for (size_t x = 0; x < w; x += 2) {
            const unsigned char *p = px + (y * w + x) * 3;
            s[k++] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        }
    qsort(s, k, sizeof *s, cmp_u32);
    size_t most = 0, run = 0;
    *colours = 0;
    for (size_t i = 0; i < k; i++) {
        run = i && s[i] == s[i - 1] ? run + 1 : 1;
        if (run == 1) ++*colours;
        if (run > most) most = run;
    }
    *ink = 1.0 - (double)most / (double)k;
    free(px), free(s);
    return 0;
fail:
    free(px), free(s);
    return -1;
}

static int screenshot(page *pg, const char *out) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "format", "png");
    cJSON *r = call(pg, "Page.captureScreenshot", p);
    if (!r) return -1;
    char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "data"));
    long n = b64 ? unbase64(b64) : -1;
    if (n < 0) { cJSON_Delete(r); return seterr("Page.captureScreenshot: no base64 data"); }
    FILE *f = fopen(out, "wb");
    int rc = 0;
    if (!f || fwrite(b64, 1, (size_t)n, f) != (size_t)n) rc = seterr("%s: %s", out, strerror(errno));
    if (f && fclose(f) && !rc) rc = seterr("%s: %s", out, strerror(errno));
    int colours = 0;
    double ink = 0;
    if (!rc && (rc = png_ink((unsigned char *)b64, (size_t)n, &colours, &ink)) == 0) {
        char why[128];
        snprintf(why, sizeof why, "%d colours, %.3f of the pixels differ from the background", colours, ink);
        check("screenshot is not blank", ink > 0.02 && colours >= 16, why);
    }
    cJSON_Delete(r);
    return rc;
}

/* ---- the session ---------------------------------------------------------- */

static int set_viewport(page *pg, int width) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "width", width);
    cJSON_AddNumberToObject(p, "height", 900);
    cJSON_AddNumberToObject(p, "deviceScaleFactor", 1);
    cJSON_AddBoolToObject(p, "mobile", width < 600);
    return call0(pg, "Emulation.setDeviceMetricsOverride", p);
}

static int navigate(page *pg, const char *url) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "url", url);
    return call0(pg, "Page.navigate", p);
}

#define TRY(x) do { if ((x) < 0) return -1; } while (0)
#define STYLES "[...document.querySelectorAll('#results .style:not(.cont)')]"

/* the whole visit; -1 on a broken step (err says which), else 0 (checks counted) */
static int session(page *pg, const char *url, const char *query, const char *pick, const char *shot,
                   int width, const char *audio) {
    char expr[1024], why[1024];
    int w;
    TRY(call0(pg, "Page.enable", NULL));
    TRY(set_viewport(pg, width));
    TRY(navigate(pg, url));
    TRY(w = wait_for(pg, "document.readyState === 'complete' && state.styles.length > 0", 15));
    check("page loads with the styles", w, "no styles");
    cJSON *f = js(pg, "document.getElementById('q').focus()");
    if (!f) return -1;
    cJSON_Delete(f);
    TRY(type_text(pg, query));
    TRY(w = wait_for(pg, "document.querySelectorAll('#sugg li').length", 15));
    snprintf(why, sizeof why, "none after typing '%s'", query);
    check("suggestions appear while typing", w, why);
    char *labels = NULL;
    int idx = find_pick(pg, pick, &labels);
    if (idx == -2) return -1;
    snprintf(why, sizeof why, "'%s' not in %.900s", pick, labels ? labels : "[]");
    free(labels);
    check("the wanted song is suggested", idx >= 0, why);
    if (idx < 0) return 0;
    TRY(click(pg, idx));
    cJSON *jpick = cJSON_CreateString(pick);
    char *qpick = cJSON_PrintUnformatted(jpick);
    cJSON_Delete(jpick);
    if (!qpick) return seterr("out of memory");
    snprintf(expr, sizeof expr, "document.getElementById('seeds').textContent.includes(%s)", qpick);
    free(qpick);
    TRY(w = wait_for(pg, expr, 15));
    char *seeds = js_text(pg, "document.getElementById('seeds').textContent");
    check("the pick becomes a seed", w, seeds);
    free(seeds);
    TRY(w = wait_for(pg, STYLES ".length > 0 && " STYLES
                     ".every(s => s.querySelectorAll('li.result').length === 10)", 15));
    char *styles = js_text(pg, STYLES ".map(s => s.textContent.slice(0, 200))");
    check("ten results in every style", w, styles);
    free(styles);
    double scores, reasons;
    TRY(js_number(pg, STYLES "[0].querySelectorAll('.score').length", &scores));
    TRY(js_number(pg, "[...document.querySelectorAll('.why')].filter(e => e.textContent.length > 5).length", &reasons));
    snprintf(why, sizeof why, "%g scores, %g reasons", scores, reasons);
    check("each result shows a score and a reason", scores == 10 && reasons >= 10, why);
    if (audio) TRY(check_audio(pg, audio));
    double over;
    TRY(js_number(pg, "document.documentElement.scrollWidth - document.documentElement.clientWidth", &over));
    char name[64];
    snprintf(name, sizeof name, "no sideways scrolling at %d px", width);
    snprintf(why, sizeof why, "%g px too wide", over);
    check(name, over <= 0, why);
    return screenshot(pg, shot);
}

int main(int argc, char **argv) {
    if (argc < 6 || argc > 8) {
        fprintf(stderr, "browser: usage: browser CHROMIUM URL QUERY PICK SCREENSHOT.png [WIDTH [AUDIO_FILE]]\n");
        return 2;
    }
    char *end;
    long width = argc > 6 ? strtol(argv[6], &end, 10) : 1280;
    if (argc > 6 && (*end || width < 200 || width > 8000)) {
        fprintf(stderr, "browser: WIDTH '%s' is not a number of pixels from 200 to 8000\n", argv[6]);
        return 2;
    }
    browser b = {0};
    page pg = {.fd = -1};
    char url[512], tail[400];
    int rc = start_browser(&b, argv[1], (int)width);
    if (rc == 0 && devtools_url(&b, url, sizeof url) < 0) {
        log_tail(&b, tail, sizeof tail);
        snprintf(err + strlen(err), sizeof err - strlen(err), "%s%s", tail[0] ? ": " : "", tail);
        check("chromium starts with DevTools", 0, err);
        failed = 1, rc = 0;
    } else if (rc == 0 && (rc = open_page(&pg, url)) == 0) {
        rc = session(&pg, argv[2], argv[3], argv[4], argv[5], (int)width, argc > 7 ? argv[7] : NULL);
    }
    if (rc < 0) check("the browser session", 0, err);   /* a broken step is a failure, with its reason */
    if (pg.fd >= 0) close(pg.fd);
    stop_browser(&b);
    return failed ? 1 : 0;
}
