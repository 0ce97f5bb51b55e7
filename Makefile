# The two commands: `make demo` and `make test`. Both need only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install install-dev demo test chaos bench browser clean

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

test: install-dev                    ## the whole test suite (DATABASE_URL/REDIS_URL pick real services)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chaos: install-dev                   ## the full chaos suite: every job kind x (kill -9, Redis restart, DB drop); needs DATABASE_URL (PostgreSQL)
	@test -n "$$DATABASE_URL" || (echo "make chaos needs DATABASE_URL (PostgreSQL)"; exit 2)
	@mkdir -p var; rm -f var/chaos-report.txt
	@CHAOS=full CHAOS_REPORT=var/chaos-report.txt $(BIN)/python -m pytest -p no:cacheprovider -q tests/test_chaos.py; \
	  status=$$?; echo; cat var/chaos-report.txt 2>/dev/null; exit $$status

bench: install-dev                   ## every benchmark in bench/ (DATABASE_URL for the PostgreSQL ones)
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

browser:                             ## Debian's Chromium for the browser tests (needs root)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf $(VENV) var
