/* shard.c - --shard I/N: parsing, the row-ownership rules, the input
 * identity, and the shard output's meta and order tensor (see shard.h). */
#include "shard.h"
#include "hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int shard_parse(const char *text, shard_spec *s, char *err, size_t errlen) {
    char *end;
    const char *slash = strchr(text, '/');
    s->id = s->count = 0;
    if (!slash || slash == text || !slash[1]) goto bad;
    errno = 0;
    long i = strtol(text, &end, 10);
    if (end != slash || errno || text[0] == '-' || text[0] == '+' || text[0] == ' ') goto bad;
    long n = strtol(slash + 1, &end, 10);
    if (*end || errno || slash[1] == '-' || slash[1] == '+' || slash[1] == ' ') goto bad;
    if (n < 1 || n > SHARD_MAX) {
        snprintf(err, errlen, "--shard %s: the shard count must be 1 to %d", text, SHARD_MAX);
        return -1;
    }
    if (i < 0 || i >= n) {
        snprintf(err, errlen, "--shard %s: shards are numbered 0 to %ld", text, n - 1);
        return -1;
    }
    s->id = (int)i;
    s->count = (int)n;
    return 0;
bad:
    snprintf(err, errlen, "--shard '%s': expected I/N (shard I of N, counted from 0), e.g. 0/4", text);
    return -1;
}

int shard_active(const shard_spec *s) { return s && s->count > 0; }

uint64_t shard_key_hash(const char *key) {
    return fnv1a64_str(key);
}

int shard_owns_key(const shard_spec *s, const char *key) {
    return !shard_active(s) || shard_key_hash(key) % (uint64_t)s->count == (uint64_t)s->id;
}

int shard_owns_unit(const shard_spec *s, int64_t u) {
    return !shard_active(s) || u % s->count == s->id;
}

void shard_range(const shard_spec *s, int64_t n, int64_t *begin, int64_t *end) {
    if (!shard_active(s)) { *begin = 0; *end = n; return; }
    /* n * I / N in 128 bits: n may be large and N up to SHARD_MAX */
    *begin = (int64_t)((__int128)n * s->id / s->count);
    *end = (int64_t)((__int128)n * (s->id + 1) / s->count);
}

/* the running identity: the FNV state over whole words, the carried tail */
typedef struct { uint64_t n, h; uint32_t c; unsigned char tail[8]; size_t ntail; } id_run;

static void id_start(id_run *r) { r->n = 0; r->h = 1469598103934665603ull; r->c = 0; r->ntail = 0; }

static void id_add(id_run *r, const unsigned char *p, size_t len) {
    r->c = ts_crc32c(r->c, p, len);
    r->n += len;
    while (len && r->ntail) {                   /* complete a carried word */
        r->tail[r->ntail++] = *p++; len--;
        if (r->ntail == 8) {
            uint64_t w;
            memcpy(&w, r->tail, 8);
            r->h = (r->h ^ w) * 1099511628211ull;
            r->ntail = 0;
        }
    }
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        r->h = (r->h ^ w) * 1099511628211ull;
    }
    memcpy(r->tail + r->ntail, p, len);
    r->ntail += len;
}

static void id_end(id_run *r, shard_identity *id) {
    uint64_t h = r->h;
    for (size_t i = 0; i < r->ntail; i++) h = (h ^ r->tail[i]) * 1099511628211ull;
    id->bytes = r->n; id->hash = h; id->crc = r->c;
}

void shard_bytes_identity(const void *buf, size_t len, shard_identity *id) {
    id_run r;
    id_start(&r);
    id_add(&r, buf, len);
    id_end(&r, id);
}

int shard_file_identity(const char *path, shard_identity *id, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    enum { BUF = 1 << 20 };
    unsigned char *buf = malloc(BUF);
    if (!buf) { fclose(f); snprintf(err, errlen, "out of memory"); return -1; }
    id_run r;
    id_start(&r);
    size_t got;
    while ((got = fread(buf, 1, BUF, f)) > 0) id_add(&r, buf, got);
    int bad = ferror(f);
    free(buf);
    fclose(f);
    if (bad) { snprintf(err, errlen, "%s: read error while checksumming it", path); return -1; }
    id_end(&r, id);
    return 0;
}

/* ---- the shard output ---- */

struct shard_out {
    shard_spec spec;
    cJSON *info;                /* becomes meta.shard */
    cJSON *inputs, *sums;
    FILE *pos;                  /* positions of the rows written, spooled */
    int64_t rows;
};

shard_out *shard_out_new(const shard_spec *s, const char *rule) {
    shard_out *so = calloc(1, sizeof *so);
    if (!so) return NULL;
    so->spec = *s;
    if (!(so->info = cJSON_CreateObject())) goto fail;
    if (!cJSON_AddNumberToObject(so->info, "id", s->id) || !cJSON_AddNumberToObject(so->info, "count", s->count) ||
        !cJSON_AddStringToObject(so->info, "rule", rule) ||
        !cJSON_AddStringToObject(so->info, "combine", "rows") ||
        !(so->inputs = cJSON_AddArrayToObject(so->info, "inputs")) ||
        !(so->sums = cJSON_AddArrayToObject(so->info, "sum")))
        goto fail;
    if (!(so->pos = tmpfile())) goto fail;
    return so;
fail:
    shard_out_free(so);
    return NULL;
}

void shard_out_free(shard_out *so) {
    if (!so) return;
    cJSON_Delete(so->info);
    if (so->pos) fclose(so->pos);
    free(so);
}

static int add_identity(shard_out *so, const char *name, const shard_identity *id) {
    char hex[16], fnv[24];
    snprintf(hex, sizeof hex, "%08" PRIx32, id->crc);
    snprintf(fnv, sizeof fnv, "%016" PRIx64, id->hash);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", name) || !cJSON_AddNumberToObject(o, "bytes", (double)id->bytes) ||
        !cJSON_AddStringToObject(o, "crc32c", hex) || !cJSON_AddStringToObject(o, "fnv1a64", fnv)) {
        cJSON_Delete(o);
        return -1;
    }
    cJSON_AddItemToArray(so->inputs, o);
    return 0;
}

int shard_out_input(shard_out *so, const char *path, char *err, size_t errlen) {
    shard_identity id;
    if (shard_file_identity(path, &id, err, errlen)) return -1;
    if (add_identity(so, path, &id)) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

int shard_out_input_known(shard_out *so, const char *path, const shard_identity *id) {
    return add_identity(so, path, id);
}

int shard_out_input_bytes(shard_out *so, const char *name, const void *buf, size_t len) {
    shard_identity id;
    shard_bytes_identity(buf, len, &id);
    return add_identity(so, name, &id);
}

int shard_out_sum(shard_out *so, const char *path) {
    cJSON *s = cJSON_CreateString(path);
    if (!s) return -1;
    cJSON_AddItemToArray(so->sums, s);
    return 0;
}

void shard_out_combine(shard_out *so, const char *how) {
    cJSON_ReplaceItemInObjectCaseSensitive(so->info, "combine", cJSON_CreateString(how));
}

int shard_out_set_number(shard_out *so, const char *name, double v) {
    cJSON *n = cJSON_CreateNumber(v);
    if (!n) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(so->info, name);
    cJSON_AddItemToObject(so->info, name, n);
    return 0;
}

int shard_out_set_string(shard_out *so, const char *name, const char *v) {
    cJSON *n = cJSON_CreateString(v);
    if (!n) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(so->info, name);
    cJSON_AddItemToObject(so->info, name, n);
    return 0;
}

static int add_option(shard_out *so, const char *name, cJSON *v) {
    cJSON *opts = cJSON_GetObjectItemCaseSensitive(so->info, "options");
    if (!v || (!opts && !(opts = cJSON_AddObjectToObject(so->info, "options")))) {
        cJSON_Delete(v);
        return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(opts, name);
    if (!cJSON_AddItemToObject(opts, name, v)) { cJSON_Delete(v); return -1; }
    return 0;
}

int shard_out_option_number(shard_out *so, const char *name, double v) {
    return add_option(so, name, cJSON_CreateNumber(v));
}

int shard_out_option_string(shard_out *so, const char *name, const char *v) {
    return add_option(so, name, cJSON_CreateString(v));
}

int shard_out_annotate(shard_out *so, ts_header *h) {
    cJSON *info = cJSON_Duplicate(so->info, 1);
    if (!info) return -1;
    /* merge must reproduce a header without "meta" when the stage wrote none */
    if (!h->meta) cJSON_AddTrueToObject(info, "meta_absent");
    cJSON *m = ts_header_meta(h);
    if (!m) { cJSON_Delete(info); return -1; }
    cJSON_DeleteItemFromObjectCaseSensitive(m, "shard");
    cJSON_AddItemToObject(m, "shard", info);
    return 0;
}

int shard_out_rows(shard_out *so, int64_t pos, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (fwrite(&pos, sizeof pos, 1, so->pos) != 1) return -1;
    so->rows += n;
    return 0;
}

int shard_out_finish(shard_out *so, ts_writer *w, char *err, size_t errlen) {
    enum { CHUNK = 65536 };
    ts_header h;
    int64_t *buf = malloc(CHUNK * sizeof *buf);
    const char **keys = malloc(CHUNK * sizeof *keys);
    int rc = -1;
    if (!buf || !keys || ts_header_init(&h, SHARD_ORDER_TENSOR, TS_I64, 1, NULL) ||
        ts_header_set_shape(&h, 0, NULL)) {
        snprintf(err, errlen, "out of memory");
        free(buf); free(keys);
        return -1;
    }
    cJSON_AddStringToObject(ts_header_meta(&h), "row", "position of the row in the unsharded output");
    for (int i = 0; i < CHUNK; i++) keys[i] = "";
    if (fflush(so->pos) || fseek(so->pos, 0, SEEK_SET)) {
        snprintf(err, errlen, "cannot read back the spooled row positions: %s", strerror(errno));
        goto out;
    }
    if (ts_begin_tensor(w, &h)) goto werr;
    for (int64_t done = 0; done < so->rows;) {
        size_t n = so->rows - done < CHUNK ? (size_t)(so->rows - done) : CHUNK;
        if (fread(buf, sizeof *buf, n, so->pos) != n) {
            snprintf(err, errlen, "cannot read back the spooled row positions");
            goto out;
        }
        if (ts_write_rows(w, (int64_t)n, keys, buf)) goto werr;
        done += (int64_t)n;
    }
    if (ts_end_tensor(w)) goto werr;
    rc = 0;
    goto out;
werr:
    snprintf(err, errlen, "%s", ts_werror(w));
out:
    ts_header_free(&h);
    free(buf);
    free(keys);
    return rc;
}

int shard_is_order_tensor(const ts_header *h) { return strcmp(h->name, SHARD_ORDER_TENSOR) == 0; }

int shard_header_is_shard(const ts_header *h) {
    return h->meta && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(h->meta, "shard"));
}
