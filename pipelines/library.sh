#!/usr/bin/env bash
# library.sh - the steps of `make library` (pipelines/library.mk): keep a
# sound library (one CNN vector per audio file of a folder tree, keyed by the
# file's path relative to the folder) in step with the folder, decoding only
# the files that are new or changed since the last run (path, size and
# modification time), dropping the rows of files that are gone.
#
#   library.sh plan            scan MUSIC, write the work lists, print the plan
#   library.sh part I [OUT]    decode and embed the files of work/todo-I
#   library.sh commit          new index = old index - gone/changed + parts
#   library.sh query           sounds-like: FILE (a file or a folder) or SONG
#
# Environment (from the Makefile, never pasted into code): MUSIC, LIB (the
# library folder), BIN, CNN_MODEL, LIBRARY_EXT, LIBRARY_SPECTRO_OPTS,
# LIBRARY_SLICE_OPTS, LIBRARY_PARTS_MAX, LIBRARY_J, FILE, SONG, CNN_K.
# State in LIB: music.path (the folder, absolute), manifest (NUL-terminated
# records "SIZE MTIME ok|bad RELPATH"), index.ts, catalog.tsv, tags.tsv
# (key, title, artist: each song's title and artist tags, spectro --tags;
# hybrid ties the vectors to catalogue songs by them), model.id, skipped.txt; work/ holds the last run's lists and parts (kept: the run's
# record; the next run starts by emptying it).
set -eo pipefail
set -f
die() { echo "library: $*" >&2; exit 1; }
# rows of a stream's first tensor (keys may hold line ends: not to-csv | wc -l)
nrows() { "$BIN/inspect" "$1" | awk '$1 == "rows" && !n { print $2; n = 1 }'; }
: "${LIB:?}" "${BIN:?}" "${CNN_MODEL:?}"
W=$LIB/work

# the folder: MUSIC, or the one the library was made from
music_dir() {
  local m=$MUSIC
  if [ -z "$m" ]; then
    [ -f "$LIB/music.path" ] || die "no MUSIC folder given and $LIB has no library yet; run: make library MUSIC=path/to/music"
    m=$(cat -- "$LIB/music.path"; echo x); m=${m%x}; m=${m%$'\n'}
  fi
  case $m in -*) m=./$m ;; esac
  [ -d "$m" ] || die "MUSIC=$m: no such folder; set MUSIC to the folder of your music files"
  realpath -- "$m"
}

# what the vectors depend on besides the audio: the model and the options
# (and "tags 1": a library made before tags.tsv existed is read again once)
model_id() {
  { sha256sum < "$CNN_MODEL" | cut -c1-64; printf 'spectro %s\nslice %s\ntags 1\n' "$LIBRARY_SPECTRO_OPTS" "$LIBRARY_SLICE_OPTS"; }
}

plan() {
  local dir; dir=$(music_dir)
  mkdir -p "$LIB"
  rm -rf -- "$W"; mkdir -p "$W"
  # another folder or another model: every vector is made again
  local old_dir=
  [ -f "$LIB/music.path" ] && { old_dir=$(cat -- "$LIB/music.path"; echo x); old_dir=${old_dir%x}; old_dir=${old_dir%$'\n'}; }
  model_id > "$W/model.id"
  if [ "$old_dir" != "$dir" ] || ! cmp -s "$W/model.id" "$LIB/model.id" 2>/dev/null; then
    [ -f "$LIB/manifest" ] && echo "library: $([ "$old_dir" != "$dir" ] && echo "another folder ($dir, was $old_dir)" || echo "another model or options"): every file is decoded again" >&2
    rm -f -- "$LIB/manifest" "$LIB/index.ts" "$LIB/tags.tsv"
  fi
  printf '%s\n' "$dir" > "$W/music.path"
  # the audio files, by extension (any case), as "SIZE MTIME RELPATH"
  local names=() e
  for e in $LIBRARY_EXT; do names+=(${names[0]+-o} -iname "*.$e"); done
  ( cd -- "$dir" && find -L . -type f \( "${names[@]}" \) -printf '%s %T@ %P\0' ) > "$W/scan" ||
    die "MUSIC=$dir: cannot read every folder in it (find failed; see above)"
  declare -A old
  local rec size rest mtime st rel
  if [ -f "$LIB/manifest" ]; then
    while IFS= read -r -d '' rec; do
      size=${rec%% *}; rest=${rec#* }; mtime=${rest%% *}; rest=${rest#* }; st=${rest%% *}; rel=${rest#* }
      old[$rel]="$size $mtime $st"
    done < "$LIB/manifest"
  fi
  local nscan=0 nnew=0 nchanged=0 nkept=0 ngone=0 nbad=0
  : > "$W/todo"; : > "$W/drop"; : > "$W/kept"
  declare -A seen
  while IFS= read -r -d '' rec; do
    size=${rec%% *}; rest=${rec#* }; mtime=${rest%% *}; rel=${rest#* }
    nscan=$((nscan + 1)); seen[$rel]=1
    local was=${old[$rel]-}
    if [ -n "$was" ] && [ "${was% *}" = "$size $mtime" ]; then
      printf '%s %s %s\0' "$size" "$mtime" "${was##* } $rel" >> "$W/kept"
      nkept=$((nkept + 1)); [ "${was##* }" = bad ] && nbad=$((nbad + 1))
    else
      printf '%s %s %s\0' "$size" "$mtime" "$rel" >> "$W/todo"
      if [ -n "$was" ]; then nchanged=$((nchanged + 1)); printf '%s\0' "$rel" >> "$W/drop"; else nnew=$((nnew + 1)); fi
    fi
  done < <(LC_ALL=C sort -z -t ' ' -k3 "$W/scan")
  for rel in "${!old[@]}"; do
    [ -n "${seen[$rel]-}" ] && continue
    ngone=$((ngone + 1)); printf '%s\0' "$rel" >> "$W/drop"
  done
  # the new and changed files in at most LIBRARY_PARTS_MAX lists, dealt in turn
  local ntodo=$((nnew + nchanged)) parts=$LIBRARY_PARTS_MAX
  [ "$parts" -gt "$ntodo" ] && parts=$ntodo
  local i=0
  for ((i = 0; i < parts; i++)); do : > "$W/todo-$i"; done
  i=0
  while IFS= read -r -d '' rec; do
    rest=${rec#* }; rel=${rest#* }
    printf '%s\0' "$rel" >> "$W/todo-$((i % parts))"; i=$((i + 1))
  done < "$W/todo"
  echo "$parts" > "$W/parts"
  echo "library: $dir: $nscan audio files: $nnew new, $nchanged changed, $ngone gone, $nkept unchanged$([ "$nbad" -gt 0 ] && echo " ($nbad of them undecodable)"); decoding $ntodo in $parts part(s)" >&2
  printf 'scanned %d\nnew %d\nchanged %d\ngone %d\nunchanged %d\nto_decode %d\nparts %d\n' \
    "$nscan" "$nnew" "$nchanged" "$ngone" "$nkept" "$ntodo" "$parts" > "$W/plan.txt"
}

# one part: decode (spectro), tile (slice), embed, one vector per file (pool)
part() {
  local i=$1 out=${2:-$LIB/work/part-$1.ts} dir
  dir=$(cat -- "$W/music.path"; echo x); dir=${dir%x}; dir=${dir%$'\n'}
  [ -f "$W/todo-$i" ] || die "$W/todo-$i: no such list; run make library"
  local bin lib model
  bin=$(realpath -- "$BIN"); lib=$(realpath -- "$LIB"); model=$(realpath -- "$CNN_MODEL")
  out=$(realpath -m -- "$out")
  ( cd -- "$dir" && "$bin/spectro" -0 --key path -j "$LIBRARY_J" --progress "${LIBRARY_PROGRESS:-10}" --skipped "$lib/work/skipped-$i" \
      --tags "$lib/work/tags-$i.tsv" $LIBRARY_SPECTRO_OPTS < "$lib/work/todo-$i" |
      "$bin/slice" $LIBRARY_SLICE_OPTS | "$bin/embed" -m "$model" --track-keys | "$bin/pool" -o "$out" ) 2> >(grep -v '^pool: ' >&2)
}

commit() {
  local parts dir; parts=$(cat -- "$W/parts")
  dir=$(cat -- "$W/music.path"; echo x); dir=${dir%x}; dir=${dir%$'\n'}
  local files=() i
  for ((i = 0; i < parts; i++)); do
    [ -f "$W/part-$i.ts" ] || die "$W/part-$i.ts is missing: part $i did not finish; run make library again"
    files+=("$W/part-$i.ts")
  done
  # the files that did not decode
  declare -A bad
  local rel n_bad_new=0 n_dec=0
  for ((i = 0; i < parts; i++)); do
    [ -f "$W/skipped-$i" ] || continue
    while IFS= read -r -d '' rel; do bad[$rel]=1; n_bad_new=$((n_bad_new + 1)); done < "$W/skipped-$i"
  done
  for f in "${files[@]}"; do n_dec=$((n_dec + $(nrows "$f"))); done
  # the index: the old one without the gone and changed files, plus the parts
  if [ -f "$LIB/index.ts" ]; then
    "$BIN/append" --replace --drop "$W/drop" -o "$W/index.ts" "$LIB/index.ts" "${files[@]}"
  elif [ "$parts" -gt 0 ]; then
    "$BIN/append" -o "$W/index.ts" "${files[@]}"
  fi
  # the manifest: unchanged files as they were, new ones ok or bad
  local rec size rest mtime
  { cat -- "$W/kept"
    while IFS= read -r -d '' rec; do
      size=${rec%% *}; rest=${rec#* }; mtime=${rest%% *}; rel=${rest#* }
      printf '%s %s %s %s\0' "$size" "$mtime" "$([ -n "${bad[$rel]-}" ] && echo bad || echo ok)" "$rel"
    done < "$W/todo"; } > "$W/manifest"
  # the catalogue knn searches by title: title = file name without extension,
  # album = its folder; a name with a TAB or line end cannot be a TSV cell,
  # so such a file is found by sound but not by SONG=
  local st title album
  { printf 'key\ttitle\talbum\n'
    while IFS= read -r -d '' rec; do
      rest=${rec#* }; rest=${rest#* }; st=${rest%% *}; rel=${rest#* }
      [ "$st" = ok ] || continue
      case $rel in *$'\t'* | *$'\n'* | *$'\r'*) continue ;; esac
      title=${rel##*/}; case $title in ?*.*) title=${title%.*} ;; esac
      album=.; case $rel in */*) album=${rel%/*}; album=${album##*/} ;; esac
      printf '%s\t%s\t%s\n' "$rel" "$title" "$album"
    done < "$W/manifest"; } > "$W/catalog.tsv"
  # the tags (spectro --tags) of the songs in the index: the old library's,
  # then this run's parts' (a changed file's new tags win); a path with a TAB
  # or a line end has none (it cannot be a TSV cell)
  declare -A tag
  local line nparts ntag=0 nsongs=0
  load_tags() { while IFS= read -r line; do tag[${line%%$'\t'*}]=${line#*$'\t'}; done < <(tail -n +2 -- "$1"); }
  [ -f "$LIB/tags.tsv" ] && load_tags "$LIB/tags.tsv"
  nparts=$(awk '$1 == "parts" { print $2 }' "$W/plan.txt")
  for ((i = 0; i < nparts; i++)); do
    [ -f "$W/tags-$i.tsv" ] || die "$W/tags-$i.tsv is missing: part $i did not finish; run make library again"
    load_tags "$W/tags-$i.tsv"
  done
  { printf 'key\ttitle\tartist\n'
    while IFS= read -r -d '' rec; do
      rest=${rec#* }; rest=${rest#* }; st=${rest%% *}; rel=${rest#* }
      [ "$st" = ok ] || continue
      nsongs=$((nsongs + 1))
      [ -n "${tag[$rel]+x}" ] || continue
      printf '%s\t%s\n' "$rel" "${tag[$rel]}"
      case ${tag[$rel]} in ?*$'\t'?*) ntag=$((ntag + 1)) ;; esac
    done < "$W/manifest"; } > "$W/tags.tsv"
  # the undecodable files, old and new, for people (one per line, quoted as
  # the shell would when a name holds a line end)
  { while IFS= read -r -d '' rec; do
      rest=${rec#* }; rest=${rest#* }; st=${rest%% *}; rel=${rest#* }
      [ "$st" = bad ] || continue
      case $rel in *$'\n'* | *$'\r'*) printf '%q\n' "$rel" ;; *) printf '%s\n' "$rel" ;; esac
    done < "$W/manifest"; } > "$W/skipped.txt"
  # in place: the index first (a crash before the manifest only means that
  # the next run decodes these files again, and --replace takes their rows)
  if [ -f "$W/index.ts" ]; then mv -f -- "$W/index.ts" "$LIB/index.ts"; else rm -f -- "$LIB/index.ts"; fi
  mv -f -- "$W/catalog.tsv" "$LIB/catalog.tsv"
  mv -f -- "$W/tags.tsv" "$LIB/tags.tsv"
  cp -- "$W/skipped.txt" "$LIB/skipped.txt"
  cp -- "$W/model.id" "$LIB/model.id"
  cp -- "$W/music.path" "$LIB/music.path"
  mv -f -- "$W/manifest" "$LIB/manifest"
  local rows=0
  [ -f "$LIB/index.ts" ] && rows=$(nrows "$LIB/index.ts")
  printf 'decoded %d\nundecodable_new %d\nsongs %d\n' "$n_dec" "$n_bad_new" "$rows" >> "$W/plan.txt"
  echo "library: $LIB/index.ts: $rows songs from $dir ($n_dec decoded in this run)" >&2
  echo "library: $LIB/tags.tsv: $ntag of $nsongs songs carry both title and artist tags (make recommend STYLE=hybrid HYBRID_SOUND=$LIB ties them to catalogue songs)" >&2
  local nb; nb=$(grep -c '' "$LIB/skipped.txt" || true)
  if [ "$nb" -gt 0 ]; then
    echo "library: $nb file(s) could not be decoded and are not in the library (list: $LIB/skipped.txt):" >&2
    head -n 20 -- "$LIB/skipped.txt" | sed 's/^/  /' >&2
    [ "$nb" -le 20 ] || echo "  ... and $((nb - 20)) more" >&2
  fi
}

# sounds-like on the library: FILE (a file, or a folder of them) or SONG
query() {
  [ -f "$LIB/index.ts" ] || die "$LIB has no songs yet; run: make library MUSIC=path/to/music"
  local dir; dir=$(cat -- "$LIB/music.path"; echo x); dir=${dir%x}; dir=${dir%$'\n'}
  echo "library: $dir ($(nrows "$LIB/index.ts") songs); paths below are relative to it" >&2
  if [ -n "$SONG" ]; then
    "$BIN/knn" --index "$LIB/index.ts" --catalog "$LIB/catalog.tsv" --artist-col album --song "$SONG" -k "$CNN_K" --text
    return
  fi
  local f=$FILE; case $f in -*) f=./$f ;; esac
  [ -e "$f" ] || die "FILE=$f: no such file or folder"
  local tmp; tmp=$(mktemp -d "$LIB/query.XXXXXX"); trap 'rm -rf -- "$tmp"' EXIT
  # a file of the library is keyed as in the library (so it is not its own
  # neighbour); any other by its absolute path
  local names=() e abs
  for e in $LIBRARY_EXT; do names+=(${names[0]+-o} -iname "*.$e"); done
  find -L "$f" -type f \( "${names[@]}" \) -print0 | LC_ALL=C sort -z |
    while IFS= read -r -d '' abs; do
      abs=$(realpath -- "$abs")
      case $abs in "$dir"/*) printf '%s\0' "${abs#"$dir"/}" ;; *) printf '%s\0' "$abs" ;; esac
    done > "$tmp/list"
  [ -s "$tmp/list" ] || die "FILE=$f: no audio file ($LIBRARY_EXT) in it"
  local bin model
  bin=$(realpath -- "$BIN"); model=$(realpath -- "$CNN_MODEL")
  ( cd -- "$dir" && "$bin/spectro" -q -0 --key path -j "$LIBRARY_J" $LIBRARY_SPECTRO_OPTS < "$tmp/list" |
      "$bin/slice" $LIBRARY_SLICE_OPTS | "$bin/embed" -m "$model" --track-keys | "$bin/pool" -o "$tmp/q.ts" ) 2> >(grep -v '^pool: ' >&2)
  "$BIN/knn" --index "$LIB/index.ts" --catalog "$LIB/catalog.tsv" --artist-col album --batch "$tmp/q.ts" -k "$CNN_K" --text
}

case ${1:-} in
  plan) plan ;;
  part) part "$2" "${3:-}" ;;
  commit) commit ;;
  query) query ;;
  *) echo "usage: library.sh plan | part I | commit | query" >&2; exit 2 ;;
esac
