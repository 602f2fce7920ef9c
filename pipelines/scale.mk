# scale.mk - the playlist chain at the size of the whole Million Playlist
# Dataset on one machine (issue 16): an invented MPD-shaped collection
# (mpd-synth, 1,000,000 playlists at BENCH_SCALE=1), or the real one in
# MPD_DIR, through ingest, split, every candidate model, the re-ranker and
# rec-eval on 10,000 test queries; wall time and peak RSS per stage, and
# which stage to shard when one would not fit BENCH_MEM_GB.
#   make bench-scale [BENCH_SCALE=1.0] [BENCH_SCALE_MODELS='cooc itemknn rp3beta ease neural']
#     [BENCH_SCALE_TRAIN_OPTS='--epochs 1 --samples 1'] [BENCH_SCALE_VAL_TEST=400] [BENCH_MEM_GB=24]
#     [BENCH_SCALE_RERANK_OPTS='--trees 100']
#   make bench-scale MPD_DIR=folder     (the real MPD: its slices instead of mpd-synth's)
# Outputs under $(OUTDIR)/scale-BENCH_SCALE/ (the JSON slices alone are ~5.4 GB
# zstd at scale 1; they are kept for the next run).  pipelines/scale.md has
# measured numbers.
BENCH_SCALE            ?= 1.0
BENCH_SCALE_SEED       ?= 1
# the candidate models (als: mpd-train --model als, then mpd-recommend
# --model als --weights; see bench_model_als in pipelines/bench-scale.sh)
BENCH_SCALE_MODELS     ?= cooc itemknn rp3beta ease als neural
# the neural model: one pass of one example per playlist by default (the
# default training runs up to 20 epochs of 4: multiply its time to compare)
BENCH_SCALE_TRAIN_OPTS ?= --epochs 1 --samples 1
# held-out playlists of the validation split the re-ranker learns on
# (x about 5 queries each)
BENCH_SCALE_VAL_TEST   ?= 400
# the re-ranker's options (mpd-rerank --help: --trees, --threads ...)
BENCH_SCALE_RERANK_OPTS ?=
BENCH_MEM_GB           ?= 24
$(call sp_need_number,BENCH_SCALE)
$(foreach v,BENCH_SCALE_SEED BENCH_SCALE_VAL_TEST BENCH_MEM_GB,$(call sp_need_uint,$(v)))
$(foreach m,$(BENCH_SCALE_MODELS),$(if $(filter $(m),cooc itemknn rp3beta ease neural als),,$(call sp_bad,BENCH_SCALE_MODELS,'$(m)' is not one of: cooc itemknn rp3beta ease neural als)))
export BENCH_SCALE BENCH_SCALE_SEED BENCH_SCALE_MODELS BENCH_SCALE_TRAIN_OPTS BENCH_SCALE_RERANK_OPTS BENCH_SCALE_VAL_TEST BENCH_MEM_GB
# MPD_DIR given on the command line: the real slices are measured instead
export SP_SCALE_REAL := $(if $(filter override command,$(origin MPD_DIR)),1)

.PHONY: bench-scale
bench-scale: all
	@SP_SCALE_OUT=$(OUTDIR)/scale-$(BENCH_SCALE) BIN=$(BIN) bash pipelines/bench-scale.sh
