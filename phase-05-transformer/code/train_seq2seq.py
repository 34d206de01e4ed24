"""Train the 2017 encoder-decoder on a synthetic task: copy, reverse or sort a sequence.

    python -m phase05.train_seq2seq                      # reverse, a few minutes on 2 CPU cores
    python -m phase05.train_seq2seq --task sort --steps 4000

What the paper trained with, at toy size: label smoothing 0.1, Adam with
``betas = (0.9, 0.98)`` and ``eps = 1e-9``, the warm-up then inverse-square-root schedule,
post-norm layers, shared embeddings. Dropout defaults to 0: every batch here is fresh data,
so there is nothing to overfit (``--dropout 0.1``, the paper's value, also reaches 100%,
in about twice the steps). Sources are random strings of
``--symbols`` symbols, ``--min-len`` to ``--max-len`` long; the test set is a fixed set of
strings that training never sees. A test sequence counts only if the whole greedy (and
beam) decoding, end-of-sequence included, is exactly right.

Training stops early once held-out greedy exact match reaches ``--stop-at`` (99.5%).
Progress lines show loss, learning rate, speed and ETA; ``metrics.jsonl`` and the trained
weights (``model.npz``) go to ``--out`` (default ``runs/phase05-seq2seq``). Run as a program
it asks the BLAS library for one thread, as ``phase05.train_lm`` explains.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before NumPy loads its BLAS (see phase05.train_lm)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from phase01.optim import Adam  # noqa: E402
from phase01.schedules import set_lr  # noqa: E402
from phase05.losses import LabelSmoothingCrossEntropy  # noqa: E402
from phase05.schedules import transformer_lr  # noqa: E402
from phase05.transformer import Transformer, TransformerConfig  # noqa: E402

PAD, BOS, EOS = 0, 1, 2          # token ids; symbol k is id 3 + k
N_SPECIAL = 3
TASKS = ("copy", "reverse", "sort")


@dataclass
class Seq2SeqConfig:
    task: str = "reverse"         # copy | reverse | sort
    symbols: int = 10             # alphabet size (ids 3 .. 3 + symbols - 1)
    min_len: int = 3              # shortest source
    max_len: int = 10             # longest source
    d_model: int = 64
    n_head: int = 4
    d_ff: int = 256
    n_layers: int = 2             # encoder layers = decoder layers
    dropout: float = 0.0          # the paper: 0.1 (see the module docstring)
    norm_first: bool = False      # post-norm, as the paper
    smoothing: float = 0.1        # label smoothing epsilon
    warmup: int = 400             # schedule warm-up steps
    lr_factor: float = 1.0        # scales the whole schedule
    steps: int = 3000
    batch_size: int = 64
    n_test: int = 1000            # held-out sequences
    eval_every: int = 250
    log_every: int = 100
    stop_at: float = 0.995        # stop early once held-out greedy exact match reaches this
    beam_size: int = 4            # for the final evaluation
    seed: int = 0
    out: str = "runs/phase05-seq2seq"


def solve(task: str, seq: np.ndarray) -> np.ndarray:
    """The target for a source: ``solve("sort", [5, 3, 4]) -> [3, 4, 5]``."""
    if task == "copy":
        return seq.copy()
    if task == "reverse":
        return seq[::-1].copy()
    if task == "sort":
        return np.sort(seq)
    raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


def random_sources(rng: np.random.Generator, n: int, cfg: Seq2SeqConfig,
                   exclude: set[tuple[int, ...]] | None = None) -> list[np.ndarray]:
    """``n`` random symbol strings (as token ids), none of them in ``exclude``."""
    out = []
    while len(out) < n:
        L = int(rng.integers(cfg.min_len, cfg.max_len + 1))
        seq = rng.integers(N_SPECIAL, N_SPECIAL + cfg.symbols, size=L)
        if exclude is None or tuple(seq.tolist()) not in exclude:
            out.append(seq)
    return out


def make_batch(sources: list[np.ndarray], task: str,
               max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(src, tgt_in, tgt_out)``, padded with ``PAD``.

    For the source ``[5, 3, 4]`` reversed: ``src = 5 3 4``, ``tgt_in = BOS 4 3 5``,
    ``tgt_out = 4 3 5 EOS``: the decoder reads ``tgt_in`` and predicts ``tgt_out``.
    """
    B = len(sources)
    src = np.full((B, max_len), PAD, dtype=np.int64)
    tgt_in = np.full((B, max_len + 1), PAD, dtype=np.int64)
    tgt_out = np.full((B, max_len + 1), PAD, dtype=np.int64)
    for i, s in enumerate(sources):
        t = solve(task, s)
        src[i, : len(s)] = s
        tgt_in[i, 0] = BOS
        tgt_in[i, 1: len(t) + 1] = t
        tgt_out[i, : len(t)] = t
        tgt_out[i, len(t)] = EOS
    return src, tgt_in, tgt_out


def exact_match(decoded: np.ndarray, tgt_out: np.ndarray) -> np.ndarray:
    """Per row: did the decoding reproduce ``target EOS`` exactly (nothing missing or extra)?"""
    L = max(decoded.shape[1], tgt_out.shape[1])
    a = np.pad(decoded, ((0, 0), (0, L - decoded.shape[1])), constant_values=PAD)
    b = np.pad(tgt_out, ((0, 0), (0, L - tgt_out.shape[1])), constant_values=PAD)
    return np.all(a == b, axis=1)


def build_model(cfg: Seq2SeqConfig, rng: np.random.Generator) -> Transformer:
    vocab = N_SPECIAL + cfg.symbols
    tcfg = TransformerConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, d_model=cfg.d_model,
                             n_head=cfg.n_head, d_ff=cfg.d_ff, n_encoder_layers=cfg.n_layers,
                             n_decoder_layers=cfg.n_layers, dropout=cfg.dropout,
                             max_len=cfg.max_len + 1, norm_first=cfg.norm_first, pad_id=PAD)
    return Transformer(tcfg, rng=rng)


def evaluate(model: Transformer, test: tuple[np.ndarray, np.ndarray, np.ndarray],
             max_len: int, beam_size: int = 0, batch: int = 500) -> float:
    """Held-out exact match of greedy decoding (or beam search with ``beam_size > 0``)."""
    src, _, tgt_out = test
    hits = []
    for i in range(0, len(src), batch):
        s = src[i: i + batch]
        if beam_size > 0:
            out = model.beam_decode(s, BOS, EOS, max_len + 1, beam_size=beam_size)
        else:
            out = model.greedy_decode(s, BOS, EOS, max_len + 1)
        hits.append(exact_match(out, tgt_out[i: i + batch]))
    return float(np.concatenate(hits).mean())


def train(cfg: Seq2SeqConfig, log: Callable[[str], None] = print,
          save: bool = True) -> tuple[Transformer, dict]:
    """Train, evaluate on the held-out set, and return ``(model, summary)``."""
    if cfg.task not in TASKS:
        raise ValueError(f"unknown task {cfg.task!r}; choose one of {TASKS}")
    rng = np.random.default_rng(cfg.seed)
    test_sources = random_sources(np.random.default_rng(cfg.seed + 1_000_003), cfg.n_test, cfg)
    held_out = {tuple(s.tolist()) for s in test_sources}
    test = make_batch(test_sources, cfg.task, cfg.max_len)
    model = build_model(cfg, rng)
    loss_fn = LabelSmoothingCrossEntropy(cfg.smoothing, ignore_index=PAD)
    opt = Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)
    out = Path(cfg.out)
    metrics = []
    log(f"task {cfg.task}: {cfg.symbols} symbols, length {cfg.min_len}-{cfg.max_len}; "
        f"model {model.num_parameters():,} parameters; {cfg.steps} steps of batch {cfg.batch_size}")
    t0 = time.perf_counter()
    step = 0
    exact = 0.0
    for step in range(1, cfg.steps + 1):
        lr = transformer_lr(step, cfg.d_model, cfg.warmup, cfg.lr_factor)
        set_lr(opt, lr)
        src, tgt_in, tgt_out = make_batch(random_sources(rng, cfg.batch_size, cfg, held_out),
                                          cfg.task, cfg.max_len)
        model.zero_grad()
        loss = loss_fn(model(src, tgt_in), tgt_out)
        model.backward(loss_fn.backward())
        opt.step()
        elapsed = time.perf_counter() - t0
        metrics.append({"step": step, "loss": loss, "lr": lr, "time": elapsed})
        if step % cfg.log_every == 0 or step == 1:
            rate = step / elapsed
            log(f"step {step:5d}/{cfg.steps}  loss {loss:.4f}  lr {lr:.2e}  "
                f"{rate:.1f} steps/s  ETA {(cfg.steps - step) / rate:.0f} s")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            exact = evaluate(model, test, cfg.max_len)
            metrics.append({"step": step, "exact_match": exact, "time": time.perf_counter() - t0})
            log(f"step {step:5d}  held-out greedy exact match {exact:.2%}")
            if exact >= cfg.stop_at:
                break
    train_time = time.perf_counter() - t0
    summary = {"task": cfg.task, "steps": step, "train_seconds": round(train_time, 1),
               "greedy_exact_match": exact, "n_test": cfg.n_test,
               "parameters": model.num_parameters()}
    if cfg.beam_size > 0:
        summary["beam_exact_match"] = evaluate(model, test, cfg.max_len, cfg.beam_size)
        summary["beam_size"] = cfg.beam_size
    log(json.dumps(summary))
    if save:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "metrics.jsonl", "w") as f:
            for row in metrics:
                f.write(json.dumps(row) + "\n")
        np.savez(out / "model.npz", **model.state_dict())
        (out / "config.json").write_text(json.dumps(asdict(cfg) | {"summary": summary}, indent=1))
        log(f"wrote {out}/metrics.jsonl, model.npz, config.json")
    return model, summary


def load_run(out: str | Path) -> tuple[Transformer, Seq2SeqConfig]:
    """The model and config a finished run saved in ``out`` (``model.npz``, ``config.json``)."""
    out = Path(out)
    saved = json.loads((out / "config.json").read_text())
    saved.pop("summary", None)
    cfg = Seq2SeqConfig(**saved)
    model = build_model(cfg, np.random.default_rng(0))
    with np.load(out / "model.npz") as state:
        model.load_state_dict(dict(state))
    return model.eval(), cfg


def parse_args(argv: list[str] | None = None) -> Seq2SeqConfig:
    cfg = Seq2SeqConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in asdict(cfg).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value)
        else:
            p.add_argument(flag, type=type(value), default=value)
    return Seq2SeqConfig(**vars(p.parse_args(argv)))


def main(argv: list[str] | None = None) -> dict:
    _, summary = train(parse_args(argv))
    return summary


if __name__ == "__main__":
    main()
