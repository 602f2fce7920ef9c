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
awk -v N=400 -v ARTISTS=45 -v SEED=1 -f "$ROOT/tests/data/mpd/synth.awk" > "$D/mpd.slice.0-399.json"
ok "ingest the invented playlists" mpd-ingest --tracks "$T/tr.tsv" --names "$T/nm.tsv" -o "$T/pl.ts" "$D"
like "400 playlists of 45 artists" "$(cat "$T/.err")" "400 playlists, 4000 rows, 450 distinct tracks"
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
fit=(--trees 40 --threads 2 --seed 3)
ok "fit on validation queries" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --save "$T/m.json"
like "fit: features reported" "$(cat "$T/.err")" "features of [0-9]+ candidates \\([0-9]+ relevant\\) of [0-9]+ queries"
like "fit: trees reported" "$(cat "$T/.err")" "40 trees in .* \\(rank:ndcg, 2 threads\\)"
ok "apply to test queries" mpd-rerank "${tin[@]}" --model "$T/m.json" -o "$T/r-rerank.ts"
ok "rec-eval scores it" rec-eval --truth "$T/t.ts" --queries "$T/q.tsv" --tsv -o "$T/eval.tsv" "$T/r-pop.ts" "$T/r-cooc.ts" "$T/r-rerank.ts"
col() { awk -F'\t' -v m="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } $1 == m && $2 == "all" { print $k }' "$T/eval.tsv"; }
for c in r_precision ndcg; do
  best=$(awk -v a="$(col pop $c)" -v b="$(col cooc $c)" 'BEGIN { print (a > b ? a : b) }')
  is "rerank's $c beats the best generator's by 20% ($(col rerank $c) against $best)" \
     "$(awk -v r="$(col rerank $c)" -v b="$best" 'BEGIN { print (r > 1.2 * b ? "yes" : "no") }')" yes
done
# the vocabulary (450 tracks) is below 500: every track but the K seeds, once
is "every query: the 450 - K tracks that are no seed, none twice" \
   "$(to-csv --no-header "$T/r-rerank.ts" | sort | uniq -d | wc -l) $(to-csv --no-header "$T/r-rerank.ts" | cut -d, -f1 | uniq -c | awk '{ split($2, q, "/"); if ($1 != 450 - q[2]) bad++ } END { print bad + 0, NR }')" "0 0 294"
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
like "metadata: objective and trees" "$(tr -d ' \n' <<<"$meta")" '"objective":"rank:ndcg","trees":40,"max_depth":6,"eta":0.1,"min_child_weight":1,"seed":3,"threads":2'
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
