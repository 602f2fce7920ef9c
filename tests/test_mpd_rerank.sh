# test_mpd_rerank.sh - mpd-rerank (LambdaMART over the union of generators'
# lists, XGBoost): on invented playlists (tests/data/mpd/synth.awk) where the
# candidate's artist predicts the rest of a playlist better than the noisy
# co-occurrence counts, the re-ranker fitted on validation queries beats
# both of its generators on the test queries; two runs give the same bytes;
# the metadata names the model and its options; bad inputs are refused.
. "$(dirname "$0")/lib.sh"
for s in mpd-ingest mpd-split mpd-recommend mpd-rerank rec-eval inspect; do [ -x "$BIN/$s" ] || { skip rerank "no $BIN/$s"; exit 0; }; done
D=$T/synth
mkdir -p "$D"
awk -v N=300 -v ARTISTS=30 -v SEED=1 -f "$ROOT/tests/data/mpd/synth.awk" > "$D/mpd.slice.0-299.json"
ok "ingest the invented playlists" mpd-ingest --tracks "$T/tr.tsv" --names "$T/nm.tsv" -o "$T/pl.ts" "$D"
like "300 playlists of 30 artists" "$(cat "$T/.err")" "300 playlists, 3000 rows, 300 distinct tracks"
split() { mpd-split --ks 0,1,5 --test-frac 0.25 --seed "$1" --names "$T/nm.tsv" --queries "$T/$2q.tsv" --seeds "$T/$2s.ts" \
            --truth "$T/$2t.ts" -o "$T/$2train.ts" "$3"; }
ok "test split" split 1 "" "$T/pl.ts"
ok "validation split of the training playlists" split 2 v "$T/train.ts"
for m in pop cooc; do
  ok "$m on validation queries" mpd-recommend --model $m --train "$T/vtrain.ts" --names "$T/nm.tsv" --tracks "$T/tr.tsv" \
     --queries "$T/vq.tsv" --seeds "$T/vs.ts" -o "$T/v-$m.ts"
  ok "$m on test queries" mpd-recommend --model $m --train "$T/train.ts" --names "$T/nm.tsv" --tracks "$T/tr.tsv" \
     --queries "$T/q.tsv" --seeds "$T/s.ts" -o "$T/r-$m.ts"
done
vin=(--train "$T/vtrain.ts" --names "$T/nm.tsv" --tracks "$T/tr.tsv" --queries "$T/vq.tsv" --seeds "$T/vs.ts" --gen pop="$T/v-pop.ts" --gen cooc="$T/v-cooc.ts")
tin=(--train "$T/train.ts" --names "$T/nm.tsv" --tracks "$T/tr.tsv" --queries "$T/q.tsv" --seeds "$T/s.ts" --gen pop="$T/r-pop.ts" --gen cooc="$T/r-cooc.ts")
# one thread: OpenMP threads on a loaded 2-core CI machine cost 10x the wall
# time; the same seed and thread count give the same model at any count
fit=(--trees 20 --threads 1 --seed 3)
ok "fit on validation queries" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --save "$T/m.json"
like "fit: features reported" "$(cat "$T/.err")" "features of [0-9]+ candidates \\([0-9]+ relevant\\) of [0-9]+ queries"
like "fit: trees reported" "$(cat "$T/.err")" "20 trees in .* \\(rank:ndcg, 1 threads\\)"
ok "apply to test queries" mpd-rerank "${tin[@]}" --model "$T/m.json" -o "$T/r-rerank.ts"
ok "rec-eval scores it" rec-eval --truth "$T/t.ts" --queries "$T/q.tsv" --tsv -o "$T/eval.tsv" "$T/r-pop.ts" "$T/r-cooc.ts" "$T/r-rerank.ts"
col() { awk -F'\t' -v m="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } $1 == m && $2 == "all" { print $k }' "$T/eval.tsv"; }
# (measured: R-prec 0.218 against cooc's 0.143, NDCG 0.496 against 0.433)
for c in r_precision:1.3 ndcg:1.1; do
  f=${c#*:} c=${c%:*}
  best=$(awk -v a="$(col pop $c)" -v b="$(col cooc $c)" 'BEGIN { print (a > b ? a : b) }')
  is "rerank's $c is over ${f}x the best generator's ($(col rerank $c) against $best)" \
     "$(awk -v r="$(col rerank $c)" -v b="$best" -v f="$f" 'BEGIN { print (r > f * b ? "yes" : "no") }')" yes
done
# the vocabulary (300 tracks) is below 500: every track but the K seeds, once
is "every query: the 300 - K tracks that are no seed, none twice" \
   "$(to-csv --no-header "$T/r-rerank.ts" | sort | uniq -d | wc -l) $(to-csv --no-header "$T/r-rerank.ts" | cut -d, -f1 | uniq -c | awk '{ split($2, q, "/"); if ($1 != 300 - q[2]) bad++ } END { print bad + 0, NR }')" "0 0 213"
is "no seed recommended" "$(awk -F, 'FNR == 1 { f++ } f == 1 { s[$1 "," $2] = 1; next } ($1 "," $2) in s { hit++ } END { print hit + 0 }' \
   <(to-csv --no-header "$T/s.ts") <(to-csv --no-header "$T/r-rerank.ts"))" 0

# determinism: the same seed and threads give the same model and lists
ok "fit again" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --save "$T/m2.json"
is "the same model file" "$(cmp "$T/m.json" "$T/m2.json" && echo same)" same
ok "apply again" mpd-rerank "${tin[@]}" --model "$T/m.json" -o "$T/r-rerank2.ts"
is "the same lists" "$(cmp "$T/r-rerank.ts" "$T/r-rerank2.ts" && echo same)" same

# metadata: the model's path and options, the generators
meta=$(inspect "$T/r-rerank.ts" 2>&1)
like "metadata: model path" "$meta" "\"rerank_model\": \".*/m2?\\.json\""
like "metadata: objective and trees" "$(tr -d ' \n' <<<"$meta")" '"objective":"rank:ndcg","trees":20,"max_depth":6,"eta":0.1,"min_child_weight":1,"seed":3,"threads":1'
like "metadata: generators in order" "$meta" '"generators": \["pop", "cooc"\]'
like "the model is XGBoost's JSON format" "$(head -c 200 "$T/m.json")" '^\{"learner":'

# refusals
fails "a generator over other queries" 1 "r-pop.ts: query .* is not in .*vq.tsv; every --gen must hold" \
  mpd-rerank "${vin[@]/#pop=*/pop=$T/r-pop.ts}" --truth "$T/vt.ts" --save "$T/x.json"
head -3 "$T/q.tsv" > "$T/q3.tsv"
mpd-recommend --model pop --train "$T/train.ts" --names "$T/nm.tsv" --queries "$T/q3.tsv" --seeds "$T/s.ts" -o "$T/r-pop3.ts" 2>/dev/null
fails "a generator that misses queries" 1 "r-pop3.ts: no recommendations for query .* of .*q.tsv; every --gen must cover the same queries" \
  mpd-rerank "${tin[@]/#pop=*/pop=$T/r-pop3.ts}" --model "$T/m.json" -o "$T/x.ts"
fails "truth of another split" 1 "t.ts: query .* is not in .*vq.tsv; give the truth of the same split" \
  mpd-rerank "${vin[@]}" --truth "$T/t.ts" --save "$T/x.json"
head -c 3000 "$T/m.json" > "$T/cut.json"
fails "a damaged model file" 1 "cut.json: not a model XGBoost can read" mpd-rerank "${tin[@]}" --model "$T/cut.json" -o "$T/x.ts"
printf '{"learner": 7}' > "$T/junk.json"
fails "JSON that is no model" 1 "junk.json: not a model XGBoost can read" mpd-rerank "${tin[@]}" --model "$T/junk.json" -o "$T/x.ts"
fails "generators other than the fit's" 1 "m.json: the model's features differ" \
  mpd-rerank "${tin[@]:0:10}" --gen cooc="$T/r-cooc.ts" --gen pop="$T/r-pop.ts" --model "$T/m.json" -o "$T/x.ts"
fails "a missing model" 1 "nope.json: No such file" mpd-rerank "${tin[@]}" --model "$T/nope.json" -o "$T/x.ts"
is "nothing written by the refusals" "$(cd "$T" && compgen -G 'x.*')" ""
fails "fit without truth" 2 "--save needs --truth" mpd-rerank "${vin[@]}" --save "$T/x.json"
fails "bad --gen" 2 "give NAME=FILE" mpd-rerank "${vin[@]}" --gen cooc --model "$T/m.json"
fails "bad objective" 2 "not rank:ndcg or rank:pairwise" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --objective reg:squarederror --save "$T/x.json"
ok "--help" mpd-rerank --help
like "--help names the objective and defaults" "$(cat "$T/.out")" "rank:ndcg \\(default\\)"

# ---- mpd-from-csv: a songs table's playlists as an MPD slice ----
printf '%s\n' 'track_id,track_name,track_artist,track_album_id,track_album_name,playlist_name,playlist_id' \
  'a1,"Song, with comma",Artist A,al1,Album 1,Mix One,p1' 'b2,Song B,Artist B,al2,"Album ""2""",Mix Two,p2' \
  'c3,Song C,Artist A,al1,Album 1,Mix One,p1' 'a1,"Song, with comma",Artist A,al1,Album 1,Mix Two,p2' > "$T/songs.csv"
mkdir -p "$T/csvmpd"
ok "songs CSV to an MPD slice" mpd-from-csv -o "$T/csvmpd/mpd.slice.0-1.json" "$T/songs.csv"
is "playlists in first-seen order, tracks in row order" \
   "$(jq -c '[.playlists[] | [.pid, .name, .num_tracks, [.tracks[] | .pos, .track_uri]]]' "$T/csvmpd/mpd.slice.0-1.json")" \
   '[[0,"Mix One",2,[0,"spotify:track:a1",1,"spotify:track:c3"]],[1,"Mix Two",2,[0,"spotify:track:b2",1,"spotify:track:a1"]]]'
is "quoted cells kept whole" "$(jq -r '.playlists[0].tracks[0].track_name, .playlists[1].tracks[0].album_name' "$T/csvmpd/mpd.slice.0-1.json" | tr '\n' '|')" \
   'Song, with comma|Album "2"|'
ok "mpd-ingest reads it" mpd-ingest --tracks "$T/c.tsv" -o "$T/c.ts" "$T/csvmpd"
like "  2 playlists, 4 rows, 3 tracks" "$(cat "$T/.err")" "2 playlists, 4 rows, 3 distinct tracks"
fails "a missing column" 1 "songs.csv:1: no column 'playlist_uid'" mpd-from-csv --playlist playlist_uid -o "$T/x.json" "$T/songs.csv"
printf 'track_id,playlist_id,playlist_name,track_name,track_artist,track_album_id,track_album_name\n,p1,a,b,c,d,e\n' > "$T/empty.csv"
fails "a row without a track" 1 "empty.csv:2: empty track_id" mpd-from-csv -o "$T/x.json" "$T/empty.csv"
is "nothing written" "$(cd "$T" && compgen -G 'x.*')" ""
