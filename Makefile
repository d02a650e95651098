# cnnguide: `make book` builds the executed book, `make test` runs every check.
# Each target first creates or refreshes the local virtual environment (.venv)
# when it is missing or pyproject.toml or the lock (constraints.txt) has changed
# since it was filled; it installs the versions pinned in the lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cnnguide-installed
# The lock: exact versions for every platform and Python (markers inside),
# regenerated from pyproject.toml by `make lock`.
LOCK   := constraints.txt

# Quiet TensorFlow's start-up chatter and keep CPU runs repeatable.
export TF_CPP_MIN_LOG_LEVEL  ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0
export PYTHONHASHSEED        ?= 0

.PHONY: help book classroom pdf test unit notebooks lab app bench screenshot robustness model-selection strip lock clean check-book vendor

help:
	@echo "make book   build the book with every chapter executed (_build/html)"
	@echo "make test   unit tests, nbval over every notebook, book build check"
	@echo "make classroom  student and instructor notebooks for Colab (_build/classroom)"
	@echo "make pdf    the built book as one PDF (_build/pdf/book.pdf)"
	@echo "make check-book  every page of _build/html in headless Chromium, network cut, axe-core"
	@echo "make vendor  re-fetch the vendored browser files in _vendor/ (npm pack)"
	@echo "make lab    JupyterLab on notebooks/"
	@echo "make app    the Streamlit demo page (MODEL=folder, default cnnguide-model)"
	@echo "make bench  benchmarks (speeds and scores)"
	@echo "make screenshot  chapter 12's picture of the app (needs CNNGUIDE_DATA)"
	@echo "make robustness  every chapter under 3 base seeds x (real data, phantoms)"
	@echo "make strip  remove outputs from notebooks before committing"
	@echo "make lock   regenerate constraints.txt from pyproject.toml (uv)"
	@echo "make clean  remove build outputs (keeps .venv)"

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[book,test,app]"
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html in a browser."

# Every page of the built book in headless Chromium with the network cut: page
# errors, math, each explorer and control, axe-core's WCAG 2.1 A/AA rules,
# screenshots in _build/screenshots.
check-book: $(STAMP)
	$(BIN)/python tests/check_book.py _build/html

vendor:
	_vendor/update.sh

test: $(STAMP)
	$(BIN)/ruff check cnnguide tests benchmarks notebooks book
	$(BIN)/ruff format --check cnnguide tests benchmarks notebooks book
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --doctest-modules -p no:cacheprovider cnnguide
	$(if $(NBVAL_PATHS),$(NBVAL_ENV) $(NBVAL) $(NBVAL_PATHS))

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow"

# nbval over every chapter, with whatever data it finds. NBVAL_ENV prefixes the
# run with settings: .ci/run forces the phantoms under another base seed, e.g.
#   make notebooks NBVAL_ENV="CNNGUIDE_PHANTOMS=1 CNNGUIDE_SEED=1 CNNGUIDE_EXPECT_DATA=phantom"
# NBVAL_PATHS names what nbval executes (.ci/run: the student edition of make classroom;
# empty: nothing, as .ci/run's make test leaves it to the later pass).
NBVAL_ENV ?=
NBVAL_PATHS ?= notebooks
NBVAL := PYTHONPATH=tests $(BIN)/python -m pytest -p nbval_data_mode --nbval-lax \
	--nbval-current-env -p no:cacheprovider
notebooks: $(STAMP)
	$(NBVAL_ENV) $(NBVAL) $(NBVAL_PATHS)

# The whole book as one PDF (_build/pdf/book.pdf), printed from the built HTML by
# headless Chromium once MathJax has typeset (book/print_pdf.py); no second execution.
pdf: $(STAMP)
	@test -f _build/html/index.html || $(MAKE) book
	$(BIN)/python book/print_pdf.py

# Class editions of every chapter (book/classroom.py): _build/classroom/student (no
# solutions) and instructor/, plain notebooks for Colab and VS Code, with the numbers of
# the book's build (built first when missing).
classroom: $(STAMP)
	@test -d _build/jupyter_execute/notebooks || $(MAKE) book
	$(BIN)/python book/classroom.py

# Served from the repository root (so the chapters' links to book/references.md open),
# starting in notebooks/. jupyterlab-myst renders the chapters' notes, exercises and numbers.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --FileContentsManager.preferred_dir=notebooks

# The model `python -m cnnguide train` saves by default; the page explains when it is missing.
MODEL ?= cnnguide-model

app: $(STAMP)
	$(BIN)/python -m cnnguide app $(MODEL)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Every chapter under base seeds 0, 1, 2 on the real data and on phantoms (about an
# hour on 2 cores); writes benchmarks/results/robustness.{json,md}. Needs the data:
# CNNGUIDE_DATA=../shared/data make robustness
# The screenshot of the app in chapter 12 (a short model on the real data, the app
# in headless Chromium; about a minute): CNNGUIDE_DATA=../shared/data make screenshot
screenshot: $(STAMP)
	$(BIN)/python benchmarks/app_screenshot.py

robustness: $(STAMP)
	$(BIN)/python benchmarks/robustness.py $(ROBUSTNESS_ARGS)

# The pre-registered model-selection study (benchmarks/model_selection_preregistration.md):
# one stage at a time, STAGE=screen, then confirm, then final (the one scoring of the
# test split; it refuses a second). Writes benchmarks/results/model_selection.json.
# Needs the data: CNNGUIDE_DATA=../shared/data make model-selection STAGE=screen
STAGE ?= screen
model-selection: $(STAMP)
	$(BIN)/python benchmarks/model_selection.py $(STAGE)

strip: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

# A universal lock (every OS, Python >= 3.10) of all extras. Pins already in the
# file are kept where they still fit; `make lock LOCK_FLAGS=--upgrade` moves all.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.10 \
		--custom-compile-command "make lock" --quiet $(LOCK_FLAGS) -o $(LOCK)

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
