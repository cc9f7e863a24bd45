# Two entry points do all the set-up: `make demo` and `make test`.
# `make test` is every check and every test but the long experiments (marked long);
# `make test-all` adds those, and CI runs both. `make test-fast` is the edit-test loop:
# the tests not marked slow.
# `make test-torch` installs the bench extra (PyTorch) and runs the oracle tests that
# compare the RNN, GRU and LSTM with torch.nn's, and the PyTorch export's tests (tests/export);
# without torch they are skipped.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all test-long test-fast test-numpy test-torch lint venv clean kernels

# The optional compiled kernels (src/charrnn/core/kernels/fused.c), built for this
# machine in under a second; without a C compiler this prints nothing and charrnn runs
# its numpy cells as before.
KERNELS := src/charrnn/core/kernels/_fused.so

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,progress,plot]'
	touch $(STAMP)

$(KERNELS): src/charrnn/core/kernels/fused.c src/charrnn/core/kernels/build.py | $(STAMP)
	$(BIN)/python -m charrnn.core.kernels.build --quiet

kernels: $(STAMP)
	$(BIN)/python -m charrnn.core.kernels.build

venv: $(STAMP)

demo: $(STAMP) $(KERNELS)
	$(BIN)/charrnn demo

# The house's checks first (lint, layout, the layer contracts, types), then the suite
# on every core.
test: $(STAMP) $(KERNELS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n auto -m "not long"

test-all: test test-long

test-long: $(STAMP) $(KERNELS)
	$(BIN)/python -m pytest -q -n auto -m long

test-fast: $(STAMP) $(KERNELS)
	$(BIN)/python -m pytest -q -n auto -m "not slow"

# The suite on the numpy cells alone, as an install without a C compiler runs it
# (CHARRNN_KERNELS=numpy makes kernels="auto" mean numpy); CI runs it after make test.
test-numpy: $(STAMP)
	CHARRNN_KERNELS=numpy $(BIN)/python -m pytest -q -n auto -m "not long"

test-torch: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pytest -q tests/core/test_torch_oracle.py tests/export/test_torch.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache src/charrnn/core/kernels/_fused.*
