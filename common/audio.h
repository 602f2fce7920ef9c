/* audio.h - decode an audio file to mono float samples at a target rate, in
 * bounded chunks: libsndfile decodes (WAV, FLAC, Ogg Vorbis, Opus, MP3, ...),
 * channels are averaged (librosa.to_mono), and a band-limited resampler
 * changes the rate: common/resample.c's polyphase Kaiser-sinc filter by
 * default, or one of libsamplerate's sinc converters.  Memory is O(chunk),
 * not O(file).
 *
 *   audio_reader *a = audio_open(path, &opts, err, sizeof err);
 *   while ((n = audio_read(a, buf, cap)) > 0) ... ;   n < 0: audio_error(a)
 *   audio_close(a); */
#ifndef SONGPIPE_AUDIO_H
#define SONGPIPE_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* poly, poly-fast: common/resample.c (RESAMPLE_POLY, RESAMPLE_POLY_FAST); a
 * rate pair whose reduced ratio needs a too-big table (e.g. 44101 -> 22050)
 * falls back to libsamplerate's best converter.  src-*: libsamplerate
 * SRC_SINC_{BEST,MEDIUM}_QUALITY, SRC_SINC_FASTEST. */
typedef enum { AUDIO_POLY, AUDIO_POLY_FAST, AUDIO_SRC_BEST, AUDIO_SRC_MEDIUM, AUDIO_SRC_FASTEST } audio_quality;

typedef struct {
    int target_rate;            /* Hz; 0 = keep the file's rate */
    audio_quality quality;      /* resampler; 0 = AUDIO_POLY */
    size_t chunk_frames;        /* frames decoded per libsndfile call; 0 = 65536 */
} audio_opts;

typedef struct audio_reader audio_reader;

/* NULL on failure with "<libsndfile's reason>" (or ours) in err. */
audio_reader *audio_open(const char *path, const audio_opts *o, char *err, size_t errlen);
/* Up to cap mono samples at the target rate into out.  >0: count, 0: end of
 * file, -1: decode error (audio_error says why). */
long audio_read(audio_reader *a, float *out, long cap);
const char *audio_error(const audio_reader *a);
int audio_file_rate(const audio_reader *a);
int audio_file_channels(const audio_reader *a);
int64_t audio_file_frames(const audio_reader *a);   /* as the header says; may be approximate (MP3) */
int64_t audio_decoded_frames(const audio_reader *a); /* at the file's rate, so far */
/* 1 when, at the end, the decoder handed out fewer frames than the header
 * states by more than 2 % and half a second (an MP3's Xing count or a FLAC
 * STREAMINFO of a file cut short; a WAV's count libsndfile takes from the
 * file size, and a cut Ogg's from its last page, so those cannot tell) */
int audio_ends_early(const audio_reader *a);
int audio_out_rate(const audio_reader *a);
/* the converter in use: "none", "poly", "poly-fast", "src-best", ... */
const char *audio_resampler_name(const audio_reader *a);
void audio_close(audio_reader *a);
/* Decoding and resampling on two threads: one thread calls audio_decode
 * (libsndfile and the down-mix only: mono samples at the file's rate, at most
 * cap and one chunk a call; 0 at the end, -1 on error, audio_error says why),
 * the other audio_read after audio_set_feed(a, fn, ctx): audio_read then
 * takes its input from fn (which answers as audio_decode did, one decode
 * call's samples at a time, and keeps answering 0 or -1 once it has) instead
 * of decoding.  The same chunks in the same order give the same samples as
 * audio_read alone.  audio_decoded_frames, audio_ends_early and audio_error
 * belong to the decoding thread until it is joined. */
long audio_decode(audio_reader *a, float *out, long cap);
void audio_set_feed(audio_reader *a, long (*fn)(void *ctx, float *out, long cap), void *ctx);
/* The file's title and artist tags, NULL when it has none: libsndfile's
 * sf_get_string (SF_STR_TITLE, SF_STR_ARTIST), which reads the Vorbis
 * comments of Ogg and FLAC files, a WAV's LIST INFO chunk and an MP3's ID3v2
 * or ID3v1 tag (through mpg123).  Valid until audio_close. */
const char *audio_tag_title(const audio_reader *a);
const char *audio_tag_artist(const audio_reader *a);

/* "poly" / "poly-fast" / "src-best" / "src-medium" / "src-fastest" (and the
 * older "best" / "medium" / "fastest" for the src-* ones) -> quality; 0 ok,
 * -1 unknown. */
int audio_quality_parse(const char *s, audio_quality *q);
const char *audio_quality_name(audio_quality q);

#endif
