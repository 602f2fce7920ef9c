/* json_fuzz.c - libFuzzer harness for the JSON checks (common/jsoncheck.c)
 * and the streaming-history reader built on them (common/history.c,
 * hist_add_json, what taste reads).  Not part of `make test`
 * (tests/test_taste.sh and tests/test_mpd.sh are the deterministic versions).
 *
 * Properties: json_check_text passes exactly when the input holds no NUL
 * byte and no \u0000 escape (an odd run of backslashes before "u0000");
 * json_check_end passes exactly when only JSON whitespace follows where cJSON
 * stopped; a tree that passes json_check_keys, printed by cJSON and parsed
 * again, passes all three checks and prints the same; hist_add_json either
 * fails with a message naming the input or sums finite play times.
 * Anything else (a crash, a hang, a sanitizer report) is a finding.
 *
 * Build and run (from the project root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I/usr/include/cjson \
 *     -Icommon tests/fuzz/json_fuzz.c common/jsoncheck.c common/history.c common/errbuf.c \
 *     common/strmap.c common/text.c common/csvin.c common/csvnum.c -lcjson -lcsv -lpthread -lm \
 *     -o /tmp/json_fuzz
 *   mkdir -p /tmp/json_corpus && cp tests/data/history/basic/music_0.json.fixture tests/data/history/extended/audio_2023.json.fixture \
 *     tests/data/mpd/slices/slice.0-4.json.fixture /tmp/json_corpus/
 *   /tmp/json_fuzz -max_total_time=300 -max_len=65536 /tmp/json_corpus
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "history.h"
#include "jsoncheck.h"

static void finding(const char *what) { fprintf(stderr, "json_fuzz: %s\n", what); abort(); }

/* the property json_check_text promises, checked the slow way */
static int has_nul(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!p[i]) return 1;
        if (p[i] == '\\') {
            size_t j = i;
            while (j < n && p[j] == '\\') j++;
            if ((j - i) % 2 == 1 && n - j >= 5 && !memcmp(p + j, "u0000", 5)) return 1;
            i = j - 1;
        }
    }
    return 0;
}

static void reprint(const cJSON *root) {
    char *s = cJSON_PrintUnformatted(root), err[512];
    if (!s) return;     /* out of memory or a number cJSON cannot print */
    size_t n = strlen(s);
    const char *end = NULL;
    cJSON *again = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!again) finding("cJSON cannot parse what it printed");
    if (json_check_document(s, n, end, again, "<reprint>", err, sizeof err)) finding(err);
    char *s2 = cJSON_PrintUnformatted(again);
    if (s2 && strcmp(s, s2)) finding("printing the parsed print changed it");
    free(s2);
    cJSON_Delete(again);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    char err[1024];
    int bad = json_check_text(text, size, "<fuzz>", err, sizeof err);
    if (bad != -has_nul(text, size)) finding("json_check_text disagrees with the slow scan");
    if (bad && strncmp(err, "<fuzz>:", 7)) finding("a message without the input's name");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    if (root) {
        int tail = json_check_end(text, size, end, "<fuzz>", err, sizeof err);
        int ws = 1;
        for (const char *p = end; p < text + size; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') ws = 0;
        if ((tail == 0) != ws) finding("json_check_end disagrees with the slow scan");
        if (!bad && !tail && !json_check_keys(root, "<fuzz>", err, sizeof err)) reprint(root);
        cJSON_Delete(root);
    }
    hist h;
    hist_init(&h, 30000);
    if (hist_add_json(&h, text, size, "<fuzz>", err, sizeof err)) {
        if (strncmp(err, "<fuzz>", 6)) finding("a history message without the input's name");
    } else {
        if (bad) finding("hist_add_json took a text with a NUL");
        for (int64_t i = 0; i < h.n; i++)
            if (!isfinite(h.t[i].ms) || h.t[i].ms < 0) finding("a play time that is not finite");
    }
    hist_free(&h);
    return 0;
}
