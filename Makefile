# songpipe: song recommendation as Unix filters.  `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
MAKEFLAGS += --no-builtin-rules

# ---- dependencies (Debian packages) --------------------------------------
PKGS     := libzstd libcjson openblas fftw3f sndfile samplerate
DEB_PKGS := build-essential pkg-config libcsv-dev libcjson-dev libopenblas-dev libmicrohttpd-dev curl jq \
            libfftw3-dev libsndfile1-dev libzstd-dev libsamplerate0-dev gnuplot-nox slurm-wlm munge \
            libpng-dev
# the references `make bench` measures against (never needed by demo or test)
BENCH_DEB_PKGS := python3-numpy python3-scipy python3-pandas python3-sklearn python3-faiss \
            python3-torch python3-torchaudio python3-soundfile
PY       ?= /usr/bin/python3

# ---- build flags ---------------------------------------------------------
CC      ?= cc
SAN     ?= 0
OUT     ?= build
ifeq ($(SAN),1)
  MODE    := san
  OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  BIN     := $(OUT)/san/bin
else
  MODE    := rel
  OPT     := -O3 -march=native -g
  BIN     := $(if $(filter build,$(OUT)),bin,$(OUT)/rel/bin)
endif
BUILD   := $(OUT)/$(MODE)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter $(OPT) $(PKG_CFLAGS) -Icommon -Iformats
LDLIBS  := $(PKG_LIBS) -lcsv -lm -lpthread
SANFLAGS := -fsanitize=address,undefined
LDFLAGS += -Wl,--as-needed $(if $(filter san,$(MODE)),$(SANFLAGS))

LIB_SRC := $(wildcard common/*.c formats/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libsongpipe.a
STAGES  := $(patsubst stages/%.c,%,$(wildcard stages/*.c))
BINS    := $(STAGES:%=$(BIN)/%)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNITS   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# programs the end-to-end tests drive (not unit tests: run.sh does not run them)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
HDRS    := $(wildcard common/*.h formats/*.h tests/unit/*.h tests/tools/*.h)

.PHONY: all deps test bench demo help clean
all: $(BINS)

$(BUILD)/%.o: %.c $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: stages/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDFLAGS) $(LDLIBS) $(TOOL_LIBS)

# the browser driver checks its screenshot's pixels with libpng
$(BUILD)/tools/browser: TOOL_LIBS := -lpng

# `make deps`: install what is missing (as root), or print the command.
.PHONY: deps-ok
deps-ok:
	@pkg-config --exists $(PKGS) && [ -f /usr/include/csv.h ] || \
	  { echo "songpipe: missing libraries; run 'make deps'" >&2; exit 1; }

deps:
	@missing=$$(for p in $(DEB_PKGS) $(EXTRA_DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: missing packages; run:"; echo "  sudo apt-get install -y $$missing"; exit 1; fi

# ---- tests -----------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory all units tools
	@BIN=$(abspath $(BIN)) UNITS=$(abspath $(BUILD)/tests) TOOLS=$(abspath $(BUILD)/tools) SAN=$(SAN) OUT=$(OUT) bash tests/run.sh

.PHONY: units tools
units: $(UNITS)
tools: $(TOOLS)

# ---- pipelines ---------------------------------------------------------------
include $(wildcard pipelines/*.mk)

help:
	@echo "songpipe targets:"
	@echo "  make demo            install deps, build, recommend songs from the shipped data"
	@echo "  make test            unit and end-to-end tests (SAN=1: with ASan+UBSan; ONLY=regex)"
	@echo "  make bench           speed against faiss, scikit-learn, pandas, PyTorch, torchaudio (python3-* packages)"
	@echo "  make deps            install missing Debian packages (or print the command)"
	@echo "features (pipelines/features.mk, learned.mk):"
	@echo "  make recommend SONG='name' | ARTIST='name' | PLAYLIST='a;b;c'   [K=10] [METRIC=cosine]"
	@echo "  make recommend SONG=... STYLE=predictor|autoencoder|autoencoder-narrow|catae|catae-nogenre"
	@echo "  make learned         train every learned style;  make agreement: genre agreement@10 table"
	@echo "sound (pipelines/sound.mk, cnn.mk):"
	@echo "  make sounds-like FILE=song.mp3 [CNN_K=5]   library songs that sound like a file"
	@echo "  make add-song FILE=song.mp3    add a file to the sound library index"
	@echo "  make sound-model     retrain the sound model when its inputs changed"
	@echo "  make spectro-library [AUDIO_DIR=dir]  log-mel spectrograms and 128x128 tiles of a folder"
	@echo "  make cnn-quality     GTZAN genre checks of the sound model (shared data)"
	@echo "playlists (pipelines/playlists.mk; MPD read from MPD_DIR, never shipped):"
	@echo "  make eval-playlists  RecSys 2018 metrics, model x seeds x metric"
	@echo "  make continue PLAYLIST=pid | PLAYLIST='Title - Artist; ...'"
	@echo "taste and charts (pipelines/taste.mk, charts.mk):"
	@echo "  make taste HISTORY=dir/ [CANDIDATES=file]  taste model from a Spotify data export"
	@echo "  make charts          correlation, years, genres, artists, training, latent space (PNG+SVG)"
	@echo "scale out (pipelines/slurm.mk, pipelines/SLURM.md):"
	@echo "  make knn-all [SHARDS=N] [CLUSTER=slurm]     all-pairs neighbours in N parts (make -j or Slurm)"
	@echo "  make spectro-library CLUSTER=slurm [SHARDS=N]"
	@echo "web (pipelines/serve.mk, serve.md):"
	@echo "  make serve [PORT=8080] [LISTEN=127.0.0.1]   JSON API and web page over the built artifacts"
	@echo "  make clean"

clean:
	rm -rf bin build out

# ---- benchmarks: every tests/bench/*.sh, each printing ratios -------------
bench: all
	@$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS='$(BENCH_DEB_PKGS)'
	@for b in tests/bench/*.sh; do BIN=$(abspath $(BIN)) PY=$(PY) bash $$b || echo "bench: $$b failed"; done
