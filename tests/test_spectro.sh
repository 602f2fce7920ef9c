#!/usr/bin/env bash
# test_spectro.sh - spectro end to end: golden log-mel against torchaudio
# (references from tests/ref/make_spectro_ref.py), options, keys, parallel
# and spilled output identical, formats, the poly resampler against
# libsamplerate's best on a 44.1 kHz clip, silence and short files, errors,
# and a 1-hour file in bounded memory.
source "$(dirname "$0")/lib.sh"
D=$ROOT/tests/data/audio
GOLD=${UNITS:-$ROOT/build/rel/tests}/spectro_golden
A=$SHARED/audio/formats

# wav RATE CHANNELS BITS FRAMES SOURCE OUT: PCM WAV (8-bit unsigned or 16-bit) from /dev/zero or /dev/urandom
wav() {
  local rate=$1 ch=$2 bits=$3 frames=$4 src=$5 out=$6
  local ba=$((ch * bits / 8)) len=$(($4 * ch * bits / 8))
  le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"; done; }
  { printf RIFF; le $((36 + len)) 4; printf WAVEfmt\ ; le 16 4; le 1 2; le "$ch" 2; le "$rate" 4
    le $((rate * ba)) 4; le "$ba" 2; le "$bits" 2; printf data; le "$len" 4
    head -c "$len" "$src"; } >"$out"
}
rows() { to-csv --no-header "$1" | wc -l | tr -d ' '; }

# ---- golden: the binary on the committed clips vs torchaudio ----
ok "default parameters on 4 clips" spectro -q -o "$T/g.ts" "$D/trumpet.ogg" "$D/robin.ogg" "$D/brahms_4s.flac" "$D/machine_wars_4s.flac"
for c in trumpet robin brahms_4s machine_wars_4s; do
  "$GOLD" "$T/g.ts" "$c" "$D/ref/$c.default.npy" 0.05
done
spectro -q --mel-scale htk --norm none --fmax 8000 --pad reflect "$D/trumpet.ogg" >"$T/h.ts"
"$GOLD" "$T/h.ts" trumpet "$D/ref/trumpet.htk_none_8k_reflect.npy" 0.05
spectro -q --fmin 30 --fmax 8000 "$D/machine_wars_4s.flac" >"$T/f.ts"
"$GOLD" "$T/f.ts" machine_wars_4s "$D/ref/machine_wars_4s.slaney_fmin30_8k.npy" 0.05
hdr=$(inspect --header "$T/g.ts")
like "meta has the parameters" "$hdr" '"sample_rate": 22050'
like "meta has hop and top_db" "$(tr -d '\n ' <<<"$hdr")" '"hop_length":512.*"top_db":80'
is "trumpet: 117601 samples give 1 + 117601/512 frames" "$(to-csv "$T/g.ts" | grep -c '^trumpet,')" 230

# ---- the same bytes: paths on stdin, -j 2, a spill file ----
printf '%s\n' "$D/trumpet.ogg" "$D/robin.ogg" "" "$D/brahms_4s.flac" "$D/machine_wars_4s.flac" | spectro -q >"$T/s.ts"
ok "paths on stdin give the same stream" cmp "$T/g.ts" "$T/s.ts"
spectro -q -j 2 "$D/trumpet.ogg" "$D/robin.ogg" "$D/brahms_4s.flac" "$D/machine_wars_4s.flac" >"$T/j.ts"
ok "-j 2 gives the same bytes as -j 1" cmp "$T/g.ts" "$T/j.ts"
spectro -q -j 2 "$D/robin.ogg" "$D/brahms_4s.flac" >"$T/j2a.ts"; spectro -q "$D/robin.ogg" "$D/brahms_4s.flac" >"$T/j1a.ts"
ok "-j 2 on 2 files (fewer files than slots) gives the bytes of -j 1" cmp "$T/j1a.ts" "$T/j2a.ts"
spectro -q -j 3 --buffer-mb 1 "$D/trumpet.ogg" "$D/robin.ogg" "$D/brahms_4s.flac" "$D/machine_wars_4s.flac" >"$T/b.ts"
ok "frames spilled to a file (--buffer-mb 1) give the same bytes" cmp "$T/g.ts" "$T/b.ts"

# ---- keys ----
mkdir -p "$T/a/x" "$T/a/y" && cp "$D/robin.ogg" "$T/a/x/" && cp "$D/robin.ogg" "$T/a/y/"
keys() { spectro -q "$@" | to-csv --no-header | cut -d, -f1 | uniq | tr '\n' ' '; }
is "--key parent" "$(keys --key parent "$T/a/x/robin.ogg" "$T/a/y/robin.ogg")" "x/robin y/robin "
is "--key name" "$(keys --key name "$D/robin.ogg")" "robin.ogg "
is "--key path" "$(keys --key path "$D/robin.ogg")" "$D/robin.ogg "
fails "two files with one key are refused" 1 "key 'robin' is already used.*--key" spectro "$T/a/x/robin.ogg" "$T/a/y/robin.ogg"

# ---- silence, short files ----
wav 22050 1 16 44100 /dev/zero "$T/silence.wav"
spectro -q "$T/silence.wav" >"$T/z.ts"
is "2 s of silence: 87 frames" "$(rows "$T/z.ts")" 87
is "silence is -100 dB everywhere (amin 1e-10)" "$(to-csv --no-header "$T/z.ts" | cut -d, -f2- | tr , '\n' | sort -u)" "-100"
wav 22050 1 16 100 /dev/urandom "$T/short.wav"
wav 22050 1 16 0 /dev/zero "$T/empty.wav"
spectro -q "$T/short.wav" >"$T/sh.ts"
is "100 samples (shorter than a window) give one frame" "$(to-csv --no-header "$T/sh.ts" | cut -d, -f1 | tr '\n' ' ')" "short "
# 0 samples: an error since issue 14 (it gave one frame of silence, and
# sounds-like a confident answer); --keep-going skips it
spectro -q --keep-going "$T/short.wav" "$T/empty.wav" >"$T/sh2.ts" 2>"$T/sh2.err"
is "--keep-going skips the empty file" "$(to-csv --no-header "$T/sh2.ts" | cut -d, -f1 | tr '\n' ' ')" "short "
spectro -q --pad reflect "$T/short.wav" >"$T/shr.ts"
is "reflect padding of a 100-sample file" "$(rows "$T/shr.ts")" 1
wav 8000 2 8 8000 /dev/urandom "$T/u8st.wav"
spectro -q "$T/u8st.wav" >"$T/u8.ts"
is "8-bit stereo 8 kHz, 1 s: resampled to 22050 -> 44 frames" "$(rows "$T/u8.ts")" 44

# ---- formats of the shared test set ----
if [ -d "$A" ]; then
  ok "WAV s16/s24/f32/u8, MP3, Opus, 5.1 WAV and FLAC decode" spectro -q -o "$T/fm.ts" "$A"/*.wav "$A"/*.mp3 "$A"/*.opus "$A"/*.flac
  cnt() { to-csv --no-header "$T/fm.ts" | grep -c "^$1,"; }
  is "1 s trumpet s16: 44 frames" "$(cnt trumpet_1s_22k05_mono_s16)" 44
  is "5.1 WAV, 5 s at 44.1 kHz: 216 frames" "$(cnt vibeace_5s_44k1_5.1_s16)" 216
  n=$(cnt vibeace_10s_stereo_96k); near "Opus 10 s: ~431 frames" "$n" 431 3
  n=$(cnt vibeace_10s_44k1_stereo_128k); near "MP3 10 s: ~431 frames" "$n" 431 3
  diffrows() { to-csv --no-header "$T/fm.ts" | awk -F, -v a="$1" -v b="$2" '
    $1==a { for (i = 2; i <= NF; i++) x[n1++] = $i } $1==b { for (i = 2; i <= NF; i++) y[n2++] = $i }
    END { if (n1 != n2 || !n1) { print "shape"; exit } m = 0; for (i = 0; i < n1; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > m) m = d } print m }'; }
  is "5.1 WAV and 5.1 FLAC (lossless) give the same frames" "$(diffrows vibeace_5s_44k1_5.1_s16 vibeace_5s_44k1_5.1)" 0
  near "1 s trumpet: f32 vs s16 WAV within 0.5 dB" "$(diffrows trumpet_1s_22k05_mono_f32 trumpet_1s_22k05_mono_s16)" 0 0.5

  # poly vs libsamplerate's best sinc on 10 s at 44.1 kHz: the same log-mel
  # (bins within 60 dB of the clip's maximum) below poly's passband edge
  # (0.91 x 11025 Hz); only the top 3 bands, in its transition band, differ.
  v=$A/vibeace_10s_44k1_stereo_s16.wav
  spectro -q --top-db 0 "$v" >"$T/rp.ts"
  spectro -q --top-db 0 --resample src-best "$v" >"$T/rb.ts"
  spectro -q --top-db 0 --fmax 10000 "$v" >"$T/rp10.ts"
  spectro -q --top-db 0 --fmax 10000 --resample src-best "$v" >"$T/rb10.ts"
  # melcmp A B BANDS: max |A - B| dB over bands < BANDS where B > max(B) - 60
  melcmp() { paste -d, <(to-csv --no-header "$1") <(to-csv --no-header "$2") | awk -F, -v nb="$3" '
    { n++; for (i = 2; i <= 129; i++) { a[n, i] = $i; b[n, i] = $(i + 129); if ($(i + 129) > m) m = $(i + 129) } }
    END { if (!n) { print "empty"; exit } for (r = 1; r <= n; r++) for (i = 2; i < 2 + nb; i++) if (b[r, i] > m - 60) {
          d = a[r, i] - b[r, i]; if (d < 0) d = -d; if (d > w) w = d } printf "%.4f\n", w }'; }
  near "poly vs src-best, 44.1 kHz clip, fmax 10 kHz: all 128 bands within 0.02 dB" "$(melcmp "$T/rp10.ts" "$T/rb10.ts" 128)" 0 0.02
  near "poly vs src-best, 44.1 kHz clip, fmax 11025: bands 0-124 within 0.02 dB" "$(melcmp "$T/rp.ts" "$T/rb.ts" 125)" 0 0.02
  like "poly and src-best do differ in the top bands (10-11 kHz: poly's transition band)" "$(melcmp "$T/rp.ts" "$T/rb.ts" 128)" "^([1-9]|0\.[1-9])"
  is "--resample poly names itself in the metadata" "$(inspect "$T/rp.ts" | grep -c '"resampler": "poly: polyphase Kaiser')" 1
else
  skip "shared formats" "$A not present"
fi

# ---- errors ----
printf 'not audio at all\n%.0s' {1..100} >"$T/bad.wav"
fails "an undecodable file is named with libsndfile's reason" 1 "bad.wav: cannot decode: .*(not recognised|[Ff]ormat).*--keep-going" spectro -q "$T/bad.wav"
fails "a missing file" 1 "nosuch.ogg: cannot decode: .*No such file" spectro -q "$T/nosuch.ogg"
spectro -q -o "$T/out.ts" "$D/robin.ogg" "$T/bad.wav" 2>/dev/null
is "no output and no temporary file left after a failure" "$(cd "$T" && compgen -G 'out.ts*')" ""
spectro -q --keep-going -o "$T/kg.ts" "$D/robin.ogg" "$T/bad.wav" "$D/trumpet.ogg" 2>"$T/kg.err"; rc=$?
is "--keep-going still exits 1" "$rc" 1
like "--keep-going names the skipped file" "$(cat "$T/kg.err")" "bad.wav: cannot decode.*skipped"
is "--keep-going writes the other files, complete" "$(to-csv --no-header "$T/kg.ts" | cut -d, -f1 | uniq | tr '\n' ' ')" "robin trumpet "
# the worker threads take the files in order and the main thread writes them
# in order: a bad 2nd of 3 files is the one named (the 3rd, also bad, may
# have decoded first), and --keep-going with -j 2 writes what -j 1 writes
for j in 1 2 3; do
  fails "-j $j: an error in the 2nd of 3 files names that file" 1 "spectro: [^ ]*bad.wav: cannot decode" \
    spectro -q -j "$j" -o "$T/o$j.ts" "$D/robin.ogg" "$T/bad.wav" "$T/nosuch.ogg"
  is "-j $j: the message names no other file" "$(grep -c nosuch "$T/.err")" 0
  ok "-j $j: nothing written" test ! -e "$T/o$j.ts"
done
spectro -q -j 2 --keep-going -o "$T/kg2.ts" "$D/robin.ogg" "$T/bad.wav" "$D/trumpet.ogg" 2>"$T/kg2.err"
ok "--keep-going -j 2: the same bytes as -j 1" cmp "$T/kg.ts" "$T/kg2.ts"
is "--keep-going -j 2: the same messages" "$(cat "$T/kg2.err")" "$(cat "$T/kg.err")"
# issue 14: no decodable audio is an error; a file cut short says how much decoded
fails "a WAV header with no samples" 1 "^spectro: .*empty.wav: no audio: nothing decodes \\(the file holds no samples\\)" spectro -q -o "$T/e.ts" "$T/empty.wav"
ok "no output after it" test ! -e "$T/e.ts" -a ! -e "$T/e.ts.tmp"
head -c 5000 "$D/robin.ogg" > "$T/cut.ogg"
fails "an Ogg file cut before its first audio page" 1 "cut.ogg: no audio: nothing decodes \\(is it cut short" spectro -q "$T/cut.ogg"
head -c 30000 "$D/../audio/brahms_4s.flac" > "$T/cut.flac"
spectro -q -o "$T/cutf.ts" "$T/cut.flac" 2>"$T/cutf.err"; rc=$?
like "a FLAC file cut short: a warning with the seconds decoded" "rc=$rc $(cat "$T/cutf.err")" \
  "^rc=0 spectro: .*cut.flac: the file ends early: 0\\.9[0-9] s decoded of the 4\\.00 s its header states"
is "... and the rows of what decoded" "$(to-csv --no-header "$T/cutf.ts" | wc -l)" 41
spectro -q "$D/../audio/brahms_4s.flac" 2>"$T/full.err" >/dev/null
is "a whole FLAC file: no warning" "$(cat "$T/full.err")" ""
MP3=$SHARED/audio/formats/vibeace_10s_44k1_stereo_128k.mp3
if [ -f "$MP3" ]; then
  head -c 100000 "$MP3" > "$T/cut.mp3"
  spectro -q "$T/cut.mp3" 2>"$T/cutm.err" >/dev/null
  like "an MP3 file cut short (mpg123): a warning with the seconds decoded" "$(cat "$T/cutm.err")" "cut.mp3: the file ends early: 6\\.[0-9]+ s decoded of the 10\\.00 s"
  spectro -q "$MP3" 2>"$T/fullm.err" >/dev/null
  ok "a whole MP3 file: no warning" bash -c "! grep -q 'ends early' '$T/fullm.err'"
  head -c 3000 "$MP3" > "$T/cut2.mp3"
  spectro -q -o "$T/c2.ts" "$T/cut2.mp3" 2>/dev/null
  fails "an MP3 cut to its first frames: slice refuses the clip" 1 "^slice: .*c2.ts: track 'cut2' has [0-9]+ frames \\(0\\.[0-9]+ s\\), fewer than one tile" slice "$T/c2.ts"
else skip "cut MP3" "no $MP3"; fi
fails "unknown option" 2 "unknown option" spectro --fft 1024 "$D/robin.ogg"
fails "fmax above Nyquist" 2 "Nyquist" spectro --fmax 12000 "$D/robin.ogg"
fails "bad pad mode" 2 "--pad: 'edge'" spectro --pad edge "$D/robin.ogg"
like "--help lists every option with defaults" "$(spectro --help | tr -d '\n')" "--resample.*\(default poly\).*--key RULE.*\(default stem\)"
fails "bad resampler name" 2 "--resample: 'medium-ish' is not poly, poly-fast, src-best" spectro --resample medium-ish "$D/robin.ogg"
spectro -q --resample src-medium "$D/robin.ogg" >"$T/rm.ts"
spectro -q "$D/robin.ogg" >"$T/rd.ts"
ok "at 22050 Hz (no resampling) src-medium and poly give the same rows" cmp -s <(to-csv "$T/rm.ts") <(to-csv "$T/rd.ts")
like "-V" "$(spectro -V)" "spectro \(songpipe\)"
spectro "$D/trumpet.ogg" "$D/brahms_4s.flac" 2>"$T/pipe.err" | head -c 100 >/dev/null
is "| head ends quietly" "$(cat "$T/pipe.err")" ""

# ---- a long file in bounded memory ----
secs=3600; [ "${SAN:-0}" = 1 ] && secs=600
wav 22050 1 8 $((22050 * secs)) /dev/urandom "$T/long.wav"
frames=$((1 + 22050 * secs / 512))
if [ "${SAN:-0}" != 1 ] && [ -x /usr/bin/time ]; then
  /usr/bin/time -f %M -o "$T/rss" spectro -q --buffer-mb 16 "$T/long.wav" >"$T/long.ts"
  rss=$(tail -n 1 "$T/rss")
  ok "$secs s of 8-bit noise: peak memory ${rss} KiB < 120 MiB (frames alone are $((frames / 2048)) MiB)" test "$rss" -lt 122880
else
  spectro -q --buffer-mb 16 "$T/long.wav" >"$T/long.ts"
fi
is "$secs s file: every frame written" "$(inspect "$T/long.ts" | awk '$1 == "c0" { print $2 }')" "$frames"
rm -f "$T/long.wav" "$T/long.ts"
