/* csv-clean.c - a messy CSV table (Spotify feature exports, spreadsheets)
 * to one keyed f32 tensor: chosen numeric columns, derived years, category
 * codes; a display catalogue and vocabularies on the side.
 *
 * One pass over the CSV (libcsv via common/csvin.c).  Kept rows go, already
 * parsed, to an unlinked temporary file (key + floats), because the tensor
 * header carries the row counts and the empty-cell fill values, which are
 * known only at the end; the tensor is then written from that file. */
#include "cli.h"
#include "outfile.h"
#include "csvin.h"
#include "csvnum.h"
#include "hash.h"
#include "shard.h"
#include "strmap.h"

#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
"Usage: csv-clean [options] [FILE.csv | -]\n"
"Turns a CSV table into one keyed f32 tensor (no FILE or - = stdin).\n"
"\n"
"  --key COL            key column (default: the first column)\n"
"  --cols A,B,C         numeric columns, output in this order (required);\n"
"                       year:DATECOL derives 'year' from the leading 4 digits\n"
"                       of a date (YYYY, YYYY-MM, YYYY-MM-DD)\n"
"  --category A,B       also output one integer code per categorical column\n"
"                       (0-based, first-seen order, stored as float)\n"
"  --vocab FILE         vocabularies of --category: TSV column<TAB>code<TAB>value\n"
"  --catalog FILE       display columns as TSV: the key, then --display, one\n"
"                       line per output row in tensor order\n"
"  --display A,B,C      catalogue columns (default: all but the key and the\n"
"                       plain numeric columns)\n"
"  --empty drop|mean|median|zero\n"
"                       empty numeric cell: drop the row (default) or fill it\n"
"                       with the column's mean/median over the kept rows, or 0\n"
"  --strict             stop at the first unparsable value or ragged row (exit 1)\n"
"  --name NAME          tensor name (default features)\n"
"  --delim C            field delimiter, one byte or 'tab' (default ,)\n"
"  --shard I/N          keep only the rows of shard I of N (0-based): those\n"
"                       whose key (as cleaned) hashes to I (FNV-1a 64 mod N);\n"
"                       all rows of one key meet in one shard, so duplicates\n"
"                       resolve as unsharded.  `merge` joins the N outputs into\n"
"                       exactly the unsharded output.  Needs a named FILE and\n"
"                       --empty drop; not with --catalog, --vocab, --category\n"
"                       (codes and fills depend on every row)\n"
"  -o FILE              output (default stdout); -o, --catalog and --vocab\n"
"                       files appear, all together, only when the run succeeds\n"
"  -h, --help           this help;  -V, --version\n"
"\n"
"Cells: a UTF-8 BOM, CRLF, quoted fields (commas, quotes, newlines), quoted\n"
"thousands (\"1,021\") and exponents (1.16E-06) are read; NA, N/A, NaN, nan and\n"
"blanks are empty.  Text cells (key, category, display) keep their bytes as\n"
"they are, invalid UTF-8 included; a Python list \"['A', 'B']\" becomes \"A, B\",\n"
"NA becomes empty, and tabs/CR/LF become spaces.  Rows whose key is empty\n"
"count as empty; of the rows that share a key the first kept one stays.\n"
"Unparsable values and rows with the wrong number of fields are dropped and\n"
"counted (--strict: FILE:LINE error; lines are physical, header = line 1).\n"
"\n"
"Memory: one row, plus the set of distinct keys and the category\n"
"vocabularies (they grow with the data); --empty median also keeps every\n"
"value of the numeric columns as floats (4 bytes per cell).  The kept rows\n"
"wait in a temporary file in $TMPDIR (default /tmp) until the tensor is\n"
"written, since its header holds the counts.\n";

enum { EMPTY_DROP, EMPTY_MEAN, EMPTY_MEDIAN, EMPTY_ZERO };
static const char *const empty_names[] = {"drop", "mean", "median", "zero"};

typedef struct {
    const char *input, *output, *key, *cols, *category, *catalog, *vocab, *display, *name;
    int empty, strict;
    unsigned char delim;
    shard_spec shard;
} opts;

typedef struct { char *name, *src; int col, year; } numcol;
typedef struct { char *name; int col; strmap map; int64_t n; } catcol;

typedef struct {            /* a growable text buffer */
    char *p;
    size_t len, cap;
} text;

typedef struct { uint64_t hash, off; } keyslot;
typedef struct {
    keyslot *slot;          /* hash 0 = empty */
    size_t cap, len;
    char *arena;            /* the keys, NUL-terminated */
    size_t alen, acap;
} keyset;

typedef struct {
    opts o;
    csvin *in;
    char **hdr;             /* header names */
    int nhdr, keycol;
    numcol *num;
    int nnum;
    catcol *cat;
    int ncat, ncols;        /* ncols = nnum + ncat */
    int *disp, ndisp;
    keyset keys;
    int64_t rows_in, rows_out, dropped_empty, dropped_unparsable, duplicate_keys, filled;
    int64_t warned, unshown;
    float *row;
    double *val;            /* this row's parsed values, before f32 */
    unsigned char *isempty;
    double *sum;            /* per numeric column, over kept non-empty cells */
    int64_t *cnt, *nempty;
    float *fill;            /* per numeric column: the value an empty cell gets (held here, not in
                               a local, so that a refusal in fill_values leaves nothing unreachable) */
    float **vals;           /* --empty median: every kept value */
    size_t *vcap;
    text key, cell;
    FILE *spool, *catf;
    cli_progress prog;
    shard_out *so;          /* --shard */
} job;

/* ---- options ---- */

static opts parse_opts(int argc, char **argv) {
    opts o = {.name = "features", .delim = ','};
    enum { O_KEY = 256, O_COLS, O_CAT, O_VOCAB, O_CATALOG, O_DISPLAY, O_EMPTY, O_STRICT, O_NAME, O_DELIM, O_SHARD };
    static const struct option lo[] = {
        {"key", 1, 0, O_KEY}, {"cols", 1, 0, O_COLS}, {"category", 1, 0, O_CAT},
        {"vocab", 1, 0, O_VOCAB}, {"catalog", 1, 0, O_CATALOG}, {"display", 1, 0, O_DISPLAY},
        {"empty", 1, 0, O_EMPTY}, {"strict", 0, 0, O_STRICT}, {"name", 1, 0, O_NAME},
        {"delim", 1, 0, O_DELIM}, {"shard", 1, 0, O_SHARD}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case O_KEY: o.key = optarg; break;
        case O_COLS: o.cols = optarg; break;
        case O_CAT: o.category = optarg; break;
        case O_VOCAB: o.vocab = optarg; break;
        case O_CATALOG: o.catalog = optarg; break;
        case O_DISPLAY: o.display = optarg; break;
        case O_STRICT: o.strict = 1; break;
        case O_NAME: o.name = optarg; break;
        case O_SHARD: {
            char err[200];
            if (shard_parse(optarg, &o.shard, err, sizeof err)) cli_usage("%s", err);
            break;
        }
        case O_EMPTY:
            o.empty = -1;
            for (int i = 0; i < 4; i++) if (strcmp(optarg, empty_names[i]) == 0) o.empty = i;
            if (o.empty < 0) cli_usage("--empty: '%s' is not one of drop, mean, median, zero", optarg);
            break;
        case O_DELIM:
            if (strcmp(optarg, "tab") == 0 || strcmp(optarg, "\\t") == 0) o.delim = '\t';
            else if (strlen(optarg) == 1 && !strchr("\"\r\n", optarg[0])) o.delim = (unsigned char)optarg[0];
            else cli_usage("--delim: '%s' is not one byte (or 'tab'); quotes and line ends cannot be delimiters", optarg);
            break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o.cols) cli_usage("--cols is required (the numeric columns to output)");
    if (o.vocab && !o.category) cli_usage("--vocab needs --category");
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input file at most ('%s' is extra)", argv[optind]);
    if (!*o.name) cli_usage("--name: empty");
    if (shard_active(&o.shard)) {
        if (!o.input || strcmp(o.input, "-") == 0)
            cli_usage("--shard needs a named input FILE (its size and checksum identify the input), not stdin");
        if (o.catalog || o.vocab || o.category)
            cli_usage("--shard cannot write --catalog/--vocab or code --category: they depend on every row; run those unsharded");
        if (o.empty != EMPTY_DROP)
            cli_usage("--shard takes --empty drop only (fill values and counts are computed over every row)");
    }
    return o;
}

/* "a,b,c" -> array of copies; empty items are a usage error */
static char **split_list(const char *opt, const char *s, int *n) {
    char *copy = strdup(s);
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    char **v = malloc((size_t)cap * sizeof *v);
    if (!copy || !v) cli_die("out of memory");
    *n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!(v[(*n)++] = strdup(t))) cli_die("out of memory");
    free(copy);
    if (*n != cap) cli_usage("%s: empty column name in '%s'", opt, s);
    return v;
}

/* ---- header ---- */

static const char *clean_text(const char *s, size_t len, text *out);

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) cli_die("out of memory");
    return p;
}

static void alloc_row(job *j) {
    j->row = xcalloc((size_t)j->ncols, sizeof *j->row);
    j->val = xcalloc((size_t)j->nnum, sizeof *j->val);
    j->isempty = xcalloc((size_t)j->nnum, 1);
    j->sum = xcalloc((size_t)j->nnum, sizeof *j->sum);
    j->cnt = xcalloc((size_t)j->nnum, sizeof *j->cnt);
    j->nempty = xcalloc((size_t)j->nnum, sizeof *j->nempty);
    j->vals = xcalloc((size_t)j->nnum, sizeof *j->vals);
    j->vcap = xcalloc((size_t)j->nnum, sizeof *j->vcap);
}

static _Noreturn void no_column(job *j, const char *opt, const char *name) {
    size_t len = 0;
    for (int i = 0; i < j->nhdr; i++) len += strlen(j->hdr[i]) + 2;
    char *all = calloc(1, len + 1);
    if (!all) cli_die("out of memory");
    for (int i = 0; i < j->nhdr; i++) {
        if (i) strcat(all, ", ");
        strcat(all, j->hdr[i]);
    }
    cli_die("%s: no column '%s' (named by %s); the columns are: %s",
            csvin_name(j->in), name, opt, all);
}

static int find_col(job *j, const char *opt, const char *name) {
    for (int i = 0; i < j->nhdr; i++)
        if (strcmp(j->hdr[i], name) == 0) return i;
    no_column(j, opt, name);
}

static void resolve_header(job *j, const csvin_row *r) {
    j->nhdr = r->nfields;
    if (!(j->hdr = malloc((size_t)j->nhdr * sizeof *j->hdr))) cli_die("out of memory");
    for (int i = 0; i < j->nhdr; i++)
        if (!(j->hdr[i] = strdup(r->field[i]))) cli_die("out of memory");
    j->keycol = j->o.key ? find_col(j, "--key", j->o.key) : 0;

    char **specs = split_list("--cols", j->o.cols, &j->nnum);
    if (!(j->num = calloc((size_t)j->nnum, sizeof *j->num))) cli_die("out of memory");
    for (int i = 0; i < j->nnum; i++) {
        numcol *c = &j->num[i];
        char *colon = strchr(specs[i], ':');
        c->name = specs[i];
        if (colon) {
            *colon = 0;
            if (strcmp(specs[i], "year") != 0)
                cli_usage("--cols: '%s:%s': only year:DATECOL derives a column", specs[i], colon + 1);
            c->year = 1;
            c->src = colon + 1;
        } else {
            c->src = specs[i];
        }
        c->col = find_col(j, "--cols", c->src);
    }
    free(specs);

    char **cats = j->o.category ? split_list("--category", j->o.category, &j->ncat) : NULL;
    if (j->ncat && !(j->cat = calloc((size_t)j->ncat, sizeof *j->cat))) cli_die("out of memory");
    for (int i = 0; i < j->ncat; i++) {
        j->cat[i].name = cats[i];
        j->cat[i].col = find_col(j, "--category", cats[i]);
        strmap_init(&j->cat[i].map);
    }
    free(cats);
    j->ncols = j->nnum + j->ncat;

    if (!(j->disp = malloc((size_t)(j->nhdr + 1) * sizeof *j->disp))) cli_die("out of memory");
    if (j->o.display) {
        char **d = split_list("--display", j->o.display, &j->ndisp);
        free(j->disp);
        if (!(j->disp = malloc((size_t)j->ndisp * sizeof *j->disp))) cli_die("out of memory");
        for (int i = 0; i < j->ndisp; i++) j->disp[i] = find_col(j, "--display", d[i]), free(d[i]);
        free(d);
    } else {
        for (int i = 0; i < j->nhdr; i++) {
            int plain = i == j->keycol;
            for (int k = 0; k < j->nnum; k++) plain |= !j->num[k].year && j->num[k].col == i;
            if (!plain) j->disp[j->ndisp++] = i;
        }
    }

    /* only the fields we use are copied out of libcsv */
    unsigned char *want = calloc((size_t)j->nhdr, 1);
    if (!want) cli_die("out of memory");
    want[j->keycol] = 1;
    for (int i = 0; i < j->nnum; i++) want[j->num[i].col] = 1;
    for (int i = 0; i < j->ncat; i++) want[j->cat[i].col] = 1;
    if (j->catf) for (int i = 0; i < j->ndisp; i++) want[j->disp[i]] = 1;
    if (csvin_want(j->in, want, j->nhdr)) cli_die("%s", csvin_error(j->in));
    free(want);
    alloc_row(j);
    if (j->catf) {
        fputs(clean_text(j->hdr[j->keycol], strlen(j->hdr[j->keycol]), &j->cell), j->catf);
        for (int i = 0; i < j->ndisp; i++) {
            putc('\t', j->catf);
            fputs(clean_text(j->hdr[j->disp[i]], strlen(j->hdr[j->disp[i]]), &j->cell), j->catf);
        }
        putc('\n', j->catf);
    }
}

/* ---- the set of keys seen: open addressing that keeps each slot's 64-bit
 * hash next to the key's offset, so a probe touches one cache line and a new
 * key is never compared byte by byte (strmap stores only key pointers). ---- */

static uint64_t key_hash(const char *s, size_t n) {     /* FNV-1a 64, never 0 */
    uint64_t h = fnv1a64(s, n);
    return (h ^ (h >> 32)) | 1;
}

static void keyset_grow(keyset *k) {
    size_t cap = k->cap ? k->cap * 2 : 1024;
    keyslot *t = calloc(cap, sizeof *t);
    if (!t) cli_die("out of memory (set of distinct keys)");
    for (size_t i = 0; i < k->cap; i++) {
        if (!k->slot[i].hash) continue;
        size_t j = k->slot[i].hash & (cap - 1);
        while (t[j].hash) j = (j + 1) & (cap - 1);
        t[j] = k->slot[i];
    }
    free(k->slot);
    k->slot = t;
    k->cap = cap;
}

/* 1 when key was already in the set, 0 after adding it */
static int keyset_add(keyset *k, const char *key, size_t n) {
    if (2 * (k->len + 1) > k->cap) keyset_grow(k);
    uint64_t h = key_hash(key, n);
    size_t i = h & (k->cap - 1);
    for (; k->slot[i].hash; i = (i + 1) & (k->cap - 1))
        if (k->slot[i].hash == h && strcmp(k->arena + k->slot[i].off, key) == 0) return 1;
    if (k->alen + n + 1 > k->acap) {
        size_t cap = k->acap ? k->acap * 2 : 1 << 16;
        while (cap < k->alen + n + 1) cap *= 2;
        char *a = realloc(k->arena, cap);
        if (!a) cli_die("out of memory (set of distinct keys)");
        k->arena = a;
        k->acap = cap;
    }
    memcpy(k->arena + k->alen, key, n + 1);
    k->slot[i].hash = h;
    k->slot[i].off = k->alen;
    k->alen += n + 1;
    k->len++;
    return 0;
}

/* ---- text cells ---- */

static void text_reserve(text *t, size_t n) {
    if (n <= t->cap) return;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < n) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) cli_die("out of memory");
    t->p = p;
    t->cap = cap;
}

/* A Python list literal of strings, "['A', \"B's\"]", as "A, B's".
 * 0 when s is not exactly such a list (then the caller keeps s). */
static int flatten_list(const char *s, size_t len, text *out) {
    const char *p = s, *e = s + len;
    if (len < 2 || *p != '[' || e[-1] != ']') return 0;
    text_reserve(out, len + 1);
    out->len = 0;
    for (p++; p < e && *p == ' '; p++) {}
    if (*p == ']') return p + 1 == e;
    for (;;) {
        char q = *p;
        if (q != '\'' && q != '"') return 0;
        for (p++; p < e && *p != q; p++) {
            if (*p == '\\' && p + 1 < e) p++;          /* repr escapes: \' \" \\ */
            out->p[out->len++] = *p;
        }
        if (p >= e) return 0;
        for (p++; p < e && *p == ' '; p++) {}
        if (p < e && *p == ']') return p + 1 == e;
        if (p >= e || *p != ',') return 0;
        out->p[out->len++] = ',';
        out->p[out->len++] = ' ';
        for (p++; p < e && *p == ' '; p++) {}
    }
}

/* a text cell as the catalogue, keys and vocabularies hold it (see --help) */
static const char *clean_text(const char *s, size_t len, text *out) {
    if (len == 2 && s[0] == 'N' && s[1] == 'A') len = 0;      /* readr's NA */
    if (!flatten_list(s, len, out)) {
        text_reserve(out, len + 1);
        memcpy(out->p, s, len);
        out->len = len;
    }
    for (size_t i = 0; i < out->len; i++)
        if (out->p[i] == '\t' || out->p[i] == '\r' || out->p[i] == '\n') out->p[i] = ' ';
    out->p[out->len] = 0;
    return out->p;
}

/* ---- numbers ---- */

/* leading 4 digits of YYYY, YYYY-MM, YYYY-MM-DD (any non-digit may follow) */
static int parse_year(const char *s, size_t len, double *v) {
    if (csvnum_is_missing(s, len)) return CSVNUM_EMPTY;
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    for (int i = 0; i < 4; i++)
        if (i >= (int)len || !isdigit((unsigned char)s[i])) return CSVNUM_BAD;
    if (len > 4 && isdigit((unsigned char)s[4])) return CSVNUM_BAD;
    *v = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    return CSVNUM_OK;
}

static void cell_preview(char *buf, size_t size, const char *s) {
    size_t n = strlen(s);
    if (n < size) { memcpy(buf, s, n + 1); return; }
    memcpy(buf, s, size - 4);
    strcpy(buf + size - 4, "...");
}

/* one dropped row: a message for the first few, a count for the rest */
static void report_drop(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_drop(job *j, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (j->o.strict) cli_die("%s", msg);
    if (j->warned++ < 5) cli_warn("%s; row dropped (--strict stops here)", msg);
    else j->unshown++;
}

/* 0 kept, 1 dropped; fills j->val / j->isempty */
static int parse_numbers(job *j, const csvin_row *r, int *any_empty) {
    *any_empty = 0;
    for (int i = 0; i < j->nnum; i++) {
        const numcol *c = &j->num[i];
        const char *s = r->field[c->col];
        size_t len = r->len[c->col];
        int rc = c->year ? parse_year(s, len, &j->val[i]) : csvnum_parse(s, len, &j->val[i]);
        j->isempty[i] = rc == CSVNUM_EMPTY;
        *any_empty |= rc == CSVNUM_EMPTY;
        if (rc == CSVNUM_OK || rc == CSVNUM_EMPTY) continue;
        char prev[80];
        cell_preview(prev, sizeof prev, s);
        report_drop(j, "%s:%ld: column '%s': cannot parse '%s'%s", csvin_name(j->in), r->line,
                    c->src, prev, rc == CSVNUM_RANGE ? " (outside the f32 range)" : "");
        j->dropped_unparsable++;
        return 1;
    }
    return 0;
}

/* ---- rows ---- */

static void keep_stats(job *j) {
    for (int i = 0; i < j->nnum; i++) {
        if (j->isempty[i]) { j->nempty[i]++; j->row[i] = NAN; continue; }
        j->row[i] = (float)j->val[i];
        j->sum[i] += j->val[i];
        j->cnt[i]++;
        if (j->o.empty != EMPTY_MEDIAN) continue;
        if ((size_t)j->cnt[i] > j->vcap[i]) {
            size_t cap = j->vcap[i] ? j->vcap[i] * 2 : 4096;
            float *v = realloc(j->vals[i], cap * sizeof *v);
            if (!v) cli_die("out of memory keeping the values of '%s' for --empty median", j->num[i].name);
            j->vals[i] = v;
            j->vcap[i] = cap;
        }
        j->vals[i][j->cnt[i] - 1] = j->row[i];
    }
}

static void code_categories(job *j, const csvin_row *r) {
    for (int i = 0; i < j->ncat; i++) {
        catcol *c = &j->cat[i];
        const char *v = clean_text(r->field[c->col], r->len[c->col], &j->cell);
        int64_t code = strmap_put(&c->map, v, c->n);
        if (code == -2) cli_die("out of memory (vocabulary of '%s')", c->name);
        if (code == -1) code = c->n++;
        j->row[j->nnum + i] = (float)code;
    }
}

static void write_catalog_line(job *j, const csvin_row *r) {
    fputs(j->key.p, j->catf);
    for (int i = 0; i < j->ndisp; i++) {
        int col = j->disp[i];
        putc('\t', j->catf);
        fputs(clean_text(r->field[col], r->len[col], &j->cell), j->catf);
    }
    putc('\n', j->catf);
}

static void spool_row(job *j) {
    uint16_t klen = (uint16_t)j->key.len;
    if (fwrite(&klen, sizeof klen, 1, j->spool) != 1 ||
        fwrite(j->key.p, 1, klen, j->spool) != klen ||
        fwrite(j->row, sizeof *j->row, (size_t)j->ncols, j->spool) != (size_t)j->ncols)
        cli_die("cannot write the temporary file of kept rows: %s", strerror(errno));
}

static int on_row(void *ctx, const csvin_row *r) {
    job *j = ctx;
    if (r->index == 0) { resolve_header(j, r); return 0; }
    if (j->so) {            /* --shard: the row's owner from its cleaned key */
        int has = j->keycol < r->nfields && r->field[j->keycol];
        clean_text(has ? r->field[j->keycol] : "", has ? r->len[j->keycol] : 0, &j->key);
        if (!shard_owns_key(&j->o.shard, j->key.p)) return 0;
    }
    j->rows_in++;
    if ((j->rows_in & 0xffff) == 0)
        cli_progress_update(&j->prog, "%" PRId64 " rows read, %" PRId64 " kept", j->rows_in, j->rows_out);
    if (r->nfields != j->nhdr) {
        report_drop(j, "%s:%ld: %d fields where the header has %d", csvin_name(j->in),
                    r->line, r->nfields, j->nhdr);
        j->dropped_unparsable++;
        return 0;
    }
    clean_text(r->field[j->keycol], r->len[j->keycol], &j->key);
    if (j->key.len >= TS_MAX_KEY) {
        report_drop(j, "%s:%ld: column '%s': a key of %zu bytes (at most %d)", csvin_name(j->in),
                    r->line, j->hdr[j->keycol], j->key.len, TS_MAX_KEY - 1);
        j->dropped_unparsable++;
        return 0;
    }
    int any_empty;
    if (parse_numbers(j, r, &any_empty)) return 0;
    if (j->key.len == 0 || (any_empty && j->o.empty == EMPTY_DROP)) {
        j->dropped_empty++;
        return 0;
    }
    if (keyset_add(&j->keys, j->key.p, j->key.len)) { j->duplicate_keys++; return 0; }
    keep_stats(j);
    code_categories(j, r);
    spool_row(j);
    if (j->so && shard_out_rows(j->so, r->index, 1)) cli_die("cannot spool the row positions: %s", strerror(errno));
    if (j->catf) write_catalog_line(j, r);
    j->rows_out++;
    return 0;
}

/* ---- the end: fills, tensor, vocabularies ---- */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* pandas Series.median: the middle value, or the mean of the two middle ones */
static double median(float *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    return n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fill_values(job *j, float *fill) {
    for (int i = 0; i < j->nnum; i++) {
        fill[i] = 0;
        if (j->o.empty == EMPTY_DROP || !j->nempty[i]) continue;
        j->filled += j->nempty[i];
        if (j->o.empty == EMPTY_ZERO) continue;
        if (!j->cnt[i])
            cli_die("%s: column '%s' has no values among the kept rows, so no %s to fill it "
                    "with; use --empty zero or --empty drop", csvin_name(j->in), j->num[i].src,
                    empty_names[j->o.empty]);
        fill[i] = (float)(j->o.empty == EMPTY_MEAN ? j->sum[i] / (double)j->cnt[i]
                                                    : median(j->vals[i], j->cnt[i]));
    }
}

static cJSON *make_meta(job *j, const float *fill) {
    cJSON *meta = cJSON_CreateObject(), *cc = cJSON_CreateObject();
    if (!meta || !cc) cli_die("out of memory");
    cJSON_AddStringToObject(meta, "source", csvin_name(j->in));
    cJSON_AddItemToObject(meta, "csv_clean", cc);
    cJSON_AddNumberToObject(cc, "rows_in", (double)j->rows_in);
    cJSON_AddNumberToObject(cc, "rows_out", (double)j->rows_out);
    cJSON_AddNumberToObject(cc, "dropped_empty", (double)j->dropped_empty);
    cJSON_AddNumberToObject(cc, "dropped_unparsable", (double)j->dropped_unparsable);
    cJSON_AddNumberToObject(cc, "duplicate_keys", (double)j->duplicate_keys);
    cJSON_AddNumberToObject(cc, "filled", (double)j->filled);
    cJSON_AddStringToObject(cc, "empty", empty_names[j->o.empty]);
    if (j->filled) {
        cJSON *fv = cJSON_AddObjectToObject(cc, "fill_values");
        for (int i = 0; fv && i < j->nnum; i++)
            if (j->nempty[i]) cJSON_AddNumberToObject(fv, j->num[i].name, fill[i]);
    }
    return meta;
}

static void write_tensor(job *j, ts_writer *w) {
    float *fill = j->fill = calloc((size_t)j->nnum + 1, sizeof *fill);
    if (!fill) cli_die("out of memory");
    fill_values(j, fill);
    const char **names = malloc((size_t)j->ncols * sizeof *names);
    if (!names) cli_die("out of memory");
    for (int i = 0; i < j->nnum; i++) names[i] = j->num[i].name;
    for (int i = 0; i < j->ncat; i++) names[j->nnum + i] = j->cat[i].name;
    ts_header h;
    if (ts_header_init(&h, j->o.name, TS_F32, j->ncols, names) ||
        !(h.key_name = strdup(j->hdr[j->keycol])))
        cli_die("out of memory");
    h.meta = make_meta(j, fill);
    if (j->so && shard_out_annotate(j->so, &h)) cli_die("out of memory");
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    char key[TS_MAX_KEY];
    rewind(j->spool);
    for (int64_t n = 0; n < j->rows_out; n++) {
        uint16_t klen;
        if (fread(&klen, sizeof klen, 1, j->spool) != 1 || klen >= TS_MAX_KEY ||
            fread(key, 1, klen, j->spool) != klen ||
            fread(j->row, sizeof *j->row, (size_t)j->ncols, j->spool) != (size_t)j->ncols)
            cli_die("cannot read back the temporary file of kept rows: %s",
                    ferror(j->spool) ? strerror(errno) : "it is short");
        key[klen] = 0;
        for (int i = 0; i < j->nnum; i++)
            if (isnan(j->row[i])) j->row[i] = fill[i];
        if (ts_write_row(w, key, j->row)) cli_die("%s", ts_werror(w));
    }
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    char err[512];
    if (j->so && shard_out_finish(j->so, w, err, sizeof err)) cli_die("%s", err);
    ts_header_free(&h);
    free(fill);
    j->fill = NULL;
    free(names);
}

static void write_vocab(job *j, FILE *f) {
    fputs("column\tcode\tvalue\n", f);
    for (int i = 0; i < j->ncat; i++) {
        strmap *m = &j->cat[i].map;
        const char **byc = calloc((size_t)j->cat[i].n + 1, sizeof *byc);
        if (!byc) cli_die("out of memory");
        for (size_t s = 0; s < m->cap; s++)
            if (m->keys[s]) byc[m->vals[s]] = m->keys[s];
        for (int64_t c = 0; c < j->cat[i].n; c++)
            fprintf(f, "%s\t%" PRId64 "\t%s\n", j->cat[i].name, c, byc[c]);
        free(byc);
    }
}

static FILE *open_spool(void) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/csv-clean-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w+");
    if (!f) cli_die("cannot create a temporary file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

/* --shard: ownership by key hash; the counts in meta.csv_clean add up */
static void open_shard(job *j) {
    static const char *const sums[] = {"rows_in", "rows_out", "dropped_empty", "dropped_unparsable",
                                       "duplicate_keys", "filled"};
    char err[600], path[64];
    if (!(j->so = shard_out_new(&j->o.shard, "rows whose cleaned key hashes to I (FNV-1a 64 mod N)")))
        cli_die("out of memory");
    if (shard_out_input(j->so, j->o.input, err, sizeof err)) cli_die("%s", err);
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "csv_clean.%s", sums[i]);
        if (shard_out_sum(j->so, path)) cli_die("out of memory");
    }
}

int main(int argc, char **argv) {
    cli_init("csv-clean", argc, argv, HELP);
    static job j;
    j.o = parse_opts(argc, argv);
    outfile_hold();         /* -o, --catalog and --vocab appear together or not at all */
    ts_writer *w = cli_open_write(j.o.output);
    char err[512];
    if (!(j.in = csvin_open(j.o.input, j.o.delim, err, sizeof err))) cli_die("%s", err);
    if (j.o.catalog) j.catf = outfile_open(j.o.catalog, 0);
    FILE *vocf = j.o.vocab ? outfile_open(j.o.vocab, 0) : NULL;
    j.spool = open_spool();
    if (shard_active(&j.o.shard)) open_shard(&j);
    cli_progress_init(&j.prog, 0);

    if (csvin_each(j.in, on_row, &j) < 0) cli_die("%s", csvin_error(j.in));
    cli_progress_done(&j.prog);
    if (!j.hdr) cli_die("%s: empty input: no header line", csvin_name(j.in));
    if (j.unshown)
        cli_warn("%s: %" PRId64 " more rows dropped for the reasons above (not shown)",
                 csvin_name(j.in), j.unshown);

    write_tensor(&j, w);
    if (vocf) write_vocab(&j, vocf);
    cli_close_write(w);
    if (j.catf) outfile_close(j.catf);
    if (vocf) outfile_close(vocf);
    outfile_commit();

    fprintf(stderr, "csv-clean: %s: %" PRId64 " rows in, %" PRId64 " out; dropped: %" PRId64
            " empty, %" PRId64 " unparsable, %" PRId64 " duplicate keys",
            csvin_name(j.in), j.rows_in, j.rows_out, j.dropped_empty, j.dropped_unparsable,
            j.duplicate_keys);
    if (j.filled) fprintf(stderr, "; filled: %" PRId64 " cells (%s)", j.filled, empty_names[j.o.empty]);
    fputc('\n', stderr);
    shard_out_free(j.so);
    return EXIT_OK;
}
