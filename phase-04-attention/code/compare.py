"""The bottleneck, measured: plain seq2seq against four attention models on digit reversal.

    python -m phase04.compare                        # all five models, about 40 minutes (one core)
    python -m phase04.compare --models plain bahdanau --steps 1500   # a quicker look

Every model gets the same hidden size, the same batches (the same seed of phase 02's
``ReversalTask``), the same optimiser (phase 02's ``train_seq2seq``: Adam, clipping, linear
decay) and the same test: exact-match accuracy of greedy decoding on 200 fresh inputs of
each length (phase 02's ``accuracy_by_length``), including lengths longer than any seen in
training. The results go to a JSON file that ``phase04.figures`` draws
(``accuracy_by_length.png``); the Bahdanau model's alignment on one input is drawn too.

On a busy machine set ``OPENBLAS_NUM_THREADS=1`` (the matrices are small).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from phase02.seq2seq import (
    ReversalTask,
    Seq2Seq,
    accuracy_by_length,
    decode_digits,
    encode_digits,
    train_seq2seq,
)
from phase04.seq2seq_attention import BahdanauSeq2Seq, LuongSeq2Seq

FIGURES = Path(__file__).resolve().parents[1] / "blog" / "figures"
MODELS = ("plain", "bahdanau", "luong-dot", "luong-general", "luong-concat")


@dataclass
class CompareConfig:
    hidden: int = 64             # LSTM width of encoder and decoder (and of every attention)
    train_min: int = 1           # shortest training input
    train_max: int = 24          # longest training input
    eval_max: int = 30           # evaluate lengths 1..eval_max
    steps: int = 4000            # optimiser steps per model
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0
    models: list[str] = field(default_factory=lambda: list(MODELS))
    out: str = str(FIGURES / "accuracy_by_length.json")   # "" writes nothing


def build(name: str, hidden: int, seed: int):
    """A fresh model by name; every model draws its weights from the same seed."""
    rng = np.random.default_rng(seed)
    if name == "plain":
        return Seq2Seq(hidden_size=hidden, rng=rng)
    if name == "bahdanau":
        return BahdanauSeq2Seq(hidden_size=hidden, rng=rng)
    if name.startswith("luong-"):
        return LuongSeq2Seq(name.removeprefix("luong-"), hidden_size=hidden, rng=rng)
    raise ValueError(f"compare: unknown model {name!r}; choose from {MODELS}")


def collapse_length(acc: dict[int, float], below: float = 0.5) -> int | None:
    """The shortest length whose accuracy is below ``below`` (None if there is none).

    >>> collapse_length({1: 1.0, 2: 0.9, 3: 0.4, 4: 0.6})
    3
    """
    return next((L for L, a in sorted(acc.items()) if a < below), None)


def holds_up_to(acc: dict[int, float], at_least: float = 0.9) -> int:
    """The longest length ``L`` such that every length ``1..L`` scores ``>= at_least`` (0 if none).

    >>> holds_up_to({1: 1.0, 2: 0.95, 3: 0.5, 4: 0.99})
    2
    """
    best = 0
    for L, a in sorted(acc.items()):
        if a < at_least:
            break
        best = L
    return best


def run(cfg: CompareConfig, quiet: bool = False) -> dict:
    """Train every model of ``cfg.models`` and measure its accuracy by length."""
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    lengths = list(range(1, cfg.eval_max + 1))
    results = {"config": asdict(cfg), "lengths": lengths,
               "train_lengths": [cfg.train_min, cfg.train_max],
               "accuracy": {}, "seconds": {}, "parameters": {}, "final_loss": {}}
    trained = {}
    for name in cfg.models:
        model = build(name, cfg.hidden, cfg.seed)
        task = ReversalTask(cfg.train_min, cfg.train_max, seed=cfg.seed)
        log(f"\n== {name}: {model.num_parameters():,} parameters, lengths "
            f"{cfg.train_min}..{cfg.train_max}, {cfg.steps} steps")
        t0 = time.perf_counter()
        history = train_seq2seq(model, task, cfg.steps, cfg.batch, cfg.lr,
                                log_every=max(cfg.steps // 8, 1), quiet=quiet)
        seconds = time.perf_counter() - t0
        acc = accuracy_by_length(model, lengths)
        results["accuracy"][name] = [acc[L] for L in lengths]
        results["seconds"][name] = seconds
        results["parameters"][name] = model.num_parameters()
        results["final_loss"][name] = history[-1]["loss"]
        log(f"{name}: trained in {seconds:.0f} s; accuracy ≥ 90% up to length "
            f"{holds_up_to(acc)}, below 50% from length {collapse_length(acc)}")
        trained[name] = model
    log("\n" + table(results))
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps(results, indent=1))
        log(f"results written to {cfg.out}")
    results["models"] = trained
    return results


def table(results: dict) -> str:
    """A Markdown table: one row per length, one column per model, accuracies in %."""
    names = list(results["accuracy"])
    lo, hi = results["train_lengths"]
    lines = ["| length | " + " | ".join(names) + " |", "| ---: |" + " ---: |" * len(names)]
    for i, L in enumerate(results["lengths"]):
        mark = "" if lo <= L <= hi else " *"
        cells = " | ".join(f"{100 * results['accuracy'][n][i]:.1f}" for n in names)
        lines.append(f"| {L}{mark} | {cells} |")
    accs = {n: dict(zip(results["lengths"], a)) for n, a in results["accuracy"].items()}
    lines.append("| ≥ 90 % up to | " + " | ".join(str(holds_up_to(accs[n])) for n in names) + " |")
    lines.append("| < 50 % from | " + " | ".join(str(collapse_length(accs[n])) for n in names) + " |")
    return "\n".join(lines)


def alignment_example(seed: int = 0, hidden: int = 32, steps: int = 2000, max_len: int = 16,
                      source: str = "3141592653589793", model: BahdanauSeq2Seq | None = None):
    """Train (unless ``model`` is given) a Bahdanau model and return its alignment on ``source``.

    Returns ``(source, decoded output, weights (output steps incl. EOS, len(source)))``.
    """
    if model is None:
        model = build("bahdanau", hidden, seed)
        train_seq2seq(model, ReversalTask(1, max_len, seed=seed), steps=steps, quiet=True)
    src = encode_digits(source)[None]                                # (1, S)
    ids, weights = model.attention_map(src, np.array([len(source)]))
    out = decode_digits(ids[0])
    return source, out + "$", weights[0, : len(out) + 1]             # "$" marks EOS


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in asdict(CompareConfig()).items():
        if isinstance(value, list):
            p.add_argument(f"--{name}", nargs="+", default=value, choices=MODELS)
        else:
            p.add_argument(f"--{name}", type=type(value), default=value)
    cfg = CompareConfig(**vars(p.parse_args(argv)))
    results = run(cfg)
    if cfg.out:
        from phase04.figures import plot_accuracy_by_length, plot_bahdanau_alignment

        out_dir = Path(cfg.out).parent
        plot_accuracy_by_length(out_dir / "accuracy_by_length.png", results)
        print(f"figure written to {out_dir / 'accuracy_by_length.png'}")
        if "bahdanau" in results["models"]:
            plot_bahdanau_alignment(out_dir / "bahdanau_alignment.png",
                                    model=results["models"]["bahdanau"])
    return results


if __name__ == "__main__":
    main()
