/* gen-audio.c - writes a test tone with libsndfile, so that the library test
 * (tests/test_library.sh) can make a folder of audio files of any format and
 * name without shared data: a sum of two sines plus seeded noise, mono.
 *
 * usage: gen-audio OUT.{wav,flac,ogg,mp3} SECONDS FREQ_HZ SEED [TITLE ARTIST]
 * The format follows the extension; TITLE and ARTIST become the file's tags
 * (sf_set_string: Vorbis comments, WAV LIST INFO, an MP3's ID3 tag written by
 * LAME); exit 1 naming the file on failure. */
#include <sndfile.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: gen-audio OUT.{wav,flac,ogg,mp3} SECONDS FREQ_HZ SEED [TITLE ARTIST]\n");
        return 2;
    }
    const char *out = argv[1], *dot = strrchr(out, '.');
    double secs = atof(argv[2]), f = atof(argv[3]);
    uint64_t s = strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
    SF_INFO info = {.samplerate = 22050, .channels = 1};
    if (dot && strcmp(dot, ".flac") == 0) info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    else if (dot && strcmp(dot, ".ogg") == 0) info.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    else if (dot && strcmp(dot, ".mp3") == 0) info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    else info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(out, SFM_WRITE, &info);
    if (!sf) { fprintf(stderr, "gen-audio: %s: %s\n", out, sf_strerror(NULL)); return 1; }
    if (argc == 7 && ((*argv[5] && sf_set_string(sf, SF_STR_TITLE, argv[5])) || (*argv[6] && sf_set_string(sf, SF_STR_ARTIST, argv[6])))) {
        fprintf(stderr, "gen-audio: %s: cannot set the tags: %s\n", out, sf_strerror(sf));
        return 1;
    }
    long n = (long)(secs * info.samplerate);
    float buf[1024];
    for (long i = 0; i < n;) {
        int k = 0;
        for (; k < 1024 && i < n; k++, i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;                 /* xorshift64 */
            double t = (double)i / info.samplerate, noise = (double)(s >> 11) / 9007199254740992.0 - 0.5;
            /* the tone rises and falls twice a second, so tiles differ */
            buf[k] = (float)(0.4 * sin(2 * M_PI * f * t) * (0.6 + 0.4 * sin(2 * M_PI * 2 * t))
                             + 0.2 * sin(2 * M_PI * 2.5 * f * t) + 0.1 * noise);
        }
        if (sf_write_float(sf, buf, k) != k) { fprintf(stderr, "gen-audio: %s: %s\n", out, sf_strerror(sf)); return 1; }
    }
    if (sf_close(sf)) { fprintf(stderr, "gen-audio: %s: cannot close\n", out); return 1; }
    return 0;
}
