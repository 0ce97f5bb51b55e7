# The two commands: `make demo` and `make test`. Both need only Python 3.11.
# While you work: `make lint` (seconds) and `make test-fast` (a few minutes); see the README.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# pytest-xdist workers: one per core by default.
JOBS ?= auto
# Tests that train or generate with a model, start a worker process, run a benchmark,
# fuzz the API or drive Chromium (tests/conftest.py refuses an unmarked worker, bench or
# browser test).
FAST := not slow and not browser

.PHONY: install install-dev demo lint test-fast test chaos bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q ".[dev]"
	@touch $@

install: $(VENV)/.installed          ## create .venv and install the product

install-dev: $(VENV)/.installed-dev  ## plus the test tools

demo: install                        ## run the product on its embedded default, with demo data
	$(BIN)/python manage.py demo --port $(PORT)

lint: install-dev                    ## formatting, lint rules and the import contracts (pyproject.toml)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

test-fast: lint                      ## lint, then every test but the slow and browser ones, in parallel
	$(BIN)/python -m pytest -m "$(FAST)" -n $(JOBS) --dist loadgroup $(PYTEST_ARGS)

test: lint                           ## lint, then the whole suite in parallel: what CI runs (DATABASE_URL/REDIS_URL pick real services)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup $(PYTEST_ARGS)

chaos: install-dev                   ## the full chaos suite: every job kind x (kill -9, Redis restart, DB drop); needs DATABASE_URL (PostgreSQL)
	@test -n "$$DATABASE_URL" || (echo "make chaos needs DATABASE_URL (PostgreSQL)"; exit 2)
	@mkdir -p var; rm -f var/chaos-report.txt
	@CHAOS=full CHAOS_REPORT=var/chaos-report.txt $(BIN)/python -m pytest -p no:cacheprovider -q tests/test_chaos.py; \
	  status=$$?; echo; cat var/chaos-report.txt 2>/dev/null; exit $$status

bench: install-dev                   ## every benchmark in bench/ (DATABASE_URL for the PostgreSQL ones)
	@set -e; for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b; done

browser:                             ## Debian's Chromium for the browser tests (needs root)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf $(VENV) var
