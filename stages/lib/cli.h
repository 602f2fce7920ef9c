/* cli.h - what every stage shares: its name in messages, exit codes, signal
 * handling that never leaves a half-written artifact, option value parsing,
 * and a progress line that is live on a terminal and plain otherwise. */
#ifndef SONGPIPE_CLI_H
#define SONGPIPE_CLI_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "tensor.h"

#define SONGPIPE_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2 };

extern const char *cli_stage;       /* set by cli_init */

/* Sets the stage name, installs SIGINT/SIGTERM/SIGHUP/SIGPIPE handlers that
 * remove the temporary output files (formats/outset.h), and handles -h/--help
 * (prints help_text) and -V/--version when they are the first argument. */
void cli_init(const char *stage, int argc, char **argv, const char *help_text);
/* BLAS-heavy stages call this first: when OpenBLAS fell back to slow generic
 * kernels on a CPU it does not recognise, re-exec with OPENBLAS_CORETYPE set
 * to what the CPU supports (see cli.c). */
void cli_blas_tune(char **argv);
/* Stops OpenBLAS's thread pool, whose idle workers spin for ~0.1 s after
 * each threaded call (cli_blas_tune does it at start): for a stage that
 * goes on to work without BLAS, or with its own threads.  The pool comes
 * back, as many threads as before, at the next call that uses it. */
void cli_blas_idle(void);
/* Long training loops: after this, SIGINT and SIGTERM set cli_stop (the
 * loop finishes its batch and keeps what it saved) instead of ending the
 * stage; a second one ends it at once, temporary outputs removed. */
extern volatile sig_atomic_t cli_stop;
void cli_stop_on_interrupt(void);
void cli_help(const char *help_text);           /* prints and exits 0 */
void cli_version(void);                         /* prints and exits 0 */

/* "stage: message" on stderr. die: removes temporary outputs, exit 1. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* usage error: message plus "Try 'stage --help'", exit 2 */
_Noreturn void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option values: exit 2 naming the option when the text is not a number in range. */
long cli_long(const char *opt, const char *s, long lo, long hi);
double cli_double(const char *opt, const char *s, double lo, double hi);

/* The memory limit (formats/tensor.h, ts_mem_limit): cli_init takes
 * SONGPIPE_MEM_LIMIT from the environment (exit 2 when malformed);
 * cli_mem_limit_opt sets it from an option value ("512M", "8G", bytes);
 * cli_mem_need dies, naming src and what, when holding `bytes` passes it. */
#define CLI_MEM_HELP \
"  --mem-limit SIZE  the most this stage materialises from its input (a table,\n" \
"                 a block), e.g. 512M or 8G (default: half of physical memory,\n" \
"                 or SONGPIPE_MEM_LIMIT); above it the stage stops before\n" \
"                 allocating and says how much it needs\n"
void cli_mem_limit_opt(const char *opt, const char *s);
void cli_mem_need(const char *src, const char *what, uint64_t bytes);

/* Reader/writer wrappers that die with the format's message. */
ts_reader *cli_open_read(const char *path);
ts_writer *cli_open_write(const char *path);   /* NULL or "-" = stdout */
void cli_close_write(ts_writer *w);             /* dies on error */
/* The header of the tensor named `name` (NULL: the first) of the stream;
 * the tensors before it are skipped (their blocks still checked).  Dies
 * naming the stream when it holds no such tensor. */
const ts_header *cli_find_tensor(ts_reader *r, const char *name);

/* Progress: at most ~4 updates a second, "\r...\033[K" on a terminal, and on
 * a non-terminal one plain line every `plain_every` seconds (0 = never). */
typedef struct {
    double start, last;
    int tty, shown;
    double plain_every;
} cli_progress;
void cli_progress_init(cli_progress *p, double plain_every);
void cli_progress_update(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_progress_done(cli_progress *p);
/* "R UNIT/s, T s left": the rate of `done` of `total` since
 * cli_progress_init, and the time left at that rate (a static buffer, for
 * the next cli_progress_update only) */
const char *cli_progress_eta(const cli_progress *p, double done, double total, const char *unit);
/* "about 3 min 20 s left" for done of total after elapsed seconds ("done",
 * "time left unknown"); written into buf */
const char *cli_time_left(char *buf, size_t n, double done, double total, double elapsed);
double cli_now(void);                           /* monotonic seconds */

/* 1 when stdout is a terminal */
int cli_stdout_tty(void);

#endif
