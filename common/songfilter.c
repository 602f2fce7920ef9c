/* songfilter.c - one row per song, at most M per artist (see songfilter.h). */
#include "songfilter.h"

#include <stdlib.h>

static int set_alloc(sf_set *t, size_t cap) {
    t->key = malloc(cap * sizeof *t->key);
    t->val = malloc(cap * sizeof *t->val);
    t->stamp = calloc(cap, sizeof *t->stamp);
    t->mask = cap - 1;
    t->live = 0;
    return t->key && t->val && t->stamp ? 0 : -1;
}

static void set_free(sf_set *t) {
    free(t->key); free(t->val); free(t->stamp);
    t->key = t->stamp = NULL;
    t->val = NULL;
}

/* The slot of key in session now: its own, or the free one a probe ends at. */
static size_t set_slot(const sf_set *t, int64_t now, int64_t key) {
    size_t i = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ull >> 20) & t->mask;
    while (t->stamp[i] == now && t->key[i] != key) i = (i + 1) & t->mask;
    return i;
}

static int set_count(const sf_set *t, int64_t now, int64_t key) {
    size_t i = set_slot(t, now, key);
    return t->stamp[i] == now ? t->val[i] : 0;
}

/* Twice the slots, the current session's keys moved over. */
static int set_grow(sf_set *t, int64_t now) {
    sf_set old = *t;
    if (set_alloc(t, (old.mask + 1) * 2)) { set_free(t); *t = old; return -1; }
    for (size_t i = 0; i <= old.mask; i++) {
        if (old.stamp[i] != now) continue;
        size_t j = set_slot(t, now, old.key[i]);
        t->stamp[j] = now; t->key[j] = old.key[i]; t->val[j] = old.val[i];
        t->live++;
    }
    set_free(&old);
    return 0;
}

/* Adds d to key's count (a set at most half full, so a probe ends). */
static int set_add(sf_set *t, int64_t now, int64_t key, int d) {
    size_t i = set_slot(t, now, key);
    if (t->stamp[i] != now) {
        if (2 * (t->live + 1) > t->mask + 1) {
            if (set_grow(t, now)) return -1;
            i = set_slot(t, now, key);
        }
        t->stamp[i] = now; t->key[i] = key; t->val[i] = 0;
        t->live++;
    }
    t->val[i] += d;
    return 0;
}

int sf_init(song_filter *f, int max_per_artist, int expect) {
    size_t cap = 16;
    while (cap < (size_t)(expect > 0 ? expect : 0) * 4 + 8) cap *= 2;
    *f = (song_filter){.max_per_artist = max_per_artist, .now = 1};   /* fresh slots: stamp 0 */
    if (set_alloc(&f->groups, cap) == 0 && set_alloc(&f->artists, cap) == 0) return 0;
    sf_free(f);
    return -1;
}

void sf_free(song_filter *f) {
    set_free(&f->groups);
    set_free(&f->artists);
}

void sf_begin(song_filter *f) {
    f->now++;
    f->groups.live = f->artists.live = 0;
}

void sf_exclude(song_filter *f, int64_t group) {
    if (!set_count(&f->groups, f->now, group) && set_add(&f->groups, f->now, group, 1)) f->oom = 1;
}

int sf_take(song_filter *f, int64_t group, int64_t artist) {
    if (f->oom) return -1;
    if (set_count(&f->groups, f->now, group)) return 0;
    if (f->max_per_artist && artist >= 0) {
        if (set_count(&f->artists, f->now, artist) >= f->max_per_artist) return 0;
        if (set_add(&f->artists, f->now, artist, 1)) return f->oom = 1, -1;
    }
    if (set_add(&f->groups, f->now, group, 1)) return f->oom = 1, -1;
    return 1;
}

void sf_untake(song_filter *f, int64_t group, int64_t artist) {
    size_t i = set_slot(&f->groups, f->now, group);
    if (f->groups.stamp[i] == f->now) f->groups.val[i] = 0;
    if (f->max_per_artist && artist >= 0) {
        i = set_slot(&f->artists, f->now, artist);
        if (f->artists.stamp[i] == f->now) f->artists.val[i]--;
    }
}
