# The README quickstart is `make run` and `make test`; both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/vertebro assess examples/aospine_case.json
	$(BIN)/vertebro assess examples/ajnr_instrumented_case.json
	$(BIN)/vertebro demo seed --patients 300 --sites 3 --seed 1 --if-empty
	$(BIN)/vertebro registry summary --as researcher
	$(BIN)/vertebro registry show SYN-00001 --as clin-demo1
	$(BIN)/vertebro analytics audit --as researcher --by technique
	$(BIN)/vertebro demo seed --patients 300 --sites 3 --seed 1 --if-empty --demo-passwords

test: install
	$(BIN)/pytest
	PYTHON=$(BIN)/python scripts/with_postgres.sh $(BIN)/pytest tests/registry

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/assess_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
