/* decode-only.c - the decoding part of spectro alone, for tests/bench/spectro.sh:
 * each file through libsndfile (mpg123, libvorbis, ...) exactly as
 * common/audio.c reads it (sf_readf_float, 65536 frames a call, interleaved
 * floats), the samples summed so the work cannot be skipped, nothing else:
 * no down-mix, resampling, STFT or mel.  spectro's time over this one's says
 * what the rest of the stage costs on top of the decoders.  (spectro itself
 * decodes 16384 frames a call, stages/spectro.c; a decode-only built that
 * way cost the same: 376 against 370 ms of CPU on the bench clips.)
 *
 * usage: decode-only FILE...   prints "<files> files, <seconds> s of audio" */
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: decode-only FILE...\n"); return 2; }
    enum { CHUNK = 65536 };
    double seconds = 0, sum = 0;
    float *buf = NULL;
    size_t cap = 0;
    for (int i = 1; i < argc; i++) {
        SF_INFO info = {0};
        SNDFILE *sf = sf_open(argv[i], SFM_READ, &info);
        if (!sf) { fprintf(stderr, "decode-only: %s: %s\n", argv[i], sf_strerror(NULL)); free(buf); return 1; }
        size_t need = (size_t)CHUNK * (size_t)(info.channels > 0 ? info.channels : 1);
        if (need > cap) {
            float *b = realloc(buf, need * sizeof *b);
            if (!b) { fprintf(stderr, "decode-only: out of memory\n"); sf_close(sf); free(buf); return 1; }
            buf = b;
            cap = need;
        }
        sf_count_t got, frames = 0;
        while ((got = sf_readf_float(sf, buf, CHUNK)) > 0) {
            frames += got;
            sum += buf[0];
        }
        if (sf_error(sf)) { fprintf(stderr, "decode-only: %s: %s\n", argv[i], sf_strerror(sf)); sf_close(sf); free(buf); return 1; }
        seconds += (double)frames / info.samplerate;
        sf_close(sf);
    }
    free(buf);
    printf("%d files, %.1f s of audio%s\n", argc - 1, seconds, sum != sum ? " (NaN samples)" : "");
    return 0;
}
