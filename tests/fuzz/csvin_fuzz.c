/* csvin_fuzz.c - libFuzzer harness for the CSV row reader (common/csvin.c,
 * libcsv underneath, rows handed over by a reader thread).  Not part of
 * `make test` (tests/test_csv_clean.sh and tests/unit/csvin.c are the
 * deterministic versions).
 *
 * The first input byte picks the options: bit 0 = a field filter (every
 * other column wanted, set on the header row as csv-clean does), bit 1 =
 * a tab delimiter, bits 2-7 = stop after that many rows (0 = never).  The
 * rest is the file.  Every input must parse or fail with a message; each
 * row must have at least one field, rising indexes and non-decreasing
 * lines, NUL-terminated fields of the stated length (NULL only where not
 * wanted); a second pass after csvin_rewind (the filter still on, so
 * also on its header) must see the same rows.
 * Anything else (a crash, a hang, a sanitizer report) is a finding.
 *
 * Build and run (from the project root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Icommon tests/fuzz/csvin_fuzz.c common/csvin.c common/errbuf.c \
 *     -lcsv -lpthread -o /tmp/csvin_fuzz
 *   mkdir -p /tmp/csv_corpus && cp tests/data/spotify-2023-dirty-slice.csv tests/data/knn_songs.csv /tmp/csv_corpus/
 *   /tmp/csvin_fuzz -max_total_time=300 -max_len=65536 /tmp/csv_corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "csvin.h"

typedef struct {
    csvin *c;
    int filter, pre, stop_after;  /* pre: the filter is on from the start (second pass) */
    long rows, last_line, last_index;
    uint64_t digest;
} pass;

static int on_row(void *ctx, const csvin_row *r) {
    pass *p = ctx;
    if (r->nfields < 1) abort();
    if (r->index != p->last_index + 1) abort();
    if (r->line < p->last_line || r->line < 1) abort();
    p->last_index = r->index, p->last_line = r->line;
    if (r->index == 0 && p->filter) {
        unsigned char want[64];
        for (int i = 0; i < 64; i++) want[i] = (unsigned char)(i % 2 == 0);
        csvin_want(p->c, want, 64);
    }
    for (int i = 0; i < r->nfields; i++) {
        const char *f = r->field[i];
        if (!f) {
            if (!p->filter || (r->index == 0 && !p->pre) || r->len[i]) abort();
            continue;
        }
        if (r->index == 0) continue;          /* the header: filtered in the second pass only */
        if (f[r->len[i]] != 0) abort();
        for (size_t k = 0; k < r->len[i]; k++) p->digest = p->digest * 1099511628211ull ^ (unsigned char)f[k];
        p->digest = p->digest * 31 + (uint64_t)i;
    }
    p->rows++;
    return p->stop_after && p->rows >= p->stop_after ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[] = "/tmp/csvin_fuzz_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) { close(fd); unlink(path); return 0; }
    close(fd);
    char err[1024] = "";
    csvin *c = csvin_open(path, data[0] & 2 ? '\t' : ',', err, sizeof err);
    if (!c) {
        if (!err[0]) abort();
        unlink(path);
        return 0;
    }
    pass a = {c, data[0] & 1, 0, data[0] >> 2, 0, 0, -1, 0};
    int rc = csvin_each(c, on_row, &a);
    if (rc < 0 && !csvin_error(c)[0]) abort();
    if (csvin_rewind(c) == 0) {
        pass b = {c, data[0] & 1, data[0] & 1, data[0] >> 2, 0, 0, -1, 0};
        int rc2 = csvin_each(c, on_row, &b);
        if (rc2 != rc || b.rows != a.rows || b.digest != a.digest) abort();
    }
    csvin_close(c);
    unlink(path);
    return 0;
}
