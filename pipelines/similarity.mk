# similarity.mk - supervised similarity (issue 15): an embedding of the song
# features trained so that songs that share real playlists are near, and the
# evaluation of every similarity method on held-out playlists.
#   make recommend SONG='title - artist' STYLE=supervised [K=10]
#   make recommend SONG='title - artist' STYLE=hybrid [HYBRID_MPD=1]  (features.mk)
#   make eval-similarity      the table of pipelines/similarity.md
# Playlists: the playlist_id column of SONGS_CSV (csv) and the MPD slices in
# MPD_DIR (mpd; ingested by playlists.mk and joined by track id), both by
# default; SIM_PLAYLISTS=csv when there is no MPD.  `members` holds out
# SIM_HOLDOUT of the playlists (whole playlists, chosen by a seeded hash of
# their names) for the evaluation; supervised trains on the others only.
# supervised: the 12 z-scored features of learned.mk and the artist's mean
# profile of them (pool --concat; no genre input) -> 256 relu -> 64, InfoNCE
# over in-batch negatives with the logQ popularity correction (train-mlp
# --pairs; loss chosen on validation playlists, pipelines/similarity.md).
# Rows of the table (SIM_ROWS): random, raw-minmax, raw (z-score),
# artist-profile (z-score + the artist's mean profile, untrained), the
# learned.mk styles, supervised, hybrid (co-occurrences of the training
# playlists + SIM_HYBRID_CONTENT's neighbours).  A row R is scored from the
# neighbour list $(L)/R.neighbours.tsv (knn --self --tsv lines: query rank
# neighbour ...), so another method joins the table by a rule that writes
# that file and its name in SIM_ROWS.
SIM_PLAYLISTS ?= csv mpd
SIM_HOLDOUT   ?= 0.2
SIM_SEED      ?= 1
SIM_ROWS      ?= random raw-minmax raw artist-profile predictor autoencoder catae-nogenre supervised hybrid
# the hybrid row's content side: a row whose embedding $(L)/NAME.emb.ts it
# blends with the co-occurrences of the training playlists
SIM_HYBRID_CONTENT ?= raw
SUP_OPTS      ?= --layers 256,64 --act relu --loss infonce --temperature 0.1 --optim adam --lr 1e-3 --batch 256 --epochs 100 --patience 3
$(call sp_need_uint,SIM_SEED)
$(call sp_need_number,SIM_HOLDOUT)
$(if $(SIM_PLAYLISTS),,$(call sp_bad,SIM_PLAYLISTS,empty))
$(foreach s,$(SIM_PLAYLISTS),$(if $(filter $(s),csv mpd),,$(call sp_bad,SIM_PLAYLISTS,'$(s)' is not one of: csv mpd)))
$(if $(SIM_ROWS),,$(call sp_bad,SIM_ROWS,empty))
$(call sp_need_enum,SIM_HYBRID_CONTENT,raw raw-minmax artist-profile predictor autoencoder catae-nogenre supervised)
$(foreach s,$(SIM_ROWS),$(if $(call sp_strip,$(s),$(sp_pathchars)),$(call sp_bad,SIM_ROWS,'$(s)' is not a row name)))

SIM_MPD := $(OUTDIR)/playlists
export SIM_PLAYLISTS SIM_HOLDOUT SIM_SEED SUP_OPTS SIM_HYBRID_CONTENT

$(L)/members.cfg: FORCE ; @printf '%s\n' "$$SIM_PLAYLISTS $$SIM_HOLDOUT $$SIM_SEED" | $(sp_stamp)
$(L)/supervised.cfg: FORCE ; @printf '%s\n' "$$SUP_OPTS $$LEARN_SEED" | $(sp_stamp)

# training membership (tensor) and the held-out playlists (TSV)
$(L)/members.ts $(L)/heldout.tsv $(L)/lists.tsv &: $(L)/songs.tsv $(IN)/SONGS_CSV.path $(L)/members.cfg $(BIN)/members \
    $(if $(filter mpd,$(SIM_PLAYLISTS)),$(SIM_MPD)/playlists.ts $(SIM_MPD)/tracks.tsv)
	csv=(); case " $$SIM_PLAYLISTS " in *" csv "*) csv=(--csv "$$SONGS_CSV") ;; esac; \
	$(BIN)/members --catalog $(L)/songs.tsv --holdout "$$SIM_HOLDOUT" --seed "$$SIM_SEED" "$${csv[@]}" \
	  $(if $(filter mpd,$(SIM_PLAYLISTS)),--mpd $(SIM_MPD)/playlists.ts --mpd-tracks $(SIM_MPD)/tracks.tsv) \
	  --heldout $(L)/heldout.tsv --lists $(L)/lists.tsv -o $(L)/members.ts

# raw min-max, and z-score + the artist's mean profile (untrained baselines)
$(L)/raw-minmax.emb.ts: $(IN)/SONGS_CSV.path $(L)/clean.cfg $(BIN)/csv-clean $(BIN)/normalize
	$(BIN)/csv-clean --key "$$SONG_KEY" --cols "$$LEARN_FEATURES" -- "$$SONGS_CSV" \
	  | $(BIN)/normalize --method minmax -o $@
$(L)/artist-profile.emb.ts: $(L)/raw.emb.ts $(L)/songs.tsv $(BIN)/pool
	$(BIN)/pool --by track_artist --catalog $(L)/songs.tsv --concat -o $@ $(L)/raw.emb.ts

# supervised: trained on the training playlists' pairs
$(L)/supervised.model: $(L)/artist-profile.emb.ts $(L)/members.ts $(L)/supervised.cfg $(BIN)/train-mlp
	set -f; $(BIN)/train-mlp -q --pairs $(L)/members.ts $$SUP_OPTS --seed "$$LEARN_SEED" \
	  --history $(L)/supervised.history.ts -o $@ $(L)/artist-profile.emb.ts
$(L)/supervised.emb.ts: $(L)/supervised.model $(L)/artist-profile.emb.ts $(BIN)/embed
	$(BIN)/embed -m $< --layer output -o $@ $(L)/artist-profile.emb.ts

# hybrid: co-occurrences of the training playlists (members' held-out ones
# excluded) blended with the content neighbours of SIM_HYBRID_CONTENT; the
# blend is chosen by hybrid --eval on validation playlists, a quarter of the
# training playlists (the test playlists of --eval are members' held-out
# ones: same split, seed and share), never on the held-out ones
SIM_HYBRID_PL = $(if $(filter csv,$(SIM_PLAYLISTS)),--playlists "$$SONGS_CSV") \
  $(if $(filter mpd,$(SIM_PLAYLISTS)),--mpd-playlists $(SIM_MPD)/playlists.ts --mpd-tracks $(SIM_MPD)/tracks.tsv)
SIM_HYBRID_IN = $(L)/$(SIM_HYBRID_CONTENT).emb.ts $(L)/songs.tsv $(IN)/SONGS_CSV.path $(L)/members.cfg $(L)/hybrid.cfg $(BIN)/hybrid \
  $(if $(filter mpd,$(SIM_PLAYLISTS)),$(SIM_MPD)/playlists.ts $(SIM_MPD)/tracks.tsv)
$(L)/hybrid.cfg: FORCE ; @printf '%s\n' "$$SIM_HYBRID_CONTENT" | $(sp_stamp)
$(L)/hybrid.eval.txt: $(SIM_HYBRID_IN)
	$(BIN)/hybrid --eval --index $(L)/$(SIM_HYBRID_CONTENT).emb.ts --catalog $(L)/songs.tsv $(SIM_HYBRID_PL) \
	  --seed "$$SIM_SEED" --holdout "$$SIM_HOLDOUT" -o $@
$(L)/hybrid.neighbours.tsv: $(L)/hybrid.eval.txt $(L)/heldout.tsv $(SIM_HYBRID_IN)
	w=$$(awk '/<- chosen/ { sub(/^W=/, "", $$1); print $$1 }' $(L)/hybrid.eval.txt); \
	[ -n "$$w" ] || { echo "$(L)/hybrid.eval.txt: no chosen blend; remove it and run again" >&2; exit 1; }; \
	$(BIN)/hybrid --all -k 10 --blend "$$w" --exclude $(L)/heldout.tsv --index $(L)/$(SIM_HYBRID_CONTENT).emb.ts \
	  --catalog $(L)/songs.tsv $(SIM_HYBRID_PL) -o $@

# one row of the table per method
$(L)/%.simeval.tsv: $(L)/%.neighbours.tsv $(L)/songs.tsv $(L)/heldout.tsv pipelines/simeval.awk
	awk -v method=$* -v k=10 -f pipelines/simeval.awk $(L)/songs.tsv $(L)/heldout.tsv $< > $@
$(L)/random.simeval.tsv: $(L)/songs.tsv $(L)/heldout.tsv $(L)/members.cfg pipelines/simeval.awk
	awk -v method=random -v k=10 -v random=1 -v seed="$$SIM_SEED" -f pipelines/simeval.awk $(L)/songs.tsv $(L)/heldout.tsv > $@

$(L)/similarity.tsv: $(SIM_ROWS:%=$(L)/%.simeval.tsv)
	{ printf 'method\thit@10\trecall@10\tgenre@10\tsubgenre@10\tartist@10\tentries\n'; cat $^; } > $@

.PHONY: eval-similarity
eval-similarity: $(L)/similarity.tsv
	@column -t -s '	' $<

# the neighbour lists and embeddings are kept (not intermediate): a new row
# or a second run reuses them
.SECONDARY: $(SIM_ROWS:%=$(L)/%.neighbours.tsv) $(SIM_ROWS:%=$(L)/%.emb.ts)
