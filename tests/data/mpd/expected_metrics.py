#!/usr/bin/env python3
"""expected_metrics.py - the metric values tests/test_mpd.sh expects from the
invented fixture slices/slice.0-4.json.fixture, computed from the RecSys
Challenge 2018 formulas written out plainly (run once; the test needs no
Python).  Test playlist: pid 0 "Road Trip" = a b c d e; training: pids 1-4.
Track indices follow first appearance: a0 b1 c2 d3 e4 f5 g6 h7."""
from math import log2

a, b, c, d, e, f, g, h = range(8)
artist = {a: 1, b: 1, c: 2, d: 3, e: 3, f: 2, g: 4, h: 3}
truth = {0: [a, b, c, d, e], 1: [b, c, d, e], 2: [c, d, e]}
# hand-derived rankings (see tests/test_mpd.sh for the counts behind them)
recs = {
    "pop":   {0: [f, g, a, b, h, c, d, e], 1: [f, g, b, h, c, d, e], 2: [f, g, h, c, d, e]},
    "title": {0: [f, a, g, b, c, h, d, e], 1: [f, g, b, c, h, d, e], 2: [f, g, c, h, d, e]},
    "cooc":  {0: [f, a, g, b, c, h, d, e], 1: [f, g, b, c, h, d, e], 2: [f, g, h, c, d, e]},
}

def unique(v):
    out = []
    for x in v:
        if x not in out:
            out.append(x)
    return out

def rprec(G, R):
    return len(set(R[:len(G)]) & set(G)) / len(G)

def ndcg(G, R, k=500):
    r = unique(R[:k])
    dcg = sum((x in G) / log2(i + 2) for i, x in enumerate(r))
    idcg = sum(1 / log2(i + 2) for i in range(len(unique(G[:k]))))
    return dcg / idcg

def clicks(G, R):
    for i, x in enumerate(R[:500]):
        if x in G:
            return i // 10
    return 51

def rprec_artist(G, R):
    w = unique(R[:len(G)])
    th = sum(x in G for x in w)
    sa = {artist[x] for x in w if x not in G}
    ga = {artist[x] for x in G}
    return (th + 0.25 * len(sa & ga)) / len(G)

for m, rk in recs.items():
    rows = []
    for k in (0, 1, 2):
        G, R = truth[k], rk[k]
        rows.append((rprec(G, R), ndcg(G, R), clicks(G, R), rprec_artist(G, R)))
        print(m, k, *("%.6f" % v for v in rows[-1]))
    print(m, "all", *("%.6f" % (sum(r[i] for r in rows) / 3) for i in range(4)))
