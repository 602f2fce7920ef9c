/* members - which songs of a catalogue share which playlists: the input of
 * train-mlp --pairs (supervised similarity) and of the similarity
 * evaluation's held-out playlists.  Playlists come from a songs CSV with a
 * playlist column (spotify_songs.csv: one row per playlist entry) and from
 * MPD playlists ingested by mpd-ingest (track uris spotify:track:ID joined to
 * the catalogue key ID).  Whole playlists, never single songs, are held out. */
#include "cli.h"
#include "outfile.h"
#include "plmembers.h"
#include "strmap.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: members --catalog CAT.tsv [--csv SONGS.csv] [--mpd P.ts --mpd-tracks T.tsv]\n"
"               -o TRAIN.ts [--heldout HELD.tsv] [options]\n"
"Song-playlist membership for the songs of a catalogue, split into training\n"
"and held-out playlists (whole playlists).\n"
"\n"
"  --catalog FILE     catalogue TSV (header line; first column = the song key,\n"
"                     e.g. csv-clean --catalog); songs outside it are dropped\n"
"  --csv FILE         a CSV with one row per playlist entry\n"
"  --list-col C       its playlist column (default playlist_id)\n"
"  --key-col C        its song key column (default track_id)\n"
"  --mpd FILE         mpd-ingest's playlists stream (rows: track, pos; key pid)\n"
"  --mpd-tracks FILE  its --tracks TSV; a uri spotify:track:ID joins the\n"
"                     catalogue key ID (any other uri is kept whole)\n"
"  --holdout F        share of playlists held out (default 0.2): playlist p is\n"
"                     held out when plmem_split_u(seed, p) < F (common/\n"
"                     plmembers.h: a hash of seed and name, the rule of\n"
"                     mpd-split and hybrid --eval), so the choice of one\n"
"                     playlist does not depend on the others\n"
"  --seed N           (default 1)\n"
"  --min-songs N      keep playlists with at least N distinct catalogue songs\n"
"                     (default 2: a pair)\n"
"  -o FILE            training membership: tensor 'members', one i32 column\n"
"                     'playlist' (a code 0..P-1) per row, keyed by the song key,\n"
"                     rows grouped by playlist (default stdout)\n"
"  --heldout FILE     held-out membership TSV: playlist<TAB>key, header line\n"
"  --lists FILE       TSV code<TAB>playlist<TAB>songs<TAB>split for every kept\n"
"                     playlist (code -1 for held-out ones)\n"
"  -h, --help         this help;  -V, --version\n"
"\n"
"Playlists are named csv:ID and mpd:PID.  A song listed twice in a playlist\n"
"counts once.  The join counts go to stderr.  Memory: the catalogue keys and\n"
"every kept membership entry.\n";

typedef struct {
    const char *catalog, *csv, *list_col, *key_col, *mpd, *mpd_tracks, *out, *heldout, *lists;
    double holdout;
    uint64_t seed;
    long min_songs;
} opts;

static opts parse_opts(int argc, char **argv) {
    enum { O_CAT = 256, O_CSV, O_LCOL, O_KCOL, O_MPD, O_MT, O_HO, O_SEED, O_MIN, O_HELD, O_LISTS };
    static const struct option lo[] = {
        {"catalog", 1, 0, O_CAT}, {"csv", 1, 0, O_CSV}, {"list-col", 1, 0, O_LCOL}, {"key-col", 1, 0, O_KCOL},
        {"mpd", 1, 0, O_MPD}, {"mpd-tracks", 1, 0, O_MT}, {"holdout", 1, 0, O_HO}, {"seed", 1, 0, O_SEED},
        {"min-songs", 1, 0, O_MIN}, {"heldout", 1, 0, O_HELD}, {"lists", 1, 0, O_LISTS}, {0, 0, 0, 0}};
    opts o = {0};
    o.list_col = "playlist_id";
    o.key_col = "track_id";
    o.holdout = 0.2;
    o.seed = 1;
    o.min_songs = 2;
    int c;
    while ((c = getopt_long(argc, argv, "o:hV", lo, NULL)) != -1) {
        switch (c) {
        case O_CAT: o.catalog = optarg; break;
        case O_CSV: o.csv = optarg; break;
        case O_LCOL: o.list_col = optarg; break;
        case O_KCOL: o.key_col = optarg; break;
        case O_MPD: o.mpd = optarg; break;
        case O_MT: o.mpd_tracks = optarg; break;
        case O_HO: o.holdout = cli_double("--holdout", optarg, 0, 1); break;
        case O_SEED: o.seed = (uint64_t)cli_long("--seed", optarg, 0, (long)(~0ul >> 1)); break;
        case O_MIN: o.min_songs = cli_long("--min-songs", optarg, 1, 1000000); break;
        case O_HELD: o.heldout = optarg; break;
        case O_LISTS: o.lists = optarg; break;
        case 'o': o.out = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("no positional arguments ('%s'); name inputs with --csv, --mpd", argv[optind]);
    if (!o.catalog) cli_usage("--catalog CAT.tsv is required (the songs to keep)");
    if (!o.csv && !o.mpd) cli_usage("give playlists: --csv SONGS.csv and/or --mpd P.ts --mpd-tracks T.tsv");
    if (!o.mpd != !o.mpd_tracks) cli_usage("--mpd and --mpd-tracks go together");
    return o;
}

/* ---------- state ---------- */
typedef struct { int32_t list, song; } entry;

typedef struct {
    strmap keys;              /* catalogue key -> row */
    char **key;               /* row -> key */
    int64_t n_keys;
    strmap lists;             /* playlist name -> index */
    char **list_name;
    int64_t n_lists, cap_lists;
    entry *e;
    int64_t n, cap;
} state;

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d) cli_die("out of memory");
    return d;
}

static void add(state *s, const char *list, int64_t song) {
    int64_t l = strmap_get(&s->lists, list);
    if (l < 0) {
        if (s->n_lists == s->cap_lists) {
            s->cap_lists = s->cap_lists ? 2 * s->cap_lists : 1024;
            char **p = realloc(s->list_name, sizeof *p * (size_t)s->cap_lists);
            if (!p) cli_die("out of memory");
            s->list_name = p;
        }
        l = s->n_lists;
        s->list_name[s->n_lists++] = xstrdup(list);
        if (strmap_put(&s->lists, s->list_name[l], l) == -2) cli_die("out of memory");
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 65536;
        entry *p = realloc(s->e, sizeof *p * (size_t)s->cap);
        if (!p) cli_die("out of memory");
        s->e = p;
    }
    s->e[s->n++] = (entry){(int32_t)l, (int32_t)song};
}

/* one line of a TSV file into its first field (the line is modified) */
static char *first_field(char *line) {
    line[strcspn(line, "\t\r\n")] = 0;
    return line;
}

static void load_catalog(state *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) cli_die("%s: cannot open the catalogue: %m", path);
    char *line = NULL;
    size_t cap = 0;
    int64_t cap_k = 0, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        if (lineno++ == 0) continue;                     /* header */
        const char *k = first_field(line);
        if (!*k) { free(line); fclose(f); cli_die("%s:%" PRId64 ": empty song key; the first column must hold the keys", path, lineno); }
        if (s->n_keys == cap_k) {
            cap_k = cap_k ? 2 * cap_k : 4096;
            char **p = realloc(s->key, sizeof *p * (size_t)cap_k);
            if (!p) cli_die("out of memory");
            s->key = p;
        }
        s->key[s->n_keys] = xstrdup(k);
        int64_t rc = strmap_put(&s->keys, s->key[s->n_keys], s->n_keys);
        if (rc == -2) cli_die("out of memory");
        if (rc >= 0) { free(line); fclose(f); cli_die("%s:%" PRId64 ": key '%s' appears twice; a catalogue has one line per song", path, lineno, k); }
        s->n_keys++;
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    if (bad) cli_die("%s: read error", path);
    if (s->n_keys == 0) cli_die("%s: no songs after the header line", path);
}

/* ---------- the playlists (common/plmembers.h) ---------- */
static int on_entry(void *ctx, const char *list, int64_t song) {
    add(ctx, list, song);
    return 0;
}

static void load_csv(state *s, const opts *o) {
    char err[1024];
    plmem_stats st;
    if (plmem_read_csv(o->csv, o->list_col, o->key_col, "csv:", &s->keys, s->n_keys, on_entry, s, &st, err, sizeof err))
        cli_die("%s", err);
    cli_warn("%s: %" PRId64 " playlist entries, %" PRId64 " of them songs of the catalogue", o->csv, st.rows, st.joined);
}

static void load_mpd(state *s, const opts *o) {
    char err[1024];
    plmem_stats st;
    if (plmem_read_mpd(o->mpd, o->mpd_tracks, "mpd:", &s->keys, s->n_keys, on_entry, s, &st, err, sizeof err))
        cli_die("%s", err);
    cli_warn("%s: %" PRId64 " playlist rows, %" PRId64 " of them (%.1f%%) join the catalogue by track id, %" PRId64 " distinct songs",
             o->mpd, st.rows, st.joined, st.rows ? 100.0 * st.joined / st.rows : 0, st.distinct);
}

/* ---------- split and write ---------- */
static int by_list_song(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->list != y->list) return x->list < y->list ? -1 : 1;
    return (x->song > y->song) - (x->song < y->song);
}

static int held_out(const char *name, const opts *o) {
    return plmem_split_u(o->seed, name) < o->holdout;
}

int main(int argc, char **argv) {
    cli_init("members", argc, argv, HELP);
    opts o = parse_opts(argc, argv);
    static state s;
    strmap_init(&s.keys);
    strmap_init(&s.lists);
    load_catalog(&s, o.catalog);
    if (o.csv) load_csv(&s, &o);
    if (o.mpd) load_mpd(&s, &o);
    qsort(s.e, (size_t)s.n, sizeof *s.e, by_list_song);
    /* distinct songs per playlist, in place */
    int64_t m = 0;
    for (int64_t i = 0; i < s.n; i++)
        if (m == 0 || s.e[m - 1].list != s.e[i].list || s.e[m - 1].song != s.e[i].song) s.e[m++] = s.e[i];
    s.n = m;

    outfile_hold();         /* -o, --heldout, --lists: all or none */
    FILE *held = o.heldout ? outfile_open(o.heldout, 0) : NULL, *lists = o.lists ? outfile_open(o.lists, 0) : NULL;
    if (held) fprintf(held, "playlist\t%s\n", "key");
    if (lists) fputs("code\tplaylist\tsongs\tsplit\n", lists);
    ts_header h;
    static const char *const cols[] = {"playlist"};
    if (ts_header_init(&h, "members", TS_I32, 1, cols) || !(h.key_name = strdup("key"))) cli_die("out of memory");
    ts_writer *w = cli_open_write(o.out);
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));
    int64_t n_tr = 0, n_ho = 0, e_tr = 0, e_ho = 0, dropped = 0;
    for (int64_t i = 0; i < s.n; ) {
        int64_t j = i;
        while (j < s.n && s.e[j].list == s.e[i].list) j++;
        const char *name = s.list_name[s.e[i].list];
        if (j - i < o.min_songs) { dropped++; i = j; continue; }
        if (held_out(name, &o)) {
            if (held) for (int64_t k = i; k < j; k++) fprintf(held, "%s\t%s\n", name, s.key[s.e[k].song]);
            if (lists) fprintf(lists, "-1\t%s\t%" PRId64 "\theldout\n", name, j - i);
            n_ho++;
            e_ho += j - i;
        } else {
            int32_t code = (int32_t)n_tr;
            for (int64_t k = i; k < j; k++)
                if (ts_write_row(w, s.key[s.e[k].song], &code)) cli_die("%s", ts_werror(w));
            if (lists) fprintf(lists, "%d\t%s\t%" PRId64 "\ttrain\n", code, name, j - i);
            n_tr++;
            e_tr += j - i;
        }
        i = j;
    }
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    if (held) outfile_close(held);
    if (lists) outfile_close(lists);
    cli_close_write(w);
    outfile_commit();
    cli_warn("%" PRId64 " playlists with %ld+ catalogue songs: %" PRId64 " for training (%" PRId64 " entries), %" PRId64 " held out (%" PRId64 " entries); %" PRId64 " smaller ones dropped",
             n_tr + n_ho, o.min_songs, n_tr, e_tr, n_ho, e_ho, dropped);
    ts_header_free(&h);
    for (int64_t i = 0; i < s.n_keys; i++) free(s.key[i]);
    for (int64_t i = 0; i < s.n_lists; i++) free(s.list_name[i]);
    free(s.key); free(s.list_name); free(s.e);
    strmap_free(&s.keys);
    strmap_free(&s.lists);
    return 0;
}
