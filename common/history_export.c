/* history_export.c - finding and reading the history files of a Spotify data
 * export as delivered: a folder tree, or a zip archive whose members are read
 * in memory through libzip (nothing is extracted).  Contract: hist_add_path
 * in history.h. */
#include "history.h"
#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define HIST_MAX_DEPTH 16   /* folder levels below HISTORY (symbolic-link loops end here) */

/* a history file of the export: its path below the folder (or its member
 * name) and its zip index */
typedef struct { char *rel; enum hist_kind kind; zip_uint64_t index; } entry;
typedef struct { entry *e; size_t n, cap; } entry_list;

static int list_push(entry_list *l, const char *rel, enum hist_kind kind, zip_uint64_t index) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        entry *p = realloc(l->e, cap * sizeof *p);
        if (!p) return -1;
        l->e = p;
        l->cap = cap;
    }
    if (!(l->e[l->n].rel = strdup(rel))) return -1;
    l->e[l->n].kind = kind;
    l->e[l->n++].index = index;
    return 0;
}

static void list_free(entry_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->e[i].rel);
    free(l->e);
}

static int cmp_rel(const void *a, const void *b) { return strcmp(((const entry *)a)->rel, ((const entry *)b)->rel); }

static const char *base_of(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

/* a joined with b by one '/': malloc'd or NULL */
static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a);
    while (n > 1 && a[n - 1] == '/') n--;
    char *p = malloc(n + strlen(b) + 2);
    if (p) sprintf(p, "%.*s/%s", (int)n, a, b);
    return p;
}

/* the whole of f, at most limit bytes: 0 ok, 1 larger than limit, -1 out
 * of memory or a read error (errno) */
static int read_all(FILE *f, size_t limit, char **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (size_t r; (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n > limit) { free(buf); return 1; }
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) { free(buf); return -1; }
            buf = p;
            cap *= 2;
        }
    }
    if (ferror(f)) { free(buf); return -1; }
    *out = buf;
    *len = n;
    return 0;
}

static int too_large(const char *name, size_t limit, char *err, size_t errlen) {
    return err_fail(err, errlen, "%s: larger than the %.0f MiB limit of one history file; if it is a genuine "
                    "Spotify file, raise the limit (taste --max-file MIB)", name, (double)limit / 1048576.0);
}

static int read_path(const char *path, size_t limit, char **buf, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    int rc = read_all(f, limit, buf, len);
    int e = errno;
    fclose(f);
    if (rc == 1) return too_large(path, limit, err, errlen);
    if (rc < 0) return err_fail(err, errlen, "%s: cannot read: %s", path, strerror(e));
    return 0;
}

/* a history file's text: the folder's file or the archive's member */
static int read_member(zip_t *za, const entry *m, size_t limit, const char *name,
                       char **buf, size_t *len, char *err, size_t errlen) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, m->index, 0, &st) || !(st.valid & ZIP_STAT_SIZE))
        return err_fail(err, errlen, "%s: cannot read the member's size: %s", name, zip_strerror(za));
    if (st.size > limit) return too_large(name, limit, err, errlen);
    char *b = malloc((size_t)st.size + 1);
    zip_file_t *zf = b ? zip_fopen_index(za, m->index, 0) : NULL;
    if (!zf) {
        free(b);
        return err_fail(err, errlen, "%s: cannot open the member: %s", name, b ? zip_strerror(za) : "out of memory");
    }
    zip_uint64_t n = 0;
    zip_int64_t r = 0;
    while (n <= st.size && (r = zip_fread(zf, b + n, st.size + 1 - n)) > 0) n += (zip_uint64_t)r;
    int rc = 0;
    if (r < 0) rc = err_fail(err, errlen, "%s: %s; the archive is damaged: download it again", name, zip_file_strerror(zf));
    else if (n != st.size) rc = err_fail(err, errlen, "%s: unpacks to %llu bytes, not the %llu its header says; "
                                         "the archive is damaged: download it again", name,
                                         (unsigned long long)n, (unsigned long long)st.size);
    zip_fclose(zf);
    if (rc) { free(b); return -1; }
    *buf = b;
    *len = (size_t)n;
    return 0;
}

/* reads the listed history files in path order; extended history makes
 * the basic files redundant (see hist_add_path) */
static int add_listed(hist *h, const char *path, entry_list *l, zip_t *za, char *err, size_t errlen) {
    int has_extended = 0, rc = 0;
    int64_t music = 0;
    if (l->n) qsort(l->e, l->n, sizeof *l->e, cmp_rel);
    for (size_t i = 0; i < l->n; i++) has_extended |= l->e[i].kind == HIST_EXTENDED;
    for (size_t i = 0; i < l->n && !rc; i++) {
        const entry *m = &l->e[i];
        if (m->kind == HIST_BASIC && has_extended) { h->basic_skipped++; continue; }
        char *name = za ? malloc(strlen(path) + strlen(m->rel) + 2) : join_path(path, m->rel), *buf = NULL;
        size_t len = 0;
        if (!name) return err_fail(err, errlen, "out of memory");
        if (za) sprintf(name, "%s:%s", path, m->rel);
        rc = za ? read_member(za, m, h->max_file, name, &buf, &len, err, errlen)
                : read_path(name, h->max_file, &buf, &len, err, errlen);
        if (!rc && m->kind == HIST_VIDEO) rc = hist_count_video(h, buf, len, name, err, errlen);
        else if (!rc) { rc = hist_add_json(h, buf, len, name, err, errlen); h->files++; music++; }
        free(buf);
        free(name);
    }
    if (!rc && !music)
        rc = err_fail(err, errlen, "%s: no streaming-history file in the %s (StreamingHistory*.json, "
                      "StreamingHistory_music_*.json, Streaming_History_Audio_*.json or endsong*.json, in any "
                      "subfolder)%s", path, za ? "archive" : "folder",
                      h->video_files ? "; only video history, which taste does not read" : "");
    return rc ? -1 : 0;
}

/* collects the history files below root/rel */
static int walk(const char *root, const char *rel, int depth, entry_list *l, char *err, size_t errlen) {
    char *dir = *rel ? join_path(root, rel) : strdup(root);
    if (!dir) return err_fail(err, errlen, "out of memory");
    DIR *d = opendir(dir);
    if (!d) { err_fail(err, errlen, "%s: cannot open the folder: %s", dir, strerror(errno)); free(dir); return -1; }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        const char *b = de->d_name;
        if (!strcmp(b, ".") || !strcmp(b, "..") || !strcmp(b, "__MACOSX")) continue;   /* macOS zip side folder */
        char *full = join_path(dir, b), *sub = *rel ? join_path(rel, b) : strdup(b);
        struct stat st;
        if (!full || !sub) rc = err_fail(err, errlen, "out of memory");
        else if (stat(full, &st)) { /* a dangling link: nothing to read */ }
        else if (S_ISDIR(st.st_mode)) {
            if (depth >= HIST_MAX_DEPTH)
                rc = err_fail(err, errlen, "%s: more than %d folder levels (a link loop?); name the export's folder itself",
                              full, HIST_MAX_DEPTH);
            else rc = walk(root, sub, depth + 1, l, err, errlen);
        } else if (S_ISREG(st.st_mode) && hist_kind_of(b) != HIST_NONE && list_push(l, sub, hist_kind_of(b), 0))
            rc = err_fail(err, errlen, "out of memory");
        free(full);
        free(sub);
    }
    closedir(d);
    free(dir);
    return rc;
}

/* 1 when a member name could write outside an extraction folder */
static int zip_slip(const char *name) {
    if (name[0] == '/' || name[0] == '\\' || (name[0] && name[1] == ':')) return 1;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.') return 1;
        p += n;
        if (*p) p++;
    }
    return 0;
}

static int add_zip(hist *h, const char *path, char *err, size_t errlen) {
    int code = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &code);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        err_fail(err, errlen, "%s: not a readable zip archive: %s; download the export again", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    entry_list l = {0};
    int rc = 0;
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n && !rc; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
        if (!name) rc = err_fail(err, errlen, "%s: member %lld: %s", path, (long long)i + 1, zip_strerror(za));
        else if (zip_slip(name))
            rc = err_fail(err, errlen, "%s: member '%s' has a '..' part or an absolute path (zip-slip); taste refuses "
                          "the archive (Spotify's exports have none): re-create it without that member", path, name);
        else if (hist_kind_of(base_of(name)) != HIST_NONE && list_push(&l, name, hist_kind_of(base_of(name)), (zip_uint64_t)i))
            rc = err_fail(err, errlen, "out of memory");
    }
    if (!rc) rc = add_listed(h, path, &l, za, err, errlen);
    list_free(&l);
    zip_discard(za);
    return rc ? -1 : 0;
}

/* a file named on the command line: zip, JSON or CSV by its first bytes */
static int add_file(hist *h, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t m = fread(magic, 1, 4, f);
    if (m == 4 && (!memcmp(magic, "PK\3\4", 4) || !memcmp(magic, "PK\5\6", 4))) {
        fclose(f);
        return add_zip(h, path, err, errlen);
    }
    rewind(f);
    int c;
    while ((c = getc(f)) == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xEF || c == 0xBB || c == 0xBF) {}
    fclose(f);
    h->files++;
    if (c != '[' && c != '{') return hist_add_csv(h, path, err, errlen);     /* not JSON: a ranked CSV list */
    char *buf = NULL;
    size_t len = 0;
    if (read_path(path, h->max_file, &buf, &len, err, errlen)) return -1;
    int rc = hist_add_json(h, buf, len, path, err, errlen);
    free(buf);
    return rc;
}

int hist_add_path(hist *h, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st)) return err_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return add_file(h, path, err, errlen);
    entry_list l = {0};
    int rc = walk(path, "", 0, &l, err, errlen);
    if (!rc) rc = add_listed(h, path, &l, NULL, err, errlen);
    list_free(&l);
    return rc;
}
