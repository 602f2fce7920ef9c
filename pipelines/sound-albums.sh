#!/usr/bin/env bash
# sound-albums.sh INDEX.ts BASELINE.ts ALBUMS.tsv - how often the nearest
# other song of a library track (knn --self: the track itself is held out of
# the index it is searched in) is from the track's own album, for every track
# of an album with two or more tracks, against chance and against an
# untrained baseline (the track's mean log-mel spectrum, cosine).
# ALBUMS.tsv: a header, then file (the library key) TAB album.
# Chance for a track of an album of n among N tracks: (n-1)/(N-1) for the
# nearest; the first sibling's rank in a random order is N/n on average.
set -eo pipefail
[ $# -eq 3 ] || { echo "usage: sound-albums.sh INDEX.ts BASELINE.ts ALBUMS.tsv" >&2; exit 2; }
BIN=${BIN:?}
score() {   # INDEX NAME
  "$BIN/knn" --index "$1" --self -k 100 --tsv |
  awk -F'\t' -v name="$2" 'NR == FNR { if (FNR > 1) alb[$1] = $2; next }
    FNR == 1 { for (k in alb) { N++; size[alb[k]]++ } }
    !($1 in alb) { print "sound-albums: " $1 ": not in the album list; add it to data/sounds/albums.tsv" > "/dev/stderr"; bad = 1; exit 1 }
    { a = alb[$1]; if (size[a] < 2) next
      if ($2 == 1) { q++; hit += alb[$3] == a; chance += (size[a] - 1) / (N - 1); crank += N / size[a] }
      if (!($1 in first) && alb[$3] == a) { first[$1] = $2; rsum += $2 } }
    END { if (bad) exit 1
      printf "%-28s %3d/%-3d = %.3f   chance %.3f   mean rank of the first sibling %.2f (chance %.2f)\n",
             name, hit, q, hit / q, chance / q, rsum / q, crank / q }' "$3" -
}
echo "sound-albums: $(tail -n +2 "$3" | wc -l) tracks; a track's nearest other track is from its album:"
score "$1" "CNN (data/sound.model)" "$3"
score "$2" "baseline (mean log-mel)" "$3"
