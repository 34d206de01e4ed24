"""Figures of phase 05's blog post (``make figures`` or ``python -m phase05.figures``).

- sinusoidal_encoding.png    the encoding table as an image, and the dot products of positions
- seq2seq_training.png       loss and held-out exact match of ``phase05.train_seq2seq``
- lm_training.png            train and validation loss of ``phase05.train_lm``
- attention_maps.png         encoder self-attention and decoder cross-attention of the trained
                             encoder-decoder on one held-out sequence

The training figures read the runs that ``python -m phase05.train_seq2seq`` and
``python -m phase05.train_lm`` saved under ``runs/`` (their ``--out`` defaults); when a run is
missing, ``main`` trains it first with the default settings (minutes each, one BLAS thread).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phase05.positional import sinusoidal_encoding  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"
ROOT = Path(__file__).resolve().parents[2]
SEQ2SEQ_RUN = ROOT / "runs" / "phase05-seq2seq"
LM_RUN = ROOT / "runs" / "phase05-lm"


def plot_sinusoidal(path: Path, T: int = 128, d_model: int = 64) -> None:
    pe = sinusoidal_encoding(T, d_model)                       # (T, C)
    dots = pe @ pe.T                                           # (T, T) PE[s] . PE[t]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1.3, 1, 1.1]})
    im = axes[0].imshow(pe.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, origin="lower")
    axes[0].set_xlabel("position t")
    axes[0].set_ylabel("dimension (sin at even, cos at odd)")
    axes[0].set_title(f"PE[t] for d_model = {d_model}: fast waves at the bottom, slow at the top")
    fig.colorbar(im, ax=axes[0], fraction=0.04)
    im = axes[1].imshow(dots, cmap="viridis", origin="lower")
    axes[1].set_xlabel("position s")
    axes[1].set_ylabel("position t")
    axes[1].set_title("PE[s] . PE[t]: constant along diagonals")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    for t in (0, 40, 100):
        axes[2].plot(np.arange(T) - t, dots[t], label=f"t = {t}")
    axes[2].set_xlabel("offset s - t")
    axes[2].set_ylabel("PE[s] . PE[t]")
    axes[2].set_title("depends only on the offset (curves overlap)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def ensure_runs(seq2seq_run: Path = SEQ2SEQ_RUN, lm_run: Path = LM_RUN) -> None:
    """Train whichever run is missing, with the programs' default settings."""
    if not (seq2seq_run / "model.npz").is_file():
        from phase05.train_seq2seq import Seq2SeqConfig
        from phase05.train_seq2seq import train as train_seq2seq

        train_seq2seq(Seq2SeqConfig(out=str(seq2seq_run)))
    if not (lm_run / "metrics.jsonl").is_file():
        from phase05.train_lm import LMConfig
        from phase05.train_lm import train as train_lm

        train_lm(LMConfig(out=str(lm_run)))


def plot_seq2seq_training(path: Path, run: Path = SEQ2SEQ_RUN) -> None:
    rows = read_metrics(run)
    cfg = json.loads((run / "config.json").read_text())
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "exact_match" in r]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.array([r["step"] for r in train])
    loss = np.array([r["loss"] for r in train])
    ax[0].plot(steps, loss, lw=0.5, alpha=0.4, color="C0")
    k = 50
    ax[0].plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), color="C0",
               label=f"training loss ({k}-step mean)")
    ax[0].set_xlabel("step")
    ax[0].set_ylabel(f"label-smoothed cross-entropy (eps = {cfg['smoothing']})")
    ax[0].set_yscale("log")
    ax[0].legend()
    ax0b = ax[0].twinx()
    ax0b.plot(steps, [r["lr"] for r in train], color="C1", lw=1)
    ax0b.set_ylabel("learning rate (warm-up, then 1/sqrt(step))", color="C1")
    ax[1].plot([r["step"] for r in evals], [100 * r["exact_match"] for r in evals], "o-", color="C2")
    ax[1].axhline(99, color="gray", ls="--", lw=1)
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("held-out exact match, greedy (%)")
    ax[1].set_title(f"{cfg['task']}: {cfg['n_test']} unseen sequences of length "
                    f"{cfg['min_len']}-{cfg['max_len']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lm_training(path: Path, run: Path = LM_RUN) -> None:
    rows = read_metrics(run)
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = np.array([r["step"] for r in train])
    loss = np.array([r["loss"] for r in train])
    ax.plot(steps, loss, lw=0.5, alpha=0.35, color="C0", label="training batch loss")
    ax.plot([r["step"] for r in evals], [r["val_loss"] for r in evals], "o-", color="C3",
            label="validation loss")
    ax.axhline(2.0, color="gray", ls="--", lw=1, label="target 2.0")
    ax.set_ylim(1.2, 4.5)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    minutes = evals[-1]["time"] / 60
    ax.set_title(f"NumPy GPT on Tiny Shakespeare: {minutes:.1f} minutes on a shared CPU")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def attention_maps(run: Path = SEQ2SEQ_RUN, example: int = 3):
    """``(source, target, encoder weights (L, nh, S, S), cross weights (L, nh, T, S))``."""
    from phase05.train_seq2seq import BOS, EOS, N_SPECIAL, load_run, make_batch, random_sources

    model, cfg = load_run(run)
    rng = np.random.default_rng(cfg.seed + 1_000_003)                 # the held-out set
    sources = [s for s in random_sources(rng, cfg.n_test, cfg) if len(s) == cfg.max_len]
    src, tgt_in, _ = make_batch(sources[example:example + 1], cfg.task, cfg.max_len)
    model(src, tgt_in)                                                # eval mode: keeps weights
    enc = np.stack([layer.self_attn.attn_weights[0] for layer in model.encoder])
    cross = np.stack([layer.cross_attn.attn_weights[0] for layer in model.decoder])

    def label(i):
        return {BOS: "<s>", EOS: "</s>"}.get(int(i), str(int(i) - N_SPECIAL))

    return [label(i) for i in src[0]], [label(i) for i in tgt_in[0]], enc, cross


def plot_attention_maps(path: Path, run: Path = SEQ2SEQ_RUN) -> None:
    src, tgt, enc, cross = attention_maps(run)
    L, nh = cross.shape[:2]
    fig, axes = plt.subplots(2, nh, figsize=(3 * nh, 6.4))
    for h in range(nh):
        ax = axes[0, h]
        ax.imshow(enc[-1, h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"encoder layer {L}, head {h}", fontsize=9)
        ax.set_xticks(range(len(src)), src, fontsize=7)
        ax.set_yticks(range(len(src)), src, fontsize=7)
        ax = axes[1, h]
        ax.imshow(cross[-1, h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"decoder layer {L} cross-attention, head {h}", fontsize=9)
        ax.set_xticks(range(len(src)), src, fontsize=7)
        ax.set_yticks(range(len(tgt)), tgt, fontsize=7)
        ax.set_xlabel("source (keys)", fontsize=8)
    axes[0, 0].set_ylabel("source (queries)")
    axes[1, 0].set_ylabel("decoder input (queries)")
    fig.suptitle("The trained encoder-decoder reversing " + " ".join(src), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(out_dir: Path = OUT) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_sinusoidal(out_dir / "sinusoidal_encoding.png")
    ensure_runs()
    plot_seq2seq_training(out_dir / "seq2seq_training.png")
    plot_lm_training(out_dir / "lm_training.png")
    plot_attention_maps(out_dir / "attention_maps.png")


if __name__ == "__main__":
    main()
