# serve.mk - `make serve [PORT=8080] [LISTEN=127.0.0.1] [SERVE_OPTS='--threads 4']`:
# the JSON API and the web page over the artifacts of the features pipeline
# and, when built, the learned styles, playlists, sound library and charts.
# API and examples: pipelines/serve.md.
PORT   ?= 8080
LISTEN ?= 127.0.0.1
SERVE_OPTS ?=

# bin/serve is stages/serve.c plus its parts in stages/serve/ (the Makefile's
# stage rule), linked with libmicrohttpd, the page built in (.incbin)
$(BIN)/serve: stages/serve.html
$(BIN)/serve: STAGE_LIBS := -lmicrohttpd

# user values reach the recipe through the environment, never as text
serve: export SERVE_PORT = $(PORT)
serve: export SERVE_LISTEN = $(LISTEN)
serve: export SERVE_OUT = $(OUTDIR)
serve: export SERVE_EXTRA = $(SERVE_OPTS)
serve: export SERVE_SOUND_MODEL = $(CNN_MODEL)
serve: export SERVE_SOUNDS_DIR = $(SOUNDS_DIR)
.PHONY: serve
serve: $(BIN)/serve $(F)/songs.norm.ts $(F)/songs.tsv $(F)/artists.norm.ts
	@case "$$SERVE_PORT" in ''|*[!0-9]*) echo "serve: PORT must be a number from 0 to 65535, not '$$SERVE_PORT'" >&2; exit 2;; esac; \
	read -r -a extra <<<"$$SERVE_EXTRA" || true; \
	exec $(BIN)/serve --out "$$SERVE_OUT" --listen "$$SERVE_LISTEN" --port "$$SERVE_PORT" \
	  --sound-model "$$SERVE_SOUND_MODEL" --sounds-dir "$$SERVE_SOUNDS_DIR" "$${extra[@]}"
