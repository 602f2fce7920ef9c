/* strmap.h - an open-addressing hash map from strings to int64 values.
 * Keys are copied into an arena owned by the map; lookups never allocate. */
#ifndef SONGPIPE_STRMAP_H
#define SONGPIPE_STRMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **keys;        /* slot -> key (NULL = empty) */
    int64_t *vals;
    uint64_t *hashes;   /* slot -> full hash, compared before strcmp */
    size_t cap, len;    /* cap is a power of two */
    char **arenas;      /* key storage, chunked */
    size_t narenas, arena_used, arena_cap;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* value for key, or -1 when absent */
int64_t strmap_get(const strmap *m, const char *key);
/* insert when absent: returns the existing value (>= 0) when present,
 * -1 after inserting val, -2 when out of memory */
int64_t strmap_put(strmap *m, const char *key, int64_t val);
uint64_t strmap_hash(const char *s);    /* FNV-1a 64 */
#endif
