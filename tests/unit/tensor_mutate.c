/* tensor_mutate.c - deterministic mutation fuzzing of the tensor stream reader.
 * Seeded byte flips, truncations, insertions, deletions and duplications of
 * valid streams.  Three levels:
 *   raw:   mutations of whole streams; the CRC-32C of every record must make
 *          the reader reject every one of them;
 *   fixed: the same, then every record's CRC recomputed (ts_craft.h), so the
 *          JSON, size and zstd checks behind the CRCs are exercised: each
 *          stream must read fine or fail with a message;
 *   block: random block contents (row counts, keys, NULs) recompressed with
 *          valid sizes and CRCs, for the key parser;
 *   table: tables of many blocks, mutated (raw and CRC-fixed), read whole by
 *          ts_read_table one block at a time and on 2 and 4 threads: the
 *          same table or the same error message every time.
 * Never a crash or a sanitizer report (make test SAN=1).  The libFuzzer
 * harness tests/fuzz/tensor_fuzz.c explores further. */
#include "check.h"
#include "ts_craft.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {          /* splitmix64 */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

/* valid seed streams, each a single (not concatenated) stream */
static cbuf seeds[4];

static void make_seeds(void) {
    static const char *hdrs[] = {
        "{\"name\":\"emb\",\"dtype\":\"f32\",\"shape\":[3],\"key\":\"id\",\"columns\":[\"a\",\"b\",\"c\"],\"meta\":{\"k\":[1,2,{\"x\":null}]}}",
        "{\"name\":\"w\",\"dtype\":\"f64\",\"shape\":[2,2]}",
        "{\"name\":\"n\",\"dtype\":\"i32\",\"shape\":[]}",
        "{\"name\":\"z\",\"dtype\":\"u8\",\"shape\":[0]}",
        "{\"name\":\"l\",\"dtype\":\"i64\",\"shape\":[1]}",
    };
    for (int s = 0; s < 4; s++) {
        cbuf *b = &seeds[s];
        craft_magic(b, 1);
        int nt = 1 + s % 3;
        for (int t = 0; t < nt; t++) {
            int hi = (s + t) % 5;
            craft_header(b, hdrs[hi]);
            static const size_t rb[5] = {12, 32, 4, 0, 8};
            int64_t rows = 0;
            for (int blk = 0; blk < 1 + (s + t) % 3; blk++) {
                cbuf raw = {0};
                int n = 1 + (int)below(5);
                for (int i = 0; i < n; i++)
                    for (size_t j = 0; j < rb[hi]; j++) cb_u8(&raw, (unsigned)next() & 0xff);
                for (int i = 0; i < n; i++) {
                    char k[32];
                    snprintf(k, sizeof k, "key-%d-%d", blk, i);
                    cb_put(&raw, k, strlen(k) + 1);
                }
                craft_block(b, (uint32_t)n, raw.p, raw.n);
                rows += n;
                cb_free(&raw);
            }
            craft_end(b, (uint64_t)rows);
        }
        craft_zend(b, (uint32_t)nt);
    }
}

/* one to three random edits of m */
static void mutate(cbuf *m) {
    int edits = 1 + (int)below(3);
    for (int e = 0; e < edits && m->n; e++) {
        size_t at = below(m->n), len = 1 + below(8);
        switch (below(6)) {
        case 0: m->p[at] ^= (unsigned char)(1u << below(8)); break;            /* bit flip */
        case 1: m->p[at] = (unsigned char)next(); break;                       /* byte set */
        case 2: m->n = at; break;                                              /* truncate */
        case 3: {                                                              /* insert */
            unsigned char ins[8];
            for (size_t i = 0; i < len; i++) ins[i] = (unsigned char)next();
            cbuf t = {0};
            cb_put(&t, m->p, at); cb_put(&t, ins, len); cb_put(&t, m->p + at, m->n - at);
            cb_free(m); *m = t;
            break;
        }
        case 4:                                                                /* delete */
            if (at + len > m->n) len = m->n - at;
            memmove(m->p + at, m->p + at + len, m->n - at - len);
            m->n -= len;
            break;
        default: {                                                             /* duplicate a range */
            if (at + len > m->n) len = m->n - at;
            cbuf t = {0};
            cb_put(&t, m->p, at + len); cb_put(&t, m->p + at, m->n - at);
            cb_free(m); *m = t;
        }
        }
    }
}

static int run_one(const cbuf *m, int *accepted) {
    char err[1024] = "x";
    int rc = craft_read_all(m->p, m->n, err, sizeof err, NULL, NULL, NULL);
    *accepted = rc == 0;
    return rc == 0 || (strncmp(err, "mem: ", 5) == 0 && strlen(err) > 10);
}

static void level_raw(int iters) {
    int bad_msg = 0, accepted_changed = 0, same = 0;
    for (int i = 0; i < iters; i++) {
        const cbuf *s = &seeds[i % 4];
        cbuf m = {0};
        cb_put(&m, s->p, s->n);
        mutate(&m);
        if (m.n == s->n && memcmp(m.p, s->p, m.n) == 0) { same++; cb_free(&m); continue; }
        int acc;
        if (!run_one(&m, &acc)) bad_msg++;
        if (acc) accepted_changed++;
        cb_free(&m);
    }
    CHECK(bad_msg == 0, "raw: every rejection of %d mutated streams has a message", iters);
    CHECK(accepted_changed == 0, "raw: every changed stream is rejected (%d accepted, %d unchanged skipped)", accepted_changed, same);
}

static void level_fixed(int iters) {
    int bad_msg = 0, acc_n = 0;
    for (int i = 0; i < iters; i++) {
        const cbuf *s = &seeds[i % 4];
        cbuf m = {0};
        cb_put(&m, s->p, s->n);
        mutate(&m);
        craft_fix_crcs(m.p, m.n);
        int acc;
        if (!run_one(&m, &acc)) bad_msg++;
        acc_n += acc;
        cb_free(&m);
    }
    CHECK(bad_msg == 0, "crc-fixed: %d mutated streams each read fine (%d) or fail with a message", iters, acc_n);
}

static void level_block(int iters) {
    int bad_msg = 0, acc_n = 0;
    for (int i = 0; i < iters; i++) {
        cbuf m = {0}, raw = {0};
        craft_magic(&m, 1);
        size_t rb = (size_t)below(3) * 4;
        char hdr[128];
        snprintf(hdr, sizeof hdr, "{\"name\":\"r\",\"dtype\":\"u8\",\"shape\":[%zu]}", rb);
        craft_header(&m, hdr);
        uint32_t nrows = (uint32_t)below(6);
        size_t len = below(64);
        for (size_t j = 0; j < len; j++) {
            uint64_t r = next();
            cb_u8(&raw, r % 4 == 0 ? 0 : (unsigned)(r >> 8) & 0xff);    /* NULs are frequent */
        }
        craft_block(&m, nrows, raw.p, raw.n);
        craft_end(&m, below(4) ? nrows : nrows + 1);
        craft_zend(&m, 1);
        int acc;
        if (!run_one(&m, &acc)) bad_msg++;
        acc_n += acc;
        cb_free(&m); cb_free(&raw);
    }
    CHECK(bad_msg == 0 && acc_n > 0 && acc_n < iters, "block: %d random block contents each read fine (%d) or fail with a message", iters, acc_n);
}

/* tables of 5-12 blocks (rows of 0, 4 or 12 bytes, keys of 0-20 bytes) */
static void make_table(cbuf *b) {
    static const size_t rbs[3] = {0, 4, 12};
    size_t rb = rbs[below(3)];
    char hdr[128];
    snprintf(hdr, sizeof hdr, "{\"name\":\"t\",\"dtype\":\"u8\",\"shape\":[%zu]}", rb);
    craft_magic(b, 1);
    craft_header(b, hdr);
    int64_t rows = 0;
    int nb = 5 + (int)below(8);
    for (int blk = 0; blk < nb; blk++) {
        cbuf raw = {0};
        int n = (int)below(40);
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < rb; j++) cb_u8(&raw, (unsigned)next() & 0xff);
        for (int i = 0; i < n; i++) {
            size_t kl = below(21);
            for (size_t j = 0; j < kl; j++) cb_u8(&raw, 'a' + (unsigned)below(26));
            cb_u8(&raw, 0);
        }
        craft_block(b, (uint32_t)n, raw.p, raw.n);
        rows += n;
        cb_free(&raw);
    }
    craft_end(b, (uint64_t)rows);
    craft_zend(b, 1);
}

/* the first tensor of m read whole with `workers` threads: 0, or -1 with
 * the message in err; *digest over the rows and keys */
static int read_table_with(const cbuf *m, int workers, char *err, size_t errlen, uint64_t *digest, int64_t *rows) {
    FILE *f = m->n ? fmemopen(m->p, m->n, "rb") : fopen("/dev/null", "rb");
    int rc = -1;
    *digest = 1469598103934665603ull;
    *rows = -1;
    snprintf(err, errlen, "?");
    if (!f) return -1;
    ts_set_read_workers(workers);
    ts_reader *r = ts_open_read_fp(f, "mem", err, errlen);
    if (r) {
        const ts_header *h;
        int t = ts_next_tensor(r, &h);
        ts_table tb;
        if (t == 1 && ts_read_table(r, &tb) == 0) {
            uint64_t d = *digest;
            const unsigned char *p = tb.data;
            for (size_t i = 0; i < (size_t)tb.nrows * tb.h.row_bytes; i++) d = (d ^ p[i]) * 1099511628211ull;
            for (int64_t i = 0; i < tb.nrows; i++) {
                for (const char *k = tb.keys[i]; *k; k++) d = (d ^ (unsigned char)*k) * 1099511628211ull;
                d = (d ^ 0xff) * 1099511628211ull;
            }
            *digest = d;
            *rows = tb.nrows;
            ts_table_free(&tb);
            rc = 0;
        } else {
            snprintf(err, errlen, "%s", t == 0 ? "no tensor" : ts_error(r));
        }
        ts_close_read(r);
    }
    ts_set_read_workers(0);
    fclose(f);
    return rc;
}

static void level_table(int iters) {
    int differ = 0, acc_n = 0, whole = 0;
    char first[3200] = "";
    for (int i = 0; i < iters; i++) {
        cbuf m = {0};
        make_table(&m);
        if (i % 8) {            /* every 8th stays valid */
            mutate(&m);
            if (i % 2) craft_fix_crcs(m.p, m.n);
        }
        char e1[1024], e2[1024], e4[1024];
        uint64_t d1, d2, d4;
        int64_t n1, n2, n4;
        int r1 = read_table_with(&m, 1, e1, sizeof e1, &d1, &n1);
        int r2 = read_table_with(&m, 2, e2, sizeof e2, &d2, &n2);
        int r4 = read_table_with(&m, 4, e4, sizeof e4, &d4, &n4);
        if (r1 != r2 || r1 != r4 || d1 != d2 || d1 != d4 || n1 != n2 || n1 != n4 ||
            (r1 && (strcmp(e1, e2) != 0 || strcmp(e1, e4) != 0))) {
            if (!differ++) snprintf(first, sizeof first, "%d/%d/%d: '%s' / '%s' / '%s'", r1, r2, r4, e1, e2, e4);
        }
        acc_n += r1 == 0;
        whole += i % 8 == 0 && r1 == 0;
        cb_free(&m);
    }
    CHECK(differ == 0 && whole == (iters + 7) / 8 && acc_n < iters,
          "table: %d tables of many blocks (%d read fine) read alike one block at a time and on 2 and 4 threads %s",
          iters, acc_n, first);
}

int main(void) {
    make_seeds();
    for (int s = 0; s < 4; s++) {
        char err[1024] = "";
        int rc = craft_read_all(seeds[s].p, seeds[s].n, err, sizeof err, NULL, NULL, NULL);
        CHECK(rc == 0, "seed %d (%zu bytes) is a valid stream %s", s, seeds[s].n, err);
    }
    level_raw(4000);
    level_fixed(4000);
    level_block(2000);
    level_table(3000);
    for (int s = 0; s < 4; s++) cb_free(&seeds[s]);
    return CHECK_DONE();
}
