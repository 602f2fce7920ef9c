/* strmap.c - open addressing with linear probing, FNV-1a hashing. */
#include "strmap.h"
#include "hash.h"
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (1u << 16)

void strmap_init(strmap *m) { memset(m, 0, sizeof *m); }

void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->narenas; i++) free(m->arenas[i]);
    free(m->arenas); free(m->keys); free(m->vals); free(m->hashes);
    memset(m, 0, sizeof *m);
}

uint64_t strmap_hash(const char *s) {
    uint64_t h = fnv1a64_str(s);
    return h ^ (h >> 29);
}

int64_t strmap_get(const strmap *m, const char *key) {
    if (!m->cap) return -1;
    uint64_t h = strmap_hash(key);
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (; m->keys[i]; i = (i + 1) & mask)
        if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0) return m->vals[i];
    return -1;
}

static int rehash(strmap *m, size_t cap) {
    char **keys = calloc(cap, sizeof *keys);
    int64_t *vals = malloc(cap * sizeof *vals);
    uint64_t *hashes = malloc(cap * sizeof *hashes);
    if (!keys || !vals || !hashes) { free(keys); free(vals); free(hashes); return -1; }
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->keys[j]) continue;
        size_t i = (size_t)m->hashes[j] & (cap - 1);
        while (keys[i]) i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
        hashes[i] = m->hashes[j];
    }
    free(m->keys); free(m->vals); free(m->hashes);
    m->keys = keys; m->vals = vals; m->hashes = hashes; m->cap = cap;
    return 0;
}

static char *arena_copy(strmap *m, const char *s) {
    size_t n = strlen(s) + 1;
    if (!m->narenas || m->arena_used + n > m->arena_cap) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        char **a = realloc(m->arenas, (m->narenas + 1) * sizeof *a);
        if (!a) return NULL;
        m->arenas = a;
        if (!(a[m->narenas] = malloc(cap))) return NULL;
        m->narenas++;
        m->arena_used = 0;
        m->arena_cap = cap;
    }
    char *d = m->arenas[m->narenas - 1] + m->arena_used;
    memcpy(d, s, n);
    m->arena_used += n;
    return d;
}

int64_t strmap_put(strmap *m, const char *key, int64_t val) {
    if ((m->len + 1) * 4 > m->cap * 3 && rehash(m, m->cap ? m->cap * 2 : 64)) return -2;
    uint64_t h = strmap_hash(key);
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (; m->keys[i]; i = (i + 1) & mask)
        if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0) return m->vals[i];
    if (!(m->keys[i] = arena_copy(m, key))) return -2;
    m->vals[i] = val;
    m->hashes[i] = h;
    m->len++;
    return -1;
}
