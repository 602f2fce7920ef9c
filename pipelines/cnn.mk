# cnn.mk - recommend by sound: a CNN (train-cnn) embeds 128x128 log-mel tiles,
# tiles are averaged per song (pool), and knn finds the songs that sound
# alike.  The default library (data/sounds, redistributable clips) and its
# model (data/sound.model, self-supervised: each track its own class) ship
# with the project; the model is retrained only when the library's audio or
# the options below change (content hashes in data/sound.model.inputs).
#   make sounds-like FILE=song.mp3 [CNN_K=5]   the nearest library songs
#   make add-song FILE=song.mp3                add it to the library index
#   make sound-model                           (re)train when inputs changed
#   make cnn-quality [CNN_QUALITY_WIDTHS="0.25 0.5 1"]
#                                              GTZAN genre checks by width
#                                              multiplier (shared data; the
#                                              table in pipelines/cnn.md)
SOUNDS_DIR       ?= data/sounds
CNN_MODEL        ?= data/sound.model
CNN_SPECTRO_OPTS ?= --fmax 8000
CNN_SLICE_OPTS   ?=
CNN_TRAIN_OPTS   ?= --width-mult 0.25 --epochs 16 --batch 16 --monitor accuracy --patience 6 --seed 1 --threads 2
CNN_K            ?= 5
CNN_QUALITY_WIDTHS ?= 0.25
CNN_DIR          ?= out/cnn
GTZAN_DIR        ?= ../shared/data/audio/gtzan

C := $(CNN_DIR)
CNN_AUDIO = find $(SOUNDS_DIR) -type f \( -name '*.ogg' -o -name '*.flac' -o -name '*.mp3' -o -name '*.wav' -o -name '*.opus' \) | LC_ALL=C sort

.PHONY: FORCE sounds-like add-song sound-model sound-library cnn-quality

# what the model is made from: each audio file's content, and the options
$(C)/model.inputs: FORCE
	@mkdir -p $(@D)
	@{ $(CNN_AUDIO) | while read -r f; do printf '%s  %s\n' "$$(sha256sum < "$$f" | cut -c1-64)" "$${f##*/}"; done; \
	   echo "spectro $(CNN_SPECTRO_OPTS)"; echo "slice $(CNN_SLICE_OPTS)"; echo "train-cnn $(CNN_TRAIN_OPTS)"; } > $@.new
	@if [ -f $(CNN_MODEL) ] && cmp -s $@.new $(CNN_MODEL).inputs; then \
	   cmp -s $@.new $@ || { mv $@.new $@; touch -r $(CNN_MODEL) $@; }; \
	 else cmp -s $@.new $@ || mv $@.new $@; fi; rm -f $@.new

$(C)/library.list: FORCE
	@mkdir -p $(@D); $(CNN_AUDIO) | cmp -s - $@ || $(CNN_AUDIO) > $@

# tiles of every library song, keyed song#i
$(C)/library-tiles.ts: $(C)/library.list $(C)/model.inputs $(BIN)/spectro $(BIN)/slice
	$(BIN)/spectro -q -j 2 $(CNN_SPECTRO_OPTS) < $< | $(BIN)/slice $(CNN_SLICE_OPTS) -o $@

# the committed model counts as up to date while model.inputs matches the
# record beside it (model.inputs then carries the model's time stamp)
$(CNN_MODEL): $(C)/model.inputs
	$(MAKE) --no-print-directory $(C)/library-tiles.ts
	$(BIN)/train-cnn $(CNN_TRAIN_OPTS) --history $(C)/history.ts -o $@ $(C)/library-tiles.ts
	cp $< $@.inputs

sound-model: $(BIN)/train-cnn $(CNN_MODEL)

# one vector per song: the mean of its tiles' 40-wide embeddings
$(C)/library.ts: $(C)/library-tiles.ts $(CNN_MODEL) $(BIN)/embed $(BIN)/pool
	$(BIN)/embed -m $(CNN_MODEL) --track-keys $< | $(BIN)/pool -o $@

# the library plus the songs added with add-song (the index knn searches);
# an added song's vector older than the model is recomputed from the file
# add-song recorded (KEY.src), as vectors of two models are not comparable
$(C)/index.ts: $(C)/library.ts
	cp $< $@.new
	@for f in $(C)/added/*.ts; do [ -e "$$f" ] || continue; \
	   if [ "$$f" -ot $(CNN_MODEL) ]; then \
	     src=$$(cat "$${f%.ts}.src" 2>/dev/null || true); \
	     if [ ! -f "$$src" ]; then echo "sound-library: $$f: made with an older model, and its audio ($${src:-unknown}) is gone: not in the index; add-song it again or remove $$f" >&2; continue; fi; \
	     echo "sound-library: recomputing $$f with the new model ($$src)" >&2; \
	     $(BIN)/spectro -q $(CNN_SPECTRO_OPTS) -o "$$f.mel" "$$src" || exit 1; \
	     $(BIN)/slice $(CNN_SLICE_OPTS) "$$f.mel" | $(BIN)/embed -m $(CNN_MODEL) --track-keys | $(BIN)/pool -o "$$f" || exit 1; \
	     rm -f "$$f.mel"; \
	   fi; \
	   $(BIN)/append --replace -o $@.new $@.new "$$f" || exit 1; done
	mv $@.new $@

sound-library: $(C)/index.ts

define cnn_song_vector
	@[ -n "$(FILE)" ] || { echo "usage: make $@ FILE=path/to/song.mp3" >&2; exit 2; }
	@[ -f "$(FILE)" ] || { echo "$@: $(FILE): no such file" >&2; exit 1; }
	@mkdir -p $(C)/added
	@rm -f $(1).mel
	$(BIN)/spectro -q $(CNN_SPECTRO_OPTS) -o $(1).mel "$(FILE)"
	$(BIN)/slice $(CNN_SLICE_OPTS) $(1).mel | $(BIN)/embed -m $(CNN_MODEL) --track-keys | $(BIN)/pool -o $(1)
	@rm -f $(1).mel
endef

# decode, embed and search, without retraining and without keeping the song
sounds-like: $(C)/index.ts $(BIN)/spectro $(BIN)/slice $(BIN)/embed $(BIN)/pool $(BIN)/knn
	$(call cnn_song_vector,$(C)/query.ts)
	$(BIN)/knn --index $(C)/index.ts --batch $(C)/query.ts -k $(CNN_K) --text

# only the new song is computed; the index gets its row (replaced if present)
add-song: $(C)/index.ts $(BIN)/spectro $(BIN)/slice $(BIN)/embed $(BIN)/pool $(BIN)/append
	$(call cnn_song_vector,$(C)/added/new.ts)
	@key=$$($(BIN)/to-csv --tsv --no-header $(C)/added/new.ts | cut -f1) && [ -n "$$key" ] || exit 1; \
	 $(BIN)/append --replace -o $(C)/index.ts $(C)/index.ts $(C)/added/new.ts || exit 1; \
	 mv $(C)/added/new.ts "$(C)/added/$$key.ts"; \
	 realpath -- "$(FILE)" > "$(C)/added/$$key.src"; \
	 echo "add-song: '$$key' is in $(C)/index.ts ($$($(BIN)/to-csv $(C)/index.ts | tail -n +2 | wc -l) songs)"

# ---- quality on genre-labelled clips (GTZAN excerpts; never shipped) ----
Q := $(C)/gtzan
$(Q)/tiles.ts: $(BIN)/spectro $(BIN)/slice
	@[ -d $(GTZAN_DIR) ] || { echo "cnn-quality: no $(GTZAN_DIR)" >&2; exit 1; }
	@mkdir -p $(@D)
	find $(GTZAN_DIR) -name '*.flac' | LC_ALL=C sort | $(BIN)/spectro -q -j 2 $(CNN_SPECTRO_OPTS) | $(BIN)/slice $(CNN_SLICE_OPTS) -o $@
$(Q)/labels.tsv: $(GTZAN_DIR)/labels.csv
	@mkdir -p $(@D)
	{ printf 'track\tgenre\n'; tail -n +2 $< | awk -F, '{print $$3 "\t" $$2}'; } > $@

cnn-quality: $(Q)/tiles.ts $(Q)/labels.tsv $(BIN)/train-cnn $(BIN)/embed $(BIN)/pool $(BIN)/knn
	CNN_DIR=$(Q) BIN=$(abspath $(BIN)) WIDTHS='$(CNN_QUALITY_WIDTHS)' bash tests/bench/cnn_quality.sh $(Q)/tiles.ts $(Q)/labels.tsv
