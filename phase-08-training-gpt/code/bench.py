"""How fast does a training step run here? ``python -m phase08.bench --preset P --device D``.

    python -m phase08.bench --preset nanogpt-cpu --device cpu
    python -m phase08.bench --preset gpt2-124m --device mps --batch_size 8 --grad_accum 1
    python -m phase08.bench --preset gpt2-124m-shakespeare --device cpu --iters 3 --tokens 2.5e9

It times the trainer's own step (``phase08.train.forward_backward`` and
``optimizer_step``: forward, backward, clipping, AdamW, zeroing) on random tokens, after
a few warm-up steps, and prints the median ms per step, tokens per second, MFU against the
device's peak (``phase08.flops.PEAKS``), and the wall time a token budget would take: here,
and on the other devices of the table if they reached the same MFU. Every field of the
training config is a flag too (``--batch_size 8``, ``--compile``, ``--dtype bfloat16``).

A benchmark prints figures; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from phase06.device import pick_device
from phase08.config import PRESETS, TrainConfig, add_field_flags
from phase08.data import Sampler, to_device
from phase08.flops import PEAKS, measure_peak, mfu, model_flops_per_token, peak_flops, synchronize
from phase08.optim import make_adamw
from phase08.train import (
    autocast_context,
    build_model,
    forward_backward,
    optimizer_step,
    resolve_dtype,
)

VOCAB = {"char": 65, "gpt2": 50257}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def bench(cfg: TrainConfig, iters: int = 10, warmup: int = 3, tokens: float | None = None,
          log=print, peak_matmul: bool = False) -> dict:
    """Time ``iters`` training steps of ``cfg`` after ``warmup`` steps; returns the figures.
    ``peak_matmul``: measure the device's matmul FLOP/s first and take MFU against that."""
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dtype = resolve_dtype(cfg.dtype, device)
    peak = cfg.peak_flops
    if peak_matmul and not peak:
        peak = measure_peak(device, dtype)
        log(f"measured peak: {peak / 1e9:,.0f} GFLOP/s ({str(dtype).replace('torch.', '')} "
            f"4096 x 4096 matmuls, {torch.get_num_threads()} threads)")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, VOCAB[cfg.tokenizer]).to(device)
    optimizer, impl = make_adamw(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), device, cfg.adamw_impl)
    step_model = torch.compile(model) if cfg.compile else model
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ctx = autocast_context(device, dtype)
    tokens_data = np.random.default_rng(0).integers(0, VOCAB[cfg.tokenizer], size=2_000_000).astype(np.uint16)
    sampler = Sampler(tokens_data, cfg.block_size, cfg.batch_size, cfg.seed, cfg.grad_accum)
    tokens_per_iter = cfg.tokens_per_iter()
    flops_token = model_flops_per_token(model)
    peak = peak or peak_flops(device, dtype)
    log(f"bench: {model.num_parameters() / 1e6:.2f}M parameters, {device}, {str(dtype).replace('torch.', '')}, "
        f"AdamW {impl}, {'compiled' if cfg.compile else 'eager'}, {torch.get_num_threads()} threads; "
        f"{tokens_per_iter:,} tokens per step ({cfg.batch_size} x {cfg.block_size} x {cfg.grad_accum}); "
        f"{flops_token / 1e6:.1f} MFLOP per token")
    times = []
    for i in range(warmup + iters):
        synchronize(device)
        t0 = time.perf_counter()
        batches = (tuple(to_device(a, device) for a in sampler.micro_batch(i, m)) for m in range(cfg.grad_accum))
        loss = forward_backward(step_model, batches, cfg.grad_accum, ctx, scaler)
        optimizer_step(model, optimizer, scaler, cfg.grad_clip)
        loss.item()
        synchronize(device)
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
        log(f"  step {i:>3}{' (warm-up)' if i < warmup else ''}: {dt * 1e3:9.1f} ms")
    med = statistics.median(times)
    tok_s = tokens_per_iter / med
    util = mfu(tok_s, flops_token, peak)
    budget = tokens if tokens else cfg.max_iters * tokens_per_iter
    out = {"ms_per_iter": med * 1e3, "tokens_per_s": tok_s, "mfu": util, "flops_per_token": flops_token,
           "peak_flops": peak, "budget_tokens": budget, "projected_s": budget / tok_s,
           "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3}
    log(f"median {med * 1e3:.1f} ms/iter (min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}) | "
        f"{tok_s:,.0f} tokens/s | {flops_token * tok_s / 1e9:,.1f} GFLOP/s | MFU "
        + (f"{100 * util:.1f}% of {peak / 1e9:,.0f} GFLOP/s" if util is not None else "n/a (peak unknown: --peak_flops)"))
    log(f"projected: {budget:.3g} tokens at {tok_s:,.0f} tokens/s = {_duration(budget / tok_s)} here")
    if util:
        log(f"at the same MFU ({100 * util:.0f}%) elsewhere, {budget:.3g} tokens would take:")
        for peak_entry in PEAKS.values():
            p = peak_entry.float32 if dtype == torch.float32 else peak_entry.bfloat16
            log(f"  {peak_entry.name:<45} {_duration(budget * flops_token / (p * util)):>10}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m phase08.bench", allow_abbrev=False,
                                argument_default=argparse.SUPPRESS,
                                description="Time the trainer's step: ms/iter, tokens/s, MFU, projected time.")
    p.add_argument("--preset", required=True, choices=list(PRESETS))
    p.add_argument("--iters", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    p.add_argument("--tokens", type=float, default=None, help="token budget to project (default: the preset's run)")
    p.add_argument("--measure_peak", action="store_true", default=False,
                   help="time large matmuls first and take MFU against them (instead of the table)")
    add_field_flags(p)
    ns = vars(p.parse_args(argv))
    name, iters, warmup, tokens = ns.pop("preset"), ns.pop("iters"), ns.pop("warmup"), ns.pop("tokens")
    measure = ns.pop("measure_peak")
    if iters < 1 or warmup < 0 or (tokens is not None and tokens <= 0):
        p.error("--iters must be >= 1, --warmup >= 0 and --tokens > 0")
    try:
        cfg = TrainConfig(**{**PRESETS[name], **ns}).validate()
        bench(cfg, iters, warmup, tokens, peak_matmul=measure)
    except (ValueError, RuntimeError) as e:  # a device that is absent, a dtype it cannot run
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
