/* jsoncheck.c - the checks a JSON data file passes beside cJSON's parse:
 * nothing after the document, no duplicate keys, no NUL characters.  See
 * jsoncheck.h for why each one matters. */
#include "jsoncheck.h"
#include "errbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_line_col(const char *text, size_t at, long *line, long *col) {
    *line = 1; *col = 1;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') { (*line)++; *col = 1; }
        else (*col)++;
    }
}

static int fail_at(const char *text, size_t at, const char *name, char *err, size_t errlen, const char *what) {
    long line, col;
    json_line_col(text, at, &line, &col);
    return err_fail(err, errlen, "%s:%ld:%ld: %s", name, line, col, what);
}

int json_check_text(const char *text, size_t len, const char *name, char *err, size_t errlen) {
    const char *z = memchr(text, 0, len);
    if (z)
        return fail_at(text, (size_t)(z - text), name, err, errlen,
                       "a NUL byte: JSON text cannot hold one (is the file damaged, or binary?)");
    /* \u0000 decodes to a NUL that would end the string there; an escape is a
     * backslash preceded by an even run of backslashes */
    for (const char *p = text, *e = text + len; (p = memchr(p, '\\', (size_t)(e - p)));) {
        const char *q = p;
        while (q < e && *q == '\\') q++;
        if ((q - p) % 2 == 1 && e - q >= 5 && !memcmp(q, "u0000", 5))
            return fail_at(text, (size_t)(q - 1 - text), name, err, errlen,
                           "a \\u0000 escape: a NUL inside a string would cut it short; remove it");
        p = q;
    }
    return 0;
}

int json_check_end(const char *text, size_t len, const char *end, const char *name, char *err, size_t errlen) {
    if (!end || end < text || end > text + len) return 0;
    while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (end == text + len) return 0;
    return fail_at(text, (size_t)(end - text), name, err, errlen,
                   "data after the end of the JSON document; a file holds one document (were two files joined?)");
}

static int cmp_key(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* a key seen twice among o's children, or NULL; -1 on out of memory */
static const char *duplicate_key(const cJSON *o, int *oom) {
    int n = 0;
    for (const cJSON *c = o->child; c; c = c->next) n++;
    if (n <= 16) {      /* the common case: a record of a few fields */
        for (const cJSON *c = o->child; c; c = c->next)
            for (const cJSON *d = c->next; d; d = d->next)    /* first bytes first: most keys differ there */
                if (c->string && d->string && c->string[0] == d->string[0] && !strcmp(c->string, d->string))
                    return c->string;
        return NULL;
    }
    const cJSON **v = malloc((size_t)n * sizeof *v);
    if (!v) { *oom = 1; return NULL; }
    int m = 0;
    for (const cJSON *c = o->child; c; c = c->next) if (c->string) v[m++] = c;
    qsort(v, (size_t)m, sizeof *v, cmp_key);
    const char *dup = NULL;
    for (int i = 1; i < m && !dup; i++) if (!strcmp(v[i - 1]->string, v[i]->string)) dup = v[i]->string;
    free(v);
    return dup;
}

/* path: where o is, as "playlists[3].tracks"; extended in place while walking */
static int walk(const cJSON *o, char *path, size_t plen, size_t cap, const char *name, char *err, size_t errlen) {
    int oom = 0;
    if (cJSON_IsObject(o)) {
        const char *dup = duplicate_key(o, &oom);
        if (oom) return err_fail(err, errlen, "out of memory");
        if (dup)
            return err_fail(err, errlen, "%s: in %s: key \"%s\" appears twice; an object holds each key once "
                            "(which one is meant?)", name, plen ? path : "the top-level object", dup);
    }
    /* cJSON reads a number past the double range (1e999) as inf: data
     * damaged or forged, never a value (JSON has no infinity) */
    if (cJSON_IsNumber(o) && !isfinite(o->valuedouble))
        return err_fail(err, errlen, "%s: at %s: the number %s is outside the range of a double; "
                        "a data file holds finite numbers (fix or remove the value)",
                        name, plen ? path : "the top level", o->valuedouble > 0 ? "inf" : "-inf");
    if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) return 0;
    int i = 0;
    for (const cJSON *c = o->child; c; c = c->next, i++) {
        int w = cJSON_IsObject(o) ? snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", c->string ? c->string : "?")
                                  : snprintf(path + plen, cap - plen, "[%d]", i);
        size_t nl = w < 0 || (size_t)w >= cap - plen ? cap - 1 : plen + (size_t)w;
        if (walk(c, path, nl, cap, name, err, errlen)) return -1;
        path[plen] = 0;
    }
    return 0;
}

/* 1 when walk would fail somewhere under o (or memory ran out): the same
 * checks without the path, which cost snprintf calls at every node, most of
 * the check's time on a large document that passes */
static int has_problem(const cJSON *o) {
    int oom = 0;
    if (cJSON_IsObject(o) && (duplicate_key(o, &oom) || oom)) return 1;
    if (cJSON_IsNumber(o) && !isfinite(o->valuedouble)) return 1;
    if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) return 0;
    for (const cJSON *c = o->child; c; c = c->next)
        if (has_problem(c)) return 1;
    return 0;
}

int json_check_keys(const cJSON *root, const char *name, char *err, size_t errlen) {
    if (!has_problem(root)) return 0;
    char path[512] = "";        /* walked again, the path kept, for the message */
    return walk(root, path, 0, sizeof path, name, err, errlen);
}

int json_check_document(const char *text, size_t len, const char *end, const cJSON *root,
                        const char *name, char *err, size_t errlen) {
    if (json_check_text(text, len, name, err, errlen)) return -1;
    if (json_check_end(text, len, end, name, err, errlen)) return -1;
    return json_check_keys(root, name, err, errlen);
}
