# cnnguide: `make book` builds the executed book, `make test` runs every check.
# Each target first creates or refreshes the local virtual environment (.venv)
# when it is missing or pyproject.toml has changed since it was filled.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cnnguide-installed

# Quiet TensorFlow's start-up chatter and keep CPU runs repeatable.
export TF_CPP_MIN_LOG_LEVEL  ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0
export PYTHONHASHSEED        ?= 0

.PHONY: help book test unit notebooks lab app bench strip clean

help:
	@echo "make book   build the book with every chapter executed (_build/html)"
	@echo "make test   unit tests, nbval over every notebook, book build check"
	@echo "make lab    JupyterLab on notebooks/"
	@echo "make app    the Streamlit demo page (MODEL=folder, default cnnguide-model)"
	@echo "make bench  benchmarks (speeds and scores)"
	@echo "make strip  remove outputs from notebooks before committing"
	@echo "make clean  remove build outputs (keeps .venv)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test,app]"
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html in a browser."

test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow"

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

# The model `python -m cnnguide train` saves by default; the page explains when it is missing.
MODEL ?= cnnguide-model

app: $(STAMP)
	$(BIN)/python -m cnnguide app $(MODEL)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

strip: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
