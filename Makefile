# The two commands of a fresh machine:  make demo  and  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench setup clean

$(BIN)/heed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/heed

## Set up, serve the bundled demo web on 127.0.0.1 and crawl it into ./demo-out
demo: setup
	$(BIN)/heed demo --out demo-out

## Set up and run the whole test suite (what CI runs): lint (banned imports included), types, tests
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

bench: setup
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
