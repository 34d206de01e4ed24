# The two commands a learner needs are `make test` and `make train`; each sets itself up.
# Everything runs inside .venv, created on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# torch is installed first and pinned, so that pip never resolves a multi-GB CUDA build
# on its own; on a Mac the same pin takes the MPS-enabled wheel.
TORCH_SPEC ?= torch==2.13.0
STAMP  := $(VENV)/.installed
# pytest-xdist workers: one per core (override with `make test WORKERS=1`), each with one
# BLAS thread: the suite's matrices are small, and two workers x two threads only thrash.
WORKERS ?= auto
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg

.PHONY: test test-slow lint figures links setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## the whole default suite: unit, gradchecks, parity, references, docs and blog snippets
test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) -q

## the long runs too (training to targets)
test-slow: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m tools.links --check

## regenerate every blog figure from code
figures: $(STAMP)
	$(PY) -m tools.figures

## rewrite the #Lx-Ly fragment of every [`symbol`](file.py#Lx-Ly) link after code moved
links: $(STAMP)
	$(PY) -m tools.links --fix

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .import_linter_cache
