/* songversion.c - the version key (common/songversion.h) on real rows of
 * data/spotify_songs.csv (TidyTuesday, CC0): versions of one song share a
 * key, different songs and covers by other artists do not. */
#include "check.h"
#include "songversion.h"

#include <string.h>

static int same(const char *t1, const char *a1, const char *t2, const char *a2) {
    char *k1 = sv_version_key(t1, a1), *k2 = sv_version_key(t2, a2);
    int s = k1 && k2 && strcmp(k1, k2) == 0;
    free(k1); free(k2);
    return s;
}

int main(void) {
    /* versions: title as in the catalogue (track_id in the comment) */
    CHECK(same("Bohemian Rhapsody - Remastered 2011", "Queen", "Bohemian Rhapsody - 2011 Mix", "Queen"),
          "remaster and 2011 mix (1AhDOtG9vPSOmsWgNW0BEY, 4u7EnebtmKWzUH433cf5Qv)");
    CHECK(same("Bohemian Rhapsody - 2011 Remaster", "Queen", "Bohemian Rhapsody", "Queen"), "a remaster and the title");
    CHECK(same("Despacito - Remix", "Luis Fonsi", "Despacito", "Luis Fonsi"), "remix (6rPO02ozF3bM7NnOV4h6s2)");
    CHECK(same("Despacito (Featuring Daddy Yankee)", "Luis Fonsi", "Despacito", "Luis Fonsi"), "featuring in brackets (7CUYHcu0RnbOnMz4RuN07w)");
    CHECK(same("I Don't Care (with Justin Bieber) - Loud Luxury Remix", "Ed Sheeran", "I Don't Care (with Justin Bieber)", "Ed Sheeran"),
          "a remix of a 'with' title, two suffixes (6f807x0ima9a1j3VPbc7VN)");
    CHECK(same("Take on Me - Kygo Remix", "a-ha", "Take On Me", "a-ha"), "a named remix, case (5UHuuQGEgMbZrYnHjQG9ny)");
    CHECK(same("September Song - Indian Summer Mix", "JP Cooper", "September Song", "JP Cooper"), "a named mix (1d33rv3YwKEoc7rtTVWCqt)");
    CHECK(same("Lola - Live at Providence Civic Center, Providence, RI - September 1979", "The Kinks", "Lola", "The Kinks"),
          "live with a dash in its place name (3JbE6e17yvNdPggjPDrCyO)");
    CHECK(same("I Don't Care - Single Version", "Fall Out Boy", "I Don't Care", "Fall Out Boy"), "single version (7ewT0nLFkMD8ONbRibePr9)");
    CHECK(same("Smells Like Teen Spirit", "Nirvana", "SMELLS LIKE TEEN SPIRIT", "nirvana"), "same title and artist, any case");
    CHECK(same("Song - Radio Edit", "A feat. B", "Song", "A"), "radio edit; feat. in the artist");
    /* different songs */
    CHECK(!same("Blinding Lights", "The Weeknd", "Blinding Lights", "Lucas Estrada"), "a cover by another artist (7JAo7wy8BzmP9smtTJ3fuU)");
    CHECK(!same("I Don't Care Anymore - 2016 Remaster", "Phil Collins", "I Don't Care", "Phil Collins"), "another title stays another song");
    CHECK(!same("September Song", "JP Cooper", "Wake Me up When September Ends", "JP Cooper"), "substrings are not versions");
    /* what is kept */
    CHECK(sv_base_title_len("Waka Waka (This Time for Africa) [The Official 2010 FIFA World Cup (TM) Song]") ==
          strlen("Waka Waka (This Time for Africa) [The Official 2010 FIFA World Cup (TM) Song]"),
          "brackets without a version word stay (2Cd9iWfcOpGDHLz6tVA3G4)");
    CHECK(sv_base_title_len("Remix") == 5, "a title that is only a version word stays");
    CHECK(sv_base_title_len("Hey - Pt. 2") == strlen("Hey - Pt. 2"), "a part number is not a version");
    CHECK(!sv_is_version("Despacito") && sv_is_version("Despacito - Remix"), "sv_is_version");
    CHECK(sv_base_title_len("Lola - Live at X") == 4, "base of a live title");
    CHECK(sv_base_title_len("Ai Se Eu Te Pego - Ao Vivo") == strlen("Ai Se Eu Te Pego"), "Portuguese live (ao vivo)");
    CHECK(sv_base_title_len("X \xE2\x80\x93 Remastered") == 1, "an en dash separator");
    return CHECK_DONE();
}
