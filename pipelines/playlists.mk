# playlists.mk - playlist continuation on Million Playlist Dataset slices:
# mpd-ingest -> mpd-split (RecSys Challenge 2018 protocol) -> mpd-recommend
# per model -> rec-eval.  The MPD may not be redistributed: it is read from
# MPD_DIR (outside the repository) and the targets skip when it is absent.
#   make eval-playlists [MPD_DIR=dir] [PL_MODELS='pop title cooc itemknn rp3beta ease als neural blend rerank'] [PL_TRAIN_OPTS=...] [PL_BLEND=w]
#     [PL_RERANK_GENS='cooc itemknn rp3beta ease als'] [PL_RERANK_OPTS=...] [PL_VAL_SEEDS='2 3 4'] [PL_RERANK_KS='1']
#   make continue PLAYLIST=pid | PLAYLIST='Title - Artist; spotify:track:ID; ...' [FORMAT=text|tsv|json]
MPD_DIR        ?= ../shared/data/mpd/soundscout-followers10
PL_MODELS      ?= pop title cooc itemknn rp3beta ease als neural blend rerank
# rerank: the generators whose lists it re-ranks, fitted on validation
# splits of the training playlists: for each seed S of PL_VAL_SEEDS,
# mpd-split --seed S of train.ts, the generators refitted on its training
# part; the trees learn from the queries of every split (playlists.md)
PL_RERANK_GENS ?= cooc itemknn rp3beta ease als
PL_RERANK_OPTS ?=
PL_VAL_SEEDS   ?= 2 3 4
# a model of its own for the queries of each K listed here (fitted on the
# validation queries of that K only; mpd-rerank --ks), the other queries
# re-ranked by the model of every K (playlists.md: K = 1 gains)
PL_RERANK_KS   ?= 1
PL_TRAIN_OPTS  ?=
# blend = (1 - w) cooc + w neural (as distributions); w chosen on a
# validation split of the training playlists (playlists.md)
PL_BLEND       ?= 0.2
PL_KS          ?= 0,1,5,10,25
PL_TEST_FRAC   ?= 0.1
PL_MAX_TEST    ?= 1000
PL_SEED        ?= 1
# continue: pop, title, cooc, itemknn, rp3beta, ease or als, learning from every ingested playlist
CONTINUE_MODEL ?= cooc
CONTINUE_N     ?= 20
$(foreach v,CONTINUE_N PL_SEED,$(call sp_need_uint,$(v)))
$(if $(PL_VAL_SEED),$(call sp_bad,PL_VAL_SEED,replaced by PL_VAL_SEEDS (a list: PL_VAL_SEEDS='2 3 4'; one seed fits on one validation split)))
$(if $(PL_VAL_SEEDS),,$(call sp_bad,PL_VAL_SEEDS,empty))
$(foreach s,$(PL_VAL_SEEDS),$(if $(call sp_strip,$(s),$(sp_digits)),$(call sp_bad,PL_VAL_SEEDS,'$(s)' is not a whole number)))
$(if $(filter-out $(words $(PL_VAL_SEEDS)),$(words $(sort $(PL_VAL_SEEDS)))),$(call sp_bad,PL_VAL_SEEDS,a seed given twice))
$(foreach k,$(PL_RERANK_KS),$(if $(call sp_strip,$(k),$(sp_digits)),$(call sp_bad,PL_RERANK_KS,'$(k)' is not a whole number)))
$(if $(filter-out $(words $(PL_RERANK_KS)),$(words $(sort $(PL_RERANK_KS)))),$(call sp_bad,PL_RERANK_KS,a K given twice))
$(if $(word 8,$(PL_RERANK_KS)),$(call sp_bad,PL_RERANK_KS,more than 7 K (mpd-rerank applies at most 8 models)))
$(if $(word 17,$(PL_VAL_SEEDS)),$(call sp_bad,PL_VAL_SEEDS,more than 16 seeds (mpd-rerank fits on at most 16 splits)))
# the split hashes (seed, pid): the test split's own seed would hold out nothing
$(if $(filter $(PL_SEED),$(PL_VAL_SEEDS)),$(call sp_bad,PL_VAL_SEEDS,holds PL_SEED: that validation split of train.ts would hold no playlist; choose another))
$(call sp_need_enum,CONTINUE_MODEL,pop title cooc itemknn rp3beta ease als)
$(if $(PL_MODELS),,$(call sp_bad,PL_MODELS,empty))
$(foreach m,$(PL_MODELS),$(if $(filter $(m),pop title cooc itemknn rp3beta ease als neural blend rerank),,$(call sp_bad,PL_MODELS,'$(m)' is not one of: pop title cooc itemknn rp3beta ease als neural blend rerank)))
$(if $(PL_RERANK_GENS),,$(call sp_bad,PL_RERANK_GENS,empty))
$(foreach m,$(PL_RERANK_GENS),$(if $(filter $(m),pop title cooc itemknn rp3beta ease als neural blend),,$(call sp_bad,PL_RERANK_GENS,'$(m)' is not one of: pop title cooc itemknn rp3beta ease als neural blend)))

P := $(OUTDIR)/playlists
# user values reach recipes through the environment only (Makefile, top)
export PLAYLIST MPD_DIR PL_TRAIN_OPTS PL_BLEND PL_KS PL_TEST_FRAC PL_MAX_TEST PL_SEED CONTINUE_MODEL CONTINUE_N PL_RERANK_OPTS PL_VAL_SEEDS PL_RERANK_KS
# the MPD slices; MPD_DIR is read by the shell (its name may hold anything)
pl_mpd_files = d=$$MPD_DIR; case $$d in -*) d=./$$d ;; esac; \
  find "$$d" -maxdepth 1 \( -name '*.json' -o -name '*.json.zst' \) -print0 2>/dev/null | LC_ALL=C sort -z
pl_need_mpd = [ "$$($(pl_mpd_files) | grep -cz .)" != 0 ] || { echo "$@: skipped: no MPD slices (*.json, *.json.zst) in $$MPD_DIR; set MPD_DIR=folder"; exit 0; }

.PHONY: FORCE eval-playlists continue playlists pl-playlists pl-eval-playlists pl-continue
$(P)/ingest.cfg: FORCE ; @{ printf '%s\n' "$$MPD_DIR"; $(pl_mpd_files); } | $(sp_stamp)
$(P)/split.cfg: FORCE ; @printf '%s\n' "$$PL_KS $$PL_TEST_FRAC $$PL_MAX_TEST $$PL_SEED" | $(sp_stamp)
$(P)/train.cfg: FORCE ; @printf '%s\n' "$$PL_TRAIN_OPTS $$PL_SEED" | $(sp_stamp)
$(P)/blend.cfg: FORCE ; @printf '%s\n' "$$PL_BLEND" | $(sp_stamp)
# (the seed is in the folder's name: val-S, S digits only)
$(P)/val-%/split.cfg: FORCE ; @printf '%s\n' "$$PL_KS $$PL_TEST_FRAC $$PL_MAX_TEST $*" | $(sp_stamp)
# the splits the trees learn from: removing one must refit them too
$(P)/rerank.cfg: FORCE ; @printf '%s\n' "$$PL_RERANK_OPTS" "$$PL_VAL_SEEDS" | $(sp_stamp)
# the K with a model of their own: the test lists change with the list
$(P)/rerank-ks.cfg: FORCE ; @printf '%s\n' "$$PL_RERANK_KS" | $(sp_stamp)

$(P)/playlists.ts $(P)/tracks.tsv $(P)/names.tsv &: $(IN)/MPD_DIR.path $(P)/ingest.cfg $(BIN)/mpd-ingest
	$(BIN)/mpd-ingest --tracks $(P)/tracks.tsv --names $(P)/names.tsv -o $(P)/playlists.ts -- "$$MPD_DIR"

$(P)/train.ts $(P)/queries.tsv $(P)/seeds.ts $(P)/truth.ts &: $(P)/playlists.ts $(P)/names.tsv $(P)/split.cfg $(BIN)/mpd-split
	$(BIN)/mpd-split --ks "$$PL_KS" --test-frac "$$PL_TEST_FRAC" --max-test "$$PL_MAX_TEST" --seed "$$PL_SEED" \
	  --names $(P)/names.tsv --queries $(P)/queries.tsv --seeds $(P)/seeds.ts --truth $(P)/truth.ts \
	  -o $(P)/train.ts $(P)/playlists.ts

# the validation splits of the training playlists, one folder per seed of
# PL_VAL_SEEDS: the re-ranker learns there
PL_VDIRS := $(PL_VAL_SEEDS:%=$(P)/val-%)
define pl_valsplit
$(1)/train.ts $(1)/queries.tsv $(1)/seeds.ts $(1)/truth.ts &: $(P)/train.ts $(P)/names.tsv $(1)/split.cfg $(BIN)/mpd-split
	$(BIN)/mpd-split --ks "$$$$PL_KS" --test-frac "$$$$PL_TEST_FRAC" --max-test "$$$$PL_MAX_TEST" --seed $(2) \
	  --names $(P)/names.tsv --queries $(1)/queries.tsv --seeds $(1)/seeds.ts --truth $(1)/truth.ts \
	  -o $(1)/train.ts $(P)/train.ts
endef
$(foreach s,$(PL_VAL_SEEDS),$(eval $(call pl_valsplit,$(P)/val-$(s),$(s))))

# the generators, on the test split (P) and on each validation split
define pl_generators
# the neural model: minutes per epoch on 6,000 playlists (mpd-train --help)
$(1)/model.ts: $(1)/train.ts $(P)/train.cfg $(BIN)/mpd-train
	set -f; $(BIN)/mpd-train --seed "$$$$PL_SEED" $$$$PL_TRAIN_OPTS -o $$@ $(1)/train.ts

$(1)/recs-neural.ts: $(1)/model.ts $(1)/train.ts $(1)/queries.tsv $(1)/seeds.ts $(P)/tracks.tsv $(BIN)/mpd-recommend
	$(BIN)/mpd-recommend --model neural --weights $(1)/model.ts --train $(1)/train.ts --names $(P)/names.tsv \
	  --tracks $(P)/tracks.tsv --queries $(1)/queries.tsv --seeds $(1)/seeds.ts -o $$@

# the blend of the neural model with co-occurrence (a model of its own name)
$(1)/recs-blend.ts: $(1)/model.ts $(P)/blend.cfg $(1)/train.ts $(1)/queries.tsv $(1)/seeds.ts $(P)/tracks.tsv $(BIN)/mpd-recommend
	$(BIN)/mpd-recommend --model blend --blend "$$$$PL_BLEND" --weights $(1)/model.ts --train $(1)/train.ts --names $(P)/names.tsv \
	  --tracks $(P)/tracks.tsv --queries $(1)/queries.tsv --seeds $(1)/seeds.ts -o $$@

$(1)/recs-%.ts: $(1)/train.ts $(1)/queries.tsv $(1)/seeds.ts $(P)/tracks.tsv $(BIN)/mpd-recommend
	$(BIN)/mpd-recommend --model $$* --train $(1)/train.ts --names $(P)/names.tsv --tracks $(P)/tracks.tsv \
	  --queries $(1)/queries.tsv --seeds $(1)/seeds.ts -o $$@
endef
$(foreach v,$(PL_VDIRS),$(eval $(call pl_generators,$(v))))
$(eval $(call pl_generators,$(P)))

# the re-ranker: fitted on the queries of every validation split (each
# split's own TRAIN, generators and truth; --split begins the next), applied
# to the test queries
pl_rerank_split = --train $(1)/train.ts --queries $(1)/queries.tsv --seeds $(1)/seeds.ts \
  $(foreach g,$(PL_RERANK_GENS),--gen $(g)=$(1)/recs-$(g).ts)
pl_rerank_fit = $(call pl_rerank_split,$(1)) --truth $(1)/truth.ts
$(P)/rerank.json: $(foreach v,$(PL_VDIRS),$(PL_RERANK_GENS:%=$(v)/recs-%.ts) $(v)/truth.ts) $(P)/rerank.cfg $(BIN)/mpd-rerank
	set -f; $(BIN)/mpd-rerank --names $(P)/names.tsv --tracks $(P)/tracks.tsv $(call pl_rerank_fit,$(firstword $(PL_VDIRS))) \
	  $(foreach v,$(wordlist 2,16,$(PL_VDIRS)),--split $(call pl_rerank_fit,$(v))) $$PL_RERANK_OPTS --save $@

# a model per K of PL_RERANK_KS (the K, digits only, is in the file's name)
$(P)/rerank-k%.json: $(foreach v,$(PL_VDIRS),$(PL_RERANK_GENS:%=$(v)/recs-%.ts) $(v)/truth.ts) $(P)/rerank.cfg $(BIN)/mpd-rerank
	set -f; $(BIN)/mpd-rerank --names $(P)/names.tsv --tracks $(P)/tracks.tsv $(call pl_rerank_fit,$(firstword $(PL_VDIRS))) \
	  $(foreach v,$(wordlist 2,16,$(PL_VDIRS)),--split $(call pl_rerank_fit,$(v))) $$PL_RERANK_OPTS --ks $* --save $@

# each test query re-ranked by the model of its K, else by rerank.json
$(P)/recs-rerank.ts: $(P)/rerank.json $(PL_RERANK_KS:%=$(P)/rerank-k%.json) $(P)/rerank-ks.cfg $(PL_RERANK_GENS:%=$(P)/recs-%.ts) $(BIN)/mpd-rerank
	set -f; $(BIN)/mpd-rerank --names $(P)/names.tsv --tracks $(P)/tracks.tsv $(call pl_rerank_split,$(P)) \
	  $$PL_RERANK_OPTS --model $(P)/rerank.json $(PL_RERANK_KS:%=--model $(P)/rerank-k%.json) -o $@

$(P)/eval.txt: $(PL_MODELS:%=$(P)/recs-%.ts) $(P)/truth.ts $(BIN)/rec-eval
	$(BIN)/rec-eval --truth $(P)/truth.ts --queries $(P)/queries.tsv --tracks $(P)/tracks.tsv \
	  -o $@ $(PL_MODELS:%=$(P)/recs-%.ts)

# without MPD slices in MPD_DIR, these targets say so and skip
playlists eval-playlists continue:
	@$(pl_need_mpd); exec $(MAKE) --no-print-directory pl-$@
pl-playlists: $(P)/playlists.ts

# a table model x K x metric (K = 0: title only); RecSys Challenge 2018 metrics
pl-eval-playlists: $(P)/eval.txt
	@cat $<

# the next songs of an ingested playlist (by pid) or of a list of song names;
# the model learns from every ingested playlist
pl-continue: $(P)/playlists.ts $(P)/tracks.tsv $(P)/names.tsv $(BIN)/mpd-recommend
	@if [ -z "$$PLAYLIST" ]; then echo "usage: make continue PLAYLIST=pid | PLAYLIST='Title - Artist; Title; ...'  [CONTINUE_MODEL=cooc CONTINUE_N=20]" >&2; exit 2; fi
	@if [[ "$$PLAYLIST" =~ ^[0-9]+$$ ]]; then sel=(--playlist "$$PLAYLIST"); else sel=(--songs "$$PLAYLIST"); fi; \
	$(BIN)/mpd-recommend --model "$$CONTINUE_MODEL" --train $(P)/playlists.ts --names $(P)/names.tsv \
	  --tracks $(P)/tracks.tsv -n "$$CONTINUE_N" --format "$$FORMAT" "$${sel[@]}"

# A second collection, never used for any choice: the playlists of SONGS_CSV
# (data/spotify_songs.csv: 471 playlists) as an MPD slice (mpd-from-csv), and
# the whole chain on it with the same settings:
#   make eval-songs-playlists [PL_SEED=n]     -> $(OUTDIR)/songs/playlists/eval.txt
SONGS_MPD := $(OUTDIR)/songs-mpd
$(SONGS_MPD)/mpd.slice.songs.json: $(IN)/SONGS_CSV.path $(BIN)/mpd-from-csv
	@mkdir -p $(@D)
	$(BIN)/mpd-from-csv -o $@ -- "$$SONGS_CSV"
.PHONY: eval-songs-playlists
eval-songs-playlists: $(SONGS_MPD)/mpd.slice.songs.json
	@$(MAKE) --no-print-directory pl-eval-playlists MPD_DIR=$(SONGS_MPD) OUTDIR=$(OUTDIR)/songs
