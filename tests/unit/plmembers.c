/* plmembers.c - the playlist membership reader shared by members and hybrid
 * (a songs CSV and MPD playlists joined to a catalogue) and the split of
 * whole playlists shared with mpd-split, on a small fixture written here. */
#include "check.h"
#include "plmembers.h"
#include "tensor.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct { int n; char list[16][32]; int64_t song[16]; } got;

static int take(void *ctx, const char *list, int64_t song) {
    got *g = ctx;
    if (g->n == 16) return 1;
    snprintf(g->list[g->n], sizeof g->list[0], "%s", list);
    g->song[g->n++] = song;
    return 0;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
}

/* the splitmix64 finaliser of strmap_hash(name) ^ seed * golden, by hand */
static double split_ref(uint64_t seed, const char *name) {
    uint64_t h = 1469598103934665603ull;           /* common/hash.h FNV1A64_INIT, as it is */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) { h ^= *c; h *= 0x100000001b3ull; }
    h ^= h >> 29;                                   /* strmap_hash */
    uint64_t z = h ^ (seed * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

int main(void) {
    char dir[] = "/tmp/plmembers-XXXXXX", csv[64], trk[64], pl[64], err[512];
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(csv, sizeof csv, "%s/s.csv", dir);
    snprintf(trk, sizeof trk, "%s/t.tsv", dir);
    snprintf(pl, sizeof pl, "%s/p.ts", dir);

    /* the catalogue: keys a b c d -> rows 0..3 */
    strmap keys;
    strmap_init(&keys);
    const char *K[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) strmap_put(&keys, K[i], i);

    /* ---- the CSV: quoted cells, a song outside the catalogue, an empty playlist cell */
    write_file(csv, "track_id,name,playlist_id\na,x,P1\n\"b\",\"y, z\",P1\nzz,w,P1\nc,v,\nd,u,P2\na,x,P2\na,x,P2\n");
    got g = {0};
    plmem_stats st;
    int rc = plmem_read_csv(csv, "playlist_id", "track_id", "csv:", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == 0, "CSV read (%s)", rc ? err : "ok");
    CHECK(st.rows == 7 && st.joined == 5 && st.distinct == 3, "CSV counts: 7 rows, 5 joined, 3 distinct songs (got %lld %lld %lld)",
          (long long)st.rows, (long long)st.joined, (long long)st.distinct);
    const char *want_l[] = {"csv:P1", "csv:P1", "csv:P2", "csv:P2", "csv:P2"};
    int64_t want_s[] = {0, 1, 3, 0, 0};
    int same = g.n == 5;
    for (int i = 0; same && i < 5; i++) same = !strcmp(g.list[i], want_l[i]) && g.song[i] == want_s[i];
    CHECK(same, "CSV entries in input order, prefixed names, a repeated entry given twice");
    g.n = 0;
    rc = plmem_read_csv(csv, "pid", "track_id", "", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "s.csv:1: no column 'pid'"), "a missing playlist column names file, line and column: %s", err);
    rc = plmem_read_csv(csv, "playlist_id", "track_id", "", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == 0 && !strcmp(g.list[0], "P1"), "no prefix: the cell as is");
    g.n = 16;
    rc = plmem_read_csv(csv, "playlist_id", "track_id", "", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == -1, "a callback that fails stops the read");

    /* ---- the MPD: tracks TSV and an i32 (track, pos) stream keyed by pid */
    write_file(trk, "track_uri\ttrack\ttrack_name\nspotify:track:c\t0\tC\nspotify:track:nope\t1\tN\nspotify:track:a\t2\tA\n");
    ts_header h;
    static const char *const cols[] = {"track", "pos"};
    ts_writer *w = ts_open_write(pl, err, sizeof err);
    CHECK(w && !ts_header_init(&h, "playlists", TS_I32, 2, cols), "fixture stream opened");
    h.key_name = strdup("pid");
    ts_begin_tensor(w, &h);
    int32_t rows[][2] = {{0, 0}, {1, 1}, {2, 2}, {2, 0}};
    const char *pid[] = {"7", "7", "7", "9"};
    for (int i = 0; i < 4; i++) ts_write_row(w, pid[i], rows[i]);
    ts_end_tensor(w);
    CHECK(ts_close(w, err, sizeof err) == 0, "fixture stream written");
    ts_header_free(&h);
    g.n = 0;
    rc = plmem_read_mpd(pl, trk, "mpd:", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == 0, "MPD read (%s)", rc ? err : "ok");
    CHECK(st.rows == 4 && st.joined == 3 && st.distinct == 2, "MPD counts: 4 rows, 3 joined, 2 distinct (got %lld %lld %lld)",
          (long long)st.rows, (long long)st.joined, (long long)st.distinct);
    CHECK(g.n == 3 && !strcmp(g.list[0], "mpd:7") && g.song[0] == 2 && g.song[1] == 0 && !strcmp(g.list[2], "mpd:9") && g.song[2] == 0,
          "MPD entries: mpd:7 -> c, a; mpd:9 -> a");
    write_file(trk, "track_uri\ttrack\nspotify:track:c\t0\n");
    rc = plmem_read_mpd(pl, trk, "mpd:", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "track 1 is not a line of"), "a track beyond the vocabulary: %s", err);
    write_file(trk, "track_uri\ttrack\nspotify:track:c\t5\n");
    rc = plmem_read_mpd(pl, trk, "mpd:", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "t.tsv:2: track index '5' is not 0"), "a vocabulary out of order: %s", err);
    write_file(trk, "uri\tx\n");
    rc = plmem_read_mpd(pl, trk, "mpd:", &keys, 4, take, &g, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "t.tsv:1: expected mpd-ingest's --tracks header"), "a foreign vocabulary: %s", err);

    /* ---- the split */
    const char *names[] = {"csv:37i9dQZF1DXcBWIGoYBM5M", "mpd:0", "mpd:6999", "", "x"};
    int ok = 1;
    for (int i = 0; i < 5; i++)
        for (uint64_t s = 0; s < 4; s++) ok &= plmem_split_u(s, names[i]) == split_ref(s, names[i]);
    CHECK(ok, "split: the finaliser of strmap_hash(name) ^ seed * golden, bit for bit");
    /* uniform enough: of 20000 names, 20% +- 1.5% below 0.2, and the seed moves them */
    int below = 0, moved = 0;
    char nm[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(nm, sizeof nm, "mpd:%d", i);
        double u = plmem_split_u(1, nm);
        below += u < 0.2;
        moved += (u < 0.2) != (plmem_split_u(2, nm) < 0.2);
        ok &= u >= 0 && u < 1;
    }
    CHECK(ok && below > 3700 && below < 4300, "split: %d of 20000 names below 0.2, all in [0, 1)", below);
    CHECK(moved > 2000, "split: another seed moves %d names across 0.2", moved);

    unlink(csv); unlink(trk); unlink(pl); rmdir(dir);
    strmap_free(&keys);
    return CHECK_DONE();
}
