# cnnbook: `make book` builds the website, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Notebooks run with their own folder as working directory: make the data path absolute.
ifdef CNNBOOK_DATA
export CNNBOOK_DATA := $(abspath $(CNNBOOK_DATA))
endif
NOTEBOOKS := $(wildcard chapters/*.ipynb exercises/*.ipynb appendix/*.ipynb)
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: all venv book test test-native test-portable execute timings serve clean lint sync

all: book

# d2l: a test and benchmark dependency only, without its exact pins (requirements.txt).
D2L := d2l==1.0.3
venv: $(BIN)/.installed
$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps $(D2L)
	touch $@

# The website, from the committed notebook outputs (nbval keeps them true). The
# landing page's results table is generated from the notebooks' `cnnbook-result`
# lines; MathJax is served by the site itself, not a CDN (tools/cnnbook_sphinx.py).
# --all rereads every page (seconds), so every warning fails every build and
# changes to _static/ always land.
book: venv mathjax
	$(BIN)/python tools/results_table.py
	$(BIN)/python tools/book_map.py
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "open _build/html/index.html"

.PHONY: mathjax chromium
# MathJax 3 into an ignored folder (once per version), copied from the PyPI package
# django-static-mathjax that requirements.txt installs: no Node.js or npm needed.
mathjax: venv
	$(BIN)/python tools/vendor_mathjax.py _build/vendor/mathjax

# A Chromium or Chrome for the browser test, tests/test_site.py: the machine's own
# (tools/find_chromium.py), else Debian's package where root and apt-get can install it.
chromium: venv
	bash tools/ensure_chromium.sh $(BIN)/python

# ruff, then pytest on tests/ and nbval on every notebook, computed as a machine of
# another kind would (test-portable), several files at a time (WORKERS: one per core).
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(os.cpu_count() or 1)')
XDIST := -p xdist -n $(WORKERS) --dist loadfile
test: venv lint book chromium
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest $(XDIST) tests
	$(MAKE) test-portable

# nbval on every notebook, computed as another machine would: a smaller instruction
# set where there is one to fall back to and, on four cores or more, another thread
# count (tools/portable.py says which). Extra settings: PORTABLE_ARGS="--set OMP_NUM_THREADS=4".
test-portable: venv
	$(BIN)/python tools/portable.py $(PORTABLE_ARGS) $(NOTEBOOKS)

# nbval on every notebook as this machine computes by default, one thread per notebook
# (how `make execute` is run for the committed outputs: OMP_NUM_THREADS=1).
test-native: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest $(XDIST) $(NOTEBOOKS) $(NBVAL)

# Bring each notebook and its paired percent-format script (same name, .py) in
# line, from whichever was edited last (jupytext.toml); outputs are kept.
sync: venv
	$(BIN)/jupytext --sync $(NOTEBOOKS)

# Re-execute every notebook in place under the current CNNBOOK_PROFILE, at one thread
# unless OMP_NUM_THREADS says otherwise, then write the glued values into the prose
# (tools/glue_text.py).
execute: venv
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python tools/execute_notebooks.py $(NB)

# Run every notebook (not written back) and print its run time.
timings: venv
	$(BIN)/python tools/execute_notebooks.py --timings-only $(NB)

# utils' training pipeline against the usual DataLoader one (see bench/README.md);
# e.g. make bench BENCH_ARGS="--rounds 2 --beyond".
.PHONY: bench
bench: venv
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

serve: book
	$(BIN)/python -m http.server --directory _build/html --bind 127.0.0.1 8000

lint: venv
	$(BIN)/ruff check utils tests tools bench chapters exercises appendix scripts

clean:
	rm -rf _build .pytest_cache .hypothesis
