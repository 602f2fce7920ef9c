/* outfile.h - text and binary outputs of stages that are not tensor streams
 * (CSV, .npy, key lists): "-" or NULL = stdout, otherwise FILE.tmp renamed to
 * FILE only on success, removed on exit(1) (cli_die), SIGINT/SIGTERM/SIGHUP. */
#ifndef SONGPIPE_OUTFILE_H
#define SONGPIPE_OUTFILE_H
#include <stdio.h>

/* Opens path for writing ("-"/NULL = stdout).  binary: refuse a terminal
 * (usage error, exit 2).  Dies (exit 1) when the file cannot be created. */
FILE *outfile_open(const char *path, int binary);
/* Flushes, checks every write, closes and renames FILE.tmp -> FILE; dies on
 * a write error.  For stdout only flushes and checks. */
void outfile_close(FILE *f);
/* 1 when f can be seeked back to patch what was written (a regular file) */
int outfile_seekable(FILE *f);
#endif
