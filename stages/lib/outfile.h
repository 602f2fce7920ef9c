/* outfile.h - text and binary outputs of stages that are not tensor streams
 * (CSV, .npy, key lists), and the output set of a stage with several outputs:
 * "-" or NULL = stdout, otherwise a temporary file of this run renamed to FILE
 * only on success and removed on failure or a signal (formats/outset.h). */
#ifndef SONGPIPE_OUTFILE_H
#define SONGPIPE_OUTFILE_H
#include <stdio.h>

/* Opens path for writing ("-"/NULL = stdout).  binary: refuse a terminal
 * (usage error, exit 2).  Dies (exit 1) when the file cannot be created. */
FILE *outfile_open(const char *path, int binary);
/* Flushes, checks every write, closes and renames the file (unless held);
 * dies naming the file on a write error.  For stdout only flushes and checks. */
void outfile_close(FILE *f);
/* 1 when f can be seeked back to patch what was written (a regular file) */
int outfile_seekable(FILE *f);

/* A stage with several outputs (-o and side files, or side files and stdout)
 * calls outfile_hold() before opening any of them and outfile_commit() once
 * at the end: no output appears unless every one, stdout included, was
 * complete; outfile_commit dies naming the one that failed. */
void outfile_hold(void);
void outfile_commit(void);
#endif
