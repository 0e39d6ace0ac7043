# The two commands of the README: `make demo` and `make test`. Both build .venv/ from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo's port: make demo PORT=8080 (issue 13).
PORT ?= 8000

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/landun demo --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Integration tests run against the real Kafka and Redis that `services` starts (mk/services.mk).
test: lint services
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV)

include mk/services.mk
include mk/web.mk
include mk/bench.mk
include mk/compose.mk
