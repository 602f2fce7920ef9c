# agreement.awk - genre agreement@K of a neighbour list: for each query
# track, the share of its neighbours (knn --self --tsv: query rank neighbour
# score title artist; knn already drops the query and its duplicate ids)
# that share its playlist_genre, and separately its playlist_subgenre.
# Genres come from the catalogue (csv-clean --catalog: the first playlist
# row kept per track).  With random=1 the neighbour file is not read: each
# track gets K distinct random other tracks (srand(seed)), the floor.
# Usage: awk -v style=NAME -v k=10 [-v random=1 -v seed=1] -f agreement.awk CATALOG.tsv [NEIGHBOURS.tsv]
# Prints: style <TAB> genre@k <TAB> subgenre@k <TAB> queries
BEGIN { FS = OFS = "\t"; if (k == "") k = 10 }
FNR == 1 && NR == 1 {                      # catalogue header: find the columns
    for (i = 1; i <= NF; i++) { if ($i == "playlist_genre") gc = i; if ($i == "playlist_subgenre") sc = i }
    if (!gc || !sc) { print "agreement.awk: catalogue lacks playlist_genre/playlist_subgenre" > "/dev/stderr"; bad = 1; exit 2 }
    next
}
NR == FNR { genre[$1] = $gc; sub_[$1] = $sc; ids[++n] = $1; next }
{   # one neighbour line
    q = $1; nb = $3
    if (!(q in genre) || !(nb in genre) || ($2 + 0) > k) next
    cnt[q]++; g[q] += genre[nb] == genre[q]; s[q] += sub_[nb] == sub_[q]
}
END {
    if (bad) exit 2
    if (random) {
        srand(seed == "" ? 1 : seed)
        for (i = 1; i <= n; i++) {
            q = ids[i]; split("", used); m = 0
            while (m < k && m < n - 1) {
                j = int(rand() * n) + 1
                if (j == i || (j in used)) continue
                used[j] = 1; m++
                cnt[q]++; g[q] += genre[ids[j]] == genre[q]; s[q] += sub_[ids[j]] == sub_[q]
            }
        }
    }
    for (q in cnt) { queries++; G += g[q] / cnt[q]; S += s[q] / cnt[q] }
    if (!queries) { print "agreement.awk: no neighbour lines matched the catalogue" > "/dev/stderr"; exit 1 }
    printf "%s\t%.4f\t%.4f\t%d\n", style, G / queries, S / queries, queries
}
