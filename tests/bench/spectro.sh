#!/usr/bin/env bash
# bench/spectro.sh - decode + resample + log-mel of 30 s clips: spectro against
# torchaudio (torchaudio.load, mean to mono, transforms.Resample, MelSpectrogram
# + AmplitudeToDB with spectro's defaults), same files, CPU only.
# One thread: spectro -j 1 (one file at a time, though its decoding, its
# STFT and the writing run on 3 threads that overlap: its wall time is not a
# one-core time) vs torch.set_num_threads(1).  All cores: spectro -j N
# vs N torchaudio processes over a share of the files each, and vs one process
# with torch's default intra-op threads.  Best of $REPS runs.
# The ratio is of CPU time (user + sys: seconds of audio per CPU second), not
# wall time: the machine is shared, and CPU time is what other load disturbs
# least.  Wall seconds are printed too.  spectro's CPU time is the whole
# process (start-up and writing the output stream included); torchaudio's is
# its loop only (imports and a warm-up file excluded).
# Clips: 30 s cut from ../shared/data/audio (Ogg Vorbis 44.1 kHz stereo, MP3
# 22.05 kHz stereo, Ogg Vorbis 22.05 kHz mono), written to a scratch folder.
. "$(dirname "$0")/prologue.bash"; set +e +o pipefail -u
TOOLS=${TOOLS:-$ROOT/build/rel/tools}
REPS=${REPS:-3}
NCPU=$(nproc)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
A=$SHARED/audio
[ -d "$A" ] || { echo "bench spectro: skipped: $A not present"; exit 0; }
# torchaudio.load reads these files with its default sox_io backend (libsox,
# MP3 and Ogg Vorbis) or with soundfile; python3-soundfile also cuts the clips
"$PY" -c 'import torchaudio' 2>/dev/null || { echo "bench spectro: skipped: python3-torchaudio missing (make bench installs it)"; exit 0; }
"$PY" -c 'import soundfile' 2>/dev/null || { echo "bench spectro: skipped: python3-soundfile missing (it cuts the 30 s clips; make bench installs it)"; exit 0; }
[ -x "$BIN/spectro" ] || { echo "bench spectro: $BIN/spectro not built" >&2; exit 1; }

"$PY" - "$A" "$T/clips" <<'EOF' || exit 1
import os, sys, soundfile as sf
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
jobs = [(f"debian/drascula-music/track{n}.ogg", 20, "OGG", "VORBIS") for n in (3, 5, 6, 7, 9, 11)]
jobs += [(f"debian/asc-music/{n}.mp3", 60, "MP3", "MPEG_LAYER_III") for n in ("frontiers", "machine_wars", "time_to_strike")]
jobs += [(f"librosa/{n}.ogg", 30, "OGG", "VORBIS") for n in
         ("Kevin_MacLeod_-_Vibe_Ace", "Karissa_Hobbs_-_Lets_Go_Fishin", "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy")]
for i, (p, start, fmt, sub) in enumerate(jobs):
    info = sf.info(os.path.join(src, p))
    x, sr = sf.read(os.path.join(src, p), start=start * info.samplerate, frames=30 * info.samplerate, dtype="float32")
    ext = "mp3" if fmt == "MP3" else "ogg"
    sf.write(os.path.join(out, f"clip{i:02d}.{ext}"), x, sr, format=fmt, subtype=sub)
EOF
ls "$T"/clips/* >"$T/list"
NCLIP=$(wc -l <"$T/list")
AUDIO_S=$((NCLIP * 30))

cat >"$T/ta.py" <<'EOF'
import resource, sys, time, torch, torchaudio
threads, paths = int(sys.argv[1]), sys.argv[2:]
if threads > 0:
    torch.set_num_threads(threads)
mel = torchaudio.transforms.MelSpectrogram(sample_rate=22050, n_fft=2048, win_length=2048, hop_length=512,
    n_mels=128, power=2.0, center=True, pad_mode="constant", norm="slaney", mel_scale="slaney")
todb = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80)
resamplers = {}
def one(p):
    w, sr = torchaudio.load(p)
    w = w.mean(dim=0)
    if sr != 22050:
        if sr not in resamplers:
            resamplers[sr] = torchaudio.transforms.Resample(sr, 22050)
        w = resamplers[sr](w)
    return todb(mel(w))
with torch.no_grad():
    one(paths[0])                       # warm-up: kernels, caches
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for p in paths:
        one(p)
    t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
print(t1 - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
EOF

# best of REPS by CPU time: lines "cpu wall" in, "wall cpu" out
best() { sort -g | head -n 1 | awk '{ print $2, $1 }'; }
sp_run() {   # threads [spectro options]
  local j=$1; shift
  for _ in $(seq "$REPS"); do
    /usr/bin/time -f '%e %U %S' -o "$T/tm" "$BIN/spectro" -q -j "$j" "$@" -o "$T/out.ts" $(cat "$T/list") || exit 1
    awk '{ print $2 + $3, $1 }' "$T/tm"
  done | best
}
ta_run() {   # threads (0 = torch default)
  for _ in $(seq "$REPS"); do "$PY" "$T/ta.py" "$1" $(cat "$T/list") | awk '{ print $2, $1 }' || exit 1; done | best
}
ta_procs() { # N processes, one thread each, a share of the files each
  for _ in $(seq "$REPS"); do
    split -n "r/$1" "$T/list" "$T/part."
    local t0; t0=$(date +%s.%N)
    for f in "$T"/part.*; do "$PY" "$T/ta.py" 1 $(cat "$f") >"$f.out" & done; wait
    local t1; t1=$(date +%s.%N)
    # wall = slowest process's loop (imports excluded, as in the one-process run)
    cat "$T"/part.*.out | awk '{ if ($1 > w) w = $1; c += $2 } END { print c, w }'
    rm -f "$T"/part.*
  done | best
}
report() {   # what sp ta
  read -r sw sc <<<"$2"; read -r tw tc <<<"$3"
  awk -v what="$1" -v sw="$sw" -v sc="$sc" -v tw="$tw" -v tc="$tc" -v a="$AUDIO_S" -v n="$NCLIP" 'BEGIN {
    printf "bench spectro %s: songpipe %.3f s, torchaudio %.3f s, ratio %.1f x  (CPU seconds, user+sys; audio s per CPU s: songpipe %.0f, torchaudio %.0f; %d x 30 s clips; wall %.2f s vs %.2f s, %.1f x)\n",
      what, sc, tc, tc / sc, a / sc, a / tc, n, sw, tw, tw / sw }'
}
report "1 thread" "$(sp_run 1)" "$(ta_run 1)"
# the decoders alone (tests/tools/decode-only: libsndfile as common/audio.c
# calls it, nothing after) on the same files: what spectro costs on top of
# decoding, in CPU seconds (user+sys) and in wall seconds.  With N threads,
# decode-only runs as N processes over a share of the files each (round
# robin), spectro as -j N.  Best of $REPS each; the load average is printed
# with the numbers (wall times mean little when other work shares the cores).
dec_run() {  # processes -> "cpu wall" (best of each)
  for _ in $(seq "$REPS"); do
    split -n "r/$1" "$T/list" "$T/dpart."
    /usr/bin/time -f '%e %U %S' -o "$T/tm" bash -c 'for f in "$@"; do "$0" $(cat "$f") >/dev/null & done; wait' \
      "$TOOLS/decode-only" "$T"/dpart.* || exit 1
    rm -f "$T"/dpart.*
    awk '{ print $2 + $3, $1 }' "$T/tm"
  done | awk 'NR == 1 || $1 < c { c = $1 } NR == 1 || $2 < w { w = $2 } END { print c, w }'
}
sp_both() {  # threads -> "cpu wall" (best of each)
  for _ in $(seq "$REPS"); do
    /usr/bin/time -f '%e %U %S' -o "$T/tm" "$BIN/spectro" -q -j "$1" -o "$T/out.ts" $(cat "$T/list") || exit 1
    awk '{ print $2 + $3, $1 }' "$T/tm"
  done | awk 'NR == 1 || $1 < c { c = $1 } NR == 1 || $2 < w { w = $2 } END { print c, w }'
}
if [ -x "$TOOLS/decode-only" ]; then
  for j in $(printf '%s\n' 1 "$NCPU" | sort -un); do
    read -r sc sw <<<"$(sp_both "$j")"; read -r dc dw <<<"$(dec_run "$j")"
    awk -v j="$j" -v sc="$sc" -v sw="$sw" -v dc="$dc" -v dw="$dw" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
      printf "bench spectro over decoding alone, %d thread%s (spectro -j %d, decode-only x %d): CPU spectro %.3f s, decode-only %.3f s, ratio %.2f x; wall spectro %.3f s, decode-only %.3f s, ratio %.2f x (goal 1.25 x or less; load %s)\n",
        j, (j > 1 ? "s" : ""), j, j, sc, dc, sc / dc, sw, dw, sw / dw, load }'
  done
else
  echo "bench spectro over decoding alone: skipped: no \$TOOLS/decode-only (make tools)"
fi
report "$NCPU threads (spectro -j $NCPU vs $NCPU torch processes)" "$(sp_run "$NCPU")" "$(ta_procs "$NCPU")"
report "$NCPU threads (spectro -j $NCPU vs torch default threads)" "$(sp_run "$NCPU")" "$(ta_run 0)"
# the resamplers inside spectro, same files (6 of the 12 are 44.1 kHz): CPU s
read -r _ p <<<"$(sp_run 1 --resample poly)"
for q in poly-fast src-medium src-best; do
  read -r _ c <<<"$(sp_run 1 --resample "$q")"
  awk -v q="$q" -v c="$c" -v p="$p" 'BEGIN { printf "bench spectro --resample %s: %.3f CPU s, poly %.3f CPU s, ratio %.2f x\n", q, c, p, c / p }'
done
