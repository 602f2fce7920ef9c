/* to-csv - write a tensor of a stream as CSV (RFC 4180) or TSV: the key, then
 * one column per element, numbers printed so that they read back exactly. */
#include "cli.h"
#include "outfile.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
"Usage: to-csv [options] [IN.ts | -]\n"
"Write one tensor of a stream as CSV: the key, then one column per element of\n"
"a row (row-major for multi-dimensional rows), one line per row.\n"
"\n"
"  --tsv           tab-separated instead of comma-separated\n"
"  --no-header     no header line (default: the key name or 'key', then the\n"
"                  column names, or c0,c1,... when the tensor has none)\n"
"  --tensor NAME   the tensor to write (default: the first of the stream;\n"
"                  the others are read and checked, not written)\n"
"  -o FILE         output (default stdout); FILE appears only on success\n"
"  -h, --help      this help;  -V, --version\n"
"\n"
"Numbers: f32 with %.9g, f64 with %.17g (both read back to the same bits),\n"
"integers exactly; NaN and infinities as nan, inf, -inf.  CSV quotes a field\n"
"that holds a comma, a quote or a line end, doubling its quotes (RFC 4180);\n"
"TSV replaces tabs and line ends in keys and names with spaces.  Lines end\n"
"with \\n.  The stream is read to the end: exit 1 when it is corrupt or\n"
"truncated, even after the tensor was written.\n";

struct opts { int tsv, no_header; const char *tensor, *output, *input; };

static struct opts parse_opts(int argc, char **argv) {
    struct opts o = {0};
    static const struct option lo[] = {
        {"tsv", no_argument, 0, 't'}, {"no-header", no_argument, 0, 'n'},
        {"tensor", required_argument, 0, 'T'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 't': o.tsv = 1; break;
        case 'n': o.no_header = 1; break;
        case 'T': o.tensor = optarg; break;
        case 'o': o.output = optarg; break;
        case ':': cli_usage("option '%s' needs a value", argv[optind - 1]);
        default: cli_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) cli_usage("one input at most ('%s' is extra)", argv[optind]);
    return o;
}

/* a key or a name as one field */
static void put_field(FILE *f, const char *s, int tsv) {
    if (tsv) {
        for (; *s; s++) putc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
        return;
    }
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    putc('"', f);
    for (; *s; s++) {
        if (*s == '"') putc('"', f);
        putc(*s, f);
    }
    putc('"', f);
}

static void put_header(FILE *f, const ts_header *h, int tsv) {
    char sep = tsv ? '\t' : ',', name[32];
    put_field(f, h->key_name ? h->key_name : "key", tsv);
    for (int64_t j = 0; j < h->row_elems; j++) {
        putc(sep, f);
        snprintf(name, sizeof name, "c%" PRId64, j);
        put_field(f, h->ncols ? h->columns[j] : name, tsv);
    }
    putc('\n', f);
}

/* %.9g / %.17g print the shortest decimal that reads back as the same
 * float / double (IEEE 754 needs 9 and 17 significant digits). */
static void put_rows(FILE *f, const ts_header *h, const ts_block *b, int tsv) {
    char sep = tsv ? '\t' : ',';
    int64_t re = h->row_elems;
    for (int64_t i = 0; i < b->nrows; i++) {
        put_field(f, b->keys[i], tsv);
        const char *row = (const char *)b->data + (size_t)i * h->row_bytes;
        for (int64_t j = 0; j < re; j++) {
            putc(sep, f);
            switch (h->dtype) {
            case TS_F32: fprintf(f, "%.9g", (double)((const float *)row)[j]); break;
            case TS_F64: fprintf(f, "%.17g", ((const double *)row)[j]); break;
            case TS_I32: fprintf(f, "%" PRId32, ((const int32_t *)row)[j]); break;
            case TS_I64: fprintf(f, "%" PRId64, ((const int64_t *)row)[j]); break;
            case TS_U8: fprintf(f, "%u", (unsigned)((const uint8_t *)row)[j]); break;
            default: break;
            }
        }
        putc('\n', f);
    }
}

int main(int argc, char **argv) {
    cli_init("to-csv", argc, argv, HELP);
    struct opts o = parse_opts(argc, argv);
    ts_reader *in = cli_open_read(o.input);
    FILE *out = outfile_open(o.output, 0);
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    const ts_header *h;
    ts_block b;
    int rc, done = 0, seen = 0;
    while ((rc = ts_next_tensor(in, &h)) == 1) {
        seen++;
        if (done || (o.tensor && strcmp(h->name, o.tensor) != 0)) continue;   /* skipped, still checked */
        if (!o.no_header) put_header(out, h, o.tsv);
        while ((rc = ts_read_block(in, &b)) == 1) put_rows(out, h, &b, o.tsv);
        if (rc < 0) break;
        done = 1;
    }
    if (rc < 0) cli_die("%s", ts_error(in));
    if (!done) {
        if (o.tensor) cli_die("%s: no tensor named '%s' (the stream holds %d tensors; inspect --header lists them)",
                              ts_reader_name(in), o.tensor, seen);
        cli_die("%s: the stream holds no tensor", ts_reader_name(in));
    }
    outfile_close(out);
    ts_close_read(in);
    return 0;
}
