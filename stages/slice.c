/* slice - cut each track's spectrogram frames (rows of spectro) into tiles of
 * n_mels x width for a CNN: a hop between tiles, a policy for the partial
 * tile at the end, optional frame and tile ranges.  Memory: one tile. */
#include "cli.h"
#include "shard.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: slice [options] [IN.ts | -]\n"
"Cut the frames of each track (consecutive rows with one key, as spectro\n"
"writes them) into tiles of n_mels x width, one output row per tile.\n"
"\n"
"  --width N         frames per tile (default 128)\n"
"  --hop N           frames between the starts of two tiles (default = width)\n"
"  --last P          a tile that starts inside the track but runs past its\n"
"                    end: pad (fill with --pad-value, as the GTZAN CNN notebook) | drop\n"
"                    (default pad)\n"
"  --pad-value V     value of padded frames (default 0)\n"
"  --short P         a track shorter than one tile (a clip of under 3 s with\n"
"                    the defaults, a file cut short, a silent header): error\n"
"                    (stop, naming it) | pad (one padded tile, as --last pad)\n"
"                    | drop (leave it out, counted on stderr) (default error)\n"
"  --frames A..B     use only frames A to B of each track, inclusive, counted\n"
"                    from 0; either end may be left out (default all)\n"
"  --tiles A..B      keep only tiles A to B of each track, inclusive (the CNN\n"
"                    notebook kept 6..25); either end may be left out (default all)\n"
"  --key-format F    index: key \"TRACK#I\" (I = tile index) | track: key TRACK,\n"
"                    I = --tiles start + position among the track's rows\n"
"                    (default index)\n"
"  --shard I/N       tile only the tracks whose key hashes to I (FNV-1a 64 of\n"
"                    the track key mod N; a track = a run of rows with one\n"
"                    key), so each track lives in one shard; `merge` joins\n"
"                    the N outputs into exactly the unsharded output.  Every\n"
"                    shard reads the whole input; needs a named input file\n"
"  -o FILE           output stream (default stdout; FILE.tmp.* until complete)\n"
"  -h, --help        this help;  -V  version\n"
"\n"
"Input: the first tensor of the stream, f32 rows of n_mels values (one frame\n"
"each); further tensors are ignored.  Tile I of a track covers frames\n"
"A + I*hop .. A + I*hop + width - 1 (A = --frames start).  Output tensor\n"
"\"tiles\", f32 rows of shape [n_mels, width]: row-major, mel band first, so\n"
"row m holds band m over the tile's frames (librosa's S[:, t0:t1] layout).\n"
"The input meta is kept and a \"slice\" object added.  A track shorter than\n"
"one tile is an error unless --short says otherwise: a tile that is mostly\n"
"padding says little of how the track sounds.\n"
"Example:\n"
"  spectro --fmax 8000 songs/*.mp3 | slice --tiles 6..25 > tiles.ts\n";

enum { SHORT_ERROR, SHORT_PAD, SHORT_DROP };

struct opts {
    const char *input, *output;
    int width, hop, drop, plain_key;
    int short_policy;                           /* SHORT_ERROR, SHORT_PAD, SHORT_DROP */
    float pad_value;
    int64_t f0, f1, t0, t1;                     /* inclusive ranges */
    shard_spec shard;
};

static void parse_range(const char *opt, const char *v, int64_t *a, int64_t *b) {
    const char *dots = strstr(v, "..");
    if (!dots) cli_usage("%s: '%s' is not a range A..B (A.. and ..B allowed)", opt, v);
    char lo[32] = "", hi[32] = "";
    if ((size_t)(dots - v) >= sizeof lo || strlen(dots + 2) >= sizeof hi)
        cli_usage("%s: '%s' is not a range A..B", opt, v);
    memcpy(lo, v, (size_t)(dots - v));
    strcpy(hi, dots + 2);
    *a = lo[0] ? cli_long(opt, lo, 0, INT64_MAX / 4) : 0;
    *b = hi[0] ? cli_long(opt, hi, 0, INT64_MAX / 4) : INT64_MAX / 4;
    if (*a > *b) cli_usage("%s: range '%s' ends before it starts", opt, v);
}

static struct opts parse_opts(int argc, char **argv) {
    enum { O_SHARD = 256, O_WIDTH, O_HOP, O_PAD, O_FRAMES, O_TILES, O_LAST, O_SHORT, O_KEYFMT };
    static const struct option lo[] = {
        {"shard", 1, 0, O_SHARD}, {"width", 1, 0, O_WIDTH}, {"hop", 1, 0, O_HOP},
        {"pad-value", 1, 0, O_PAD}, {"frames", 1, 0, O_FRAMES}, {"tiles", 1, 0, O_TILES},
        {"last", 1, 0, O_LAST}, {"short", 1, 0, O_SHORT}, {"key-format", 1, 0, O_KEYFMT}, {0, 0, 0, 0}};
    struct opts o = {.width = 128, .hop = -1, .t1 = INT64_MAX / 4, .f1 = INT64_MAX / 4};
    char err[200];
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        const char *v = optarg;
        switch (c) {
        case 'o': o.output = v; break;
        case O_SHARD: if (shard_parse(v, &o.shard, err, sizeof err)) cli_usage("%s", err); break;
        case O_WIDTH: o.width = (int)cli_long("--width", v, 1, 1 << 16); break;
        case O_HOP: o.hop = (int)cli_long("--hop", v, 1, 1 << 24); break;
        case O_PAD: o.pad_value = (float)cli_double("--pad-value", v, -1e30, 1e30); break;
        case O_FRAMES: parse_range("--frames", v, &o.f0, &o.f1); break;
        case O_TILES: parse_range("--tiles", v, &o.t0, &o.t1); break;
        case O_LAST:
            if (strcmp(v, "pad") && strcmp(v, "drop")) cli_usage("--last: '%s' is not pad or drop", v);
            o.drop = strcmp(v, "drop") == 0;
            break;
        case O_SHORT:
            if (strcmp(v, "error") && strcmp(v, "pad") && strcmp(v, "drop")) cli_usage("--short: '%s' is not error, pad or drop", v);
            o.short_policy = !strcmp(v, "pad") ? SHORT_PAD : !strcmp(v, "drop") ? SHORT_DROP : SHORT_ERROR;
            break;
        case O_KEYFMT:
            if (strcmp(v, "index") && strcmp(v, "track")) cli_usage("--key-format: '%s' is not index or track", v);
            o.plain_key = strcmp(v, "track") == 0;
            break;
        case ':': cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o.input) cli_usage("one input stream only ('%s' and '%s')", o.input, argv[i]);
        o.input = argv[i];
    }
    if (o.hop < 0) o.hop = o.width;
    if (shard_active(&o.shard) && (!o.input || strcmp(o.input, "-") == 0))
        cli_usage("--shard needs a named input file (its size and checksum identify the input), not stdin");
    return o;
}

/* the frames of the current track waiting to become tiles */
typedef struct {
    const struct opts *o;
    int nm;
    float *buf;                 /* width rows of nm */
    float *tile;                /* nm x width, the output row */
    int count;                  /* frames in buf */
    int64_t frame;              /* next input frame index within the track */
    int64_t skip;               /* frames to skip before the next tile (hop > width) */
    int64_t tile_index;
    char *key;
    char *out_key;
    int64_t tiles_out;
    shard_out *so;              /* --shard: positions of the tiles written */
    int64_t track_no;           /* the current track's number in the input (its position) */
    const char *src;            /* the input's name, for messages */
    double fps;                 /* frames per second (spectro's meta), 0 = unknown */
    int64_t short_dropped;
} tiler;

static void emit(tiler *t, ts_writer *w) {
    const struct opts *o = t->o;
    if (t->tile_index >= o->t0 && t->tile_index <= o->t1) {
        for (int f = 0; f < o->width; f++)      /* transpose to [mel][time] */
            for (int m = 0; m < t->nm; m++)
                t->tile[(size_t)m * o->width + f] = f < t->count ? t->buf[(size_t)f * t->nm + m] : o->pad_value;
        const char *k = t->key;
        if (!o->plain_key) {
            if (strlen(t->key) + 22 >= TS_MAX_KEY) cli_die("key '%.40s...' is too long to add a tile index", t->key);
            snprintf(t->out_key, TS_MAX_KEY, "%s#%lld", t->key, (long long)t->tile_index);
            k = t->out_key;
        }
        if (ts_write_row(w, k, t->tile)) cli_die("%s", ts_werror(w));
        if (t->so && shard_out_rows(t->so, t->track_no, 1)) cli_die("cannot spool the row positions");
        t->tiles_out++;
    }
    t->tile_index++;
    if (o->hop < o->width) {                    /* keep the overlap */
        int keep = t->count > o->hop ? t->count - o->hop : 0;
        memmove(t->buf, t->buf + (size_t)(t->count - keep) * t->nm, (size_t)keep * t->nm * sizeof(float));
        t->count = keep;
    } else {
        t->skip = o->hop - o->width;
        t->count = 0;
    }
}

static void add_frame(tiler *t, const float *row, ts_writer *w) {
    const struct opts *o = t->o;
    int64_t f = t->frame++;
    if (f < o->f0 || f > o->f1 || t->tile_index > o->t1) return;
    if (t->skip) { t->skip--; return; }
    memcpy(t->buf + (size_t)t->count * t->nm, row, (size_t)t->nm * sizeof(float));
    if (++t->count == o->width) emit(t, w);
}

/* a track that ended before its first tile was full */
static int short_track(tiler *t) {
    const struct opts *o = t->o;
    if (o->short_policy == SHORT_PAD) return 0;
    if (o->short_policy == SHORT_DROP) { t->short_dropped++; return 1; }
    char secs[64] = "";
    if (t->fps > 0) snprintf(secs, sizeof secs, " (%.2f s)", t->count / t->fps);
    cli_die("%s: track '%s' has %d frames%s, fewer than one tile of %d%s: too short to tell how it sounds "
            "(was the file cut short?); use a longer clip, or --short pad to pad it, --short drop to leave it out",
            t->src, t->key, t->count, secs, o->width, o->f0 || o->f1 < INT64_MAX / 4 ? " within --frames" : "");
}

static void end_track(tiler *t, ts_writer *w) {
    int is_short = t->tile_index == 0 && t->count > 0;
    if (is_short && short_track(t)) t->count = 0;
    if (!t->o->drop || (is_short && t->o->short_policy == SHORT_PAD))
        while (t->count > 0 && t->tile_index <= t->o->t1) emit(t, w);
    t->count = 0;
    t->frame = 0;
    t->skip = 0;
    t->tile_index = 0;
}

static void build_header(ts_header *out, const ts_header *in, const struct opts *o) {
    int64_t shape[2] = {in->shape[0], o->width};
    if (ts_header_init(out, "tiles", TS_F32, 1, NULL) || ts_header_set_shape(out, 2, shape))
        cli_die("out of memory");
    out->key_name = strdup(o->plain_key ? "track" : "track#tile");
    if (in->meta) out->meta = cJSON_Duplicate(in->meta, 1);
    cJSON *m = ts_header_meta(out), *s = cJSON_CreateObject();
    cJSON_DeleteItemFromObject(m, "slice");
    cJSON_DeleteItemFromObject(m, "row");
    cJSON_AddStringToObject(m, "row", "one tile: [n_mels, width], row m = mel band m over the tile's frames");
    cJSON_AddNumberToObject(s, "width", o->width);
    cJSON_AddNumberToObject(s, "hop", o->hop);
    cJSON_AddStringToObject(s, "last", o->drop ? "drop" : "pad");
    cJSON_AddNumberToObject(s, "pad_value", o->pad_value);
    cJSON_AddNumberToObject(s, "frames_first", (double)o->f0);
    if (o->f1 < INT64_MAX / 4) cJSON_AddNumberToObject(s, "frames_last", (double)o->f1);
    cJSON_AddNumberToObject(s, "tiles_first", (double)o->t0);
    if (o->t1 < INT64_MAX / 4) cJSON_AddNumberToObject(s, "tiles_last", (double)o->t1);
    cJSON_AddStringToObject(s, "layout", "mel,time");
    cJSON_AddStringToObject(s, "key_format", o->plain_key ? "track (tile index = tiles_first + position)"
                                                          : "track#tile_index");
    cJSON_AddItemToObject(m, "slice", s);
}

int main(int argc, char **argv) {
    cli_init("slice", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    ts_reader *r = cli_open_read(o.input);
    const ts_header *h;
    int rc = ts_next_tensor(r, &h);
    if (rc < 0) cli_die("%s", ts_error(r));
    if (rc == 0) cli_die("%s: the stream has no tensor; give spectro's output", ts_reader_name(r));
    if (h->dtype != TS_F32 || h->ndim != 1 || h->shape[0] < 1)
        cli_die("%s: tensor '%s' has %s rows of %d dims; slice needs f32 rows of n_mels values "
                "(one frame each), as spectro writes", ts_reader_name(r), h->name, ts_dtype_name(h->dtype), h->ndim);
    if ((size_t)h->shape[0] * (size_t)o.width > (TS_MAX_BLOCK_RAW / 4) / sizeof(float))
        cli_usage("a tile of %lld x %d values is too large", (long long)h->shape[0], o.width);
    ts_header oh;
    build_header(&oh, h, &o);
    tiler t = {.o = &o, .nm = (int)h->shape[0], .src = ts_reader_name(r)};
    const cJSON *fps = h->meta ? cJSON_GetObjectItemCaseSensitive(h->meta, "frames_per_second") : NULL;
    if (cJSON_IsNumber(fps) && fps->valuedouble > 0) t.fps = fps->valuedouble;
    t.buf = malloc((size_t)t.nm * (size_t)o.width * sizeof(float));
    t.tile = malloc((size_t)t.nm * (size_t)o.width * sizeof(float));
    t.out_key = malloc(TS_MAX_KEY);
    if (!t.buf || !t.tile || !t.out_key) cli_die("out of memory");
    if (shard_active(&o.shard)) {
        char err[600];
        if (shard_header_is_shard(h))
            cli_die("%s: tensor '%s' is one shard's output; merge the shards first, then slice", o.input, h->name);
        if (!(t.so = shard_out_new(&o.shard, "tracks whose key hashes to I (FNV-1a 64 mod N), position = track number")))
            cli_die("out of memory");
        if (shard_out_input(t.so, o.input, err, sizeof err)) cli_die("%s", err);
        if (shard_out_annotate(t.so, &oh)) cli_die("out of memory");
    }
    ts_writer *w = cli_open_write(o.output);
    if (ts_begin_tensor(w, &oh)) cli_die("%s", ts_werror(w));
    ts_block b;
    int owned = 1;
    t.track_no = -1;
    while ((rc = ts_read_block(r, &b)) == 1) {
        for (int64_t i = 0; i < b.nrows; i++) {
            if (!t.key || strcmp(t.key, b.keys[i])) {
                if (t.key) end_track(&t, w);
                free(t.key);
                if (!(t.key = strdup(b.keys[i]))) cli_die("out of memory");
                t.track_no++;
                owned = shard_owns_key(&o.shard, t.key);
            }
            if (owned) add_frame(&t, (const float *)b.data + i * t.nm, w);
        }
    }
    if (rc < 0) cli_die("%s", ts_error(r));
    if (t.key) end_track(&t, w);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    if (t.so) {
        char err[512];
        if (shard_out_finish(t.so, w, err, sizeof err)) cli_die("%s", err);
        shard_out_free(t.so);
    }
    cli_close_write(w);
    if (t.short_dropped) cli_warn("%lld tracks shorter than one tile left out (--short drop)", (long long)t.short_dropped);
    ts_close_read(r);
    ts_header_free(&oh);
    free(t.buf); free(t.tile); free(t.out_key); free(t.key);
    return EXIT_OK;
}
