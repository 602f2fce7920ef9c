/* outfile.c - outputs that appear only when the stage succeeds (outfile.h). */
#include "outfile.h"
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUTFILE_MAX 8
static struct { FILE *f; char path[4096], tmp[4096]; } outs[OUTFILE_MAX];
static volatile sig_atomic_t live[OUTFILE_MAX];
static int hooked;

static void remove_tmps(void) {
    for (int i = 0; i < OUTFILE_MAX; i++)
        if (live[i]) unlink(outs[i].tmp), live[i] = 0;
}

static void on_signal(int sig) {
    for (int i = 0; i < OUTFILE_MAX; i++)
        if (live[i]) unlink(outs[i].tmp);
    ts_abort_all_tmp();
    signal(sig, SIG_DFL);
    raise(sig);
}

FILE *outfile_open(const char *path, int binary) {
    if (!path || strcmp(path, "-") == 0) {
        if (binary && isatty(STDOUT_FILENO))
            cli_usage("refusing to write binary output to a terminal; redirect it (> file, -o file) or pipe it");
        return stdout;
    }
    /* a device or FIFO (-o /dev/null, a named pipe) is written in place:
     * renaming a .tmp over it would replace the device */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "wb");
        if (!f) cli_die("%s: cannot open: %s", path, strerror(errno));
        return f;
    }
    int slot = -1;
    for (int i = 0; i < OUTFILE_MAX; i++) if (!live[i]) { slot = i; break; }
    if (slot < 0) cli_die("%s: too many outputs", path);
    if (strlen(path) + 5 > sizeof outs[slot].tmp) cli_die("%s: path too long", path);
    snprintf(outs[slot].path, sizeof outs[slot].path, "%s", path);
    snprintf(outs[slot].tmp, sizeof outs[slot].tmp, "%s.tmp", path);
    if (!hooked) {
        atexit(remove_tmps);            /* cli_die exits 1: no half-written output */
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        hooked = 1;
    }
    FILE *f = fopen(outs[slot].tmp, "wb");
    if (!f) cli_die("%s: cannot create: %s", outs[slot].tmp, strerror(errno));
    outs[slot].f = f;
    live[slot] = 1;
    return f;
}

int outfile_seekable(FILE *f) {
    struct stat st;
    return fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && ftello(f) >= 0;
}

void outfile_close(FILE *f) {
    int slot = -1;
    for (int i = 0; i < OUTFILE_MAX; i++) if (live[i] && outs[i].f == f) slot = i;
    const char *name = slot >= 0 ? outs[slot].tmp : "<stdout>";
    if (fflush(f) != 0 || ferror(f)) cli_die("%s: write failed: %s", name, strerror(errno ? errno : EIO));
    if (f == stdout) return;
    if (fclose(f) != 0) cli_die("%s: write failed: %s", name, strerror(errno));
    if (slot < 0) return;               /* a device written in place */
    outs[slot].f = NULL;
    if (rename(outs[slot].tmp, outs[slot].path) != 0)
        cli_die("%s: cannot rename to %s: %s", outs[slot].tmp, outs[slot].path, strerror(errno));
    live[slot] = 0;
}
