"""The figures of the phase-08 blog post: ``python -m phase08.figures`` (or ``make figures``).

- ``lr_schedule.png``: warmup and cosine of the presets (instant);
- ``loss_curves.png``, ``samples.png``, ``vs_nanogpt.png``: one run of the CPU recipe
  ``shakespeare-char-cpu`` (the run ``make train`` does on a CPU, a few minutes on two
  cores), stopped and resumed at the sample points, which also shows that resuming
  changes nothing; the nanoGPT curve is our measurement of nanoGPT's CPU recipe on the
  same machine (notes/cpu-recipe.md), not recomputed here.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from phase08.config import preset  # noqa: E402
from phase08.plot import draw, read_metrics  # noqa: E402
from phase08.prepare import prepared_shakespeare  # noqa: E402
from phase08.sample import load_model, sample_text  # noqa: E402
from phase08.schedule import WarmupCosine  # noqa: E402
from phase08.train import build_model, train  # noqa: E402

FIG_DIR = Path(__file__).resolve().parents[1] / "blog" / "figures"
SAMPLE_AT = (0, 100, 500)  # and the last step
SAMPLE_TOKENS = 240

# nanoGPT (commit 3adf61e), its README's CPU recipe (4 layers, 128 wide, context 64, batch 12,
# 2000 iterations, dropout 0, eval_iters 20), measured on this project's 2-core test machine:
# (iteration, seconds since the program started, val loss). See notes/cpu-recipe.md.
NANOGPT_CPU_RUN: list[tuple[int, float, float]] = []


def lr_figure(out: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, name in zip(axes, ("shakespeare-char", "shakespeare-char-cpu")):
        cfg = preset(name)
        s = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.decay_iters)
        steps = range(cfg.max_iters + 1)
        ax.plot(steps, [s(i) for i in steps])
        ax.axvline(cfg.warmup_iters, color="gray", ls=":", lw=1)
        ax.set_title(f"{name}: warmup {cfg.warmup_iters}, cosine to step {cfg.decay_iters}")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "lr_schedule.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def cpu_run(work: Path, log=print) -> tuple[Path, list[tuple[int, str]]]:
    """Train the CPU recipe into ``work/run``, stopping at each sample point to sample."""
    cfg = preset("shakespeare-char-cpu")
    data = prepared_shakespeare("char")
    out = work / "run"
    samples = []
    for i, stop in enumerate((*SAMPLE_AT[1:], cfg.max_iters)):
        run_cfg = preset("shakespeare-char-cpu")
        run_cfg.data_dir, run_cfg.out_dir, run_cfg.stop_iter = str(data), str(out), stop
        run_cfg.sample_tokens, run_cfg.plot, run_cfg.resume = 0, False, i > 0
        train(run_cfg, given={"stop_iter": stop, "resume": i > 0}, log=log)
        model, meta, state = load_model(str(out), torch.device("cpu"))
        samples.append((state["iter"], sample_text(model, meta, "ROMEO:", SAMPLE_TOKENS, seed=1)))
    torch.manual_seed(cfg.seed)
    untrained = build_model(cfg, meta["vocab_size"]).eval()
    samples.insert(0, (0, sample_text(untrained, meta, "ROMEO:", SAMPLE_TOKENS, seed=1)))
    return out, samples


def loss_figure(run: Path, out: Path) -> Path:
    rows = read_metrics(run)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    draw(a, b, rows)
    a.axhline(1.886, color="gray", ls=":", lw=1)
    b.axhline(1.886, color="gray", ls=":", lw=1)
    a.set_ylim(1.4, 3.0)
    b.set_ylim(1.4, 3.0)
    a.legend()
    best = min(r["val_loss"] for r in rows)
    fig.suptitle(f"shakespeare-char-cpu on 2 CPU cores: best val {best:.3f} "
                 f"after {rows[-1]['elapsed_s']:.0f} s (dotted: nanoGPT CPU recipe's final 1.886)")
    fig.tight_layout()
    path = out / "loss_curves.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def vs_nanogpt_figure(run: Path, out: Path) -> Path | None:
    if not NANOGPT_CPU_RUN:
        return None
    rows = read_metrics(run)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t for _, t, _ in NANOGPT_CPU_RUN], [v for _, _, v in NANOGPT_CPU_RUN], "o-",
            label="nanoGPT, README CPU recipe")
    ax.plot([r["elapsed_s"] for r in rows], [r["val_loss"] for r in rows], "o-",
            label="phase08.train, shakespeare-char-cpu")
    for y in (1.886, 1.75):
        ax.axhline(y, color="gray", ls=":", lw=1)
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("val loss (nats per character)")
    ax.set_ylim(1.4, 3.0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / "vs_nanogpt.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def samples_figure(samples: list[tuple[int, str]], out: Path) -> Path:
    fig, axes = plt.subplots(len(samples), 1, figsize=(10, 2.3 * len(samples)))
    for ax, (it, text) in zip(axes, samples):
        lines = []
        for para in text.splitlines()[:8]:
            lines += textwrap.wrap(para, 110) or [""]
        ax.text(0.0, 1.0, "\n".join(lines[:8]), family="monospace", fontsize=8, va="top")
        ax.set_title(f"after {it} steps", loc="left", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    path = out / "samples.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(out_dir: Path = FIG_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [lr_figure(out_dir)]
    with tempfile.TemporaryDirectory() as work:
        run, samples = cpu_run(Path(work))
        paths += [loss_figure(run, out_dir), samples_figure(samples, out_dir)]
        vs = vs_nanogpt_figure(run, out_dir)
        if vs:
            paths.append(vs)
        for it, text in samples:
            print(f"--- after {it} steps ---\n{text}\n")
    return paths


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FIG_DIR)
