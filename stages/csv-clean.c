/* csv-clean.c - a messy CSV table (Spotify feature exports, spreadsheets)
 * to one keyed f32 tensor: chosen numeric columns, derived years, category
 * codes; a display catalogue and vocabularies on the side.
 *
 * One pass over the CSV (libcsv via common/csvin.c).  Kept rows go, already
 * parsed, to an unlinked temporary file (key + floats), because the tensor
 * header carries the row counts and the empty-cell fill values, which are
 * known only at the end; the tensor is then written from that file.
 *
 * Parts (--threads): a large regular file is cut at line starts into parts
 * parsed at once, each by its own libcsv parser.  What a row needs no other
 * row for (key cleaning, numbers, text cells: prepare_row) runs in the part's
 * thread; the rest (counts, duplicate keys, codes, fills, order: take_row)
 * runs on the main thread, part after part, so the output is that of one
 * pass.  A cut is used only when the parser of the part before it is between
 * two rows there (csvin_range): otherwise that parser goes on to the end and
 * the later parts are thrown away. */
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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
"  --threads N          parse a regular FILE of 2 MiB or more in up to N parts\n"
"                       at once (default: the processors, at most 8; not with\n"
"                       --shard); the output does not depend on it\n"
"  --verbose            say how the file was cut into parts, and which were used\n"
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
"written, since its header holds the counts; so do the parsed rows of the\n"
"parts after the first until their turn comes.\n";

enum { EMPTY_DROP, EMPTY_MEAN, EMPTY_MEDIAN, EMPTY_ZERO };
static const char *const empty_names[] = {"drop", "mean", "median", "zero"};

typedef struct {
    const char *input, *output, *key, *cols, *category, *catalog, *vocab, *display, *name;
    int empty, strict, threads, verbose;
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

/* one data row after the work that needs no other row (prepare_row) */
enum { ROW_OK, ROW_RAGGED, ROW_LONGKEY, ROW_BAD };
typedef struct {
    int64_t line;
    int kind;
    int nfields;            /* ROW_RAGGED */
    int badcol, badrc;      /* ROW_BAD: index into num, CSVNUM_ code */
    char preview[80];       /* ROW_BAD: the cell */
    int any_empty;
    double *val;            /* parsed values, before f32 */
    unsigned char *isempty;
    uint64_t hash;          /* of the key */
    text key;               /* cleaned */
    text extra;             /* kept-row candidates: category cells, then display cells, cleaned, NUL after each */
    text cell;
} prepped;

#define ROW_RING 8              /* rows prepared ahead of take_row on the main thread */
#define PART_MAX 8
#define PART_MIN (1 << 20)      /* bytes: a part smaller than this is not worth a thread */
#define SPILL_CHUNK (2 << 20)
#define SPILL_CHUNKS 16         /* a part's parsed rows stay in memory up to 32 MiB, */
                                /* then go to its temporary file, 32 MiB at a time */

struct job;
typedef struct {            /* a part after the first: its own parser and thread */
    struct job *j;
    long long start, stop;  /* stop -1: the end */
    csvin *in;
    int fd;                 /* its parsed rows for the main thread: the older in this file, */
    char *chunk[SPILL_CHUNKS];  /* the newer in memory */
    int nchunk;
    size_t clen;            /* bytes in the last chunk */
    long long file_bytes;
    char *rbuf;             /* reading back: the file, then the chunks */
    size_t rlen, rpos, rcpos;
    int rchunk;
    prepped prep;
    pthread_t thread;
    int failed;             /* could not run or write: err */
    int parse_failed;       /* csvin's error in err, after the rows spilled */
    int ended_at_stop;
    char err[600];
    atomic_int quit;
    long rows;              /* rows it parsed */
    int64_t spilled;
} part;

typedef struct job {
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
    prepped ring[ROW_RING]; /* rows prepared, waiting for take_row (see queue_row) */
    long ring_index[ROW_RING];
    int ring_head, ring_len;
    part parts[PART_MAX];
    long long cut[PART_MAX];    /* where the parts after the first start */
    int ncuts, nparts, nparts_used;
    unsigned char *want;    /* the fields copied out of libcsv */
    int64_t rows_in, rows_out, dropped_empty, dropped_unparsable, duplicate_keys, filled;
    int64_t warned, unshown;
    float *row;
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
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    opts o = {.name = "features", .delim = ',', .threads = ncpu < 1 ? 1 : ncpu > PART_MAX ? PART_MAX : (int)ncpu};
    enum { O_KEY = 256, O_COLS, O_CAT, O_VOCAB, O_CATALOG, O_DISPLAY, O_EMPTY, O_STRICT, O_NAME, O_DELIM, O_SHARD, O_THREADS, O_VERBOSE };
    static const struct option lo[] = {
        {"key", 1, 0, O_KEY}, {"cols", 1, 0, O_COLS}, {"category", 1, 0, O_CAT},
        {"vocab", 1, 0, O_VOCAB}, {"catalog", 1, 0, O_CATALOG}, {"display", 1, 0, O_DISPLAY},
        {"empty", 1, 0, O_EMPTY}, {"strict", 0, 0, O_STRICT}, {"name", 1, 0, O_NAME},
        {"delim", 1, 0, O_DELIM}, {"shard", 1, 0, O_SHARD}, {"threads", 1, 0, O_THREADS},
        {"verbose", 0, 0, O_VERBOSE}, {0, 0, 0, 0}};
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
        case O_VERBOSE: o.verbose = 1; break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, PART_MAX); break;
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

static void alloc_prepped(const job *j, prepped *p) {
    p->val = xcalloc((size_t)j->nnum, sizeof *p->val);
    p->isempty = xcalloc((size_t)j->nnum, 1);
}

static void alloc_row(job *j) {
    j->row = xcalloc((size_t)j->ncols, sizeof *j->row);
    for (int i = 0; i < ROW_RING; i++) alloc_prepped(j, &j->ring[i]);
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
    unsigned char *want = j->want = calloc((size_t)j->nhdr, 1);
    if (!want) cli_die("out of memory");
    want[j->keycol] = 1;
    for (int i = 0; i < j->nnum; i++) want[j->num[i].col] = 1;
    for (int i = 0; i < j->ncat; i++) want[j->cat[i].col] = 1;
    if (j->catf) for (int i = 0; i < j->ndisp; i++) want[j->disp[i]] = 1;
    if (csvin_want(j->in, want, j->nhdr)) cli_die("%s", csvin_error(j->in));
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

/* Zeroed memory for the large, short-lived tables, in 2 MiB pages where the
 * kernel allows (madvise: transparent huge pages): a fault per 4 KiB page
 * cost as much as the keyset lookups themselves (12,000 faults for the 80 MB
 * benchmark file, 20,000 with the parts' rows held in memory).  NULL when
 * out of memory. */
static void *big_zalloc(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (n >= (2u << 20)) madvise(p, n, MADV_HUGEPAGE);     /* a hint: refused is fine */
    return p;
}

static void keyset_grow(keyset *k) {
    size_t cap = k->cap ? k->cap * 2 : 1024;
    keyslot *t = big_zalloc(cap * sizeof *t);
    if (!t) cli_die("out of memory (set of distinct keys)");
    for (size_t i = 0; i < k->cap; i++) {
        if (!k->slot[i].hash) continue;
        size_t j = k->slot[i].hash & (cap - 1);
        while (t[j].hash) j = (j + 1) & (cap - 1);
        t[j] = k->slot[i];
    }
    if (k->slot) munmap(k->slot, k->cap * sizeof *k->slot);
    k->slot = t;
    k->cap = cap;
}

/* room for n keys without growing (a growth moves every slot) */
static void keyset_reserve(keyset *k, size_t n) {
    while (2 * (n + 1) > k->cap) keyset_grow(k);
}

/* 1 when key (hash h = key_hash) was already in the set, 0 after adding it */
static int keyset_add(keyset *k, const char *key, size_t n, uint64_t h) {
    if (2 * (k->len + 1) > k->cap) keyset_grow(k);
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

/* ---- rows: prepare_row (any thread) then take_row (the main thread, in
 * row order) ---- */

/* the text cells a kept row needs: category cells, then display cells */
static void prepare_text(const job *j, prepped *p, const csvin_row *r) {
    p->extra.len = 0;
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? (j->catf ? j->ndisp : 0) : j->ncat;
        for (int i = 0; i < n; i++) {
            int col = pass ? j->disp[i] : j->cat[i].col;
            clean_text(r->field[col], r->len[col], &p->cell);
            text_reserve(&p->extra, p->extra.len + p->cell.len + 1);
            memcpy(p->extra.p + p->extra.len, p->cell.p, p->cell.len + 1);
            p->extra.len += p->cell.len + 1;
        }
    }
}

static void prepare_row(const job *j, prepped *p, const csvin_row *r) {
    p->line = r->line;
    if (r->nfields != j->nhdr) {
        p->kind = ROW_RAGGED;
        p->nfields = r->nfields;
        return;
    }
    clean_text(r->field[j->keycol], r->len[j->keycol], &p->key);
    if (p->key.len >= TS_MAX_KEY) { p->kind = ROW_LONGKEY; return; }
    p->any_empty = 0;
    for (int i = 0; i < j->nnum; i++) {
        const numcol *c = &j->num[i];
        const char *s = r->field[c->col];
        size_t len = r->len[c->col];
        int rc = c->year ? parse_year(s, len, &p->val[i]) : csvnum_parse(s, len, &p->val[i]);
        p->isempty[i] = rc == CSVNUM_EMPTY;
        p->any_empty |= rc == CSVNUM_EMPTY;
        if (rc == CSVNUM_OK || rc == CSVNUM_EMPTY) continue;
        p->kind = ROW_BAD;
        p->badcol = i;
        p->badrc = rc;
        cell_preview(p->preview, sizeof p->preview, s);
        return;
    }
    p->kind = ROW_OK;
    p->hash = key_hash(p->key.p, p->key.len);
    p->extra.len = 0;
    if (p->key.len && !(p->any_empty && j->o.empty == EMPTY_DROP)) prepare_text(j, p, r);
}

static void keep_stats(job *j, const prepped *p) {
    for (int i = 0; i < j->nnum; i++) {
        if (p->isempty[i]) { j->nempty[i]++; j->row[i] = NAN; continue; }
        j->row[i] = (float)p->val[i];
        j->sum[i] += p->val[i];
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

/* codes from the category cells at the start of p->extra; returns the rest */
static const char *code_categories(job *j, const prepped *p) {
    const char *v = p->extra.p;
    for (int i = 0; i < j->ncat; i++, v += strlen(v) + 1) {
        catcol *c = &j->cat[i];
        int64_t code = strmap_put(&c->map, v, c->n);
        if (code == -2) cli_die("out of memory (vocabulary of '%s')", c->name);
        if (code == -1) code = c->n++;
        j->row[j->nnum + i] = (float)code;
    }
    return v;
}

static void write_catalog_line(job *j, const prepped *p, const char *v) {
    fputs(p->key.p, j->catf);
    for (int i = 0; i < j->ndisp; i++, v += strlen(v) + 1) {
        putc('\t', j->catf);
        fputs(v, j->catf);
    }
    putc('\n', j->catf);
}

static void spool_row(job *j, const prepped *p) {
    uint16_t klen = (uint16_t)p->key.len;
    if (fwrite(&klen, sizeof klen, 1, j->spool) != 1 ||
        fwrite(p->key.p, 1, klen, j->spool) != klen ||
        fwrite(j->row, sizeof *j->row, (size_t)j->ncols, j->spool) != (size_t)j->ncols)
        cli_die("cannot write the temporary file of kept rows: %s", strerror(errno));
}

static void take_row(job *j, const prepped *p, long index) {
    j->rows_in++;
    if ((j->rows_in & 0xffff) == 0)
        cli_progress_update(&j->prog, "%" PRId64 " rows read, %" PRId64 " kept", j->rows_in, j->rows_out);
    const char *name = csvin_name(j->in);
    switch (p->kind) {
    case ROW_RAGGED:
        report_drop(j, "%s:%" PRId64 ": %d fields where the header has %d", name, p->line, p->nfields, j->nhdr);
        j->dropped_unparsable++;
        return;
    case ROW_LONGKEY:
        report_drop(j, "%s:%" PRId64 ": column '%s': a key of %zu bytes (at most %d)", name,
                    p->line, j->hdr[j->keycol], p->key.len, TS_MAX_KEY - 1);
        j->dropped_unparsable++;
        return;
    case ROW_BAD:
        report_drop(j, "%s:%" PRId64 ": column '%s': cannot parse '%s'%s", name, p->line,
                    j->num[p->badcol].src, p->preview, p->badrc == CSVNUM_RANGE ? " (outside the f32 range)" : "");
        j->dropped_unparsable++;
        return;
    }
    if (p->key.len == 0 || (p->any_empty && j->o.empty == EMPTY_DROP)) {
        j->dropped_empty++;
        return;
    }
    if (keyset_add(&j->keys, p->key.p, p->key.len, p->hash)) { j->duplicate_keys++; return; }
    keep_stats(j, p);
    const char *disp = code_categories(j, p);
    spool_row(j, p);
    if (j->so && shard_out_rows(j->so, index, 1)) cli_die("cannot spool the row positions: %s", strerror(errno));
    if (j->catf) write_catalog_line(j, p, disp);
    j->rows_out++;
}

/* The main thread prepares a row into the ring, asks for the cache line of
 * its key's slot, and takes the row ROW_RING - 1 rows later: the set of keys
 * is far larger than the caches, and a lookup that waits for memory cost
 * more than all the rest of take_row. */
static prepped *ring_slot(job *j) {
    return &j->ring[(j->ring_head + j->ring_len) % ROW_RING];
}

static void ring_take(job *j) {
    take_row(j, &j->ring[j->ring_head], j->ring_index[j->ring_head]);
    j->ring_head = (j->ring_head + 1) % ROW_RING;
    j->ring_len--;
}

static void queue_row(job *j, long index) {
    prepped *p = ring_slot(j);
    j->ring_index[(j->ring_head + j->ring_len) % ROW_RING] = index;
    if (p->kind == ROW_OK && j->keys.cap) __builtin_prefetch(&j->keys.slot[p->hash & (j->keys.cap - 1)]);
    if (++j->ring_len == ROW_RING) ring_take(j);
}

static void drain_rows(job *j) {
    while (j->ring_len) ring_take(j);
}

static void start_parts(job *j);

static int on_row(void *ctx, const csvin_row *r) {
    job *j = ctx;
    if (r->index == 0) {
        resolve_header(j, r);
        if (j->ncuts) start_parts(j);
        return 0;
    }
    if (j->so) {            /* --shard: the row's owner from its cleaned key */
        int has = j->keycol < r->nfields && r->field[j->keycol];
        clean_text(has ? r->field[j->keycol] : "", has ? r->len[j->keycol] : 0, &j->key);
        if (!shard_owns_key(&j->o.shard, j->key.p)) return 0;
    }
    /* the later parts are of no use once this parser went past its stop */
    if (j->nparts && (r->index & 0xfff) == 0 && csvin_past_stop(j->in))
        for (int k = 0; k < j->nparts; k++) atomic_store(&j->parts[k].quit, 1);
    prepare_row(j, ring_slot(j), r);
    queue_row(j, r->index);
    return 0;
}

/* ---- parts: cut points, threads, spill files ---- */

static int open_spill(void);

/* The first line start at or after `at` whose line before it has a byte
 * other than blanks and CR (so libcsv ended a row on that line when it is
 * between rows there: see csvin_range); -1 when none within 1 MiB. */
static long long cut_after(int fd, long long at, long long size) {
    char buf[1 << 16];
    long long scanned = 0, line_start = -1;     /* -1: the line's start is before what we read */
    int blank = 1;
    while (at < size && scanned < PART_MIN) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)at);
        if (n <= 0) return -1;
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (ch == '\n') {
                if (line_start >= 0 && !blank && at + i + 1 < size) return at + i + 1;
                line_start = at + i + 1;
                blank = 1;
            } else if (ch != ' ' && ch != '\t' && ch != '\r') {
                blank = 0;
            }
        }
        at += n;
        scanned += n;
    }
    return -1;
}

/* lines before byte end: the first line of a part starting there */
static long line_at(int fd, long long end, char *err, size_t errlen) {
    char buf[1 << 16];
    long lines = 1;
    for (long long at = 0; at < end;) {
        size_t want = end - at < (long long)sizeof buf ? (size_t)(end - at) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)at);
        if (n <= 0) { snprintf(err, errlen, "read error: %s", n < 0 ? strerror(errno) : "the file is short"); return -1; }
        for (const char *q = buf, *e = buf + n; (q = memchr(q, '\n', (size_t)(e - q))); q++) lines++;
        at += n;
    }
    return lines;
}

/* The spill files are written and read with plain write/read, not stdio:
 * a cli_die on the main thread (exit flushes every FILE) must not meet a
 * part thread inside fwrite. */
static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { if (!k) errno = ENOSPC; return -1; }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void spill_put(part *pt, const void *p, size_t n) {
    const char *in = p;
    while (n && !pt->failed) {
        if (!pt->nchunk || pt->clen == SPILL_CHUNK) {
            if (pt->nchunk == SPILL_CHUNKS) {       /* memory full: all of it to the file */
                for (int i = 0; i < SPILL_CHUNKS && !pt->failed; i++)
                    if (write_all(pt->fd, pt->chunk[i], SPILL_CHUNK)) {
                        snprintf(pt->err, sizeof pt->err, "cannot write the temporary file of parsed rows: %s", strerror(errno));
                        pt->failed = 1;
                    }
                pt->file_bytes += (long long)SPILL_CHUNKS * SPILL_CHUNK;
                pt->nchunk = 0;
            }
            if (!pt->chunk[pt->nchunk] && !(pt->chunk[pt->nchunk] = big_zalloc(SPILL_CHUNK))) {
                snprintf(pt->err, sizeof pt->err, "out of memory");
                pt->failed = 1;
                return;
            }
            pt->nchunk++;
            pt->clen = 0;
        }
        size_t m = SPILL_CHUNK - pt->clen < n ? SPILL_CHUNK - pt->clen : n;
        memcpy(pt->chunk[pt->nchunk - 1] + pt->clen, in, m);
        pt->clen += m;
        in += m;
        n -= m;
    }
}

/* the spill record of one row: line, kind, then what take_row reads */
static void spill_row(part *pt, int nnum, const prepped *p) {
    uint8_t kind = (uint8_t)p->kind;
    uint32_t n;
    spill_put(pt, &p->line, sizeof p->line);
    spill_put(pt, &kind, 1);
    switch (p->kind) {
    case ROW_RAGGED: spill_put(pt, &p->nfields, sizeof p->nfields); return;
    case ROW_LONGKEY: spill_put(pt, &p->key.len, sizeof p->key.len); return;
    case ROW_BAD:
        spill_put(pt, &p->badcol, sizeof p->badcol);
        spill_put(pt, &p->badrc, sizeof p->badrc);
        spill_put(pt, p->preview, sizeof p->preview);
        return;
    }
    n = (uint32_t)p->key.len;
    spill_put(pt, &n, sizeof n);
    spill_put(pt, p->key.p, n);
    spill_put(pt, &p->hash, sizeof p->hash);
    spill_put(pt, &p->any_empty, sizeof p->any_empty);
    spill_put(pt, p->val, (size_t)nnum * sizeof *p->val);
    spill_put(pt, p->isempty, (size_t)nnum);
    n = (uint32_t)p->extra.len;
    spill_put(pt, &n, sizeof n);
    spill_put(pt, p->extra.p, n);
}

/* reading back, on the main thread: n bytes at the read position */
static void spill_get(part *pt, void *p, size_t n) {
    char *out = p;
    while (n) {
        const char *from;
        size_t avail;
        if (pt->rpos < pt->rlen || pt->file_bytes > 0) {
            if (pt->rpos == pt->rlen) {
                ssize_t k = read(pt->fd, pt->rbuf, SPILL_CHUNK);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0)
                    cli_die("cannot read back the temporary file of parsed rows: %s", k < 0 ? strerror(errno) : "it is short");
                pt->rpos = 0;
                pt->rlen = (size_t)k;
                pt->file_bytes -= k;
            }
            from = pt->rbuf + pt->rpos;
            avail = pt->rlen - pt->rpos;
        } else {
            size_t clen = pt->rchunk == pt->nchunk - 1 ? pt->clen : SPILL_CHUNK;
            if (pt->rchunk < pt->nchunk && pt->rcpos == clen) pt->rchunk++, pt->rcpos = 0;
            if (pt->rchunk >= pt->nchunk) cli_die("cannot read back the parsed rows: they are short");
            clen = pt->rchunk == pt->nchunk - 1 ? pt->clen : SPILL_CHUNK;
            from = pt->chunk[pt->rchunk] + pt->rcpos;
            avail = clen - pt->rcpos;
        }
        size_t m = avail < n ? avail : n;
        memcpy(out, from, m);
        if (pt->rpos < pt->rlen) pt->rpos += m;
        else pt->rcpos += m;
        out += m;
        n -= m;
    }
}

static void spill_get_text(part *pt, text *t, size_t n) {
    text_reserve(t, n + 1);
    spill_get(pt, t->p, n);
    t->p[n] = 0;
    t->len = n;
}

static void unspill_row(const job *j, part *pt, prepped *p) {
    uint8_t kind;
    uint32_t n;
    spill_get(pt, &p->line, sizeof p->line);
    spill_get(pt, &kind, 1);
    p->kind = kind;
    switch (p->kind) {
    case ROW_RAGGED: spill_get(pt, &p->nfields, sizeof p->nfields); return;
    case ROW_LONGKEY: spill_get(pt, &p->key.len, sizeof p->key.len); return;
    case ROW_BAD:
        spill_get(pt, &p->badcol, sizeof p->badcol);
        spill_get(pt, &p->badrc, sizeof p->badrc);
        spill_get(pt, p->preview, sizeof p->preview);
        if (p->badcol < 0 || p->badcol >= j->nnum) cli_die("the temporary file of parsed rows is damaged");
        return;
    case ROW_OK: break;
    default: cli_die("the temporary file of parsed rows is damaged");
    }
    spill_get(pt, &n, sizeof n);
    if (n >= TS_MAX_KEY) cli_die("the temporary file of parsed rows is damaged");
    spill_get_text(pt, &p->key, n);
    spill_get(pt, &p->hash, sizeof p->hash);
    spill_get(pt, &p->any_empty, sizeof p->any_empty);
    spill_get(pt, p->val, (size_t)j->nnum * sizeof *p->val);
    spill_get(pt, p->isempty, (size_t)j->nnum);
    spill_get(pt, &n, sizeof n);
    spill_get_text(pt, &p->extra, n);
}

static int part_row(void *ctx, const csvin_row *r) {
    part *pt = ctx;
    if (atomic_load_explicit(&pt->quit, memory_order_relaxed) || pt->failed) return 1;
    prepare_row(pt->j, &pt->prep, r);
    spill_row(pt, pt->j->nnum, &pt->prep);
    pt->spilled++;
    return 0;
}

static void *part_main(void *arg) {
    part *pt = arg;
    job *j = pt->j;
    char err[512];
    struct stat a, b;
    long line = -1;
    if (!(pt->in = csvin_open(j->o.input, j->o.delim, err, sizeof err))) {
        snprintf(pt->err, sizeof pt->err, "%s", err);
    } else if (fstat(csvin_fd(pt->in), &a) || fstat(csvin_fd(j->in), &b) || a.st_dev != b.st_dev ||
               a.st_ino != b.st_ino || a.st_size != b.st_size) {
        snprintf(pt->err, sizeof pt->err, "%s: the file changed while it was read", j->o.input);
    } else if ((line = line_at(csvin_fd(pt->in), pt->start, err, sizeof err)) < 0) {
        snprintf(pt->err, sizeof pt->err, "%s: %s", j->o.input, err);
    } else if (csvin_range(pt->in, pt->start, pt->stop, line) || csvin_want(pt->in, j->want, j->nhdr)) {
        snprintf(pt->err, sizeof pt->err, "%s", csvin_error(pt->in));
    } else {
        if (csvin_each(pt->in, part_row, pt) < 0 && !pt->failed) {
            snprintf(pt->err, sizeof pt->err, "%s", csvin_error(pt->in));
            pt->parse_failed = 1;       /* reported after the rows before it */
        }
        pt->rows = csvin_rows(pt->in);
        pt->ended_at_stop = csvin_ended_at_stop(pt->in);
        return NULL;
    }
    pt->failed = 1;
    return NULL;
}

/* Before the parse: where a large regular file is cut (the parts start at
 * the header row, in on_row) */
static void plan_parts(job *j) {
    struct stat st;
    int fd = csvin_fd(j->in);
    if (j->o.threads < 2 || shard_active(&j->o.shard) || !j->o.input || strcmp(j->o.input, "-") == 0 ||
        fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 2 * PART_MIN)
        return;
    long long size = st.st_size, last = 0;
    int n = size / PART_MIN < j->o.threads ? (int)(size / PART_MIN) : j->o.threads;
    for (int k = 1; k < n; k++) {
        long long at = size * k / n;
        if (at < last + PART_MIN) continue;
        long long c = cut_after(fd, at, size);
        if (c < 0 || c < last + PART_MIN || size - c < PART_MIN) continue;
        j->cut[j->ncuts++] = last = c;
    }
    if (j->ncuts && csvin_range(j->in, 0, j->cut[0], 1)) cli_die("%s", csvin_error(j->in));
    if (j->o.verbose) cli_warn("%s: %d part%s", csvin_name(j->in), j->ncuts + 1, j->ncuts ? "s" : "");
}

static void start_parts(job *j) {
    /* signals are handled on the main thread (as csvin's reader does) */
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
    sigset_t all, old;
    sigfillset(&all);
    for (size_t k = 0; k < sizeof faults / sizeof *faults; k++) sigdelset(&all, faults[k]);
    for (int k = 0; k < j->ncuts; k++) {
        part *pt = &j->parts[k];
        pt->j = j;
        pt->start = j->cut[k];
        pt->stop = k + 1 < j->ncuts ? j->cut[k + 1] : -1;
        pt->fd = open_spill();
        alloc_prepped(j, &pt->prep);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int e = pthread_create(&pt->thread, NULL, part_main, pt);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e) cli_die("cannot start a thread for part %d of %s: %s", k + 2, csvin_name(j->in), strerror(e));
        j->nparts = k + 1;
    }
}

/* After the first part: the rows of the later ones, in order, while each
 * one's start was a row boundary */
static void finish_parts(job *j) {
    int go = csvin_ended_at_stop(j->in);
    long index = csvin_rows(j->in);
    for (int k = 0; k < j->nparts; k++) {
        part *pt = &j->parts[k];
        if (!go) atomic_store(&pt->quit, 1);
        pthread_join(pt->thread, NULL);
        j->nparts_used += go;
        if (j->o.verbose)
            cli_warn("%s: part %d of %d starts at byte %lld%s", csvin_name(j->in), k + 2, j->nparts + 1, pt->start,
                     go ? ": used" : ": not used (no row ends there; the part before read on)");
        if (go && pt->failed) drain_rows(j), cli_die("%s", pt->err);
        if (go) {
            if (lseek(pt->fd, 0, SEEK_SET) < 0) cli_die("temporary file of parsed rows: %s", strerror(errno));
            if (pt->file_bytes && !(pt->rbuf = malloc(SPILL_CHUNK))) cli_die("out of memory");
            keyset_reserve(&j->keys, j->keys.len + (size_t)pt->spilled);
            for (int64_t i = 0; i < pt->spilled; i++) {
                unspill_row(j, pt, ring_slot(j));
                queue_row(j, index + i);
            }
            if (pt->parse_failed) drain_rows(j), cli_die("%s", pt->err);
            go = pt->ended_at_stop;
            index += pt->rows;
        }
        csvin_close(pt->in);
        pt->in = NULL;
        close(pt->fd);
        pt->fd = -1;
        for (int i = 0; i < SPILL_CHUNKS; i++)
            if (pt->chunk[i]) munmap(pt->chunk[i], SPILL_CHUNK), pt->chunk[i] = NULL;
        free(pt->rbuf);
        pt->rbuf = NULL;
    }
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

static int open_spill(void) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/csv-clean-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) cli_die("cannot create a temporary file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    return fd;
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
    if (j.o.threads > 1) ts_writer_set_async(w);   /* blocks compressed while the next fills */
    char err[512];
    if (!(j.in = csvin_open(j.o.input, j.o.delim, err, sizeof err))) cli_die("%s", err);
    if (j.o.catalog) j.catf = outfile_open(j.o.catalog, 0);
    FILE *vocf = j.o.vocab ? outfile_open(j.o.vocab, 0) : NULL;
    j.spool = open_spool();
    if (shard_active(&j.o.shard)) open_shard(&j);
    cli_progress_init(&j.prog, 0);
    plan_parts(&j);

    if (csvin_each(j.in, on_row, &j) < 0) drain_rows(&j), cli_die("%s", csvin_error(j.in));
    finish_parts(&j);
    drain_rows(&j);
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
