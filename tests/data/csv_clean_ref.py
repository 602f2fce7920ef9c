#!/usr/bin/python3
"""Reference values for tests/unit/csv_clean_stage.c, computed once with pandas
on tests/data/spotify-2023-dirty-slice.csv (the test itself needs no Python).
Rules mirrored: an unparsable streams cell drops the row; the first valid row
per track_name is kept; an empty in_shazam_charts drops the row (drop) or is
filled with the mean / median over the kept rows' values."""
import pandas as pd

d = pd.read_csv("spotify-2023-dirty-slice.csv", encoding="latin-1", dtype=str,
                keep_default_na=False)
d.columns = [c.replace("\u00ef\u00bb\u00bf", "") for c in d.columns]   # BOM read as latin-1
num = ["streams", "in_shazam_charts", "bpm"]
for c in num:
    d[c + "_v"] = pd.to_numeric(d[c].str.replace(",", ""), errors="coerce")
valid = d[~(d["streams_v"].isna() & (d["streams"] != ""))]
drop = valid.dropna(subset=[c + "_v" for c in num]).drop_duplicates("track_name")
fill = valid.drop_duplicates("track_name")
print("rows_in", len(d), "unparsable", len(d) - len(valid))
print("drop: rows_out", len(drop), "sum_streams %.17g" % drop["streams_v"].sum())
s = fill["in_shazam_charts_v"]
print("fill: rows_out", len(fill), "empty", int(s.isna().sum()),
      "mean %.17g" % s.mean(), "median %.17g" % s.median())
print("drop: first keys", list(drop["track_name"][:2]))
codes = list(dict.fromkeys(drop["key"]))
print("drop: key vocabulary", codes, "Flowers ->", codes.index(drop[drop.track_name == "Flowers"]["key"].iloc[0]))
