/* knn.c - songs like a song, a playlist, an artist, or every row of a query
 * stream: exact nearest neighbours over an index table (common/knn.c), names
 * resolved through the catalogue (common/catalog.c), results filtered
 * (query songs, one line per song, --max-per-artist) and written as a text
 * table, TSV lines or a tensor stream. */
#include "catalog.h"
#include "cli.h"
#include "outfile.h"
#include "knn.h"
#include "knn_stage.h"
#include "knncache.h"
#include "normstats.h"
#include "shard.h"
#include "songsearch.h"
#include "text.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
"Usage: knn --index TABLE.ts [--catalog CAT.tsv] [options] QUERY\n"
"Exact nearest neighbours of songs in an index table (keys = track ids).\n"
"\n"
"QUERY (exactly one):\n"
"  --song TEXT          a key (exact), or a title search in the catalogue:\n"
"                       case- and accent-insensitive substring, punctuation\n"
"                       and spaces ignored; an exact title beats substrings;\n"
"                       'TITLE - ARTIST' or 'TITLE by ARTIST' narrows by artist.\n"
"                       Several songs match: they are listed on stderr, exit 1\n"
"  --playlist 'A;B;C'   songs separated by ';', each resolved as --song\n"
"  --playlist-file FILE one song per line (blank lines and # comments skipped)\n"
"                       Results: the nearest song to each member plus the\n"
"                       neighbours of the members' mean vector, without\n"
"                       duplicates, all scored against the mean vector\n"
"  --artist NAME        the songs nearest to an artist's row of --artists\n"
"  --artists FILE.ts    artist table (keys = artist names); its columns are\n"
"                       matched to the index's by name.  When the index\n"
"                       carries normalize statistics and the artist table\n"
"                       does not, they are applied to the artist's row\n"
"  --batch Q.ts | -     every row of a query stream (columns matched by name)\n"
"  --self               all pairs: every index row against the others (also\n"
"                       when --batch names the index file itself)\n"
"\n"
"Options:\n"
"  -k N                 neighbours per query (default 10)\n"
"  --metric M           cosine (similarity in [-1, 1], higher is better; default),\n"
"                       euclidean (true distance, not squared, lower is better),\n"
"                       dot (higher is better), mad (mean absolute difference\n"
"                       over the dimensions, lower is better)\n"
"  --max-per-artist N   at most N results by one artist (default 0 = no cap)\n"
"  --first              take the first match of an ambiguous name: the most\n"
"                       popular original (catalogue column track_popularity,\n"
"                       popularity or count; else index order)\n"
"  --title-col C        catalogue title column (default: the first of\n"
"                       track_name, name, title)\n"
"  --artist-col C       catalogue artist column (default: the first of\n"
"                       track_artist, artists, artist_name, artist)\n"
"  --threads N          search threads (default 2); results do not depend on it\n"
"  --text | --tsv | --json\n"
"                       output a readable table (the default on a terminal),\n"
"                       TSV lines: query_key rank neighbour_key score title artist\n"
"                       (single queries add: source reason), or JSON lines:\n"
"                       {query, rank, id, title, artist, score, source, reason}\n"
"  -o FILE              output file (FILE.tmp.* renamed on success); without\n"
"                       --text/--tsv it gets the tensor stream\n"
"  --timing             print the search time on stderr\n"
"  --index-cache        map the index from a raw cache beside it,\n"
"                       INDEX.knn-METRIC.cache (made when missing, stale or\n"
"                       damaged, under the lock INDEX.knn-METRIC.cache.lock,\n"
"                       and renamed into place), so that the shards of one\n"
"                       search on a machine share one read-only copy of the\n"
"                       rows, keys and the engine's arrays in the page cache\n"
"                       instead of each decoding the stream and holding its\n"
"                       own.  It is checked against the size, CRC-32C and\n"
"                       FNV-1a hash of\n"
"                       the whole index stream (one read, no decoding) and\n"
"                       its own checksum.  Same results byte for byte.  Not\n"
"                       with --index-shard; the index must be a file\n"
CLI_MEM_HELP
"  --shard I/N          run shard I of N (0-based) of a --batch/--self search\n"
"                       (tensor output only); `merge` joins the N outputs into\n"
"                       exactly the unsharded output.  --self: shard I takes a\n"
"                       contiguous range of the queries (in units of 128 rows,\n"
"                       aligned to the search's query blocks); --batch: pieces\n"
"                       of 1024 query rows, piece p to shard p mod N.  Every\n"
"                       shard loads the whole index, so results are exact\n"
"  --index-shard I/N    run part I of N (0-based) of a --batch/--self search\n"
"                       split by INDEX rows, for an index too big for one\n"
"                       machine: part I holds only the contiguous rows\n"
"                       floor(n*I/N) .. floor(n*(I+1)/N)-1 (n = index rows)\n"
"                       and searches every query against them, writing each\n"
"                       query's best --candidates rows (global row numbers,\n"
"                       their song and artist ids); `merge` picks each\n"
"                       query's results from the N lists with the filters\n"
"                       below, exactly the unsharded output.  Tensor output\n"
"                       only; not together with --shard\n"
"  --candidates C       with --index-shard: candidates kept per query and part\n"
"                       (default k+1 without --catalog and --max-per-artist,\n"
"                       which is always enough; else 2*(k+8)+1, plus 4k with\n"
"                       --max-per-artist).  merge refuses a query whose\n"
"                       results need more (many ids of one song, or one\n"
"                       artist's songs): re-run with 2C\n"
"  -h, --help           this help;  -V, --version\n"
"\n"
"Scores: cosine compares directions from the origin, so it means something\n"
"only on centred columns: on z-scored features (normalize --method zscore,\n"
"the pipeline's default) 1 = the same profile, 0 = unrelated, -1 = the\n"
"opposite (Blinding Lights: 0.97 at rank 10, 0.12 at rank 10,000); on\n"
"min-max features every value is positive and every score is near 1.\n"
"Reasons (text notes, TSV and JSON): 'nearest to SEED' for each result of\n"
"a playlist (the member it is nearest to), else the two columns that add\n"
"most to the score (cosine, dot: the largest products q_i*x_i; distances:\n"
"the smallest differences).  Source: 'features' (the index's rows).\n"
"\n"
"A song is named by a key, a title search (above), a Spotify track uri\n"
"spotify:track:ID or link https://open.spotify.com/track/ID?si=... (the key\n"
"ID or spotify:track:ID).  Results never include the query songs nor any\n"
"version of them, and one song appears once, with its best score: versions\n"
"are folded by common/songversion.h (remasters, remixes, live and radio\n"
"edits, feat. variants, the same title and artist under several ids).\n"
"Equal scores go to the lower index row.  Tensor output: one\n"
"f64 tensor 'neighbors', row shape [k,2] = (index row, score) per rank,\n"
"keyed by the query key; missing ranks are (-1, NaN).\n"
"\n"
"Memory: the whole index table (and its catalogue) is held, as exact search\n"
"needs it, plus one copy for the engine; queries stream in chunks.  With\n"
"--index-cache both are mapped, shared by every process that maps the\n"
"cache; a process holds privately only one pointer per key and the\n"
"catalogue's song tables.  With\n"
"--index-shard I/N: n/N index rows of d floats, plus every row's key (and\n"
"the catalogue) for the song and artist ids, plus C candidates per query\n"
"of a piece of 1024 queries.  The index and the engine's copy count against\n"
"--mem-limit, checked before they are held.\n";

static app A;

static opts parse_opts(int argc, char **argv) {
    enum { O_INDEX = 256, O_CATALOG, O_METRIC, O_SONG, O_PLAYLIST, O_PLAYLIST_FILE, O_ARTIST,
           O_ARTISTS, O_BATCH, O_SELF, O_TITLE, O_ARTISTCOL, O_MAXPA, O_THREADS, O_FIRST,
           O_TEXT, O_TSV, O_JSON, O_TIMING, O_SHARD, O_INDEX_SHARD, O_CANDIDATES, O_MEM, O_INDEX_CACHE };
    static const struct option lo[] = {
        {"index", 1, 0, O_INDEX}, {"catalog", 1, 0, O_CATALOG}, {"metric", 1, 0, O_METRIC},
        {"song", 1, 0, O_SONG}, {"playlist", 1, 0, O_PLAYLIST}, {"playlist-file", 1, 0, O_PLAYLIST_FILE},
        {"artist", 1, 0, O_ARTIST}, {"artists", 1, 0, O_ARTISTS}, {"batch", 1, 0, O_BATCH},
        {"self", 0, 0, O_SELF}, {"title-col", 1, 0, O_TITLE}, {"artist-col", 1, 0, O_ARTISTCOL},
        {"max-per-artist", 1, 0, O_MAXPA}, {"threads", 1, 0, O_THREADS}, {"first", 0, 0, O_FIRST},
        {"text", 0, 0, O_TEXT}, {"tsv", 0, 0, O_TSV}, {"json", 0, 0, O_JSON}, {"timing", 0, 0, O_TIMING}, {"shard", 1, 0, O_SHARD},
        {"index-shard", 1, 0, O_INDEX_SHARD}, {"candidates", 1, 0, O_CANDIDATES},
        {"mem-limit", 1, 0, O_MEM}, {"index-cache", 0, 0, O_INDEX_CACHE}, {0, 0, 0, 0}};
    opts o = {.k = 10, .threads = 2, .metric = KNN_COSINE};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:o:", lo, NULL)) != -1) {
        switch (c) {
        case O_INDEX: o.index = optarg; break;
        case O_MEM: cli_mem_limit_opt("--mem-limit", optarg); break;
        case O_CATALOG: o.catalog = optarg; break;
        case O_METRIC:
            if (knn_metric_parse(optarg, &o.metric))
                cli_usage("--metric: unknown metric '%s'; use cosine, euclidean, dot or mad", optarg);
            break;
        case O_SONG: o.song = optarg; break;
        case O_PLAYLIST: o.playlist = optarg; break;
        case O_PLAYLIST_FILE: o.playlist_file = optarg; break;
        case O_ARTIST: o.artist = optarg; break;
        case O_ARTISTS: o.artists = optarg; break;
        case O_BATCH: o.batch = optarg; break;
        case O_SELF: o.self = 1; break;
        case O_TITLE: o.title_col = optarg; break;
        case O_ARTISTCOL: o.artist_col = optarg; break;
        case O_MAXPA: o.max_per_artist = (int)cli_long("--max-per-artist", optarg, 0, INT_MAX); break;
        case O_THREADS: o.threads = (int)cli_long("--threads", optarg, 1, 64); break;
        case O_FIRST: o.first = 1; break;
        case O_TEXT: o.fmt = FMT_TEXT; break;
        case O_TSV: o.fmt = FMT_TSV; break;
        case O_JSON: o.fmt = FMT_JSON; break;
        case O_TIMING: o.timing = 1; break;
        case O_INDEX_CACHE: o.index_cache = 1; break;
        case O_SHARD: {
            char err[200];
            if (shard_parse(optarg, &o.shard, err, sizeof err)) cli_usage("%s", err);
            break;
        }
        case O_INDEX_SHARD: {
            char err[200];
            if (shard_parse(optarg, &o.index_shard, err, sizeof err)) cli_usage("--index-%s", err + 2);
            break;
        }
        case O_CANDIDATES: o.candidates = (int)cli_long("--candidates", optarg, 1, 1000000); break;
        case 'k': o.k = (int)cli_long("-k", optarg, 1, 100000); break;
        case 'o': o.output = optarg; break;
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s' (a query is --song TEXT, --playlist, --artist or --batch)", argv[optind]);
    if (!o.index) cli_usage("--index TABLE.ts is required (a tensor stream from csv-clean or normalize)");
    int nq = !!o.song + !!o.playlist + !!o.playlist_file + !!o.artist + (o.batch || o.self);
    if (nq != 1) cli_usage(nq ? "give exactly one query (--song, --playlist, --playlist-file, --artist, --batch or --self)"
                              : "no query: give --song TEXT, --playlist 'A;B', --artist NAME, --batch Q.ts or --self");
    if (o.artist && !o.artists) cli_usage("--artist needs --artists ARTISTS.ts (an artist table)");
    if (o.fmt == FMT_AUTO) o.fmt = o.output ? FMT_TENSOR : cli_stdout_tty() ? FMT_TEXT : FMT_TENSOR;
    if (shard_active(&o.shard)) {
        if (!o.batch && !o.self) cli_usage("--shard splits the queries of --batch or --self; a single query is not sharded");
        if (o.fmt != FMT_TENSOR) cli_usage("--shard writes the tensor stream (merge joins the shards); drop --text/--tsv/--json");
        if (strcmp(o.index, "-") == 0 || (o.batch && strcmp(o.batch, "-") == 0))
            cli_usage("--shard needs named input files (their size and checksum identify the input), not stdin");
    }
    if (shard_active(&o.index_shard)) {
        if (shard_active(&o.shard))
            cli_usage("--shard and --index-shard together: split the search by query rows or by index rows, not both");
        if (!o.batch && !o.self) cli_usage("--index-shard splits the index of a --batch or --self search; a single query is not sharded");
        if (o.fmt != FMT_TENSOR) cli_usage("--index-shard writes candidate lists for merge (tensor stream); drop --text/--tsv/--json");
        if (strcmp(o.index, "-") == 0 || (o.batch && strcmp(o.batch, "-") == 0))
            cli_usage("--index-shard needs named input files (it reads the index twice; size and checksum identify it), not stdin");
        if (o.index_cache) cli_usage("--index-cache maps the whole index; --index-shard reads only its part (drop one)");
    } else if (o.candidates) {
        cli_usage("--candidates goes with --index-shard I/N");
    }
    if (o.index_cache && strcmp(o.index, "-") == 0) cli_usage("--index-cache needs --index FILE (the cache goes beside it), not stdin");
    return o;
}

/* ---- loading ---- */

/* Converts an f64 table to f32 in place (knn works in f32). */
static void table_to_f32(ts_table *t, const char *path) {
    if (t->h.dtype == TS_F32) return;
    if (t->h.dtype != TS_F64)
        cli_die("%s: tensor '%s' holds %s; knn needs f32 or f64 rows", path, t->h.name, ts_dtype_name(t->h.dtype));
    size_t n = (size_t)t->nrows * (size_t)t->h.row_elems;
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) cli_die("%s: out of memory", path);
    for (size_t i = 0; i < n; i++) f[i] = (float)((double *)t->data)[i];
    free(t->data);
    t->data = f;
}

/* --index-cache: A.tab's rows and key bytes and the engine's arrays are
 * the mapped cache; A.tab.keys (one pointer per row) is this process's. */
static void map_index(void) {
    char err[1024], note[1024];
    if (knn_cache_open(&A.cache, A.o.index, A.o.metric, note, sizeof note, err, sizeof err)) cli_die("%s", err);
    if (note[0]) cli_warn("%s", note);
    ts_reader *r = cli_open_read(A.o.index);
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc <= 0) cli_die("%s", rc < 0 ? ts_error(r) : "the index stream holds no tensor");
    if (h->row_elems != A.cache.d) cli_die("%s: the index changed while it was read (rows of %" PRId64 " values, its cache %d)", A.o.index, h->row_elems, A.cache.d);
    if (ts_header_copy(&A.tab.h, h)) cli_die("out of memory");
    ts_close_read(r);
    A.tab.nrows = A.cache.n;
    A.tab.data = (void *)A.cache.data;      /* read-only: nothing writes the index rows */
    if (!(A.tab.keys = malloc(sizeof *A.tab.keys * (size_t)A.tab.nrows))) cli_die("%s: out of memory", A.o.index);
    for (int64_t i = 0; i < A.tab.nrows; i++) A.tab.keys[i] = (char *)A.cache.keys + A.cache.koff[i];
    A.d = A.cache.d;
    int64_t bad = 0;
    for (int64_t r = 0; r < A.tab.nrows; r++)
        for (int t = 0; t < A.d; t++)
            if (!isfinite(A.cache.data[r * A.d + t])) { bad++; break; }
    if (bad) cli_warn("%s: %" PRId64 " rows hold NaN or infinity; they never appear as neighbours", A.o.index, bad);
    knn_index_wrap(&A.ix, A.tab.nrows, A.d, A.o.metric, A.cache.x, A.cache.norm2, A.cache.xt);
}

static void load_index(void) {
    char err[512];
    if (A.o.index_cache) { map_index(); return; }
    if (ts_load_table(A.o.index, NULL, &A.tab, err, sizeof err)) cli_die("%s", err);
    table_to_f32(&A.tab, A.o.index);
    if (A.tab.h.ndim != 1 || A.tab.h.row_elems < 1)
        cli_die("%s: tensor '%s' rows must be vectors of shape [d]; this one has %d dimensions", A.o.index, A.tab.h.name, A.tab.h.ndim);
    if (A.tab.nrows < 1) cli_die("%s: the index table has no rows", A.o.index);
    /* the table as f32, its keys, and the engine's copy of the vectors */
    cli_mem_need(A.o.index, "the index table and the search engine's copy of it",
                 (uint64_t)A.tab.nrows * ((uint64_t)A.tab.h.row_elems * 8 + 2 * sizeof(size_t)));
    if (A.tab.h.row_elems > INT_MAX / 16) cli_die("%s: rows of %" PRId64 " values are too wide", A.o.index, A.tab.h.row_elems);
    A.d = (int)A.tab.h.row_elems;
    const float *x = A.tab.data;
    int64_t bad = 0;
    for (int64_t r = 0; r < A.tab.nrows; r++)
        for (int t = 0; t < A.d; t++)
            if (!isfinite(x[r * A.d + t])) { bad++; break; }
    if (bad) cli_warn("%s: %" PRId64 " rows hold NaN or infinity; they never appear as neighbours", A.o.index, bad);
    if (knn_index_build(&A.ix, x, A.tab.nrows, A.d, A.o.metric)) cli_die("%s: out of memory building the index", A.o.index);
}

void knn_load_catalog(app *a) {
    char err[600];
    static const char *const tnames[] = {"track_name", "name", "title", NULL};
    static const char *const anames[] = {"track_artist", "artists", "artist_name", "artist", NULL};
    int tc = -1, ac = -1;
    if (a->o.catalog) {
        if (cat_load(&a->cat, a->o.catalog, err, sizeof err)) cli_die("%s", err);
        a->have_cat = 1;
        tc = a->o.title_col ? cat_column(&a->cat, a->o.title_col) : cat_pick_column(&a->cat, tnames);
        ac = a->o.artist_col ? cat_column(&a->cat, a->o.artist_col) : cat_pick_column(&a->cat, anames);
        if (a->o.title_col && tc < 0) cli_die("%s: no column '%s' (--title-col); its header is: %s ...", a->o.catalog, a->o.title_col, a->cat.colnames[0]);
        if (a->o.artist_col && ac < 0) cli_die("%s: no column '%s' (--artist-col)", a->o.catalog, a->o.artist_col);
        if (tc < 0) cli_warn("%s: no title column (track_name, name, title); pass --title-col", a->o.catalog);
    }
    if (cat_songs_build(&a->songs, a->have_cat ? &a->cat : NULL, tc, ac, (const char *const *)a->tab.keys,
                        a->tab.nrows, err, sizeof err))
        cli_die("%s", err);
    if (a->have_cat && a->songs.nmissing)
        cli_warn("%s: %" PRId64 " of %" PRId64 " index keys have no catalogue line (shown by key)",
                 a->o.catalog, a->songs.nmissing, a->tab.nrows);
    if (ss_init(&a->ss, &a->ix, a->tab.data, &a->songs, a->o.max_per_artist, a->o.threads)) cli_die("out of memory");
}

/* ---- filtering (common/songsearch.c): query songs out, one line per song, artist cap ---- */

static void session_begin(void) { ss_begin(&A.ss); }
static void session_exclude_row(int64_t r) { ss_exclude(&A.ss, r); }
static void untake(int64_t r) { ss_untake(&A.ss, &r, 1); }
static int pick(const int64_t *lab, const float *sc, int kf, int want, int64_t *rows, double *scores, int *exhausted) {
    int got = ss_pick(&A.ss, lab, sc, kf, want, rows, scores, exhausted);
    if (got < 0) cli_die("out of memory");
    return got;
}

static void timed_search(const float *q, int64_t nq, int kf, int64_t self, int64_t *lab, float *sc) {
    knn_opts ko = {.k = kf, .threads = A.o.threads, .self_first = self};
    double t0 = cli_now();
    if (knn_search(&A.ix, q, nq, &ko, lab, sc)) cli_die("out of memory searching (k=%d)", kf);
    A.search_secs += cli_now() - t0;
}

/* Up to want filtered neighbours of one vector within the current session. */
static int search_one(const float *q, int want, int64_t *rows, double *scores) {
    int got = ss_search(&A.ss, q, want, rows, scores);
    if (got < 0) cli_die("out of memory searching (k=%d)", want);
    return got;
}

/* ---- output ---- */

static const char *score_desc(void) {
    switch (A.o.metric) {
    case KNN_EUCLIDEAN: return "euclidean distance, lower is better";
    case KNN_DOT: return "dot product, higher is better";
    case KNN_MAD: return "mean absolute difference, lower is better";
    default: return "cosine similarity, higher is better";
    }
}


/* --shard, --index-shard: what a part was made from (the identity of the
 * index, query and catalogue files) and the options that change its rows
 * without showing in the header (metric and k do), so that merge refuses
 * parts of different runs.  --first and --threads change no --batch/--self
 * result. */
void knn_shard_describe(app *a, int self) {
    char err[600];
    if (a->cache.map ? shard_out_input_known(a->so, a->o.index, &a->cache.src_id)
                    : shard_out_input(a->so, a->o.index, err, sizeof err))
        cli_die("%s", a->cache.map ? "out of memory" : err);
    if (!self && shard_out_input(a->so, a->o.batch, err, sizeof err)) cli_die("%s", err);
    if (a->o.catalog && shard_out_input(a->so, a->o.catalog, err, sizeof err)) cli_die("%s", err);
    if (shard_out_option_number(a->so, "self", self) ||
        shard_out_option_number(a->so, "max_per_artist", a->o.max_per_artist) ||
        shard_out_option_string(a->so, "title_col", a->o.title_col ? a->o.title_col : "") ||
        shard_out_option_string(a->so, "artist_col", a->o.artist_col ? a->o.artist_col : ""))
        cli_die("out of memory");
}

/* --shard: meta.shard of a part of the queries */
static void open_shard_meta(ts_header *h) {
    int self = A.o.self || (A.o.batch && knn_same_file(A.o.batch, A.o.index));
    A.so = shard_out_new(&A.o.shard, self
        ? "all pairs: contiguous ranges of the query rows, in units of 128 aligned to the search's query blocks"
        : "query rows in pieces of 1024 aligned to the search's query blocks; piece p to shard p mod N");
    if (!A.so) cli_die("out of memory");
    knn_shard_describe(&A, self);
    if (shard_out_annotate(A.so, h)) cli_die("out of memory");
}

static void open_output(void) {
    A.fmt = A.o.fmt;
    if (A.fmt == FMT_TENSOR) {
        A.w = cli_open_write(A.o.output);
        ts_header h;
        int64_t shape[2] = {A.o.k, 2};
        if (ts_header_init(&h, "neighbors", TS_F64, 2, NULL) || ts_header_set_shape(&h, 2, shape)) cli_die("out of memory");
        h.key_name = A.tab.h.key_name ? strdup(A.tab.h.key_name) : NULL;
        cJSON *m = ts_header_meta(&h);
        cJSON_AddStringToObject(m, "metric", knn_metric_name(A.o.metric));
        cJSON_AddNumberToObject(m, "k", A.o.k);
        cJSON_AddStringToObject(m, "index", A.o.index);
        cJSON_AddNumberToObject(m, "index_rows", (double)A.tab.nrows);
        if (shard_active(&A.o.shard)) open_shard_meta(&h);
        if (ts_begin_tensor(A.w, &h)) cli_die("%s", ts_werror(A.w));
        ts_header_free(&h);
        return;
    }
    A.f = outfile_open(A.o.output, 0);      /* FILE.tmp.*, renamed on success */
}

static void close_output(void) {
    if (A.fmt == FMT_TENSOR) {
        char err[512];
        if (A.so && ts_end_tensor(A.w)) cli_die("%s", ts_werror(A.w));
        if (A.so && shard_out_finish(A.so, A.w, err, sizeof err)) cli_die("%s", err);
        shard_out_free(A.so);
        cli_close_write(A.w);
        return;
    }
    outfile_close(A.f);
}

/* Prints s padded (or cut with an ellipsis) to w characters. */
static void put_cell(const char *s, size_t w) {
    size_t len = strlen(s), cw = text_width(s, len);
    if (cw > w) {
        fwrite(s, 1, text_prefix_bytes(s, len, w - 1), A.f);
        fputs("\xE2\x80\xA6", A.f);
    } else {
        fputs(s, A.f);
        for (size_t i = cw; i < w; i++) fputc(' ', A.f);
    }
}

static void write_text(const char *header, int n, const int64_t *rows, const double *scores, const char *const *notes) {
    size_t tw = 5, aw = 6;
    const cat_songs *s = &A.songs;
    for (int i = 0; i < n; i++) {
        const char *t = s->title[rows[i]] ? s->title[rows[i]] : s->key[rows[i]];
        const char *a = s->artist[rows[i]] ? s->artist[rows[i]] : "";
        size_t w1 = text_width(t, strlen(t)), w2 = text_width(a, strlen(a));
        if (w1 > tw) tw = w1;
        if (w2 > aw) aw = w2;
    }
    if (tw > 42) tw = 42;
    if (aw > 26) aw = 26;
    fprintf(A.f, "%s (%s):\n", header, score_desc());
    if (!n) { fputs("  (no results)\n", A.f); return; }
    fprintf(A.f, "%4s  %-9s  ", "rank", "score");
    put_cell("title", tw); fputs("  ", A.f); put_cell("artist", aw); fputs("  key\n", A.f);
    for (int i = 0; i < n; i++) {
        int64_t r = rows[i];
        char sc[32];
        snprintf(sc, sizeof sc, A.o.metric == KNN_COSINE ? "%.4f" : "%.5g", scores[i]);
        fprintf(A.f, "%4d  %-9s  ", i + 1, sc);
        put_cell(s->title[r] ? s->title[r] : s->key[r], tw);
        fputs("  ", A.f);
        put_cell(s->artist[r] ? s->artist[r] : "", aw);
        fprintf(A.f, "  %s%s%s\n", s->key[r], notes && notes[i] ? "  " : "", notes && notes[i] ? notes[i] : "");
    }
}

/* Why row r is a result, into buf: "nearest to 'SEED'" when near >= 0 (a
 * playlist member), else the two columns adding most to the score against
 * query vector q ("closest in energy and tempo"); "" without q. */
static const char *reason_of(const float *q, int64_t r, int64_t near, char *buf, size_t cap) {
    const cat_songs *s = &A.songs;
    buf[0] = 0;
    if (near >= 0) {
        snprintf(buf, cap, "nearest to '%s'", s->title[near] ? s->title[near] : s->key[near]);
        return buf;
    }
    if (!q) return buf;
    const float *x = (const float *)A.tab.data + r * A.d;
    int best[2] = {-1, -1};
    double bv[2] = {-INFINITY, -INFINITY};
    int similarity = A.o.metric == KNN_COSINE || A.o.metric == KNN_DOT;
    for (int t = 0; t < A.d; t++) {
        double v = similarity ? (double)q[t] * x[t] : -fabs((double)q[t] - x[t]);
        if (v > bv[0]) { bv[1] = bv[0]; best[1] = best[0]; bv[0] = v; best[0] = t; }
        else if (v > bv[1]) { bv[1] = v; best[1] = t; }
    }
    char n0[64], n1[64];
    for (int i = 0; i < 2; i++) {
        char *dst = i ? n1 : n0;
        if (best[i] < 0) { dst[0] = 0; continue; }
        if (A.tab.h.columns) snprintf(dst, sizeof n0, "%s", A.tab.h.columns[best[i]]);
        else snprintf(dst, sizeof n0, "column %d", best[i] + 1);
    }
    if (best[1] >= 0) snprintf(buf, cap, "closest in %s and %s", n0, n1);
    else if (best[0] >= 0) snprintf(buf, cap, "closest in %s", n0);
    return buf;
}

static void put_json(const char *qkey, int rank, int64_t r, double score, const char *reason) {
    const cat_songs *s = &A.songs;
    cJSON *o = cJSON_CreateObject();
    if (!o) cli_die("out of memory");
    cJSON_AddStringToObject(o, "query", qkey);
    cJSON_AddNumberToObject(o, "rank", rank);
    cJSON_AddStringToObject(o, "id", s->key[r]);
    if (s->title[r]) cJSON_AddStringToObject(o, "title", s->title[r]); else cJSON_AddNullToObject(o, "title");
    if (s->artist[r]) cJSON_AddStringToObject(o, "artist", s->artist[r]); else cJSON_AddNullToObject(o, "artist");
    if (isfinite(score)) cJSON_AddNumberToObject(o, "score", score); else cJSON_AddNullToObject(o, "score");
    cJSON_AddStringToObject(o, "source", "features");
    cJSON_AddStringToObject(o, "reason", reason);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t) cli_die("out of memory");
    fprintf(A.f, "%s\n", t);
    free(t);
}

/* One query's results in the chosen format.  q: the query vector (for the
 * reasons), near[i]: the playlist member result i is nearest to (NULL or
 * -1: none); single = 1 for a --song/--playlist/--artist query (TSV lines
 * then add source and reason). */
static void emit(const char *qkey, const char *header, int n, const int64_t *rows, const double *scores,
                 const float *q, const int64_t *near, int single, int blank_line) {
    char why[512];
    if (A.fmt == FMT_TENSOR) {
        static double *v;
        if (!v && !(v = malloc(sizeof *v * 2 * (size_t)A.o.k))) cli_die("out of memory");
        for (int i = 0; i < A.o.k; i++) {
            v[2 * i] = i < n ? (double)rows[i] : -1;
            v[2 * i + 1] = i < n ? scores[i] : NAN;
        }
        if (ts_write_row(A.w, qkey, v)) cli_die("%s", ts_werror(A.w));
    } else if (A.fmt == FMT_TSV) {
        for (int i = 0; i < n; i++) {
            int64_t r = rows[i];
            fprintf(A.f, "%s\t%d\t%s\t%.6g\t%s\t%s", qkey, i + 1, A.songs.key[r], scores[i],
                    A.songs.title[r] ? A.songs.title[r] : "", A.songs.artist[r] ? A.songs.artist[r] : "");
            if (single) fprintf(A.f, "\tfeatures\t%s", reason_of(q, r, near ? near[i] : -1, why, sizeof why));
            fputc('\n', A.f);
        }
    } else if (A.fmt == FMT_JSON) {
        for (int i = 0; i < n; i++)
            put_json(qkey, i + 1, rows[i], scores[i], reason_of(q, rows[i], near ? near[i] : -1, why, sizeof why));
    } else {
        char **notes = calloc((size_t)(n ? n : 1), sizeof *notes);
        if (!notes) cli_die("out of memory");
        for (int i = 0; i < n; i++)
            if (asprintf(&notes[i], "(%s)", reason_of(q, rows[i], near ? near[i] : -1, why, sizeof why)) < 0) cli_die("out of memory");
        if (blank_line) fputc('\n', A.f);
        write_text(header, n, rows, scores, q || near ? (const char *const *)notes : NULL);
        for (int i = 0; i < n; i++) free(notes[i]);
        free(notes);
    }
}

/* ---- resolving names ---- */

/* The row a song query names (dies listing candidates when ambiguous). */
static int64_t resolve_song(const char *query, const char *what) {
    int64_t r, *rows, n;
    char lab[1024], msg[2600];
    int rc = ss_resolve_song(&A.songs, query, A.o.first, &r, &rows, &n, msg, sizeof msg);
    if (rc < 0) cli_die("out of memory");
    if (rc == SS_FOUND) return r;
    if (rc == SS_NONE) {
        if (!A.have_cat) cli_die("%s'%s' is not a key of %s; pass --catalog CAT.tsv to search by title", what, query, A.o.index);
        cli_die("%s%s", what, msg);
    }
    cli_warn("%s%s or pass --first:", what, msg);
    for (int64_t i = 0; i < n && i < 20; i++)
        fprintf(stderr, "  %2" PRId64 ". %s  [%s]\n", i + 1, cat_songs_label(&A.songs, rows[i], lab, sizeof lab), A.songs.key[rows[i]]);
    if (n > 20) fprintf(stderr, "  ... and %" PRId64 " more\n", n - 20);
    free(rows);
    ts_abort_all_tmp();
    exit(EXIT_DATA);
}

static void song_header(char *buf, size_t cap, int64_t r) {
    const cat_songs *s = &A.songs;
    if (s->title[r] && s->artist[r] && *s->artist[r]) snprintf(buf, cap, "Songs like '%s' by %s", s->title[r], s->artist[r]);
    else snprintf(buf, cap, "Songs like '%s'", s->title[r] ? s->title[r] : s->key[r]);
}

static const float *row_vec(int64_t r) { return A.ix.x + r * A.d; }

static void run_song(void) {
    int64_t r = resolve_song(A.o.song, "");
    int64_t *rows = malloc(sizeof *rows * (size_t)A.o.k);
    double *sc = malloc(sizeof *sc * (size_t)A.o.k);
    char hdr[2048];
    if (!rows || !sc) cli_die("out of memory");
    session_begin();
    session_exclude_row(r);
    int n = search_one(row_vec(r), A.o.k, rows, sc);
    song_header(hdr, sizeof hdr, r);
    emit(A.songs.key[r], hdr, n, rows, sc, (const float *)A.tab.data + r * A.d, NULL, 1, 0);
    free(rows); free(sc);
}


/* ---- playlist ---- */

static int read_members(char ***out, char **textp) {
    char *text = NULL, **m = NULL;
    size_t len = 0;
    int n = 0;
    if (A.o.playlist) {
        if (!(text = strdup(A.o.playlist))) cli_die("out of memory");
    } else {
        FILE *f = strcmp(A.o.playlist_file, "-") == 0 ? stdin : fopen(A.o.playlist_file, "r");
        if (!f) cli_die("%s: cannot open: %m", A.o.playlist_file);
        if (getdelim(&text, &len, 0, f) < 0 && ferror(f)) cli_die("%s: read error: %m", A.o.playlist_file);
        if (!text && !(text = strdup(""))) cli_die("out of memory");
        if (f != stdin) fclose(f);
    }
    const char *sep = A.o.playlist ? ";" : "\n";
    char *save = NULL;
    for (char *tok = strtok_r(text, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        size_t l = strlen(tok);
        while (l && (tok[l - 1] == ' ' || tok[l - 1] == '\t' || tok[l - 1] == '\r')) tok[--l] = 0;
        if (!l || (!A.o.playlist && tok[0] == '#')) continue;
        char **nm = realloc(m, sizeof *m * (size_t)(n + 1));
        if (!nm) cli_die("out of memory");
        m = nm;
        m[n++] = tok;
    }
    if (!n) cli_die("%s: the playlist names no song", A.o.playlist ? "--playlist" : A.o.playlist_file);
    *out = m;
    *textp = text;
    return n;
}

/* The member (of mem[0..nm)) nearest to row r under the metric. */
static int64_t nearest_member(int64_t r, const int64_t *mem, int nm) {
    const float *x = (const float *)A.tab.data + r * A.d;
    int64_t best = mem[0];
    double bv = -INFINITY;
    for (int i = 0; i < nm; i++) {
        const float *m = (const float *)A.tab.data + mem[i] * A.d;
        double dot = 0, xx = 0, mm = 0, l2 = 0, l1 = 0;
        for (int t = 0; t < A.d; t++) {
            dot += (double)x[t] * m[t]; xx += (double)x[t] * x[t]; mm += (double)m[t] * m[t];
            l2 += ((double)x[t] - m[t]) * ((double)x[t] - m[t]); l1 += fabs((double)x[t] - m[t]);
        }
        double v = A.o.metric == KNN_COSINE ? (xx > 0 && mm > 0 ? dot / sqrt(xx * mm) : 0)
                 : A.o.metric == KNN_DOT ? dot : A.o.metric == KNN_EUCLIDEAN ? -l2 : -l1;
        if (v > bv) { bv = v; best = mem[i]; }
    }
    return best;
}

static void run_playlist(void) {
    char **names, *text, what[64], hdr[4096], lab[512];
    int nn = read_members(&names, &text), nm = 0, k = A.o.k;
    int64_t *mem = malloc(sizeof *mem * (size_t)nn), *rows = malloc(sizeof *rows * (size_t)k);
    int64_t *near = malloc(sizeof *near * (size_t)k);
    double *sc = malloc(sizeof *sc * (size_t)k);
    if (!mem || !rows || !near || !sc) cli_die("out of memory");
    for (int i = 0; i < nn; i++) {
        snprintf(what, sizeof what, "playlist song %d: ", i + 1);
        int64_t r = resolve_song(names[i], what), dup = 0;
        for (int j = 0; j < nm; j++) dup |= A.songs.version[mem[j]] == A.songs.version[r];
        if (!dup) mem[nm++] = r;
    }
    int n = ss_playlist(&A.ss, mem, nm, k, rows, sc, near);
    if (n < 0) cli_die("out of memory searching (k=%d)", k);
    for (int i = 0; i < n; i++)         /* the centroid's picks: the member each is nearest to */
        if (near[i] < 0) near[i] = nearest_member(rows[i], mem, nm);
    size_t len = (size_t)snprintf(hdr, sizeof hdr, "Songs like the playlist of %d songs: ", nm);
    for (int i = 0; i < nm && len < sizeof hdr; i++)
        len += (size_t)snprintf(hdr + len, sizeof hdr - len, i < 5 ? "%s'%s'" : i == 5 ? ", ..." : "",
                                i ? ", " : "", cat_songs_label(&A.songs, mem[i], lab, sizeof lab));
    emit("playlist", hdr, n, rows, sc, NULL, near, 1, 0);
    free(names); free(text);
    free(mem); free(rows); free(near); free(sc);
}

/* ---- query tables: column matching ---- */

/* map[i] = column of the query table holding index column i. */
int *knn_map_columns(app *a, const ts_header *qh, const char *path) {
    int *map = malloc(sizeof *map * (size_t)a->d);
    char err[1024];
    if (!map) cli_die("out of memory");
    if (ss_map_columns(&a->tab.h, a->d, qh, path, a->o.index, map, err, sizeof err)) cli_die("%s", err);
    return map;
}

static void gather_row(const ts_header *qh, const void *data, int64_t r, const int *map, float *out) {
    ss_gather_row(qh, data, r, map, A.d, out);
}

/* ---- artist ---- */

static int64_t resolve_artist(const ts_table *at) {
    int64_t r, *cand, n;
    int rc = ss_resolve_key((const char *const *)at->keys, at->nrows, A.o.artist, A.o.first, &r, &cand, &n);
    if (rc < 0) cli_die("out of memory");
    if (rc == SS_FOUND) return r;
    if (rc == SS_NONE)
        cli_die("no artist matches '%s' in %s (%" PRId64 " artists; names are matched ignoring case, accents and punctuation)",
                A.o.artist, A.o.artists, at->nrows);
    cli_warn("'%s' matches %" PRId64 " artists; name one exactly or pass --first:", A.o.artist, n);
    for (int64_t i = 0; i < n && i < 20; i++) fprintf(stderr, "  %2" PRId64 ". %s\n", i + 1, at->keys[cand[i]]);
    if (n > 20) fprintf(stderr, "  ... and %" PRId64 " more\n", n - 20);
    free(cand);
    ts_abort_all_tmp();
    exit(EXIT_DATA);
}

/* Applies the index's normalize statistics to an artist row read raw. */
static void normalize_artist(const ts_table *at, float *v) {
    cJSON *im = A.tab.h.meta ? cJSON_GetObjectItemCaseSensitive(A.tab.h.meta, "normalize") : NULL;
    cJSON *am = at->h.meta ? cJSON_GetObjectItemCaseSensitive(at->h.meta, "normalize") : NULL;
    if (!im || am || !A.tab.h.columns) return;
    ns_stats st;
    char err[512];
    if (ns_stats_from_json(im, A.o.index, &st, err, sizeof err)) cli_die("%s", err);
    for (int i = 0; i < A.d; i++) {
        int c = ns_stats_find(&st, A.tab.h.columns[i]);
        if (c >= 0) v[i] = (float)ns_apply_value(&st.cols[c], v[i]);
    }
    ns_stats_free(&st);
    cli_warn("%s: applied the index's normalize statistics to the artist's row", A.o.artists);
}

static void run_artist(void) {
    ts_table at;
    char err[512], hdr[1024];
    if (ts_load_table(A.o.artists, NULL, &at, err, sizeof err)) cli_die("%s", err);
    int *map = knn_map_columns(&A, &at.h, A.o.artists);
    int64_t r = resolve_artist(&at), *rows = malloc(sizeof *rows * (size_t)A.o.k);
    float *v = malloc(sizeof *v * (size_t)A.d);
    double *sc = malloc(sizeof *sc * (size_t)A.o.k);
    if (!rows || !v || !sc) cli_die("out of memory");
    gather_row(&at.h, at.data, r, map, v);
    normalize_artist(&at, v);
    session_begin();
    int n = search_one(v, A.o.k, rows, sc);
    snprintf(hdr, sizeof hdr, "Songs like the artist '%s'", at.keys[r]);
    emit(at.keys[r], hdr, n, rows, sc, v, NULL, 1, 0);
    free(map); free(rows); free(v); free(sc);
    ts_table_free(&at);
}

/* ---- batch ---- */

typedef struct {
    float *q;                   /* chunk of query vectors */
    char **keys;
    int64_t n, cap;
    int kf, filtering;
    int64_t self_first;         /* all pairs: index row of the chunk's first query */
    int64_t pos0;               /* query number of q[0] in the whole query set */
    int64_t *lab, *rows;
    float *sc;
    double *scores;
    int64_t done;
    cli_progress prog;
    /* the last block searched again for more candidates (batch_retry) */
    int64_t rblock;
    int rkf;
    int64_t *rlab;
    float *rsc;
} batch;

/* Query i of the chunk ran out of accepted candidates: up to k results from
 * a longer candidate list.  Where the engine's values depend on the shape
 * of the search (knn_values_need_blocks), the query's whole engine block
 * (QUERY_BLOCK queries from the chunk's start) is searched again, doubling
 * the candidates, so every value is the one the first search computed and
 * the one an --index-shard part computes; the block's lists serve its
 * other starving queries too.  Otherwise the query is searched alone. */
#define QUERY_BLOCK 128
static int batch_retry(batch *b, int64_t i) {
    int k = A.o.k, got, exhausted;
    if (!knn_values_need_blocks(&A.ix)) return search_one(b->q + i * A.d, k, b->rows, b->scores);
    int64_t bs = i / QUERY_BLOCK * QUERY_BLOCK, len = b->n - bs < QUERY_BLOCK ? b->n - bs : QUERY_BLOCK;
    int kf = b->rblock == bs ? b->rkf : b->kf > INT_MAX / 2 ? INT_MAX : 2 * b->kf;
    for (;;) {
        if (kf > A.tab.nrows) kf = (int)A.tab.nrows;
        if (b->rblock != bs || b->rkf != kf) {
            free(b->rlab); free(b->rsc);
            b->rlab = malloc(sizeof *b->rlab * (size_t)len * (size_t)kf);
            b->rsc = malloc(sizeof *b->rsc * (size_t)len * (size_t)kf);
            if (!b->rlab || !b->rsc) cli_die("out of memory (%d candidates for %" PRId64 " queries)", kf, len);
            timed_search(b->q + bs * A.d, len, kf, -1, b->rlab, b->rsc);
            b->rblock = bs;
            b->rkf = kf;
        }
        got = pick(b->rlab + (i - bs) * kf, b->rsc + (i - bs) * kf, kf, k, b->rows, b->scores, &exhausted);
        if (got == k || exhausted) return got;
        for (int j = 0; j < got; j++) untake(b->rows[j]);
        kf = kf > INT_MAX / 2 ? INT_MAX : kf * 2;
    }
}

static void batch_flush(batch *b) {
    int k = A.o.k, kf = b->filtering ? b->kf : k;
    char hdr[2048];
    if (!b->n) return;
    b->rblock = -1;
    timed_search(b->q, b->n, kf, b->filtering ? -1 : b->self_first, b->lab, b->sc);
    for (int64_t i = 0; i < b->n; i++) {
        int64_t qrow = b->self_first >= 0 ? b->self_first + i : strmap_get(&A.songs.keymap, b->keys[i]);
        int n, exhausted;
        session_begin();
        session_exclude_row(qrow);
        n = pick(b->lab + i * kf, b->sc + i * kf, kf, k, b->rows, b->scores, &exhausted);
        if (n < k && !exhausted) {
            for (int j = 0; j < n; j++) untake(b->rows[j]);
            n = batch_retry(b, i);
        }
        if (qrow >= 0) song_header(hdr, sizeof hdr, qrow);
        else snprintf(hdr, sizeof hdr, "Songs like '%s'", b->keys[i]);
        emit(b->keys[i], hdr, n, b->rows, b->scores, NULL, NULL, 0, b->done + i > 0);
        if (A.so && shard_out_rows(A.so, b->pos0 + i, 1)) cli_die("cannot spool the row positions: %m");
    }
    b->done += b->n;
    if (b->self_first >= 0) b->self_first += b->n;
    for (int64_t i = 0; i < b->n && b->self_first < 0; i++) free(b->keys[i]);
    b->n = 0;
    cli_progress_update(&b->prog, "%" PRId64 " queries searched", b->done);
}

int knn_same_file(const char *a, const char *b) {
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb && strcmp(ra, rb) == 0;
    free(ra); free(rb);
    return same;
}

/* The search engine (common/knn.c) cuts each call's queries into blocks of
 * 128 rows from the call's first query; shards cut on that grid (units of
 * QUERY_BLOCK rows within the unsharded run's chunks), so every query is
 * searched in the same block as in the unsharded run. */
#define SHARD_PIECE 1024        /* a multiple of QUERY_BLOCK */

/* All pairs: chunks of b->cap index rows; with --shard only this shard's
 * contiguous range of QUERY_BLOCK units. */
static void run_self(batch *b) {
    int64_t n = A.tab.nrows, units = 0, ub, ue, u = 0;
    for (int64_t q0 = 0; q0 < n; q0 += b->cap)
        units += ((n - q0 < b->cap ? n - q0 : b->cap) + QUERY_BLOCK - 1) / QUERY_BLOCK;
    shard_range(&A.o.shard, units, &ub, &ue);
    for (int64_t q0 = 0; q0 < n; q0 += b->cap) {
        int64_t len = n - q0 < b->cap ? n - q0 : b->cap, nu = (len + QUERY_BLOCK - 1) / QUERY_BLOCK;
        int64_t a = ub > u ? ub - u : 0, e = ue - u < nu ? ue - u : nu;
        u += nu;
        if (a >= e) continue;
        int64_t start = q0 + a * QUERY_BLOCK, end = q0 + e * QUERY_BLOCK < q0 + len ? q0 + e * QUERY_BLOCK : q0 + len;
        b->n = end - start;
        b->q = (float *)A.tab.data + start * A.d;
        b->keys = A.tab.keys + start;
        b->self_first = b->pos0 = start;
        batch_flush(b);
    }
}

static void run_batch(void) {
    int self = A.o.self || (A.o.batch && strcmp(A.o.batch, "-") != 0 && knn_same_file(A.o.batch, A.o.index));
    batch b = {.self_first = self ? 0 : -1};
    b.filtering = !self || A.have_cat || A.o.max_per_artist;
    b.kf = A.o.k + 8 + (A.o.max_per_artist ? 2 * A.o.k : 0);
    if (b.kf > A.tab.nrows) b.kf = (int)A.tab.nrows;
    if (b.kf < A.o.k) b.kf = A.o.k;
    b.cap = (4 << 20) / b.kf;
    b.cap = b.cap < 256 ? 256 : b.cap > 16384 ? 16384 : b.cap;
    b.lab = malloc(sizeof *b.lab * (size_t)(b.cap * b.kf));
    b.sc = malloc(sizeof *b.sc * (size_t)(b.cap * b.kf));
    b.rows = malloc(sizeof *b.rows * (size_t)A.o.k);
    b.scores = malloc(sizeof *b.scores * (size_t)A.o.k);
    if (!b.lab || !b.sc || !b.rows || !b.scores) cli_die("out of memory");
    cli_progress_init(&b.prog, 0);
    if (self) {
        run_self(&b);
    } else {
        ts_reader *r = cli_open_read(A.o.batch);
        const ts_header *qh;
        ts_block blk;
        int rc = ts_next_tensor(r, &qh);
        if (rc <= 0) cli_die("%s", rc < 0 ? ts_error(r) : "the query stream holds no tensor");
        int *map = knn_map_columns(&A, qh, ts_reader_name(r));
        b.q = malloc(sizeof *b.q * (size_t)(b.cap * A.d));
        b.keys = malloc(sizeof *b.keys * (size_t)b.cap);
        if (!b.q || !b.keys) cli_die("out of memory");
        int64_t q = 0, piece = -1;
        int owned = 1, sharded = shard_active(&A.o.shard);
        while ((rc = ts_read_block(r, &blk)) == 1)
            for (int64_t i = 0; i < blk.nrows; i++, q++) {
                /* --shard: pieces of SHARD_PIECE queries on the unsharded
                 * run's chunk grid, so each search call sees its blocks */
                if (sharded && q % b.cap % SHARD_PIECE == 0) {
                    batch_flush(&b);
                    owned = shard_owns_unit(&A.o.shard, ++piece);
                }
                if (!owned) continue;
                if (!b.n) b.pos0 = q;
                gather_row(qh, blk.data, i, map, b.q + b.n * A.d);
                if (!(b.keys[b.n++] = strdup(blk.keys[i]))) cli_die("out of memory");
                if (b.n == b.cap) batch_flush(&b);
            }
        if (rc < 0) cli_die("%s", ts_error(r));
        batch_flush(&b);
        free(map); free(b.q); free(b.keys);
        ts_close_read(r);
    }
    cli_progress_done(&b.prog);
    free(b.lab); free(b.sc); free(b.rows); free(b.scores); free(b.rlab); free(b.rsc);
}

int main(int argc, char **argv) {
    cli_init("knn", argc, argv, HELP);
    cli_blas_tune(argv);
    A.o = parse_opts(argc, argv);
    if (shard_active(&A.o.index_shard)) {
        knn_run_index_shard(&A);
        if (A.o.timing) cli_warn("search: %.3f s (metric %s, k=%d, %d threads, %" PRId64 " of %" PRId64 " index rows)",
                                 A.search_secs, knn_metric_name(A.o.metric), A.o.k, A.o.threads, A.ix.n, A.tab.nrows);
        return EXIT_OK;
    }
    load_index();
    knn_load_catalog(&A);
    open_output();
    if (A.o.song) run_song();
    else if (A.o.playlist || A.o.playlist_file) run_playlist();
    else if (A.o.artist) run_artist();
    else run_batch();
    close_output();
    if (A.o.timing) cli_warn("search: %.3f s (metric %s, k=%d, %d threads, %" PRId64 " index rows)",
                             A.search_secs + A.ss.search_secs, knn_metric_name(A.o.metric), A.o.k, A.o.threads, A.tab.nrows);
    return EXIT_OK;
}
