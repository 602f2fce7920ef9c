# test_mpd_rerank.sh - mpd-rerank (ranking trees over the union of generators'
# lists, XGBoost): on invented playlists (tests/data/mpd/synth.awk) where the
# candidate's artist predicts the rest of a playlist better than the noisy
# co-occurrence counts, the re-ranker fitted on validation queries beats
# both of its generators on the test queries; two runs give the same bytes;
# the metadata names the model and its options; the new features keep the
# properties their definitions imply; --drop, --neg-sample and --holdout do
# what they say; bad inputs are refused.
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
like "fit: trees reported" "$(cat "$T/.err")" "20 trees in .* \\(rank:pairwise, 1 threads\\)"
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
like "metadata: objective and trees" "$(tr -d ' \n' <<<"$meta")" '"objective":"rank:pairwise","trees":20,"max_depth":6,"eta":0.1,"min_child_weight":1,"seed":3,"threads":1'
like "metadata: generators in order" "$meta" '"generators": \["pop", "cooc"\]'
like "the model is XGBoost's JSON format" "$(head -c 200 "$T/m.json")" '^\{"learner":'

# the seed-similarity, popularity and artist co-occurrence features (the
# training matrix): ranges, and identities that hold by their definitions
ok "ALS factors of the validation training playlists" mpd-train --model als --seed 1 -o "$T/vals.ts" "$T/vtrain.ts"
ok "als on validation queries" mpd-recommend --model als --weights "$T/vals.ts" --train "$T/vtrain.ts" --names "$T/nm.tsv" \
   --tracks "$T/tr.tsv" --queries "$T/vq.tsv" --seeds "$T/vs.ts" -o "$T/v-als.ts"
ok "fit with --als, writing the training matrix" mpd-rerank "${vin[@]}" --gen als="$T/v-als.ts" --als "$T/vals.ts" --truth "$T/vt.ts" \
   "${fit[@]}" --features "$T/feat.ts" --save "$T/ma.json"
to-csv "$T/feat.ts" > "$T/feat.csv"
fcheck() {   # prints the rows (qid) breaking each property, 'ok' when none
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    function v(n) { return $(c[n]) } function nan(n) { return v(n) == "nan" }
    { rows++
      if (!nan("sim_max") && (v("sim_max") > 1.0001 || v("sim_mean") > v("sim_max") + 1e-6 || v("sim_last3") > v("sim_max") + 1e-6)) bad["sim_max >= mean, last3; <= 1"]++
      if (!nan("seed_cover") && (v("seed_cover") < 0 || v("seed_cover") > 1 || (v("seed_cover") > 0) != (v("sim_max") > 0))) bad["seed_cover in [0,1], > 0 iff a similarity"]++
      if (!nan("artist_cooc") && (v("artist_cooc") < 0 || v("artist_cooc") > 1.0001 || v("artist_cos") > 1.0001)) bad["artist features in [0,1]"]++
      if (v("k") == 1 && !nan("sim_max") && (v("sim_max") != v("sim_mean") || v("sim_max") != v("sim_last3"))) bad["K=1: max = mean = last3"]++
      if (v("k") == 1 && v("artist_share") == 1 && v("artist_cooc") != 1) bad["K=1, the seed'"'"'s artist: artist_cooc 1"]++
      if (v("k") > 0 && !nan("pop_rel")) { d = v("log_pop") - v("pop_rel"); if ($1 in off && (d - off[$1] > 1e-5 || off[$1] - d > 1e-5)) bad["log_pop - pop_rel constant per query"]++; off[$1] = d }
      if (v("k") == 0 && !(nan("sim_max") && nan("pop_rel") && nan("als_score"))) bad["K=0: seed features missing"]++
      if (!nan("als_sim_max") && (v("als_sim_max") > 1.0001 || v("als_sim_mean") > v("als_sim_max") + 1e-5 || v("als_score_rel") > 0)) bad["als_sim_max >= mean, <= 1; score_rel <= 0"]++
      # als_score orders the candidates as mpd-recommend --model als ranked them
      if (v("rank_als") != "nan") { q = $1; n[q]++; r[q, n[q]] = v("rank_als"); s[q, n[q]] = v("als_score") } }
    END { for (q in n) for (a = 1; a <= n[q]; a++) for (b = 1; b <= n[q]; b++)
            if (r[q, a] < r[q, b] && s[q, a] < s[q, b] - 1e-4) { bad["als_score decreasing along the als list"]++; a = b = n[q] + 1 }
          if (rows < 1000) bad["rows " rows]++
          for (m in bad) print m ": " bad[m]; if (!length(bad)) print "ok" }' "$T/feat.csv"; }
is "feature properties hold on every training row" "$(fcheck)" ok
ok "apply with --als" mpd-rerank "${tin[@]:0:10}" --gen pop="$T/r-pop.ts" --gen cooc="$T/r-cooc.ts" --gen als="$T/r-cooc.ts" \
   --als "$T/vals.ts" --model "$T/ma.json" -o "$T/r-als.ts"
fails "a model fitted with --als, applied without" 1 "ma.json: the model's features differ" \
  mpd-rerank "${tin[@]}" --gen als="$T/r-cooc.ts" --model "$T/ma.json" -o "$T/x.ts"

# --drop: the listed features leave the model; apply must drop the same
ok "fit with --drop" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --drop sim_max,artist_cos --save "$T/md.json"
like "  the model's features lack them" "$(grep -o 'songpipe_features":"[^"]*' "$T/md.json")" 'n_lists,sim_mean,sim_last3,seed_cover,pop_rel,artist_cooc,rank_pop'
fails "  apply without --drop" 1 "md.json: the model's features differ" mpd-rerank "${tin[@]}" --model "$T/md.json" -o "$T/x.ts"
ok "  apply with --drop" mpd-rerank "${tin[@]}" --drop sim_max,artist_cos --model "$T/md.json" -o "$T/r-drop.ts"
fails "  an unknown name" 2 "--drop: 'sim_maxx' is no feature" mpd-rerank "${tin[@]}" --drop sim_maxx --model "$T/md.json" -o "$T/x.ts"

# --neg-sample: fewer candidates, every relevant one kept
ok "fit with --neg-sample 0.3" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --neg-sample 0.3 --save "$T/mn.json"
fc() { sed -n 's/.*features of \([0-9]*\) candidates (\([0-9]*\) relevant).*/\1 \2/p' "$1"; }
cp "$T/.err" "$T/neg.err"
ok "  (the full fit again)" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --save "$T/m3.json"
read -r nall rall <<<"$(fc "$T/.err")"; read -r nneg rneg <<<"$(fc "$T/neg.err")"
is "  the same relevant candidates, 20-40% of the others" \
   "$(awk -v a="$nall" -v r="$rall" -v n="$nneg" -v s="$rneg" 'BEGIN { f = (n - s) / (a - r); print (r == s && f > 0.2 && f < 0.4) ? "yes" : "no " r " " s " " f }')" yes

# --holdout: per-K metrics of the held-out validation queries on stderr
ok "fit with --holdout 0.3" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --holdout 0.3 --save "$T/mh.json"
herr=$(cat "$T/.err")
like "  held-out queries reported" "$herr" "holdout: [0-9]+ queries \\(--holdout 0.3 of the playlists\\)"
nh=$(sed -n 's/.*holdout: \([0-9]*\) queries.*/\1/p' <<<"$herr")
is "  between 10% and 50% of the $(($(wc -l < "$T/vq.tsv") - 1)) queries" "$(awk -v n="$nh" -v t="$(($(wc -l < "$T/vq.tsv") - 1))" 'BEGIN { print (n > 0.1 * t && n < 0.5 * t) ? "yes" : "no " n }')" yes
like "  every generator, and the trees after 5, 10, 15, 20 rounds" "$(grep -o 'holdout [a-z@0-9]*' <<<"$herr" | tr '\n' ' ')" \
  "holdout pop holdout cooc holdout rerank@5 holdout rerank@10 holdout rerank@15 holdout rerank@20"
# the ratio printed for pop is its R-precision over cooc's (per K and all)
is "  ratios to cooc as printed" "$(awk '/holdout cooc / { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+\/[0-9.]+\/[0-9.]+$/) { split($i, v, "/"); c[++n] = v[1] } }
     /holdout pop / { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+\/[0-9.]+\/[0-9.]+$/) { split($i, v, "/"); split($(i + 1), w, "[(/]"); m++
       if (c[m] > 0 && (v[1] / c[m] - w[2] > 0.01 || w[2] - v[1] / c[m] > 0.01)) bad++ } }
     END { print (m == n && m >= 3 && !bad) ? "ok" : "bad " m " " n " " bad }' <<<"$herr")" ok
ok "  again" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --holdout 0.3 --save "$T/mh2.json"
is "  the same numbers and model" "$(grep holdout "$T/.err" | cmp - <(grep holdout <<<"$herr") && cmp "$T/mh.json" "$T/mh2.json" && echo same)" same
is "  the model learnt from the other queries only" "$(cmp -s "$T/mh.json" "$T/m.json" || echo differs)" differs
fails "  --holdout is for fitting" 2 "--holdout and --neg-sample are for fitting" mpd-rerank "${tin[@]}" --holdout 0.3 --model "$T/m.json" -o "$T/x.ts"

# several validation splits (--split), each with its own TRAIN, generators
# and truth: the trees learn from the queries of all; each split's features
# are those a fit on that split alone computes (from its own TRAIN)
ok "a second validation split of the training playlists" split 3 w "$T/train.ts"
for m in pop cooc; do
  ok "$m on its queries, fitted on its training part" mpd-recommend --model $m --train "$T/wtrain.ts" --names "$T/nm.tsv" \
     --tracks "$T/tr.tsv" --queries "$T/wq.tsv" --seeds "$T/ws.ts" -o "$T/w-$m.ts"
done
win=(--train "$T/wtrain.ts" --queries "$T/wq.tsv" --seeds "$T/ws.ts" --gen pop="$T/w-pop.ts" --gen cooc="$T/w-cooc.ts" --truth "$T/wt.ts")
ok "fit on the second split alone" mpd-rerank --names "$T/nm.tsv" --tracks "$T/tr.tsv" "${win[@]}" "${fit[@]}" --features "$T/fw.ts" --save "$T/mw.json"
read -r nw rw <<<"$(fc "$T/.err")"
ok "fit on the first split alone" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --features "$T/fv.ts" --save "$T/mv.json"
read -r nv rv <<<"$(fc "$T/.err")"
ok "fit on both (--split)" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]}" "${fit[@]}" --features "$T/f2.ts" --save "$T/m2s.json"
read -r n2 r2 <<<"$(fc "$T/.err")"
like "  both splits' queries reported" "$(cat "$T/.err")" "2 splits: $(($(wc -l < "$T/vq.tsv") + $(wc -l < "$T/wq.tsv") - 2)) queries"
is "  its training matrix: the first split's rows, then the second's, as each alone" \
   "$(cmp <(to-csv "$T/f2.ts") <(to-csv "$T/fv.ts"; to-csv --no-header "$T/fw.ts") && echo same)" same
is "  the splits' matrices differ (each split's own TRAIN and lists)" "$(cmp -s <(to-csv --no-header "$T/fv.ts") <(to-csv --no-header "$T/fw.ts") || echo differ)" differ
is "  candidates and relevant ones: the sums of the two" "$n2 $r2" "$((nv + nw)) $((rv + rw))"
like "  the model records the splits" "$(grep -o 'songpipe_params":"[^}]*}' "$T/m2s.json")" '\\"splits\\":2'
is "  a single split's model does not" "$(grep -c 'splits' "$T/mv.json")" 0
is "  the same model as the single-split fit of the same queries: no" "$(cmp -s "$T/m2s.json" "$T/mv.json" || echo differs)" differs
ok "  apply it to the test queries" mpd-rerank "${tin[@]}" --model "$T/m2s.json" -o "$T/r-2s.ts"
ok "  rec-eval scores it" rec-eval --truth "$T/t.ts" --queries "$T/q.tsv" --tsv -o "$T/eval.tsv" "$T/r-cooc.ts" "$T/r-2s.ts"
is "  over 1.3x cooc's R-precision ($(col rerank r_precision) against $(col cooc r_precision))" \
   "$(awk -v r="$(col rerank r_precision)" -v b="$(col cooc r_precision)" 'BEGIN { print (r > 1.3 * b ? "yes" : "no") }')" yes
ok "  fit on both again" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]}" "${fit[@]}" --save "$T/m2s2.json"
is "  the same model file" "$(cmp "$T/m2s.json" "$T/m2s2.json" && echo same)" same

# --holdout over several splits: the playlists held out in every split by
# the same hash; each split's held-out queries scored with its own lists
ok "holdout on the first split alone" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" "${fit[@]}" --holdout 0.3 --features "$T/fhv.ts" --save "$T/mhv.json"
ok "holdout on the second split alone" mpd-rerank --names "$T/nm.tsv" --tracks "$T/tr.tsv" "${win[@]}" "${fit[@]}" --holdout 0.3 --features "$T/fhw.ts" --save "$T/mhw.json"
nhw=$(sed -n 's/.*holdout: \([0-9]*\) queries.*/\1/p' "$T/.err")
ok "holdout on both" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]}" "${fit[@]}" --holdout 0.3 --save "$T/mh2s.json"
h2=$(cat "$T/.err")
is "  per split the queries each alone holds out, then all" \
   "$(sed -n 's/.*holdout, split \([0-9]\) (.*): \([0-9]*\) queries.*/\1:\2/p; s/.*holdout, all 2 splits: \([0-9]*\) queries.*/all:\1/p' <<<"$h2" | tr '\n' ' ')" \
   "1:$nh 2:$nhw all:$((nh + nhw)) "
like "  each block (2 splits, all): the generators and the trees" "$(grep -oE 'holdout [a-z][a-z@0-9]*' <<<"$h2" | tr '\n' ' ')" \
  "^(holdout pop holdout cooc holdout rerank@5 holdout rerank@10 holdout rerank@15 holdout rerank@20 ){3}$"
is "  the first split's generators score as in its single-split holdout" \
   "$(grep -m2 -E 'holdout (pop|cooc) ' <<<"$h2" | sed 's/^[^:]*: //')" "$(grep -m2 -E 'holdout (pop|cooc) ' <<<"$herr" | sed 's/^[^:]*: //')"
# a playlist in both splits is held out of both or of neither: the training
# rows are those of the single-split holdout fits (one hash of the pid)
ok "  (the training matrix of the holdout fit)" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]}" "${fit[@]}" --holdout 0.3 \
   --features "$T/fh2.ts" --save "$T/mh2s3.json"
is "  its training rows: the first split's, then the second's, as each alone held out" \
   "$(cmp <(to-csv "$T/fh2.ts") <(to-csv "$T/fhv.ts"; to-csv --no-header "$T/fhw.ts") && echo same)" same
is "  the splits share playlists (the property is not empty)" \
   "$(comm -12 <(cut -f2 "$T/vq.tsv" | tail -n +2 | sort -u) <(cut -f2 "$T/wq.tsv" | tail -n +2 | sort -u) | awk 'END { print (NR >= 3) ? "yes" : "no " NR }')" yes

# --ks: a model of the queries of some K only (learnt from and held out)
ok "fit on the K=1 queries of both splits" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]}" "${fit[@]}" --ks 1 --holdout 0.3 \
   --features "$T/fk1.ts" --save "$T/mk1.json"
hk=$(cat "$T/.err")
is "  every training row has K=1; as many queries as K=1 ones trained on in the full fit" \
   "$(to-csv "$T/fk1.ts" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "k") c = i; next } { q[$1]; if ($c != 1) bad++ } END { print bad + 0, length(q) }')" \
   "0 $(to-csv "$T/fh2.ts" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "k") c = i; next } $c == 1 { q[$1] } END { print length(q) }')"
is "  held-out metrics of K=1 only" "$(grep -oE 'holdout rerank@20 .*' <<<"$hk" | grep -oE 'K=[0-9]+' | sort -u | tr '\n' ' ')" "K=1 "
like "  the model records its K" "$(grep -o 'songpipe_params":"[^}]*}' "$T/mk1.json")" '\\"ks\\":\\"1\\"'
fails "  a bad list" 2 "--ks '1,,5': give numbers" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --ks 1,,5 --save "$T/x.json"
fails "  --ks is for fitting" 2 "--ks is for fitting" mpd-rerank "${tin[@]}" --ks 1 --model "$T/m.json" -o "$T/x.ts"

# routing by K at apply: the K=1 queries to the K=1 model, the others to m.json
ok "apply two models, routed by K" mpd-rerank "${tin[@]}" --model "$T/m.json" --model "$T/mk1.json" -o "$T/r-route.ts"
ok "  the other order" mpd-rerank "${tin[@]}" --model "$T/mk1.json" --model "$T/m.json" -o "$T/r-route2.ts"
is "  the same lists either way" "$(cmp <(to-csv "$T/r-route.ts") <(to-csv "$T/r-route2.ts") && echo same)" same
kq() { to-csv --no-header "$1" | awk -F, -v want="$2" '{ split($1, q, "/") } (want == 1) == (q[2] == 1)'; }
is "  K != 1: the lists of m.json alone" "$(cmp <(kq "$T/r-route.ts" 0) <(kq "$T/r-rerank.ts" 0) && echo same)" same
# the K=1 queries alone: the same split made with --ks 1 (the same playlists
# held out, the same seeds), its generators, re-ranked by the K=1 model alone
ok "  the test split's K=1 queries alone" mpd-split --ks 1 --test-frac 0.25 --seed 1 --names "$T/nm.tsv" --queries "$T/q1.tsv" \
   --seeds "$T/s1.ts" --truth "$T/t1.ts" -o "$T/train1.ts" "$T/pl.ts"
is "  the same training playlists" "$(cmp "$T/train.ts" "$T/train1.ts" && echo same)" same
for m in pop cooc; do
  mpd-recommend --model $m --train "$T/train.ts" --names "$T/nm.tsv" --tracks "$T/tr.tsv" --queries "$T/q1.tsv" --seeds "$T/s1.ts" -o "$T/r1-$m.ts" 2>/dev/null
done
ok "  the K=1 queries by the K=1 model alone" mpd-rerank "${tin[@]:0:6}" --queries "$T/q1.tsv" --seeds "$T/s1.ts" \
   --gen pop="$T/r1-pop.ts" --gen cooc="$T/r1-cooc.ts" --model "$T/mk1.json" -o "$T/r1-rerank.ts"
is "  K = 1: the K=1 model's lists, not m.json's" \
   "$(cmp <(kq "$T/r-route.ts" 1) <(to-csv --no-header "$T/r1-rerank.ts") && echo same) $(cmp -s <(kq "$T/r-route.ts" 1) <(kq "$T/r-rerank.ts" 1) || echo differ)" "same differ"
like "  metadata: each model with its K" "$(inspect "$T/r-route.ts" 2>&1 | tr -d ' \n')" \
   '"rerank_models":\[\{"model":"[^"]*/m.json","ks":null,"options":\{[^}]*\}\},\{"model":"[^"]*/mk1.json","ks":"1",'
is "  one model: no routes in the metadata" "$(inspect "$T/r-rerank.ts" 2>&1 | grep -c rerank_models)" 0
fails "  a K no model covers" 1 "q.tsv: query .*/0 shows 0 tracks, a K no --model was fitted on; give also a model fitted without --ks" \
   mpd-rerank "${tin[@]}" --model "$T/mk1.json" -o "$T/x.ts"
fails "  two models of every K" 1 "m.json and .*m2.json were both fitted on every K" \
   mpd-rerank "${tin[@]}" --model "$T/m.json" --model "$T/m2.json" -o "$T/x.ts"
fails "  a K in two models" 1 "K = 1 is in two models' --ks" \
   mpd-rerank "${tin[@]}" --model "$T/m.json" --model "$T/mk1.json" --model "$T/mk1.json" -o "$T/x.ts"
is "  nothing written by the refusals" "$(cd "$T" && compgen -G 'x.*')" ""

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
fails "--split: other generators" 2 "split 2: generator 1 is 'cooc', split 1's is 'pop'" \
  mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]:0:6}" --gen cooc="$T/w-cooc.ts" --gen pop="$T/w-pop.ts" --truth "$T/wt.ts" --save "$T/x.json"
fails "--split: a split without truth" 2 "split 2: give --truth for every split or for none" \
  mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]:0:10}" --save "$T/x.json"
fails "--split: a split without its TRAIN" 2 "split 2: --train, --queries and --seeds are required" \
  mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]:2}" --save "$T/x.json"
fails "--split: a split given the truth of another" 1 "vt.ts: query .* is not in .*wq.tsv; give the truth of the same split" \
  mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --split "${win[@]:0:10}" --truth "$T/vt.ts" --save "$T/x.json"
fails "--split: apply re-ranks one split" 2 "--split is for fitting" mpd-rerank "${tin[@]}" --split "${tin[@]}" --model "$T/m.json" -o "$T/x.ts"
fails "a split's option twice" 2 "--train given twice for split 1; begin the next split with --split" \
  mpd-rerank "${vin[@]}" --train "$T/wtrain.ts" --truth "$T/vt.ts" --save "$T/x.json"
is "nothing written by these" "$(cd "$T" && compgen -G 'x.*')" ""
fails "fit without truth" 2 "--save needs --truth" mpd-rerank "${vin[@]}" --save "$T/x.json"
fails "bad --gen" 2 "give NAME=FILE" mpd-rerank "${vin[@]}" --gen cooc --model "$T/m.json"
fails "bad objective" 2 "not rank:pairwise or rank:ndcg" mpd-rerank "${vin[@]}" --truth "$T/vt.ts" --objective reg:squarederror --save "$T/x.json"
ok "--help" mpd-rerank --help
like "--help names the objective and defaults" "$(cat "$T/.out")" "rank:pairwise \\(default"

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
