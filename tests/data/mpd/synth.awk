# synth.awk - invented playlists in the MPD slice format for the re-ranker's
# test (tests/test_mpd_rerank.sh): ARTISTS artists of 10 tracks (two albums
# of 5); a playlist takes 5 tracks of one artist and 5 drawn from every
# track, in random order, titled by the artist's genre (artist mod 5).  With
# few playlists per artist the co-occurrence counts are noisy while the
# artist of a candidate is exact: a feature no generator has alone.
# Random numbers: MINSTD (Park & Miller), integer arithmetic exact in any awk.
#   awk -v N=400 -v ARTISTS=45 -v SEED=1 -f synth.awk > mpd.slice.0-399.json
# Licence: CC0 (written for songpipe); nothing here is MPD data.
function rnd(n) { state = (state * 48271) % 2147483647; return state % n }
BEGIN {
    if (N == "") N = 400; if (ARTISTS == "") ARTISTS = 45; if (SEED == "") SEED = 1
    state = SEED + 12345; ntr = ARTISTS * 10
    printf "{\"info\": {\"slice\": \"0-%d\", \"version\": \"v1\"}, \"playlists\": [\n", N - 1
    for (p = 0; p < N; p++) {
        a = rnd(ARTISTS); n = 0
        delete used
        while (n < 5) { t = a * 10 + rnd(10); if (!(t in used)) { used[t] = 1; list[n++] = t } }
        while (n < 10) { t = rnd(ntr); if (!(t in used)) { used[t] = 1; list[n++] = t } }
        for (i = n - 1; i > 0; i--) { j = rnd(i + 1); x = list[i]; list[i] = list[j]; list[j] = x }
        printf "%s{\"name\": \"genre %d\", \"pid\": %d, \"num_tracks\": %d, \"tracks\": [", p ? ",\n" : "", a % 5, p, n
        for (i = 0; i < n; i++) {
            t = list[i]; ta = int(t / 10)
            printf "%s{\"pos\": %d, \"track_uri\": \"spotify:track:synth%04d\", \"track_name\": \"Song %d\", " \
                   "\"artist_name\": \"Synth Artist %d\", \"artist_uri\": \"spotify:artist:synth%03d\", " \
                   "\"album_name\": \"Album %d\"}", i ? ", " : "", i, t, t, ta, ta, int(t / 5)
        }
        printf "]}"
    }
    printf "\n]}\n"
}
