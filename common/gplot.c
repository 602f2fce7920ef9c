/* gplot.c - gnuplot script helpers: quoting, terminals, running gnuplot. */
#include "gplot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

void gp_put_string(FILE *f, const char *s) {
    putc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') putc('\'', f);
        putc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    putc('\'', f);
}

void gp_put_field(FILE *f, const char *s) {
    putc('"', f);
    for (; *s; s++) {
        char c = *s;
        if (c == '"') c = '\'';
        else if (c == '\\' || c == '\t' || c == '\n' || c == '\r') c = ' ';
        putc(c, f);
    }
    putc('"', f);
}

void gp_put_number(FILE *f, double v) {
    if (isnan(v) || isinf(v)) fputs("NaN", f);
    else fprintf(f, "%.9g", v);
}

void gp_put_terminal(FILE *f, const char *format, int w, int h, const char *out_tmp) {
    /* noenhanced: column names like train_loss are not subscripts */
    if (!strcmp(format, "svg"))
        fprintf(f, "set terminal svg size %d,%d fixed noenhanced font 'Sans,11' background '#ffffff'\n", w, h);
    else
        fprintf(f, "set terminal pngcairo size %d,%d noenhanced font 'Sans,10' background '#ffffff'\n", w, h);
    fputs("set output ", f);
    gp_put_string(f, out_tmp);
    putc('\n', f);
}

int gp_run(const char *script_path, char *err, size_t errlen) {
    const char *gp = getenv("GNUPLOT");
    if (!gp || !*gp) gp = "gnuplot";
    char *argv[] = {(char *)gp, (char *)script_path, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, gp, NULL, NULL, argv, environ);
    if (rc) {
        snprintf(err, errlen, "cannot run %s: %s; install gnuplot (Debian: gnuplot-nox, or 'make deps') or write the script with --script",
                 gp, strerror(rc));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) { snprintf(err, errlen, "waiting for %s: %s", gp, strerror(errno)); return -1; }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        snprintf(err, errlen, "cannot run %s (exit 127); install gnuplot (Debian: gnuplot-nox, or 'make deps')", gp);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s failed (%s %d); its script is kept in %s", gp,
                 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), script_path);
        return -1;
    }
    return 0;
}
