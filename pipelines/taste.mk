# taste.mk - `make taste HISTORY=my_spotify_data.zip` (or the extracted folder,
# or single history files' folder): a listener's taste model from a Spotify
# data export (after the taste notebook songpipe replaces), end to end, into $(OUTDIR)/taste:
#   songs.ts/.tsv   catalogue features (csv-clean of CATALOG, or TASTE_SONGS)
#   scores.ts       per-track scores of the history, joined to the catalogue
#                   (taste; what was read, match counts and the low-match
#                   warning in match.txt, misses in unmatched.tsv)
#   train.ts/test.ts  scored tracks + unheard negatives, split at random
#   taste.model     train-mlp: z-score on the training split, sigmoid net
#                   inputs -> TASTE_HIDDEN -> 1, MSE, SGD; history.ts per epoch:
#                   train and validation MSE, validation accuracy of rounded
#                   predictions (train-mlp --metric accuracy)
#   eval.txt        held-out quality against a popularity-only baseline
#   unheard.txt     the K best catalogue songs not heard yet
#   candidates.txt  a percentage match per song of CANDIDATES (when given)
#   training.png    the training curves (MSE and accuracy per epoch)
HISTORY         ?=
CANDIDATES      ?=
# the catalogue CSV (spotify_songs.csv layout: track_id, track_name,
# track_artist, the audio-feature columns of TASTE_INPUTS); CATALOG= is the
# name the match report tells users, TASTE_SONGS the older one
CATALOG         ?=
TASTE_SONGS     ?= data/spotify_songs.csv
ifneq ($(CATALOG),)
  ifneq ($(origin TASTE_SONGS),file)
    ifneq ($(CATALOG),$(TASTE_SONGS))
      $(error songpipe: CATALOG and TASTE_SONGS name two catalogues; give one)
    endif
  endif
  override TASTE_SONGS := $(CATALOG)
endif
TASTE_INPUTS    ?= danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms,year
TASTE_BASELINE  ?= track_popularity
# 1: the baseline column is also a model input, so the model sees what the
# popularity baseline sees (AUC over the four sample exports, model/baseline:
# audio features only 0.68/0.80 0.66/0.73 0.93/0.56 0.75/0.90; with
# popularity 0.79/0.80 0.77/0.73 0.93/0.56 0.92/0.90)
TASTE_BASELINE_INPUT ?= 1
TASTE_SCORE     ?= rank
TASTE_TOP       ?= 0
TASTE_NEGATIVES ?= 1
TASTE_TEST      ?= 0.25
TASTE_SEED      ?= 1
TASTE_HIDDEN    ?= 3
TASTE_LR        ?= 0.1
TASTE_EPOCHS    ?= 500
TASTE_PATIENCE  ?= 50
TASTE_K         ?= 20
$(foreach v,TASTE_K TASTE_SEED,$(call sp_need_uint,$(v)))

TD := $(OUTDIR)/taste
taste_comma := ,
taste_space := $(subst x, ,x)
# train-mlp inputs: TASTE_INPUTS, and the baseline column when TASTE_BASELINE_INPUT=1
TASTE_MODEL_INPUTS := $(TASTE_INPUTS)$(if $(filter 1,$(TASTE_BASELINE_INPUT)),$(if $(filter $(TASTE_BASELINE),$(subst $(taste_comma), ,$(TASTE_INPUTS))),,$(taste_comma)$(TASTE_BASELINE)))
# csv-clean columns: the inputs ('year' derived from the release date) and the baseline
TASTE_COLS := $(subst $(taste_space),$(taste_comma),$(strip \
  $(patsubst year,year:track_album_release_date,$(filter-out $(TASTE_BASELINE),$(subst $(taste_comma), ,$(TASTE_INPUTS)))) \
  $(TASTE_BASELINE)))

# option stamps: a file that changes only when its text changes (the text
# from the environment; user values never pasted into a recipe)
TASTE_CFG_songs = $(TASTE_SONGS) $(TASTE_COLS)
TASTE_CFG_scores = $(HISTORY) $(TASTE_SCORE) $(TASTE_TOP) $(TASTE_NEGATIVES) $(TASTE_TEST) $(TASTE_SEED)
TASTE_CFG_model = $(TASTE_MODEL_INPUTS) $(TASTE_HIDDEN) $(TASTE_LR) $(TASTE_EPOCHS) $(TASTE_PATIENCE) $(TASTE_SEED)
export HISTORY CANDIDATES TASTE_SONGS TASTE_COLS TASTE_MODEL_INPUTS TASTE_BASELINE TASTE_SCORE TASTE_TOP \
  TASTE_NEGATIVES TASTE_TEST TASTE_SEED TASTE_HIDDEN TASTE_LR TASTE_EPOCHS TASTE_PATIENCE TASTE_K \
  TASTE_CFG_songs TASTE_CFG_scores TASTE_CFG_model
$(TD)/songs.cfg $(TD)/scores.cfg $(TD)/model.cfg: $(TD)/%.cfg: FORCE
	@printf '%s\n' "$$TASTE_CFG_$*" | $(sp_stamp)
.PHONY: FORCE taste
taste_usage = { echo "usage: make taste HISTORY=my_spotify_data.zip|folder-of-a-spotify-export/ [CATALOG=songs.csv] [CANDIDATES=songs.txt]" >&2; exit 2; }

# (the stamp of CATALOG when given, so that a message names what the user typed)
$(TD)/songs.ts $(TD)/songs.tsv &: $(IN)/$(if $(CATALOG),CATALOG,TASTE_SONGS).path $(TD)/songs.cfg $(BIN)/csv-clean
	$(BIN)/csv-clean --key track_id --cols "$$TASTE_COLS" --display track_name,track_artist,playlist_genre \
	  --catalog $(TD)/songs.tsv -o $(TD)/songs.ts -- "$$TASTE_SONGS"

# the history (a folder or a file) by its stamp: its name may hold anything
$(TD)/scores.ts $(TD)/train.ts $(TD)/test.ts $(TD)/match.txt &: $(IN)/HISTORY.path $(TD)/songs.ts $(TD)/songs.tsv $(TD)/scores.cfg $(BIN)/taste
	@[ -n "$$HISTORY" ] || $(taste_usage)
	$(BIN)/taste --catalog $(TD)/songs.tsv --features $(TD)/songs.ts --score "$$TASTE_SCORE" --top "$$TASTE_TOP" \
	  --negatives "$$TASTE_NEGATIVES" --test-share "$$TASTE_TEST" --seed "$$TASTE_SEED" \
	  --train $(TD)/train.ts --test $(TD)/test.ts --unmatched $(TD)/unmatched.tsv -o $(TD)/scores.ts \
	  -- "$$HISTORY" 2> >(tee $(TD)/match.txt >&2)

$(TD)/taste.model $(TD)/history.ts &: $(TD)/train.ts $(TD)/model.cfg $(BIN)/train-mlp
	$(BIN)/train-mlp --inputs "$$TASTE_MODEL_INPUTS" --targets taste --layers "$$TASTE_HIDDEN,1" --act sigmoid \
	  --out-act sigmoid --loss mse --metric accuracy --optim sgd --lr "$$TASTE_LR" --epochs "$$TASTE_EPOCHS" \
	  --patience "$$TASTE_PATIENCE" --val 0.2 --seed "$$TASTE_SEED" -q \
	  --history $(TD)/history.ts -o $(TD)/taste.model $(TD)/train.ts

$(TD)/pred.ts: $(TD)/taste.model $(TD)/songs.ts $(BIN)/embed
	$(BIN)/embed -m $(TD)/taste.model --predict -o $@ $(TD)/songs.ts

$(TD)/eval.txt: $(TD)/pred.ts $(TD)/test.ts $(BIN)/taste-rank
	$(BIN)/taste-rank --pred $(TD)/pred.ts --eval $(TD)/test.ts --baseline "$$TASTE_BASELINE" -o $@

$(TD)/unheard.txt: $(TD)/pred.ts $(TD)/songs.tsv $(TD)/scores.ts $(BIN)/taste-rank
	$(BIN)/taste-rank --pred $(TD)/pred.ts --catalog $(TD)/songs.tsv --heard $(TD)/scores.ts -k "$$TASTE_K" -o $@

$(TD)/candidates.txt: $(TD)/pred.ts $(TD)/songs.tsv $(IN)/CANDIDATES.path $(BIN)/taste-rank
	$(BIN)/taste-rank --pred $(TD)/pred.ts --catalog $(TD)/songs.tsv --candidates "$$CANDIDATES" -o $@

$(TD)/training.png: $(TD)/history.ts $(BIN)/chart
	$(BIN)/chart --kind lines --x epoch --cols train_loss,val_loss,metric --y2 metric \
	  --title "Taste model: MSE per epoch (train, validation) and validation accuracy of rounded predictions" \
	  --xlabel epoch --ylabel MSE --y2label 'validation accuracy, rounded (metric)' -o $@ $<

TASTE_OUTPUTS := $(TD)/eval.txt $(TD)/unheard.txt $(if $(CANDIDATES),$(TD)/candidates.txt) \
  $(if $(shell command -v gnuplot 2>/dev/null),$(TD)/training.png)
taste:
	@[ -n "$$HISTORY" ] || $(taste_usage)
	@$(MAKE) --no-print-directory $(TASTE_OUTPUTS)
	@echo; cat $(TD)/match.txt; echo; echo "Held-out quality ($(TD)/eval.txt):"; cat $(TD)/eval.txt
	@echo; echo "Not heard yet, best first ($(TD)/unheard.txt):"; cat $(TD)/unheard.txt
	@if [ -n "$$CANDIDATES" ]; then echo; echo "Candidates ($(TD)/candidates.txt):"; cat $(TD)/candidates.txt; fi
