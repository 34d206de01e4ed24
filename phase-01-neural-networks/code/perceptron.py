"""Rosenblatt's perceptron (1958): a line, and a rule that nudges it after every mistake.

The model is ``predict(x) = sign(w . x + b)`` with labels ``+1`` / ``-1``. The learning rule
looks at one example at a time; when it is misclassified (``y (w . x + b) <= 0``) it moves
the line towards it: ``w += lr * y * x``, ``b += lr * y``. If some line separates the data
with margin ``gamma`` and every point lies within radius ``R``, the rule makes at most
``(R / gamma)^2`` mistakes (Novikoff's bound) and stops. If no line exists (XOR) it cycles
for ever. See phase-01-neural-networks/notes/perceptron.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def to_signs(y: np.ndarray) -> np.ndarray:
    """Labels ``{0, 1}`` (or already ``{-1, +1}``) as ``{-1, +1}``.

    >>> to_signs(np.array([0, 1, 1])).tolist()
    [-1, 1, 1]
    """
    y = np.asarray(y)
    values = set(np.unique(y).tolist())
    if values <= {0, 1}:
        return np.where(y == 1, 1, -1)
    if values <= {-1, 1}:
        return y.astype(np.int64)
    raise ValueError(f"perceptron: labels must be 0/1 or -1/+1, got values {sorted(values)}")


@dataclass
class PerceptronHistory:
    """What happened during training, one entry per epoch (after the epoch's updates)."""

    weights: list[np.ndarray] = field(default_factory=list)  # w after each epoch, (d,)
    biases: list[float] = field(default_factory=list)
    mistakes: list[int] = field(default_factory=list)         # updates made during the epoch
    converged: bool = False                                   # an epoch without a single mistake
    updates: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (w, b) after every update


class Perceptron:
    """A linear threshold unit ``sign(w . x + b)`` trained with Rosenblatt's rule."""

    def __init__(self, n_features: int):
        self.w = np.zeros(n_features)  # (d,)
        self.b = 0.0

    def decision(self, X: np.ndarray) -> np.ndarray:
        """``w . x + b`` for each row: ``(N, d) -> (N,)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.w.shape[0]:
            raise ValueError(f"Perceptron(n_features={self.w.shape[0]}): input of shape {X.shape} "
                             f"does not fit weight of shape {self.w.shape}")
        return X @ self.w + self.b

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``+1`` or ``-1`` per row (a point exactly on the line counts as ``-1``)."""
        return np.where(self.decision(X) > 0, 1, -1)

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 100, lr: float = 1.0,
            rng: np.random.Generator | None = None) -> PerceptronHistory:
        """Sweep the data ``epochs`` times (in a fresh random order when ``rng`` is given),
        updating after each mistake; stop after the first epoch with no mistakes."""
        X = np.asarray(X, dtype=np.float64)
        s = to_signs(y)
        if len(X) != len(s):
            raise ValueError(f"Perceptron.fit: X has {len(X)} rows but y has {len(s)} labels")
        self.decision(X[:1])  # shape check
        history = PerceptronHistory()
        for _ in range(epochs):
            order = rng.permutation(len(X)) if rng is not None else np.arange(len(X))
            mistakes = 0
            for i in order:  # the rule is online: one example at a time, by design
                if s[i] * (X[i] @ self.w + self.b) <= 0:
                    self.w += lr * s[i] * X[i]
                    self.b += lr * s[i]
                    mistakes += 1
                    history.updates.append((self.w.copy(), self.b))
            history.weights.append(self.w.copy())
            history.biases.append(self.b)
            history.mistakes.append(mistakes)
            if mistakes == 0:
                history.converged = True
                break
        return history


def novikoff_bound(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """``(R / gamma)^2``: Novikoff's bound on the perceptron's mistakes, for a separating ``(w, b)``.

    The bias is folded in as a constant feature 1, so ``R = max ||(x, 1)||`` and
    ``gamma = min y (w . x + b) / ||(w, b)||``; a non-separating ``(w, b)`` gives ``gamma <= 0``
    and the bound is ``inf``.
    """
    X = np.asarray(X, dtype=np.float64)
    s = to_signs(y)
    Xa = np.hstack([X, np.ones((len(X), 1))])                              # (N, d+1)
    wa = np.append(w, b)                                                   # (d+1,)
    gamma = float(np.min(s * (Xa @ wa)) / np.linalg.norm(wa))
    R = float(np.max(np.linalg.norm(Xa, axis=1)))
    return (R / gamma) ** 2 if gamma > 0 else float("inf")
