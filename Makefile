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

lint: install
	$(BIN)/ruff check hub tests bench
	$(BIN)/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
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
	  else echo "Chromium is missing: install Debian's 'chromium' package for the browser tests"; fi; }

bench: install
	$(BIN)/python -m bench.announce
	$(BIN)/python -m bench.realtime

clean:
	rm -rf $(VENV) frontend/node_modules hub/pages/static/dist var
