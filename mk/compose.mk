# docker-compose.yml is checked by `docker compose config` (tests/services/test_compose.py), which
# fails, never skips, without it (issue 15). Debian bookworm has only Compose v1, which rejects the
# file's top-level `name`; Compose v2 is a Go module, built here from the Go module proxy into the
# docker CLI's plugin directory (about 5 minutes on 2 cores, once per machine).
COMPOSE_VERSION ?= v2.40.3
COMPOSE_PLUGIN ?= /usr/local/lib/docker/cli-plugins/docker-compose
# Compose v2.40 needs Go 1.23 or newer (Debian bookworm's golang-go is 1.19): the machine's own.
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)

.PHONY: compose-tool

compose-tool:
	@if [ ! -x $(COMPOSE_PLUGIN) ]; then \
		set -e; \
		[ -x $(GO) ] || { echo "compose-tool: Go 1.23+ missing ($(GO))" >&2; exit 1; }; \
		dir=$$($(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) \
			| python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'); \
		mkdir -p $(dir $(COMPOSE_PLUGIN)); \
		cd $$dir && GOFLAGS=-mod=mod $(GO) build -o $(COMPOSE_PLUGIN).tmp ./cmd; \
		mv $(COMPOSE_PLUGIN).tmp $(COMPOSE_PLUGIN); \
	fi

test: compose-tool
