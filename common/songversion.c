/* songversion.c - the version key of a song (songversion.h): version
 * suffixes cut from the title, feat. markers from the artist, both folded. */
#include "songversion.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const VERSION_WORDS[] = {
    "remaster", "remastered", "remasterizado", "remasterizada", "remix", "remixed", "mix", "edit", "edited",
    "live", "vivo", "version", "acoustic", "acustico", "unplugged", "mono", "stereo", "demo", "radio",
    "extended", "instrumental", "feat", "ft", "featuring", "with", "bonus", "explicit", "clean", "recorded",
    "session", "sessions", "rework", "rerecorded", "vip", "dub", "original", "single", "album", "from",
    "anniversary", "deluxe", "edition", NULL};

/* 1 when s[0..n) holds a version word (whole word, folded). */
static int has_version_word(const char *s, size_t n) {
    char raw[512], fold[1100];
    if (n >= sizeof raw) n = sizeof raw - 1;
    memcpy(raw, s, n);
    raw[n] = 0;
    text_fold(raw, fold, sizeof fold, 0);
    for (char *save = NULL, *w = strtok_r(fold, " ", &save); w; w = strtok_r(NULL, " ", &save))
        for (int i = 0; VERSION_WORDS[i]; i++)
            if (strcmp(w, VERSION_WORDS[i]) == 0) return 1;
    return 0;
}

static size_t trim_end(const char *s, size_t n) {
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return n;
}

/* The first " - " / " – " / " — " at or after s+from in s[0..n): its
 * position (n when none) and length. */
static size_t next_dash(const char *s, size_t from, size_t n, size_t *seplen) {
    static const char *const SEP[] = {" - ", " \xE2\x80\x93 ", " \xE2\x80\x94 ", NULL};
    for (size_t p = from; p < n; p++)
        for (int k = 0; SEP[k]; k++) {
            size_t l = strlen(SEP[k]);
            if (p + l <= n && memcmp(s + p, SEP[k], l) == 0) { *seplen = l; return p; }
        }
    return n;
}

size_t sv_base_title_len(const char *title) {
    if (!title) return 0;
    size_t n = trim_end(title, strlen(title));
    for (;;) {
        char close = n ? title[n - 1] : 0;
        if (close == ')' || close == ']') {
            char open = close == ')' ? '(' : '[';
            size_t p = n - 1;
            while (p > 0 && title[p - 1] != open) p--;
            if (p > 0) {
                size_t rest = trim_end(title, p - 1);
                if (rest && has_version_word(title + p, n - 1 - p)) { n = rest; continue; }
            }
        }
        /* the first dash segment with a version word goes, with all after it */
        size_t sl = 0, p = next_dash(title, 1, n, &sl), cut = n;
        while (p < n && cut == n) {
            size_t sl2 = 0, q = next_dash(title, p + sl, n, &sl2);
            if (trim_end(title, p) && has_version_word(title + p + sl, q - p - sl)) cut = trim_end(title, p);
            p = q;
            sl = sl2;
        }
        if (cut == n) return n;
        n = cut;
    }
}

size_t sv_base_artist_len(const char *artist) {
    static const char *const FEAT[] = {" feat. ", " feat ", " ft. ", " featuring ", NULL};
    if (!artist) return 0;
    size_t n = strlen(artist);
    for (int k = 0; FEAT[k]; k++) {
        size_t l = strlen(FEAT[k]);
        for (size_t p = 1; p + l <= n; p++)
            if (strncasecmp(artist + p, FEAT[k], l) == 0) { n = p; break; }
    }
    return trim_end(artist, n);
}

int sv_is_version(const char *title) {
    return title && sv_base_title_len(title) < trim_end(title, strlen(title));
}

char *sv_version_key(const char *title, const char *artist) {
    if (!title) title = "";
    if (!artist) artist = "";
    char *t = strndup(title, sv_base_title_len(title)), *a = strndup(artist, sv_base_artist_len(artist));
    char *ft = t ? text_fold_dup(t, 1) : NULL, *fa = a ? text_fold_dup(a, 1) : NULL, *k = NULL;
    if (ft && fa && (k = malloc(strlen(ft) + strlen(fa) + 2))) {
        strcpy(k, ft);
        strcat(k, "\x1f");
        strcat(k, fa);
    }
    free(t); free(a); free(ft); free(fa);
    return k;
}
