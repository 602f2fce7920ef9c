/* outset.c - the output files of one run, renamed together only when all are
 * complete (outset.h).  The temporary names live in static arrays so that a
 * signal handler can remove them without calling anything unsafe. */
#include "outset.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FREE = 0, WRITING = 1, COMPLETE = 2 };

static char tmp_names[OUTSET_MAX][4096];
static char *targets[OUTSET_MAX];           /* the final names */
static volatile sig_atomic_t state[OUTSET_MAX];
static pid_t creator[OUTSET_MAX];           /* a forked child removes only its own */
static unsigned long order[OUTSET_MAX], opened;
static int held, hooked;

void outset_abort_all(void) {
    pid_t me = getpid();
    for (int i = 0; i < OUTSET_MAX; i++)
        if (state[i] != FREE && creator[i] == me) { unlink(tmp_names[i]); state[i] = FREE; }
}

static void release(int slot) {
    state[slot] = FREE;
    free(targets[slot]);
    targets[slot] = NULL;
}

/* creates path.tmp.PID.RANDOM with O_EXCL (mode 0666 less the umask, as
 * fopen would): a name no other run, and no earlier file, holds */
static int create_tmp(const char *path, char *tmp, size_t cap) {
    for (int tries = 0; tries < 100; tries++) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
            r = (uint32_t)rand() ^ (uint32_t)tries;
        if ((size_t)snprintf(tmp, cap, "%s.tmp.%ld.%08x", path, (long)getpid(), (unsigned)r) >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

FILE *outset_open(const char *path, int *slot, char *err, size_t errlen) {
    *slot = -1;
    /* a device or a FIFO is written in place: renaming a temporary file over
     * it would replace the device */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "wb");
        if (!f) snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return f;
    }
    int s = -1;
    for (int i = 0; i < OUTSET_MAX; i++) if (state[i] == FREE) { s = i; break; }
    if (s < 0) { snprintf(err, errlen, "%s: more than %d outputs open", path, OUTSET_MAX); return NULL; }
    if (!hooked) { hooked = 1; atexit(outset_abort_all); }
    free(targets[s]);                   /* left by outset_abort_all */
    if (!(targets[s] = strdup(path))) { snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    int fd = create_tmp(path, tmp_names[s], sizeof tmp_names[s]);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        release(s);
        return NULL;
    }
    creator[s] = getpid();
    state[s] = WRITING;
    order[s] = opened++;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        unlink(tmp_names[s]);
        release(s);
        return NULL;
    }
    *slot = s;
    return f;
}

static int rename_one(int s, char *err, size_t errlen) {
    if (rename(tmp_names[s], targets[s]) != 0) {
        snprintf(err, errlen, "%s: cannot rename %s to it: %s", targets[s], tmp_names[s], strerror(errno));
        unlink(tmp_names[s]);
        release(s);
        return -1;
    }
    release(s);
    return 0;
}

int outset_close(FILE *f, int slot, const char *path, char *err, size_t errlen) {
    if (slot >= 0 && state[slot] != WRITING) {     /* removed by outset_abort_all */
        fclose(f);
        snprintf(err, errlen, "%s: the output was dropped after an error", path);
        return -1;
    }
    int bad = fflush(f) != 0 || ferror(f);
    int e = bad ? (errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && !bad) bad = 1, e = errno;
    if (bad) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(e));
        if (slot >= 0) { unlink(tmp_names[slot]); release(slot); }
        return -1;
    }
    if (slot < 0) return 0;
    state[slot] = COMPLETE;
    return held ? 0 : rename_one(slot, err, errlen);
}

const char *outset_tmp_name(int slot) { return tmp_names[slot]; }

void outset_discard(FILE *f, int slot) {
    if (f) fclose(f);
    if (slot >= 0 && state[slot] != FREE) { unlink(tmp_names[slot]); release(slot); }
}

void outset_hold(void) { held = 1; }

/* the complete file opened first, or -1 */
static int first_complete(void) {
    int s = -1;
    for (int i = 0; i < OUTSET_MAX; i++)
        if (state[i] == COMPLETE && (s < 0 || order[i] < order[s])) s = i;
    return s;
}

int outset_commit(char *err, size_t errlen) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        snprintf(err, errlen, "<stdout>: write failed: %s", strerror(errno ? errno : EIO));
        outset_abort_all();
        return -1;
    }
    for (int i = 0; i < OUTSET_MAX; i++)
        if (state[i] == WRITING) {      /* a stage that commits before closing */
            snprintf(err, errlen, "%s: not complete at commit", targets[i]);
            outset_abort_all();
            return -1;
        }
    held = 0;
    for (int s; (s = first_complete()) >= 0;)
        if (rename_one(s, err, errlen)) { outset_abort_all(); return -1; }
    return 0;
}
