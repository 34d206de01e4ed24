"""Every figure of phase 01, generated from the code (``make figures`` or ``python -m phase01.figures``).

- ``perceptron_boundary.png``: the perceptron's line after each epoch, on separable data and on XOR;
- ``scalar_mlp_xor.png``: a 2-4-1 MLP built from ``autograd.Value`` solves XOR;
- ``init_statistics.png``: activation and gradient scale per layer for bad and good inits;
- ``toy_decision_boundary.png``: an MLP's decision regions on moons and a 3-arm spiral;
- ``adam_bias_correction.png``: Adam's moment estimates with and without bias correction;
- ``mlp_training_curve.png``, ``mlp_misclassified.png``: the digit classifier of ``train_mlp``.
"""

from __future__ import annotations

import random
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phase01 import init, train_mlp  # noqa: E402
from phase01.autograd import train_scalar_mlp  # noqa: E402
from phase01.datasets import linearly_separable, load_digits, moons, spiral, xor  # noqa: E402
from phase01.layers import Linear, ReLU, Sequential, Tanh  # noqa: E402
from phase01.perceptron import Perceptron  # noqa: E402
from phase01.toy import accuracy, decision_grid, train_toy  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"
COLORS = np.array(["#1f77b4", "#d62728", "#2ca02c"])


# -- perceptron ------------------------------------------------------------------------------
def _draw_line(ax, w, b, xlim, **kw):
    xs = np.linspace(*xlim, 2)
    if abs(w[1]) > 1e-12:
        ax.plot(xs, -(w[0] * xs + b) / w[1], **kw)
    elif abs(w[0]) > 1e-12:
        ax.axvline(-b / w[0], **kw)


def plot_perceptron(path: Path) -> dict:
    X, y = linearly_separable(60, margin=0.05, rng=np.random.default_rng(0))
    X = X + np.array([1.5, 1.0])  # away from the origin, so the bias has work to do
    sep = Perceptron(2).fit(X, y, epochs=100, rng=np.random.default_rng(1))
    Xx, yx = xor()
    xo = Perceptron(2).fit(Xx, yx, epochs=30, rng=np.random.default_rng(1))

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    cmap = plt.get_cmap("viridis")
    ax = axes[0]
    ax.scatter(*X.T, c=COLORS[y], s=18, edgecolor="k", lw=0.4, zorder=3)
    xlim, ylim = (X[:, 0].min() - 0.2, X[:, 0].max() + 0.2), (X[:, 1].min() - 0.2, X[:, 1].max() + 0.2)
    for k, (w, b) in enumerate(zip(sep.weights, sep.biases)):
        last = k == len(sep.weights) - 1
        _draw_line(ax, w, b, xlim, color=cmap(k / max(len(sep.weights) - 1, 1)), lw=2.4 if last else 1.2,
                   label=f"after epoch {k + 1}")
    ax.set(xlim=xlim, ylim=ylim, title=f"separable: done after {len(sep.weights)} epochs",
           xlabel="$x_0$", ylabel="$x_1$")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    ax.scatter(*Xx.T, c=COLORS[yx], s=90, edgecolor="k", zorder=3)
    lines = [(w, b) for w, b in xo.updates if np.any(w != 0)][:10]
    for k, (w, b) in enumerate(lines):
        _draw_line(ax, w, b, (-0.5, 1.5), color=cmap(k / max(len(lines) - 1, 1)), lw=1.3)
    ax.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), title="XOR: the line never settles",
           xlabel="$x_0$", ylabel="$x_1$")
    ax.text(-0.45, 1.4, f"first {len(lines)} lines visited", fontsize=8, va="top")
    axes[2].plot(np.arange(1, len(sep.mistakes) + 1), sep.mistakes, "o-", label="separable (60 points)")
    axes[2].plot(np.arange(1, len(xo.mistakes) + 1), xo.mistakes, "s-", label="XOR (4 points)")
    axes[2].set(xlabel="epoch", ylabel="mistakes (updates) in the epoch", title="mistakes per epoch")
    axes[2].legend()
    fig.suptitle("Rosenblatt's perceptron: one line, nudged after every mistake")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"separable_epochs": len(sep.mistakes), "xor_mistakes_last_epoch": xo.mistakes[-1]}


def plot_scalar_mlp_xor(path: Path) -> dict:
    X, y = xor()
    signs = [2.0 * t - 1 for t in y]
    net, losses = train_scalar_mlp(X.tolist(), signs, sizes=[2, 4, 1], steps=200, lr=0.2, seed=0)
    grid = np.linspace(-0.5, 1.5, 41)
    z = np.array([[net([a, b])[0].data for a in grid] for b in grid])  # (41, 41), one graph per point
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 3.6))
    a.plot(losses)
    a.set(yscale="log", xlabel="step", ylabel="mean squared error", title="training a Value-graph MLP")
    cs = b.contourf(grid, grid, z, levels=np.linspace(-2, 2, 17), cmap="RdBu_r", extend="both")
    b.contour(grid, grid, z, levels=[0.0], colors="k")
    b.scatter(*X.T, c=COLORS[y], s=90, edgecolor="k")
    fig.colorbar(cs, ax=b, label="network output")
    b.set(title="XOR solved: the boundary (black) bends", xlabel="$x_0$", ylabel="$x_1$")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"final_loss": losses[-1]}


# -- initialisation ----------------------------------------------------------------------------
def init_statistics(depth: int = 10, width: int = 256, batch: int = 512, seed: int = 0) -> dict[str, dict]:
    """Forward activation std and backward gradient std after each of ``depth`` layers, per init.

    A deep stack ``Linear -> act`` is fed standard-normal inputs; the backward pass starts
    from a standard-normal ``dout``. Returns ``{label: {"act": [...], "grad": [...]}}``.
    """
    rng = np.random.default_rng(seed)
    cases = {
        "tanh, N(0, 1)": (Tanh, lambda s: init.normal(s, 1.0, rng, np.float64)),
        "tanh, N(0, 0.01^2)": (Tanh, lambda s: init.normal(s, 0.01, rng, np.float64)),
        "tanh, Xavier": (Tanh, lambda s: init.xavier_normal(s, rng, dtype=np.float64)),
        "ReLU, Xavier": (ReLU, lambda s: init.xavier_normal(s, rng, dtype=np.float64)),
        "ReLU, He": (ReLU, lambda s: init.he_normal(s, rng, dtype=np.float64)),
    }
    x = rng.standard_normal((batch, width))
    dout = rng.standard_normal((batch, width))
    stats = {}
    for label, (act, draw) in cases.items():
        layers = []
        for _ in range(depth):
            lin = Linear(width, width, rng=rng, dtype=np.float64)
            lin.weight.data = draw((width, width))
            lin.bias.data[:] = 0
            layers += [lin, act()]
        net = Sequential(*layers)
        h, acts = x, []
        for i in range(0, len(net), 2):
            h = net[i + 1](net[i](h))                   # (B, W) -> (B, W)
            acts.append(float(h.std()))
        g, grads = dout, []
        for i in reversed(range(0, len(net), 2)):
            g = net[i].backward(net[i + 1].backward(g))  # gradient w.r.t. the layer's input
            grads.append(float(g.std()))
        stats[label] = {"act": acts, "grad": grads[::-1]}
    return stats


def plot_init_statistics(path: Path) -> dict:
    stats = init_statistics()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for (label, s), m in zip(stats.items(), "os^vD"):
        layers = np.arange(1, len(s["act"]) + 1)
        a.plot(layers, s["act"], marker=m, label=label)
        b.plot(layers, s["grad"], marker=m, label=label)
    a.set(yscale="log", xlabel="layer", ylabel="std of activations", title="forward: activations")
    b.set(yscale="log", xlabel="layer", ylabel="std of d loss / d input", title="backward: gradients")
    a.legend(fontsize=8)
    fig.suptitle("10 layers of width 256: the initial scale decides whether signals survive")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {k: (v["act"][-1], v["grad"][0]) for k, v in stats.items()}


# -- 2-D toys --------------------------------------------------------------------------------
def plot_toy(path: Path) -> dict:
    problems = {
        "moons": moons(300, noise=0.15, rng=np.random.default_rng(0)),
        "spiral (3 arms)": spiral(100, 3, noise=0.2, rng=np.random.default_rng(0)),
    }
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    accs = {}
    for ax, (name, (X, y)) in zip(axes, problems.items()):
        model, losses = train_toy(X, y, hidden=48, steps=600, lr=0.02, seed=0)
        xx, yy, cls = decision_grid(model, X, resolution=150)
        ax.contourf(xx, yy, cls, levels=np.arange(-0.5, y.max() + 1), colors=[c + "44" for c in COLORS[:y.max() + 1]])
        ax.scatter(*X.T, c=COLORS[y], s=10, edgecolor="k", lw=0.3)
        accs[name] = accuracy(model, X, y)
        ax.set(title=f"{name}: train accuracy {100 * accs[name]:.1f}%", xticks=[], yticks=[])
    fig.suptitle("MLP 2-48-48-K (ReLU), full-batch Adam, 600 steps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return accs


# -- Adam ------------------------------------------------------------------------------------
def plot_adam_bias_correction(path: Path, steps: int = 60) -> dict:
    rng = np.random.default_rng(0)
    g = 0.5 + 0.1 * rng.standard_normal(steps)           # a noisy gradient around 0.5
    b1, b2 = 0.9, 0.999
    m = v = 0.0
    rows = []
    for t, gt in enumerate(g, start=1):
        m = b1 * m + (1 - b1) * gt
        v = b2 * v + (1 - b2) * gt * gt
        rows.append((m, m / (1 - b1**t), np.sqrt(v), np.sqrt(v / (1 - b2**t))))
    m_raw, m_hat, s_raw, s_hat = np.array(rows).T
    t = np.arange(1, steps + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(t, g, ".", color="gray", alpha=0.5, label="gradient $g_t$")
    a.plot(t, m_raw, label="$m_t$ (starts at 0)")
    a.plot(t, m_hat, label=r"$\hat m_t = m_t / (1-\beta_1^t)$")
    a.set(xlabel="step t", title=r"first moment, $\beta_1 = 0.9$")
    a.legend(fontsize=8)
    b.plot(t, m_raw / (s_raw + 1e-8), label=r"$m_t / \sqrt{v_t}$ (no correction)")
    b.plot(t, m_hat / (s_hat + 1e-8), label=r"$\hat m_t / \sqrt{\hat v_t}$ (Adam)")
    b.set(xlabel="step t", ylabel="step size / lr", title=r"the update, $\beta_2 = 0.999$")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"uncorrected_first_step": float(m_raw[0] / s_raw[0]), "corrected_first_step": float(m_hat[0] / s_hat[0])}


# -- the digit classifier ------------------------------------------------------------------------
def plot_mlp(out_dir: Path) -> dict:
    data = load_digits()
    result = train_mlp.train(train_mlp.Config(), data, log=None)
    train_mlp.plot_training_curve(result, out_dir / "mlp_training_curve.png")
    wrong = train_mlp.plot_misclassified(result, data, out_dir / "mlp_misclassified.png")
    return {"test_accuracy": result.test_accuracy, "misclassified": wrong, "seconds": result.seconds}


def main(out_dir: Path = OUT) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    random.seed(0)
    figures = {
        "perceptron_boundary.png": plot_perceptron(out_dir / "perceptron_boundary.png"),
        "scalar_mlp_xor.png": plot_scalar_mlp_xor(out_dir / "scalar_mlp_xor.png"),
        "init_statistics.png": plot_init_statistics(out_dir / "init_statistics.png"),
        "toy_decision_boundary.png": plot_toy(out_dir / "toy_decision_boundary.png"),
        "adam_bias_correction.png": plot_adam_bias_correction(out_dir / "adam_bias_correction.png"),
        "mlp_*.png": plot_mlp(out_dir),
    }
    for name, info in figures.items():
        print(f"{out_dir / name}: {info}")
    return figures


if __name__ == "__main__":
    main()
