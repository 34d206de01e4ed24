"""The figures of the phase-08 blog post: ``python -m phase08.figures`` (or ``make figures``).

- ``lr_schedule.png``: warmup and cosine of the presets (instant);
- ``loss_curves.png``: one run of the CPU recipe ``shakespeare-char-cpu`` (the run
  ``make train`` does on a CPU, about 90 s on two cores), stopped and resumed at the
  sample points, which also shows that resuming changes nothing; the samples taken there
  are printed (the blog post quotes them);
- ``vs_nanogpt.png``: the side-by-side measured against nanoGPT on one machine, one run
  after the other (the constants below, from notes/cpu-recipe.md), not recomputed here.
"""

from __future__ import annotations

import sys
import tempfile
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
SAMPLE_AT = (0, 200, 1000)  # and the last step
SAMPLE_TOKENS = 240

# nanoGPT (commit 3adf61e), its README's CPU recipe (4 layers, 128 wide, context 64, batch 12,
# 2000 iterations, dropout 0, eval_iters 20), measured on this project's 2-core test machine
# on 2026-11-22, then our trainer on the same recipe (preset nanogpt-cpu) right after it:
# and our CPU recipe (shakespeare-char-cpu) after that: (iteration, seconds since the
# program started, val loss), read off the three logs. See notes/cpu-recipe.md.
NANOGPT_CPU_RUN: list[tuple[int, float, float]] = [
    (0, 4.92, 4.1649),
    (250, 18.58, 2.4447),
    (500, 30.94, 2.3141),
    (750, 42.13, 2.1905),
    (1000, 52.71, 2.0528),
    (1250, 63.88, 2.0089),
    (1500, 74.34, 1.9225),
    (1750, 84.16, 1.8921),
    (2000, 93.85, 1.8857),
]
OURS_NANOGPT_RECIPE: list[tuple[int, float, float]] = [
    (0, 3.22, 4.1707),
    (250, 13.39, 2.4418),
    (500, 23.75, 2.2619),
    (750, 33.29, 2.1267),
    (1000, 43.23, 2.0358),
    (1250, 53.26, 1.9832),
    (1500, 63.64, 1.9342),
    (1750, 73.75, 1.8908),
    (2000, 83.91, 1.8764),
]
OURS_CPU_RECIPE: list[tuple[int, float, float]] = [
    (0, 2.97, 4.2036),
    (200, 8.34, 2.4214),
    (400, 13.35, 2.1586),
    (600, 18.7, 2.0154),
    (800, 25.27, 1.9502),
    (1000, 31.37, 1.9041),
    (1200, 37.71, 1.8583),
    (1400, 43.29, 1.8172),
    (1600, 48.79, 1.8073),
    (1800, 54.31, 1.7655),
    (2000, 59.87, 1.7412),
    (2200, 64.73, 1.7231),
    (2400, 69.44, 1.7143),
    (2600, 74.33, 1.6941),
    (2800, 79.13, 1.6804),
    (3000, 84.31, 1.6623),
]


def lr_figure(out: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, name in zip(axes, ("shakespeare-char", "shakespeare-char-cpu")):
        cfg = preset(name)
        s = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.decay_iters)
        steps = range(cfg.max_iters + 1)
        ax.plot(steps, [s(i) for i in steps])
        ax.axvline(cfg.warmup_iters, color="gray", ls=":", lw=1)
        ax.set_title(f"{name}\nwarmup {cfg.warmup_iters} steps, cosine to step {cfg.decay_iters}", fontsize=10)
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


def vs_nanogpt_figure(out: Path) -> Path:
    """The three measured runs of the side-by-side (constants above): val loss against
    seconds since each program started."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t for _, t, _ in NANOGPT_CPU_RUN], [v for _, _, v in NANOGPT_CPU_RUN], "o-",
            label="nanoGPT, README CPU recipe")
    ax.plot([t for _, t, _ in OURS_NANOGPT_RECIPE], [v for _, _, v in OURS_NANOGPT_RECIPE], "s--",
            label="phase08.train, the same recipe (nanogpt-cpu)")
    ax.plot([t for _, t, _ in OURS_CPU_RECIPE], [v for _, _, v in OURS_CPU_RECIPE], "o-",
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


def main(out_dir: Path = FIG_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [lr_figure(out_dir)]
    with tempfile.TemporaryDirectory() as work:
        run, samples = cpu_run(Path(work))
        paths.append(loss_figure(run, out_dir))
        paths.append(vs_nanogpt_figure(out_dir))
        for it, text in samples:
            print(f"--- after {it} steps ---\n{text}\n")
    return paths


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FIG_DIR)
