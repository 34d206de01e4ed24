"""Train an MLP on scikit-learn's 8x8 handwritten digits, with the pieces of this phase only.

    python -m phase01.train_mlp                 # ~30 epochs, a few seconds, >= 95% test accuracy
    python -m phase01.train_mlp --epochs 5 --no-figures
    python -m phase01.train_mlp --lr 1e9        # diverges: stops with a clear message

The network is ``Linear(64, 128) -> ReLU -> Dropout -> Linear(128, 10)`` (``phase01.layers``),
trained with ``SoftmaxCrossEntropy``, ``AdamW``, a warmup + cosine schedule and gradient
clipping. Each epoch prints one line of progress; at the end the figures (training curve,
misclassified test digits) are written to ``--out`` (default: this phase's blog/figures).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from phase01.datasets import Digits, load_digits
from phase01.layers import Dropout, Linear, ReLU, Sequential
from phase01.losses import SoftmaxCrossEntropy
from phase01.optim import AdamW, clip_grad_norm
from phase01.schedules import cosine_with_warmup, set_lr

FIGURES = Path(__file__).resolve().parents[1] / "blog" / "figures"


@dataclass
class Config:
    hidden: int = 128            # width of the one hidden layer
    dropout: float = 0.1         # dropout after the ReLU (training only)
    epochs: int = 30             # passes over the 1438 training images
    batch_size: int = 32         # images per optimizer step
    lr: float = 3e-3             # peak learning rate of AdamW
    weight_decay: float = 1e-2   # AdamW's decoupled decay (weights only, not biases)
    warmup_epochs: int = 1       # linear warmup, then cosine decay to lr/20
    clip: float = 5.0            # max global gradient norm
    seed: int = 0                # weights, dropout masks, batch order and the data split


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number; continuing would only print NaNs."""


@dataclass
class Result:
    model: Sequential
    history: list[dict] = field(default_factory=list)  # one dict per epoch
    test_accuracy: float = 0.0
    seconds: float = 0.0


def build_model(cfg: Config, n_in: int = 64, n_out: int = 10) -> Sequential:
    rng = np.random.default_rng(cfg.seed)
    return Sequential(
        Linear(n_in, cfg.hidden, rng=rng, init="he"),      # (B, 64) -> (B, H)
        ReLU(),
        Dropout(cfg.dropout, rng=rng),
        Linear(cfg.hidden, n_out, rng=rng, init="xavier"),  # (B, H) -> (B, 10)
    )


def predict(model: Sequential, X: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class ids ``(N,)`` in eval mode (dropout off); the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    out = np.concatenate([model(X[i:i + batch_size]).argmax(axis=-1) for i in range(0, len(X), batch_size)])
    model.train(was_training)
    return out


def check_finite(loss: float, epoch: int, step: int, lr: float) -> None:
    """Raise ``TrainingDiverged`` with what happened and what to try, instead of training on NaNs."""
    if not np.isfinite(loss):
        raise TrainingDiverged(
            f"the loss became {loss} at epoch {epoch}, step {step} (learning rate {lr:.3g}); "
            "the weights blew up. Try a smaller --lr (the default is 3e-3) or a smaller --clip."
        )


def train(cfg: Config, data: Digits | None = None, log=print) -> Result:
    """Mini-batch training; ``log`` receives one progress line per epoch (``None``: silent)."""
    data = data if data is not None else load_digits(seed=cfg.seed)
    model = build_model(cfg, data.X_train.shape[1], int(data.y_train.max()) + 1)
    decay = [p for name, p in model.named_parameters() if name.endswith("weight")]
    no_decay = [p for name, p in model.named_parameters() if not name.endswith("weight")]
    opt = AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}],
                lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = SoftmaxCrossEntropy()
    rng = np.random.default_rng(cfg.seed + 1)
    n = len(data.X_train)
    steps_per_epoch = -(-n // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    result = Result(model)
    start = time.perf_counter()
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = rng.permutation(n)
        losses = []
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            lr = cosine_with_warmup(step, cfg.lr, cfg.warmup_epochs * steps_per_epoch, total, min_lr=cfg.lr / 20)
            set_lr(opt, lr)
            with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is caught just below
                logits = model(data.X_train[idx])                 # (B, 64) -> (B, 10)
                loss = loss_fn(logits, data.y_train[idx])
            check_finite(loss, epoch, step, lr)
            opt.zero_grad()
            model.backward(loss_fn.backward())
            clip_grad_norm(model, cfg.clip)
            opt.step()
            losses.append(loss)
            step += 1
        train_acc = float(np.mean(predict(model, data.X_train) == data.y_train))
        test_acc = float(np.mean(predict(model, data.X_test) == data.y_test))
        elapsed = time.perf_counter() - start
        result.history.append({"epoch": epoch, "loss": float(np.mean(losses)), "train_acc": train_acc,
                               "test_acc": test_acc, "seconds": elapsed})
        if log:
            eta = elapsed / epoch * (cfg.epochs - epoch)
            log(f"epoch {epoch:3d}/{cfg.epochs}  loss {np.mean(losses):.4f}  train acc {100 * train_acc:5.1f}%  "
                f"test acc {100 * test_acc:5.1f}%  lr {lr:.2e}  [{elapsed:5.1f} s, eta {eta:4.1f} s]")
    result.test_accuracy = result.history[-1]["test_acc"] if result.history else 0.0
    result.seconds = time.perf_counter() - start
    return result


# -- figures ----------------------------------------------------------------------------------
def plot_training_curve(result: Result, path: Path) -> None:
    import matplotlib.pyplot as plt

    h = result.history
    epochs = [r["epoch"] for r in h]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(epochs, [r["loss"] for r in h], color="C0")
    a.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log", title="loss")
    b.plot(epochs, [100 * r["train_acc"] for r in h], label="train")
    b.plot(epochs, [100 * r["test_acc"] for r in h], label="test")
    b.axhline(95, color="gray", ls=":", lw=1, label="95% target")
    b.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(80, 100.5), title="accuracy")
    b.legend(loc="lower right")
    fig.suptitle(f"MLP on 8x8 digits: {100 * result.test_accuracy:.1f}% test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_misclassified(result: Result, data: Digits, path: Path, max_shown: int = 16) -> int:
    """A grid of the test digits the model gets wrong; returns how many it got wrong."""
    import matplotlib.pyplot as plt

    pred = predict(result.model, data.X_test)
    wrong = np.flatnonzero(pred != data.y_test)
    shown = wrong[:max_shown]
    cols = 8
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.75), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown):
        ax.imshow(data.X_test[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"true {data.y_test[i]}\nsaid {pred[i]}", fontsize=8)
    fig.suptitle(f"{len(wrong)} of {len(pred)} test digits misclassified", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return len(wrong)


def main(argv: list[str] | None = None) -> int:
    defaults = Config()
    ap = argparse.ArgumentParser(prog="python -m phase01.train_mlp", description=__doc__.split("\n")[0])
    for name, value in vars(defaults).items():
        ap.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    ap.add_argument("--out", type=Path, default=FIGURES, help="folder for the figures")
    ap.add_argument("--no-figures", action="store_true", help="train and report only")
    args = ap.parse_args(argv)
    cfg = Config(**{k: getattr(args, k) for k in vars(defaults)})
    print(f"training on scikit-learn's 8x8 digits: {cfg}")
    data = load_digits(seed=cfg.seed)
    try:
        result = train(cfg, data)
    except TrainingDiverged as e:
        print(f"stopped: {e}", file=sys.stderr)
        return 1
    print(f"test accuracy {100 * result.test_accuracy:.2f}% ({len(data.y_test)} images) "
          f"after {cfg.epochs} epochs in {result.seconds:.1f} s")
    if not args.no_figures:
        args.out.mkdir(parents=True, exist_ok=True)
        plot_training_curve(result, args.out / "mlp_training_curve.png")
        n_wrong = plot_misclassified(result, data, args.out / "mlp_misclassified.png")
        print(f"wrote {args.out / 'mlp_training_curve.png'} and {args.out / 'mlp_misclassified.png'} "
              f"({n_wrong} misclassified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
