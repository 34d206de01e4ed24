"""The figure of phase 06 (``make figures`` or ``python -m phase06.figures``).

- ``parity_errors.png``: for every component of phases 01-05, the worst relative error
  between the NumPy layer and its torch twin over every output and gradient of its examples
  (``phase06.cases.CATALOGUE``, three seeds each), with the array where it occurred, against
  the suite's tolerance (1e-6) and float64's resolution (2.2e-16).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from phase06.cases import CATALOGUE, worst  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"
EXACT = 1e-17          # where an error of exactly 0 is drawn on the log axis


def parity_errors(seeds=(0, 1, 2)) -> dict[str, tuple[float, str]]:
    """``{component: (worst relative error, where)}`` over the catalogue, one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                   # tiny tensors: a thread pool only adds waiting
    try:
        return {name: worst(builders, seeds) for name, builders in CATALOGUE.items()}
    finally:
        torch.set_num_threads(threads)


def plot_parity_errors(errors: dict[str, tuple[float, str]], path: Path) -> None:
    names = list(errors)[::-1]                 # phase 01 at the top
    values = np.array([max(errors[n][0], EXACT) for n in names])
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(names) + 1.4))
    ax.barh(names, values, left=EXACT / 10, color="#1f77b4")
    for y, (n, v) in enumerate(zip(names, values)):
        err, where = errors[n]
        label = "exact: 0" if err == 0 else f"{err:.0e}  {where}"
        ax.text(v * 1.6, y, label, va="center", fontsize=6.5)
    ax.axvline(1e-6, color="#d62728", lw=1.5, label="tolerance of the suite, 1e-6")
    ax.axvline(np.finfo(np.float64).eps, color="grey", ls="--", lw=1, label="float64 resolution, 2.2e-16")
    ax.set_xscale("log")
    ax.set_xlim(EXACT / 10, 1e-2)
    ax.set_xlabel("worst relative error, NumPy vs torch twin (outputs and all gradients, float64)")
    ax.set_title("Same numbers: every component of phases 01-05 against its torch twin")
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(out_dir: Path = OUT, seeds=(0, 1, 2)) -> dict[str, tuple[float, str]]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    errors = parity_errors(seeds)
    plot_parity_errors(errors, out_dir / "parity_errors.png")
    return errors


if __name__ == "__main__":
    for name, (err, where) in main().items():
        print(f"{name:28s} {err:.1e}  {where}")
