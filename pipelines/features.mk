# features.mk - the feature recommender: songs CSV -> csv-clean -> normalize
# -> knn.  Every artifact is a file under $(OUTDIR)/features with its real
# prerequisites, so `make` redoes only what changed; the option variables are
# kept in .cfg stamp files so changing FEATURES or NORM rebuilds too.
SONGS_CSV   ?= data/spotify_songs.csv
SONG_KEY    ?= track_id
FEATURES    ?= danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
# (track_popularity: an ambiguous name, and versions of one song, go to the
# most popular original; README.md, One version per song)
DISPLAY     ?= track_name,track_artist,track_album_release_date,playlist_genre,playlist_subgenre,track_popularity
# zscore: centred and standardised columns, so that cosine scores spread
# over [-1, 1] (minmax puts every song near 1; knn --help, Scores)
NORM        ?= zscore
METRIC      ?= cosine
K           ?= 10
MAX_PER_ARTIST ?= 0
# 1: an ambiguous song name takes the most popular original (knn --first)
FIRST       ?= 0
# text (a table), tsv or json (JSON lines: query, rank, id, title, artist,
# score, source, reason) for recommend, recommend-learned and continue
FORMAT      ?= text
# 1: add the MPD playlists of MPD_DIR (playlists.mk), joined by track id
HYBRID_MPD ?= 0
# hybrid: the playlists' share of the blend (hybrid --help), chosen by
# `make eval-hybrid` on validation playlists (training ones, never the test
# split): 0.4 with SONGS_CSV's playlist_id alone, 0.8 with the MPD too
# (README.md, Hybrid answers)
HYBRID_BLEND ?= $(if $(filter 1,$(HYBRID_MPD)),0.8,0.4)
# a sound library (a LIBRARY_DIR of make library) whose songs' title and
# artist tags tie its vectors to catalogue songs: hybrid blends their sound
# neighbours in (empty: none); HYBRID_SOUND_SHARE is the sound's share of
# the content part (hybrid --sound-share; 0.5 is an even split, not chosen
# on data: no shared audio matches the catalogue, pipelines/similarity.md)
HYBRID_SOUND ?=
HYBRID_SOUND_SHARE ?= 0.5
# empty: artist profiles are the mean features of each artist's songs in
# SONGS_CSV; set to data_by_artist.csv (artists,<features>...) to use it.
ARTISTS_CSV ?=
$(foreach v,K,$(call sp_need_count,$(v)))
$(call sp_need_uint,MAX_PER_ARTIST)
$(call sp_need_enum,FIRST,0 1)
$(call sp_need_number,HYBRID_BLEND)
$(call sp_need_enum,HYBRID_MPD,0 1)
$(if $(HYBRID_SOUND),$(call sp_need_path,HYBRID_SOUND))
$(call sp_need_number,HYBRID_SOUND_SHARE)
$(call sp_need_enum,FORMAT,text tsv json)
$(call sp_need_enum,METRIC,cosine euclidean dot mad)
$(call sp_need_enum,NORM,minmax zscore robust)

F := $(OUTDIR)/features
# user values reach recipes through the environment only (Makefile, top)
export SONG ARTIST PLAYLIST SONGS_CSV SONG_KEY FEATURES DISPLAY NORM METRIC K MAX_PER_ARTIST ARTISTS_CSV FIRST FORMAT HYBRID_BLEND HYBRID_MPD HYBRID_SOUND HYBRID_SOUND_SHARE

.PHONY: FORCE
$(F)/clean.cfg: FORCE ; @printf '%s\n' "$$SONG_KEY $$FEATURES $$DISPLAY" | $(sp_stamp)
$(F)/norm.cfg: FORCE ; @printf '%s\n' "$$NORM" | $(sp_stamp)
$(F)/artists.cfg: FORCE ; @printf '%s\n' "$$ARTISTS_CSV" | $(sp_stamp)

$(F)/songs.ts $(F)/songs.tsv &: $(IN)/SONGS_CSV.path $(F)/clean.cfg $(BIN)/csv-clean
	$(BIN)/csv-clean --key "$$SONG_KEY" --cols "$$FEATURES" --display "$$DISPLAY" \
	  --catalog $(F)/songs.tsv -o $(F)/songs.ts -- "$$SONGS_CSV"

$(F)/songs.norm.ts $(F)/songs.stats.json &: $(F)/songs.ts $(F)/norm.cfg $(BIN)/normalize
	$(BIN)/normalize --method "$$NORM" --save $(F)/songs.stats.json -o $(F)/songs.norm.ts $(F)/songs.ts

ifeq ($(ARTISTS_CSV),)
$(F)/artists.ts: $(F)/songs.ts $(F)/songs.tsv $(F)/artists.cfg $(BIN)/pool
	$(BIN)/pool --by track_artist --catalog $(F)/songs.tsv -o $@ $(F)/songs.ts
else
$(F)/artists.ts: $(IN)/ARTISTS_CSV.path $(F)/clean.cfg $(F)/artists.cfg $(BIN)/csv-clean
	$(BIN)/csv-clean --key artists --cols "$$FEATURES" -o $@ -- "$$ARTISTS_CSV"
endif

# artists normalised with the songs' statistics, so both live in one space
$(F)/artists.norm.ts: $(F)/artists.ts $(F)/songs.stats.json $(BIN)/normalize
	$(BIN)/normalize --stats $(F)/songs.stats.json -o $@ $(F)/artists.ts

# all-pairs: every song's K nearest songs, as sortable TSV lines
$(F)/neighbours.tsv: $(F)/songs.norm.ts $(F)/songs.tsv $(BIN)/knn
	$(BIN)/knn --index $(F)/songs.norm.ts --catalog $(F)/songs.tsv --metric "$$METRIC" \
	  -k "$$K" --batch $(F)/songs.norm.ts --self --tsv -o $@

# METRIC, K, MAX_PER_ARTIST and FIRST from the environment (checked above)
KNN_OPTS = --index $(F)/songs.norm.ts --catalog $(F)/songs.tsv --metric "$$METRIC" -k "$$K" \
           $$([ "$$MAX_PER_ARTIST" = 0 ] || printf '%s\n' --max-per-artist "$$MAX_PER_ARTIST") \
           $$([ "$$FIRST" = 0 ] || echo --first)

.PHONY: recommend features neighbours
features: $(F)/songs.norm.ts $(F)/artists.norm.ts
neighbours: $(F)/neighbours.tsv

recommend: $(F)/songs.norm.ts $(F)/songs.tsv $(F)/artists.norm.ts $(BIN)/knn
	@if [ "$$STYLE" = hybrid ]; then \
	  if [ -n "$$ARTIST" ]; then echo "songpipe: STYLE=hybrid answers SONG= or PLAYLIST=, not ARTIST= (playlists hold songs); drop STYLE for artists" >&2; exit 2; fi; \
	  exec $(MAKE) --no-print-directory hybrid; fi; \
	if [ "$$STYLE" != raw ]; then exec $(MAKE) --no-print-directory recommend-learned; fi; \
	if [ -n "$$SONG" ]; then $(BIN)/knn $(KNN_OPTS) --$$FORMAT --song "$$SONG"; \
	elif [ -n "$$ARTIST" ]; then $(BIN)/knn $(KNN_OPTS) --$$FORMAT --artist "$$ARTIST" --artists $(F)/artists.norm.ts; \
	elif [ -n "$$PLAYLIST" ]; then $(BIN)/knn $(KNN_OPTS) --$$FORMAT --playlist "$$PLAYLIST"; \
	else echo "usage: make recommend SONG='title' | ARTIST='name' | PLAYLIST='title; title; ...'  [K=10 METRIC=cosine FORMAT=text|tsv|json FIRST=1]" >&2; exit 2; fi

# hybrid answers (also `make recommend STYLE=hybrid`): co-occurrence in
# SONGS_CSV's playlists (playlist_id), and with HYBRID_MPD=1 the MPD's,
# blended with the feature neighbours; a song in no playlist gets the
# feature neighbours, and with HYBRID_SOUND=LIBRARY_DIR the sound
# neighbours of the library songs whose tags name catalogue songs; each
# result says its source (playlists, features, sound).  eval-hybrid: hit rate@10 on held-out playlists;
# hybrid-neighbours: every song's 10 neighbours (query rank id score source)
ifeq ($(HYBRID_MPD),1)
HYBRID_IN = $(F)/songs.norm.ts $(F)/songs.tsv $(IN)/SONGS_CSV.path $(BIN)/hybrid $(OUTDIR)/playlists/playlists.ts $(OUTDIR)/playlists/tracks.tsv
HYBRID_MPD_OPTS = --mpd-playlists $(OUTDIR)/playlists/playlists.ts --mpd-tracks $(OUTDIR)/playlists/tracks.tsv
else
HYBRID_IN = $(F)/songs.norm.ts $(F)/songs.tsv $(IN)/SONGS_CSV.path $(BIN)/hybrid
endif
ifneq ($(HYBRID_SOUND),)
HYBRID_IN += $(HYBRID_SOUND)/index.ts $(HYBRID_SOUND)/tags.tsv
HYBRID_SOUND_OPTS = --sound-index "$$HYBRID_SOUND/index.ts" --sound-tags "$$HYBRID_SOUND/tags.tsv" --sound-share "$$HYBRID_SOUND_SHARE"
$(HYBRID_SOUND)/index.ts $(HYBRID_SOUND)/tags.tsv:
	@echo "songpipe: HYBRID_SOUND=$$HYBRID_SOUND holds no sound library with tags ($@ is missing); make it: make library MUSIC=folder LIBRARY_DIR=$$HYBRID_SOUND" >&2; exit 2
endif
HYBRID = $(BIN)/hybrid --index $(F)/songs.norm.ts --catalog $(F)/songs.tsv --playlists "$$SONGS_CSV" --blend "$$HYBRID_BLEND" $(HYBRID_MPD_OPTS) $(HYBRID_SOUND_OPTS)
.PHONY: hybrid eval-hybrid hybrid-neighbours
hybrid: $(HYBRID_IN)
	@if [ -n "$$SONG" ]; then q=(--song "$$SONG"); elif [ -n "$$PLAYLIST" ]; then q=(--playlist "$$PLAYLIST"); \
	else echo "usage: make hybrid SONG='title' | PLAYLIST='a; b; c' [K=10 FORMAT=text|tsv|json FIRST=1 HYBRID_BLEND=W (0.4; 0.8 with HYBRID_MPD=1) HYBRID_MPD=1 HYBRID_SOUND=library-dir HYBRID_SOUND_SHARE=S]" >&2; exit 2; fi; \
	$(HYBRID) -k "$$K" --$$FORMAT $$([ "$$FIRST" = 0 ] || echo --first) "$${q[@]}"
$(F)/hybrid-eval.txt: $(HYBRID_IN) $(F)/hybrid.cfg
	$(HYBRID) --eval -o $@
eval-hybrid: $(F)/hybrid-eval.txt
	@cat $<
$(F)/hybrid.neighbours.tsv: $(HYBRID_IN) $(F)/hybrid.cfg
	$(HYBRID) --all -k 10 -o $@
$(F)/hybrid.cfg: FORCE ; @printf '%s\n' "$$HYBRID_BLEND $$HYBRID_MPD $$HYBRID_SOUND $$HYBRID_SOUND_SHARE" | $(sp_stamp)
hybrid-neighbours: $(F)/hybrid.neighbours.tsv

DEMO_SONGS ?= Blinding Lights - The Weeknd; Smells Like Teen Spirit - Nirvana; Billie Jean - Michael Jackson
DEMO_ARTIST ?= Daft Punk
DEMO_PLAYLIST ?= Take On Me - a-ha; Africa - Toto; Billie Jean - Michael Jackson
export DEMO_SONGS DEMO_ARTIST DEMO_PLAYLIST

.PHONY: demo
demo: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory features
	@set -f; IFS=';'; for s in $$DEMO_SONGS; do echo; $(BIN)/knn $(KNN_OPTS) --text --song "$${s# }"; done
	@echo; $(BIN)/knn $(KNN_OPTS) --text --artist "$$DEMO_ARTIST" --artists $(F)/artists.norm.ts
	@echo; $(BIN)/knn $(KNN_OPTS) --text --playlist "$$DEMO_PLAYLIST"
	@echo; echo "Try: make recommend SONG='your song'   (or ARTIST=, PLAYLIST='a; b; c')"

# ---- knn-all: every song's K nearest songs, sharded (pipelines/slurm.mk) ----
KNN_DIR   := $(F)/knn-parts
KNN_ALL    = --index $(F)/songs.norm.ts --catalog $(F)/songs.tsv --metric "$$METRIC" -k "$$K" --self \
             --threads "$$SHARD_THREADS" --index-cache
KNN_DEPS   = $(F)/songs.norm.ts $(F)/songs.tsv $(F)/knn.cfg $(BIN)/knn
KNN_PARTS  = $(foreach i,$(call shard_ids,$(SHARDS)),$(KNN_DIR)/part-$(i)-of-$(SHARDS).ts)

$(F)/knn.cfg: FORCE ; @printf '%s\n' "$$METRIC $$K" | $(sp_stamp)

ifeq ($(CLUSTER),slurm)
$(F)/neighbours.ts: $(KNN_DEPS) $(BIN)/merge
	$(call slurm_shards,SHARDS,$(KNN_DIR),$(KNN_DEPS),$(BIN)/knn $(KNN_ALL) --shard {I}/{N} -o {OUT})
else
$(KNN_DIR)/part-%-of-$(SHARDS).ts: $(KNN_DEPS)
	@mkdir -p $(@D)
	@$(call shard_retry,$(BIN)/knn $(KNN_ALL) --shard "$*/$$SHARDS" -o $@)

$(F)/neighbours.ts: $(KNN_PARTS) $(BIN)/merge
	$(BIN)/merge -o $@ $(KNN_PARTS)
endif

.PHONY: knn-all
knn-all: $(F)/neighbours.ts
