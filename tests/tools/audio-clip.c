/* audio-clip.c - cuts the excerpts of the shipped sound library (data/sounds,
 * data/sounds/README.md): decode (common/audio.c: libsndfile, channels
 * averaged, resampled to 22050 Hz with the polyphase filter spectro uses),
 * keep START..START+LENGTH seconds, write mono Ogg Vorbis with libsndfile.
 * A plain excerpt: no fade, no gain, no other processing.
 *
 * usage: audio-clip IN OUT.ogg START_S LENGTH_S [VORBIS_QUALITY 0..1] */
#include "audio.h"
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) { fprintf(stderr, "usage: audio-clip IN OUT.ogg START_S LENGTH_S [QUALITY]\n"); return 2; }
    const int rate = 22050;
    double start = atof(argv[3]), len = atof(argv[4]), q = argc == 6 ? atof(argv[5]) : 0.3;
    char err[512];
    audio_opts o = {.target_rate = rate};
    audio_reader *a = audio_open(argv[1], &o, err, sizeof err);
    if (!a) { fprintf(stderr, "audio-clip: %s: %s\n", argv[1], err); return 1; }
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_OGG | SF_FORMAT_VORBIS};
    SNDFILE *sf = sf_open(argv[2], SFM_WRITE, &info);
    if (!sf) { fprintf(stderr, "audio-clip: %s: %s\n", argv[2], sf_strerror(NULL)); return 1; }
    sf_command(sf, SFC_SET_VBR_ENCODING_QUALITY, &q, sizeof q);
    long skip = (long)(start * rate), keep = (long)(len * rate), at = 0, n;
    static float buf[65536];
    while (keep > 0 && (n = audio_read(a, buf, 65536)) > 0) {
        long from = at < skip ? (skip - at < n ? skip - at : n) : 0, take = n - from;
        at += n;
        if (take > keep) take = keep;
        if (take > 0 && sf_write_float(sf, buf + from, take) != take) { fprintf(stderr, "audio-clip: %s: write error\n", argv[2]); return 1; }
        if (take > 0) keep -= take;
    }
    if (keep > 0) fprintf(stderr, "audio-clip: %s: ends %.1f s before the clip's end\n", argv[1], (double)keep / rate);
    audio_close(a);
    if (sf_close(sf)) { fprintf(stderr, "audio-clip: %s: cannot close\n", argv[2]); return 1; }
    return 0;
}
