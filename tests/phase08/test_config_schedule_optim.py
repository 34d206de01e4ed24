"""Config flags, presets, the LR schedule, and AdamW's decay groups."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from phase07.gpt import GPT, GPTConfig
from phase08.config import PRESETS, TrainConfig, flag_fields, parse_args, preset
from phase08.optim import choose_impl, make_adamw, param_groups
from phase08.schedule import WarmupCosine


# ------------------------------------------------------------------------------ config
def _sample_value(f: dataclasses.Field) -> tuple[str, object]:
    """A valid non-default value for a field, as a flag string and as the parsed value."""
    default = f.default
    if isinstance(default, bool):
        return ("false" if default else "true"), (not default)
    special = {"tokenizer": "gpt2", "dtype": "float32", "adamw_impl": "for-loop", "device": "cpu",
               "out_dir": "somewhere/else", "data_dir": "some/data", "sample_prompt": "JULIET:",
               "gelu": "exact"}
    numbers = {"n_embd": 64, "n_head": 4, "max_iters": 100, "lr_decay_iters": 50}
    if f.name in special:
        return special[f.name], special[f.name]
    if f.name in numbers:
        return str(numbers[f.name]), numbers[f.name]
    if isinstance(default, int):
        return "3", 3
    return "0.05", 0.05


@pytest.mark.parametrize("field", flag_fields(), ids=lambda f: f.name)
def test_every_field_is_a_flag_in_both_spellings(field):
    text, value = _sample_value(field)
    base = ["--config", "tiny"] + (["--lr", "0.1"] if field.name == "min_lr" else [])
    eq = parse_args(base + [f"--{field.name}={text}"])[0]
    sp = parse_args(base + [f"--{field.name}", text])[0]
    assert getattr(eq, field.name) == value
    assert getattr(sp, field.name) == value


def test_a_bare_bool_flag_means_true_and_explicit_flags_are_reported():
    cfg, name, given = parse_args(["--config", "tiny", "--compile", "--plot=0"])
    assert cfg.compile is True and cfg.plot is False
    assert name == "tiny" and given == {"compile": True, "plot": False}
    assert cfg.n_layer == PRESETS["tiny"]["n_layer"]


@pytest.mark.parametrize("argv, message", [
    (["--n_layers=4"], "unrecognized arguments: --n_layers=4"),
    (["--n_lay=4"], "unrecognized arguments"),              # no silent abbreviations
    (["--n_layer=four"], "invalid int value: 'four'"),
    (["--n_layer=0"], "n_layer must be >= 1, got 0"),
    (["--n_embd=100", "--n_head=3"], r"n_embd \(100\) must be a multiple of n_head \(3\)"),
    (["--dropout=1.5"], r"dropout must be in \[0, 1\)"),
    (["--compile=maybe"], "expected a boolean"),
    (["--dtype=float8"], "dtype must be one of"),
    (["--gelu=relu"], "gelu must be one of tanh, exact"),
    (["--device=tpu"], "device must be one of"),
    (["--config=nope"], "invalid choice: 'nope'"),
    (["--min_lr=1", "--lr=0.1"], r"min_lr \(1.0\) must not exceed lr \(0.1\)"),
])
def test_bad_flags_are_refused_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_presets_are_valid_and_the_cpu_one_fits_its_budget():
    for name in PRESETS:
        preset(name).validate()
    cpu = preset("shakespeare-char-cpu")
    gpu = preset("shakespeare-char")
    assert (gpu.n_layer, gpu.n_head, gpu.n_embd, gpu.block_size) == (6, 6, 384, 256)
    # the CPU preset is smaller in every dimension that costs time
    assert cpu.n_embd < gpu.n_embd and cpu.block_size < gpu.block_size and cpu.max_iters <= gpu.max_iters
    big = preset("gpt2-124m")
    assert big.tokens_per_iter() == 16 * 1024 * 30 == 491_520


def test_config_round_trips_through_its_dict():
    cfg = preset("tiny")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown config fields"):
        TrainConfig.from_dict({**cfg.to_dict(), "learning_rate": 1.0})


# ------------------------------------------------------------------------------ schedule
def test_schedule_warms_up_linearly_then_follows_the_cosine():
    s = WarmupCosine(lr=6e-4, min_lr=6e-5, warmup=10, decay=110)
    # warmup: (step + 1) / 10 of the peak
    assert [s(i) for i in (0, 4, 9)] == pytest.approx([6e-5, 3e-4, 6e-4], rel=1e-12)
    # the cosine: peak at the start, halfway at the middle, floor at the end and after
    assert s(10) == pytest.approx(6e-4, rel=1e-12)
    assert s(60) == pytest.approx((6e-4 + 6e-5) / 2, rel=1e-12)
    assert s(35) == pytest.approx(6e-5 + (6e-4 - 6e-5) * (1 + math.cos(math.pi / 4)) / 2, rel=1e-12)
    assert s(110) == s(500) == pytest.approx(6e-5, rel=1e-12)
    values = [s(i) for i in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:])), "the cosine never goes up"


def test_schedule_rejects_nonsense():
    with pytest.raises(ValueError, match="warmup <= decay"):
        WarmupCosine(1.0, 0.1, warmup=20, decay=10)
    with pytest.raises(ValueError, match="min_lr <= lr"):
        WarmupCosine(1.0, 2.0, warmup=1, decay=10)


# ------------------------------------------------------------------------------ AdamW
def test_only_matrices_are_decayed_and_the_tied_matrix_once():
    model = GPT(GPTConfig.from_preset("tiny"))
    decay, keep = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and keep["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and all(p.dim() == 1 for p in keep["params"])
    ids = [id(p) for p in decay["params"] + keep["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert sum(p.numel() for p in decay["params"] + keep["params"]) == model.num_parameters()
    # 2 blocks x (c_attn, c_proj, c_fc, c_proj) + wte (= lm_head) + wpe
    assert len(decay["params"]) == 2 * 4 + 2


def test_our_adamw_step_equals_a_hand_written_decoupled_step():
    """One step from zero moments: p <- p - lr*wd*p (matrices only) - lr * g / (|g| + eps)
    (bias-corrected m/sqrt(v) is g/|g| at step 1). float64, tolerance 1e-12."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4)).double()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    opt, impl = make_adamw(model, lr=0.01, weight_decay=0.1, betas=(0.9, 0.95),
                           device=torch.device("cpu"), impl="for-loop")
    model(torch.randn(5, 3, dtype=torch.float64)).pow(2).sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    opt.step()
    for k, p in model.named_parameters():
        wd = 0.1 if p.dim() >= 2 else 0.0
        expected = before[k] * (1 - 0.01 * wd) - 0.01 * grads[k] / (grads[k].abs() + 1e-8)
        torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=1e-12)


def test_adamw_implementation_choice():
    assert choose_impl("auto", torch.device("cpu")) == "fused"  # torch >= 2.4 has a fused CPU kernel
    assert choose_impl("for-loop", torch.device("cpu")) == "for-loop"
    with pytest.raises(ValueError, match="adamw_impl"):
        choose_impl("turbo", torch.device("cpu"))
