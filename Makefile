# The README's commands. Every target installs what it needs into .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export AECORE_CACHE_DIR ?= $(CURDIR)/cache
export NUMBA_CACHE_DIR ?= $(AECORE_CACHE_DIR)/numba

.PHONY: setup setup-dev browser run test test-fast bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

setup-dev: $(VENV)/.installed-dev

# The tests cover the optional Ray backend and the exports too, so the dev setup installs
# the cluster and export extras.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,cluster,export]'
	touch $@

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@bash scripts/ensure-chromium.sh

run: setup
	$(VENV)/bin/streamlit run app.py

test: setup-dev browser
	$(PY) -m pytest

# The two-minute loop: unit, app (AppTest) and a few worker-process tests on tiny data; no
# browser, no real MNIST, nothing marked slow (`make test` runs those too).
test-fast: setup-dev
	$(PY) -m pytest -m "not e2e and not mnist and not slow"

bench: setup-dev browser
	$(VENV)/bin/aecore-bench

lint: setup-dev
	$(VENV)/bin/ruff check aecore benchmarks views dashboard tests app.py scripts

clean:
	rm -rf $(VENV) build *.egg-info
