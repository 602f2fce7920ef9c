# library.mk - your music folder as a sound library (pipelines/library.sh):
# one CNN vector per audio file of a folder tree, keyed by its path relative
# to the folder, with each file's title and artist tags in LIBRARY_DIR/
# tags.tsv (hybrid's HYBRID_SOUND ties the vectors to catalogue songs by
# them).  A run decodes only the files that are new or changed since
# the last one (same path, size and modification time = unchanged), drops
# the files that are gone, and lists the files that do not decode (they are
# remembered, and tried again only when they change).
#   make library MUSIC=~/Music [-j N | CLUSTER=slurm] [LIBRARY_DIR=out/library]
#   make sounds-like FILE=song.ogg|folder/   the nearest songs of the library
#   make sounds-like SONG='title'            the songs nearest to one of it
# Without MUSIC, `make library` updates the folder the library was made from.
# The vectors are those of CNN_MODEL (cnn.mk): another model makes them all
# again.  Parallel: the new files are dealt into at most LIBRARY_PARTS parts
# (one part per file at most), decoded as make -j jobs
# or, with CLUSTER=slurm, as a Slurm job array (pipelines/slurm.mk).
MUSIC                ?=
LIBRARY_DIR          ?= $(OUTDIR)/library
LIBRARY_EXT          ?= mp3 ogg oga opus flac wav aif aiff m4a
LIBRARY_SPECTRO_OPTS ?= $(CNN_SPECTRO_OPTS)
LIBRARY_SLICE_OPTS   ?= --short pad
LIBRARY_PARTS        ?= 4
# seconds between progress lines of a part (when stderr is not a terminal)
LIBRARY_PROGRESS     ?= 10
$(call sp_need_number,LIBRARY_PROGRESS)
# threads of one part's spectro (parts run side by side with -j)
LIBRARY_J            ?= 1
$(call sp_need_path,LIBRARY_DIR)
$(call sp_need_count,LIBRARY_PARTS,small)
$(call sp_need_count,LIBRARY_J)

LB := $(LIBRARY_DIR)
# user values reach library.sh through the environment only
export SOUNDS_DIR MUSIC LIBRARY_PROGRESS LIBRARY_EXT LIBRARY_SPECTRO_OPTS LIBRARY_SLICE_OPTS LIBRARY_J SONG
library_env = LIB=$(LB) BIN=$(BIN) CNN_MODEL=$(CNN_MODEL) LIBRARY_PARTS_MAX=$(LIBRARY_PARTS)

.PHONY: library library-parts library-commit
LIBRARY_BINS = $(BIN)/spectro $(BIN)/slice $(BIN)/embed $(BIN)/pool $(BIN)/append $(BIN)/to-csv $(BIN)/knn
# one library changes under one make at a time (flock on LIBRARY_DIR/lock)
library: $(LIBRARY_BINS) $(CNN_MODEL)
	@mkdir -p $(LB); exec flock $(LB)/lock $(MAKE) --no-print-directory library-locked
library-locked:
	@$(library_env) pipelines/library.sh plan
	@n=$$(cat $(LB)/work/parts); [ "$$n" = 0 ] || $(MAKE) --no-print-directory library-parts LIBRARY_NPARTS=$$n
	@$(library_env) pipelines/library.sh commit

# the parts of this run (LIBRARY_NPARTS: set by library-locked from the plan)
LIBRARY_NPARTS ?=
ifneq ($(LIBRARY_NPARTS),)
$(call sp_need_count,LIBRARY_NPARTS,small)
LIBRARY_PART_FILES = $(foreach i,$(call sp_seq,$(LIBRARY_NPARTS)),$(LB)/work/part-$(i).ts)
ifeq ($(CLUSTER),slurm)
# a Slurm job array (one task per part; append joins them as merge would)
library-parts:
	@$(library_env) pipelines/slurm-shards.sh -n "$$LIBRARY_NPARTS" -d $(LB)/work/slurm -o $(LB)/work/part-0.ts -m $(BIN)/append \
	  -r "$$SHARD_RETRIES" -- env $(library_env) pipelines/library.sh part {I} {OUT}
	@echo 1 > $(LB)/work/parts
else
library-parts: $(LIBRARY_PART_FILES)
$(LB)/work/part-%.ts:
	@$(library_env) pipelines/library.sh part $*
endif
endif

# sounds-like (cnn.mk) searches this library when MUSIC or SONG is given or
# the library exists; otherwise the default index of SOUNDS_DIR (add-song)
sounds_like_library = $(or $(MUSIC),$(SONG),$(wildcard $(LB)/index.ts))
.PHONY: library-sounds-like
library-sounds-like: $(if $(MUSIC),library) $(LIBRARY_BINS)
	@[ -n "$$FILE$$SONG" ] || { echo "usage: make sounds-like FILE=song.mp3|folder/ | SONG='title' [MUSIC=folder]" >&2; exit 2; }
	@mkdir -p $(LB); $(library_env) CNN_K="$$CNN_K" flock $(LB)/lock pipelines/library.sh query
ifneq ($(sounds_like_library),)
sounds-like: library-sounds-like
else
sounds-like:
	$(cnn_need_file)
	$(cnn_locked) cnn-sounds-like
endif

# ---- the shipped library: does a track find its own album? ----------------
#   make sound-albums   (data/sounds/albums.tsv names each clip's album)
# The library of SOUNDS_DIR (in OUTDIR/default-library) by CNN_MODEL, and an
# untrained baseline (each track's mean log-mel spectrum) on the same files.
DEFAULT_LIB := $(OUTDIR)/default-library
.PHONY: sound-albums
sound-albums: $(LIBRARY_BINS) $(CNN_MODEL)
	@$(MAKE) --no-print-directory library LIBRARY_DIR=$(DEFAULT_LIB) MUSIC="$$SOUNDS_DIR"
	@set -f; d=$$SOUNDS_DIR; case $$d in -*) d=./$$d ;; esac; bin=$$(realpath $(BIN)); out=$$(realpath $(DEFAULT_LIB)); \
	 ( cd -- "$$d" && find . -type f \( -name '*.ogg' -o -name '*.flac' -o -name '*.mp3' -o -name '*.wav' -o -name '*.opus' \) -printf '%P\0' | \
	   LC_ALL=C sort -z | "$$bin/spectro" -q -0 --key path $$LIBRARY_SPECTRO_OPTS | "$$bin/pool" -o "$$out/baseline.ts" 2>/dev/null )
	@BIN=$(BIN) pipelines/sound-albums.sh $(DEFAULT_LIB)/index.ts $(DEFAULT_LIB)/baseline.ts "$$SOUNDS_DIR/albums.tsv"
