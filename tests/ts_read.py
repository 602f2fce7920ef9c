#!/usr/bin/python3
"""ts_read.py - a reader of the songpipe tensor stream written from
formats/TENSOR.md alone (not from tensor.c), with numpy.  Used by the
benchmarks (the Python side of a comparison) and to check the spec.

    import ts_read
    for hdr, keys, data in ts_read.read("x.ts"):     # one tuple per tensor
        ...  # hdr: the JSON header (dict); keys: list of str;
             # data: ndarray of shape (rows, *hdr["shape"])
    ts_read.load("x.ts", name=None) -> (hdr, keys, data)

Command line: ts_read.py FILE|-  prints each tensor's name, dtype, shape and
row count, or the error and exit 1.  `--npy OUT` saves the first tensor.

zstd: the `zstandard` module when installed, else libzstd through ctypes
(songpipe links libzstd, so it is always there).
"""
import ctypes
import ctypes.util
import json
import os
import struct
import sys

import numpy as np

MAGIC = b"\x89SPT\r\n\x1a\n"
VERSION = 1
MAX_HEADER = 16 << 20
MAX_BLOCK_RAW = 1 << 30
MAX_BLOCK_ROWS = 1 << 24
MAX_DIMS = 8
MAX_DIM = 1 << 53
MAX_KEY = 4095
DTYPES = {"f32": "<f4", "f64": "<f8", "i32": "<i4", "i64": "<i8", "u8": "u1"}


class StreamError(Exception):
    pass


# ---- CRC-32C (reflected polynomial 0x82F63B78), table-driven ----
def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


_T = _crc_table()


def _crc32c_py(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _T[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


try:  # the PyPI "crc32c" module is much faster; Debian does not ship it
    from crc32c import crc32c
except ImportError:
    crc32c = _crc32c_py

# Pure-Python CRC runs at ~1 MB/s: benchmarks may turn it off with
# TS_READ_VERIFY=0 (structure, sizes and zstd are still checked).
VERIFY = os.environ.get("TS_READ_VERIFY", "1") != "0"


# ---- zstd ----
try:
    import zstandard as _zstd

    def _decompress(comp, raw_len):
        return _zstd.ZstdDecompressor().decompress(comp, max_output_size=raw_len)
except ImportError:
    _lib = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
    _lib.ZSTD_decompress.restype = ctypes.c_size_t
    _lib.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    _lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    _lib.ZSTD_getErrorName.restype = ctypes.c_char_p
    _lib.ZSTD_getErrorName.argtypes = [ctypes.c_size_t]

    def _decompress(comp, raw_len):
        out = ctypes.create_string_buffer(max(raw_len, 1))
        n = _lib.ZSTD_decompress(out, raw_len, comp, len(comp))
        if _lib.ZSTD_isError(n):
            raise StreamError("cannot decompress: " + _lib.ZSTD_getErrorName(n).decode())
        return out.raw[:n]


class _In:
    def __init__(self, f):
        self.f = f

    def exact(self, n, what):
        b = self.f.read(n)
        if len(b) != n:
            raise StreamError(f"truncated stream: it ends inside {what}")
        return b


def _crc_check(rec, crc_bytes, what):
    if VERIFY and crc32c(rec) != struct.unpack("<I", crc_bytes)[0]:
        raise StreamError(f"checksum mismatch in {what}: the stream is corrupt")


def _header(js, n):
    try:
        h = json.loads(js.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StreamError(f"malformed header of tensor {n}: header is not a JSON object ({e})")
    bad = lambda why: StreamError(f"malformed header of tensor {n}: {why}")  # noqa: E731
    if not isinstance(h, dict):
        raise bad("header is not a JSON object")
    if not isinstance(h.get("name"), str):
        raise bad('header has no string "name"')
    if h.get("dtype") not in DTYPES:
        raise bad('header has an unknown "dtype"')
    shape = h.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise bad('header "shape" must be an array of at most 8 sizes')
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not (0 <= d <= MAX_DIM) or d != int(d):
            raise bad('header "shape" holds a size that is not an integer from 0 to 2^53')
    shape = [int(d) for d in shape]
    elems = int(np.prod(shape, dtype=object)) if shape else 1
    if elems * np.dtype(DTYPES[h["dtype"]]).itemsize > MAX_BLOCK_RAW:
        raise bad('header "shape" is too large')
    if "key" in h and not isinstance(h["key"], str):
        raise bad('header "key" must be a string')
    cols = h.get("columns")
    if cols is not None and (not isinstance(cols, list) or len(cols) != elems
                             or not all(isinstance(c, str) for c in cols)):
        raise bad(f'header "columns" must name each of the {elems} elements of a row')
    if "meta" in h and not isinstance(h["meta"], dict):
        raise bad('header "meta" must be an object')
    h["shape"], h["row_elems"] = shape, elems
    return h


def _blocks(inp, h):
    """yields (keys, array) per block, then checks the E record"""
    dt = np.dtype(DTYPES[h["dtype"]])
    row_bytes = h["row_elems"] * dt.itemsize
    rows = 0
    while True:
        tag = inp.exact(1, f"tensor '{h['name']}' after {rows} rows")
        if tag == b"E":
            body = inp.exact(12, "an end-of-tensor record")
            _crc_check(tag + body[:8], body[8:], "the end-of-tensor record")
            total = struct.unpack("<Q", body[:8])[0]
            if total != rows:
                raise StreamError(f"end record says {total} rows but {rows} were read: the stream is corrupt")
            return
        if tag != b"B":
            raise StreamError(f"corrupt stream: expected a block or end record, found byte 0x{tag[0]:02x}")
        hb = inp.exact(12, "a block header")
        nrows, raw_len, comp_len = struct.unpack("<III", hb)
        if raw_len > MAX_BLOCK_RAW or nrows > MAX_BLOCK_ROWS or comp_len > MAX_BLOCK_RAW + (MAX_BLOCK_RAW >> 8) + (128 << 10):
            raise StreamError("oversized block: the stream is corrupt")
        if nrows * row_bytes + nrows > raw_len:
            raise StreamError("block sizes do not add up: the stream is corrupt")
        comp = inp.exact(comp_len + 4, "a block")
        _crc_check(tag + hb + comp[:-4], comp[-4:], f"block of tensor '{h['name']}'")
        raw = _decompress(comp[:-4], raw_len)
        if len(raw) != raw_len:
            raise StreamError(f"block decompressed to {len(raw)} bytes, expected {raw_len}: the stream is corrupt")
        payload = nrows * row_bytes
        kb = raw[payload:]
        if nrows == 0:
            keys = []
            if kb:
                raise StreamError("extra bytes after the keys: the stream is corrupt")
        else:
            if not kb.endswith(b"\0"):
                raise StreamError("a key is not terminated: the stream is corrupt")
            keys = kb[:-1].split(b"\0")
            if len(keys) != nrows:
                raise StreamError("extra bytes after the keys: the stream is corrupt" if len(keys) > nrows
                                  else "a key is not terminated: the stream is corrupt")
            if any(len(k) > MAX_KEY for k in keys):
                raise StreamError("a key is longer than 4095 bytes: the stream is corrupt")
        data = np.frombuffer(raw, dt, nrows * h["row_elems"]).reshape([nrows] + h["shape"])
        rows += nrows
        yield [k.decode("utf-8", "replace") for k in keys], data


def _stream_header(inp, first):
    m = inp.f.read(12)
    if not m:
        if first:
            raise StreamError("empty input: expected a songpipe tensor stream")
        return False
    if m[:8] != MAGIC[:len(m[:8])]:
        raise StreamError("not a tensor stream (bad magic bytes)" if first
                          else "unexpected bytes after the end record (a stream followed by garbage)")
    if len(m) < 12:
        raise StreamError("truncated stream: it ends inside the stream header")
    v = struct.unpack("<I", m[8:])[0]
    if v != VERSION:
        raise StreamError(f"unsupported tensor stream version {v} (this reader reads version {VERSION})")
    return True


def read_blocks(f):
    """yields (hdr, blocks) per tensor; blocks yields (keys, array) per block
    and must be consumed before the next tensor (bounded memory)."""
    inp = _In(f)
    _stream_header(inp, True)
    n = seg = 0
    while True:
        tag = f.read(1)
        if not tag:
            raise StreamError("truncated stream: it ends before its end-of-stream record")
        if tag == b"Z":
            body = inp.exact(8, "the end-of-stream record")
            _crc_check(tag + body[:4], body[4:], "the end-of-stream record")
            if struct.unpack("<I", body[:4])[0] != seg:
                raise StreamError("end-of-stream record disagrees with the tensors read: the stream is corrupt")
            if not _stream_header(inp, False):
                return
            seg = 0
            continue
        if tag != b"H":
            raise StreamError(f"corrupt stream: expected a tensor header record, found byte 0x{tag[0]:02x}")
        ln = inp.exact(4, "a tensor header")
        (hlen,) = struct.unpack("<I", ln)
        if hlen > MAX_HEADER:
            raise StreamError(f"oversized header: {hlen} bytes (the limit is {MAX_HEADER})")
        js = inp.exact(hlen + 4, "a tensor header")
        n += 1
        seg += 1
        _crc_check(tag + ln + js[:-4], js[-4:], f"tensor header {n}")
        h = _header(js[:-4], n)
        blocks = _blocks(inp, h)
        yield h, blocks
        for _ in blocks:   # drain what the caller did not read
            pass


def read(path):
    """yields (hdr, keys, data) per tensor, each tensor whole"""
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        for h, blocks in read_blocks(f):
            keys, parts = [], []
            for k, d in blocks:
                keys += k
                parts.append(d)
            dt = np.dtype(DTYPES[h["dtype"]])
            data = np.concatenate(parts) if parts else np.zeros([0] + h["shape"], dt)
            yield h, keys, data
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def load(path, name=None):
    for h, keys, data in read(path):
        if name is None or h["name"] == name:
            return h, keys, data
    raise StreamError(f"no tensor named '{name}' in the stream" if name else "the stream holds no tensor")


def main(argv):
    args = argv[1:]
    npy = None
    if len(args) >= 2 and args[0] == "--npy":
        npy, args = args[1], args[2:]
    path = args[0] if args else "-"
    try:
        for i, (h, keys, data) in enumerate(read(path)):
            print(f"{h['name']}\t{h['dtype']}\t{list(data.shape[1:])}\t{len(keys)} rows")
            if npy and i == 0:
                np.save(npy, data)
    except StreamError as e:
        print(f"ts_read.py: {path}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
