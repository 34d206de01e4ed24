"""Train the NumPy GPT on Tiny Shakespeare, one character per token, and sample from it.

    python -m phase05.train_lm                     # ~1500 steps; val loss < 2.0 within minutes
    python -m phase05.train_lm --steps 3000 --n-layer 6

The model is ``phase05.lm.GPT`` (4 layers, d_model 128, 4 heads, context 64 by default),
float32, trained with AdamW (weight decay on matrices only), gradient clipping at 1.0 and
a cosine learning rate after a linear warm-up. Every ``--eval-every`` steps it reports the
mean loss on held-out batches of the last 10% of the text; at the end it prints samples.

Run as a program it asks the BLAS library for one thread (``OPENBLAS_NUM_THREADS=1``, unless
you set it): on a machine shared by several jobs, a multi-threaded BLAS spends most of its
time waiting for a busy core. ``metrics.jsonl``, ``model.npz`` and ``samples.txt`` go to
``--out`` (default ``runs/phase05-lm``).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before NumPy loads its BLAS (see the docstring)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from phase00.data import read_text, train_val_split  # noqa: E402
from phase01.losses import SoftmaxCrossEntropy  # noqa: E402
from phase01.optim import AdamW, clip_grad_norm  # noqa: E402
from phase01.schedules import cosine_with_warmup, set_lr  # noqa: E402
from phase03.tokenizer import CharTokenizer  # noqa: E402
from phase05.lm import GPT, GPTConfig  # noqa: E402


@dataclass
class LMConfig:
    block_size: int = 64          # context length
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    batch_size: int = 32
    steps: int = 1500
    lr: float = 2e-3              # peak learning rate
    min_lr: float = 1e-4          # end of the cosine
    warmup: int = 100
    weight_decay: float = 0.1
    beta2: float = 0.99           # a small model on few tokens per step: a shorter memory
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 20        # held-out batches per evaluation (fixed, so curves compare)
    log_every: int = 20
    target: float = 2.0           # report when the val loss first reaches this
    sample_chars: int = 500
    temperature: float = 0.8
    seed: int = 1337
    out: str = "runs/phase05-lm"


def load_data(val_fraction: float = 0.1) -> tuple[CharTokenizer, np.ndarray, np.ndarray]:
    """Tiny Shakespeare as ids: ``(tokenizer, train ids, val ids)``; val is the last 10%."""
    text = read_text()
    tok = CharTokenizer().train(text)
    train_text, val_text = train_val_split(text, val_fraction)
    return tok, np.array(tok.encode(train_text), dtype=np.int64), np.array(tok.encode(val_text), dtype=np.int64)


def get_batch(data: np.ndarray, batch_size: int, block_size: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random windows: inputs ``x (B, T)`` and the next characters ``y (B, T)``."""
    start = rng.integers(0, len(data) - block_size - 1, size=batch_size)   # (B,)
    idx = start[:, None] + np.arange(block_size)                           # (B, T)
    return data[idx], data[idx + 1]


def param_groups(model: GPT, weight_decay: float) -> list[dict]:
    """Decay the matrices (embeddings and Linear weights), not the biases and LayerNorms."""
    decay = [p for _, p in model.named_parameters() if p.data.ndim >= 2]
    rest = [p for _, p in model.named_parameters() if p.data.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def estimate_loss(model: GPT, data: np.ndarray, cfg: LMConfig) -> float:
    """Mean loss over ``cfg.eval_batches`` batches drawn with a fixed seed, in eval mode."""
    rng = np.random.default_rng(0)
    loss_fn = SoftmaxCrossEntropy()
    was_training = model.training
    model.eval()
    losses = [loss_fn(model(x), y) for x, y in
              (get_batch(data, cfg.batch_size, cfg.block_size, rng) for _ in range(cfg.eval_batches))]
    model.train(was_training)
    return float(np.mean(losses))


def train(cfg: LMConfig, log: Callable[[str], None] = print, save: bool = True,
          data: tuple[CharTokenizer, np.ndarray, np.ndarray] | None = None) -> tuple[GPT, dict]:
    """Train, evaluate and sample; returns ``(model, summary)``."""
    tok, train_ids, val_ids = data if data is not None else load_data()
    rng = np.random.default_rng(cfg.seed)
    gcfg = GPTConfig(vocab_size=tok.vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer,
                     n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout)
    model = GPT(gcfg, rng=rng)
    opt = AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, cfg.beta2))
    loss_fn = SoftmaxCrossEntropy()
    log(f"Tiny Shakespeare: {len(train_ids):,} train / {len(val_ids):,} val characters, "
        f"vocabulary {tok.vocab_size}; model {model.num_parameters():,} parameters; "
        f"{cfg.steps} steps of {cfg.batch_size} x {cfg.block_size}")
    metrics: list[dict] = []
    reached = None
    t0 = time.perf_counter()
    train_time = 0.0                                   # excludes evaluations
    val = estimate_loss(model, val_ids, cfg)
    metrics.append({"step": 0, "val_loss": val, "time": 0.0})
    log(f"step     0  val loss {val:.4f}")
    for step in range(1, cfg.steps + 1):
        ts = time.perf_counter()
        lr = cosine_with_warmup(step - 1, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr)
        set_lr(opt, lr)
        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, rng)
        model.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        norm = clip_grad_norm(model.parameters(), cfg.grad_clip)
        opt.step()
        train_time += time.perf_counter() - ts
        elapsed = time.perf_counter() - t0
        metrics.append({"step": step, "loss": loss, "lr": lr, "grad_norm": norm, "time": elapsed})
        if step % cfg.log_every == 0 or step == 1:
            ms = 1000 * train_time / step
            eta = (cfg.steps - step) * elapsed / step
            log(f"step {step:5d}/{cfg.steps}  loss {loss:.4f}  lr {lr:.2e}  |g| {norm:.2f}  "
                f"{ms:.0f} ms/step  {cfg.batch_size * cfg.block_size * 1000 / ms:,.0f} tok/s  "
                f"elapsed {elapsed:.0f} s  ETA {eta:.0f} s")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val = estimate_loss(model, val_ids, cfg)
            elapsed = time.perf_counter() - t0
            metrics.append({"step": step, "val_loss": val, "time": elapsed})
            log(f"step {step:5d}  val loss {val:.4f}  ({elapsed:.0f} s)")
            if reached is None and val <= cfg.target:
                reached = {"step": step, "seconds": round(elapsed, 1), "val_loss": val}
                log(f"val loss <= {cfg.target} at step {step} after {elapsed:.0f} s")
    total = time.perf_counter() - t0
    prompt = np.array([tok.encode("\n")])
    ids = model.generate(prompt, cfg.sample_chars, temperature=cfg.temperature,
                         rng=np.random.default_rng(cfg.seed))
    sample = tok.decode(ids[0].tolist())
    log("--- sample ---" + sample + "\n--------------")
    summary = {"final_val_loss": val, "final_train_loss": loss, "steps": cfg.steps,
               "seconds": round(total, 1), "ms_per_step": round(1000 * train_time / cfg.steps, 1),
               "reached_target": reached, "parameters": model.num_parameters(),
               "baseline_loss": round(math.log(tok.vocab_size), 4)}
    log(json.dumps(summary))
    if save:
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "metrics.jsonl", "w") as f:
            for row in metrics:
                f.write(json.dumps(row) + "\n")
        np.savez(out / "model.npz", **model.state_dict())
        (out / "samples.txt").write_text(sample, encoding="utf-8")
        (out / "config.json").write_text(json.dumps(asdict(cfg) | {"summary": summary}, indent=1))
        log(f"wrote {out}/metrics.jsonl, model.npz, samples.txt, config.json")
    return model, summary


def parse_args(argv: list[str] | None = None) -> LMConfig:
    cfg = LMConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in asdict(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    return LMConfig(**vars(p.parse_args(argv)))


def main(argv: list[str] | None = None) -> dict:
    _, summary = train(parse_args(argv))
    return summary


if __name__ == "__main__":
    main()
