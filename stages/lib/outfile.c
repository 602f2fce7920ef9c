/* outfile.c - outputs that appear only when the stage succeeds (outfile.h):
 * the FILE-level face of formats/outset.c, dying with its messages.  The
 * signal handlers of cli_init remove the temporary files. */
#include "outfile.h"
#include "cli.h"
#include "outset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct { FILE *f; int slot; char *path; } outs[OUTSET_MAX];

FILE *outfile_open(const char *path, int binary) {
    if (!path || strcmp(path, "-") == 0) {
        if (binary && isatty(STDOUT_FILENO))
            cli_usage("refusing to write binary output to a terminal; redirect it (> file, -o file) or pipe it");
        return stdout;
    }
    int i = 0;
    while (i < OUTSET_MAX && outs[i].f) i++;
    if (i == OUTSET_MAX) cli_die("%s: too many outputs", path);
    char err[4200];
    int slot;
    FILE *f = outset_open(path, &slot, err, sizeof err);
    if (!f) cli_die("%s", err);
    if (!(outs[i].path = strdup(path))) cli_die("out of memory");
    outs[i].f = f;
    outs[i].slot = slot;
    return f;
}

int outfile_seekable(FILE *f) {
    struct stat st;
    return fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && ftello(f) >= 0;
}

void outfile_close(FILE *f) {
    if (f == stdout) {
        errno = 0;
        if (fflush(f) != 0 || ferror(f)) cli_die("<stdout>: write failed: %s", strerror(errno ? errno : EIO));
        return;
    }
    int i = 0;
    while (i < OUTSET_MAX && outs[i].f != f) i++;
    if (i == OUTSET_MAX) cli_die("outfile_close: not an open output");
    char err[4200];
    int rc = outset_close(f, outs[i].slot, outs[i].path, err, sizeof err);
    free(outs[i].path);
    outs[i].f = NULL;
    outs[i].path = NULL;
    if (rc) cli_die("%s", err);
}

void outfile_hold(void) { outset_hold(); }

void outfile_commit(void) {
    char err[4200];
    if (outset_commit(err, sizeof err)) cli_die("%s", err);
}
