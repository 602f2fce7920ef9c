/* blastune.c - cli_blas_tune (declared in cli.h).  Its own object file, so
 * that only the stages that call it link OpenBLAS (the Makefile links with
 * --as-needed): a stage that does no linear algebra then does not start
 * OpenBLAS's thread pool, whose idle threads cost it system time. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS 0.3.21 (Debian 12) picks its kernels from the CPU model number;
 * on CPUs it does not know (newer Xeons, many VMs) it falls back to the
 * SSE3 "Prescott" kernels, 3-4x slower than what the CPU can run.  The
 * choice is made when the library loads, before main, and can only be
 * changed through OPENBLAS_CORETYPE: so when OpenBLAS fell back and the CPU
 * has AVX-512 (SkylakeX kernels) or AVX2+FMA (Haswell), set it and exec
 * this program again, once.  A user's own OPENBLAS_CORETYPE is left alone. */
extern char *openblas_get_corename(void);
/* OpenBLAS's own (exported, used by its fork handler): stops its thread
 * pool; the next call that wants threads starts it again.  Weak: a BLAS
 * without it is left as it is. */
extern void blas_thread_shutdown_(void) __attribute__((weak));

/* OpenBLAS starts its worker threads when it loads, and an idle worker spins
 * (sched_yield) for about 2^28 cycles, some 0.1 s, before it sleeps: a
 * stage that runs for less than that lost one of this machine's two cores
 * to it for its whole life (pca on 328,330 rows: 46% of the samples in the
 * worker's sched_yield, beside the table's decompressing threads and the
 * async writer).  Stopped here; the pool comes back, with the same number of
 * threads (so the same results), at the first call large enough to use it. */
void cli_blas_idle(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

/* when OpenBLAS fell back to generic kernels: exec again with
 * OPENBLAS_CORETYPE set (returns only when it does not) */
static void retune(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("SONGPIPE_BLAS_TUNED")) return;
    const char *core = openblas_get_corename();
    if (!core || (strcasecmp(core, "prescott") != 0 && strcasecmp(core, "core2") != 0 &&
                  strcasecmp(core, "nehalem") != 0 && strcasecmp(core, "sandybridge") != 0))
        return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want || strcasecmp(core, want) == 0) return;
    setenv("SONGPIPE_BLAS_TUNED", core, 1);
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");   /* no /proc: go on with what OpenBLAS chose */
}

void cli_blas_tune(char **argv) {
    retune(argv);
    cli_blas_idle();
}
