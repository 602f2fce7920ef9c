/* text.c - accent- and case-insensitive folding, query splitting and an
 * approximate substring distance, for finding songs and artists by name. */
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Decodes one UTF-8 character at s (n bytes left).  Returns its length and
 * the code point in *cp; -1 for a malformed byte (length 1). */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    int len;
    uint32_t v;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else { *cp = (uint32_t)-1; return 1; }
    if ((size_t)len > n) { *cp = (uint32_t)-1; return 1; }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = (uint32_t)-1; return 1; }
        v = v << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF)) { *cp = (uint32_t)-1; return 1; }
    *cp = v;
    return len;
}

static int utf8_encode(uint32_t v, char *o) {
    if (v < 0x80) { o[0] = (char)v; return 1; }
    if (v < 0x800) { o[0] = (char)(0xC0 | v >> 6); o[1] = (char)(0x80 | (v & 0x3F)); return 2; }
    if (v < 0x10000) {
        o[0] = (char)(0xE0 | v >> 12); o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[2] = (char)(0x80 | (v & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | v >> 18); o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((v >> 6) & 0x3F)); o[3] = (char)(0x80 | (v & 0x3F));
    return 4;
}

/* Base letters of U+00C0..U+00FF and U+0100..U+017F, lower case; '*' marks
 * the letters that fold to two (handled in fold_latin), ' ' the two
 * symbols x and / of Latin-1 (word breaks). */
static const char latin1[] = "aaaaaa*ceeeeiiiidnooooo ouuuuy**aaaaaa*ceeeeiiiidnooooo ouuuuy*y";
static const char latin_ext_a[] =
    "aaaaaacccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "**" "jj" "kkk"
    "llllllllll" "nnnnnnnnn" "oooooo" "**" "rrrrrr" "ssssssss" "tttttt" "uuuuuuuuuuuu"
    "ww" "yyy" "zzzzzz" "s";

/* Writes the folding of a Latin letter cp (U+00C0..U+017F) to o; returns
 * bytes written, 0 for a word break. */
static int fold_latin(uint32_t cp, char *o) {
    char c = cp < 0x100 ? latin1[cp - 0xC0] : latin_ext_a[cp - 0x100];
    if (c == ' ') return 0;
    if (c != '*') { o[0] = c; return 1; }
    const char *two;
    switch (cp) {
    case 0xC6: case 0xE6: two = "ae"; break;
    case 0xDE: case 0xFE: two = "th"; break;
    case 0xDF: two = "ss"; break;
    case 0x132: case 0x133: two = "ij"; break;
    default: two = "oe"; break;                 /* U+0152, U+0153 */
    }
    o[0] = two[0]; o[1] = two[1];
    return 2;
}

static int is_apostrophe(uint32_t cp) { return cp == '\'' || cp == '`' || cp == 0x2018 || cp == 0x2019; }

/* 1 when cp is a letter or digit we keep (possibly after folding). */
static int is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
        (cp >= 0x1F000 && cp <= 0x1FAFF))
        return 0;                               /* punctuation, symbols, emoji */
    return 1;
}

static uint32_t lower_other(uint32_t cp) {
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;    /* Greek */
    if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;                   /* Cyrillic */
    if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
    return cp;
}

size_t text_fold(const char *s, char *out, size_t cap, int compact) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), len = 0;
    int pending_space = 0;
    if (!cap) return 0;
    while (n) {
        uint32_t cp;
        int l = utf8_decode(p, n, &cp);
        p += l; n -= (size_t)l;
        if (cp == (uint32_t)-1 || is_apostrophe(cp) || (cp >= 0x300 && cp <= 0x36F)) continue;
        char buf[8];
        int bl;
        if (cp == '&') { memcpy(buf, "and", 3); bl = 3; pending_space = 1; }
        else if (!is_word_char(cp)) bl = 0;
        else if (cp >= 'A' && cp <= 'Z') { buf[0] = (char)(cp + 32); bl = 1; }
        else if (cp >= 0xC0 && cp <= 0x17F) bl = fold_latin(cp, buf);
        else bl = utf8_encode(lower_other(cp), buf);
        if (!bl) { pending_space = 1; continue; }
        int sp = !compact && pending_space && len > 0;
        if (len + (size_t)sp + (size_t)bl >= cap) break;
        if (sp) out[len++] = ' ';
        memcpy(out + len, buf, (size_t)bl);
        len += (size_t)bl;
        pending_space = cp == '&';
    }
    out[len] = 0;
    return len;
}

char *text_fold_dup(const char *s, int compact) {
    size_t cap = strlen(s) * 2 + 4;             /* '&' -> "and" at most triples one byte */
    char *o = malloc(cap);
    if (!o) return NULL;
    text_fold(s, o, cap, compact);
    return o;
}

int text_split_title_artist(const char *s, size_t *title_len, const char **artist) {
    static const char *const seps[] = {" - ", " \xE2\x80\x93 ", " \xE2\x80\x94 ", " by "};
    const char *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < sizeof seps / sizeof *seps; i++) {
        size_t sl = strlen(seps[i]);
        for (const char *p = s; *p; p++)
            if (strncasecmp(p, seps[i], sl) == 0 && p > s && p[sl] && (!best || p > best)) {
                best = p;
                best_len = sl;
            }
    }
    if (!best) return 0;
    *title_len = (size_t)(best - s);
    *artist = best + best_len;
    return 1;
}

int text_substring_distance(const char *needle, const char *hay) {
    int m = (int)strlen(needle);
    if (m > 256) m = 256;
    int d[257];
    for (int i = 0; i <= m; i++) d[i] = i;      /* column for an empty hay prefix */
    int best = m;
    for (const char *h = hay; *h; h++) {
        int diag = d[0];                        /* free start: row 0 stays 0 */
        for (int i = 1; i <= m; i++) {
            int up = d[i];
            int sub = diag + (needle[i - 1] != *h);
            int v = up + 1 < d[i - 1] + 1 ? up + 1 : d[i - 1] + 1;
            d[i] = v < sub ? v : sub;
            diag = up;
        }
        if (d[m] < best) best = d[m];
    }
    return best;
}

size_t text_width(const char *s, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) w++;
    return w;
}

size_t text_prefix_bytes(const char *s, size_t n, size_t chars) {
    size_t w = 0, i = 0;
    for (; i < n && s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && w++ == chars) break;
    return i;
}

int text_valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int more;
        unsigned min;
        if (c < 0x80) continue;
        else if (c >= 0xC2 && c <= 0xDF) more = 1, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) more = 2, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) more = 3, min = 0x10000;
        else return 0;
        unsigned cp = c & (0x3Fu >> more);
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    }
    return 1;
}
