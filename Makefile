# One command per task, the same locally and in CI. Each target sets itself up on a fresh machine
# and is quick when already set up.

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.vigil-installed
# The CPU build of torch must come before anything that depends on torch, or pip pulls CUDA.
TORCH   := torch==2.13.0
ARGS    ?=
PYTEST_ARGS ?=

.PHONY: setup system-deps up test lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian packages the tests use (Chromium for the browser tests). Installed when missing and
# when this user can; otherwise those tests skip (and fail in CI, which installs them itself).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium; browser tests will skip"; \
	  else echo "chromium missing (apt-get install chromium); browser tests will skip"; fi; \
	fi

up: setup
	$(VENV)/bin/vigil up $(ARGS)

test: setup system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy core
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) -m bench.bus $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
