"""Figures of phase 02's blog post (``make figures`` or ``python -m phase02.figures``).

- gradient_norms.png     |dL/dx_t| reaching each step back: RNN vs LSTM, vanishing and exploding
- clipping.png           SGD on an RNN in the exploding regime, with and without clipping
- seq2seq_accuracy.png   exact-match accuracy of the seq2seq baseline by input length
                         (trains the model: about two to three minutes; the numbers go to
                         seq2seq_accuracy.json beside the figure)
- char_rnn_loss.png      train/val loss of the char-RNN run recorded in char_rnn_run.json
                         (written by ``python -m phase02.char_rnn --samples_out ...``; the
                         10-minute training is not rerun here)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phase02.gradient_flow import clipping_run, vanishing_table  # noqa: E402
from phase02.seq2seq import Seq2SeqConfig, run  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"


def plot_gradient_norms(path: Path) -> dict[str, np.ndarray]:
    table = vanishing_table()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    left = ["RNN, torch init", "LSTM, torch init", "LSTM, forget bias +1", "LSTM, forget bias +2"]
    right = ["RNN, torch init", "RNN, W_hh radius 1.0", "RNN, W_hh radius 1.5", "RNN, W_hh radius 2.0"]
    for ax, names, title in [(axes[0], left, "Vanishing: RNN vs LSTM"),
                             (axes[1], right, "Exploding: RNN, W_hh = radius x orthogonal")]:
        for name in names:
            g = table[name]
            k = np.arange(len(g))[::-1]                             # steps back from the end
            ax.semilogy(k, g, label=name, lw=2 if name.startswith("LSTM") else 1.5,
                        ls="-" if name.startswith("LSTM") else "--")
        ax.set_xlabel("steps back from the loss (T - 1 - t)")
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("|dL/dx_t|  (loss on h_T only; mean of 3 inits)")
    fig.suptitle("How much gradient reaches step t of a 100-step sequence (H = 64)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return table


def plot_clipping(path: Path) -> dict:
    runs = {"no clipping": clipping_run(None), "clip norm at 1.0": clipping_run(1.0)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for name, r in runs.items():
        steps = np.arange(1, len(r["loss"]) + 1)
        axes[0].semilogy(steps, r["loss"], label=name)
        axes[1].semilogy(steps, r["grad_norm"], label=name)
    axes[0].axhline(np.log(65), color="gray", ls=":", label="uniform guess, log 65")
    axes[0].set_ylabel("training loss (nats/char, log scale)")
    axes[1].set_ylabel("gradient norm before clipping")
    for ax in axes:
        ax.set_xlabel("SGD step")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("A tanh RNN started with W_hh = 2 x orthogonal, plain SGD (lr 2)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return runs


def plot_seq2seq(path: Path, cfg: Seq2SeqConfig | None = None) -> dict:
    cfg = cfg or Seq2SeqConfig(out=str(path.with_suffix(".json")))
    result = run(cfg, quiet=True)
    acc = {int(k): v for k, v in result["accuracy"].items()}
    L = np.array(sorted(acc))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(L, [100 * acc[n] for n in L], "o-", label=f"LSTM encoder-decoder (H = {cfg.hidden})")
    ax.axvspan(cfg.train_max + 0.5, L.max() + 0.5, color="gray", alpha=0.15,
               label="longer than any training input")
    ax.set_xlabel("input length (digits)")
    ax.set_ylabel("exact-match accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.set_title(f"Reversing digit strings, trained on lengths {cfg.train_min}-{cfg.train_max}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return result


def plot_char_rnn(path: Path, run_json: Path) -> bool:
    if not run_json.is_file():
        print(f"phase02.figures: {run_json} not found; run `python -m phase02.char_rnn "
              f"--samples_out {run_json}` first", file=sys.stderr)
        return False
    r = json.loads(run_json.read_text())
    hist = [h for h in r["history"] if h.get("val_loss") is not None]
    t = [h["seconds"] / 60 for h in hist]
    fig, ax = plt.subplots(figsize=(7, 4))
    train_pts = sorted({(h["seconds"], h["train_loss"]) for h in r["history"] + r["samples"]
                        if h.get("train_loss") is not None and h["iter"] <= r["iters"]})
    train_pts = [p for p in train_pts if p[0] <= r["train_seconds"] + 1]  # not the final sample
    ax.plot([p[0] / 60 for p in train_pts], [p[1] for p in train_pts], "o-", ms=3,
            label="train (running mean)")
    ax.plot(t, [h["val_loss"] for h in hist], "s-", ms=3, label="validation")
    ax.axhline(1.75, color="gray", ls=":", label="target 1.75")
    c = r["config"]
    ax.set_xlabel("minutes of training (2 shared CPU cores, NumPy float32)")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(f"Char-LSTM on Tiny Shakespeare ({c['layers']}x{c['hidden']}, "
                 f"batch {c['batch']}, BPTT {c['seq']})")
    ax.set_ylim(1.2, 3.6)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(out_dir: Path = OUT) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_gradient_norms(out_dir / "gradient_norms.png")
    plot_clipping(out_dir / "clipping.png")
    plot_seq2seq(out_dir / "seq2seq_accuracy.png")
    plot_char_rnn(out_dir / "char_rnn_loss.png", out_dir / "char_rnn_run.json")


if __name__ == "__main__":
    main(OUT)
