#!/usr/bin/env bash
# test_slice.sh - slice end to end: tiles hold exactly the frames they should
# (checked against spectro's rows via to-csv), hop, pad/drop, frame and tile
# ranges, key formats, errors.
source "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data/audio

spectro -q "$D/trumpet.ogg" "$D/robin.ogg" >"$T/m.ts"      # 230 and 117 frames
to-csv --no-header "$T/m.ts" >"$T/m.csv"
keys() { slice "$@" "$T/m.ts" | to-csv --no-header | cut -d, -f1 | tr '\n' ' '; }

# check_tiles W FIRST_FRAME HOP ARGS...: every value of every trumpet tile equals
# frame FIRST + i*HOP + t, band m of the input, or 0 past the track's end
check_tiles() {
  local w=$1 f0=$2 hop=$3; shift 3
  slice --width "$w" "$@" "$T/m.ts" | to-csv --no-header >"$T/t.csv"
  awk -F, -v W="$w" -v F0="$f0" -v H="$hop" 'BEGIN { n = 0 }
    NR == FNR { if ($1 == "trumpet") { for (i = 2; i <= NF; i++) fr[n, i - 2] = $i; n++ } next }
    $1 ~ /^trumpet#/ {
      split($1, kk, "#"); ti = kk[2]; tiles++
      if (NF - 1 != 128 * W) { print "row of " NF - 1 " values"; bad++; next }
      for (m = 0; m < 128; m++) for (t = 0; t < W; t++) {
        f = F0 + ti * H + t; want = f < n ? fr[f, m] : 0
        if ($(2 + m * W + t) != want) { if (bad < 3) print "tile " ti " m " m " t " t ": " $(2 + m * W + t) " want " want; bad++ } } }
    END { print (bad ? "bad" : "ok") " " tiles }' "$T/m.csv" "$T/t.csv"
}
is "width 100: 3 trumpet tiles, values = frames, last zero-padded" "$(check_tiles 100 0 100 | tail -n 1)" "ok 3"
is "width 64 hop 50: tiles 0..4 at frames 0, 50, .. 200" "$(check_tiles 64 0 50 --hop 50 | tail -n 1)" "ok 5"
is "frames 10..209, width 50: tiles start at frame 10" "$(check_tiles 50 10 50 --frames 10..209 | tail -n 1)" "ok 4"
is "hop 80 > width 32 skips frames" "$(check_tiles 32 0 80 --hop 80 | tail -n 1)" "ok 3"
is "default 128x128, robin (117 frames) padded: 2 + 1 tiles" "$(keys --short pad)" "trumpet#0 trumpet#1 robin#0 "
is "--last drop, robin left out" "$(keys --last drop --short drop)" "trumpet#0 "
is "hop 64, width 128: every tile that starts inside the track" "$(keys --hop 64 --short pad)" "trumpet#0 trumpet#1 trumpet#2 trumpet#3 robin#0 robin#1 "
is "--tiles 1..2 --width 50" "$(keys --tiles 1..2 --width 50)" "trumpet#1 trumpet#2 robin#1 robin#2 "
is "--tiles 4.. --width 50" "$(keys --tiles 4.. --width 50)" "trumpet#4 "
is "--key-format track" "$(keys --key-format track --width 100)" "trumpet trumpet trumpet robin robin "
is "--frames beyond a track gives no tiles for it" "$(keys --frames 150.. --short pad)" "trumpet#0 "
v=$(slice --short pad --pad-value -80 --width 200 --tiles 1..1 "$T/m.ts" | to-csv --no-header | cut -d, -f200)
is "--pad-value -80 fills the padded frames" "$v" "-80"
hdr=$(slice "$T/m.ts" | inspect --header | tr -d '\n ')
like "shape [128, 128], key track#tile, spectro meta kept" "$hdr" 'shape\[128,128\].*keytrack#tile.*"sample_rate":22050.*"slice":\{"width":128'

# issue 14: a track shorter than one tile (a file cut short) is refused by
# default, naming the input, the track, its frames and seconds
fails "a track shorter than one tile is refused" 1 "^slice: .*m.ts: track 'robin' has 117 frames \\(2\\.72 s\\), fewer than one tile of 128: too short" \
  slice -o "$T/short.ts" "$T/m.ts"
ok "no output after it" test ! -e "$T/short.ts" -a ! -e "$T/short.ts.tmp"
is "--short drop leaves it out and counts it" "$(slice --short drop "$T/m.ts" 2>"$T/e" | to-csv --no-header | cut -d, -f1 | tr '\n' ' ')$(cat "$T/e")" \
  "trumpet#0 trumpet#1 slice: 1 tracks shorter than one tile left out (--short drop)"
fails "--frames that leave less than a tile: said" 1 "track 'trumpet' has 80 frames .*within --frames" slice --frames 150.. "$T/m.ts"
fails "--short bad" 2 "--short: 'maybe'" slice --short maybe "$T/m.ts"
fails "a range that ends before it starts" 2 "ends before" slice --tiles 5..2 "$T/m.ts"
fails "not a range" 2 "not a range" slice --frames 7 "$T/m.ts"
fails "--last bad" 2 "--last: 'zero'" slice --last zero "$T/m.ts"
slice "$T/m.ts" >"$T/tiles.ts"
fails "2-D rows are refused" 1 "slice needs f32 rows of n_mels" slice "$T/tiles.ts"
printf 'garbage' >"$T/g.ts"
fails "not a stream" 1 "." slice "$T/g.ts"
slice -o "$T/o.ts" "$T/g.ts" 2>/dev/null
is "no output left after a failure" "$(cd "$T" && compgen -G 'o.ts*')" ""
cat "$T/m.ts" | slice --width 100 | to-csv --no-header | cut -d, -f1 >"$T/k"
is "reads stdin" "$(tr '\n' ' ' <"$T/k")" "trumpet#0 trumpet#1 trumpet#2 robin#0 robin#1 "
