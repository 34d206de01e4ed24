"""The trainer: it learns, accumulation is exact, resume is exact, NaN stops it, DDP agrees."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import phase08.train as train_mod
from phase08 import checkpoint as ckpt_lib
from phase08.data import Sampler, open_split, to_device
from phase08.train import TrainingDiverged, build_model, forward_backward, launch_local, train

QUIET = dict(log=lambda *a, **k: None)


def write_one_window(folder, block_size: int, vocab: int, seed: int = 0):
    """train.bin = val.bin = one window of random tokens: every batch is the same batch."""
    folder.mkdir(parents=True)
    ids = np.random.default_rng(seed).integers(0, vocab, size=block_size + 1).astype(np.uint16)
    for split in ("train", "val"):
        (folder / f"{split}.bin").write_bytes(ids.tobytes())
    meta = {"tokenizer": "char", "vocab_size": vocab, "dtype": "uint16", "train_tokens": block_size + 1,
            "val_tokens": block_size + 1, "chars": [chr(ord("a") + i) for i in range(vocab)]}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def metrics(out_dir) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_tiny_model_overfits_one_batch(make_config, tmp_path):
    vocab = 12
    data = write_one_window(tmp_path / "one", block_size=16, vocab=vocab)
    cfg = make_config(data_dir=str(data), n_layer=2, n_embd=32, max_iters=150, lr=1e-2, min_lr=1e-2,
                      weight_decay=0.0, eval_interval=150)
    result = train(cfg, **QUIET)
    # at the start the model guesses uniformly: ln 12 = 2.48 nats (init spread: +-0.3)
    assert abs(result.losses[0] - math.log(vocab)) < 0.3
    # 16 positions of one fixed sequence, memorised: under 0.05 nats per token
    assert result.losses[-1] < 0.05, result.losses[-10:]
    assert metrics(tmp_path / "run")[-1]["train_loss"] < 0.05


def _grads(model, batches, n):
    model.zero_grad(set_to_none=True)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss = forward_backward(model, batches, n, torch.autocast("cpu", enabled=False), scaler)
    return loss.item(), {k: p.grad.clone() for k, p in model.named_parameters()}


def test_accumulation_equals_a_4x_batch(char_data, make_config):
    """4 micro-batches of B (each loss divided by 4) give the gradient of one batch of 4B.
    In float64 the only difference is the order of additions (relative tolerance 1e-12)."""
    cfg = make_config(dropout=0.0)
    tokens = open_split(char_data, "train")
    small = Sampler(tokens, cfg.block_size, batch_size=2, seed=3, grad_accum=4)
    large = Sampler(tokens, cfg.block_size, batch_size=8, seed=3, grad_accum=1)
    torch.manual_seed(0)
    model = build_model(cfg, 65).double()
    dev = torch.device("cpu")
    loss4, g4 = _grads(model, [tuple(to_device(a, dev) for a in small.micro_batch(5, m)) for m in range(4)], 4)
    loss1, g1 = _grads(model, [tuple(to_device(a, dev) for a in large.micro_batch(5, 0))], 1)
    assert loss4 == pytest.approx(loss1, rel=1e-12)
    for name in g1:
        scale = g1[name].abs().max().item()
        err = (g4[name] - g1[name]).abs().max().item()
        assert err <= 1e-12 * max(scale, 1e-30), f"{name}: max err {err:.2e} vs scale {scale:.2e}"


def test_accumulation_trains_like_a_4x_batch_float32(make_config):
    """End to end in float32: five steps with batch 4 x accumulation 4 and with batch 16
    give the same losses up to float32 rounding (1e-5 relative)."""
    a = train(make_config("a", batch_size=4, grad_accum=4, max_iters=5, eval_interval=5), **QUIET)
    b = train(make_config("b", batch_size=16, grad_accum=1, max_iters=5, eval_interval=5), **QUIET)
    assert len(a.losses) == len(b.losses) == 5
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-5)


def test_resume_is_exact(make_config, tmp_path):
    """20 steps straight == 10 steps, a new process state from the checkpoint, 10 more: the
    same losses bit for bit (dropout on, so the RNG state matters), the same weights."""
    straight = train(make_config("straight", dropout=0.1, max_iters=20, eval_interval=5), **QUIET)
    first = train(make_config("split", dropout=0.1, max_iters=20, eval_interval=5, stop_iter=10), **QUIET)
    assert first.iter == 10
    torch.manual_seed(12345)  # disturb every generator the checkpoint must restore
    np.random.seed(12345)     # noqa: NPY002 - the global generator is part of the saved state
    second = train(make_config("split", dropout=0.1, max_iters=20, eval_interval=5, resume=True),
                   given={"resume": True}, **QUIET)
    assert second.iter == 20
    assert first.losses + second.losses == straight.losses
    a = ckpt_lib.load(tmp_path / "straight")
    b = ckpt_lib.load(tmp_path / "split")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    rows_a = [(r["iter"], r["train_loss"], r["val_loss"]) for r in metrics(tmp_path / "straight")]
    rows_b = [(r["iter"], r["train_loss"], r["val_loss"]) for r in metrics(tmp_path / "split")]
    assert rows_a == rows_b


def test_resume_refuses_to_change_the_model(make_config):
    train(make_config("r", max_iters=4, eval_interval=2), **QUIET)
    with pytest.raises(ValueError, match="n_layer: checkpoint 1, flag 2"):
        train(make_config("r", n_layer=2, resume=True), given={"resume": True, "n_layer": 2}, **QUIET)


def test_a_new_run_never_overwrites_a_checkpoint(make_config):
    train(make_config("r", max_iters=2, eval_interval=2), **QUIET)
    with pytest.raises(ValueError, match="pass --resume"):
        train(make_config("r", max_iters=2, eval_interval=2), **QUIET)


def _nan_at(monkeypatch, bad_call: int):
    """Make the training loss NaN on the ``bad_call``-th training forward (0-based)."""
    real = train_mod.loss_fn
    calls = {"n": 0}

    def loss_fn(model, x, y):
        loss = real(model, x, y)
        if model.training:
            calls["n"] += 1
            if calls["n"] - 1 == bad_call:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(train_mod, "loss_fn", loss_fn)


def test_nan_loss_stops_with_the_iteration_and_saves_nothing_new(make_config, monkeypatch, tmp_path):
    cfg = make_config("nan", max_iters=20, eval_interval=5)
    _nan_at(monkeypatch, bad_call=12)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at iteration 12\b") as e:
        train(cfg, **QUIET)
    assert "still holds iteration 10" in str(e.value)
    assert ckpt_lib.load(tmp_path / "nan")["iter"] == 10
    assert [r["iter"] for r in metrics(tmp_path / "nan")] == [0, 5, 10]


def test_nan_before_any_checkpoint_leaves_none(make_config, monkeypatch, tmp_path):
    _nan_at(monkeypatch, bad_call=2)
    with pytest.raises(TrainingDiverged, match=r"iteration 2\b.*no checkpoint had been written"):
        train(make_config("nan0", max_iters=20, eval_interval=5), **QUIET)
    assert not (tmp_path / "nan0" / "ckpt.pt").exists()


def test_max_seconds_stops_and_checkpoints(make_config, tmp_path):
    result = train(make_config("budget", max_iters=10_000, eval_interval=10_000, max_seconds=0.5), **QUIET)
    assert 0 < result.iter < 10_000 and "time budget" in result.stop_reason
    assert ckpt_lib.load(tmp_path / "budget")["iter"] == result.iter
    assert metrics(tmp_path / "budget")[-1]["iter"] == result.iter


def test_output_folder_contract(make_config, tmp_path):
    train(make_config("contract", max_iters=6, eval_interval=3), **QUIET)
    out = tmp_path / "contract"
    rows = metrics(out)
    assert [r["iter"] for r in rows] == [0, 3, 6]
    for r in rows:
        assert {"iter", "train_loss", "val_loss", "elapsed_s", "tokens_seen"} <= set(r)
    assert rows[-1]["tokens_seen"] == 6 * 4 * 16  # steps x batch x block
    assert [r["elapsed_s"] for r in rows] == sorted(r["elapsed_s"] for r in rows)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["n_layer"] == 1 and cfg["dtype_run"] == "float32"
    # weights_only=True loads it: only tensors and primitive containers inside
    state = torch.load(out / "ckpt.pt", weights_only=True)
    assert state["iter"] == 6 and state["sampler_step"] == 6


def test_ddp_two_gloo_processes_match_one_process(make_config):
    """2 processes x batch 4 (gloo, 127.0.0.1) == 1 process x batch 8: the same windows,
    the gradient all-reduced as a mean. float32 sums in another order: 1e-5 relative."""
    one = train(make_config("one", batch_size=8, max_iters=4, eval_interval=4), **QUIET)
    two = launch_local(make_config("two", batch_size=4, max_iters=4, eval_interval=4), world_size=2)
    assert two.iter == 4
    np.testing.assert_allclose(two.losses, one.losses, rtol=1e-5)
    for a, b in zip(one.evals, two.evals):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    a = ckpt_lib.load(one.out_dir)["model"]
    b = ckpt_lib.load(two.out_dir)["model"]
    # AdamW divides by sqrt(v): an element whose gradient is a cancellation of larger terms
    # can move by a sizeable part of lr (3e-3) on rounding alone; the bulk agrees to 1e-5.
    for k in a:
        close = torch.isclose(a[k], b[k], rtol=1e-4, atol=1e-5).float().mean().item()
        assert close > 0.99, f"{k}: only {close:.3f} of the elements agree"
