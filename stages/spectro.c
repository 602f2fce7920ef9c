/* spectro - music files to log-mel spectrogram frames (librosa defaults):
 * decode + down-mix + resample (common/audio.c), STFT power (common/stft.c),
 * mel filter bank and power_to_db (common/mel.c).  One output row per frame,
 * keyed by track.  Files are processed in parallel with -j (worker threads
 * taking the files in list order, each file decoded on a thread of its own
 * while the worker runs its STFT), written in input order by the main thread
 * while the workers go on. */
#include "audio.h"
#include "cli.h"
#include "mel.h"
#include "outfile.h"
#include "resample.h"
#include "shard.h"
#include "stft.h"
#include "strmap.h"
#include "text.h"

#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char HELP[] =
"Usage: spectro [options] FILE...    or    find DIR -name '*.mp3' | spectro [options]\n"
"Log-mel spectrogram of each audio file, one output row (n_mels f32) per frame,\n"
"keyed by track.  With no FILE, or FILE '-', reads file paths from stdin, one\n"
"per line (-0: NUL-separated, for names that hold line ends).  Formats: whatever libsndfile reads (WAV, FLAC, Ogg Vorbis, Opus,\n"
"MP3, AIFF, ...).  Defaults are librosa's (feature.melspectrogram + power_to_db).\n"
"\n"
"  -r, --sr HZ         resample to this rate (default 22050)\n"
"  --n-fft N           FFT and window length (default 2048)\n"
"  --hop N             hop length in samples (default 512)\n"
"  --n-mels N          mel bands (default 128)\n"
"  --fmin HZ           lowest filter edge (default 0)\n"
"  --fmax HZ           highest filter edge (default sr/2; the GTZAN CNN notebook used 8000)\n"
"  --mel-scale S       slaney | htk (default slaney)\n"
"  --norm N            slaney (area normalisation) | none (default slaney)\n"
"  --pad M             centre padding: constant (zeros, librosa >= 0.9) |\n"
"                      reflect (torchaudio's and older librosa's default)\n"
"                      (default constant)\n"
"  --no-center         frames start at sample t*hop, no padding\n"
"  --ref R             dB reference (default 1.0)\n"
"  --amin A            power floor before log10 (default 1e-10)\n"
"  --top-db D          clamp at (track max - D) dB; 0 = no clamp (default 80)\n"
"  --power             output mel power, no dB conversion (ignores the 3 above)\n"
"  --resample Q        poly (polyphase Kaiser sinc: flat to 0.91 of Nyquist,\n"
"                      >= 100 dB stopband from Nyquist) | poly-fast (flat to\n"
"                      0.80, ~80 dB, 1/3 of the taps) | src-best | src-medium |\n"
"                      src-fastest (libsamplerate's sinc converters)\n"
"                      (default poly)\n"
"  --key RULE          track key: stem (file name without extension) | name |\n"
"                      path (as given) | parent (parent-dir/stem) (default stem)\n"
"  --keep-going        skip files that cannot be decoded (exit status is still 1)\n"
"  --skipped FILE      skip such files (as --keep-going) and write their paths\n"
"                      to FILE, one per line (-0: NUL-terminated); the exit\n"
"                      status is then 0 when only such files failed\n"
"  --tags FILE         write each processed file's title and artist tags to\n"
"                      FILE, a TSV (key, title, artist; a header line): the\n"
"                      libsndfile tags (Vorbis comments of Ogg and FLAC, WAV\n"
"                      LIST INFO, an MP3's ID3v2 or ID3v1), empty when a file\n"
"                      has none; TABs, line ends and other control characters\n"
"                      in a tag read as spaces; a tag that is not UTF-8 text\n"
"                      (an ID3v1 tag is Latin-1) is left empty, said on\n"
"                      stderr; a key that holds a TAB or a\n"
"                      line end cannot be a TSV cell and gets no line\n"
"                      (written with the output and --skipped, all or none)\n"
"  -j, --threads N     files processed in parallel (default 1).  Each file runs\n"
"                      on two threads (decoding; resampling, STFT and mel),\n"
"                      and one more thread writes the finished files (clamp,\n"
"                      zstd) in input order while the next ones decode\n"
"  --buffer-mb N       frames of one track kept in memory before spilling to an\n"
"                      unnamed file in $TMPDIR (default 64)\n"
"  -q, --quiet         no progress line\n"
"  --progress S        when stderr is not a terminal, a progress line every S\n"
"                      seconds (default 30; on a terminal it is live)\n"
"  -0, --null          paths on stdin end with NUL, not a line end (find -print0)\n"
"  --shard I/N         process only the files of shard I of N (0-based): those\n"
"                      whose track key hashes to I (FNV-1a 64 mod N), so files\n"
"                      with one key meet in one shard; `merge` joins the N\n"
"                      outputs into exactly the unsharded output.  The whole\n"
"                      path list is read first (its bytes identify the input)\n"
"  -o FILE             output stream (default stdout; FILE.tmp.* until complete)\n"
"  -h, --help          this help;  -V  version\n"
"\n"
"Per file: channels are averaged (librosa.to_mono), resampled with a\n"
"band-limited sinc filter (poly: output sample t at input time t, exactly\n"
"ceil(n * sr / rate) samples, as soxr; a rate pair with no small ratio, like\n"
"44101 Hz, uses src-best), framed with a periodic Hann window (torch.stft,\n"
"centred: frame t covers samples t*hop - n_fft/2 ..), power |X|^2, Slaney mel\n"
"filters (librosa.filters.mel), then 10 log10(max(amin, S)) - 10 log10(max(amin,\n"
"ref)), floored at the track's maximum - top_db.  A track of L samples at the\n"
"target rate gives 1 + L/hop frames (centred), so silence and files shorter\n"
"than a window give rows too; a file with no decodable sample is an error\n"
"(as a file that fails to decode: --keep-going skips it).  A file that ends\n"
"before the length its header states (an MP3 or FLAC cut short: 2 % and\n"
"0.5 s short or more) gives the rows of what decoded, with a warning saying\n"
"how many seconds that is; a decode error in mid-file is an error that says\n"
"after how many seconds.  Output tensor \"mel\", key \"track\", every\n"
"parameter in its meta.\n"
"Memory: the path list (read whole before the first file, so the progress\nline can say how many files are left), O(n_fft + decode chunk) per thread, the resampler's table (one per\n"
"input rate, e.g. 0.2 MB for 48 kHz), plus --buffer-mb per thread and one\n"
"more (the top_db clamp needs the track's maximum before the first row is\n"
"written; a finished track waits there for its turn to be written).\n"
"Example:\n"
"  find music -name '*.mp3' | spectro -j 2 --fmax 8000 -o mel.ts\n";

typedef enum { KEY_STEM, KEY_NAME, KEY_PATH, KEY_PARENT } key_rule;

struct opts {
    const char *output;
    int sr, n_fft, hop, n_mels, center, db, keep_going, threads, quiet, null_list;
    const char *skipped;        /* --skipped FILE */
    const char *tags;           /* --tags FILE */
    double progress_every;      /* --progress S */
    double fmin, fmax, ref, amin, top_db;
    size_t buffer_bytes;
    mel_scale scale;
    mel_norm norm;
    stft_pad pad;
    audio_quality quality;
    key_rule key;
    char **files;               /* NULL-terminated; "-" = paths from stdin */
    shard_spec shard;
};

/* ---- frames of one track: memory up to a cap, then an unnamed file ---- */
typedef struct {
    int n_mels;
    float *mem;
    size_t mem_frames, mem_cap, max_mem_frames;
    FILE *spill;
    int64_t frames;
    float max;
} mel_store;

static int store_append(mel_store *s, const float *row) {
    if (s->mem_frames < s->max_mem_frames) {
        if (s->mem_frames == s->mem_cap) {
            size_t cap = s->mem_cap ? s->mem_cap * 2 : 1024;
            if (cap > s->max_mem_frames) cap = s->max_mem_frames;
            size_t bytes = cap * (size_t)s->n_mels * sizeof(float);
            /* plain realloc, not ts_big_realloc: a 30 s track's frames (0.65
             * MB) would take a whole 2 MB huge page, zeroed by the kernel */
            float *m = realloc(s->mem, bytes);
            if (!m) return -1;
            s->mem = m;
            s->mem_cap = cap;
        }
        memcpy(s->mem + s->mem_frames * (size_t)s->n_mels, row, (size_t)s->n_mels * sizeof *row);
        s->mem_frames++;
    } else {
        if (!s->spill && !(s->spill = tmpfile())) return -1;
        if (fwrite(row, sizeof *row, (size_t)s->n_mels, s->spill) != (size_t)s->n_mels) return -1;
    }
    s->frames++;
    for (int i = 0; i < s->n_mels; i++) if (row[i] > s->max) s->max = row[i];
    return 0;
}

static void store_clear(mel_store *s) {
    if (s->spill) fclose(s->spill);
    s->spill = NULL;
    s->mem_frames = 0;
    s->frames = 0;
    s->max = -1e30f;
}

/* ---- one track ---- */
/* A track's samples come from a second thread: the decoder thread runs
 * audio_decode (libsndfile and the down-mix) into a ring of blocks while the
 * job's thread resamples them (audio_read fed from the ring), runs the STFT
 * and the mel bank: the two halves of the work overlap within a file, and
 * the decoders, the slower half, run alone on theirs.  The blocks are the
 * decode calls of a one-thread audio_read, in order: the same samples, the
 * same frames, the same bytes. */
/* Frames per decode call and block: 16384, not audio.c's 65536, since the
 * blocks (three per slot), the interleaved decode buffer and the samples
 * are memory first touched per slot or thread, and every 4 KB page of it a
 * page fault (some 16 us each on a virtual machine): 2390 -> 1430 faults
 * on the 12 bench clips, for more but cheap hand-overs between the threads.
 * libsndfile's decoding costs the same in calls of 16384 or 65536 frames. */
#define SAMPLES_CAP 16384
#define NBLOCKS 3

typedef struct {
    audio_reader *a;
    float *blk[NBLOCKS];
    long n[NBLOCKS];            /* audio_read's answer for each block */
    int head, count;            /* next block to take, blocks filled */
    int stop;                   /* the consumer quit early */
    int ended;                  /* the last block (end of file or error) is in */
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} feeder;

static void *feeder_main(void *arg) {
    feeder *f = arg;
    int at = 0;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (f->count == NBLOCKS && !f->stop) pthread_cond_wait(&f->cv, &f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop) break;
        long n = audio_decode(f->a, f->blk[at], SAMPLES_CAP);  /* the block is ours until count says */
        pthread_mutex_lock(&f->mu);
        f->n[at] = n;
        f->count++;
        if (n <= 0) f->ended = 1;
        if (f->count >= 2 || f->ended) pthread_cond_broadcast(&f->cv);   /* what feeder_take waits for */
        pthread_mutex_unlock(&f->mu);
        at = (at + 1) % NBLOCKS;
        if (n <= 0) break;      /* end of file or a decode error: the last block */
    }
    return NULL;
}

/* the next block's samples (*n = audio_decode's answer); release it with feeder_next */
static float *feeder_take(feeder *f, long *n) {
    pthread_mutex_lock(&f->mu);
    /* out of blocks: sleep until two are in (or the last), not one, so that
     * the decoder wakes this thread half as often */
    if (f->count == 0)
        while (f->count < 2 && !f->ended) pthread_cond_wait(&f->cv, &f->mu);
    *n = f->n[f->head];
    pthread_mutex_unlock(&f->mu);
    return f->blk[f->head];
}

static void feeder_next(feeder *f) {
    pthread_mutex_lock(&f->mu);
    f->head = (f->head + 1) % NBLOCKS;
    f->count--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* audio_read's input (audio_set_feed): the next block, whole (a block is one
 * decode call, as audio_read alone would make it); the last answer, 0 or -1,
 * stays */
static long feeder_feed(void *ctx, float *out, long cap) {
    feeder *f = ctx;
    long n;
    float *x = feeder_take(f, &n);
    if (n <= 0) return n;
    if (n > cap) n = cap;       /* not reached: blocks and requests are one chunk */
    memcpy(out, x, (size_t)n * sizeof *out);
    feeder_next(f);
    return n;
}

static void feeder_stop(feeder *f) {
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

typedef struct {
    const struct opts *o;
    const stft_plan *plan;
    const mel_bank *bank;
    stft_stream *stft;
    feeder feed;
    float *melrow;
    float *samples;             /* SAMPLES_CAP resampled samples */
    mel_store st;
    const char *path;
    char *key;
    char *title, *artist;       /* --tags: the file's tags, NULL when none */
    int bad_tags;               /* --tags: they were not UTF-8 text (left out) */
    int failed;
    double seconds;             /* of audio at the target rate */
    char err[600];
    char warn[600];             /* a file that ends early: said after its rows */
} job;

static int on_frame(void *ctx, const float *power, int nbins) {
    job *j = ctx;
    mel_apply(j->bank, power, j->melrow);
    if (j->o->db) mel_power_to_db(j->melrow, (size_t)j->o->n_mels, j->o->ref, j->o->amin);
    return store_append(&j->st, j->melrow) ? -1 : 0;
}

static void run_job(job *j) {
    char err[400];
    audio_opts ao = {.target_rate = j->o->sr, .quality = j->o->quality, .chunk_frames = SAMPLES_CAP};
    store_clear(&j->st);
    stft_stream_reset(j->stft);
    j->failed = 0;
    j->seconds = 0;
    free(j->title); free(j->artist);
    j->title = j->artist = NULL;
    audio_reader *a = audio_open(j->path, &ao, err, sizeof err);
    if (!a) {
        snprintf(j->err, sizeof j->err, "%s: cannot decode: %s", j->path, err);
        j->failed = 1;
        return;
    }
    if (j->o->tags) {
        const char *t = audio_tag_title(a), *ar = audio_tag_artist(a);
        j->bad_tags = (t && !text_valid_utf8(t)) || (ar && !text_valid_utf8(ar));
        if (j->bad_tags) t = ar = NULL;
        if ((t && !(j->title = strdup(t))) || (ar && !(j->artist = strdup(ar)))) {
            snprintf(j->err, sizeof j->err, "%s: out of memory reading its tags", j->path);
            j->failed = 1;
            audio_close(a);
            return;
        }
    }
    long n;
    int64_t total = 0;
    int rc = 0;
    feeder *f = &j->feed;
    f->a = a;
    f->head = f->count = f->stop = f->ended = 0;
    if (pthread_create(&f->tid, NULL, feeder_main, f)) {
        snprintf(j->err, sizeof j->err, "%s: cannot start a decoder thread", j->path);
        j->failed = 1;
        audio_close(a);
        return;
    }
    audio_set_feed(a, feeder_feed, f);
    /* after a failed push, one more block is looked at (a decode error there
     * is the one said) */
    while ((n = audio_read(a, j->samples, SAMPLES_CAP)) > 0 && !rc) {
        total += n;
        rc = stft_stream_push(j->stft, j->samples, (size_t)n, on_frame, j);
    }
    feeder_stop(f);
    pthread_join(f->tid, NULL);
    if (!rc && n == 0) rc = stft_stream_finish(j->stft, on_frame, j);
    if (n < 0)
        snprintf(j->err, sizeof j->err, "%s: decode error after %.2f s: %s", j->path,
                 (double)total / j->o->sr, audio_error(a));
    else if (rc)
        snprintf(j->err, sizeof j->err, "%s: cannot store frames (out of memory or %s full)",
                 j->path, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    j->failed = n < 0 || rc;
    j->seconds = (double)total / j->o->sr;
    j->warn[0] = 0;
    int rate = audio_file_rate(a);
    if (!j->failed && audio_decoded_frames(a) == 0) {
        snprintf(j->err, sizeof j->err, "%s: no audio: nothing decodes (%s)", j->path,
                 audio_file_frames(a) == 0 ? "the file holds no samples" : "is it cut short before its first frame?");
        j->failed = 1;
    } else if (!j->failed && audio_ends_early(a) && rate > 0) {
        snprintf(j->warn, sizeof j->warn, "%s: the file ends early: %.2f s decoded of the %.2f s its header states "
                 "(cut short or damaged?); its rows cover what was decoded", j->path,
                 (double)audio_decoded_frames(a) / rate, (double)audio_file_frames(a) / rate);
    }
    audio_close(a);
}

/* ---- keys ---- */
static char *make_key(const char *path, key_rule rule) {
    if (rule == KEY_PATH) return strdup(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *from = base;
    if (rule == KEY_PARENT && base > path) {    /* back to the start of the parent's name */
        const char *p = base - 1;
        while (p > path && p[-1] != '/') p--;
        from = p;
    }
    size_t len = strlen(from);
    const char *dot = strrchr(base, '.');
    if (rule != KEY_NAME && dot && dot > base) len = (size_t)(dot - from);
    return strndup(from, len);
}

/* ---- the list of input paths: arguments, '-' = lines of stdin ---- */
typedef struct { char **files; int i, in_stdin, null_list; char *line; size_t cap; } path_iter;

static const char *next_path(path_iter *it) {
    for (;;) {
        if (it->in_stdin) {
            ssize_t n = getdelim(&it->line, &it->cap, it->null_list ? '\0' : '\n', stdin);
            if (n < 0) { it->in_stdin = 0; continue; }
            if (it->null_list) {            /* a name may end with a line end */
                if (n > 0 && it->line[n - 1] == '\0') n--;
                it->line[n] = 0;
            } else
                while (n > 0 && (it->line[n - 1] == '\n' || it->line[n - 1] == '\r')) it->line[--n] = 0;
            if (n == 0) continue;
            return it->line;
        }
        const char *f = it->files[it->i];
        if (!f) return NULL;
        it->i++;
        if (strcmp(f, "-") == 0) { it->in_stdin = 1; continue; }
        return f;
    }
}

/* ---- options ---- */
static struct opts parse_opts(int argc, char **argv) {
    enum { O_NFFT = 256, O_HOP, O_NMELS, O_FMIN, O_FMAX, O_REF, O_AMIN, O_TOPDB, O_BUFFER, O_SCALE,
           O_NORM, O_PAD, O_RESAMPLE, O_KEY, O_NOCENTER, O_POWER, O_KEEP, O_SKIPPED, O_PROGRESS, O_SHARD, O_TAGS };
    static const struct option lo[] = {
        {"output", 1, 0, 'o'}, {"sr", 1, 0, 'r'}, {"n-fft", 1, 0, O_NFFT}, {"hop", 1, 0, O_HOP},
        {"n-mels", 1, 0, O_NMELS}, {"fmin", 1, 0, O_FMIN}, {"fmax", 1, 0, O_FMAX}, {"ref", 1, 0, O_REF},
        {"amin", 1, 0, O_AMIN}, {"top-db", 1, 0, O_TOPDB}, {"threads", 1, 0, 'j'}, {"buffer-mb", 1, 0, O_BUFFER},
        {"mel-scale", 1, 0, O_SCALE}, {"norm", 1, 0, O_NORM}, {"pad", 1, 0, O_PAD}, {"resample", 1, 0, O_RESAMPLE},
        {"key", 1, 0, O_KEY}, {"no-center", 0, 0, O_NOCENTER}, {"power", 0, 0, O_POWER},
        {"keep-going", 0, 0, O_KEEP}, {"skipped", 1, 0, O_SKIPPED}, {"progress", 1, 0, O_PROGRESS},
        {"quiet", 0, 0, 'q'}, {"null", 0, 0, '0'}, {"shard", 1, 0, O_SHARD}, {"tags", 1, 0, O_TAGS}, {0, 0, 0, 0}};
    static const char *const rules[] = {"stem", "name", "path", "parent"};
    struct opts o = {.sr = 22050, .n_fft = 2048, .hop = 512, .n_mels = 128, .center = 1, .db = 1,
                     .threads = 1, .fmin = 0, .fmax = -1, .ref = 1.0, .amin = 1e-10, .top_db = 80,
                     .buffer_bytes = (size_t)64 << 20, .quality = AUDIO_POLY, .progress_every = 30};
    o.files = calloc((size_t)argc + 1, sizeof *o.files);
    if (!o.files) cli_die("out of memory");
    int nf = 0, c, k;
    char e[200];
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:r:j:q0", lo, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'r': o.sr = (int)cli_long("--sr", optarg, 1000, 768000); break;
        case O_NFFT: o.n_fft = (int)cli_long("--n-fft", optarg, 16, 1 << 18); break;
        case O_HOP: o.hop = (int)cli_long("--hop", optarg, 1, 1 << 20); break;
        case O_NMELS: o.n_mels = (int)cli_long("--n-mels", optarg, 1, 4096); break;
        case O_FMIN: o.fmin = cli_double("--fmin", optarg, 0, 1e6); break;
        case O_FMAX: o.fmax = cli_double("--fmax", optarg, 0, 1e6); break;
        case O_REF: o.ref = cli_double("--ref", optarg, 1e-30, 1e30); break;
        case O_AMIN: o.amin = cli_double("--amin", optarg, 1e-30, 1); break;
        case O_TOPDB: o.top_db = cli_double("--top-db", optarg, 0, 1e4); break;
        case 'j': o.threads = (int)cli_long("--threads", optarg, 1, 256); break;
        case O_BUFFER: o.buffer_bytes = (size_t)cli_long("--buffer-mb", optarg, 1, 1 << 20) << 20; break;
        case O_SCALE:
            if (mel_scale_parse(optarg, &o.scale)) cli_usage("--mel-scale: '%s' is not slaney or htk", optarg);
            break;
        case O_NORM:
            if (mel_norm_parse(optarg, &o.norm)) cli_usage("--norm: '%s' is not slaney or none", optarg);
            break;
        case O_PAD:
            if (stft_pad_parse(optarg, &o.pad)) cli_usage("--pad: '%s' is not constant or reflect", optarg);
            break;
        case O_RESAMPLE:
            if (audio_quality_parse(optarg, &o.quality))
                cli_usage("--resample: '%s' is not poly, poly-fast, src-best, src-medium or src-fastest", optarg);
            break;
        case O_KEY:
            for (k = 0; k < 4 && strcmp(optarg, rules[k]); k++) {}
            if (k == 4) cli_usage("--key: '%s' is not stem, name, path or parent", optarg);
            o.key = (key_rule)k;
            break;
        case O_NOCENTER: o.center = 0; break;
        case O_POWER: o.db = 0; break;
        case O_KEEP: o.keep_going = 1; break;
        case O_SKIPPED: o.skipped = optarg, o.keep_going = 1; break;
        case O_TAGS: o.tags = optarg; break;
        case O_PROGRESS: o.progress_every = cli_double("--progress", optarg, 1e-6, 1e6); break;
        case 'q': o.quiet = 1; break;
        case '0': o.null_list = 1; break;
        case O_SHARD: if (shard_parse(optarg, &o.shard, e, sizeof e)) cli_usage("%s", e); break;
        case ':':
            if (optopt == 'o') cli_usage("-o needs a file name");
            cli_usage("%s needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) o.files[nf++] = argv[i];
    if (nf == 0) o.files[nf++] = "-";
    if (o.fmax < 0) o.fmax = o.sr / 2.0;
    if (o.fmax > o.sr / 2.0) cli_usage("--fmax %g is above the Nyquist frequency %g of --sr %d", o.fmax, o.sr / 2.0, o.sr);
    if (o.fmin >= o.fmax) cli_usage("--fmin %g must be below --fmax %g", o.fmin, o.fmax);
    for (int i = 0; i < nf; i++)
        if (strcmp(o.files[i], "-") == 0 && isatty(STDIN_FILENO))
            cli_usage("no audio files given; name them, or pipe a list of paths (find ... | spectro)");
    return o;
}

static void build_header(ts_header *h, const struct opts *o) {
    if (ts_header_init(h, "mel", TS_F32, o->n_mels, NULL)) cli_die("out of memory");
    h->key_name = strdup("track");
    cJSON *m = ts_header_meta(h);
    cJSON_AddStringToObject(m, "stage", "spectro");
    cJSON_AddStringToObject(m, "row", "one STFT frame: n_mels values, lowest band first");
    cJSON_AddNumberToObject(m, "sample_rate", o->sr);
    cJSON_AddNumberToObject(m, "n_fft", o->n_fft);
    cJSON_AddNumberToObject(m, "win_length", o->n_fft);
    cJSON_AddNumberToObject(m, "hop_length", o->hop);
    cJSON_AddNumberToObject(m, "frames_per_second", (double)o->sr / o->hop);
    cJSON_AddStringToObject(m, "window", "hann_periodic");
    cJSON_AddBoolToObject(m, "center", o->center);
    cJSON_AddStringToObject(m, "pad_mode", stft_pad_name(o->pad));
    cJSON_AddNumberToObject(m, "power", 2.0);
    cJSON_AddNumberToObject(m, "n_mels", o->n_mels);
    cJSON_AddNumberToObject(m, "fmin", o->fmin);
    cJSON_AddNumberToObject(m, "fmax", o->fmax);
    cJSON_AddStringToObject(m, "mel_scale", mel_scale_name(o->scale));
    cJSON_AddStringToObject(m, "norm", mel_norm_name(o->norm));
    cJSON_AddStringToObject(m, "scale", o->db ? "db" : "power");
    if (o->db) {
        cJSON_AddNumberToObject(m, "ref", o->ref);
        cJSON_AddNumberToObject(m, "amin", o->amin);
        if (o->top_db > 0) cJSON_AddNumberToObject(m, "top_db", o->top_db);
        else cJSON_AddNullToObject(m, "top_db");
    }
    cJSON_AddStringToObject(m, "downmix", "mean");
    char rs[160];
    if (o->quality == AUDIO_POLY || o->quality == AUDIO_POLY_FAST) {
        resample_design d = resample_quality_design(o->quality == AUDIO_POLY ? RESAMPLE_POLY : RESAMPLE_POLY_FAST);
        snprintf(rs, sizeof rs, "%s: polyphase Kaiser-windowed sinc, passband %.2f, stopband %.2f of Nyquist, "
                 "%.0f dB (src-best for rates with no small ratio)", audio_quality_name(o->quality),
                 d.pass, d.stop, d.atten_db);
    } else
        snprintf(rs, sizeof rs, "%s: libsamplerate sinc_%s", audio_quality_name(o->quality),
                 audio_quality_name(o->quality) + 4);
    cJSON_AddStringToObject(m, "resampler", rs);
    static const char *const rules[] = {"stem", "name", "path", "parent"};
    cJSON_AddStringToObject(m, "key_rule", rules[o->key]);
}

/* ---- output of one finished track, clamped at max - top_db ---- */
#define WRITE_ROWS 1024

static void write_track(ts_writer *w, job *j, float *rows, const char **keys) {
    mel_store *s = &j->st;
    const size_t nm = (size_t)s->n_mels;
    const int clamp = j->o->db && j->o->top_db > 0;
    const float floor = (float)(s->max - j->o->top_db);
    for (int i = 0; i < WRITE_ROWS; i++) keys[i] = j->key;
    if (s->spill) rewind(s->spill);
    for (int64_t done = 0; done < s->frames;) {
        size_t n = (size_t)(s->frames - done) < WRITE_ROWS ? (size_t)(s->frames - done) : WRITE_ROWS;
        const float *src;
        if ((size_t)done < s->mem_frames) {
            if (n > s->mem_frames - (size_t)done) n = s->mem_frames - (size_t)done;
            /* the track's frames are not needed after this: clamped in place */
            float *m = s->mem + (size_t)done * nm;
            if (clamp) mel_db_floor(m, n * nm, floor);
            src = m;
        } else {
            if (fread(rows, sizeof *rows * nm, n, s->spill) != n)
                cli_die("%s: cannot read back the spilled frames", j->path);
            if (clamp) mel_db_floor(rows, n * nm, floor);
            src = rows;
        }
        if (ts_write_rows(w, (int64_t)n, keys, src)) cli_die("%s", ts_werror(w));
        done += (int64_t)n;
    }
}

/* ---- --tags: one TSV line per processed file ---- */

/* a tag as a TSV cell: control characters (TAB, line ends, ...) read as
 * spaces, spaces at either end cut */
static void put_tag_cell(FILE *f, const char *s) {
    if (!s) return;
    while (*s && ((unsigned char)*s <= 0x20 || *s == 0x7f)) s++;
    size_t n = strlen(s);
    while (n && ((unsigned char)s[n - 1] <= 0x20 || s[n - 1] == 0x7f)) n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
}

/* 1 when the key could not be a cell of the TSV (then it gets no line) */
static int write_tags(FILE *f, const job *j) {
    if (strpbrk(j->key, "\t\n\r")) return 1;
    fputs(j->key, f);
    fputc('\t', f);
    put_tag_cell(f, j->title);
    fputc('\t', f);
    put_tag_cell(f, j->artist);
    fputc('\n', f);
    return 0;
}

static void job_init(job *j, const struct opts *o, const stft_plan *plan, const mel_bank *bank) {
    memset(j, 0, sizeof *j);
    j->o = o;
    j->plan = plan;
    j->bank = bank;
    j->stft = stft_stream_new(plan);
    for (int b = 0; b < NBLOCKS; b++)
        if (!(j->feed.blk[b] = malloc(SAMPLES_CAP * sizeof(float)))) cli_die("out of memory");
    if (pthread_mutex_init(&j->feed.mu, NULL) || pthread_cond_init(&j->feed.cv, NULL)) cli_die("cannot start the threads");
    j->melrow = malloc((size_t)o->n_mels * sizeof(float));
    j->samples = malloc(SAMPLES_CAP * sizeof(float));
    j->st.n_mels = o->n_mels;
    j->st.max_mem_frames = o->buffer_bytes / ((size_t)o->n_mels * sizeof(float));
    if (!j->st.max_mem_frames) j->st.max_mem_frames = 1;
    if (!j->stft || !j->melrow || !j->samples) cli_die("out of memory");
}

static void job_free(job *j) {
    store_clear(&j->st);
    free(j->st.mem);
    for (int b = 0; b < NBLOCKS; b++) free(j->feed.blk[b]);
    pthread_mutex_destroy(&j->feed.mu);
    pthread_cond_destroy(&j->feed.cv);
    free(j->melrow);
    free(j->samples);
    free(j->title);
    free(j->artist);
    stft_stream_free(j->stft);
}

/* ---- the files across threads, written in input order ----
 * -j N worker threads take the files in list order, each into one of N + 1
 * slots (file k into slot k mod (N + 1)), and the main thread writes file k
 * as soon as it is done (clamp, zstd, write) while the workers go on with
 * the next files: no batch waits for its slowest file, and the writing
 * overlaps the decoding.  A worker waits for its slot to be written and
 * freed; the output is the one-file-at-a-time output, byte for byte. */
typedef struct {
    job j;
    int64_t seq;                /* the file it holds (or will): index into todo */
    int done;                   /* run_job finished, not written yet */
} slot;

typedef struct {
    slot *slots;
    int nslots;
    const size_t *todo;         /* list positions of the files this run decodes */
    char **keys;                /* their keys */
    char **files;
    int64_t ntodo, next;        /* next file a worker takes */
    int64_t written;            /* files the main thread is through with */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pool;

static void *pool_worker(void *arg) {
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->next >= p->ntodo) break;
        int64_t k = p->next++;
        slot *s = &p->slots[k % p->nslots];
        while (p->written < k - p->nslots + 1) pthread_cond_wait(&p->cv, &p->mu);  /* until k - nslots is written */
        pthread_mutex_unlock(&p->mu);
        s->j.path = p->files[p->todo[k]];
        s->j.key = p->keys[k];
        run_job(&s->j);
        pthread_mutex_lock(&p->mu);
        s->seq = k;
        s->done = 1;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* the slot of file k once it is done */
static slot *pool_wait(pool *p, int64_t k) {
    slot *s = &p->slots[k % p->nslots];
    pthread_mutex_lock(&p->mu);
    while (!(s->done && s->seq == k)) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void pool_release(pool *p, slot *s) {
    pthread_mutex_lock(&p->mu);
    s->done = 0;
    p->written++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The whole path list (arguments and stdin) into o->files, so that the
 * progress line can count down and --shard's input is identified by the
 * list's bytes.  Returns the number of paths. */
static size_t read_all_paths(struct opts *o) {
    path_iter it = {.files = o->files, .null_list = o->null_list};
    size_t n = 0, cap = 16;
    char **all = malloc(cap * sizeof *all);
    const char *p;
    if (!all) cli_die("out of memory");
    while ((p = next_path(&it))) {
        if (n + 2 > cap && !(all = realloc(all, (cap *= 2) * sizeof *all))) cli_die("out of memory");
        if (!(all[n++] = strdup(p))) cli_die("out of memory");
    }
    all[n] = NULL;
    free(it.line);
    free(o->files);
    o->files = all;
    return n;
}

/* --shard: the list's bytes identify the input in meta.shard */
static shard_out *shard_open(struct opts *o, ts_header *h) {
    size_t len = 0;
    char *text;
    for (char **f = o->files; *f; f++) len += strlen(*f) + 1;
    if (!(text = malloc(len + 1))) cli_die("out of memory");
    size_t off = 0;
    for (char **f = o->files; *f; f++) off += (size_t)sprintf(text + off, "%s\n", *f);
    shard_out *so = shard_out_new(&o->shard, "files whose track key hashes to I (FNV-1a 64 mod N)");
    if (!so || shard_out_input_bytes(so, "file list", text, len) || shard_out_annotate(so, h)) cli_die("out of memory");
    free(text);
    return so;
}

int main(int argc, char **argv) {
    cli_init("spectro", argc, argv, HELP);
    /* Every file allocates the same buffers again (the decoder's, 0.25-0.5
     * MB each): kept by malloc between files, not given back to the kernel
     * and faulted in afresh for each file (glibc trims and unmaps such
     * blocks by default) */
    mallopt(M_MMAP_THRESHOLD, 2 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    struct opts o = parse_opts(argc, argv);
    char err[512];
    stft_plan *plan = stft_plan_new(o.n_fft, o.hop, o.center, o.pad, err, sizeof err);
    if (!plan) cli_usage("%s", err);
    mel_bank bank;
    if (mel_bank_init(&bank, o.sr, o.n_fft, o.n_mels, o.fmin, o.fmax, o.scale, o.norm, err, sizeof err))
        cli_usage("%s", err);
    ts_writer *w = cli_open_write(o.output);
    ts_header h;
    build_header(&h, &o);
    size_t n_paths = read_all_paths(&o);
    shard_out *so = shard_active(&o.shard) ? shard_open(&o, &h) : NULL;
    if (o.tags || o.skipped) outfile_hold();     /* the stream, --skipped and --tags: all or none */
    FILE *skipped = o.skipped ? outfile_open(o.skipped, 0) : NULL;
    FILE *tags = o.tags ? outfile_open(o.tags, 0) : NULL;
    long tags_dropped = 0;
    if (tags) fputs("key\ttitle\tartist\n", tags);
    /* the files this run decodes (this shard's), their list positions and keys */
    size_t *todo = malloc((n_paths + 1) * sizeof *todo);
    char **keys = malloc((n_paths + 1) * sizeof *keys);
    if (!todo || !keys) cli_die("out of memory");
    int64_t ntodo = 0;
    for (size_t i = 0; i < n_paths; i++) {
        char *k = make_key(o.files[i], o.key);
        if (!k) cli_die("out of memory");
        if (so && !shard_owns_key(&o.shard, k)) { free(k); continue; }   /* another shard's file */
        todo[ntodo] = i;
        keys[ntodo++] = k;
    }
    const long total = (long)ntodo;         /* files this run decodes */
    if (ts_begin_tensor(w, &h)) cli_die("%s", ts_werror(w));

    pool pl = {.nslots = o.threads + 1, .todo = todo, .keys = keys, .files = o.files, .ntodo = ntodo};
    pl.slots = calloc((size_t)pl.nslots, sizeof *pl.slots);
    pthread_t *tid = calloc((size_t)o.threads, sizeof *tid);
    float *rows = malloc(WRITE_ROWS * (size_t)o.n_mels * sizeof *rows);
    const char **rowkeys = malloc(WRITE_ROWS * sizeof *rowkeys);
    if (!pl.slots || !tid || !rows || !rowkeys) cli_die("out of memory");
    for (int t = 0; t < pl.nslots; t++) job_init(&pl.slots[t].j, &o, plan, &bank);
    if (pthread_mutex_init(&pl.mu, NULL) || pthread_cond_init(&pl.cv, NULL)) cli_die("cannot start the threads");
    int nthreads = 0;
    for (; nthreads < o.threads && nthreads < ntodo; nthreads++)
        if (pthread_create(&tid[nthreads], NULL, pool_worker, &pl)) cli_die("cannot start a thread");

    strmap ks;              /* the keys so far: two files with one key would mix their frames downstream */
    strmap_init(&ks);
    cli_progress prog;
    cli_progress_init(&prog, o.quiet ? 0 : o.progress_every);
    if (o.quiet) prog.tty = 0;
    long done = 0, failed = 0;
    double audio_s = 0;
    for (int64_t k = 0; k < ntodo; k++) {
        slot *sl = pool_wait(&pl, k);
        job *j = &sl->j;
        int64_t put = j->failed ? -1 : strmap_put(&ks, j->key, 0);
        if (put == -2) cli_die("out of memory");
        int added = put == -1;
        if (!added) {
            snprintf(j->err, sizeof j->err, "%s: key '%s' is already used by an earlier file; "
                     "choose another --key rule (path, parent)", j->path, j->key);
            j->failed = 1;
        }
        if (j->failed) {
            failed++;
            if (!o.keep_going) cli_die("%s (--keep-going skips such files)", j->err);
            cli_progress_done(&prog);
            cli_warn("%s; skipped", j->err);
            if (skipped) fprintf(skipped, "%s%c", j->path, o.null_list ? '\0' : '\n');
        } else {
            if (j->warn[0]) { cli_progress_done(&prog); cli_warn("%s", j->warn); }
            write_track(w, j, rows, rowkeys);
            if (tags) tags_dropped += write_tags(tags, j);
            if (tags && j->bad_tags) {
                cli_progress_done(&prog);
                cli_warn("%s: its title or artist tag is not UTF-8 text; left empty in %s", j->path, o.tags);
            }
            if (so && shard_out_rows(so, (int64_t)todo[k], j->st.frames)) cli_die("cannot spool the row positions");
            done++;
            audio_s += j->seconds;
        }
        pool_release(&pl, sl);
        double el = cli_now() - prog.start;
        char left[64];
        cli_progress_update(&prog, "%ld/%ld files%s, %.2f files/s, %.0f s of audio (%.1f s per second), %s",
                            done + failed, total, failed ? " (some failed)" : "", el > 0 ? (double)(done + failed) / el : 0.0,
                            audio_s, el > 0 ? audio_s / el : 0.0, cli_time_left(left, sizeof left, (double)(done + failed), (double)total, el));
    }
    for (int t = 0; t < nthreads; t++) pthread_join(tid[t], NULL);
    cli_progress_done(&prog);
    if (ts_end_tensor(w)) cli_die("%s", ts_werror(w));
    if (so && shard_out_finish(so, w, err, sizeof err)) cli_die("%s", err);
    for (char **f = o.files; *f; f++) free(*f);             /* the list read_all_paths read */
    shard_out_free(so);
    cli_close_write(w);
    if (skipped) outfile_close(skipped);
    if (tags) outfile_close(tags);
    if (o.tags || o.skipped) outfile_commit();
    if (tags_dropped)
        cli_warn("%s: %ld file(s) whose key holds a TAB or a line end have no line (a TSV cell cannot hold one)", o.tags, tags_dropped);
    if (failed) cli_warn("%ld of %ld files could not be processed (named above%s%s)", failed, failed + done,
                         o.skipped ? " and in " : "", o.skipped ? o.skipped : "");
    for (int t = 0; t < pl.nslots; t++) job_free(&pl.slots[t].j);
    for (int64_t k = 0; k < ntodo; k++) free(keys[k]);
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.cv);
    free(pl.slots); free(tid); free(rows); free(rowkeys); free(todo); free(keys); free(o.files);
    strmap_free(&ks);
    ts_header_free(&h);
    mel_bank_free(&bank);
    stft_plan_free(plan);
    return failed && !o.skipped ? EXIT_DATA : EXIT_OK;
}
