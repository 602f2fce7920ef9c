/* merge.c - the outputs of a stage run as N shards (--shard I/N) back into
 * one stream, byte for byte the one the unsharded run writes: rows ordered
 * by their recorded position (common/shard.h), meta.shard dropped, the
 * per-shard counts added up.  Refuses shards of different inputs or
 * options, a missing shard and a shard given twice. */
#include "cli.h"
#include "shard.h"
#include "songfilter.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char HELP[] =
"Usage: merge [-o OUT] SHARD.ts...     or     merge [-o OUT] --list FILE\n"
"Combine the outputs of one stage run with --shard 0/N .. N-1/N into the\n"
"stream the unsharded run writes, byte for byte.\n"
"\n"
"  --list FILE     read the shard file names from FILE, one per line\n"
"                  ('-' = stdin), in addition to the arguments\n"
"  -o FILE         output (default stdout; FILE.tmp.* until complete)\n"
"  -h, --help      this help;  -V  version\n"
"\n"
"Every shard output holds the stage's tensor (meta.shard: shard id, count,\n"
"input identity = size, CRC-32C and FNV-1a hash of each input file), then a tensor\n"
"'shard.order' giving each row's position in the unsharded output.  merge\n"
"writes the rows of all shards in position order (meta.shard.combine 'rows':\n"
"each position comes from one shard, as for knn, csv-clean, normalize,\n"
"spectro, embed; 'sum': the rows of one position in several shards are added\n"
"element by element, keys equal, as for counts; 'topk': every shard holds\n"
"every query with its best candidates from one part of the index, as knn\n"
"--index-shard writes them, and each query gets the first k that knn's\n"
"filters accept in (value, row) order over all parts), removes meta.shard,\n"
"adds up the meta numbers listed in meta.shard.sum, and copies shard 0's\n"
"further tensors.  Files may come in any order.\n"
"\n"
"Refused (exit 1): a file that is not a shard output, shards of different\n"
"inputs (a stale shard: re-run it), of different options or shard counts,\n"
"a missing shard, a shard given twice, a truncated or corrupt shard; for\n"
"'topk', a query whose results need more candidates than were kept (re-run\n"
"the index shards with a larger --candidates).\n"
"Memory: about two blocks per shard (~2-3 MiB each with the default 1 MiB\n"
"blocks), whatever the row count.\n";

typedef struct {
    const char *path;
    ts_reader *data, *order;    /* two readers: rows, and their positions */
    ts_header h;                /* copy of the data tensor's header */
    int id, count;
    ts_block db, ob;
    int64_t di, oi;             /* next row in db / ob */
    int64_t pos, last;          /* position of the next row; of the previous */
    int done;
} shard_in;

static shard_in *S;             /* by shard id once checked */
static int NS;

/* ---- opening and checking ---- */

static cJSON *shard_info(const ts_header *h) {
    return h->meta ? cJSON_GetObjectItemCaseSensitive(h->meta, "shard") : NULL;
}

static int info_int(const cJSON *info, const char *name, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(info, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble)
        cli_die("%s: meta.shard.%s is missing or not an integer; the shard output is damaged", path, name);
    return (int)v->valuedouble;
}

static void open_shard(shard_in *s, const char *path) {
    char err[600];
    const ts_header *h;
    s->path = path;
    if (!(s->data = ts_open_read(path, err, sizeof err))) cli_die("%s", err);
    int rc = ts_next_tensor(s->data, &h);
    if (rc < 0) cli_die("%s", ts_error(s->data));
    if (rc == 0) cli_die("%s: the stream holds no tensor; not a shard output", path);
    if (shard_is_order_tensor(h)) cli_die("%s: starts with '%s'; the shard output is damaged", path, h->name);
    if (ts_header_copy(&s->h, h)) cli_die("out of memory");
    cJSON *info = shard_info(h);
    if (!cJSON_IsObject(info))
        cli_die("%s: tensor '%s' has no meta.shard: not the output of a stage run with --shard I/N", path, h->name);
    s->id = info_int(info, "id", path);
    s->count = info_int(info, "count", path);
    if (s->count < 1 || s->count > SHARD_MAX || s->id < 0 || s->id >= s->count)
        cli_die("%s: meta.shard says shard %d of %d; the shard output is damaged", path, s->id, s->count);
}

/* The parts of meta.shard that must agree (all but the id). */
static cJSON *comparable_meta(const ts_header *h) {
    cJSON *m = cJSON_Duplicate(h->meta, 1);
    if (!m) cli_die("out of memory");
    cJSON *info = cJSON_GetObjectItemCaseSensitive(m, "shard");
    cJSON_DeleteItemFromObjectCaseSensitive(info, "id");
    cJSON *sums = cJSON_GetObjectItemCaseSensitive(info, "sum"), *p;
    cJSON_ArrayForEach(p, sums) {               /* summed numbers may differ */
        cJSON *parent = m, *leaf = NULL;
        char *dup = cJSON_IsString(p) ? strdup(p->valuestring) : NULL, *save = NULL;
        if (!dup) continue;
        for (char *t = strtok_r(dup, ".", &save); t && parent; t = strtok_r(NULL, ".", &save)) {
            leaf = cJSON_GetObjectItemCaseSensitive(parent, t);
            parent = cJSON_IsObject(leaf) ? leaf : NULL;
        }
        if (cJSON_IsNumber(leaf)) cJSON_SetNumberValue(leaf, 0);
        free(dup);
    }
    return m;
}

/* Where a and b (equal types of JSON) first differ: the dotted path after
 * path[0..len) and the two values, as text ("absent" for a missing member). */
static void first_difference(const cJSON *a, const cJSON *b, char *path, size_t len, size_t cap,
                             char *va, char *vb, size_t vcap) {
    const cJSON *e, *o;
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (int pass = 0; pass < 2; pass++)        /* a's members, then b's own */
            cJSON_ArrayForEach(e, (pass ? b : a)) {
                o = cJSON_GetObjectItemCaseSensitive(pass ? a : b, e->string);
                if (o && (pass || cJSON_Compare(e, o, 1))) continue;
                size_t n = len + (size_t)snprintf(path + len, cap - len, ".%s", e->string);
                if (n >= cap) n = cap - 1;
                if (o) { first_difference(e, o, path, n, cap, va, vb, vcap); return; }
                first_difference(pass ? (const cJSON *)NULL : e, pass ? e : (const cJSON *)NULL, path, n, cap, va, vb, vcap);
                return;
            }
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        int i = 0;
        for (e = a->child, o = b->child; e && o; e = e->next, o = o->next, i++) {
            if (cJSON_Compare(e, o, 1)) continue;
            size_t n = len + (size_t)snprintf(path + len, cap - len, "[%d]", i);
            first_difference(e, o, path, n < cap ? n : cap - 1, cap, va, vb, vcap);
            return;
        }
    }
    char *ta = a ? cJSON_PrintUnformatted(a) : NULL, *tb = b ? cJSON_PrintUnformatted(b) : NULL;
    snprintf(va, vcap, "%.*s%s", 60, ta ? ta : "absent", ta && strlen(ta) > 60 ? "..." : "");
    snprintf(vb, vcap, "%.*s%s", 60, tb ? tb : "absent", tb && strlen(tb) > 60 ? "..." : "");
    free(ta);
    free(tb);
}

static const char *same_shape(const ts_header *a, const ts_header *b) {
    if (strcmp(a->name, b->name)) return "tensor name";
    if (a->dtype != b->dtype) return "dtype";
    if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim)) return "row shape";
    if (a->ncols != b->ncols) return "columns";
    for (int i = 0; i < a->ncols; i++) if (strcmp(a->columns[i], b->columns[i])) return "columns";
    if (!a->key_name != !b->key_name || (a->key_name && strcmp(a->key_name, b->key_name))) return "key name";
    return NULL;
}

static void describe_inputs(const ts_header *h, char *buf, size_t cap) {
    cJSON *in = cJSON_GetObjectItemCaseSensitive(shard_info(h), "inputs"), *e;
    size_t len = 0;
    buf[0] = 0;
    cJSON_ArrayForEach(e, in) {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name"), *b = cJSON_GetObjectItemCaseSensitive(e, "bytes"),
              *c = cJSON_GetObjectItemCaseSensitive(e, "crc32c"), *h = cJSON_GetObjectItemCaseSensitive(e, "fnv1a64");
        if (len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s (%.0f bytes, crc32c %s, fnv1a64 %s)", len ? ", " : "",
                                    cJSON_IsString(n) ? n->valuestring : "?", cJSON_IsNumber(b) ? b->valuedouble : -1,
                                    cJSON_IsString(c) ? c->valuestring : "?", cJSON_IsString(h) ? h->valuestring : "?");
    }
}

/* All shards: one count, one input identity, one header; each id once. */
static void check_set(shard_in *in, int n) {
    char a[1024], b[1024];
    const shard_in *f = &in[0];
    cJSON *f_inputs = cJSON_GetObjectItemCaseSensitive(shard_info(&f->h), "inputs");
    for (int i = 1; i < n; i++) {
        const shard_in *s = &in[i];
        if (s->count != f->count)
            cli_die("mixed shard sets: %s is shard %d of %d but %s is shard %d of %d; merge the shards of one run",
                    f->path, f->id, f->count, s->path, s->id, s->count);
        const cJSON *fc = cJSON_GetObjectItemCaseSensitive(shard_info(&f->h), "combine"),
                    *sc = cJSON_GetObjectItemCaseSensitive(shard_info(&s->h), "combine");
        if (cJSON_IsString(fc) && cJSON_IsString(sc) && strcmp(fc->valuestring, sc->valuestring))
            cli_die("mixed shard kinds: %s combines as '%s' but %s as '%s' (e.g. knn --shard and --index-shard "
                    "outputs); merge the outputs of one run", f->path, fc->valuestring, s->path, sc->valuestring);
        if (!cJSON_Compare(f_inputs, cJSON_GetObjectItemCaseSensitive(shard_info(&s->h), "inputs"), 1)) {
            describe_inputs(&f->h, a, sizeof a);
            describe_inputs(&s->h, b, sizeof b);
            cli_die("mixed inputs: %s (shard %d) was made from %s, but %s (shard %d) from %s; "
                    "re-run the stale shards on the current input", f->path, f->id, a, s->path, s->id, b);
        }
        const char *what = same_shape(&f->h, &s->h);
        if (what)
            cli_die("mixed shard outputs: %s and %s differ in their %s; were they made with other options? "
                    "re-run every shard with the same command", f->path, s->path, what);
        /* made per pair, so that no copy is left when merge stops here */
        cJSON *fm = comparable_meta(&f->h), *m = comparable_meta(&s->h);
        int same = cJSON_Compare(fm, m, 1);
        char va[80], vb[80];
        if (!same) {
            strcpy(a, "meta");
            first_difference(fm, m, a, 4, sizeof a, va, vb, sizeof va);
        }
        cJSON_Delete(fm);
        cJSON_Delete(m);
        if (!same)
            cli_die("mixed shard outputs: %s and %s differ in their %s (%s in %s, %s in %s); were they made with "
                    "other options? re-run every shard with the same command", f->path, s->path, a, va, f->path, vb, s->path);
    }
    int count = f->count;
    shard_in **by_id = calloc((size_t)count, sizeof *by_id);
    if (!by_id) cli_die("out of memory");
    for (int i = 0; i < n; i++) {
        if (in[i].id >= count) {
            free(by_id);
            cli_die("%s: shard %d of %d; the shard output is damaged", in[i].path, in[i].id, count);
        }
        if (by_id[in[i].id]) {
            const char *first = by_id[in[i].id]->path;
            free(by_id);
            cli_die("shard %d of %d given twice: %s and %s (same meta.shard.id); pass each shard once",
                    in[i].id, count, first, in[i].path);
        }
        by_id[in[i].id] = &in[i];
    }
    if (n < count) {
        size_t len = 0;
        int shown = 0;
        for (int i = 0; i < count && len < sizeof a - 16; i++)
            if (!by_id[i]) len += (size_t)snprintf(a + len, sizeof a - len, "%s%d", shown++ ? ", " : "", i);
        if (len >= sizeof a - 16) strcpy(a + sizeof a - 16, ", ...");
        free(by_id);
        cli_die("%d of %d shards missing (shard%s %s of 0..%d); run %s, then merge again",
                count - n, count, count - n > 1 ? "s" : "", a, count - 1, count - n > 1 ? "them" : "it");
    }
    free(by_id);
}

/* ---- reading rows and positions in step ---- */

static int next_data_block(shard_in *s) {
    int rc;
    while ((rc = ts_read_block(s->data, &s->db)) == 1 && s->db.nrows == 0) {}
    if (rc < 0) cli_die("%s", ts_error(s->data));
    s->di = 0;
    return rc;
}

static int next_order_block(shard_in *s) {
    int rc;
    while ((rc = ts_read_block(s->order, &s->ob)) == 1 && s->ob.nrows == 0) {}
    if (rc < 0) cli_die("%s", ts_error(s->order));
    s->oi = 0;
    return rc;
}

static _Noreturn void count_mismatch(const shard_in *s) {
    cli_die("%s: tensor '%s' has %" PRId64 " rows but '%s' %" PRId64 " positions; the shard output is damaged",
            s->path, s->h.name, ts_reader_rows(s->data), SHARD_ORDER_TENSOR, ts_reader_rows(s->order));
}

/* Loads the position of the next row, or marks the shard done. */
static void load_pos(shard_in *s) {
    int have_d = s->di < s->db.nrows || next_data_block(s) == 1;
    int have_o = s->oi < s->ob.nrows || next_order_block(s) == 1;
    if (have_d != have_o) count_mismatch(s);
    if (!have_d) { s->done = 1; return; }
    s->pos = ((const int64_t *)s->ob.data)[s->oi];
    if (s->pos < s->last)
        cli_die("%s: row positions go back (%" PRId64 " after %" PRId64 "); the shard output is damaged",
                s->path, s->pos, s->last);
    s->last = s->pos;
}

/* Opens the second reader at the order tensor (after the data tensor). */
static void open_order(shard_in *s) {
    char err[600];
    const ts_header *h;
    ts_block b;
    int rc;
    if (!(s->order = ts_open_read(s->path, err, sizeof err))) cli_die("%s", err);
    if ((rc = ts_next_tensor(s->order, &h)) != 1) cli_die("%s", rc < 0 ? ts_error(s->order) : "empty shard");
    while ((rc = ts_read_block(s->order, &b)) == 1) {}
    if (rc == 0) rc = ts_next_tensor(s->order, &h);
    if (rc < 0) cli_die("%s", ts_error(s->order));
    if (rc == 0 || !shard_is_order_tensor(h) || h->dtype != TS_I64 || h->row_elems != 1)
        cli_die("%s: no '%s' tensor (i64 positions) after '%s'; not a complete shard output",
                s->path, SHARD_ORDER_TENSOR, s->h.name);
    s->last = INT64_MIN;
    s->db.nrows = s->ob.nrows = 0;
    load_pos(s);
}

/* ---- the merge proper: a min-heap of shards by (position, id) ---- */

static int *heap, heap_n;

static int before(int a, int b) { return S[a].pos < S[b].pos || (S[a].pos == S[b].pos && a < b); }

static void heap_push(int s) {
    int i = heap_n++;
    heap[i] = s;
    while (i && before(heap[i], heap[(i - 1) / 2])) {
        int p = (i - 1) / 2, t = heap[p];
        heap[p] = heap[i]; heap[i] = t; i = p;
    }
}

static int heap_pop(void) {
    int top = heap[0], i = 0;
    heap[0] = heap[--heap_n];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= heap_n) break;
        if (c + 1 < heap_n && before(heap[c + 1], heap[c])) c++;
        if (!before(heap[c], heap[i])) break;
        int t = heap[c]; heap[c] = heap[i]; heap[i] = t; i = c;
    }
    return top;
}

/* Copies rows of shard s while their position is below bound, as runs. */
static void copy_run(shard_in *s, int64_t bound, ts_writer *w) {
    size_t rb = s->h.row_bytes;
    while (!s->done && s->pos < bound) {
        const int64_t *pos = s->ob.data;
        int64_t n = 1, lim = s->db.nrows - s->di;
        if (s->ob.nrows - s->oi < lim) lim = s->ob.nrows - s->oi;
        while (n < lim && pos[s->oi + n] < bound && pos[s->oi + n] >= pos[s->oi + n - 1]) n++;
        if (ts_write_rows(w, n, s->db.keys + s->di, (const char *)s->db.data + (size_t)s->di * rb))
            cli_die("%s", ts_werror(w));
        s->di += n;
        s->oi += n;
        s->last = pos[s->oi - 1];
        load_pos(s);
    }
}

static void add_row(ts_dtype t, void *acc, const void *row, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        switch (t) {
        case TS_F32: ((float *)acc)[i] += ((const float *)row)[i]; break;
        case TS_F64: ((double *)acc)[i] += ((const double *)row)[i]; break;
        case TS_I32: ((int32_t *)acc)[i] = (int32_t)((uint32_t)((int32_t *)acc)[i] + (uint32_t)((const int32_t *)row)[i]); break;
        case TS_I64: ((int64_t *)acc)[i] = (int64_t)((uint64_t)((int64_t *)acc)[i] + (uint64_t)((const int64_t *)row)[i]); break;
        default: ((uint8_t *)acc)[i] = (uint8_t)(((uint8_t *)acc)[i] + ((const uint8_t *)row)[i]); break;
        }
}

/* combine "sum": the rows at one position, from any number of shards, added
 * in shard order (the heap pops equal positions by id); keys must agree. */
static void sum_position(ts_writer *w, void *acc, char *key, int *taken) {
    shard_in *f = &S[heap[0]];
    int64_t p = f->pos;
    int nt = 0;
    memcpy(acc, (const char *)f->db.data + (size_t)f->di * f->h.row_bytes, f->h.row_bytes);
    snprintf(key, TS_MAX_KEY, "%s", f->db.keys[f->di]);
    while (heap_n && S[heap[0]].pos == p) {
        shard_in *o = &S[heap[0]];
        if (nt) {
            if (strcmp(o->db.keys[o->di], key))
                cli_die("%s and %s: position %" PRId64 " has key '%s' in one and '%s' in the other; "
                        "the shards do not belong together", f->path, o->path, p, key, o->db.keys[o->di]);
            add_row(f->h.dtype, acc, (const char *)o->db.data + (size_t)o->di * o->h.row_bytes, f->h.row_elems);
        }
        taken[nt++] = heap_pop();
    }
    if (ts_write_row(w, key, acc)) cli_die("%s", ts_werror(w));
    for (int i = 0; i < nt; i++) {
        shard_in *s = &S[taken[i]];
        s->di++;
        s->oi++;
        load_pos(s);
        if (!s->done && s->pos == p)
            cli_die("%s: position %" PRId64 " holds two rows; a 'sum' shard has one row per position", s->path, p);
        if (!s->done) heap_push(taken[i]);
    }
}

static void merge_rows(ts_writer *w, int sum) {
    void *acc = sum ? malloc(S[0].h.row_bytes ? S[0].h.row_bytes : 1) : NULL;
    char *key = sum ? malloc(TS_MAX_KEY) : NULL;
    int *taken = sum ? malloc(sizeof *taken * (size_t)NS) : NULL;
    if (!(heap = malloc(sizeof *heap * (size_t)NS)) || (sum && (!acc || !key || !taken))) cli_die("out of memory");
    for (int i = 0; i < NS; i++) if (!S[i].done) heap_push(i);
    while (heap_n) {
        if (sum) { sum_position(w, acc, key, taken); continue; }
        int s = heap_pop();
        int64_t bound = heap_n ? S[heap[0]].pos : INT64_MAX;
        if (heap_n && S[s].pos == bound)
            cli_die("%s and %s both hold position %" PRId64 "; the shards overlap (not one run's shards?)",
                    S[s].path, S[heap[0]].path, bound);
        copy_run(&S[s], bound, w);
        if (!S[s].done) heap_push(s);
    }
    free(heap); free(acc); free(key); free(taken);
}

/* ---- the output header ----
 * The reader hands out meta as parsed cJSON numbers, and cJSON prints a
 * number with 15 significant digits when that reads back within its
 * tolerance, so printing the parsed meta again could change digits the
 * stage wrote (normalize writes 17).  So the meta of the output is taken
 * from shard 0's header text: every number keeps its literal text (a cJSON
 * raw item), and only meta.shard and the summed counts are changed. */

/* The JSON text of the first tensor header of a stream file: 12 bytes of
 * stream header, 'H', u32 length, the JSON (formats/TENSOR.md 2.1, 2.2). */
static char *first_header_text(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char b[17];
    char *js = NULL;
    if (!f) cli_die("%s: cannot open: %s", path, strerror(errno));
    if (fread(b, 1, 17, f) == 17 && b[12] == 'H') {
        uint32_t len = (uint32_t)b[13] | (uint32_t)b[14] << 8 | (uint32_t)b[15] << 16 | (uint32_t)b[16] << 24;
        if (len <= TS_MAX_HEADER && (js = malloc((size_t)len + 1)) && fread(js, 1, len, f) == len) js[len] = 0;
        else { free(js); js = NULL; }
    }
    fclose(f);
    if (!js) cli_die("%s: cannot read its first tensor header again", path);
    return js;
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static const char *skip_string(const char *p) {
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
}

/* Walks text p and the tree parsed from it together; numbers become raw
 * items holding their literal text.  Returns the end of the value. */
static const char *keep_literals(cJSON *it, const char *p) {
    p = skip_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p++;
        for (cJSON *c = it ? it->child : NULL; c; c = c->next) {
            p = skip_ws(p);
            if (close == '}') p = skip_ws(skip_string(p)) + 1;     /* "name" : */
            p = skip_ws(keep_literals(c, p));
            if (*p == ',') p++;
        }
        p = skip_ws(p);
        return *p == close ? p + 1 : p;
    }
    if (*p == '"') return skip_string(p);
    const char *q = p;
    while (*p && !strchr(",]} \t\r\n", *p)) p++;
    if (cJSON_IsNumber(it) && !it->valuestring) {
        if (!(it->valuestring = strndup(q, (size_t)(p - q)))) cli_die("out of memory");
        it->type = cJSON_Raw;
    }
    return p;
}

/* The number (or raw number) at a dotted path of m; its object in *parent. */
static cJSON *meta_at(cJSON *m, const char *dotted, cJSON **parent) {
    char *dup = strdup(dotted), *save = NULL;
    cJSON *leaf = m, *up = NULL;
    if (!dup) cli_die("out of memory");
    for (char *t = strtok_r(dup, ".", &save); t && leaf; t = strtok_r(NULL, ".", &save)) {
        up = leaf;
        leaf = cJSON_IsObject(up) ? cJSON_GetObjectItemCaseSensitive(up, t) : NULL;
    }
    free(dup);
    if (parent) *parent = up;
    return cJSON_IsNumber(leaf) || cJSON_IsRaw(leaf) ? leaf : NULL;
}

static void output_header(ts_header *out) {
    if (ts_header_copy(out, &S[0].h)) cli_die("out of memory");
    char *text = first_header_text(S[0].path);
    cJSON *hj = cJSON_Parse(text);
    cJSON *meta = hj ? cJSON_DetachItemFromObjectCaseSensitive(hj, "meta") : NULL;
    if (!meta || !cJSON_Compare(meta, out->meta, 1)) cli_die("%s: its header reads differently the second time", S[0].path);
    cJSON_AddItemToObject(hj, "meta", meta);
    keep_literals(hj, text);
    cJSON_DetachItemViaPointer(hj, meta);
    cJSON_Delete(hj);
    free(text);
    cJSON_Delete(out->meta);
    out->meta = meta;
    cJSON *info = cJSON_DetachItemFromObjectCaseSensitive(out->meta, "shard");
    cJSON *sums = cJSON_GetObjectItemCaseSensitive(info, "sum"), *p;
    cJSON_ArrayForEach(p, sums) {
        if (!cJSON_IsString(p)) continue;
        cJSON *up, *dst = meta_at(out->meta, p->valuestring, &up);
        if (!dst) continue;
        double total = 0;
        for (int i = 0; i < NS; i++) {
            cJSON *v = meta_at(S[i].h.meta, p->valuestring, NULL);
            total += v && cJSON_IsNumber(v) ? v->valuedouble : 0;
        }
        cJSON *num = cJSON_CreateNumber(total);
        char *name = strdup(dst->string);        /* the replacement takes the member's name */
        if (!num || !name || !cJSON_ReplaceItemInObjectCaseSensitive(up, name, num)) cli_die("out of memory");
        free(name);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "meta_absent"))) {
        cJSON_Delete(out->meta);
        out->meta = NULL;
    }
    cJSON_Delete(info);
}

/* Shard 0's tensors after its order tensor are the unsharded run's further
 * tensors; the other shards must have none. */
static void copy_trailing(ts_writer *w) {
    const ts_header *h;
    ts_block b;
    int rc;
    for (int i = 0; i < NS; i++) {
        shard_in *s = &S[i];
        while ((rc = ts_read_block(s->order, &b)) == 1) {}   /* rest of the order tensor */
        while (rc == 0 && (rc = ts_next_tensor(s->order, &h)) == 1) {
            if (i) cli_die("%s: tensor '%s' after the order tensor; only shard 0 carries further tensors", s->path, h->name);
            if (ts_begin_tensor(w, h)) cli_die("%s", ts_werror(w));
            while ((rc = ts_read_block(s->order, &b)) == 1)
                if (ts_write_rows(w, b.nrows, b.keys, b.data)) cli_die("%s", ts_werror(w));
            if (rc == 0 && ts_end_tensor(w)) cli_die("%s", ts_werror(w));
        }
        if (rc < 0) cli_die("%s", ts_error(s->order));
    }
}

/* ---- combine "topk": knn --index-shard ----
 * Every shard holds every query; row [0] of a query says which song the
 * query is (excluded), rows [1..C] are its best candidates within the
 * shard's part of the index, best first (stages/knn.c, run_index_shard).
 * The unsharded result is the first k candidates, in the engine's order
 * over the whole index (selection value descending, ties to the lower row),
 * that knn's filters accept (common/songfilter.c, the rule knn applies too):
 * not the query's song, one row per song (group), at most max_per_artist per
 * artist.  The merged
 * order is exact until a shard whose list is not complete runs out of
 * candidates; a query that needs more is refused. */

#define TOPK_FIELDS 5

static const double *topk_row(const shard_in *s) {
    return (const double *)((const char *)s->db.data + (size_t)s->di * s->h.row_bytes);
}

static int topk_better(const double *a, const double *b) {      /* (value, row) order */
    return a[1] > b[1] || (a[1] == b[1] && a[0] < b[0]);
}

static void topk_check_shape(int C) {
    for (int i = 0; i < NS; i++) {
        const ts_header *h = &S[i].h;
        if (h->dtype != TS_F64 || h->ndim != 2 || h->shape[0] != (int64_t)C + 1 || h->shape[1] != TOPK_FIELDS)
            cli_die("%s: tensor '%s' is not a knn --index-shard candidate list of %d (f64 [%d,%d]); "
                    "the shard output is damaged", S[i].path, h->name, C, C + 1, TOPK_FIELDS);
    }
}

/* One query: picks its results from the shards' current rows. */
static void topk_query(ts_writer *w, int k, int C, int *cur, song_filter *f, double *out) {
    const double *head = topk_row(&S[0]);
    int got = 0;
    sf_begin(f);
    if (head[1] >= 0) sf_exclude(f, (int64_t)head[1]);
    for (int i = 0; i < NS; i++) {
        const double *r = topk_row(&S[i]);
        if (!(r[2] >= 0 && r[2] <= C) || (r[3] != 0 && r[3] != 1))
            cli_die("%s: query %" PRId64 " claims %g candidates of %d; the shard output is damaged", S[i].path, S[i].pos, r[2], C);
        cur[i] = 0;
    }
    while (got < k) {
        int best = -1;
        const double *bc = NULL;
        for (int i = 0; i < NS; i++) {
            const double *r = topk_row(&S[i]);
            if (cur[i] < (int)r[2]) {
                const double *c = r + TOPK_FIELDS * (1 + cur[i]);
                if (!bc || topk_better(c, bc)) { best = i; bc = c; }
            } else if (!r[3]) {
                cli_die("query '%s' (query %" PRId64 "): its %d results need more than the %d candidates %s kept "
                        "(duplicates of a song or --max-per-artist rejected the others); "
                        "re-run every index shard with --candidates %d", S[i].db.keys[S[i].di], S[i].pos, k, C,
                        S[i].path, C > INT_MAX / 2 ? INT_MAX : 2 * C);
            }
        }
        if (best < 0) break;                    /* every list complete and used up */
        cur[best]++;
        int t = sf_take(f, (int64_t)bc[3], (int64_t)bc[4]);
        if (t < 0) cli_die("out of memory");
        if (!t) continue;                       /* the query's song, one taken, or the artist cap */
        out[2 * got] = bc[0];
        out[2 * got + 1] = bc[2];
        got++;
    }
    for (int i = got; i < k; i++) { out[2 * i] = -1; out[2 * i + 1] = NAN; }
    if (ts_write_row(w, S[0].db.keys[S[0].di], out)) cli_die("%s", ts_werror(w));
}

/* The merged header: the unsharded "neighbors" header, rows [k,2]. */
static int topk_output_header(ts_header *oh) {
    const cJSON *kj = S[0].h.meta ? cJSON_GetObjectItemCaseSensitive(S[0].h.meta, "k") : NULL;
    if (!cJSON_IsNumber(kj) || kj->valuedouble < 1 || kj->valuedouble > 1e6)
        cli_die("%s: no meta.k; not a knn --index-shard output", S[0].path);
    int64_t shape[2] = {(int64_t)kj->valuedouble, 2};
    if (ts_header_set_shape(oh, 2, shape)) cli_die("out of memory");
    return (int)shape[0];
}

static void merge_topk(ts_writer *w, int k) {
    const cJSON *info = shard_info(&S[0].h);
    int C = info_int(info, "candidates", S[0].path), mpa = info_int(info, "max_per_artist", S[0].path);
    topk_check_shape(C);
    int *cur = malloc(sizeof *cur * (size_t)NS);
    double *out = malloc(sizeof *out * 2 * (size_t)k);
    song_filter f;
    if (!cur || !out || sf_init(&f, mpa, k)) cli_die("out of memory");
    for (;;) {
        for (int i = 1; i < NS; i++) {
            if (S[i].done != S[0].done)
                cli_die("%s has %" PRId64 " queries but %s more or fewer; the shards do not belong together",
                        S[S[i].done ? i : 0].path, ts_reader_rows(S[S[i].done ? i : 0].data), S[S[i].done ? 0 : i].path);
            if (S[0].done) break;
            const double *a = topk_row(&S[0]), *b = topk_row(&S[i]);
            if (S[i].pos != S[0].pos || strcmp(S[i].db.keys[S[i].di], S[0].db.keys[S[0].di]) || a[0] != b[0] || a[1] != b[1])
                cli_die("%s and %s: query %" PRId64 " is '%s' in one and '%s' in the other; the shards do not belong together",
                        S[0].path, S[i].path, S[0].pos, S[0].db.keys[S[0].di], S[i].db.keys[S[i].di]);
        }
        if (S[0].done) break;
        topk_query(w, k, C, cur, &f, out);
        for (int i = 0; i < NS; i++) {
            S[i].di++;
            S[i].oi++;
            load_pos(&S[i]);
        }
    }
    free(cur); free(out);
    sf_free(&f);
}

/* ---- main ---- */

static void raise_file_limit(int files) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)files * 2 + 16) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void add_path(const char ***paths, int *n, int *cap, const char *p) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        const char **np = realloc(*paths, sizeof *np * (size_t)*cap);
        if (!np) cli_die("out of memory");
        *paths = np;
    }
    (*paths)[(*n)++] = p;
}

static void read_list(const char *list, const char ***paths, int *n, int *cap) {
    FILE *f = strcmp(list, "-") == 0 ? stdin : fopen(list, "r");
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    if (!f) cli_die("%s: cannot open: %s", list, strerror(errno));
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        char *p = strdup(line);
        if (!p) cli_die("out of memory");
        add_path(paths, n, cap, p);
    }
    free(line);
    if (f != stdin) fclose(f);
}

int main(int argc, char **argv) {
    cli_init("merge", argc, argv, HELP);
    static const struct option lo[] = {{"list", 1, 0, 'l'}, {0, 0, 0, 0}};
    const char *output = NULL, **paths = NULL;
    int n = 0, cap = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'l': read_list(optarg, &paths, &n, &cap); break;
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) {
        char *p = strdup(argv[optind]);
        if (!p) cli_die("out of memory");
        add_path(&paths, &n, &cap, p);
    }
    if (!n) cli_usage("no shard files given (merge SHARD.ts... or --list FILE)");
    if (n > SHARD_MAX) cli_usage("%d files: at most %d shards", n, SHARD_MAX);
    raise_file_limit(n);

    shard_in *in = calloc((size_t)n, sizeof *in);
    if (!in) cli_die("out of memory");
    for (int i = 0; i < n; i++) open_shard(&in[i], paths[i]);
    check_set(in, n);
    /* order by id: shard 0 first, so ties (sum) add in shard order */
    NS = n;
    if (!(S = calloc((size_t)n, sizeof *S))) cli_die("out of memory");
    for (int i = 0; i < n; i++) S[in[i].id] = in[i];
    free(in);
    for (int i = 0; i < NS; i++) open_order(&S[i]);

    const cJSON *comb = cJSON_GetObjectItemCaseSensitive(shard_info(&S[0].h), "combine");
    int sum = cJSON_IsString(comb) && strcmp(comb->valuestring, "sum") == 0;
    int topk = cJSON_IsString(comb) && strcmp(comb->valuestring, "topk") == 0, k = 0;
    if (cJSON_IsString(comb) && !sum && !topk && strcmp(comb->valuestring, "rows"))
        cli_die("%s: meta.shard.combine '%s' is not rows, sum or topk; a newer songpipe made it?", S[0].path, comb->valuestring);
    ts_header oh;
    output_header(&oh);
    if (topk) k = topk_output_header(&oh);
    ts_writer *w = cli_open_write(output);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    if (topk) merge_topk(w, k);
    else merge_rows(w, sum);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    copy_trailing(w);
    cli_close_write(w);
    ts_header_free(&oh);
    for (int i = 0; i < NS; i++) {
        ts_close_read(S[i].data);
        ts_close_read(S[i].order);
        ts_header_free(&S[i].h);
    }
    free(S);
    for (int i = 0; i < n; i++) free((char *)paths[i]);
    free(paths);
    return EXIT_OK;
}
