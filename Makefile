# The two commands: `make demo` and `make test`. Both need only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install install-dev demo test bench browser clean

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

bench: install-dev                   ## every benchmark in bench/ (DATABASE_URL for the PostgreSQL ones)
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

browser:                             ## Debian's Chromium for the browser tests (needs root)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf $(VENV) var
