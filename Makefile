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

.PHONY: train test test-slow lint figures links setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## train a Shakespeare GPT on the best device here (CPU: ~90 s on 2 cores), print a sample,
## write out/<preset>/loss.png. More flags: make train TRAIN_ARGS="--max_iters 5000 --out_dir out/long"
TRAIN_ARGS ?=
train: $(STAMP)
	$(PY) -m phase08.train --config shakespeare-char --device auto $(TRAIN_ARGS)

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
