# The two commands of the README: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest up venv clean bench bench-smoke real-a1111

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sdfleet demo

up: $(STAMP)
	$(BIN)/sdfleet up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Benchmarks (never part of `make test`): each measures a baseline in the same run and prints ratios;
# results go to bench/results/<ID>.json. `make bench BENCH="B1 B5"` runs some; bench-smoke runs one
# short iteration of each so they cannot rot (CI runs it).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

# The proof on a real AUTOMATIC1111 (tests/real_a1111/, docs/emulator.md): it needs an existing install,
# A1111_HOME=<webui v1.10.1 checkout with repositories/> [A1111_PYTHON=<its python>], and writes its
# fixtures to REAL_A1111_DIR (default var/real-a1111). Without them it says what is missing and fails.
real-a1111: $(STAMP)
	A1111_HOME="$(A1111_HOME)" A1111_PYTHON="$(A1111_PYTHON)" REAL_A1111_DIR="$(REAL_A1111_DIR)" \
	  $(BIN)/python -m tests.real_a1111.prepare
	A1111_HOME="$(A1111_HOME)" A1111_PYTHON="$(A1111_PYTHON)" REAL_A1111_DIR="$(REAL_A1111_DIR)" \
	  $(BIN)/pytest tests/real_a1111 -p no:cacheprovider --durations=0 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
