"""Figures of phase 00's blog post (``make figures`` or ``python -m phase00.figures``).

- matmul_speed.png            loops vs row-vectorised vs einsum vs BLAS, time against n
- finite_difference_error.png forward and central differences: truncation vs round-off
- softmax_temperature.png     one set of logits at four temperatures
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phase00.calculus import derivative  # noqa: E402
from phase00.linalg import matmul_dot_rows, matmul_einsum, matmul_loops  # noqa: E402
from phase00.probability import entropy, softmax  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"


def _best_time(fn, *args, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_timings(sizes=(8, 16, 32, 64, 128), loop_limit: int = 64) -> dict[str, list[tuple[int, float]]]:
    """Seconds per ``n x n`` product for each implementation (loops only up to ``loop_limit``)."""
    rng = np.random.default_rng(0)
    out: dict[str, list[tuple[int, float]]] = {"three loops": [], "one loop (rows)": [],
                                               "einsum": [], "A @ B (BLAS)": []}
    for n in sizes:
        A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        if n <= loop_limit:
            out["three loops"].append((n, _best_time(matmul_loops, A, B, repeats=1)))
        out["one loop (rows)"].append((n, _best_time(matmul_dot_rows, A, B)))
        out["einsum"].append((n, _best_time(matmul_einsum, A, B)))
        out["A @ B (BLAS)"].append((n, _best_time(np.matmul, A, B, repeats=20)))
    return out


def plot_matmul(path: Path) -> None:
    timings = matmul_timings()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in timings.items():
        n, t = zip(*pts)
        ax.loglog(n, np.array(t) * 1e3, "o-", label=name)
    ax.set_xlabel("n (multiplying two n x n matrices)")
    ax.set_ylabel("milliseconds (best of runs)")
    ax.set_title("The same product, four ways")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_finite_differences(path: Path) -> None:
    x = 1.0
    exact = np.cos(x)
    hs = np.logspace(-13, -1, 49)
    fwd = [abs(derivative(np.sin, x, h, "forward") - exact) for h in hs]
    cen = [abs(derivative(np.sin, x, h, "central") - exact) for h in hs]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(hs, fwd, label="forward (f(x+h) - f(x)) / h")
    ax.loglog(hs, cen, label="central (f(x+h) - f(x-h)) / 2h")
    ax.axvline(1e-6, color="gray", ls="--", lw=1)
    ax.text(1.3e-6, 1e-3, "gradcheck's h = 1e-6", color="gray")
    ax.set_xlabel("step h")
    ax.set_ylabel("|error| of d/dx sin(x) at x = 1")
    ax.set_title("Truncation error falls with h, round-off rises")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_softmax_temperature(path: Path) -> None:
    logits = np.array([2.0, 1.0, 0.5, 0.1, -1.0])
    temps = [0.25, 0.5, 1.0, 2.0]
    fig, axes = plt.subplots(1, len(temps), figsize=(10, 2.8), sharey=True)
    for ax, t in zip(axes, temps):
        p = softmax(logits / t)
        ax.bar(range(len(p)), p, color="tab:blue")
        ax.set_title(f"T = {t}   H = {entropy(p):.2f} nats")
        ax.set_xticks(range(len(p)))
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("probability")
    fig.suptitle("softmax(logits / T) for logits (2, 1, 0.5, 0.1, -1)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(out_dir: Path = OUT) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_matmul(out_dir / "matmul_speed.png")
    plot_finite_differences(out_dir / "finite_difference_error.png")
    plot_softmax_temperature(out_dir / "softmax_temperature.png")


if __name__ == "__main__":
    main()
