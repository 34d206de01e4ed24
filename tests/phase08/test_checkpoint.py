"""Checkpoints: atomic under a crash mid-write, refused when corrupt or foreign, RNG exact."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from phase08 import checkpoint as ckpt_lib
from phase08.checkpoint import CheckpointError
from phase08.train import main, train

QUIET = dict(log=lambda *a, **k: None)


@pytest.fixture
def trained(make_config, tmp_path):
    """A run with a good checkpoint at iteration 4."""
    cfg = make_config("run", max_iters=4, eval_interval=2)
    train(cfg, **QUIET)
    return tmp_path / "run"


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_crash_inside_torch_save_leaves_the_old_checkpoint(trained, monkeypatch):
    before = (trained / "ckpt.pt").read_bytes()
    real_save = torch.save

    def save_half_then_die(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        f.truncate(f.tell() // 2)  # half a file on disk, then the "power cut"
        raise OSError("simulated crash mid-write")

    monkeypatch.setattr(ckpt_lib.torch, "save", save_half_then_die)
    with pytest.raises(OSError, match="simulated crash"):
        ckpt_lib.save_atomic({"format": "x"}, trained / "ckpt.pt")
    assert (trained / "ckpt.pt").read_bytes() == before
    assert ckpt_lib.load(trained)["iter"] == 4
    assert not [n for n in _files(trained) if n.endswith(".tmp")], "the temporary file is left behind"


def test_a_crash_at_the_rename_leaves_the_old_checkpoint(trained, monkeypatch):
    before = (trained / "ckpt.pt").read_bytes()

    def die(*a, **k):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(ckpt_lib.os, "replace", die)
    state = ckpt_lib.load(trained)
    state["iter"] = 99
    with pytest.raises(OSError, match="before the rename"):
        ckpt_lib.save_atomic(state, trained / "ckpt.pt")
    assert (trained / "ckpt.pt").read_bytes() == before
    assert not [n for n in _files(trained) if n.endswith(".tmp")]


def test_a_crash_during_training_keeps_the_last_good_checkpoint(make_config, tmp_path, monkeypatch):
    """The trainer's own save dies at iteration 4: iteration 2's checkpoint survives and resumes."""
    cfg = make_config("crash", max_iters=6, eval_interval=2)
    real = ckpt_lib.save_atomic
    calls = {"n": 0}

    def flaky(state, path):
        calls["n"] += 1
        if state["iter"] == 4:
            raise OSError("disk full")
        return real(state, path)

    monkeypatch.setattr(ckpt_lib, "save_atomic", flaky)
    with pytest.raises(OSError, match="disk full"):
        train(cfg, **QUIET)
    assert ckpt_lib.load(tmp_path / "crash")["iter"] == 2
    monkeypatch.setattr(ckpt_lib, "save_atomic", real)
    result = train(make_config("crash", max_iters=6, eval_interval=2, resume=True), given={"resume": True}, **QUIET)
    assert result.iter == 6


def test_truncated_file_is_a_clear_error(trained, tmp_path):
    bad = tmp_path / "bad.pt"
    data = (trained / "ckpt.pt").read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        ckpt_lib.load(bad)


def test_random_bytes_are_a_clear_error(tmp_path):
    bad = tmp_path / "noise.pt"
    bad.write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        ckpt_lib.load(bad)


def test_a_foreign_checkpoint_is_refused(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "iter_num": 3}, foreign)  # e.g. another trainer's
    with pytest.raises(CheckpointError, match="not a phase08 checkpoint"):
        ckpt_lib.load(foreign)


class Evil:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_a_pickled_object_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": ckpt_lib.FORMAT, "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        ckpt_lib.load(path)


def test_resume_from_a_corrupt_checkpoint_is_a_clear_cli_error(trained, capsys):
    (trained / "ckpt.pt").write_bytes(b"not a checkpoint")
    code = main(["--config", "tiny", "--out_dir", str(trained), "--resume", "--threads", "1"])
    assert code == 2
    assert "is not a readable checkpoint" in capsys.readouterr().err


def test_rng_states_round_trip(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002 - the global generators are what is saved
    random.seed(3)
    state = ckpt_lib.rng_state(torch.device("cpu"))
    expected = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    path = ckpt_lib.save_atomic({"rng": state}, tmp_path / "rng.pt")
    loaded = torch.load(path, weights_only=True)["rng"]
    torch.manual_seed(9)
    np.random.seed(9)  # noqa: NPY002
    random.seed(9)
    ckpt_lib.set_rng_state(loaded, torch.device("cpu"))
    again = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]
