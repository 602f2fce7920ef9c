/* outset.h - the output files of one run as one set.  Each file is written
 * under a temporary name of its own, FILE.tmp.PID.RANDOM in FILE's folder (so
 * that concurrent runs never share one), and renamed to FILE once complete.
 * A stage with several outputs holds the set: then every file keeps its
 * temporary name until outset_commit, which renames them all only when every
 * one, stdout included, was written and closed without error.  A temporary
 * file still there at exit, on a fatal error or on a signal is removed, so a
 * failed run neither leaves a file behind nor replaces an existing one.
 * Devices and FIFOs (-o /dev/null, a named pipe) are written in place. */
#ifndef SONGPIPE_OUTSET_H
#define SONGPIPE_OUTSET_H

#include <stddef.h>
#include <stdio.h>

#define OUTSET_MAX 64                   /* outputs of one process at a time */

/* Opens path for writing (not "-": the caller writes stdout itself).  *slot
 * is the file's place in the set, or -1 for a device written in place.
 * NULL on error, with a message naming path in err. */
FILE *outset_open(const char *path, int *slot, char *err, size_t errlen);
/* The file is complete: flushes and closes it, checking both, then renames it
 * to path unless the set is held.  -1 on error (message naming path in err);
 * the temporary file is gone then. */
int outset_close(FILE *f, int slot, const char *path, char *err, size_t errlen);
/* The temporary name of slot, for a program that writes the file by name. */
const char *outset_tmp_name(int slot);
/* Drops an output: closes it and removes its temporary file.  Safe on NULL. */
void outset_discard(FILE *f, int slot);
/* From now on complete files keep their temporary names until outset_commit. */
void outset_hold(void);
/* Flushes stdout and checks every write to it, then renames every complete
 * file of the set, in the order they were opened.  -1 on error with the file
 * named in err, every temporary file removed. */
int outset_commit(char *err, size_t errlen);
/* Removes every temporary file of the set, complete or not.  Async-signal-safe
 * (for signal handlers and fatal-error paths). */
void outset_abort_all(void);

#endif
