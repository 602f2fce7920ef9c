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
$(foreach v,CNN_DIR CNN_MODEL,$(call sp_need_path,$(v)))
$(call sp_need_count,CNN_K)

C := $(CNN_DIR)
# user values reach recipes through the environment only (Makefile, top)
export SOUNDS_DIR CNN_SPECTRO_OPTS CNN_SLICE_OPTS CNN_TRAIN_OPTS CNN_K CNN_QUALITY_WIDTHS GTZAN_DIR FILE
# the library's audio files, NUL-separated (names may hold newlines), sorted
CNN_AUDIO = d=$$SOUNDS_DIR; case $$d in -*) d=./$$d ;; esac; \
  find "$$d" -type f \( -name '*.ogg' -o -name '*.flac' -o -name '*.mp3' -o -name '*.wav' -o -name '*.opus' \) -print0 | LC_ALL=C sort -z

.PHONY: FORCE sounds-like add-song sound-model sound-library cnn-quality cnn-sounds-like cnn-add-song cnn-sound-library

# what the model is made from: each audio file's content, and the options
$(C)/model.inputs: FORCE
	@mkdir -p $(@D); new=$$(mktemp $@.XXXXXX); trap 'rm -f "$$new"' EXIT; \
	 { $(CNN_AUDIO) | while IFS= read -r -d '' f; do printf '%s  %s\n' "$$(sha256sum < "$$f" | cut -c1-64)" "$${f##*/}"; done; \
	   printf 'spectro %s\nslice %s\ntrain-cnn %s\n' "$$CNN_SPECTRO_OPTS" "$$CNN_SLICE_OPTS" "$$CNN_TRAIN_OPTS"; } > "$$new"; \
	 if [ -f $(CNN_MODEL) ] && cmp -s "$$new" $(CNN_MODEL).inputs; then \
	   cmp -s "$$new" $@ || { mv "$$new" $@; touch -r $(CNN_MODEL) $@; }; \
	 else cmp -s "$$new" $@ || mv "$$new" $@; fi

$(C)/library.list: FORCE
	@$(CNN_AUDIO) | $(sp_stamp)

# tiles of every library song, keyed song#i
$(C)/library-tiles.ts: $(C)/library.list $(C)/model.inputs $(BIN)/spectro $(BIN)/slice
	set -f; $(BIN)/spectro -q -j 2 --null $$CNN_SPECTRO_OPTS < $< | $(BIN)/slice $$CNN_SLICE_OPTS -o $@

# the committed model counts as up to date while model.inputs matches the
# record beside it (model.inputs then carries the model's time stamp)
$(CNN_MODEL): $(C)/model.inputs
	$(MAKE) --no-print-directory $(C)/library-tiles.ts
	set -f; $(BIN)/train-cnn $$CNN_TRAIN_OPTS --history $(C)/history.ts -o $@ $(C)/library-tiles.ts
	cp $< $@.inputs

sound-model: $(BIN)/train-cnn $(CNN_MODEL)

# one vector per song: the mean of its tiles' 40-wide embeddings
$(C)/library.ts: $(C)/library-tiles.ts $(CNN_MODEL) $(BIN)/embed $(BIN)/pool
	$(BIN)/embed -m $(CNN_MODEL) --track-keys $< | $(BIN)/pool -o $@

# the library plus the songs added with add-song (the index knn searches);
# an added song's vector older than the model is recomputed from the file
# add-song recorded (KEY.src), as vectors of two models are not comparable
$(C)/index.ts: $(C)/library.ts
	@set -f; new=$$(mktemp $@.XXXXXX); trap 'rm -f "$$new" "$$new.mel"' EXIT; cp $< "$$new"; \
	 set +f; for f in $(C)/added/*.ts; do [ -e "$$f" ] || continue; set -f; \
	   if [ "$$f" -ot $(CNN_MODEL) ]; then \
	     src=$$(cat -- "$${f%.ts}.src" 2>/dev/null; echo x); src=$${src%x}; src=$${src%$$'\n'}; \
	     if [ ! -f "$$src" ]; then echo "sound-library: $$f: made with an older model, and its audio ($${src:-unknown}) is gone: not in the index; add-song it again or remove $$f" >&2; continue; fi; \
	     echo "sound-library: recomputing $$f with the new model ($$src)" >&2; \
	     $(BIN)/spectro -q $$CNN_SPECTRO_OPTS -o "$$new.mel" -- "$$src" || exit 1; \
	     $(BIN)/slice $$CNN_SLICE_OPTS "$$new.mel" | $(BIN)/embed -m $(CNN_MODEL) --track-keys | $(BIN)/pool -o "$$f" || exit 1; \
	   fi; \
	   $(BIN)/append --replace -o "$$new" "$$new" "$$f" || exit 1; done; \
	 mv "$$new" $@

# The library (index.ts, added/) is changed by one make at a time: sounds-like,
# add-song and sound-library run their work under an exclusive lock on
# $(C)/library.lock (flock(1)); a second run waits for the first.
cnn_locked = @mkdir -p $(C) && exec flock $(C)/library.lock $(MAKE) --no-print-directory
cnn_need_file = @[ -n "$$FILE" ] || { echo "usage: make $@ FILE=path/to/song.mp3" >&2; exit 2; }; \
  if [ -d "$$FILE" ]; then case $@ in add-song) echo "add-song: $$FILE is a folder: add-song takes one file; to search a folder of music, make it a library: make library MUSIC='<that folder>' (then make sounds-like FILE=...)" >&2; exit 1 ;; esac; \
  elif [ ! -f "$$FILE" ]; then echo "$@: $$FILE: no such file" >&2; exit 1; fi

sound-library: ; $(cnn_locked) cnn-sound-library
cnn-sound-library: $(C)/index.ts

# $(call cnn_song_vector,DIR): FILE's song vector into DIR/song.ts (DIR: this
# run's own temporary folder); FILE may be a folder (sounds-like): a vector
# per audio file in it, keyed by its path
cnn_song_vector = set -f; if [ -d "$$FILE" ]; then d=$$FILE; case $$d in -*) d=./$$d ;; esac; \
    find "$$d" -type f \( -iname '*.ogg' -o -iname '*.flac' -o -iname '*.mp3' -o -iname '*.wav' -o -iname '*.opus' \) -print0 | \
      LC_ALL=C sort -z > "$(1)/list"; [ -s "$(1)/list" ] || { echo "sounds-like: FILE=$$FILE: no audio file (ogg flac mp3 wav opus) in it" >&2; exit 1; }; \
    $(BIN)/spectro -q -0 --key path $$CNN_SPECTRO_OPTS -o "$(1)/mel.ts" < "$(1)/list" || exit 1; \
  else $(BIN)/spectro -q $$CNN_SPECTRO_OPTS -o "$(1)/mel.ts" -- "$$FILE" || exit 1; fi; \
  $(BIN)/slice $$CNN_SLICE_OPTS "$(1)/mel.ts" | $(BIN)/embed -m $(CNN_MODEL) --track-keys | $(BIN)/pool -o "$(1)/song.ts" || exit 1
cnn_tmpdir = tmp=$$(mktemp -d $(C)/tmp.XXXXXX); trap 'rm -rf "$$tmp"' EXIT

# decode, embed and search, without retraining and without keeping the song
# (sounds-like itself is in library.mk: it searches the music library when
# there is one, else this index)
cnn-sounds-like: $(C)/index.ts $(BIN)/spectro $(BIN)/slice $(BIN)/embed $(BIN)/pool $(BIN)/knn
	@$(cnn_tmpdir); $(call cnn_song_vector,$$tmp); \
	 $(BIN)/knn --index $(C)/index.ts --batch "$$tmp/song.ts" -k "$$CNN_K" --text

# only the new song is computed; the index gets its row (replaced when the
# same file is added again).  A key is the file's name without extension: a
# different file with the key of a library or added song is refused.
add-song:
	$(cnn_need_file)
	$(cnn_locked) cnn-add-song
cnn-add-song: $(C)/index.ts $(BIN)/spectro $(BIN)/slice $(BIN)/embed $(BIN)/pool $(BIN)/append $(BIN)/to-csv
	@$(cnn_tmpdir); $(call cnn_song_vector,$$tmp); \
	 key=$$($(BIN)/to-csv --tsv --no-header "$$tmp/song.ts" | cut -f1) && [ -n "$$key" ] || exit 1; \
	 src=$$(realpath -- "$$FILE"); was=; \
	 if [ -e "$(C)/added/$$key.src" ]; then was=$$(cat -- "$(C)/added/$$key.src"; echo x); was=$${was%x}; was=$${was%$$'\n'}; \
	 elif $(BIN)/to-csv --tsv --no-header $(C)/library.ts | cut -f1 | grep -qxF -- "$$key"; then \
	   was="a library song in SOUNDS_DIR=$$SOUNDS_DIR"; \
	   while IFS= read -r -d '' f; do n=$${f##*/}; case $$n in ?*.*) n=$${n%.*} ;; esac; \
	     [ "$$n" = "$$key" ] && { was=$$(realpath -- "$$f"); break; }; done < $(C)/library.list; fi; \
	 if [ -n "$$was" ] && [ "$$was" != "$$src" ]; then \
	   echo "add-song: '$$key' is already in the library from $$was; $$src has the same name (without extension), so it would replace it: rename the file to add it" >&2; exit 1; fi; \
	 mkdir -p $(C)/added; \
	 $(BIN)/append --replace -o $(C)/index.ts $(C)/index.ts "$$tmp/song.ts"; \
	 printf '%s\n' "$$src" > "$$tmp/src"; \
	 mv -- "$$tmp/song.ts" "$(C)/added/$$key.ts"; mv -- "$$tmp/src" "$(C)/added/$$key.src"; \
	 echo "add-song: '$$key' is in $(C)/index.ts ($$($(BIN)/to-csv $(C)/index.ts | tail -n +2 | wc -l) songs)"

# ---- quality on genre-labelled clips (GTZAN excerpts; never shipped) ----
Q := $(C)/gtzan
$(Q)/tiles.ts: $(IN)/GTZAN_DIR.path $(BIN)/spectro $(BIN)/slice
	@mkdir -p $(@D)
	set -f; d=$$GTZAN_DIR; case $$d in -*) d=./$$d ;; esac; \
	find "$$d" -name '*.flac' -print0 | LC_ALL=C sort -z | $(BIN)/spectro -q -j 2 --null $$CNN_SPECTRO_OPTS | $(BIN)/slice $$CNN_SLICE_OPTS -o $@
$(Q)/labels.tsv: $(IN)/GTZAN_DIR.path
	@mkdir -p $(@D)
	{ printf 'track\tgenre\n'; tail -n +2 -- "$$GTZAN_DIR/labels.csv" | awk -F, '{print $$3 "\t" $$2}'; } > $@

cnn-quality: $(Q)/tiles.ts $(Q)/labels.tsv $(BIN)/train-cnn $(BIN)/embed $(BIN)/pool $(BIN)/knn
	CNN_DIR=$(Q) BIN=$(abspath $(BIN)) WIDTHS="$$CNN_QUALITY_WIDTHS" bash tests/bench/cnn_quality.sh $(Q)/tiles.ts $(Q)/labels.tsv
