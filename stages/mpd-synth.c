/* mpd-synth.c - writes an invented playlist collection shaped like the
 * Million Playlist Dataset (the MPD README's slice format and the totals of
 * its stats.txt), deterministic from a seed, so that the playlist chain can
 * be measured at full size without the MPD (make bench-scale). */
#include "cli.h"
#include "outfile.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

static const char HELP[] =
"Usage: mpd-synth [options] -o DIR\n"
"Writes an invented collection in the MPD slice format (mpd.slice.A-B.json,\n"
"1000 playlists a file as the MPD ships them) into DIR, zstd-compressed\n"
"(.json.zst, which mpd-ingest reads) unless --plain.  Nothing is taken from\n"
"the MPD; only its totals (stats.txt of the MPD, 2018) shape the numbers.\n"
"At --scale 1: 1,000,000 playlists, about 66M rows and 2.3M distinct tracks\n"
"of a universe of 3,000,000 tracks, 734,684 albums and 295,860 artists.\n"
"--scale F writes F x 1,000,000 playlists from the same universe, as the\n"
"first F x 1000 slices of the MPD would be (fewer distinct tracks, the same\n"
"popular ones); --universe N (tests) shrinks the universe, albums and\n"
"artists in proportion.\n"
"\n"
"  Track popularity: draws from Zipf-Mandelbrot, P(rank r) ~ 1 / (r + 400)^1.25\n"
"    over the universe (fitted to the MPD's 2.26M distinct tracks and its top\n"
"    track's 46,574 rows at scale 1, before the genres and redraws below,\n"
"    which flatten the head: the 100 most played tracks hold about 0.75 x\n"
"    the law's share of rows).\n"
"  Each track has an album and each album an artist (uniform hashes); each\n"
"    artist one of 40 genres.  A playlist picks a genre (with probability\n"
"    its share of the popularity) and a title from that genre's words; each\n"
"    track is drawn from the genre's tracks with probability 0.6, else from\n"
"    all (so each draw follows the law above), and\n"
"    redrawn (up to 8 times) when the playlist already holds it.\n"
"  Length: 5..250, log-normal (mu 3.965, sigma 0.95) drawn again outside\n"
"    the range: mean about 66, mode about 20 as in the MPD.\n"
"  Playlist p's random numbers come from (seed, p) alone: the same seed\n"
"    and scale give the same bytes, whatever the slice size.\n"
"\n"
"  -o DIR            output folder (created; existing slices are replaced)\n"
"  --scale F         0 < F <= 10 (default 1)\n"
"  --universe N      tracks of the universe, 1000.. (default 3000000)\n"
"  --seed N          (default 1)\n"
"  --slice-size N    playlists per file (default 1000)\n"
"  --plain           write .json instead of .json.zst\n"
"  --level L         zstd level (default 1: the fastest)\n"
"  -h, --help        this help;  -V, --version\n";

enum { NGENRE = 40 };
static const double ZIPF_S = 1.25, ZIPF_Q = 400, GENRE_SHARE = 0.6;
static const double LEN_MU = 3.965, LEN_SIGMA = 0.95;

struct opts {
    const char *dir;
    double scale;
    int64_t universe;
    uint64_t seed;
    long slice_size;
    int plain, level;
};

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {.scale = 1, .universe = 3000000, .seed = 1, .slice_size = 1000, .level = 1};
    static const struct option lo[] = {
        {"scale", 1, 0, 's'}, {"universe", 1, 0, 'u'}, {"seed", 1, 0, 'S'}, {"slice-size", 1, 0, 'z'},
        {"plain", 0, 0, 'p'}, {"level", 1, 0, 'l'}, {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 's': o.scale = cli_double("--scale", optarg, 1e-9, 10); break;
        case 'u': o.universe = cli_long("--universe", optarg, 1000, 100000000); break;
        case 'S': o.seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX); break;
        case 'z': o.slice_size = cli_long("--slice-size", optarg, 1, 1000000); break;
        case 'p': o.plain = 1; break;
        case 'l': o.level = (int)cli_long("--level", optarg, 1, 19); break;
        case 'o': o.dir = optarg; break;
        default: cli_usage("unknown option");
        }
    }
    if (!o.dir) cli_usage("-o DIR is required (the slices are several files)");
    if (optind < argc) cli_usage("no input: the collection is invented (did you mean -o DIR?)");
    return o;
}

/* ---- random numbers: splitmix64 (Steele, Lea, Flood 2014) ---- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
typedef struct { uint64_t s; } rng;
static uint64_t rng_next(rng *r) { return mix64(r->s += 0x9e3779b97f4a7c15ULL); }
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_normal(rng *r) {          /* Box-Muller */
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2 * log(u > 0 ? u : 0x1.0p-53)) * cos(6.283185307179586 * v);
}
/* a hash of (seed, kind, id): names, uris and the track -> album -> artist map */
static uint64_t hash3(uint64_t seed, uint64_t kind, uint64_t id) {
    return mix64(mix64(seed ^ (kind << 56)) ^ id);
}

/* ---- the universe ---- */

typedef struct {
    int64_t ntracks, nalbums, nartists;
    double *cdf;                /* global popularity, cumulative, by rank */
    int64_t *gstart;            /* genre g's tracks: gtrack[gstart[g] .. gstart[g+1]) */
    int64_t *gtrack;            /* by rank within each genre */
    double *gcdf;               /* cumulative within each genre */
    double gshare[NGENRE + 1];  /* cumulative genre shares */
    uint64_t seed;
} universe;
static universe U;      /* reachable from a static: cli_die leaves no leak report */

static int64_t track_album(int64_t t) { return (int64_t)(hash3(U.seed, 1, (uint64_t)t) % (uint64_t)U.nalbums); }
static int64_t album_artist(int64_t a) { return (int64_t)(hash3(U.seed, 2, (uint64_t)a) % (uint64_t)U.nartists); }
static int track_genre(int64_t t) { return (int)(hash3(U.seed, 3, (uint64_t)album_artist(track_album(t))) % NGENRE); }

static void universe_build(const struct opts *o) {
    U.seed = o->seed;
    double f = (double)o->universe / 3000000;
    U.ntracks = o->universe;
    U.nalbums = llround(734684 * f);
    U.nartists = llround(295860 * f);
    if (U.nalbums < 1) U.nalbums = 1;
    if (U.nartists < NGENRE) U.nartists = NGENRE;
    int64_t n = U.ntracks;
    U.cdf = malloc((size_t)n * sizeof *U.cdf);
    U.gcdf = malloc((size_t)n * sizeof *U.gcdf);
    U.gtrack = malloc((size_t)n * sizeof *U.gtrack);
    U.gstart = calloc(NGENRE + 1, sizeof *U.gstart);
    int *genre = malloc((size_t)n * sizeof *genre);
    if (!U.cdf || !U.gcdf || !U.gtrack || !U.gstart || !genre) cli_die("out of memory for %" PRId64 " tracks", n);
    double sum = 0, gsum[NGENRE] = {0};
    for (int64_t r = 0; r < n; r++) {
        double w = pow((double)r + 1 + ZIPF_Q, -ZIPF_S);
        sum += w;
        U.cdf[r] = sum;
        genre[r] = track_genre(r);
        gsum[genre[r]] += w;
        U.gstart[genre[r] + 1]++;
    }
    for (int g = 0; g < NGENRE; g++) {
        U.gstart[g + 1] += U.gstart[g];
        U.gshare[g + 1] = U.gshare[g] + gsum[g] / sum;
    }
    int64_t fill[NGENRE];
    double acc[NGENRE] = {0};
    memcpy(fill, U.gstart, sizeof fill);
    for (int64_t r = 0; r < n; r++) {
        int g = genre[r];
        acc[g] += pow((double)r + 1 + ZIPF_Q, -ZIPF_S);
        U.gtrack[fill[g]] = r;
        U.gcdf[fill[g]++] = acc[g];
    }
    free(genre);
}

/* the first i in [lo, hi) with cdf[i] > x (cdf ascending, x below its end) */
static int64_t cdf_find(const double *cdf, int64_t lo, int64_t hi, double x) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > x) hi = mid; else lo = mid + 1;
    }
    return lo;
}

static int64_t draw_track(rng *r, int g) {
    if (rng_unit(r) < GENRE_SHARE) {
        int64_t a = U.gstart[g], b = U.gstart[g + 1];
        if (b > a) {
            int64_t i = cdf_find(U.gcdf, a, b, rng_unit(r) * U.gcdf[b - 1]);
            return U.gtrack[i < b ? i : b - 1];
        }
    }
    int64_t i = cdf_find(U.cdf, 0, U.ntracks, rng_unit(r) * U.cdf[U.ntracks - 1]);
    return i < U.ntracks ? i : U.ntracks - 1;
}

/* ---- names: a small vocabulary, as the MPD's titles are ---- */

static const char *const GENRE_WORDS[NGENRE][3] = {
    {"country", "Country", "country hits"}, {"chill", "Chill", "chill vibes"}, {"rap", "Rap", "rap caviar"},
    {"workout", "Workout", "gym"}, {"oldies", "Oldies", "oldies but goodies"}, {"christmas", "Christmas", "xmas"},
    {"rock", "Rock", "classic rock"}, {"party", "Party", "party playlist"}, {"throwback", "Throwbacks", "throwbacks"},
    {"jams", "Jams", "summer jams"}, {"worship", "Worship", "praise"}, {"summer", "Summer", "summer 2017"},
    {"feels", "Feels", "sad feels"}, {"new", "New", "new music"}, {"disney", "Disney", "disney songs"},
    {"lit", "Lit", "lit af"}, {"music", "Music", "my music"}, {"sleep", "Sleep", "sleepy"},
    {"vibes", "Vibes", "good vibes"}, {"pop", "Pop", "pop hits"}, {"edm", "EDM", "edm bangers"},
    {"indie", "Indie", "indie folk"}, {"jazz", "Jazz", "smooth jazz"}, {"classical", "Classical", "piano"},
    {"r&b", "R&B", "rnb"}, {"punk", "Punk", "pop punk"}, {"metal", "Metal", "heavy metal"},
    {"study", "Study", "studying"}, {"road trip", "Road Trip", "roadtrip"}, {"love", "Love", "love songs"},
    {"sad", "Sad", "sad songs"}, {"happy", "Happy", "happy songs"}, {"90s", "90's", "90s hits"},
    {"80s", "80's", "80s music"}, {"latin", "Latin", "reggaeton"}, {"reggae", "Reggae", "island"},
    {"blues", "Blues", "delta blues"}, {"folk", "Folk", "acoustic"}, {"hip hop", "Hip Hop", "hiphop"},
    {"gospel", "Gospel", "sunday"}};
static const char *const SYLL[] = {"ka", "lo", "mi", "ra", "ven", "tor", "sa", "bel", "do", "ne", "ri", "zu",
                                   "mar", "lin", "o", "the", "sun", "moon", "fi", "ya", "ton", "qu", "el", "an"};
enum { NSYLL = sizeof SYLL / sizeof *SYLL };

/* "Word Word" from a hash: 1..3 words of 1..3 syllables */
static int make_name(char *out, size_t cap, uint64_t h) {
    size_t n = 0;
    int words = 1 + (int)(h % 3);
    h /= 3;
    for (int w = 0; w < words; w++) {
        if (w && n + 1 < cap) out[n++] = ' ';
        int sy = 1 + (int)(h % 3);
        h = mix64(h);
        for (int s = 0; s < sy; s++) {
            const char *p = SYLL[h % NSYLL];
            h /= NSYLL;
            for (int k = 0; p[k] && n + 1 < cap; k++)
                out[n++] = (char)(s == 0 && k == 0 ? p[k] - 'a' + 'A' : p[k]);
        }
    }
    out[n] = 0;
    return (int)n;
}
static void make_id(char out[23], uint64_t h) {      /* 22 base-62 characters */
    static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t a = h, b = mix64(h);
    for (int i = 0; i < 22; i++) {
        uint64_t *x = i < 11 ? &a : &b;
        out[i] = B62[*x % 62];
        *x /= 62;
    }
    out[22] = 0;
}

/* ---- writing: JSON text through a zstd stream (or plain) ---- */

typedef struct {
    FILE *f;
    const char *path;
    ZSTD_CCtx *cc;
    char *text, *zout;
    size_t len, cap, zcap;
    double bytes;
} sink;
static sink S;

static void sink_flush(sink *s, int end) {
    if (!s->cc) {
        if (s->len && fwrite(s->text, 1, s->len, s->f) != s->len) cli_die("%s: write failed: %s", s->path, strerror(errno));
        s->len = 0;
        return;
    }
    ZSTD_inBuffer in = {s->text, s->len, 0};
    size_t left;
    do {
        ZSTD_outBuffer out = {s->zout, s->zcap, 0};
        left = ZSTD_compressStream2(s->cc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) cli_die("%s: zstd: %s", s->path, ZSTD_getErrorName(left));
        if (out.pos && fwrite(s->zout, 1, out.pos, s->f) != out.pos) cli_die("%s: write failed: %s", s->path, strerror(errno));
    } while (end ? left != 0 : in.pos < in.size);
    s->len = 0;
}
static void put(sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sink *s, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->text + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0) cli_die("formatting failed");
        if ((size_t)n < s->cap - s->len) { s->len += (size_t)n; s->bytes += n; break; }
        sink_flush(s, 0);
        if ((size_t)n >= s->cap) cli_die("a JSON line of %d bytes", n);
    }
}

/* ---- one playlist ---- */

typedef struct { int64_t *slot; int cap; } tset;        /* open addressing, -1 = empty */
static int tset_add(tset *t, int64_t x) {                /* 1 when new */
    uint64_t i = mix64((uint64_t)x) & (uint64_t)(t->cap - 1);
    while (t->slot[i] >= 0) {
        if (t->slot[i] == x) return 0;
        i = (i + 1) & (uint64_t)(t->cap - 1);
    }
    t->slot[i] = x;
    return 1;
}
static void tset_clear(tset *t) { for (int i = 0; i < t->cap; i++) t->slot[i] = -1; }

typedef struct {
    int64_t total_rows;
    int64_t tracks[250];
    tset seen, albums, artists;
} gen;
static gen G;

static int playlist_length(rng *r) {
    for (;;) {
        double x = exp(LEN_MU + LEN_SIGMA * rng_normal(r));
        if (x >= 5 && x < 251) return (int)x;
    }
}

static void write_playlist(sink *s, int64_t pid, int first) {
    rng r = {hash3(U.seed, 4, (uint64_t)pid)};
    double u = rng_unit(&r);
    int g = 0;
    while (g < NGENRE - 1 && U.gshare[g + 1] <= u) g++;
    int n = playlist_length(&r);
    tset_clear(&G.seen); tset_clear(&G.albums); tset_clear(&G.artists);
    int64_t dur = 0;
    for (int i = 0; i < n; i++) {
        int64_t t = draw_track(&r, g);
        for (int k = 0; k < 8 && !tset_add(&G.seen, t); k++) t = draw_track(&r, g);
        G.tracks[i] = t;
        int64_t al = track_album(t);
        tset_add(&G.albums, al);
        tset_add(&G.artists, album_artist(al));
        dur += 120000 + (int64_t)(hash3(U.seed, 5, (uint64_t)t) % 240000);
    }
    int nal = 0, nar = 0;
    for (int i = 0; i < G.albums.cap; i++) { nal += G.albums.slot[i] >= 0; nar += G.artists.slot[i] >= 0; }
    int w = (int)(rng_next(&r) % 3);
    const char *title = GENRE_WORDS[g][w];
    uint64_t extra = rng_next(&r);
    int followers = 1 + (int)floor(-log(1 - rng_unit(&r)) * 0.7);   /* mostly 1 as in the MPD */
    put(s, "%s        {\n            \"name\": \"%s%s\", \n            \"collaborative\": \"%s\", \n"
           "            \"pid\": %" PRId64 ", \n            \"modified_at\": %" PRId64 ", \n"
           "            \"num_tracks\": %d, \n            \"num_albums\": %d, \n            \"num_followers\": %d, \n"
           "            \"tracks\": [\n",
        first ? "" : ", \n", title, extra % 4 == 0 ? " 2" : "", extra % 50 == 0 ? "true" : "false", pid,
        (int64_t)1262304000 + (int64_t)(extra >> 8) % 247000000, n, nal, followers);
    for (int i = 0; i < n; i++) {
        int64_t t = G.tracks[i], al = track_album(t), ar = album_artist(al);
        char tn[64], an[64], aln[64], tid[23], aid[23], alid[23];
        make_name(tn, sizeof tn, hash3(U.seed, 6, (uint64_t)t));
        make_name(an, sizeof an, hash3(U.seed, 7, (uint64_t)ar));
        make_name(aln, sizeof aln, hash3(U.seed, 8, (uint64_t)al));
        make_id(tid, hash3(U.seed, 9, (uint64_t)t));
        make_id(aid, hash3(U.seed, 10, (uint64_t)ar));
        make_id(alid, hash3(U.seed, 11, (uint64_t)al));
        put(s, "                {\n                    \"pos\": %d, \n                    \"artist_name\": \"%s\", \n"
               "                    \"track_uri\": \"spotify:track:%s\", \n                    \"artist_uri\": \"spotify:artist:%s\", \n"
               "                    \"track_name\": \"%s\", \n                    \"album_uri\": \"spotify:album:%s\", \n"
               "                    \"duration_ms\": %d, \n                    \"album_name\": \"%s\"\n                }%s\n",
            i, an, tid, aid, tn, alid, 120000 + (int)(hash3(U.seed, 5, (uint64_t)t) % 240000), aln, i + 1 < n ? ", " : "");
    }
    put(s, "            ], \n            \"num_edits\": %d, \n            \"duration_ms\": %" PRId64 ", \n"
           "            \"num_artists\": %d\n        }",
        2 + (int)(extra >> 40) % 30, dur, nar);
    G.total_rows += n;
}

static void write_slice(const struct opts *o, int64_t a, int64_t b) {
    char name[128], path[4200];
    snprintf(name, sizeof name, "mpd.slice.%" PRId64 "-%" PRId64 ".json%s", a, b - 1, o->plain ? "" : ".zst");
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    S.path = path;
    S.f = outfile_open(path, 1);
    if (S.cc && ZSTD_isError(ZSTD_CCtx_reset(S.cc, ZSTD_reset_session_only))) cli_die("zstd reset failed");
    put(&S, "{\n    \"info\": {\n        \"generated_on\": \"synthetic (mpd-synth seed %" PRIu64 " scale %g)\", \n"
            "        \"slice\": \"%" PRId64 "-%" PRId64 "\", \n        \"version\": \"v1\"\n    }, \n    \"playlists\": [\n",
        o->seed, o->scale, a, b - 1);
    for (int64_t p = a; p < b; p++) write_playlist(&S, p, p == a);
    put(&S, "\n    ]\n}\n");
    sink_flush(&S, 1);
    outfile_close(S.f);
}

int main(int argc, char **argv) {
    cli_init("mpd-synth", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    if (mkdir(o.dir, 0777) && errno != EEXIST) cli_die("%s: cannot create the folder: %s", o.dir, strerror(errno));
    int64_t npl = llround(1000000 * o.scale);
    if (npl < 1) npl = 1;
    universe_build(&o);
    S.cap = 1 << 20;
    S.text = malloc(S.cap);
    if (!o.plain) {
        S.zcap = ZSTD_CStreamOutSize();
        S.zout = malloc(S.zcap);
        S.cc = ZSTD_createCCtx();
        if (!S.cc || ZSTD_isError(ZSTD_CCtx_setParameter(S.cc, ZSTD_c_compressionLevel, o.level)))
            cli_die("zstd: cannot set level %d", o.level);
    }
    static int64_t slots[3][512];
    G.seen = (tset){slots[0], 512}; G.albums = (tset){slots[1], 512}; G.artists = (tset){slots[2], 512};
    if (!S.text || (!o.plain && !S.zout)) cli_die("out of memory");
    cli_progress prog;
    cli_progress_init(&prog, 10);
    double t0 = cli_now();
    for (int64_t a = 0; a < npl; a += o.slice_size) {
        int64_t b = a + o.slice_size < npl ? a + o.slice_size : npl;
        write_slice(&o, a, b);
        cli_progress_update(&prog, "%" PRId64 "/%" PRId64 " playlists, %.1f GB of JSON, %s",
                            b, npl, S.bytes / 1e9, cli_progress_eta(&prog, (double)b, (double)npl, "playlists"));
    }
    cli_progress_done(&prog);
    cli_warn("%" PRId64 " playlists, %" PRId64 " rows (universe %" PRId64 " tracks, %" PRId64 " albums, %" PRId64
             " artists), %.2f GB of JSON in %.1f s",
             npl, G.total_rows, U.ntracks, U.nalbums, U.nartists, S.bytes / 1e9, cli_now() - t0);
    ZSTD_freeCCtx(S.cc);
    free(S.text); free(S.zout);
    free(U.cdf); free(U.gcdf); free(U.gtrack); free(U.gstart);
    return 0;
}
