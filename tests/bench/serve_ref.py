#!/usr/bin/python3
"""serve_ref.py - the reference for bench/serve.sh: /api/similar?id=&k= the
way a user might write it in Python (the standard library's
ThreadingHTTPServer + numpy): cosine neighbours of one song over the same
normalised table, the query song left out, JSON out.

usage: serve_ref.py TABLE.ts PORT"""
import json, sys, os
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ts_read

hdr, keys, x = ts_read.load(sys.argv[1])
x = x.reshape(len(keys), -1).astype(np.float32)
norm = np.linalg.norm(x, axis=1, keepdims=True)
unit = x / np.where(norm > 0, norm, 1)
row = {k: i for i, k in enumerate(keys)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, as serve

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        i = row.get(q.get("id", [""])[0])
        if u.path != "/api/similar" or i is None:
            body, status = b'{"error": "not found"}', 404
        else:
            k = int(q.get("k", ["10"])[0])
            s = unit @ unit[i]
            s[i] = -np.inf
            top = np.argpartition(-s, k)[:k]
            top = top[np.argsort(-s[top], kind="stable")]
            body = json.dumps({"results": [{"id": keys[j], "score": float(s[j])} for j in top]}).encode()
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
