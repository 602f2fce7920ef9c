/* hash.h - FNV-1a 64, the string hash of songpipe's hash tables and of
 * `--shard` ownership: the same on every machine and run. */
#ifndef SONGPIPE_HASH_H
#define SONGPIPE_HASH_H
#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT 1469598103934665603ull

static inline uint64_t fnv1a64(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = FNV1A64_INIT;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static inline uint64_t fnv1a64_str(const char *p) {
    const unsigned char *s = (const unsigned char *)p;
    uint64_t h = FNV1A64_INIT;
    for (; *s; s++) h = (h ^ *s) * 1099511628211ull;
    return h;
}
#endif
