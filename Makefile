# songpipe: song recommendation as Unix filters.  `make help` lists the targets.

# ---- user values are literal text, never code ------------------------------
# A variable given on the command line or in the environment is a recursively
# expanded make variable: any $(X) of it, or exporting it, would run a
# $(shell ...) it holds.  Each one is captured here as literal (simple) text
# before anything expands it; command-line ones stay exported and reach
# sub-makes through MAKEFLAGS as before.  Recipes read user values from the
# environment ("$$VAR"), never as $(VAR) pasted into their text; paths that
# make itself must parse are validated (sp_need_path) or replaced by stamps.
# (`make X:=...` and `make X!=...` are evaluated by make before this line.)
sp_keep := MAKEFLAGS MFLAGS GNUMAKEFLAGS MAKELEVEL MAKEOVERRIDES MAKECMDGOALS MAKEFILES MAKE_RESTARTS \
           MAKE_TERMOUT MAKE_TERMERR SHELL
$(foreach v,$(filter-out $(sp_keep),$(.VARIABLES)),$(if $(findstring $$,$(v)),,\
  $(if $(filter command override,$(origin $(v))),$(eval override $(v) := $$(value $(v)))$(eval export $(v))$(eval sp_cmdline += $(v)),\
  $(if $(filter environment,$(origin $(v))),$(eval $(v) := $$(value $(v)))))))

# ---- checks of user values: called where each is defined, before make uses it
sp_digits := 0 1 2 3 4 5 6 7 8 9
sp_pathchars := $(sp_digits) a b c d e f g h i j k l m n o p q r s t u v w x y z \
  A B C D E F G H I J K L M N O P Q R S T U V W X Y Z . _ / + - @
# TEXT without any of CHARS (call arguments are not expanded again)
sp_strip = $(if $(2),$(call sp_strip,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
# $(call sp_need_uint,VAR): VAR is a whole number
sp_need_uint = $(if $($(1)),$(if $(call sp_strip,$($(1)),$(sp_digits)),$(call sp_bad,$(1),not a whole number)),$(call sp_bad,$(1),empty))
# $(call sp_need_count,VAR[,small]): a whole number from 1 up, no leading 0
# (small: below 10000, for counts that name one target each)
sp_need_count = $(if $(call sp_is_count,$($(1))),$(if $(and $(2),$(word 5,$(call sp_split,$($(1))))),\
  $(call sp_bad,$(1),above 9999)),$(call sp_bad,$(1),not a whole number from 1 up))
# $(call sp_need_number,VAR): a decimal number: digits with at most one point
# between them (0.2, 5, 10.5)
sp_need_number = $(if $(and $($(1)),$(if $(call sp_strip,$(subst .,,$($(1))),$(sp_digits)),,ok),\
  $(filter-out .% %.,$($(1))),$(if $(word 3,$(subst ., ,x$($(1))x)),,ok),$(filter 1,$(words $($(1))))),,\
  $(call sp_bad,$(1),not a decimal number))
# $(call sp_need_enum,VAR,WORDS): VAR is one of WORDS
sp_need_enum = $(if $(and $(filter 1,$(words $($(1)))),$(filter $(2),$($(1))),$(if $(call sp_strip,$($(1)),$(2)),,ok)),,\
  $(call sp_bad,$(1),not one of: $(2)))
# $(call sp_need_path,VAR): a folder or file that make names in its rules:
# letters, digits and . _ / + - @ only, not starting with -
sp_need_path = $(if $(and $($(1)),$(if $(call sp_strip,$($(1)),$(sp_pathchars)),,ok),$(if $(filter -%,$($(1))),,ok)),,\
  $(call sp_bad,$(1),make names this in its rules$(sp_comma) so it may hold only letters$(sp_comma) digits and . _ / + - @$(sp_comma) \
  and not start with -; choose another name or use a symbolic link))
sp_comma := ,
sp_bad = $(error songpipe: $(1)='$($(1))': $(2))

# $(call sp_is_count,TEXT): non-empty when TEXT is a whole number from 1 up, no leading 0
sp_is_count = $(if $(1),$(if $(call sp_strip,$(1),$(sp_digits)),,$(if $(filter 0%,$(1)),,yes)))
# the digits of $(1) as words
sp_split = $(subst 9,9 ,$(subst 8,8 ,$(subst 7,7 ,$(subst 6,6 ,$(subst 5,5 ,$(subst 4,4 ,$(subst 3,3 ,$(subst 2,2 ,$(subst 1,1 ,$(subst 0,0 ,$(1)))))))))))
# $(call sp_seq,N): 0 1 ... N-1 for a count N below 10000 (else nothing), in make alone
sp_nz := 1 2 3 4 5 6 7 8 9
sp_n2 = $(foreach a,$(sp_nz),$(foreach b,$(sp_digits),$(a)$(b)))
sp_n3 = $(foreach a,$(sp_n2),$(foreach b,$(sp_digits),$(a)$(b)))
sp_n4 = $(foreach a,$(sp_n3),$(foreach b,$(sp_digits),$(a)$(b)))
sp_seq = $(if $(call sp_is_count,$(1)),$(wordlist 1,$(1),$(sp_digits) $(sp_n2) $(if $(word 3,$(sp_split)),$(sp_n3)) \
  $(if $(word 4,$(sp_split)),$(sp_n4))))

SHELL := bash
.SHELLFLAGS := -eo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
MAKEFLAGS += --no-builtin-rules

# ---- dependencies (Debian packages) --------------------------------------
PKGS     := libzstd libcjson openblas fftw3f sndfile samplerate libzip xgboost
DEB_PKGS := build-essential pkg-config libcsv-dev libcjson-dev libopenblas-dev libmicrohttpd-dev curl jq libzip-dev zip \
            libfftw3-dev libsndfile1-dev libzstd-dev libsamplerate0-dev gnuplot-nox slurm-wlm munge \
            libpng-dev libxgboost-dev
# the references `make bench` measures against (never needed by demo or test)
BENCH_DEB_PKGS := python3-numpy python3-scipy python3-pandas python3-sklearn python3-faiss \
            python3-torch python3-torchaudio python3-soundfile python3-xgboost
PY       ?= /usr/bin/python3

# ---- build flags ---------------------------------------------------------
CC      ?= cc
SAN     ?= 0
OUT     ?= build
$(call sp_need_enum,SAN,0 1)
$(call sp_need_path,OUT)
ifeq ($(SAN),1)
  MODE    := san
  OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  BIN     := $(OUT)/san/bin
else
  MODE    := rel
  # -fno-math-errno: no stage reads errno after a math call; without it a
  # sqrtf keeps its errno branch and the loop around it (Adam) stays scalar
  OPT     := -O3 -march=native -fno-math-errno -g
  BIN     := $(if $(filter build,$(OUT)),bin,$(OUT)/rel/bin)
endif
BUILD   := $(OUT)/$(MODE)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter $(OPT) $(PKG_CFLAGS) -Istages/lib -Icommon -Iformats
LDLIBS  := $(PKG_LIBS) -lcsv -lm -lpthread
SANFLAGS := -fsanitize=address,undefined
LDFLAGS += -Wl,--as-needed $(if $(filter san,$(MODE)),$(SANFLAGS))

# the library: stages/lib (the stage runtime: options, errors that end the
# process, progress, outputs) over common/ (what stages compute; errors are
# returned) over formats/ (the tensor stream)
LIB_SRC := $(wildcard stages/lib/*.c common/*.c formats/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libsongpipe.a
STAGES  := $(patsubst stages/%.c,%,$(wildcard stages/*.c))
BINS    := $(STAGES:%=$(BIN)/%)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNITS   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# programs the end-to-end tests drive (not unit tests: run.sh does not run them)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
HDRS    := $(wildcard stages/lib/*.h common/*.h formats/*.h tests/unit/*.h tests/tools/*.h)
# a stage is stages/NAME.c plus, when it has them, its parts in stages/NAME/
# (their .c files compiled in, their headers found with -Istages/NAME)
PARTED  := $(filter $(STAGES),$(patsubst stages/%/,%,$(wildcard stages/*/)))
$(foreach s,$(PARTED),$(eval $(BIN)/$(s): $(wildcard stages/$(s)/*.c stages/$(s)/*.h)))

.PHONY: all deps test bench demo help clean
all: $(BINS)

# The compiler command comes from the environment: CC, CFLAGS, LDFLAGS (and
# OPT) are user values, split into words by the shell (never globbed), not
# pasted into the recipe.  The command is printed as make would print it.
export SP_CC = $(CC)
export SP_CFLAGS = $(CFLAGS)
export SP_LDFLAGS = $(LDFLAGS) $(LDLIBS)
# $(call sp_cc,ARGS): CC CFLAGS ARGS (ARGS: file names of this project)
sp_cc = @set -f; $(if $(findstring s,$(firstword -$(MAKEFLAGS))),,echo $$SP_CC $$SP_CFLAGS $(1);) $$SP_CC $$SP_CFLAGS $(1)

$(BUILD)/%.o: %.c $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(call sp_cc,-c $< -o $@)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: stages/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(call sp_cc,$(if $(wildcard stages/$*/),-Istages/$*) $< $(wildcard stages/$*/*.c) -o $@ $(LIB) $$SP_LDFLAGS $(STAGE_LIBS))

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(call sp_cc,$< -o $@ $(LIB) $$SP_LDFLAGS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(call sp_cc,$< -o $@ $(LIB) $$SP_LDFLAGS $(TOOL_LIBS))

# the browser driver checks its screenshot's pixels with libpng
$(BUILD)/tools/browser: TOOL_LIBS := -lpng

# `make deps`: install what is missing (as root), or print the command.
.PHONY: deps-ok
deps-ok:
	@pkg-config --exists $(PKGS) && [ -f /usr/include/csv.h ] || \
	  { echo "songpipe: missing libraries; run 'make deps'" >&2; exit 1; }

deps:
	@set -f; missing=$$(for p in $(DEB_PKGS) $$EXTRA_DEB_PKGS; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: missing packages; run:"; echo "  sudo apt-get install -y $$missing"; exit 1; fi

# ---- tests -----------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory all units tools
	@BIN=$(abspath $(BIN)) UNITS=$(abspath $(BUILD)/tests) TOOLS=$(abspath $(BUILD)/tools) SAN="$$SAN" OUT="$$OUT" bash tests/run.sh

.PHONY: units tools
units: $(UNITS)
tools: $(TOOLS)

# ---- pipelines ---------------------------------------------------------------
# writes its stdin to $@ only when that differs from $@, so $@'s time changes
# only when its text does (an option stamp).  The text comes from the
# environment or a command (printf '%s\n' "$$VAR" | $(sp_stamp)), never from
# a value pasted into the recipe.
sp_stamp = { mkdir -p $(@D) && sp_t=$$(mktemp $@.XXXXXX) && cat > "$$sp_t" && \
  if cmp -s "$$sp_t" $@; then rm -f "$$sp_t"; else mv -f "$$sp_t" $@; fi; }
# $(call sp_path_stamp,VAR,what): the stamp of the file or folder named by the
# environment variable VAR (any name: spaces, quotes, $, newlines, leading -):
# the name, then size, time and name of every file in it.  It stands in for
# the path as a prerequisite, which make could not parse.  Empty VAR: none.
sp_path_stamp = p=$$$(1); case $$p in -*) p=./$$p ;; esac; \
  if [ -n "$$p" ] && [ ! -e "$$p" ]; then echo "$(2): $(1)=$$p: no such file or folder; set $(1) to an existing one" >&2; exit 1; fi; \
  { printf '%s\0' "$$p"; [ -z "$$p" ] || find -L "$$p" -type f -printf '%s %T@ %p\0' | LC_ALL=C sort -z; } | $(sp_stamp)

# user values are checked where they are defined, before make uses them
# (a bad value stops make with exit 2 before anything runs)
OUTDIR ?= out
export SAN OUT PY EXTRA_DEB_PKGS BENCH_DEB_PKGS
$(foreach v,OUTDIR BIN,$(call sp_need_path,$(v)))
# goals too: a pattern rule's recipe names its target ($@, $*)
$(foreach g,$(MAKECMDGOALS),$(if $(call sp_strip,$(g),$(sp_pathchars)),\
  $(error songpipe: '$(g)': not a target name (make help lists the targets))))

# input files and folders that users name, by stamp: $(IN)/VAR.path
IN := $(OUTDIR)/inputs
IN_VARS := SONGS_CSV ARTISTS_CSV TASTE_SONGS CATALOG HISTORY CANDIDATES CHART_SONGS BY_YEAR_CSV GTZAN_DIR MPD_DIR
.PHONY: FORCE
$(IN_VARS:%=$(IN)/%.path): $(IN)/%.path: FORCE
	@$(call sp_path_stamp,$*,songpipe)

# slurm.mk first: the shard helpers (shard_ids, shard_retry, slurm_shards)
# that other pipelines expand in their rules
include pipelines/slurm.mk
include $(filter-out pipelines/slurm.mk,$(wildcard pipelines/*.mk))
# (exported after the pipelines' defaults: `export X` would define an empty X)
export $(IN_VARS)

# the command line sets settings (the ?= variables and the user values the
# recipes read), not internal variables a recipe is made of
sp_settings := $(shell sed -n 's/^\([A-Z][A-Z0-9_]*\) *?=.*/\1/p' Makefile pipelines/*.mk) \
  SONG ARTIST PLAYLIST FILE ONLY CFLAGS LDFLAGS OPT EXTRA_DEB_PKGS SOUND_J
$(foreach v,$(filter-out $(sp_settings),$(sp_cmdline)),\
  $(error songpipe: $(v) is not a setting ('make help' and the pipelines/*.mk headers list them)))

# the help text (one shell prints it)
define sp_help
songpipe targets:
  make demo            install deps, build, recommend songs from the shipped data
  make test            unit and end-to-end tests (SAN=1: with ASan+UBSan; ONLY=regex)
  make bench           speed against faiss, scikit-learn, pandas, PyTorch, torchaudio (python3-* packages)
  make deps            install missing Debian packages (or print the command)
features (pipelines/features.mk, learned.mk):
  make recommend SONG='name' | ARTIST='name' | PLAYLIST='a;b;c'   [K=10] [METRIC=cosine]
  make recommend SONG=... STYLE=predictor|autoencoder|autoencoder-narrow|catae|catae-nogenre
  make learned         train every learned style;  make agreement: genre agreement@10 table
  make recommend ... FORMAT=text|tsv|json FIRST=1   (a song may be a spotify:track:ID or open.spotify.com link)
  make hybrid SONG=... [HYBRID_BLEND=W]   playlists (SONGS_CSV's playlist_id) + features, blended
  make recommend SONG=...|PLAYLIST=... STYLE=hybrid [HYBRID_MPD=1] [HYBRID_SOUND=library-dir]   the same answer from recommend
  make eval-hybrid     hit rate@10 on held-out playlists: features alone vs the blend
  make hybrid-neighbours   every song's 10 hybrid neighbours (TSV) for other scorers
  make recommend SONG=... STYLE=supervised   an embedding trained on playlists (pipelines/similarity.mk)
  make eval-similarity held-out playlists: hit/recall@10, genre@10 per method (pipelines/similarity.md)
sound (pipelines/sound.mk, cnn.mk):
  make library MUSIC=~/Music [-j N | CLUSTER=slurm]   your music folder as a sound library
                       (only new and changed files are decoded; pipelines/library.mk)
  make sounds-like FILE=song.mp3|folder/ | SONG='title' [CNN_K=5]   library songs that sound alike
                       (the MUSIC library once made, else the shipped one)
  make sound-albums    does a shipped track's nearest track come from its album?
  make add-song FILE=song.mp3    add a file to the sound library index (its name is its key)
  make sound-model     retrain the sound model when its inputs changed
  make spectro-library [AUDIO_DIR=dir]  log-mel spectrograms and 128x128 tiles of a folder
  make cnn-quality     GTZAN genre checks of the sound model (shared data)
playlists (pipelines/playlists.mk; MPD read from MPD_DIR, never shipped):
  make eval-playlists  RecSys 2018 metrics, model x seeds x metric
  make eval-songs-playlists  the same chain on the playlists of SONGS_CSV
  make continue PLAYLIST=pid | PLAYLIST='Title - Artist; ...'
  make bench-scale [BENCH_SCALE=1.0] [MPD_DIR=folder]   the chain at the whole MPD's size (an
                       invented MPD, mpd-synth): wall time and peak memory per stage (pipelines/scale.mk)
taste and charts (pipelines/taste.mk, charts.mk):
  make taste HISTORY=my_spotify_data.zip|dir/ [CATALOG=songs.csv] [CANDIDATES=file]  taste model from a Spotify data export
  make charts          correlation, years, genres, artists, training, latent space (PNG+SVG)
scale out (pipelines/slurm.mk, pipelines/SLURM.md):
  make knn-all [SHARDS=N] [CLUSTER=slurm]     all-pairs neighbours in N parts (make -j or Slurm)
  make spectro-library CLUSTER=slurm [SHARDS=N]
web (pipelines/serve.mk, serve.md):
  make serve [PORT=8080] [LISTEN=127.0.0.1]   JSON API and web page over the built artifacts
  make clean
Settings (VAR=value) are literal text, never code; file names may hold any character.
OUTDIR, CNN_DIR, CNN_MODEL, OUT: letters, digits and . _ / + - @ only.  README.md: Settings.
endef
export sp_help
help:
	@printf '%s\n' "$$sp_help"

clean:
	rm -rf bin build out

# ---- benchmarks: every tests/bench/*.sh, each printing ratios -------------
bench: all tools
	@EXTRA_DEB_PKGS="$$BENCH_DEB_PKGS" $(MAKE) --no-print-directory deps
	@echo "bench: OpenBLAS kernels: $${OPENBLAS_CORETYPE:-chosen by OpenBLAS} (OPENBLAS_CORETYPE; forcing Haswell on an AVX-512 CPU made train-mlp 1.37-1.65x slower here)"
	@for b in tests/bench/*.sh; do BIN=$(abspath $(BIN)) TOOLS=$(abspath $(BUILD)/tools) PY="$$PY" bash $$b || echo "bench: $$b failed"; done
