# simeval.awk - song-similarity evaluation on held-out playlists (issue 15).
# For every entry (playlist P, song q) of the held-out playlists whose song is
# in the catalogue, the first K neighbours of q in a neighbour list are scored:
#   hit@K      1 if any neighbour is another song of P, else 0
#   recall@K   share of the other songs of P among the neighbours
#   genre@K, subgenre@K   share of neighbours with q's playlist_genre/subgenre
#   artist@K   share of neighbours by q's own artist
# averaged over the entries (hit and recall over the entries whose playlist
# has another song).  "Another song of P" leaves out q itself and its other
# versions: the same title and artist after folding (lowercase, every
# character other than a-z and 0-9 dropped), as knn drops them from its
# results; several ids of one song in P count once.
# Any method is scored from its neighbour list, so a new row (e.g. hybrid)
# needs only a neighbour file: TSV lines query_key <TAB> rank <TAB>
# neighbour_key [<TAB> anything], as knn --tsv writes them, ranks from 1.
# With random=1 there is no neighbour file: K distinct random catalogue songs
# that are not versions of q (srand(seed)), the floor.
# Usage: awk -v method=NAME [-v k=10] [-v random=1 -v seed=1] -f simeval.awk CATALOG.tsv HELDOUT.tsv [NEIGHBOURS.tsv]
#   CATALOG.tsv: header with track_name, track_artist, playlist_genre,
#   playlist_subgenre; first column the key.  HELDOUT.tsv: members --heldout.
# Prints: method <TAB> hit@k <TAB> recall@k <TAB> genre@k <TAB> subgenre@k <TAB> artist@k <TAB> entries
function fold(s) { s = tolower(s); gsub(/[^a-z0-9]/, "", s); return s }
BEGIN { FS = OFS = "\t"; if (k == "") k = 10 }
FILENAME == ARGV[1] && FNR == 1 {
    for (i = 1; i <= NF; i++) {
        if ($i == "track_name") tc = i; if ($i == "track_artist") ac = i
        if ($i == "playlist_genre") gc = i; if ($i == "playlist_subgenre") sc = i
    }
    if (!tc || !ac || !gc || !sc) { print "simeval.awk: " FILENAME ": the catalogue lacks track_name/track_artist/playlist_genre/playlist_subgenre" > "/dev/stderr"; bad = 1; exit 2 }
    next
}
FILENAME == ARGV[1] {
    genre[$1] = $gc; subg[$1] = $sc; artist[$1] = fold($ac); ver[$1] = fold($tc) "\t" fold($ac); ids[++n] = $1
    nv[ver[$1]]++
    next
}
FILENAME == ARGV[2] && FNR == 1 { if ($1 != "playlist") { print "simeval.awk: " FILENAME ": expected members --heldout's header (playlist, key)" > "/dev/stderr"; bad = 1; exit 2 } next }
FILENAME == ARGV[2] {
    if (!($2 in genre)) next
    ne++; ep[ne] = $1; eq[ne] = $2; want[$2] = 1
    if (!(($1, ver[$2]) in has)) { has[$1, ver[$2]] = 1; nver[$1]++ }
    next
}
{   # a neighbour line: keep the first k of the queries we score
    if (!($1 in want) || ($2 + 0) > k || ($2 + 0) < 1) next
    nb[$1, $2 + 0] = $3; if ($2 + 0 > got[$1]) got[$1] = $2 + 0
}
END {
    if (bad) exit 2
    if (!ne) { print "simeval.awk: no held-out entry names a catalogue song" > "/dev/stderr"; exit 1 }
    srand(seed == "" ? 1 : seed)
    for (e = 1; e <= ne; e++) {
        q = eq[e]; p = ep[e]
        if (random) {
            split("", used); m = 0
            while (m < k && m < n - nv[ver[q]]) {
                j = int(rand() * n) + 1; s = ids[j]
                if (s == q || ver[s] == ver[q] || (j in used)) continue
                used[j] = 1; nb[q, ++m] = s
            }
            got[q] = m
        }
        if (!got[q]) { missing++; continue }
        g = sg = a = hits = 0; split("", seen)
        for (r = 1; r <= got[q]; r++) {
            s = nb[q, r]
            g += genre[s] == genre[q]; sg += subg[s] == subg[q]; a += artist[s] == artist[q]
            if (ver[s] != ver[q] && ((p, ver[s]) in has) && !(ver[s] in seen)) { seen[ver[s]] = 1; hits++ }
        }
        G += g / got[q]; S += sg / got[q]; A += a / got[q]; nq++
        others = nver[p] - 1
        if (others > 0) { H += hits > 0; R += hits / others; nr++ }
    }
    if (missing) printf "simeval.awk: %s: %d held-out entries have no neighbours in the list (skipped)\n", method, missing > "/dev/stderr"
    if (!nq || !nr) { print "simeval.awk: " method ": no entry could be scored" > "/dev/stderr"; exit 1 }
    printf "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%d\n", method, H / nr, R / nr, G / nq, S / nq, A / nq, nq
}
