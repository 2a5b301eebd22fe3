# The two commands of the README: `make run` and `make test`, from a fresh clone.
VENV      := .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
DIST      := hub/pages/static/dist/app.js
CHROMIUM  := /usr/bin/chromium

.PHONY: run test lint install frontend browser clean bench

run: install frontend
	$(BIN)/hub dev

test: install frontend browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install frontend
	$(BIN)/ruff check hub tests bench
	$(BIN)/mypy
	cd frontend && npm run typecheck

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "hub needs Python 3.11 or newer (set PYTHON=python3.12 etc.)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "could not create .venv: on Debian install the python3-venv package"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

frontend: $(DIST)

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

$(DIST): frontend/node_modules/.package-lock.json $(wildcard frontend/src/*) frontend/package.json
	cd frontend && npm run build

# Browser tests drive Debian's Chromium; Playwright cannot download its own here.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: install Debian's 'chromium' package (the browser tests need it)"; exit 1; fi; }

# The announce load generator is C (bench/loadgen.c): it needs a C compiler.
bench: install frontend
	@command -v cc >/dev/null || command -v gcc >/dev/null || \
	  { echo "make bench needs a C compiler (Debian: apt-get install gcc)"; exit 1; }
	$(BIN)/python -m bench.announce
	$(BIN)/python -m bench.realtime

clean:
	rm -rf $(VENV) frontend/node_modules hub/pages/static/dist var
