# charts.mk - `make charts`: statistics and charts of the shipped songs table
# (data/spotify_songs.csv) into $(OUTDIR)/charts, each as PNG and SVG:
#   corr-pearson, corr-spearman, corr-kendall   heat maps with values in cells
#   years          feature averages per year, one line per feature, min-max scaled
#   genres         grouped bars: mean features per playlist genre
#   artists        grouped bars: mean features of the artists with most tracks
#   training       loss, validation loss and accuracy of a genre classifier
#   latent         PCA of that classifier's last hidden layer, coloured by genre
# Intermediate tensors are kept in $(OUTDIR)/charts/data.
SHARED_DATA    ?= ../shared/data
CHART_SONGS    ?= data/spotify_songs.csv
CHART_FEATURES ?= danceability,energy,loudness,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms
BAR_FEATURES   ?= danceability,energy,speechiness,acousticness,liveness,valence
YEAR_FEATURES  ?= acousticness,danceability,energy,instrumentalness,liveness,speechiness,valence
# data_by_year.csv (Kaggle, licence not stated: read in place, never shipped);
# when absent, year means of the shipped table's album release years
BY_YEAR_CSV    ?= $(wildcard $(SHARED_DATA)/features/data_by_year.csv)
# years with fewer tracks than this are left out of the fallback year means
YEAR_MIN_TRACKS ?= 20
# empty: the CHART_TOP_ARTISTS artists with most tracks in the table
CHART_ARTISTS  ?=
CHART_TOP_ARTISTS ?= 8
CHART_EPOCHS   ?= 40
CHART_SIZE     ?= 900,600

$(foreach v,YEAR_MIN_TRACKS CHART_TOP_ARTISTS CHART_EPOCHS,$(call sp_need_uint,$(v)))

CH  := $(OUTDIR)/charts
# user values reach recipes through the environment only (Makefile, top)
export CHART_FEATURES BAR_FEATURES YEAR_FEATURES YEAR_MIN_TRACKS CHART_ARTISTS CHART_TOP_ARTISTS CHART_EPOCHS CHART_SIZE
# the name of the songs table, for titles
ch_songs = $${CHART_SONGS\#\#*/}
CHD := $(CH)/data
CHART_NAMES := corr-pearson corr-spearman corr-kendall years genres artists training latent
CHART_FILES := $(foreach n,$(CHART_NAMES),$(CH)/$(n).png $(CH)/$(n).svg)

.PHONY: charts
charts: $(CHART_FILES)
	@echo "charts: $(words $(CHART_FILES)) files in $(CH)"

$(CHD)/songs.ts $(CHD)/songs.tsv &: $(IN)/CHART_SONGS.path $(BIN)/csv-clean
	@mkdir -p $(CHD)
	$(BIN)/csv-clean --key track_id --cols "$$CHART_FEATURES,year:track_album_release_date" \
	  --category playlist_genre --display track_name,track_artist,playlist_genre,track_album_release_date \
	  --catalog $(CHD)/songs.tsv -o $(CHD)/songs.ts -- "$$CHART_SONGS"

# ---- correlation heat maps ----
.SECONDARY: $(CHD)/corr-pearson.ts $(CHD)/corr-spearman.ts $(CHD)/corr-kendall.ts
CORR_TITLE_pearson := Pearson
CORR_TITLE_spearman := Spearman
CORR_TITLE_kendall := Kendall tau-b
$(CHD)/corr-%.ts: $(CHD)/songs.ts $(BIN)/corr
	$(BIN)/corr --method $* --cols "$$CHART_FEATURES" -o $@ $<

$(CH)/corr-%.png $(CH)/corr-%.svg: $(CHD)/corr-%.ts $(BIN)/chart
	for f in png svg; do $(BIN)/chart --kind heatmap --size "$$CHART_SIZE" \
	  --title "$(CORR_TITLE_$*) correlation of audio features ($(ch_songs), one row per track)" \
	  -o $(CH)/corr-$*.$$f $<; done

# ---- feature averages over the years ----
ifneq ($(BY_YEAR_CSV),)
YEAR_SOURCE := data_by_year.csv, Kaggle Spotify 1921-2020
$(CHD)/years.ts: $(IN)/BY_YEAR_CSV.path $(BIN)/csv-clean
	@mkdir -p $(CHD)
	$(BIN)/csv-clean --key year --cols "$$YEAR_FEATURES" -o $@ -- "$$BY_YEAR_CSV"
else
YEAR_SOURCE := $(ch_songs) by release year, $$YEAR_MIN_TRACKS+ tracks a year
$(CHD)/years.tsv: $(CHD)/songs.tsv
	awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($$i == "track_album_release_date") c = i; if (!c) exit 1; print "track_id\tyear"; next } \
	  { print $$1 "\t" substr($$c, 1, 4) }' $< > $@
$(CHD)/years.ts: $(CHD)/songs.ts $(CHD)/years.tsv $(BIN)/pool
	$(BIN)/pool --by year --catalog $(CHD)/years.tsv --min-rows "$$YEAR_MIN_TRACKS" -o $@ $<
endif
$(CH)/years.png $(CH)/years.svg &: $(CHD)/years.ts $(BIN)/chart
	for f in png svg; do $(BIN)/chart --kind lines --minmax --cols "$$YEAR_FEATURES" --size "$$CHART_SIZE" \
	  --title "Feature means by year, min-max scaled ($(YEAR_SOURCE))" --xlabel year --ylabel 'scaled mean' \
	  -o $(CH)/years.$$f $<; done

# ---- grouped bars per genre and per artist ----
$(CHD)/genres.ts: $(CHD)/songs.ts $(CHD)/songs.tsv $(BIN)/pool
	$(BIN)/pool --by playlist_genre --catalog $(CHD)/songs.tsv -o $@ $<
$(CH)/genres.png $(CH)/genres.svg &: $(CHD)/genres.ts $(BIN)/chart
	for f in png svg; do $(BIN)/chart --kind bars --cols "$$BAR_FEATURES" --size "$$CHART_SIZE" \
	  --title "Mean audio features per playlist genre ($(ch_songs))" \
	  --xlabel 'playlist genre' --ylabel 'mean (0 to 1)' -o $(CH)/genres.$$f $<; done

$(CHD)/artists.ts: $(CHD)/songs.ts $(CHD)/songs.tsv $(BIN)/pool
	$(BIN)/pool --by track_artist --catalog $(CHD)/songs.tsv -o $@ $<
$(CHD)/artists.txt: $(CHD)/songs.tsv
	@if [ -n "$$CHART_ARTISTS" ]; then printf '%s\n' "$$CHART_ARTISTS"; \
	else awk -F'\t' 'NR > 1 && $$3 != "" { n[$$3]++ } END { for (a in n) print n[a] "\t" a }' $< \
	  | sort -t$$'\t' -k1,1nr -k2,2 | awk -F'\t' -v n="$$CHART_TOP_ARTISTS" 'NR <= n { printf "%s%s", (NR > 1 ? ";" : ""), $$2 } END { print "" }'; fi > $@
$(CH)/artists.png $(CH)/artists.svg &: $(CHD)/artists.ts $(CHD)/artists.txt $(BIN)/chart
	for f in png svg; do $(BIN)/chart --kind bars --cols "$$BAR_FEATURES" --rows "$$(cat $(CHD)/artists.txt)" \
	  --size "$$CHART_SIZE" --title "Mean audio features of the artists with most tracks ($(ch_songs))" \
	  --xlabel artist --ylabel 'mean (0 to 1)' -o $(CH)/artists.$$f $<; done

# ---- a genre classifier: training curves and its latent space ----
$(CHD)/genre.model $(CHD)/genre.history.ts &: $(CHD)/songs.ts $(BIN)/train-mlp
	$(BIN)/train-mlp --inputs "$$CHART_FEATURES,year" --targets playlist_genre --loss ce \
	  --layers 32,16,6 --epochs "$$CHART_EPOCHS" --patience 0 --lr 0.003 --seed 1 -q \
	  --history $(CHD)/genre.history.ts -o $(CHD)/genre.model $<
$(CH)/training.png $(CH)/training.svg &: $(CHD)/genre.history.ts $(BIN)/chart
	for f in png svg; do $(BIN)/chart --kind lines --x epoch --cols train_loss,val_loss,metric --y2 metric \
	  --size "$$CHART_SIZE" --title "Genre classifier (11 features -> 32 -> 16 -> 6): cross-entropy and validation accuracy" \
	  --xlabel epoch --ylabel 'cross-entropy' --y2label 'validation accuracy (metric)' -o $(CH)/training.$$f $<; done

$(CHD)/latent.ts: $(CHD)/songs.ts $(CHD)/genre.model $(BIN)/embed $(BIN)/pca
	$(BIN)/embed -m $(CHD)/genre.model --layer -2 $< | $(BIN)/pca -k 2 -o $@
$(CH)/latent.png $(CH)/latent.svg &: $(CHD)/latent.ts $(CHD)/songs.tsv $(BIN)/chart
	for f in png svg; do $(BIN)/chart --kind scatter --color-by playlist_genre --catalog $(CHD)/songs.tsv \
	  --max-points $$([ $$f = svg ] && echo 6000 || echo 20000) --size "$$CHART_SIZE" \
	  --title "Genre classifier's last hidden layer (16 units), PCA to 2-D, coloured by playlist genre" \
	  -o $(CH)/latent.$$f $<; done
