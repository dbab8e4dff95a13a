# The two commands of the README's quick start are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install install-test run serve test lint format bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python  ## the service, its runtime dependencies and the pages' JS/CSS (from npm)
	$(BIN)/pip install --quiet -e .
	$(BIN)/python scripts/fetch_assets.py

install-test: install  ## plus pytest, hypothesis, playwright, ruff and mypy
	$(BIN)/pip install --quiet -e ".[test]"

run: install  ## load the bundled Dali demo into SQLite (idempotent) and serve it
	$(BIN)/redgrid demo load
	$(BIN)/redgrid run --host $(HOST) --port $(PORT)

serve: install  ## production: gunicorn with webmap/serving.py's settings (threaded, slow-client safe)
	$(BIN)/gunicorn -c python:webmap.serving -b $(HOST):$(PORT) 'webmap:create_app()'

test: install-test  ## system packages the tests need, then the whole suite
	scripts/install-test-deps
	$(BIN)/python -m pytest

lint: install-test  ## ruff's rules on everything, mypy on the layers under the adapters (pyproject [tool.mypy])
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-test  ## rewrite the code in ruff's format
	$(BIN)/ruff format .

screenshots: install-test  ## the docs' pictures (docs/screenshots/*.png) from the demo, in Chromium
	$(BIN)/python scripts/screenshots.py

bench: install-test  ## point-in-grid benchmark (see bench/README.md)
	$(BIN)/python bench/locate_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
