/* history_key.c - the folding rule of hist_name_key (history.h) as written
 * there: case, accents, punctuation, "feat." parts and " - Remastered"
 * suffixes; and hist_kind_of on the export's file names. */
#include "check.h"
#include "history.h"
#include <string.h>

/* 1 when both songs give the same key */
static int same(const char *t1, const char *a1, const char *t2, const char *a2, int loose) {
    char *k1 = hist_name_key(t1, a1, loose), *k2 = hist_name_key(t2, a2, loose);
    int r = k1 && k2 && !strcmp(k1, k2);
    free(k1); free(k2);
    return r;
}

int main(void) {
    char *k = hist_name_key("Don't Stop Me Now!", "Beyoncé & Co", 0);
    CHECK(k && !strcmp(k, "dontstopmenow\x1f" "beyonceandco"), "exact key: folded title, 0x1f, folded artist: %s", k);
    free(k);
    CHECK(same("SLOW TIDE", "MAREE BASSE", "Slow Tide", "Marée Basse", 0), "case and accents");
    CHECK(same("Golden Room's!", "AC/DC", "golden rooms", "ACDC", 0), "apostrophes and punctuation vanish");
    CHECK(same("Straße", "Æther", "strasse", "aether", 0), "ß -> ss, Æ -> ae");
    CHECK(!same("Copper Sky - Remastered 2011", "Quiet Engines", "Copper Sky", "Quiet Engines", 0), "exact keeps suffixes");
    CHECK(same("Copper Sky - Remastered 2011", "Quiet Engines", "Copper Sky", "Quiet Engines", 1), "loose: ' - Remastered 2011' cut");
    CHECK(same("Glass Orchard (feat. Nobody Real)", "Quiet Engines", "Glass Orchard", "Quiet Engines", 1), "loose: '(feat. X)' cut");
    CHECK(same("Amber Letters [Live]", "A", "Amber Letters", "A", 1), "loose: '[...]' cut");
    CHECK(same("Amber Letters FEAT. Someone", "Fictional Five ft. Someone", "Amber Letters", "Fictional Five", 1),
          "loose: bare feat./ft. cut from title and artist, any case");
    CHECK(same("Song featuring X", "Band feat X", "Song", "Band", 1), "loose: 'featuring', 'feat' without a dot");
    CHECK(!same("Simon & Garfunkel Song", "Simon & Garfunkel", "Simon Song", "Simon", 1), "'&' is not a feat. marker");
    CHECK(!same("Featherweight", "Band", "Feathe", "Band", 1), "'feat' inside a word is not cut");
    CHECK(same("- Intro", "Band", "- Intro", "Band", 1), "a cut at the very start is not made");
    CHECK(hist_kind_of("Streaming_History_Audio_2023.json") == HIST_EXTENDED && hist_kind_of("endsong_0.json") == HIST_EXTENDED,
          "extended names");
    CHECK(hist_kind_of("StreamingHistory0.json") == HIST_BASIC && hist_kind_of("StreamingHistory_music_1.json") == HIST_BASIC,
          "basic names");
    CHECK(hist_kind_of("Streaming_History_Video_2023.json") == HIST_VIDEO, "video name");
    CHECK(hist_kind_of("YourLibrary.json") == HIST_NONE && hist_kind_of("Streaming_History_Audio_2023.json.bak") == HIST_NONE,
          "other files");
    return CHECK_DONE();
}
