# test_learned.sh - the genre agreement@K computation of pipelines/learned.mk
# (pipelines/agreement.awk) on a hand-made catalogue and neighbour list with
# known answers, and its random floor on balanced genres.
. "$(dirname "$0")/lib.sh"
cd "$T"
A=$ROOT/pipelines/agreement.awk
printf 'track_id\ttrack_name\ttrack_artist\tplaylist_genre\tplaylist_subgenre\n' > cat.tsv
for i in 1 2 3 4; do printf 't%d\tsong %d\tx\trock\thard rock\n' $i $i; done >> cat.tsv
for i in 5 6 7 8; do printf 't%d\tsong %d\ty\tpop\t%s\n' $i $i $([ $i -le 6 ] && echo dance || echo indie); done >> cat.tsv
# t1: 2 rock (one hard rock) of 3 -> genre 2/3, subgenre 2/3;  t5: 1 pop (dance) of 2 -> 1/2, 1/2
# a rank beyond k is ignored, an unknown neighbour is skipped
cat > nb.tsv <<'EOF2'
t1	1	t2	0.9	song 2	x
t1	2	t3	0.8	song 3	x
t1	3	t5	0.7	song 5	y
t1	4	t6	0.6	song 6	y
t5	1	t6	0.9	song 6	y
t5	2	t1	0.8	song 1	x
t5	3	zz	0.7	gone	z
EOF2
out=$(awk -v style=s -v k=3 -f "$A" cat.tsv nb.tsv)
# genre: (2/3 + 1/2) / 2 = 0.5833; subgenre: (2/3 + 1/2) / 2 = 0.5833
is "agreement@3 of a known list" "$out" "$(printf 's\t0.5833\t0.5833\t2')"
out=$(awk -v style=s -v k=1 -f "$A" cat.tsv nb.tsv)
is "agreement@1 counts rank 1 only" "$out" "$(printf 's\t1.0000\t1.0000\t2')"
# random floor: two balanced genres, 400 tracks -> about (200-1)/399 = 0.499
{ printf 'track_id\ttrack_name\ttrack_artist\tplaylist_genre\tplaylist_subgenre\n'
  for i in $(seq 400); do printf 'r%d\tn\ta\t%s\t%s\n' $i $((i % 2)) $((i % 4)); done; } > big.tsv
r=$(awk -v style=random -v k=10 -v random=1 -v seed=3 -f "$A" big.tsv | cut -f2)
near "random neighbours agree at the base rate ($r)" "$r" 0.4987 0.02
s=$(awk -v style=random -v k=10 -v random=1 -v seed=3 -f "$A" big.tsv | cut -f3)
near "random subgenre agreement at its base rate ($s)" "$s" 0.2481 0.02
is "random floor is seeded" "$(awk -v random=1 -v seed=3 -f "$A" big.tsv)" "$(awk -v random=1 -v seed=3 -f "$A" big.tsv)"
printf 'track_id\tname\n' > bad.tsv
fails "catalogue without genres" 2 "lacks playlist_genre" awk -f "$A" bad.tsv nb.tsv
