# 通办 Tongban. On a fresh machine with Python 3.11: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
DB     ?= ./tongban.db

.PHONY: install demo serve test test-sqlite lint format bench messages lock audit clean

LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --no-strip-extras --all-build-deps \
              --no-emit-index-url --no-emit-find-links --extra dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every dependency, build tools and pip included, at its locked version and checked against
# its locked hashes; then Tongban itself, which brings nothing unlocked.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

demo: install  ## migrate a SQLite file, load the catalog and demo data, serve
	$(BIN)/tongban demo --host $(HOST) --port $(PORT) --db $(DB)

serve: install
	$(BIN)/tongban serve --host $(HOST) --port $(PORT) --db $(DB)

test: install  ## all tests; also on PostgreSQL when TONGBAN_TEST_DATABASE_URL is set
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install  ## every hot path's figures next to its ceiling
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

messages: install  ## the marked texts as build/messages.pot; what lacks English
	@mkdir -p build
	$(BIN)/pybabel --quiet extract -F babel.cfg -o build/messages.pot src/tongban
	$(BIN)/python -m tests.portal.i18n_tools

lock: install  ## requirements.lock again from pyproject.toml (pins kept; ARGS=--upgrade for newer)
	$(BIN)/pip-compile $(LOCK_FLAGS) $(ARGS) -o requirements.lock pyproject.toml

audit: install  ## the locked dependencies against the known vulnerabilities
	$(BIN)/python .ci/audit.py requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
