/* shard.h - running one stage as N independent shards (--shard I/N) whose
 * outputs `merge` turns back into exactly the bytes of the unsharded run.
 *
 * A shard's output stream is:
 *   1. the stage's tensor, its header identical to the unsharded one except
 *      for meta.shard = {id, count, rule, combine, inputs: [{name, bytes,
 *      crc32c}], sum: ["a.b", ...], options: {...}, meta_absent?}; the rows
 *      this shard owns (options: every option that changes the result and
 *      that the header does not show otherwise);
 *   2. a tensor "shard.order" (i64, one scalar per row of tensor 1, empty
 *      keys): the position in the unsharded output of each row (the input
 *      row, record or file it came from), non-decreasing;
 *   3. shard 0 only: any further tensors the unsharded run writes after the
 *      first one (passed-through tensors).
 * merge orders the rows of all shards by position (combine "rows": every
 * position in one shard; "sum": rows at one position are added), drops
 * meta.shard, adds up the meta numbers named in "sum", and writes the
 * result through the same writer settings, so the zstd blocks come out
 * byte for byte as the unsharded run's.
 *
 * Which rows a shard owns is a deterministic rule of the stage (documented
 * in its --help): a stable hash of the key (shard_owns_key), units taken
 * round-robin (shard_owns_unit), or balanced contiguous ranges
 * (shard_range). */
#ifndef SONGPIPE_SHARD_H
#define SONGPIPE_SHARD_H

#include <stddef.h>
#include <stdint.h>
#include "../formats/tensor.h"

#define SHARD_ORDER_TENSOR "shard.order"
#define SHARD_MAX 65536          /* at most this many shards */

typedef struct { int id, count; } shard_spec;   /* count 0 = not sharded */

/* "I/N", 0 <= I < N <= SHARD_MAX.  0 ok, -1 with the reason in err. */
int shard_parse(const char *text, shard_spec *s, char *err, size_t errlen);
int shard_active(const shard_spec *s);

/* FNV-1a 64 of the key's bytes: the same on every machine and run. */
uint64_t shard_key_hash(const char *key);
/* 1 when this shard owns the row with this key (always 1 when not sharded) */
int shard_owns_key(const shard_spec *s, const char *key);
/* 1 when this shard owns unit u (u mod N == I; always 1 when not sharded) */
int shard_owns_unit(const shard_spec *s, int64_t u);
/* [*begin, *end) = this shard's part of 0..n-1: floor(n*I/N) .. floor(n*(I+1)/N) */
void shard_range(const shard_spec *s, int64_t n, int64_t *begin, int64_t *end);

/* The identity of an input: its size, its CRC-32C and a 64-bit FNV-1a over
 * its 8-byte words (the tail byte by byte).  The CRC alone does not tell two
 * tensor streams apart: every record ends with the CRC-32C of the record,
 * and a CRC run over a message followed by its own CRC ends in a state that
 * depends on the lengths only, so two streams with records of the same
 * lengths have the same whole-file CRC.  Each FNV step (xor a word,
 * multiply by an odd number) is a bijection of the state, so any one
 * changed word changes the hash. */
typedef struct { uint64_t bytes, hash; uint32_t crc; } shard_identity;
/* Reads the whole file once. */
int shard_file_identity(const char *path, shard_identity *id, char *err, size_t errlen);
/* The identity of bytes in memory (the same value as for a file of them). */
void shard_bytes_identity(const void *buf, size_t len, shard_identity *id);

/* ---- the writing side, used by a stage run with --shard ---- */
typedef struct shard_out shard_out;

/* rule: how rows are assigned, in words (goes into the meta). NULL: no memory. */
shard_out *shard_out_new(const shard_spec *s, const char *rule);
/* Records an input file's identity (reads the whole file once). */
int shard_out_input(shard_out *so, const char *path, char *err, size_t errlen);
/* Records an input file's identity already computed (shard_file_identity). */
int shard_out_input_known(shard_out *so, const char *path, const shard_identity *id);
/* Records the identity of bytes that are not a file (a list of paths). */
int shard_out_input_bytes(shard_out *so, const char *name, const void *buf, size_t len);
/* A meta number (dotted path, "csv_clean.rows_in") that merge adds up. */
int shard_out_sum(shard_out *so, const char *path);
/* "rows" (default), "sum" or "topk": what merge does with rows at one
 * position ("topk": every shard holds every position, one query's candidate
 * lists from a part of the index; knn --index-shard, stages/merge.c). */
void shard_out_combine(shard_out *so, const char *how);
/* A further member of meta.shard (a number or a string) that every shard of
 * one run shares: merge compares them, and a combine kind may read them. */
int shard_out_set_number(shard_out *so, const char *name, double v);
int shard_out_set_string(shard_out *so, const char *name, const char *v);
/* An option that changes the result and is not already in the stage's
 * header (meta.shard.options.NAME): merge refuses parts whose options
 * differ and names the option.  0, or -1 when out of memory. */
int shard_out_option_number(shard_out *so, const char *name, double v);
int shard_out_option_string(shard_out *so, const char *name, const char *v);
/* Adds meta.shard to h (call it after the stage has filled h->meta). */
int shard_out_annotate(shard_out *so, ts_header *h);
/* n rows just written to the tensor all come from position pos. */
int shard_out_rows(shard_out *so, int64_t pos, int64_t n);
/* After ts_end_tensor of the stage's tensor: writes "shard.order". */
int shard_out_finish(shard_out *so, ts_writer *w, char *err, size_t errlen);
void shard_out_free(shard_out *so);

/* 1 when h is the order tensor of a shard output (a stage reading a shard
 * output directly, instead of merge's result, says so with this). */
int shard_is_order_tensor(const ts_header *h);
/* 1 when the header carries meta.shard */
int shard_header_is_shard(const ts_header *h);

#endif
