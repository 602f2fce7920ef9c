# test_mpd_neural.sh - the neural playlist model's training options
# (--seed-pick random, --dropout) and the neural + co-occurrence blend of
# mpd-recommend, on synthetic clustered playlists: both must learn the
# clusters, the blend's ends must equal the pure models, and bad options fail.
. "$(dirname "$0")/lib.sh"
for s in mpd-ingest mpd-train mpd-recommend to-csv; do [ -x "$BIN/$s" ] || { skip mpd_neural "no $BIN/$s"; exit 0; }; done

# 200 playlists of 10 distinct tracks: even pids from cluster A (20 tracks),
# odd pids from cluster B
awk 'BEGIN { srand(2); printf "{\"info\": {\"slice\": \"0-199\", \"version\": \"v1\"}, \"playlists\": [";
  for (p = 0; p < 200; p++) { c = p % 2 ? "B" : "A"; printf "%s{\"name\": \"Synthetic %d\", \"pid\": %d, \"tracks\": [", p ? ", " : "", p, p;
    split("", used); n = 0;
    while (n < 10) { t = int(rand() * 20); if (t in used) continue; used[t] = 1;
      printf "%s{\"pos\": %d, \"track_uri\": \"spotify:track:synth%s%02d\", \"track_name\": \"%s%02d\", \"artist_name\": \"Synth %s\"}", n ? ", " : "", n, c, t, c, t, c; n++ }
    printf "]}" }
  print "]}" }' > "$T/syn.json"
mpd-ingest --tracks "$T/syn.tsv" -o "$T/syn.ts" "$T/syn.json" 2>/dev/null

ok "mpd-train --seed-pick random --dropout 0.2" mpd-train --dim 8 --hidden 16 --blocks 1 --min-count 1 --epochs 25 --batch 32 \
  --lr 0.01 --patience 0 --valid-frac 0 --seed-pick random --dropout 0.2 -o "$T/m.ts" "$T/syn.ts"
like "the options are recorded in the model metadata" "$(grep -ao '"seed_pick": *"random", *"dropout": *0.2' "$T/m.ts" | head -1)" 'random.*0.2'
rec() { mpd-recommend --weights "$T/m.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 10 "$@" 2>&1 | tail -10; }
is "random seeds + dropout: seeds of A bring 10 tracks of A" "$(rec --model neural --songs 'A03' | grep -c ' - Synth A$')" 10
is "random seeds + dropout: seeds of B bring 10 tracks of B" "$(rec --model neural --songs 'B03; B11' | grep -c ' - Synth B$')" 10
is "blend 0.5: seeds of B bring 10 tracks of B" "$(rec --model blend --blend 0.5 --songs 'B03; B11' | grep -c ' - Synth B$')" 10
is "blend 1 = neural" "$(rec --model blend --blend 1 --songs 'A03; A07')" "$(rec --model neural --songs 'A03; A07')"
is "blend 0 = cooc" "$(rec --model blend --blend 0 --songs 'A03; A07')" "$(rec --model cooc --songs 'A03; A07')"
like "blend: the continue header names the blend" "$(mpd-recommend --model blend --weights "$T/m.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" -n 3 --songs A03 2>&1)" \
  'neural \+ co-occurrence blend'

fails "blend without --weights" 2 "--model blend needs --weights" mpd-recommend --model blend --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
fails "--blend out of range" 2 "--blend" mpd-recommend --model blend --blend 1.5 --weights "$T/m.ts" --train "$T/syn.ts" --tracks "$T/syn.tsv" --songs A03
fails "bad --seed-pick" 2 "is not prefix or random" mpd-train --seed-pick middle -o "$T/x.ts" "$T/syn.ts"
fails "bad --dropout" 2 "--dropout" mpd-train --dropout 1 -o "$T/x.ts" "$T/syn.ts"
