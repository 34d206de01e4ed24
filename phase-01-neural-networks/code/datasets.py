"""Small data sets for phase 01: toy 2-D problems generated here, and scikit-learn's 8x8 digits.

The toys are drawn from a ``np.random.Generator`` so every figure and test is reproducible.
Labels are integer class ids ``0..K-1`` (the perceptron converts to ``+-1`` itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def linearly_separable(n: int = 100, margin: float = 0.3, rng: np.random.Generator | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in ``[-1, 1]^2`` labelled by the side of the line ``x1 = 0.5 x0 + 0.1``;
    points within ``margin`` of the line (measured along x1) are redrawn, so a gap exists."""
    rng = rng if rng is not None else np.random.default_rng(0)
    X = np.empty((0, 2))
    while len(X) < n:
        cand = rng.uniform(-1, 1, size=(2 * n, 2))                          # (2n, 2)
        gap = cand[:, 1] - (0.5 * cand[:, 0] + 0.1)                          # signed vertical offset
        X = np.concatenate([X, cand[np.abs(gap) > margin / 2]])
    X = X[:n]
    y = (X[:, 1] > 0.5 * X[:, 0] + 0.1).astype(np.int64)                   # (n,) in {0, 1}
    return X, y


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four corners of the unit square, labelled ``x0 XOR x1``: no line separates them."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def moons(n: int = 400, noise: float = 0.15, rng: np.random.Generator | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles (class 0 on top, class 1 below and shifted), plus Gaussian noise."""
    rng = rng if rng is not None else np.random.default_rng(0)
    n0 = n // 2
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n - n0)
    top = np.stack([np.cos(t0), np.sin(t0)], axis=1)                       # (n0, 2)
    bottom = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)          # (n - n0, 2)
    X = np.concatenate([top, bottom]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    return X, y


def spiral(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2,
           rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` arms of a spiral: radius grows from 0 to 1 while the angle turns by 4 radians."""
    rng = rng if rng is not None else np.random.default_rng(0)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)              # (K n,)
    k = np.repeat(np.arange(n_classes), n_per_class)                        # (K n,)
    angle = k * 2 * np.pi / n_classes + 4 * r + noise * rng.standard_normal(r.shape)
    X = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)            # (K n, 2)
    return X, k.astype(np.int64)


@dataclass
class Digits:
    """The 8x8 digits split into train and test; pixels scaled from ``0..16`` to ``0..1``."""

    X_train: np.ndarray  # (N_train, 64) float32
    y_train: np.ndarray  # (N_train,) int64 in 0..9
    X_test: np.ndarray   # (N_test, 64)
    y_test: np.ndarray   # (N_test,)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Digits:
    """scikit-learn's bundled handwritten digits (1797 images of 8x8 pixels, no download needed).

    The split is stratified: each digit class gives the same fraction to the test set, chosen
    by ``np.random.default_rng(seed)``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must lie in (0, 1), got {test_fraction}")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as e:  # pragma: no cover - scikit-learn is in the dev extra
        raise ImportError("the digits data set comes with scikit-learn: pip install -e '.[dev]'") from e
    raw = sklearn_digits()
    X = (raw.data / 16.0).astype(np.float32)                                # (1797, 64) in [0, 1]
    y = raw.target.astype(np.int64)                                         # (1797,)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: round(test_fraction * len(idx))]] = True
    return Digits(X[~test], y[~test], X[test], y[test])
