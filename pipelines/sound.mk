# sound.mk - the audio front end: a folder of music files -> spectro (log-mel
# frames per track) -> slice (128x128 tiles, the GTZAN CNN notebook's tiles 6..25).  The
# CNN that consumes the tiles comes with the sound-similarity pipeline.
#   make spectro-library [AUDIO_DIR=dir] [SPECTRO_OPTS=...] [SLICE_OPTS=...]
#                        [CLUSTER=slurm [SHARDS=N] | SOUND_SHARDS=N -j J]
AUDIO_DIR    ?= ../shared/data/audio/librosa
AUDIO_EXT    ?= ogg mp3 flac wav opus
SPECTRO_OPTS ?= --fmax 8000 --key parent
SLICE_OPTS   ?= --tiles 6..25
OUTDIR       ?= out
ifeq ($(origin SOUND_J),undefined)
SOUND_J      := $(shell nproc 2>/dev/null || echo 1)
endif
# parts of a sharded spectro run: none (one process, -j threads) unless
# CLUSTER=slurm (then SHARDS, see slurm.mk) or SOUND_SHARDS=N is given
SOUND_SHARDS ?= $(if $(CLUSTER),$(or $(SHARDS),16),)

$(if $(SOUND_SHARDS),$(call sp_need_count,SOUND_SHARDS,small))
$(call sp_need_count,SOUND_J)

S := $(OUTDIR)/sound
# user values reach recipes through the environment only (Makefile, top);
# the *_OPTS and AUDIO_EXT are lists of words: split, never globbed (set -f)
export AUDIO_DIR AUDIO_EXT SPECTRO_OPTS SLICE_OPTS SOUND_J SOUND_SHARDS
# the audio files of AUDIO_DIR, NUL-separated (names may hold line ends), sorted
SOUND_FIND = set -f; d=$$AUDIO_DIR; case $$d in -*) d=./$$d ;; esac; names=(); \
  for e in $$AUDIO_EXT; do names+=($${names[0]+-o} -name "*.$$e"); done; \
  find "$$d" -type f \( "$${names[@]}" \) -print0 | LC_ALL=C sort -z

.PHONY: FORCE spectro-library
# the list of audio files (names may hold characters make cannot take as
# prerequisites); it changes, and mel.ts is rebuilt, when a file comes or goes
$(S)/files.list: FORCE
	@$(SOUND_FIND) | $(sp_stamp)
$(S)/spectro.cfg: FORCE ; @printf '%s\n' "$$SPECTRO_OPTS" | $(sp_stamp)
$(S)/slice.cfg: FORCE ; @printf '%s\n' "$$SLICE_OPTS" | $(sp_stamp)

# one row per frame, keyed by track; a file that does not decode stops the build
ifeq ($(SOUND_SHARDS),)
$(S)/mel.ts: $(S)/files.list $(S)/spectro.cfg $(BIN)/spectro
	set -f; $(BIN)/spectro -j "$$SOUND_J" --null $$SPECTRO_OPTS -o $@ < $<
else
# sharded (pipelines/slurm.mk, pipelines/SLURM.md): spectro --shard I/N takes
# the files whose track key hashes to I; merge rebuilds exactly the mel.ts of
# one process.  CLUSTER=slurm: a job array + a merge job; else make -j.
SOUND_DEPS  = $(S)/files.list $(S)/spectro.cfg $(BIN)/spectro
SOUND_PARTS = $(foreach i,$(call sp_seq,$(SOUND_SHARDS)),$(S)/mel-parts/part-$(i)-of-$(SOUND_SHARDS).ts)
ifeq ($(CLUSTER),slurm)
# the task reads the file list on stdin: sh -c '...' LIST CMD... runs CMD < LIST
$(S)/mel.ts: $(SOUND_DEPS) $(BIN)/merge
	set -f; $(call slurm_shards,SOUND_SHARDS,$(S)/mel-parts,$(SOUND_DEPS),sh -c 'f=$$1; shift; exec "$$@" < "$$f"' \
	  sh $(S)/files.list $(BIN)/spectro -q --null $$SPECTRO_OPTS --shard {I}/{N} -o {OUT})
else
$(S)/mel-parts/part-%-of-$(SOUND_SHARDS).ts: $(SOUND_DEPS)
	@mkdir -p $(@D)
	@set -f; $(call shard_retry,$(BIN)/spectro -q --null $$SPECTRO_OPTS --shard "$*/$$SOUND_SHARDS" -o $@ < $<)

$(S)/mel.ts: $(SOUND_PARTS) $(BIN)/merge
	$(BIN)/merge -o $@ $(SOUND_PARTS)
endif
endif

$(S)/tiles.ts: $(S)/mel.ts $(S)/slice.cfg $(BIN)/slice
	set -f; $(BIN)/slice $$SLICE_OPTS -o $@ $<

spectro-library: $(S)/tiles.ts
