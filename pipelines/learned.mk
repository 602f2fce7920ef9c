# learned.mk - the learned similarity styles, each trained with
# train-mlp on the shipped songs, embedding every song with embed, and
# ending in knn; and the genre agreement@10 table that compares them with the
# raw features and random neighbours.
#   make learned                      train every style, embed every song
#   make recommend-learned SONG='title - artist' STYLE=predictor [K=10]
#        STYLE: predictor | autoencoder | autoencoder-narrow | catae | catae-nogenre | raw
#               | supervised (pipelines/similarity.mk)
#   make agreement                    the table: style, genre@10, subgenre@10
# Styles:
#   predictor           notebook: 12 features -> 10 -> 8 -> 6 -> 1 popularity,
#                       leaky relu, MAE, RMSprop 1e-4; embedding = the 8-wide layer
#   autoencoder         notebook: features -> 25 -> 50 -> 25 -> features, dropout
#                       0.3; embedding = the widest hidden layer (50), as the notebook
#   autoencoder-narrow  the same through a 6-wide bottleneck, embedding = it
#   catae               notebook: features + artist, genre, subgenre embeddings
#                       -> 64 -> 20 -> 64 -> the features (MSE) and each id
#                       (softmax CE), Adam, early stopping patience 3; latent 20
#   catae-nogenre       the same without genre and subgenre (a fair comparison:
#                       catae sees the genre it is then scored on)
#   raw                 the 12 features, z-scored
LEARN_FEATURES ?= valence,year:track_album_release_date,acousticness,danceability,duration_ms,energy,instrumentalness,key,liveness,loudness,speechiness,tempo
LEARN_TARGET   ?= track_popularity
LEARN_SEED     ?= 1
LEARN_METRIC   ?= cosine
STYLE          ?= raw
PRED_OPTS      ?= --layers 10,8,6,1 --act leaky_relu --loss mae --optim rmsprop --lr 1e-4 --scale-targets --batch 32 --epochs 200 --patience 5
PRED_LAYER     ?= dense.1
AE_OPTS        ?= --layers 25,50,25,12 --act relu --dropout 0.3 --loss mse --optim adam --lr 1e-3 --batch 32 --epochs 200 --patience 5
AE_LAYER       ?= dense.1
AE_NARROW_OPTS ?= --layers 25,6,25,12 --act relu --loss mse --optim adam --lr 1e-3 --batch 32 --epochs 200 --patience 5
AE_NARROW_LAYER ?= dense.1
CATAE_OPTS     ?= --optim adam --lr 1e-3 --batch 256 --epochs 100 --patience 3
CATAE_DIMS     ?= track_artist:16 playlist_genre:4 playlist_subgenre:8
LEARNED_STYLES := predictor autoencoder autoencoder-narrow catae catae-nogenre raw
$(call sp_need_enum,STYLE,$(LEARNED_STYLES) supervised hybrid)
$(call sp_need_enum,LEARN_METRIC,cosine euclidean dot mad)
$(call sp_need_uint,LEARN_SEED)

L := $(OUTDIR)/learned
l_comma := ,
# the column names the features get (year:DATE -> year)
LEARN_NUM = $(subst $(eval) ,$(l_comma),$(foreach f,$(subst $(l_comma), ,$(LEARN_FEATURES)),$(firstword $(subst :, ,$(f)))))
CATAE_NOGENRE_DIMS = $(filter track_artist:%,$(CATAE_DIMS))
# user values reach recipes through the environment only (Makefile, top)
export STYLE LEARN_FEATURES LEARN_TARGET LEARN_SEED LEARN_METRIC LEARN_NUM PRED_OPTS PRED_LAYER AE_OPTS AE_LAYER \
  AE_NARROW_OPTS AE_NARROW_LAYER CATAE_OPTS CATAE_DIMS CATAE_NOGENRE_DIMS
# writes the catae architecture for the categorical columns in the
# environment variable $(1) (col:dim words) to $@, touching it only when its
# text changes
define l_catae_arch
	@set -f; num=$$LEARN_NUM; dims=$$$(1); \
	cats=$$(for d in $$dims; do printf '{"column": "%s", "dim": %s}, ' "$${d%%:*}" "$${d##*:}"; done); \
	ces=$$(for d in $$dims; do printf ', {"loss": "ce", "target": "%s"}' "$${d%%:*}"; done); \
	{ printf '{"inputs": [%s],\n' "$$(printf '%s' "$$num" | sed 's/[^,]*/"&"/g; s/,/, /g')"; \
	  printf ' "categorical": [%s],\n' "$${cats%, }"; \
	  printf ' "layers": [{"units": 64, "act": "relu"}, {"units": 20, "act": "linear", "name": "latent"}, {"units": 64, "act": "relu"}],\n'; \
	  printf ' "outputs": [{"loss": "mse", "targets": "inputs"}%s]}\n' "$$ces"; } | $(sp_stamp)
endef

$(L)/clean.cfg: FORCE ; @printf '%s\n' "$$LEARN_FEATURES $$LEARN_TARGET" | $(sp_stamp)
$(L)/predictor.cfg: FORCE ; @printf '%s\n' "$$PRED_OPTS $$LEARN_SEED" | $(sp_stamp)
$(L)/autoencoder.cfg: FORCE ; @printf '%s\n' "$$AE_OPTS $$LEARN_SEED" | $(sp_stamp)
$(L)/autoencoder-narrow.cfg: FORCE ; @printf '%s\n' "$$AE_NARROW_OPTS $$LEARN_SEED" | $(sp_stamp)
$(L)/catae.cfg: FORCE ; @printf '%s\n' "$$CATAE_OPTS $$LEARN_SEED" | $(sp_stamp)
$(L)/catae.json: FORCE
	$(call l_catae_arch,CATAE_DIMS)
$(L)/catae-nogenre.json: FORCE
	$(call l_catae_arch,CATAE_NOGENRE_DIMS)

# one table: features, popularity, category codes; catalogue for knn
$(L)/songs.ts $(L)/songs.tsv $(L)/vocab.tsv &: $(IN)/SONGS_CSV.path $(L)/clean.cfg $(BIN)/csv-clean
	$(BIN)/csv-clean --key "$$SONG_KEY" --cols "$$LEARN_FEATURES,$$LEARN_TARGET" \
	  --category playlist_genre,playlist_subgenre,track_artist \
	  --display track_name,track_artist,playlist_genre,playlist_subgenre,track_popularity \
	  --catalog $(L)/songs.tsv --vocab $(L)/vocab.tsv -o $(L)/songs.ts -- "$$SONGS_CSV"

# raw: the same 12 features, z-scored
$(L)/raw.emb.ts: $(IN)/SONGS_CSV.path $(L)/clean.cfg $(BIN)/csv-clean $(BIN)/normalize
	$(BIN)/csv-clean --key "$$SONG_KEY" --cols "$$LEARN_FEATURES" -- "$$SONGS_CSV" \
	  | $(BIN)/normalize --method zscore -o $@

# the *_OPTS are lists of words: split, never globbed (set -f)
$(L)/predictor.model: $(L)/songs.ts $(L)/predictor.cfg $(BIN)/train-mlp
	set -f; $(BIN)/train-mlp -q --inputs "$$LEARN_NUM" --targets "$$LEARN_TARGET" $$PRED_OPTS --seed "$$LEARN_SEED" \
	  --history $(L)/predictor.history.ts -o $@ $<
$(L)/autoencoder.model: $(L)/songs.ts $(L)/autoencoder.cfg $(BIN)/train-mlp
	set -f; $(BIN)/train-mlp -q --inputs "$$LEARN_NUM" --autoencoder $$AE_OPTS --seed "$$LEARN_SEED" \
	  --history $(L)/autoencoder.history.ts -o $@ $<
$(L)/autoencoder-narrow.model: $(L)/songs.ts $(L)/autoencoder-narrow.cfg $(BIN)/train-mlp
	set -f; $(BIN)/train-mlp -q --inputs "$$LEARN_NUM" --autoencoder $$AE_NARROW_OPTS --seed "$$LEARN_SEED" \
	  --history $(L)/autoencoder-narrow.history.ts -o $@ $<
$(L)/catae.model $(L)/catae-nogenre.model: $(L)/%.model: $(L)/songs.ts $(L)/%.json $(L)/catae.cfg $(BIN)/train-mlp
	set -f; $(BIN)/train-mlp -q --arch $(L)/$*.json $$CATAE_OPTS --seed "$$LEARN_SEED" \
	  --history $(L)/$*.history.ts -o $@ $<

# the name of the environment variable that holds style $(1)'s layer
l_layer = $(if $(filter predictor,$(1)),PRED_LAYER,$(if $(filter autoencoder,$(1)),AE_LAYER,$(if $(filter autoencoder-narrow,$(1)),AE_NARROW_LAYER)))
$(L)/%.emb.ts: $(L)/%.model $(L)/songs.ts $(BIN)/embed
	$(BIN)/embed -m $< --layer $(if $(call l_layer,$*),"$$$(call l_layer,$*)",latent) -o $@ $(L)/songs.ts

# every song's 10 nearest songs, and the agreement row of one style
$(L)/%.neighbours.tsv: $(L)/%.emb.ts $(L)/songs.tsv $(BIN)/knn
	$(BIN)/knn --index $< --catalog $(L)/songs.tsv --metric "$$LEARN_METRIC" -k 10 --batch $< --self --tsv -o $@
$(L)/%.agreement.tsv: $(L)/%.neighbours.tsv $(L)/songs.tsv pipelines/agreement.awk
	awk -v style=$* -v k=10 -f pipelines/agreement.awk $(L)/songs.tsv $< > $@
$(L)/random.agreement.tsv: $(L)/songs.tsv pipelines/agreement.awk
	awk -v style=random -v k=10 -v random=1 -v seed="$$LEARN_SEED" -f pipelines/agreement.awk $(L)/songs.tsv > $@

$(L)/agreement.tsv: $(LEARNED_STYLES:%=$(L)/%.agreement.tsv) $(L)/random.agreement.tsv
	{ printf 'style\tgenre@10\tsubgenre@10\tqueries\n'; cat $^; } > $@

.PHONY: learned agreement recommend-learned
learned: $(LEARNED_STYLES:%=$(L)/%.emb.ts)
agreement: $(L)/agreement.tsv
	@column -t -s '	' $<

recommend-learned: $(L)/$(STYLE).emb.ts $(L)/songs.tsv $(BIN)/knn
	@if [ -z "$$SONG" ]; then echo "usage: make recommend-learned SONG='title - artist' STYLE=$(subst $(eval) ,|,$(LEARNED_STYLES) supervised) [K=10]" >&2; exit 2; fi
	$(BIN)/knn --index $< --catalog $(L)/songs.tsv --metric "$$LEARN_METRIC" -k "$$K" --$$FORMAT \
	  $$([ "$$FIRST" = 0 ] || echo --first) --song "$$SONG"
