# sound.mk - the audio front end: a folder of music files -> spectro (log-mel
# frames per track) -> slice (128x128 tiles, seed 003's tiles 6..25).  The
# CNN that consumes the tiles comes with the sound-similarity pipeline.
#   make spectro-library [AUDIO_DIR=dir] [SPECTRO_OPTS=...] [SLICE_OPTS=...]
#                        [CLUSTER=slurm [SHARDS=N] | SOUND_SHARDS=N -j J]
AUDIO_DIR    ?= ../shared/data/audio/librosa
AUDIO_EXT    ?= ogg mp3 flac wav opus
SPECTRO_OPTS ?= --fmax 8000 --key parent
SLICE_OPTS   ?= --tiles 6..25
OUTDIR       ?= out
SOUND_J      ?= $(shell nproc 2>/dev/null || echo 1)
# parts of a sharded spectro run: none (one process, -j threads) unless
# CLUSTER=slurm (then SHARDS, see slurm.mk) or SOUND_SHARDS=N is given
SOUND_SHARDS ?= $(if $(CLUSTER),$(or $(SHARDS),16),)

S := $(OUTDIR)/sound
SOUND_NAMES = -name '*.$(firstword $(AUDIO_EXT))' $(foreach e,$(wordlist 2,99,$(AUDIO_EXT)),-o -name '*.$(e)')
SOUND_FIND = find $(AUDIO_DIR) -type f \( $(SOUND_NAMES) \) | LC_ALL=C sort

define sound_stamp
	@mkdir -p $(@D); printf '%s\n' '$(1)' | cmp -s - $@ || printf '%s\n' '$(1)' > $@
endef
.PHONY: FORCE spectro-library
# the list of audio files (names may hold characters make cannot take as
# prerequisites); it changes, and mel.ts is rebuilt, when a file comes or goes
$(S)/files.list: FORCE
	@mkdir -p $(@D); $(SOUND_FIND) | cmp -s - $@ || $(SOUND_FIND) > $@
$(S)/spectro.cfg: FORCE ; $(call sound_stamp,$(SPECTRO_OPTS))
$(S)/slice.cfg: FORCE ; $(call sound_stamp,$(SLICE_OPTS))

# one row per frame, keyed by track; a file that does not decode stops the build
ifeq ($(SOUND_SHARDS),)
$(S)/mel.ts: $(S)/files.list $(S)/spectro.cfg $(BIN)/spectro
	$(BIN)/spectro -j $(SOUND_J) $(SPECTRO_OPTS) -o $@ < $<
else
# sharded (pipelines/slurm.mk, pipelines/SLURM.md): spectro --shard I/N takes
# the files whose track key hashes to I; merge rebuilds exactly the mel.ts of
# one process.  CLUSTER=slurm: a job array + a merge job; else make -j.
SOUND_DEPS  = $(S)/files.list $(S)/spectro.cfg $(BIN)/spectro
SOUND_PARTS = $(foreach i,$(shell seq 0 $$(($(SOUND_SHARDS) - 1))),$(S)/mel-parts/part-$(i)-of-$(SOUND_SHARDS).ts)
ifeq ($(CLUSTER),slurm)
$(S)/mel.ts: $(SOUND_DEPS) $(BIN)/merge
	$(call slurm_shards,$(SOUND_SHARDS),$(S)/mel-parts,$(SOUND_DEPS),sh -c \
	  '$(BIN)/spectro -q $(SPECTRO_OPTS) --shard {I}/{N} -o {OUT} < $(S)/files.list')
else
$(S)/mel-parts/part-%-of-$(SOUND_SHARDS).ts: $(SOUND_DEPS)
	@mkdir -p $(@D)
	@$(call shard_retry,$(BIN)/spectro -q $(SPECTRO_OPTS) --shard $*/$(SOUND_SHARDS) -o $@ < $<)

$(S)/mel.ts: $(SOUND_PARTS) $(BIN)/merge
	$(BIN)/merge -o $@ $(SOUND_PARTS)
endif
endif

$(S)/tiles.ts: $(S)/mel.ts $(S)/slice.cfg $(BIN)/slice
	$(BIN)/slice $(SLICE_OPTS) -o $@ $<

spectro-library: $(S)/tiles.ts
