# test_mpd.sh - playlists: mpd-ingest on invented MPD-format slices (plain
# and zstd), its error messages, mpd-split, the pop/title/cooc models, and
# rec-eval against metric values derived by hand (tests/data/mpd/
# expected_metrics.py writes the derivation out).  The real MPD files in
# $SHARED/mpd are only counted against their README, never copied.
. "$(dirname "$0")/lib.sh"
# the fixtures are stored under names no real MPD file has (so that a check
# for committed MPD data never confuses them); the slice names come back here
D=$T/mpd
mkdir -p "$D/slices" "$D/bad" "$T/audio"
F=$ROOT/tests/data/mpd
cp "$F/slices/slice.0-4.json.fixture" "$D/slices/mpd.slice.0-4.json"
cp "$F/slices/slice.5-6.json.zst.fixture" "$D/slices/mpd.slice.5-6.json.zst"
cp "$F/bad/slice.7-7.json.fixture" "$D/bad/mpd.slice.7-7.json"
for s in mpd-ingest mpd-split mpd-recommend rec-eval to-csv; do [ -x "$BIN/$s" ] || { skip mpd "no $BIN/$s"; exit 0; }; done

# ---- ingest: both slices (a folder: .json and .json.zst, version order) ----
ok "ingest a folder of .json and .json.zst" mpd-ingest --tracks "$T/tr.tsv" --popularity "$T/pop.ts" --names "$T/nm.tsv" -o "$T/pl.ts" "$D/slices"
like "summary" "$(cat "$T/.err")" "2 files .*: 7 playlists, 24 rows, 10 distinct tracks"
is "playlists in file order" "$(to-csv --no-header "$T/pl.ts" | cut -d, -f1 | uniq | tr '\n' ' ')" "0 1 2 3 4 5 6 "
is "rows of pid 6 (a repeated track), in order" "$(to-csv --no-header "$T/pl.ts" | grep '^6,' | tr '\n' ' ')" "6,9,0 6,8,1 6,8,2 "
is "vocabulary header" "$(head -1 "$T/tr.tsv")" $'track_uri\ttrack\ttrack_name\tartist_name\tartist_uri\talbum_name\tcount'
is "vocabulary: first appearance order, counts" "$(cut -f1,2,7 "$T/tr.tsv" | sed -n '2p;10p;11p' | tr '\t\n' ', ')" \
   "spotify:track:fixture0001,0,4 spotify:track:fixture0009,8,3 spotify:track:fixture0010,9,2 "
is "missing artist_uri and album fields: empty cells" "$(grep fixture0008 "$T/tr.tsv")" \
   $'spotify:track:fixture0008\t7\tHotel Song\tFixture Artist Three\t\t\t2'
is "popularity tensor = vocabulary counts" "$(to-csv --no-header "$T/pop.ts" | cut -d, -f2 | tr '\n' ' ')" "$(tail -n +2 "$T/tr.tsv" | cut -f7 | tr '\n' ' ')"
is "collaborative: string, boolean, absent" "$(cut -f5 "$T/nm.tsv" | tr '\n' ' ')" "collaborative false true false  false false false "
is "TAB in a description becomes a space" "$(awk -F'\t' '$1==2{print $6}' "$T/nm.tsv")" "made up for tests"
is "TAB in a name becomes a space" "$(awk -F'\t' '$1==6{print $2}' "$T/nm.tsv")" "Focus Time"
ok "stdin input" bash -c "mpd-ingest --tracks '$T/tr2.tsv' < '$D/slices/mpd.slice.0-4.json' > '$T/pl2.ts'"
is "stdin gives the same rows" "$(to-csv "$T/pl2.ts")" "$(to-csv "$T/pl.ts" | head -19)"

# ---- ingest errors ----
bad=$D/bad/mpd.slice.7-7.json
at=$(grep -bo '"num_tracks"' "$bad" | cut -d: -f1)
fails "bad JSON: file, byte position, line and column" 1 "mpd.slice.7-7.json: invalid JSON at byte $at \\(line 7, column 13\\)" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$bad"
is "no output or temporary file after bad JSON" "$(cd "$T" && compgen -G 'x.ts*')" ""
if command -v zstd >/dev/null; then
  zstd -q -c "$bad" > "$T/bad.json.zst"
  fails "bad JSON inside zstd: position in the decompressed text" 1 "invalid JSON at byte $at of the decompressed text" \
    mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/bad.json.zst"
  head -c 200 "$D/slices/mpd.slice.5-6.json.zst" > "$T/cut.json.zst"
  fails "truncated zstd file" 1 "truncated zstd|corrupt zstd" mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/cut.json.zst"
else
  skip "bad JSON inside zstd" "no zstd command"
fi
fails "a pid seen twice" 1 "pid 0 was already seen in .*mpd.slice.0-4.json" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$D/slices/mpd.slice.0-4.json" "$D/slices/mpd.slice.0-4.json"
sed '0,/"track_uri"/{/"track_uri"/d}' "$D/slices/mpd.slice.0-4.json" > "$T/nouri.json"
fails "a track without track_uri" 1 "playlist #0 \\(pid 0\\): track #0 has no track_uri" mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/nouri.json"
sed '0,/"collaborative": "false"/s//"collaborative": "maybe"/' "$D/slices/mpd.slice.0-4.json" > "$T/collab.json"
fails "collaborative neither boolean nor true/false" 1 "pid 0\\): collaborative is neither" mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/collab.json"
echo '{"info": {}, "items": []}' > "$T/other.json"
fails "JSON that is not a slice" 1 "no 'playlists' array" mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/other.json"
fails "--tracks is required" 2 "--tracks FILE is required" mpd-ingest -o "$T/x.ts" "$bad"
fails "a folder without slices" 1 "no \\*.json" mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$D/.."/audio
ok "--help" mpd-ingest --help

# ---- -j 2 (slice i+1 read and parsed while slice i is ingested) against -j 1 ----
sed 's/"pid": \([0-9]\)/"pid": 1\1/' "$D/slices/mpd.slice.0-4.json" > "$T/p10.json"
three=("$D/slices/mpd.slice.0-4.json" "$D/slices/mpd.slice.5-6.json.zst" "$T/p10.json")
for j in 1 2; do
  ok "-j $j: three slices" mpd-ingest -j "$j" --tracks "$T/j$j.tsv" --popularity "$T/j$j.pop" --names "$T/j$j.nm" -o "$T/j$j.ts" "${three[@]}"
done
is "-j 1 and -j 2: the same bytes in all four outputs" \
   "$(cd "$T" && cmp j1.ts j2.ts && cmp j1.tsv j2.tsv && cmp j1.pop j2.pop && cmp j1.nm j2.nm && echo same)" same
is "three slices: 12 playlists" "$(tail -n +2 "$T/j2.nm" | wc -l)" 12
# the first bad file in input order is named, whichever thread found what
errs() {   # NAME REGEX FILE...: -j 1 and -j 2 fail alike, naming what REGEX says, nothing written
  local n=$1 re=$2; shift 2
  fails "$n (-j 1)" 1 "$re" mpd-ingest -j 1 --tracks "$T/e.tsv" --names "$T/e.nm" -o "$T/e.ts" "$@"
  cp "$T/.err" "$T/e1.err"
  fails "$n (-j 2)" 1 "$re" mpd-ingest -j 2 --tracks "$T/e.tsv" --names "$T/e.nm" -o "$T/e.ts" "$@"
  is "$n: -j 2 says what -j 1 says" "$(cat "$T/.err")" "$(cat "$T/e1.err")"
  is "$n: nothing written" "$(cd "$T" && compgen -G 'e.*' | grep -v err)" ""
}
errs "bad JSON in the 2nd of 3 files" "mpd.slice.7-7.json: invalid JSON at byte $at" \
  "$D/slices/mpd.slice.0-4.json" "$bad" "$T/other.json"
errs "a pid seen twice in the 2nd file, bad JSON in the 3rd" "playlist #0 \\(pid 0\\): pid 0 was already seen" \
  "$D/slices/mpd.slice.0-4.json" "$T/nouri.json" "$bad"
errs "bad JSON in the 2nd, a missing 3rd" "mpd.slice.7-7.json: invalid JSON" \
  "$D/slices/mpd.slice.0-4.json" "$bad" "$T/no-such.json"
errs "a missing 2nd file, bad JSON in the 3rd" "no-such.json: cannot open" \
  "$D/slices/mpd.slice.0-4.json" "$T/no-such.json" "$bad"
fails "-j 3 is refused" 2 "--threads" mpd-ingest -j 3 --tracks "$T/x.tsv" "$bad"

# ---- split, models, evaluation on slice 0-4 (values derived by hand) ----
# Held out: pid 0 "Road Trip" = a b c d e (track indices 0-4); training:
# 1 "Road Trip" a b f g, 2 "road trip!" a c f, 3 "Chill" f g h, 4 "Chill" g h b.
# Training counts: f 3, g 3, a 2, b 2, h 2, c 1, d 0, e 0 (ties: lower index).
#  pop:   f g a b h c d e, seeds left out.
#  title: playlists 1 and 2 share the folded title "roadtrip": a 2, f 2, b 1,
#         g 1, c 1 -> f a g b c, then by popularity h d e.
#  cooc K=1 (seed a): a is in 1 and 2 -> f 2, b 1, g 1, c 1 -> f g b c h d e.
#  cooc K=2 (seeds a b): weights 1:2, 2:1, 4:1 -> f 3, g 3, h 1, c 1 -> f g h c d e.
S=$T/split; mkdir -p "$S"
mpd-ingest --tracks "$S/tr.tsv" --names "$S/nm.tsv" -o "$S/pl.ts" "$D/slices/mpd.slice.0-4.json" 2>/dev/null
ok "split: one held-out playlist" mpd-split --test-frac 1 --max-test 1 --ks 0,1,2 --names "$S/nm.tsv" \
  --queries "$S/q.tsv" --seeds "$S/s.ts" --truth "$S/t.ts" -o "$S/train.ts" "$S/pl.ts"
is "queries" "$(tail -n +2 "$S/q.tsv" | tr '\t\n' ', ')" "0/0,0,0,Road Trip 0/1,0,1,Road Trip 0/2,0,2,Road Trip "
is "seeds: the first K tracks" "$(to-csv --no-header "$S/s.ts" | tr '\n' ' ')" "0/1,0,0 0/2,0,0 0/2,1,1 "
is "truth: the rest, with positions" "$(to-csv --no-header "$S/t.ts" | grep '^0/2' | tr '\n' ' ')" "0/2,2,2 0/2,3,3 0/2,4,4 "
is "training keeps the other playlists" "$(to-csv --no-header "$S/train.ts" | cut -d, -f1 | uniq | tr '\n' ' ')" "1 2 3 4 "
for m in pop title cooc; do
  mpd-recommend --model $m --train "$S/train.ts" --names "$S/nm.tsv" --tracks "$S/tr.tsv" \
    --queries "$S/q.tsv" --seeds "$S/s.ts" -o "$S/r-$m.ts" 2>/dev/null
done
recs() { to-csv --no-header "$S/r-$1.ts" | grep "^0/$2," | cut -d, -f2 | tr '\n' ' '; }
is "pop K=1 leaves out the seed" "$(recs pop 1)" "5 6 1 7 2 3 4 "
is "title K=0" "$(recs title 0)" "5 0 6 1 2 7 3 4 "
is "cooc K=0 falls back to the title model" "$(recs cooc 0)" "$(recs title 0)"
is "cooc K=1" "$(recs cooc 1)" "5 6 1 2 7 3 4 "
is "cooc K=2" "$(recs cooc 2)" "5 6 7 2 3 4 "
got=$(rec-eval --tsv --truth "$S/t.ts" --queries "$S/q.tsv" --tracks "$S/tr.tsv" "$S/r-pop.ts" "$S/r-title.ts" "$S/r-cooc.ts" 2>"$T/ev.err")
want=$(cd "$D" && cat <<'X'
model	k	queries	r_precision	ndcg	clicks	r_precision_artist
pop	0	1	0.400000	0.656506	0.000000	0.500000
pop	1	1	0.250000	0.615393	0.000000	0.375000
pop	2	1	0.000000	0.550810	0.000000	0.166667
pop	all	3	0.216667	0.607569	0.000000	0.347222
title	0	1	0.600000	0.711306	0.000000	0.650000
title	1	1	0.500000	0.632500	0.000000	0.562500
title	2	1	0.333333	0.583342	0.000000	0.416667
title	all	3	0.477778	0.642383	0.000000	0.543056
cooc	0	1	0.600000	0.711306	0.000000	0.650000
cooc	1	1	0.500000	0.632500	0.000000	0.562500
cooc	2	1	0.000000	0.550810	0.000000	0.166667
cooc	all	3	0.366667	0.631539	0.000000	0.459722
X
)
is "rec-eval: R-precision, NDCG, clicks, artist credit per K and overall" "$got" "$want"
like "artist ids fall back to names when a uri is missing" "$(cat "$T/ev.err")" "folded artist_name"
out=$(rec-eval --truth "$S/t.ts" "$S/r-cooc.ts" 2>/dev/null | tail -1)
like "without --queries: one overall row" "$out" "^cooc +all +3 +0.3667 +0.6315 +0.000$"
# a query without recommendations scores 0, 0, 51
to-csv --no-header "$S/r-cooc.ts" | grep -v '^0/2,' > /dev/null
mpd-recommend --model cooc --train "$S/train.ts" --queries <(head -3 "$S/q.tsv") --seeds "$S/s.ts" -o "$S/r-part.ts" 2>/dev/null
out=$(rec-eval --tsv --truth "$S/t.ts" --queries "$S/q.tsv" "$S/r-part.ts" 2>"$T/ev.err" | grep -P '^cooc\t2\t')
is "missing query scored 0, 0, 51" "$out" $'cooc\t2\t1\t0.000000\t0.000000\t51.000000\t0.000000'
like "missing queries are reported" "$(cat "$T/ev.err")" "1 queries have no recommendations"
fails "recommendations for an unknown query" 1 "query '0' is not in the ground truth" rec-eval --truth "$S/t.ts" "$S/pl.ts"
fails "rec-eval needs --truth" 2 "--truth" rec-eval "$S/r-pop.ts"

# ---- continue: next songs with names ----
out=$(mpd-recommend --model cooc --train "$S/train.ts" --tracks "$S/tr.tsv" -n 3 --songs 'alpha song; Bravo Song - fixture artist one' 2>&1)
like "continue a list of songs" "$out" "1\\. Foxtrot Song - Fixture Artist Two"
like "continue: third song" "$out" "3\\. Hotel Song - Fixture Artist Three"
out=$(mpd-recommend --model cooc --train "$S/train.ts" --tracks "$S/tr.tsv" -n 2 --playlist 0 --from "$S/pl.ts" 2>&1)
like "continue a playlist by pid: its last songs" "$(head -3 <<<"$out")" "^Playlist 0, 5 tracks, ending with:$"
like "continue a playlist by pid: next songs" "$(tail -2 <<<"$out")" "^ +1\\. Foxtrot Song - Fixture Artist Two$"
fails "unknown song: suggestions" 1 "no song matches 'Alfa Song'; did you mean: .*Alpha Song - Fixture Artist One" \
  mpd-recommend --model cooc --train "$S/train.ts" --tracks "$S/tr.tsv" --songs 'Alfa Song'
fails "unknown playlist" 1 "playlist '99' is not in" mpd-recommend --model cooc --train "$S/train.ts" --tracks "$S/tr.tsv" --playlist 99
fails "bad --model" 2 "--model" mpd-recommend --model knn --train "$S/train.ts" --tracks "$S/tr.tsv" --playlist 1
out=$(mpd-recommend --model pop --train "$S/train.ts" --tracks "$S/tr.tsv" --playlist 1 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}")
is "survives | head" "$out" $'Playlist 1, 4 tracks, ending with:\nrc=0'

# ---- the neural model learns a clustered synthetic set ----
# 200 playlists of 10 distinct tracks, even pids from cluster A (20 tracks),
# odd from cluster B: after training, seeds of one cluster must bring only
# tracks of that cluster, and the loss must fall to near ln(remaining tracks).
awk 'BEGIN { srand(1); printf "{\"info\": {\"slice\": \"0-199\", \"version\": \"v1\"}, \"playlists\": [";
  for (p = 0; p < 200; p++) { c = p % 2 ? "B" : "A"; printf "%s{\"name\": \"Synthetic %d\", \"pid\": %d, \"tracks\": [", p ? ", " : "", p, p;
    split("", used); n = 0;
    while (n < 10) { t = int(rand() * 20); if (t in used) continue; used[t] = 1;
      printf "%s{\"pos\": %d, \"track_uri\": \"spotify:track:synth%s%02d\", \"track_name\": \"%s%02d\", \"artist_name\": \"Synth %s\"}", n ? ", " : "", n, c, t, c, t, c; n++ }
    printf "]}" }
  print "]}" }' > "$T/syn.json"
mpd-ingest --tracks "$T/syn.tsv" -o "$T/syn.ts" "$T/syn.json" 2>/dev/null
ok "mpd-train on synthetic clusters" mpd-train --dim 8 --hidden 16 --blocks 1 --min-count 1 --epochs 30 --batch 32 --lr 0.01 \
  --patience 0 --valid-frac 0 -o "$T/syn-model.ts" "$T/syn.ts"
first=$(grep -m1 'epoch 1:' "$T/.err" | grep -o 'train loss [0-9.]*' | cut -d' ' -f3)
last=$(grep 'epoch 30:' "$T/.err" | grep -o 'train loss [0-9.]*' | cut -d' ' -f3)
# the best possible loss with k seeds is ln(20 - k) for "all" targets: 2.2 (k = 9) to 2.9 (k = 1)
near "training loss falls to the clusters' entropy" "$last" 2.75 0.25
like "training loss at the start is near ln(40) = 3.7" "$first" "^3\.[5-9]"
out=$(mpd-recommend --model neural --weights "$T/syn-model.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 --songs 'A03' 2>&1 | tail -10)
is "neural: seeds of cluster A bring 10 tracks of A" "$(grep -c ' - Synth A$' <<<"$out")" 10
out=$(mpd-recommend --model neural --weights "$T/syn-model.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 --songs 'B03; B11' 2>&1 | tail -10)
is "neural: seeds of cluster B bring 10 tracks of B" "$(grep -c ' - Synth B$' <<<"$out")" 10
fails "neural without --weights" 2 "--weights" mpd-recommend --model neural --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
# the item-graph models on the same clusters: a track's neighbours are its cluster's
for m in itemknn rp3beta; do
  out=$(mpd-recommend --model $m --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 --songs 'B03; B11' 2>&1 | tail -10)
  is "$m: seeds of cluster B bring 10 tracks of B" "$(grep -c ' - Synth B$' <<<"$out")" 10
  a=$(mpd-recommend --model $m --neighbours 3 --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 6 --songs 'A03' 2>&1 | tail -6)
  p=$(mpd-recommend --model pop --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 9 --songs 'A03' 2>&1 | tail -9 | sed 's/^ *[0-9]*\. //')
  is "$m --neighbours 3: the row's 3 best are of cluster A" "$(head -3 <<<"$a" | grep -c ' - Synth A$')" 3
  is "$m --neighbours 3: then the most popular other tracks" "$(tail -3 <<<"$a" | sed 's/^ *[0-9]*\. //')" \
    "$(grep -vxF -f <(head -3 <<<"$a" | sed 's/^ *[0-9]*\. //') <<<"$p" | head -3)"
done
out=$(mpd-recommend --model ease --lambda 10 --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 --songs 'B03; B11' 2>&1 | tail -10)
is "ease: seeds of cluster B bring 10 tracks of B" "$(grep -c ' - Synth B$' <<<"$out")" 10
out=$(mpd-recommend --model ease --ease-tracks 5 --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 4 --songs 'B03' 2>&1)
like "ease: the vocabulary is said" "$out" "EASE fitted over the 5 most played tracks"
# ALS: fitted in mpd-recommend, or trained by mpd-train and loaded: the same lists
out=$(mpd-recommend --model als --factors 8 --iterations 8 --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 --songs 'B03; B11' 2>&1 | tail -10)
is "als: seeds of cluster B bring 10 tracks of B" "$(grep -c ' - Synth B$' <<<"$out")" 10
ok "mpd-train --model als" mpd-train --model als --factors 8 --iterations 8 -o "$T/syn-als.ts" "$T/syn.ts"
like "mpd-train --model als reports the loss per iteration" "$(cat "$T/.err")" "ALS iteration 8/8: loss [0-9.e+]+"
a=$(mpd-recommend --model als --factors 8 --iterations 8 --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 12 --songs 'A03; B11' 2>/dev/null)
b=$(mpd-recommend --model als --weights "$T/syn-als.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 12 --songs 'A03; B11' 2>/dev/null)
is "als: the model file gives the lists of the in-process fit" "$b" "$a"
fails "als: a model file of another kind" 1 "als.items|not an mpd-train --model als file" \
  mpd-recommend --model als --weights "$T/syn-model.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
# ALS in batch mode: --batch N queries folded in, then one sgemm of their
# factors against every track's (plm_als_many); --batch 1 = one query at a
# time (sgemv).  The scores differ in their last bits (kernel summation
# order), which can swap near-ties (tests/unit/plmodel_als.c checks that
# rule with scores); these clusters' scores are far apart, so the lists
# must be equal here.  Same input and thread count: same bytes.
mpd-split --test-frac 0.25 --max-test 40 --ks 0,1,3,5 --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" --truth "$T/syn-t.ts" \
  -o "$T/syn-train.ts" "$T/syn.ts" 2>/dev/null
als_batch() { mpd-recommend --model als --weights "$T/syn-als.ts" --train "$T/syn.ts" --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" -n 15 "$@"; }
ok "als batch: 4 queries at a time" als_batch --batch 4 -o "$T/als-b4.ts"
ok "als batch: one query at a time" als_batch --batch 1 -o "$T/als-b1.ts"
ok "als batch: the default batch (64), twice" als_batch -o "$T/als-b64.ts"
als_batch -o "$T/als-b64-again.ts" 2>/dev/null
ok "als batch: same input, same threads: same bytes" cmp "$T/als-b64.ts" "$T/als-b64-again.ts"
is "als batch: $(($(wc -l < "$T/syn-q.tsv") - 1)) queries, the lists of 4 at a time = one at a time" \
  "$(to-csv --no-header "$T/als-b4.ts" | md5sum)" "$(to-csv --no-header "$T/als-b1.ts" | md5sum)"
is "als batch: the lists of 64 at a time = one at a time" "$(to-csv --no-header "$T/als-b64.ts" | md5sum)" "$(to-csv --no-header "$T/als-b1.ts" | md5sum)"
is "als batch: the title queries (K = 0) answered too" "$(to-csv --no-header "$T/als-b64.ts" | cut -d, -f1 | sort -u | wc -l)" \
  "$(($(wc -l < "$T/syn-q.tsv") - 1))"
# a vocabulary that grew after the model was trained: the model knows 40
# tracks, the stage 50; the 10 new ones (never played) come after the
# model's, the lists as without them (under SAN=1 this caught a score
# buffer of 40 written to 50)
{ cat "$T/syn.tsv"; for i in $(seq 0 9); do printf 'spotify:track:new%02d\t%d\tNew %d\tNobody\t\t\t0\n' "$i" $((40 + i)) "$i"; done; } > "$T/syn-wide.tsv"
ok "als batch, a vocabulary of 50 over a model of 40" als_batch --tracks "$T/syn-wide.tsv" -o "$T/als-wide.ts"
is "als batch: the grown vocabulary changes no list" "$(to-csv --no-header "$T/als-wide.ts" | md5sum)" "$(to-csv --no-header "$T/als-b64.ts" | md5sum)"
ok "als one at a time, a vocabulary of 50 over a model of 40" als_batch --batch 1 --tracks "$T/syn-wide.tsv" -o "$T/als-wide1.ts"
is "als one at a time: the grown vocabulary changes no list" "$(to-csv --no-header "$T/als-wide1.ts" | md5sum)" "$(to-csv --no-header "$T/als-b1.ts" | md5sum)"
a=$(mpd-recommend --model als --weights "$T/syn-als.ts" --train "$T/syn.ts" --tracks "$T/syn-wide.tsv" -n 12 --songs 'A03; B11' 2>/dev/null)
b=$(mpd-recommend --model als --weights "$T/syn-als.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 12 --songs 'A03; B11' 2>/dev/null)
is "als continue: the grown vocabulary changes no list" "$a" "$b"
fails "--batch 0" 2 "--batch" als_batch --batch 0 -o "$T/x.ts"
for m in itemknn rp3beta cooc; do
  mpd-recommend --model $m --train "$T/syn.ts" --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" -n 15 --batch 1 -o "$T/$m-b1.ts" 2>/dev/null
  mpd-recommend --model $m --train "$T/syn.ts" --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" -n 15 --batch 7 -o "$T/$m-b7.ts" 2>/dev/null
  ok "$m: --batch 7 = --batch 1, byte for byte" cmp "$T/$m-b1.ts" "$T/$m-b7.ts"
done
# --recency R: seed j of K weighs exp(-R (K - j)).  Two seeds of cluster A
# then one of B: alike, A wins every place; at R = 2 the A seeds weigh
# e^-4 and e^-2 of the last one, and B takes every place.  R = 0 is the
# model without the option, byte for byte, in batch mode.
for m in itemknn rp3beta als; do
  w=(); [ $m = als ] && w=(--weights "$T/syn-als.ts")
  rec() { mpd-recommend --model $m "${w[@]}" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 --songs 'A03; A05; B11' "$@" 2>/dev/null | tail -10; }
  is "$m: seeds A03 A05 B11 alike: 10 tracks of A" "$(rec | grep -c ' - Synth A$')" 10
  is "$m --recency 2: the last seed weighs most: 10 tracks of B" "$(rec --recency 2 | grep -c ' - Synth B$')" 10
  mpd-recommend --model $m "${w[@]}" --train "$T/syn.ts" --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" -n 15 -o "$T/$m-r.ts" 2>/dev/null
  ok "$m --recency 0" mpd-recommend --model $m "${w[@]}" --recency 0 --train "$T/syn.ts" --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" -n 15 -o "$T/$m-r0.ts"
  ok "$m --recency 0 = no --recency, byte for byte" cmp "$T/$m-r.ts" "$T/$m-r0.ts"
  mpd-recommend --model $m "${w[@]}" --recency 0.5 --train "$T/syn.ts" --queries "$T/syn-q.tsv" --seeds "$T/syn-s.ts" -n 15 -o "$T/$m-r5.ts" 2>/dev/null
  like "$m --recency 0.5: in the metadata" "$(inspect "$T/$m-r5.ts" 2>&1)" '"recency": ?0.5'
done
fails "--recency for cooc" 2 "--recency weighs the seeds of itemknn, rp3beta and als, not of cooc" \
  mpd-recommend --model cooc --recency 0.1 --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
fails "--recency below 0" 2 "--recency" mpd-recommend --model itemknn --recency -0.1 --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
fails "mpd-train: ALS is not sharded" 2 "ALS factors do not merge by sum" mpd-train --model als --shard 0/2 -o "$T/x.ts" "$T/syn.ts"
fails "mpd-train: ALS options need --model als" 2 "options of --model als" mpd-train --factors 8 -o "$T/x.ts" "$T/syn.ts"
# EASE as a model file, and its Gram counts sharded: merged = unsharded, byte for byte
ok "mpd-train --model ease" mpd-train --model ease --lambda 10 --ease-tracks 30 -o "$T/ease.ts" "$T/syn.ts"
a=$(mpd-recommend --model ease --lambda 10 --ease-tracks 30 --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 12 --songs 'A03; B11' 2>/dev/null)
b=$(mpd-recommend --model ease --weights "$T/ease.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 12 --songs 'A03; B11' 2>/dev/null)
is "ease: the model file gives the lists of the fit at start" "$b" "$a"
mpd-train --model ease --ease-tracks 30 --shard 0/1 -o "$T/gram-1.ts" "$T/syn.ts" 2>/dev/null
merge -o "$T/gram-whole.ts" "$T/gram-1.ts" 2>/dev/null
for i in 0 1 2; do mpd-train --model ease --ease-tracks 30 --shard $i/3 -o "$T/gram-p$i.ts" "$T/syn.ts" 2>/dev/null; done
merge -o "$T/gram-3.ts" "$T"/gram-p[0-2].ts 2>/dev/null
ok "ease: 3 Gram shards merged = 1 shard, byte for byte" cmp "$T/gram-3.ts" "$T/gram-whole.ts"
# X'X: the diagonal holds the playlist counts of the 30 most played tracks (distinct in every playlist)
want=$(awk -F'\t' 'NR > 1 { print $7 }' "$T/syn.tsv" | sort -rn | head -30 | awk '{ s += $1 } END { print NR, s }')
is "ease: the Gram diagonal counts playlists" "$(to-csv --no-header "$T/gram-3.ts" | awk -F, '{ s += $(NR + 1) } END { print NR, s }')" "$want"
mpd-train --model ease --lambda 10 --gram "$T/gram-3.ts" -o "$T/ease-3.ts" 2>/dev/null
ok "ease: the model fitted from the merged counts = the unsharded model, byte for byte" cmp "$T/ease-3.ts" "$T/ease.ts"
fails "ease --gram refuses a single shard" 1 "merge the shards first" mpd-train --model ease --gram "$T/gram-p0.ts" -o "$T/x.ts"
fails "ease --weights refuses another model's file" 1 "ease.B" \
  mpd-recommend --model ease --weights "$T/syn-als.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
fails "itemknn --alpha above 1" 2 "--alpha: itemknn takes 0..1" \
  mpd-recommend --model itemknn --alpha 1.5 --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
fails "a model file that is not a model" 1 "no arch.dim|not an mpd-train model" \
  mpd-recommend --model neural --weights "$T/syn.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
# the neural model in batch mode: 500 distinct, seed-free tracks per query (8 exist)
mpd-train --dim 4 --hidden 8 --min-count 1 --epochs 2 --valid-frac 0 -o "$S/nn.ts" "$S/train.ts" 2>/dev/null
mpd-recommend --model neural --weights "$S/nn.ts" --train "$S/train.ts" --names "$S/nm.tsv" --tracks "$S/tr.tsv" \
  --queries "$S/q.tsv" --seeds "$S/s.ts" -o "$S/r-nn.ts" 2>/dev/null
is "neural batch: every track but the seeds, once" "$(to-csv --no-header "$S/r-nn.ts" | grep '^0/2,' | cut -d, -f2 | sort -n | tr '\n' ' ')" "2 3 4 5 6 7 "
is "neural batch: no seed track" "$(to-csv --no-header "$S/r-nn.ts" | grep -c '^0/1,0$')" 0

# ---- the co-occurrence counts model (mpd-train --model cooc), sharded ----
# Training playlists 1 {a b f g}, 2 {a c f}, 3 {f g h}, 4 {b g h} (a=0 .. h=7):
# C[a,b] for a <= b by hand, e.g. C[f,f] = 3 (1, 2, 3), C[f,g] = 2 (1, 3).
ok "mpd-train --model cooc" mpd-train --model cooc -o "$S/cooc.ts" "$S/train.ts"
is "cooc counts: the upper triangle of A^T A, in (a, b) order" "$(to-csv --no-header "$S/cooc.ts" | tr '\n' ' ')" \
   "0 0,2 0 1,1 0 2,1 0 5,2 0 6,1 1 1,2 1 5,1 1 6,2 1 7,1 2 2,1 2 5,1 5 5,3 5 6,2 5 7,1 6 6,3 6 7,2 7 7,2 "
# against a naive count on the 200 synthetic playlists (40 tracks)
to-csv --no-header "$T/syn.ts" | awk -F, '
  $1 != pid { flush(); pid = $1; n = 0; split("", seen) }
  !($2 in seen) { seen[$2] = 1; tr[n++] = $2 }
  function flush(  i, j, a, b) { for (i = 0; i < n; i++) for (j = 0; j < n; j++) { a = tr[i]; b = tr[j]; if (a <= b) c[a " " b]++ } }
  END { flush(); for (k in c) print k "," c[k] }' | sort > "$T/syn-cooc-naive.csv"
mpd-train --model cooc -o "$T/syn-cooc.ts" "$T/syn.ts" 2>/dev/null
is "naive count: 40 tracks, pairs a <= b within a cluster" "$(wc -l < "$T/syn-cooc-naive.csv")" 420
is "cooc counts equal a naive count (200 playlists)" "$(to-csv --no-header "$T/syn-cooc.ts" | sort)" "$(cat "$T/syn-cooc-naive.csv")"
for set in "$S/train.ts:4 playlists" "$T/syn.ts:200 playlists"; do
  f=${set%%:*}; what=${set#*:}
  mpd-train --model cooc -o "$T/whole.ts" "$f" 2>/dev/null
  for n in 1 2 3 7; do
    rm -f "$T"/part-*.ts
    for ((i = 0; i < n; i++)); do mpd-train --model cooc --shard $i/$n -o "$T/part-$i.ts" "$f" 2>/dev/null; done
    merge -o "$T/merged.ts" "$T"/part-*.ts 2>"$T/merge.err"
    ok "cooc $n shards of $what: merge = the unsharded model, byte for byte" cmp "$T/merged.ts" "$T/whole.ts"
  done
done
like "shard outputs ask merge to add their counts" "$(inspect "$T/part-0.ts" 2>&1)" '"combine": "sum"'
fails "merge refuses a missing cooc shard" 1 "shards? 6 of 0..6" merge -o "$T/x.ts" "$T"/part-[0-5].ts
fails "--shard needs a named input" 2 "not stdin" mpd-train --model cooc --shard 0/2 -o "$T/x.ts" - < "$S/train.ts"
fails "--shard is for --model cooc and ease" 2 "--shard splits the counting of --model cooc and ease" mpd-train --shard 0/2 -o "$T/x.ts" "$S/train.ts"
fails "bad --model" 2 "is not neural, cooc, als or ease" mpd-train --model knn -o "$T/x.ts" "$S/train.ts"

# ---- the real MPD files, when present: counts from their README ----
M=$SHARED/mpd
if [ -f "$M/mpd.slice.0-999.pid0-36.json" ]; then
  mpd-ingest --tracks "$T/m.tsv" -o "$T/m.ts" "$M/mpd.slice.0-999.pid0-36.json" 2>"$T/m.err"
  like "official slice excerpt: 37 playlists, 2023 rows, 1907 tracks" "$(cat "$T/m.err")" ": 37 playlists, 2023 rows, 1907 distinct tracks"
else skip "official slice excerpt" "$M absent"; fi
if [ -d "$M/soundscout-followers10" ]; then
  mpd-ingest --tracks "$T/m.tsv" -o "$T/m.ts" "$M/soundscout-followers10" 2>"$T/m.err"
  like "7,071 followed playlists (.json.zst): counts of the README" "$(cat "$T/m.err")" "8 files .*: 7071 playlists, 696957 rows, 201730 distinct tracks"
else skip "soundscout playlists" "$M/soundscout-followers10 absent"; fi

# ---- issue 14: input that cJSON lets through is refused, naming file and place ----
pl() { printf '{"pid": %s, "name": "p%s", "tracks": [{"pos": 0, "track_uri": "%s"}]}' "$1" "$1" "$2"; }
{ printf '{"playlists": ['; pl 1 spotify:track:a; printf ']}\n{"playlists": ['; pl 2 spotify:track:b; printf ']}\n'; } > "$T/two.json"
fails "a second JSON document after the first" 1 "two.json:2:1: data after the end of the JSON document" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/two.json"
{ printf '{"playlists": [], "playlists": ['; pl 1 spotify:track:a; printf ']}\n'; } > "$T/dupkey.json"
fails "a key twice (an empty first \"playlists\")" 1 "dupkey.json: in the top-level object: key \"playlists\" appears twice" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/dupkey.json"
printf '{"playlists": [{"pid": 1, "tracks": [{"track_uri": "spotify:track:a"}, {"track_uri": "x", "track_uri": "y"}]}]}' > "$T/dupkey2.json"
fails "a key twice in a track: the path says where" 1 "in playlists\\[0\\]\\.tracks\\[1\\]: key \"track_uri\" appears twice" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/dupkey2.json"
{ printf '{"playlists": [\n'; pl 1 'spotify:track:aNULone'; printf ',\n'; pl 2 'spotify:track:aNULtwo'; printf ']}\n'; } | sed 's/NUL/\x00/' > "$T/nul.json"
fails "a NUL byte inside a track_uri (two uris would merge)" 1 "nul.json:2:[0-9]+: a NUL byte" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/nul.json"
{ printf '{"playlists": [\n'; pl 1 'spotify:track:a\u0000one'; printf ']}\n'; } > "$T/esc.json"
fails "an escaped \\u0000 inside a track_uri" 1 "esc.json:2:[0-9]+: a \\\\u0000 escape" \
  mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/esc.json"
printf '{"playlists": [{"pid": 1, "num_tracks": 1e999, "tracks": [{"track_uri": "spotify:track:a"}]}]}' > "$T/inf.json"
fails "a number past the double range (num_tracks 1e999 went to --names as inf)" 1 \
  "inf.json: at playlists\\[0\\]\\.num_tracks: the number inf is outside the range of a double" \
  mpd-ingest --tracks "$T/x.tsv" --names "$T/x.names" -o "$T/x.ts" "$T/inf.json"
ok "no output after the refused files" test ! -e "$T/x.ts" -a ! -e "$T/x.ts.tmp" -a ! -e "$T/x.tsv" -a ! -e "$T/x.names"
{ printf '{"playlists": [\n'; pl 1 'spotify:track:a\\u0000one'; printf ']}\n'; } > "$T/bs.json"
ok "an escaped backslash before u0000 is ordinary text" mpd-ingest --tracks "$T/x.tsv" -o "$T/x.ts" "$T/bs.json"
