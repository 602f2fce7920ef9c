/* mpd-from-csv.c - a table of songs with a playlist column (one row per
 * playlist entry, e.g. the spotify_songs.csv of the 30,000 Spotify songs
 * set) as one MPD slice JSON file, so the playlist chain (mpd-ingest ...
 * rec-eval) runs on a second collection unchanged. */
#include "cli.h"
#include "csvin.h"
#include "outfile.h"
#include "strmap.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: mpd-from-csv [options] [SONGS.csv | -] [-o mpd.slice.0-N.json]\n"
"Writes the playlists of a songs table as one MPD slice (format v1: 'info'\n"
"and 'playlists', each with name, pid, num_tracks and tracks with pos,\n"
"track_uri, track_name, artist_name, album_uri, album_name): pids 0, 1, ...\n"
"in the order playlists first appear, tracks in row order, a track listed\n"
"twice kept twice.  Memory: the kept cells of every row (the table is\n"
"grouped by playlist).\n"
"\n"
"  --playlist COL     playlist id column (default playlist_id)\n"
"  --title COL        playlist name column (default playlist_name)\n"
"  --track COL        track id column (default track_id); the URI is\n"
"                     spotify:track:ID unless the id already holds a ':'\n"
"  --track-name COL   (default track_name)\n"
"  --artist COL       (default track_artist)\n"
"  --album COL        album id column (default track_album_id; '' = none)\n"
"  --album-name COL   (default track_album_name)\n"
"  -o FILE            output (default stdout)\n"
"  -h, --help         this help;  -V, --version\n";

enum { C_PL, C_TITLE, C_TRACK, C_TNAME, C_ARTIST, C_ALBUM, C_ANAME, NCOL };

typedef struct {
    const char *col[NCOL];
    const char *in, *out;
} opts;

typedef struct {
    opts *o;
    int idx[NCOL];              /* field of each column, -1 none */
    strmap pl;                  /* playlist id -> its number */
    char **title;               /* per playlist */
    int64_t npl, plcap;
    /* rows: playlist number and the kept cells, in row order */
    int64_t *row_pl;
    char **cells;               /* nrows * NCOL (NULL: none) */
    int64_t nrows, rowcap;
    cJSON *root;
} job;
static job J;       /* reachable from a static: cli_die leaves no leak report */

static char *dup_cell(const csvin_row *r, int i) {
    if (i < 0) return NULL;
    char *s = strndup(r->field[i], r->len[i]);
    if (!s) cli_die("out of memory");
    return s;
}

static int on_row(void *ctx, const csvin_row *r) {
    job *j = ctx;
    if (r->index == 0) {
        for (int c = 0; c < NCOL; c++) {
            j->idx[c] = -1;
            if (!j->o->col[c] || !*j->o->col[c]) continue;
            for (int i = 0; i < r->nfields; i++)
                if (!strcmp(r->field[i], j->o->col[c])) j->idx[c] = i;
            if (j->idx[c] < 0) cli_die("%s:1: no column '%s' in the header; name it with the option of that column (--help)",
                                       j->o->in ? j->o->in : "<stdin>", j->o->col[c]);
        }
        return 0;
    }
    if (r->nfields == 1 && r->len[0] == 0) return 0;       /* a blank line */
    for (int c = 0; c < NCOL; c++)
        if (j->idx[c] >= r->nfields)
            cli_die("%s:%ld: %d fields, column '%s' is field %d; a ragged row (check the quoting)",
                    j->o->in ? j->o->in : "<stdin>", r->line, r->nfields, j->o->col[c], j->idx[c] + 1);
    const char *pid = r->field[j->idx[C_PL]], *tid = r->field[j->idx[C_TRACK]];
    if (!*pid || !*tid) cli_die("%s:%ld: empty %s; every row needs a playlist and a track", j->o->in ? j->o->in : "<stdin>", r->line,
                                !*pid ? j->o->col[C_PL] : j->o->col[C_TRACK]);
    int64_t p = strmap_get(&j->pl, pid);
    if (p < 0) {
        if (j->npl == j->plcap) {
            j->plcap = j->plcap ? 2 * j->plcap : 256;
            char **t = realloc(j->title, (size_t)j->plcap * sizeof *t);
            if (!t) cli_die("out of memory");
            j->title = t;
        }
        p = j->npl;
        if (strmap_put(&j->pl, pid, p) == -2) cli_die("out of memory");
        j->title[j->npl++] = dup_cell(r, j->idx[C_TITLE]);
    }
    if (j->nrows == j->rowcap) {
        j->rowcap = j->rowcap ? 2 * j->rowcap : 4096;
        int64_t *rp = realloc(j->row_pl, (size_t)j->rowcap * sizeof *rp);
        if (rp) j->row_pl = rp;
        char **cl = realloc(j->cells, (size_t)j->rowcap * NCOL * sizeof *cl);
        if (cl) j->cells = cl;
        if (!rp || !cl) cli_die("out of memory");
    }
    j->row_pl[j->nrows] = p;
    for (int c = 0; c < NCOL; c++)
        j->cells[j->nrows * NCOL + c] = c == C_PL || c == C_TITLE ? NULL : dup_cell(r, j->idx[c]);
    j->nrows++;
    return 0;
}

static void add_str(cJSON *o, const char *k, const char *v) {
    if (v && !cJSON_AddStringToObject(o, k, v)) cli_die("out of memory");
}

static void add_uri(cJSON *o, const char *k, const char *kind, const char *id) {
    if (!id || !*id) return;
    char buf[1024];
    if (strchr(id, ':')) snprintf(buf, sizeof buf, "%s", id);
    else snprintf(buf, sizeof buf, "spotify:%s:%s", kind, id);
    add_str(o, k, buf);
}

int main(int argc, char **argv) {
    cli_init("mpd-from-csv", argc, argv, HELP);
    static opts o = {.col = {"playlist_id", "playlist_name", "track_id", "track_name", "track_artist", "track_album_id",
                             "track_album_name"}};
    static const struct option lo[] = {
        {"playlist", 1, 0, 0}, {"title", 1, 0, 1}, {"track", 1, 0, 2}, {"track-name", 1, 0, 3},
        {"artist", 1, 0, 4}, {"album", 1, 0, 5}, {"album-name", 1, 0, 6}, {"output", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        if (c >= 0 && c < NCOL) o.col[c] = optarg;
        else if (c == 'o') o.out = optarg;
        else cli_usage("unknown option");
    }
    if (optind + 1 < argc) cli_usage("one input file at most");
    if (optind < argc && strcmp(argv[optind], "-")) o.in = argv[optind];
    if (!*o.col[C_PL] || !*o.col[C_TRACK]) cli_usage("--playlist and --track name columns; they cannot be empty");
    J.o = &o;
    strmap_init(&J.pl);
    char err[1024];
    csvin *in = csvin_open(o.in, ',', err, sizeof err);
    if (!in) cli_die("%s", err);
    if (csvin_each(in, on_row, &J) < 0) cli_die("%s", csvin_error(in));
    csvin_close(in);
    if (!J.nrows) cli_die("%s: no rows; nothing to write", o.in ? o.in : "<stdin>");
    /* group the rows by playlist, keeping row order */
    int64_t *off = calloc((size_t)J.npl + 1, sizeof *off), *order = malloc((size_t)J.nrows * sizeof *order);
    if (!off || !order) cli_die("out of memory");
    for (int64_t r = 0; r < J.nrows; r++) off[J.row_pl[r] + 1]++;
    for (int64_t p = 0; p < J.npl; p++) off[p + 1] += off[p];
    int64_t *fill = malloc((size_t)J.npl * sizeof *fill);
    if (!fill) cli_die("out of memory");
    memcpy(fill, off, (size_t)J.npl * sizeof *fill);
    for (int64_t r = 0; r < J.nrows; r++) order[fill[J.row_pl[r]]++] = r;
    free(fill);
    J.root = cJSON_CreateObject();
    cJSON *info = cJSON_AddObjectToObject(J.root, "info");
    char slice[64];
    snprintf(slice, sizeof slice, "0-%" PRId64, J.npl - 1);
    add_str(info, "slice", slice);
    add_str(info, "version", "v1");
    add_str(info, "source", o.in ? o.in : "<stdin>");
    cJSON *pls = cJSON_AddArrayToObject(J.root, "playlists");
    if (!info || !pls) cli_die("out of memory");
    for (int64_t p = 0; p < J.npl; p++) {
        cJSON *pl = cJSON_CreateObject();
        if (!pl || !cJSON_AddItemToArray(pls, pl)) cli_die("out of memory");
        add_str(pl, "name", J.title[p] ? J.title[p] : "");
        cJSON_AddNumberToObject(pl, "pid", (double)p);
        cJSON_AddNumberToObject(pl, "num_tracks", (double)(off[p + 1] - off[p]));
        cJSON *tr = cJSON_AddArrayToObject(pl, "tracks");
        for (int64_t i = off[p]; i < off[p + 1]; i++) {
            char **cell = J.cells + order[i] * NCOL;
            cJSON *t = cJSON_CreateObject();
            if (!t || !cJSON_AddItemToArray(tr, t)) cli_die("out of memory");
            cJSON_AddNumberToObject(t, "pos", (double)(i - off[p]));
            add_uri(t, "track_uri", "track", cell[C_TRACK]);
            add_str(t, "track_name", cell[C_TNAME]);
            add_str(t, "artist_name", cell[C_ARTIST]);
            add_uri(t, "album_uri", "album", cell[C_ALBUM]);
            add_str(t, "album_name", cell[C_ANAME]);
        }
    }
    free(off); free(order);
    char *text = cJSON_Print(J.root);
    if (!text) cli_die("out of memory");
    FILE *f = outfile_open(o.out, 0);
    fputs(text, f);
    fputc('\n', f);
    outfile_close(f);
    cli_warn("%" PRId64 " playlists, %" PRId64 " tracks", J.npl, J.nrows);
    free(text);
    cJSON_Delete(J.root);
    for (int64_t r = 0; r < J.nrows * NCOL; r++) free(J.cells[r]);
    for (int64_t p = 0; p < J.npl; p++) free(J.title[p]);
    free(J.cells); free(J.row_pl); free(J.title);
    strmap_free(&J.pl);
    return 0;
}
