#!/usr/bin/python3
"""make_stats_ref.py - writes the invented fixture tests/data/stats_table.csv
and the reference values tests/data/stats_ref.txt (pandas.DataFrame.corr for
pearson, spearman, kendall) and tests/data/pca_ref.csv (numpy eigh PCA, 2
components, sign: largest-magnitude loading positive).  Run once from the
project root: /usr/bin/python3 tests/ref/make_stats_ref.py.  The tests read
the committed files and need no Python."""
import numpy as np
import pandas as pd

rng = np.random.default_rng(20240607)
n = 48
z = rng.normal(size=n)
df = pd.DataFrame({
    "id": [f"t{i:02d}" for i in range(n)],
    "a": np.round(z * 3 + 10, 3),
    "b": np.round(2 * z + rng.normal(size=n), 3),          # correlated with a
    "c": rng.integers(0, 4, size=n).astype(float),          # many ties
    "d": np.floor((z + rng.normal(size=n)) * 2),            # ties, correlated
    "e": np.round(rng.uniform(-1, 1, size=n) ** 3, 4),      # skewed
})
df.to_csv("tests/data/stats_table.csv", index=False)
cols = ["a", "b", "c", "d", "e"]
num = pd.read_csv("tests/data/stats_table.csv")[cols].astype(np.float32).astype(np.float64)
with open("tests/data/stats_ref.txt", "w") as f:
    f.write("# method col1 col2 value: pandas %s DataFrame.corr on stats_table.csv (values as float32)\n" % pd.__version__)
    for m in ["pearson", "spearman", "kendall"]:
        r = num.corr(method=m)
        for i in cols:
            for j in cols:
                f.write("%s %s %s %.15g\n" % (m, i, j, r.loc[i, j]))
x = num.to_numpy()
xc = x - x.mean(axis=0)
cov = xc.T @ xc / (len(x) - 1)
w, v = np.linalg.eigh(cov)
order = np.argsort(w)[::-1][:2]
comp = v[:, order].T
for c in comp:
    if c[np.argmax(np.abs(c))] < 0:
        c *= -1
y = xc @ comp.T
out = pd.DataFrame({"id": df["id"], "pc1": y[:, 0], "pc2": y[:, 1]})
out.to_csv("tests/data/pca_ref.csv", index=False, float_format="%.10g")
with open("tests/data/pca_ref_meta.txt", "w") as f:
    f.write("explained_variance %.12g %.12g\n" % tuple(w[order]))
    f.write("explained_variance_ratio %.12g %.12g\n" % tuple(w[order] / w.sum()))
