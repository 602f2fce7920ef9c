# test_similarity.sh - supervised similarity (pipelines/similarity.mk): the
# evaluation's arithmetic (pipelines/simeval.awk) on a hand-computed case,
# members on made-up playlists (CSV and an MPD slice), train-mlp --pairs
# usage, and the pipeline targets on a tiny made-up catalogue.
. "$(dirname "$0")/lib.sh"
cd "$T"
E=$ROOT/pipelines/simeval.awk

# ---- simeval.awk: a case computed by hand ------------------------------------
printf 'track_id\ttrack_name\ttrack_artist\tplaylist_genre\tplaylist_subgenre\n' > cat.tsv
printf 'a\tSong A\tX\trock\thard\na2\tSONG  A!\tX\trock\thard\nb\tSong B\tX\trock\tindie\n' >> cat.tsv
printf 'c\tSong C\tY\tpop\tdance\nd\tSong D\tY\tpop\tdance\ne\tSong E\tZ\trock\thard\n' >> cat.tsv
# p1 holds a and its other version a2: for each, the other songs are b and c
printf 'playlist\tkey\np1\ta\np1\tb\np1\tc\np1\ta2\np2\td\np2\te\np2\tnot-in-catalogue\n' > held.tsv
cat > nb.tsv <<'EOF2'
a	1	b	0.9
a	2	d	0.8
a	3	c	0.7
b	1	e	0.9
b	2	c	0.8
c	1	d	0.9
c	2	e	0.8
a2	1	c	0.9
a2	2	e	0.8
d	1	e	0.9
d	2	a	0.8
e	1	a	0.9
e	2	b	0.8
EOF2
# per entry (hit, recall, genre, subgenre, artist), k=2:
#   a: 1 1/2 1/2 0 1/2   b: 1 1/2 1/2 0 0   c: 0 0 1/2 1/2 1/2
#   a2: 1 1/2 1/2 1/2 0  d: 1 1 0 0 0       e: 0 0 1 1/2 0
out=$(awk -v method=m -v k=2 -f "$E" cat.tsv held.tsv nb.tsv)
is "simeval@2 of a hand-computed case" "$out" "$(printf 'm\t0.6667\t0.4167\t0.5000\t0.2500\t0.1667\t6')"
# k=3: a's third neighbour c is another hit: recall 2/2
out=$(awk -v method=m -v k=3 -f "$E" cat.tsv held.tsv nb.tsv | cut -f3)
is "a third neighbour counts at k=3 (recall (1+.5+0+.5+1+0)/6)" "$out" "0.5000"
# a list that names a version of the query as a neighbour: no hit for it
printf 'a\t1\ta2\t0.99\n' > self.tsv
out=$(awk -v method=m -v k=1 -f "$E" cat.tsv held.tsv self.tsv 2>/dev/null | cut -f2)
is "a version of the query is never a hit" "$out" "0.0000"
r1=$(awk -v method=random -v random=1 -v seed=4 -f "$E" cat.tsv held.tsv)
r2=$(awk -v method=random -v random=1 -v seed=4 -f "$E" cat.tsv held.tsv)
is "the random floor is seeded" "$r1" "$r2"
like "the random row scores every entry" "$r1" $'^random\t.*\t6$'
printf 'track_id\tname\n' > bad.tsv
fails "catalogue without the columns" 2 "lacks track_name" awk -v method=m -f "$E" bad.tsv held.tsv nb.tsv
printf 'x\ty\n' > badheld.tsv
fails "held-out file without its header" 2 "expected members --heldout" awk -v method=m -f "$E" cat.tsv badheld.tsv nb.tsv

# ---- a tiny made-up catalogue: 48 songs, 12 playlists of 6 ------------------
# songs of playlist p share a feature profile around p (and an artist per two
# playlists), so that playlists are learnable from the features
awk 'BEGIN {
  srand(7)
  print "track_id,track_name,track_artist,track_popularity,track_album_release_date,playlist_id,playlist_genre,playlist_subgenre,danceability,energy,key,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms"
  for (s = 0; s < 48; s++) {
    p = int(s / 4); c = p % 4; f = ""
    for (j = 0; j < 11; j++) f = f "," sprintf("%.4f", ((p * 7 + j * 3) % 11) / 11 + rand() * 0.05)
    # each song is in playlist p and in the next one: 8 songs per playlist
    for (q = p; q <= p + 1; q++)
      printf "t%02d,song %d,artist %d,%d,%d-01-01,pl%d,%s,sub%d%s\n", s, s, int(p / 2), 10 + s, 1990 + p, q % 12, c < 2 ? "rock" : "pop", c, f
  }
}' > songs.csv

# members: CSV playlists, whole playlists held out
bin_members() { "$BIN/members" "$@"; }
printf 'track_id\ttrack_name\n' > c.tsv; for s in $(seq -w 0 47); do printf 't%s\tsong\n' "$s"; done >> c.tsv
ok "members: CSV playlists" bin_members --catalog c.tsv --csv songs.csv --holdout 0.4 --seed 2 -o m.ts --heldout h.tsv --lists l.tsv
like "members reports the join" "$(cat "$T/.err")" "96 playlist entries, 96 of them songs of the catalogue"
rows=$("$BIN/inspect" m.ts | awk '$1 == "rows" { print $2 }')
held=$(($(wc -l < h.tsv) - 1))
is "every entry is in training or held out" "$((rows + held))" 96
both=$(awk -F'\t' 'NR > 1 && $4 == "train" { t[$2] = 1 } NR > 1 && $4 == "heldout" && ($2 in t) { n++ } END { print n + 0 }' l.tsv)
is "no playlist is in both splits" "$both" 0
like "held-out lines are playlist, key" "$(sed -n 2p h.tsv)" $'^csv:pl[0-9]+\tt[0-9]+$'
ok "members is deterministic" bin_members --catalog c.tsv --csv songs.csv --holdout 0.4 --seed 2 -o m2.ts --heldout h2.tsv
is "same seed, same split" "$(cmp -s m.ts m2.ts && cmp -s h.tsv h2.tsv && echo same)" same
fails "members: a missing playlist column" 1 "songs.csv:1: no column 'pid'" bin_members --catalog c.tsv --csv songs.csv --list-col pid -o x.ts
fails "members: no playlists named" 2 "give playlists" bin_members --catalog c.tsv -o x.ts
[ ! -e x.ts ] && pass "members: nothing written on error" || fail "members: nothing written on error" "x.ts exists"

# members: an MPD slice (made up) joined by track id
cat > mpd.json <<'EOF2'
{"info": {"slice": "0-1"}, "playlists": [
 {"pid": 0, "name": "a", "tracks": [{"pos": 0, "track_uri": "spotify:track:t01"}, {"pos": 1, "track_uri": "spotify:track:t02"},
                                    {"pos": 2, "track_uri": "spotify:track:nope"}]},
 {"pid": 1, "name": "b", "tracks": [{"pos": 0, "track_uri": "spotify:track:t03"}, {"pos": 1, "track_uri": "spotify:track:x"}]}]}
EOF2
"$BIN/mpd-ingest" --tracks tr.tsv -o pl.ts mpd.json 2>/dev/null
ok "members: MPD playlists" bin_members --catalog c.tsv --mpd pl.ts --mpd-tracks tr.tsv --holdout 0 -o mm.ts --lists ml.tsv
like "MPD join counted" "$(cat "$T/.err")" "5 playlist rows, 3 of them \(60.0%\) join the catalogue by track id, 3 distinct songs"
is "a playlist with one catalogue song is dropped" "$(tail -n +2 ml.tsv | cut -f2-3 | tr '\t' ' ')" "mpd:0 2"

# ---- train-mlp --pairs --------------------------------------------------------
"$BIN/csv-clean" --key track_id --cols danceability,energy,valence -o f.ts songs.csv 2>/dev/null
fails "--loss infonce needs --pairs" 2 "give --pairs" "$BIN/train-mlp" --layers 4 --loss infonce -o x.model f.ts
fails "--pairs needs a pair loss" 2 "infonce or triplet" "$BIN/train-mlp" --layers 4 --pairs m.ts -o x.model f.ts
fails "--pairs with targets" 2 "drop --targets" "$BIN/train-mlp" --layers 4 --loss infonce --pairs m.ts --targets energy -o x.model f.ts
ok "train-mlp --pairs infonce" "$BIN/train-mlp" -q --layers 8,4 --loss infonce --pairs m.ts --batch 8 --epochs 3 -o p.model f.ts
ok "train-mlp --pairs triplet" "$BIN/train-mlp" -q --layers 8,4 --loss triplet --margin 0.5 --pairs m.ts --batch 8 --epochs 3 -o t.model f.ts
ok "embed the pair model" "$BIN/embed" -m p.model --predict -o p.emb.ts f.ts
like "its output is the embedding" "$("$BIN/inspect" p.emb.ts | awk '$1 == "columns"')" "emb.0,emb.1,emb.2,emb.3"
printf 'key,playlist\nt01,-1\n' > neg.csv
"$BIN/csv-clean" --key key --cols playlist -o neg.ts neg.csv 2>/dev/null
fails "a negative group code" 1 "neg.ts: row 1 \(key 't01'\): playlist -1 is not a group code" \
  "$BIN/train-mlp" -q --layers 4 --loss infonce --pairs neg.ts -o x.model f.ts

# ---- the pipeline on the tiny catalogue ---------------------------------------
O=$T/out
M=(make --no-print-directory -s -C "$ROOT" SAN="${SAN:-0}" OUT="${OUT:-build}" OUTDIR="$O" SONGS_CSV="$T/songs.csv"
   SIM_PLAYLISTS=csv SIM_HOLDOUT=0.3 SIM_ROWS='random raw artist-profile supervised hybrid'
   SUP_OPTS='--layers 8,4 --loss infonce --batch 16 --epochs 5 --patience 0')
ok "make eval-similarity on a tiny catalogue" "${M[@]}" eval-similarity
tab=$(cat "$O/learned/similarity.tsv")
is "one row per method" "$(cut -f1 <<<"$tab" | tr '\n' ' ')" "method random raw artist-profile supervised hybrid "
# the hybrid row: its blend chosen by hybrid --eval, whose test playlists are
# members' held-out ones (one split, common/plmembers.h) and whose
# validation playlists are training ones
ev=$(cat "$O/learned/hybrid.eval.txt")
like "hybrid row: a blend chosen on validation playlists" "$ev" "W=[01][.][0-9]  [01][.][0-9]{4}  <- chosen"
ntest=$(sed -n 's/.* \([0-9]*\) test (seed 1)$/\1/p' <<<"$ev")
is "  hybrid --eval tests exactly members' held-out playlists" "$ntest" "$(awk -F'\t' '$4 == "heldout"' "$O/learned/lists.tsv" | wc -l)"
w=$(awk '/<- chosen/ { sub(/^W=/, "", $1); print $1 }' <<<"$ev")
held=$(awk -F'\t' 'NR > 1 { print $1 }' "$O/learned/heldout.tsv" | sort -u | tr '\n' ' ')
is "  the hybrid neighbours never use a held-out playlist: same lists as hybrid without them" \
  "$(cmp -s "$O/learned/hybrid.neighbours.tsv" <("$BIN/hybrid" --all -k 10 --blend "$w" --index "$O/learned/raw.emb.ts" \
       --catalog "$O/learned/songs.tsv" --playlists <(awk -F, -v h=" $held" 'NR == 1 || index(h, " csv:" $6 " ") == 0' songs.csv) 2>/dev/null) && echo same)" same
bad=$(tail -n +2 <<<"$tab" | awk -F'\t' '{ for (i = 2; i <= 6; i++) if (!($i >= 0 && $i <= 1)) n++; if ($7 < 1) n++ } END { print n + 0 }')
is "every measure is a share, every row has entries" "$bad" 0
t0=$(stat -c %Y "$O/learned/supervised.model")
sleep 1
ok "a second run" "${M[@]}" eval-similarity
is "nothing is retrained when nothing changed" "$(stat -c %Y "$O/learned/supervised.model")" "$t0"
ok "make recommend STYLE=supervised" "${M[@]}" recommend STYLE=supervised SONG='song 5 - artist 0'
like "it lists neighbours" "$(cat "$T/.out")" "song [0-9]+"
# make recommend STYLE=hybrid: the hybrid answer, each result with its source
# (HYBRID_BLEND=0.9: here a song's playlist mates are its feature neighbours
# too, so at the CSV default 0.4 their feature part is the larger)
ok "make recommend STYLE=hybrid" "${M[@]}" recommend STYLE=hybrid SONG='song 5 - artist 0' FORMAT=json K=5 HYBRID_BLEND=0.9
out=$(cat "$T/.out")
is "  5 JSON lines, each saying its source" "$(jq -r .source <<<"$out" | grep -c '^playlists$\|^features$')" 5
is "  song 5's playlist mates (songs 4..11, pl1 and pl2) come first, from the playlists" \
  "$(jq -r 'select(.rank == 1) | .source' <<<"$out") $(jq -r 'select(.rank == 1) | .title' <<<"$out" | sed 's/song //' | awk '$1 >= 4 && $1 <= 11 { print "mate" }')" "playlists mate"
fails "  STYLE=hybrid with ARTIST: refused, saying why" 2 "STYLE=hybrid answers SONG= or PLAYLIST=" "${M[@]}" recommend STYLE=hybrid ARTIST='artist 0'
ok "changing SUP_OPTS retrains" "${M[@]}" eval-similarity SUP_OPTS='--layers 8,4 --loss triplet --batch 16 --epochs 2 --patience 0'
[ "$(stat -c %Y "$O/learned/supervised.model")" != "$t0" ] && pass "the model was rebuilt" || fail "the model was rebuilt" "same time"
fails "SIM_PLAYLISTS is checked" 2 "SIM_PLAYLISTS='spotify'" "${M[@]}" eval-similarity SIM_PLAYLISTS=spotify
