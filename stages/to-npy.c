/* to-npy - write one tensor of a stream as a NumPy .npy file (format 1.0).
 * The row count is known only at the end: the header is written with room
 * for any count and patched in place when the output is a regular file; a
 * pipe gets the rows spooled to a temporary file first (bounded memory). */
#include "cli.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
"Usage: to-npy [options] [IN.ts | -]\n"
"Write one tensor of a stream as a NumPy .npy file (format version 1.0,\n"
"little-endian): shape (rows, *row_shape), dtype <f4, <f8, <i4, <i8 or |u1.\n"
"np.load reads it; the keys are not in the .npy (see --keys).\n"
"\n"
"  -o FILE         output (default stdout, refused on a terminal); FILE\n"
"                  appears only on success\n"
"  --keys FILE     also write the keys, one per line, in row order (line ends\n"
"                  inside a key become spaces)\n"
"  --tensor NAME   the tensor to write (default: the first of the stream;\n"
"                  the others are read and checked, not written)\n"
"  -h, --help      this help;  -V, --version\n"
"\n"
"Memory: one block.  When the output is not a regular file (a pipe), the\n"
"rows wait in a temporary file in $TMPDIR (default /tmp) until the count is\n"
"known.  Until the header is patched at the end, the file starts with\n"
"INCOMPLE instead of the .npy magic, so an interrupted write never loads.\n";

struct opts { const char *output, *keys, *tensor, *input; };

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {0};
    static const struct option lo[] = {
        {"keys", required_argument, 0, 'k'}, {"tensor", required_argument, 0, 'T'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'k': o.keys = optarg; break;
        case 'T': o.tensor = optarg; break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    return o;
}

static const char *npy_descr(ts_dtype t) {
    static const char *const d[TS_NDTYPES] = {"<f4", "<f8", "<i4", "<i8", "|u1"};
    return d[t];
}

/* The .npy 1.0 header: magic, version 1.0, u16 length, then a Python dict
 * literal padded with spaces and ended by \n so that the data starts at a
 * multiple of 64 bytes (numpy's format.py).  The padding leaves room for a
 * 20-character row count, so the patched header has the same length.
 * rows < 0 writes -1.  Returns the header's total length. */
static int npy_dict(char *dict, size_t cap, const ts_header *h, int64_t rows) {
    char shape[512];
    int n = snprintf(shape, sizeof shape, "(%" PRId64 ",", rows);
    for (int i = 0; i < h->ndim && n < (int)sizeof shape; i++)
        n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, i ? ", " : " ", h->shape[i]);
    if (n < (int)sizeof shape) snprintf(shape + n, sizeof shape - (size_t)n, ")");
    return snprintf(dict, cap, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", npy_descr(h->dtype), shape);
}

static size_t npy_header(char *out, size_t cap, const ts_header *h, int64_t rows) {
    char dict[1024];
    /* sized for the "-1" placeholder plus 20 characters, so every count fits */
    int dl = npy_dict(dict, sizeof dict, h, -1);
    size_t want = 10 + (size_t)dl + 20 + 1;
    size_t total = (want + 63) / 64 * 64;
    if (dl >= (int)sizeof dict || total - 10 > 65535) return 0;
    dl = npy_dict(dict, sizeof dict, h, rows < 0 ? -1 : rows);
    if (total > cap) return 0;
    /* the placeholder has no magic, so an unfinished file is no .npy at all
     * (numpy would accept a -1 row count and infer it from the file size) */
    memcpy(out, rows < 0 ? "INCOMPLETE" : "\x93NUMPY\x01\x00", 8);
    size_t hl = total - 10;
    out[8] = (char)(hl & 0xff);
    out[9] = (char)(hl >> 8);
    memcpy(out + 10, dict, (size_t)dl);
    memset(out + 10 + dl, ' ', total - 10 - (size_t)dl - 1);
    out[total - 1] = '\n';
    return total;
}

static void put_key(FILE *f, const char *k) {
    for (; *k; k++) putc(*k == '\n' || *k == '\r' ? ' ' : *k, f);
    putc('\n', f);
}

static const char *out_name = "<stdout>";   /* -o, for messages */

static void copy_spool(FILE *spool, FILE *out) {
    static char buf[1 << 16];
    size_t n;
    if (fflush(spool) != 0 || fseeko(spool, 0, SEEK_SET) != 0) cli_die("temporary file: %s", strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, spool)) > 0)
        if (fwrite(buf, 1, n, out) != n) cli_die("%s: write failed: %s", out_name, strerror(errno));
    if (ferror(spool)) cli_die("temporary file: read failed: %s", strerror(errno));
}

static FILE *make_spool(void) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/to-npy-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) cli_die("cannot create a temporary file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);                       /* gone when we exit, however we exit */
    FILE *f = fdopen(fd, "w+b");
    if (!f) cli_die("temporary file: %s", strerror(errno));
    return f;
}

/* writes the tensor whose header was just read; dies on error */
static void write_tensor(ts_reader *in, const ts_header *h, FILE *out, FILE *keys) {
    char hdr[2048];
    size_t hl = npy_header(hdr, sizeof hdr, h, -1);
    if (!hl) cli_die("tensor '%s': its shape does not fit a .npy 1.0 header", h->name);
    /* O_APPEND (>>) would send the patch to the end: spool instead */
    int seekable = outfile_seekable(out) && !(fcntl(fileno(out), F_GETFL) & O_APPEND);
    off_t start = seekable ? ftello(out) : 0;
    FILE *data = seekable ? out : make_spool();
    if (seekable && fwrite(hdr, 1, hl, out) != hl) cli_die("%s: write failed: %s", out_name, strerror(errno));
    ts_block b;
    int rc;
    int64_t rows = 0;
    while ((rc = ts_read_block(in, &b)) == 1) {
        size_t n = (size_t)b.nrows * h->row_bytes;
        if (n && fwrite(b.data, 1, n, data) != n)
            cli_die("%s: write failed: %s", seekable ? out_name : "temporary file", strerror(errno));
        if (keys) for (int64_t i = 0; i < b.nrows; i++) put_key(keys, b.keys[i]);
        rows += b.nrows;
    }
    if (rc < 0) cli_die("%s", ts_error(in));
    if (npy_header(hdr, sizeof hdr, h, rows) != hl) cli_die("internal error: .npy header length changed");
    if (seekable) {
        off_t end = ftello(out);
        if (fseeko(out, start, SEEK_SET) != 0 || fwrite(hdr, 1, hl, out) != hl || fseeko(out, end, SEEK_SET) != 0)
            cli_die("%s: cannot patch the .npy header: %s", out_name, strerror(errno));
    } else {
        if (fwrite(hdr, 1, hl, out) != hl) cli_die("%s: write failed: %s", out_name, strerror(errno));
        copy_spool(data, out);
        fclose(data);
    }
}

int main(int argc, char **argv) {
    cli_init("to-npy", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    if (o.output && strcmp(o.output, "-") != 0) out_name = o.output;
    outfile_hold();                     /* -o and --keys: both or neither */
    FILE *out = outfile_open(o.output, 1);
    ts_reader *in = cli_open_read(o.input);
    FILE *keys = o.keys ? outfile_open(o.keys, 0) : NULL;
    const ts_header *h;
    int rc, done = 0, seen = 0;
    while ((rc = ts_next_tensor(in, &h)) == 1) {
        seen++;
        if (done || (o.tensor && strcmp(h->name, o.tensor) != 0)) continue;   /* skipped, still checked */
        write_tensor(in, h, out, keys);
        done = 1;
    }
    if (rc < 0) cli_die("%s", ts_error(in));
    if (!done) {
        if (o.tensor) cli_die("%s: no tensor named '%s' (the stream holds %d tensors; inspect --header lists them)",
                              ts_reader_name(in), o.tensor, seen);
        cli_die("%s: the stream holds no tensor", ts_reader_name(in));
    }
    if (keys) outfile_close(keys);
    outfile_close(out);
    outfile_commit();
    ts_close_read(in);
    return 0;
}
