"""Fixtures of the phase-08 tests: a small prepared data set and tiny training configs.

Every run here is a tiny model on one CPU thread (the suite runs one worker per core), and
writes only into pytest's tmp_path.
"""

from __future__ import annotations

import pytest

from phase00.data import read_text
from phase08.config import TrainConfig
from phase08.prepare import prepare_files

N_CHARS = 40_000  # the first 40k characters of Tiny Shakespeare: 36k train, 4k val


@pytest.fixture(scope="session")
def shakespeare_head(tmp_path_factory):
    """A text file with the first N_CHARS characters of Tiny Shakespeare."""
    path = tmp_path_factory.mktemp("text") / "head.txt"
    path.write_text(read_text()[:N_CHARS], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def char_data(tmp_path_factory, shakespeare_head):
    """That text prepared with the character tokenizer."""
    out = tmp_path_factory.mktemp("char-data")
    prepare_files([shakespeare_head], out, "char")
    return out


def tiny_config(out_dir, data_dir, **overrides) -> TrainConfig:
    """A model of a few thousand parameters that trains a step in milliseconds."""
    values = dict(out_dir=str(out_dir), data_dir=str(data_dir), n_layer=1, n_head=2, n_embd=16,
                  block_size=16, dropout=0.0, batch_size=4, grad_accum=1, max_iters=20, lr=3e-3,
                  min_lr=3e-4, warmup_iters=2, eval_interval=10, eval_iters=2, log_interval=1000,
                  threads=1, seed=7)
    values.update(overrides)
    return TrainConfig(**values).validate()


@pytest.fixture
def make_config(char_data, tmp_path):
    """``make_config(name="run", **overrides)``: a tiny config writing into tmp_path/name."""
    def make(name: str = "run", **overrides) -> TrainConfig:
        data_dir = overrides.pop("data_dir", char_data)
        return tiny_config(tmp_path / name, data_dir, **overrides)

    return make
