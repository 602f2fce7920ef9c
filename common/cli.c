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

void cli_help(const char *help_text) {
    fputs(help_text, stdout);
    exit(EXIT_OK);
}

void cli_version(void) {
    printf("%s (songpipe) %s\n", cli_stage, SONGPIPE_VERSION);
    exit(EXIT_OK);
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

void cli_progress_done(cli_progress *p) {
    if (p->tty && p->shown) fputs("\r\033[K", stderr);
    p->shown = 0;
}
