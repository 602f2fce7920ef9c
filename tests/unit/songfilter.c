/* songfilter.c - the result rule (common/songfilter.h) against a naive one
 * over dense arrays: random candidate lists with repeated songs and
 * artists, caps 0..3, excluded songs, give-backs, and sessions long enough
 * to grow the sets many times over their first size. */
#include "check.h"
#include "songfilter.h"

#include <stdint.h>
#include <string.h>

#define NG 5000
#define NA 300

static uint64_t rs = 88172645463325252ull;
static uint64_t next(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }

/* the rule as the knn stage first wrote it: one flag per group, a count per artist */
static int seen[NG], acnt[NA];
static int naive_take(int cap, int64_t g, int64_t a) {
    if (seen[g]) return 0;
    if (cap && a >= 0) {
        if (acnt[a] >= cap) return 0;
        acnt[a]++;
    }
    seen[g] = 1;
    return 1;
}

int main(void) {
    int bad = 0, sessions = 0, taken = 0, refused = 0;
    for (int cap = 0; cap <= 3; cap++) {
        song_filter f;
        CHECK(sf_init(&f, cap, 4) == 0, "init, cap %d", cap);
        for (int s = 0; s < 60; s++, sessions++) {
            int n = 1 + (int)(next() % 3000), ntaken = 0;
            static int64_t tg[3000], ta[3000];
            memset(seen, 0, sizeof seen);
            memset(acnt, 0, sizeof acnt);
            sf_begin(&f);
            for (int e = (int)(next() % 4); e > 0; e--) {
                int64_t g = (int64_t)(next() % NG);
                sf_exclude(&f, g);
                seen[g] = 1;
            }
            for (int i = 0; i < n; i++) {
                int64_t g = (int64_t)(next() % (s % 2 ? 200 : NG)), a = (int64_t)(next() % (NA + 20)) - 20;
                int want = naive_take(cap, g, a < 0 ? -1 : a), got = sf_take(&f, g, a < 0 ? -1 : a);
                if (want != got) bad++;
                if (got == 1) { tg[ntaken] = g; ta[ntaken++] = a < 0 ? -1 : a; taken++; } else refused++;
                if (ntaken && next() % 50 == 0) {       /* give back the last few, as a wider retry does */
                    for (int j = (int)(next() % (unsigned)ntaken); ntaken > j; ntaken--) {
                        sf_untake(&f, tg[ntaken - 1], ta[ntaken - 1]);
                        seen[tg[ntaken - 1]] = 0;
                        if (cap && ta[ntaken - 1] >= 0) acnt[ta[ntaken - 1]]--;
                    }
                }
            }
        }
        CHECK(!f.oom, "no allocation failed, cap %d", cap);
        sf_free(&f);
    }
    CHECK(bad == 0, "%d sessions: %d rows taken, %d refused, %d decisions differ from the naive rule",
          sessions, taken, refused, bad);
    CHECK(taken > 10000 && refused > 10000, "both answers exercised (%d taken, %d refused)", taken, refused);
    return CHECK_DONE();
}
