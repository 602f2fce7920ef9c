# test_embed.sh - embed: layer selection (name, index, from the end), shapes,
# keys passing through, predictions, streaming in bounded memory, and model
# and input errors.
. "$(dirname "$0")/lib.sh"
for s in csv-clean to-csv embed train-mlp; do
  [ -x "$BIN/$s" ] || { skip "embed" "no $BIN/$s yet"; exit 0; }
done
cd "$T"

awk 'BEGIN { srand(5); print "id,a,b,c,g,y";
  for (i = 0; i < 500; i++) { a = rand(); b = rand(); c = rand(); g = int(rand()*3);
    printf "k%d,%.5f,%.5f,%.5f,g%d,%.5f\n", i, a, b, c, g, a + b * c + g } }' > f.csv
csv-clean --key id --cols a,b,c,y --category g f.csv > f.ts 2>/dev/null
train-mlp -q --inputs a,b,c --categorical g:2 --targets y --layers 12,8,6,1 --act leaky_relu \
  --epochs 20 --lr 0.01 --scale-targets -o m.model f.ts
cat > ae.json <<'EOF'
{"inputs": ["a", "b", "c"], "categorical": [{"column": "g", "dim": 2}],
 "layers": [{"units": 10, "act": "relu"}, {"units": 3, "act": "linear", "name": "code"}, {"units": 10, "act": "relu"}],
 "outputs": [{"loss": "mse", "targets": "inputs"}, {"loss": "ce", "target": "g"}]}
EOF
train-mlp -q --arch ae.json --epochs 10 -o ae.model f.ts

width() { embed "$@" f.ts | to-csv | head -1 | awk -F, '{ print NF - 1 }'; }
is "--layer dense.0 is 12 wide" "$(width -m m.model --layer dense.0)" 12
is "--layer 1 is 8 wide" "$(width -m m.model --layer 1)" 8
is "default layer (-2) is the last hidden, 6 wide" "$(width -m m.model)" 6
is "--layer -3 is 8 wide" "$(width -m m.model --layer -3)" 8
is "--layer -1 is the output" "$(width -m m.model --layer -1)" 1
is "--layer output" "$(width -m m.model --layer output)" 1
is "named layer of an architecture file" "$(embed -m ae.model --layer code f.ts | to-csv | head -1)" "id,code.0,code.1,code.2"
is "--predict columns: targets, then target=class" "$(embed -m ae.model --predict f.ts | to-csv | head -1)" "id,a,b,c,g=0,g=1,g=2"
like "--list shows layers and widths" "$(embed -m ae.model --list)" "code	3	linear"
is "one row out per row in" "$(embed -m m.model f.ts | to-csv | wc -l)" 501
is "keys pass through in order" "$(embed -m m.model f.ts | to-csv | cut -d, -f1 | md5sum)" "$(to-csv f.ts | cut -d, -f1 | md5sum)"
like "key name passes through" "$(embed -m m.model f.ts | to-csv | head -1)" "^id,"

# softmax rows sum to 1; autoencoder predictions are in input units
sums=$(embed -m ae.model --predict f.ts | to-csv | awk -F, 'NR > 1 { s = $5 + $6 + $7; if (s < 0.9999 || s > 1.0001) bad++ } END { print bad + 0 }')
is "ce probabilities sum to 1" "$sums" 0
mean_a=$(embed -m ae.model --predict f.ts | to-csv | awk -F, 'NR > 1 { s += $2; n++ } END { printf "%.2f", s / n }')
near "reconstructions are scaled back to input units (mean a $mean_a)" "$mean_a" 0.5 0.15

# --predict scales regression targets back (trained with --scale-targets)
mae=$(embed -m m.model --predict f.ts | to-csv | paste -d, - <(to-csv f.ts) |
      awk -F, 'NR > 1 { d = $2 - $7; s += d < 0 ? -d : d; n++ } END { printf "%.3f", s / n }')
near "predictions are in target units (MAE $mae)" "$mae" 0.1 0.1

# the output layer equals --predict when the head is linear and unscaled
train-mlp -q --inputs a,b,c --targets y --layers 4,1 --epochs 2 -o lin.model f.ts
is "--layer -1 equals --predict for a linear head" "$(embed -m lin.model --layer -1 f.ts | to-csv | tail -n +2 | cut -d, -f2 | md5sum)" \
  "$(embed -m lin.model --predict f.ts | to-csv | tail -n +2 | cut -d, -f2 | md5sum)"

# batches do not change the numbers (beyond float rounding: OpenBLAS picks
# other kernels for small batches)
diff=$(paste -d, <(embed -m m.model --batch 7 f.ts | to-csv) <(embed -m m.model f.ts | to-csv) |
       awk -F, 'NR > 1 { if ($1 != $8) bad = 1; for (j = 2; j <= 7; j++) { d = $j - $(j + 7); d = d < 0 ? -d : d; if (d > m) m = d } }
                END { print bad ? "keys differ" : m + 0 }')
near "--batch 7 gives the rows of --batch 4096 (max diff $diff)" "$diff" 0 1e-5
ok "-o writes a file" embed -m m.model -o out.ts f.ts
is "-o file content" "$(to-csv out.ts | md5sum)" "$(embed -m m.model f.ts | to-csv | md5sum)"

# memory does not grow with rows: 400x the rows, about the same peak RSS
awk 'BEGIN { srand(9); print "id,a,b,c,g";
  for (i = 0; i < 200000; i++) printf "k%d,%.4f,%.4f,%.4f,g%d\n", i, rand(), rand(), rand(), int(rand()*3) }' > big.csv
csv-clean --key id --cols a,b,c --category g big.csv > big.ts 2>/dev/null
head -501 big.csv > small.csv
csv-clean --key id --cols a,b,c --category g small.csv > small.ts 2>/dev/null
rss() { /usr/bin/time -f %M embed -m m.model --batch 1024 "$1" 2>&1 >/dev/null | tail -1; }
r_small=$(rss small.ts); r_big=$(rss big.ts)
ok "peak RSS with 200,000 rows ($r_big kB) within 16 MB of 500 rows ($r_small kB)" \
  test "$((r_big - r_small))" -lt 16384
is "all 200,000 rows come out" "$(embed -m m.model big.ts | to-csv | wc -l)" 200001

# | head ends quietly
embed -m m.model big.ts 2>"$T/pipe.err" | head -c 10 >/dev/null
is "| head: no error message" "$(cat "$T/pipe.err")" ""

# errors
fails "no model" 2 "-m MODEL is required" embed f.ts
fails "missing model file" 1 "nope.model: cannot open" embed -m nope.model f.ts
fails "a data stream is not a model" 1 "not a songpipe model" embed -m f.ts f.ts
head -c 300 m.model > trunc.model
fails "truncated model" 1 "trunc.model: .*(truncated|ends inside)" embed -m trunc.model f.ts
fails "unknown layer lists the layers" 2 "no such layer; the model's layers are dense.0, dense.1, dense.2, dense.3" embed -m m.model --layer enc f.ts
fails "layer index out of range" 2 "the model has 4 layers" embed -m m.model --layer -5 f.ts
fails "--predict with --layer" 2 "exclude each other" embed -m m.model --predict --layer 1 f.ts
csv-clean --key id --cols a,b --category g f.csv > ab.ts 2>/dev/null
fails "input without a model column" 1 "no column 'c', which the model takes as a numeric input" embed -m m.model ab.ts
{ echo id,a,b,c,g; echo x1,0.1,0.2,0.3,g0; echo x2,0.1,0.2,0.3,g1; echo x3,0.1,0.2,0.3,g2; echo x4,0.1,0.2,0.3,g3; } > v.csv
csv-clean --key id --cols a,b,c --category g v.csv > v.ts 2>/dev/null
fails "code outside the vocabulary" 1 "row 'x4', column 'g': code 3 is outside the model's vocabulary 0..2" embed -m m.model v.ts
fails "empty input" 1 "empty input" embed -m m.model /dev/null
ok "no output file after an error" bash -c '! embed -m m.model -o bad.ts v.ts 2>/dev/null; ! ls bad.ts* 2>/dev/null | grep -q .'
true
