/* strmap.c - the string hash map against a naive linear search. */
#include "check.h"
#include "strmap.h"
#include <string.h>

int main(void) {
    enum { N = 20000 };
    static char keys[N][16];
    strmap m;
    strmap_init(&m);
    CHECK(strmap_get(&m, "x") == -1, "empty map finds nothing");
    int ok_put = 1, ok_get = 1, ok_dup = 1;
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", (i * 7919) % N);  /* a permutation */
        if (strmap_put(&m, keys[i], i) != -1) ok_put = 0;
    }
    for (int i = 0; i < N; i++) {
        if (strmap_get(&m, keys[i]) != i) ok_get = 0;
        if (strmap_put(&m, keys[i], -5) != i) ok_dup = 0;    /* existing value kept */
    }
    CHECK(ok_put, "%d distinct keys inserted", N);
    CHECK(ok_get, "every key found with its value after growth");
    CHECK(ok_dup, "put on an existing key returns its value and keeps it");
    CHECK(m.len == N, "length %zu", m.len);
    CHECK(strmap_get(&m, "k") == -1 && strmap_get(&m, "") == -1 && strmap_get(&m, "k20000") == -1, "absent keys");
    CHECK(strmap_put(&m, "", 42) == -1 && strmap_get(&m, "") == 42, "the empty string is a key");
    strmap_free(&m);
    return CHECK_DONE();
}
