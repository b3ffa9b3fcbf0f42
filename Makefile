# The README's two commands: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= riverton
PORT   ?= 8000

.PHONY: install chromium wrk demo test lint bench campaign clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

install: $(STAMP) chromium wrk

# The browser tests drive Debian's Chromium (Playwright never downloads one). As root, install
# it when it is missing; otherwise say so, and the browser tests skip (they fail under CI=true).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "Chromium not found: browser tests will skip (as root: apt-get install chromium)"; \
	  fi; \
	fi

# bench/portal drives its load with wrk; as root, install it when it is missing.
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else \
	    echo "wrk not found: the portal benchmark's test will skip (as root: apt-get install wrk)"; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/civicstat demo $(DEMO) --port $(PORT)

test: $(STAMP) chromium wrk
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) wrk
	$(BIN)/python -m bench.ingest $(BENCH_ARGS)
	$(BIN)/python -m bench.measures $(BENCH_ARGS)
	$(BIN)/python -m bench.pages $(BENCH_ARGS)
	$(BIN)/python -m bench.portal $(BENCH_ARGS)

# Long campaigns, kept out of `make test` (which runs short versions of the same code).
campaign: $(STAMP)
	$(BIN)/python -m bench.schemathesis_campaign --examples $(or $(EXAMPLES),500)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
