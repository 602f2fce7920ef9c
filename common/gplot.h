/* gplot.h - writing gnuplot scripts with their data inline (datablocks) and
 * running gnuplot on them, for the chart stage.  Output files appear only
 * when gnuplot succeeds (it writes a temporary file of the run, renamed
 * afterwards: formats/outset.h). */
#ifndef SONGPIPE_GPLOT_H
#define SONGPIPE_GPLOT_H
#include <stdio.h>

/* 'text' as a gnuplot single-quoted string literal (quotes doubled; tabs and
 * line ends become spaces). */
void gp_put_string(FILE *f, const char *text);
/* text as one field of a datablock line: "text" with inner double quotes
 * turned into single ones and backslashes, tabs and line ends into spaces. */
void gp_put_field(FILE *f, const char *text);
/* a number for a datablock: %.9g, NaN written as NaN (gnuplot skips it). */
void gp_put_number(FILE *f, double v);

/* The terminal line for format "png" or "svg" at w x h pixels, and the
 * output file (the path with .tmp appended). */
void gp_put_terminal(FILE *f, const char *format, int w, int h, const char *out_tmp);

/* Runs $GNUPLOT (default "gnuplot") on script_path.  0 ok; -1 with the reason
 * in err (not found, killed, exit status). */
int gp_run(const char *script_path, char *err, size_t errlen);

#endif
