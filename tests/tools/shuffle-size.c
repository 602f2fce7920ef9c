/* shuffle-size.c - what a byte-shuffle block filter would do (formats/TENSOR.md,
 * "A byte-shuffle filter: measured, not added"): each block of the first
 * tensor of a stream compressed with zstd as the writer does (payload and
 * keys, LEVEL, default 1) as is and with its payload byte-shuffled (byte j
 * of every element together, as Blosc and HDF5 do; keys as they are); the
 * sizes, and the write (shuffle + compress) and read (decompress +
 * unshuffle) speeds, each block's best of REPS (default 5).  Checks that
 * both round trips give the block back.
 *
 * usage: shuffle-size STREAM.ts [LEVEL [REPS]] */
#include "tensor.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void shuffle(unsigned char *dst, const unsigned char *src, size_t n, size_t es) {
    for (size_t i = 0; i < n; i++) for (size_t j = 0; j < es; j++) dst[j * n + i] = src[i * es + j];
}
static void unshuffle(unsigned char *dst, const unsigned char *src, size_t n, size_t es) {
    for (size_t j = 0; j < es; j++) { const unsigned char *s = src + j * n; for (size_t i = 0; i < n; i++) dst[i * es + j] = s[i]; }
}
int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: shuffle-size STREAM.ts [LEVEL [REPS]]\n"); return 2; }
    int level = argc > 2 ? atoi(argv[2]) : 1, reps = argc > 3 ? atoi(argv[3]) : 5;
    char err[512];
    ts_reader *r = ts_open_read(argv[1], err, sizeof err);
    if (!r) { fprintf(stderr, "%s\n", err); return 1; }
    const ts_header *h;
    ts_block b;
    if (ts_next_tensor(r, &h) != 1 || !ts_dtype_size(h->dtype)) { fprintf(stderr, "%s\n", ts_error(r)); return 1; }
    size_t es = ts_dtype_size(h->dtype);
    double raw_total = 0, c0 = 0, c1 = 0, tw0 = 0, tw1 = 0, tr0 = 0, tr1 = 0;
    ZSTD_CCtx *cc = ZSTD_createCCtx(); ZSTD_DCtx *dc = ZSTD_createDCtx();
    while (ts_read_block(r, &b) == 1) {
        size_t pay = (size_t)b.nrows * h->row_bytes, kl = 0;
        for (int64_t i = 0; i < b.nrows; i++) kl += strlen(b.keys[i]) + 1;
        size_t raw = pay + kl, n = pay / es;
        unsigned char *a = malloc(raw + 1), *s = malloc(raw + 1), *o = malloc(raw + 1), *comp = malloc(ZSTD_compressBound(raw));
        if (!a || !s || !o || !comp) { fprintf(stderr, "out of memory\n"); return 1; }
        memcpy(a, b.data, pay);
        size_t k = pay;
        for (int64_t i = 0; i < b.nrows; i++) { size_t l = strlen(b.keys[i]) + 1; memcpy(a + k, b.keys[i], l); k += l; }
        double bw0 = 1e9, bw1 = 1e9, br0 = 1e9, br1 = 1e9; size_t z0 = 0, z1 = 0;
        for (int rep = 0; rep < reps; rep++) {
            double t = now(); z0 = ZSTD_compressCCtx(cc, comp, ZSTD_compressBound(raw), a, raw, level); t = now() - t; if (t < bw0) bw0 = t;
            t = now(); ZSTD_decompressDCtx(dc, o, raw, comp, z0); t = now() - t; if (t < br0) br0 = t;
            if (ZSTD_isError(z0) || memcmp(o, a, raw)) { fprintf(stderr, "round trip failed\n"); return 1; }
            t = now(); shuffle(s, a, n, es); memcpy(s + pay, a + pay, kl); z1 = ZSTD_compressCCtx(cc, comp, ZSTD_compressBound(raw), s, raw, level); t = now() - t; if (t < bw1) bw1 = t;
            t = now(); ZSTD_decompressDCtx(dc, s, raw, comp, z1); unshuffle(o, s, n, es); memcpy(o + pay, s + pay, kl); t = now() - t; if (t < br1) br1 = t;
            if (ZSTD_isError(z1) || memcmp(o, a, raw)) { fprintf(stderr, "shuffled round trip failed\n"); return 1; }
        }
        raw_total += raw; c0 += z0; c1 += z1; tw0 += bw0; tw1 += bw1; tr0 += br0; tr1 += br1;
        free(a); free(s); free(o); free(comp);
    }
    printf("%-10s %s x%zu: raw %.1f MB; zstd-%d plain %.2f MB (%.3fx), shuffled %.2f MB (%.3fx): %.1f%% smaller; "
           "write %.0f vs %.0f MB/s; read %.0f vs %.0f MB/s\n",
           argv[1], ts_dtype_name(h->dtype), (size_t)h->row_elems, raw_total / 1e6, level, c0 / 1e6, raw_total / c0, c1 / 1e6, raw_total / c1,
           100 * (1 - c1 / c0), raw_total / tw0 / 1e6, raw_total / tw1 / 1e6, raw_total / tr0 / 1e6, raw_total / tr1 / 1e6);
    ZSTD_freeCCtx(cc); ZSTD_freeDCtx(dc);
    ts_close_read(r);
    return 0;
}
