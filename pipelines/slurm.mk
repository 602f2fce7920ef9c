# slurm.mk - sharded runs: one stage as SHARDS independent parts (--shard
# I/N) and a merge that rebuilds the unsharded output byte for byte.
#   make knn-all [SHARDS=N] [CLUSTER=slurm]   all-pairs neighbours of the
#                                             features pipeline's songs
#                                             (pipelines/features.mk; the shards
#                                             map one index cache, knn --index-cache)
#   make spectro-library CLUSTER=slurm        (pipelines/sound.mk)
# This file holds the settings and helpers those rules use; the Makefile
# includes it before the other pipelines.
# Without CLUSTER the parts are make targets (run them with make -j); with
# CLUSTER=slurm pipelines/slurm-shards.sh submits them as a job array and
# the merge as a job that depends on it (afterok), and waits.  A part is
# redone only when missing or older than its inputs; a failing part is
# retried SHARD_RETRIES times and then leaves no merged file.  How to run
# on a cluster: pipelines/SLURM.md.
CLUSTER       ?=
SHARDS        ?= 4
SHARD_RETRIES ?= 2
SBATCH_OPTS   ?=
SLURM_POLL    ?= 5
SLURM_PATIENCE ?= 600
SLURM_THROTTLE ?=
SHARD_THREADS ?= 1
export SBATCH_OPTS SLURM_POLL SLURM_PATIENCE SLURM_THROTTLE
$(call sp_need_count,SHARDS,small)
$(foreach v,SHARD_RETRIES SLURM_PATIENCE SHARD_THREADS,$(call sp_need_uint,$(v)))
$(call sp_need_number,SLURM_POLL)
$(if $(SLURM_THROTTLE),$(call sp_need_count,SLURM_THROTTLE))

ifneq ($(filter-out slurm,$(CLUSTER)),)
  $(error CLUSTER=$(CLUSTER): the only cluster scheduler supported is slurm (leave CLUSTER empty to run locally))
endif

export SHARDS SHARD_RETRIES SHARD_THREADS
# $(call shard_ids,N): 0 1 ... N-1 (N checked above; computed by make alone)
shard_ids = $(call sp_seq,$(1))
# a recipe line that runs its command up to 1 + SHARD_RETRIES times (the
# command reads user values from the environment)
shard_retry = for a in $$(seq 0 "$$SHARD_RETRIES"); do $(1) && exit 0; \
  echo "shard: attempt $$((a + 1)) of $@ failed" >&2; done; exit 1
# $(call slurm_shards,NVAR,PARTDIR,PREREQS,CMD with {I} {N} {OUT}): NVAR is
# the name of the environment variable that holds the shard count
slurm_shards = pipelines/slurm-shards.sh -n "$$$(1)" -d $(2) -o $@ -m $(BIN)/merge -r "$$SHARD_RETRIES" \
  $(foreach p,$(3),-p $(p)) -- $(4)
