"""Loss curves of a run: ``python -m phase08.plot OUT`` writes ``OUT/loss.png``.

Two panels from ``OUT/metrics.jsonl``: train and validation loss against the optimizer
step, and against wall-clock time (what a budget is spent in).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(out_dir: str | Path) -> list[dict]:
    """The rows of ``OUT/metrics.jsonl``; ``ValueError`` if the run has none."""
    path = Path(out_dir) / "metrics.jsonl"
    if not Path(out_dir).is_dir():
        raise ValueError(f"{out_dir} is not a folder (expected a training output folder)")
    if not path.is_file():
        raise ValueError(f"{path} is missing: {out_dir} is not a phase08.train output folder")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n} is not JSON ({e})") from e
    if not rows:
        raise ValueError(f"{path} has no evaluations yet")
    for key in ("iter", "train_loss", "val_loss", "elapsed_s"):
        if key not in rows[0]:
            raise ValueError(f"{path}: rows lack {key!r}")
    return rows


def draw(ax_iter, ax_time, rows: list[dict], label: str = "") -> None:
    """Train (dashed) and validation (solid) loss, by step and by minutes."""
    it = [r["iter"] for r in rows]
    minutes = [r["elapsed_s"] / 60 for r in rows]
    for ax, x, xlabel in ((ax_iter, it, "optimizer step"), (ax_time, minutes, "wall time (minutes)")):
        line, = ax.plot(x, [r["val_loss"] for r in rows], label=f"{label}val".strip())
        ax.plot(x, [r["train_loss"] for r in rows], "--", color=line.get_color(), alpha=0.7,
                label=f"{label}train".strip())
        ax.set_xlabel(xlabel)
        ax.set_ylabel("cross-entropy (nats per token)")
        ax.grid(alpha=0.3)


def plot_run(out_dir: str | Path, png: str | Path | None = None) -> Path:
    """Draw the run in ``out_dir`` into ``png`` (default ``out_dir/loss.png``)."""
    rows = read_metrics(out_dir)
    out_dir = Path(out_dir)
    png = Path(png) if png else out_dir / "loss.png"
    title = out_dir.name
    cfg_path = out_dir / "config.json"
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text())
        title = (f"{cfg.get('preset') or out_dir.name}: {cfg.get('parameters', 0) / 1e6:.2f}M params, "
                 f"{cfg.get('device', '?')}, {cfg.get('dtype_run', '?')}")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    draw(a, b, rows)
    best = min(rows, key=lambda r: r["val_loss"])
    a.set_title(f"best val {best['val_loss']:.3f} at step {best['iter']}")
    b.set_title(f"{rows[-1]['elapsed_s']:.0f} s, {rows[-1].get('tokens_seen', 0):,} tokens")
    a.legend()
    fig.suptitle(title)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m phase08.plot", allow_abbrev=False,
                                description="Draw train/val loss of a run against steps and wall time.")
    p.add_argument("out_dir", help="a phase08.train output folder (holds metrics.jsonl)")
    p.add_argument("--out", default=None, help="the PNG to write (default OUT/loss.png)")
    args = p.parse_args(argv)
    try:
        png = plot_run(args.out_dir, args.out)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
