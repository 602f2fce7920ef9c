/* cli.c - stage plumbing: messages, exit codes, signals, progress. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cli_stage = "songpipe";

static void on_signal(int sig) {
    ts_abort_all_tmp();
    signal(sig, SIG_DFL);
    raise(sig);
}

volatile sig_atomic_t cli_stop;

static void on_stop(int sig) {
    if (cli_stop) {                     /* a second Ctrl-C: go now */
        ts_abort_all_tmp();
        signal(sig, SIG_DFL);
        raise(sig);
    }
    cli_stop = 1;
}

void cli_stop_on_interrupt(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_help(const char *help_text) {
    fputs(help_text, stdout);
    exit(EXIT_OK);
}

void cli_version(void) {
    printf("%s (songpipe) %s\n", cli_stage, SONGPIPE_VERSION);
    exit(EXIT_OK);
}

/* "512M", "8G", "1073741824": bytes, K M G T = powers of 1024 (an optional
 * trailing B or iB is allowed); 0 when malformed or out of range */
static uint64_t parse_size(const char *s) {
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9') return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return 0;
    int shift = 0;
    const char *units = "KMGT", *u = *end ? strchr(units, *end & ~0x20) : NULL;
    if (u && *end) { shift = 10 * (int)(u - units + 1); end++; }
    if (*end == 'i' && shift) end++;
    if ((*end == 'B' || *end == 'b') ) end++;
    if (*end || v == 0 || v > (UINT64_MAX >> shift)) return 0;
    return (uint64_t)v << shift;
}

void cli_mem_limit_opt(const char *opt, const char *s) {
    uint64_t v = parse_size(s);
    if (!v) cli_usage("%s: '%s' is not a size in bytes (e.g. 512M, 8G, 1073741824)", opt, s);
    ts_set_mem_limit(v, opt);
}

void cli_mem_need(const char *src, const char *what, uint64_t bytes) {
    if (bytes <= ts_mem_limit()) return;
    char m[512];
    ts_mem_message(m, sizeof m, bytes);
    cli_die("%s: %s %s", src, what, m);
}

/* SONGPIPE_MEM_LIMIT for every stage; a stage whose help offers --mem-limit
 * is named in the hint of the messages too */
static void mem_limit_init(const char *help_text) {
    const char *env = getenv("SONGPIPE_MEM_LIMIT");
    if (env && *env) {
        uint64_t v = parse_size(env);
        if (!v) cli_usage("SONGPIPE_MEM_LIMIT: '%s' is not a size in bytes (e.g. 512M, 8G, 1073741824)", env);
        ts_set_mem_limit(v, "SONGPIPE_MEM_LIMIT");
    }
    if (help_text && strstr(help_text, "--mem-limit"))
        ts_set_mem_hint("raise it with --mem-limit SIZE or SONGPIPE_MEM_LIMIT=SIZE (a K, M, G or T suffix)");
}

void cli_init(const char *stage, int argc, char **argv, const char *help_text) {
    cli_stage = stage;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, on_signal); /* `| head` ends a stage quietly, its temporary files gone */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) cli_help(help_text);
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) cli_version();
    }
    mem_limit_init(help_text);
}

static void vmsg(const char *fmt, va_list ap) {
    fprintf(stderr, "%s: ", cli_stage);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void cli_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    ts_abort_all_tmp();
    exit(EXIT_DATA);
}

void cli_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for the options.\n", cli_stage);
    ts_abort_all_tmp();
    exit(EXIT_USAGE);
}

long cli_long(const char *opt, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        cli_usage("%s: '%s' is not an integer between %ld and %ld", opt, s, lo, hi);
    return v;
}

double cli_double(const char *opt, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        cli_usage("%s: '%s' is not a number between %g and %g", opt, s, lo, hi);
    return v;
}

ts_reader *cli_open_read(const char *path) {
    char err[512];
    ts_reader *r = ts_open_read(path, err, sizeof err);
    if (!r) cli_die("%s", err);
    return r;
}

ts_writer *cli_open_write(const char *path) {
    char err[512];
    ts_writer *w = ts_open_write(path, err, sizeof err);
    if (!w) cli_die("%s", err);
    if ((!path || strcmp(path, "-") == 0) && isatty(STDOUT_FILENO))
        cli_usage("refusing to write a binary tensor stream to a terminal; "
                  "redirect it (> file, -o file) or pipe it (| inspect, | to-csv)");
    return w;
}

const ts_header *cli_find_tensor(ts_reader *r, const char *name) {
    const ts_header *h;
    int rc;
    while ((rc = ts_next_tensor(r, &h)) == 1 && name && strcmp(h->name, name) != 0) {}
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0 && name) cli_die("%s: no tensor named '%s' (inspect --header lists them)", ts_reader_name(r), name);
    if (rc == 0) cli_die("%s: the stream holds no tensor", ts_reader_name(r));
    return h;
}

void cli_close_write(ts_writer *w) {
    char err[512];
    if (ts_close(w, err, sizeof err)) cli_die("%s", err);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cli_stdout_tty(void) { return isatty(STDOUT_FILENO); }

void cli_progress_init(cli_progress *p, double plain_every) {
    p->start = p->last = cli_now();
    p->tty = isatty(STDERR_FILENO);
    p->shown = 0;
    p->plain_every = plain_every;
}

void cli_progress_update(cli_progress *p, const char *fmt, ...) {
    double now = cli_now();
    double every = p->tty ? 0.25 : p->plain_every;
    if (every <= 0 || now - p->last < every) return;
    p->last = now;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s%s: ", p->tty ? "\r" : "", cli_stage);
    vfprintf(stderr, fmt, ap);
    fputs(p->tty ? "\033[K" : "\n", stderr);
    va_end(ap);
    p->shown = 1;
}

const char *cli_time_left(char *buf, size_t n, double done, double total, double elapsed) {
    if (done <= 0 || total <= done || elapsed <= 0) { snprintf(buf, n, "%s", total <= done ? "done" : "time left unknown"); return buf; }
    double left = elapsed / done * (total - done);
    if (left >= 3600) snprintf(buf, n, "about %.0f h %.0f min left", floor(left / 3600), fmod(floor(left / 60), 60));
    else if (left >= 60) snprintf(buf, n, "about %.0f min %.0f s left", floor(left / 60), fmod(floor(left), 60));
    else snprintf(buf, n, "about %.0f s left", ceil(left));
    return buf;
}

const char *cli_progress_eta(const cli_progress *p, double done, double total, const char *unit) {
    static char s[160];
    char left[64];
    double dt = cli_now() - p->start, rate = dt > 0 ? done / dt : 0;
    if (rate > 0) snprintf(s, sizeof s, "%.*f %s/s, %s", rate < 10 ? 1 : 0, rate, unit, cli_time_left(left, sizeof left, done, total, dt));
    else snprintf(s, sizeof s, "%s/s not known yet", unit);
    return s;
}

void cli_progress_done(cli_progress *p) {
    if (p->tty && p->shown) fputs("\r\033[K", stderr);
    p->shown = 0;
}
