"""2-D toys (moons, spiral): small enough to draw what an MLP has learned as a decision boundary.

>>> import numpy as np
>>> from phase01.datasets import moons
>>> X, y = moons(200, rng=np.random.default_rng(0))
>>> model, losses = train_toy(X, y, hidden=16, steps=300)
>>> losses[-1] < 0.5 * losses[0], accuracy(model, X, y) > 0.9
(True, True)
"""

from __future__ import annotations

import numpy as np

from phase01.layers import Linear, Module, ReLU, Sequential
from phase01.losses import SoftmaxCrossEntropy
from phase01.optim import Adam


def mlp(sizes: list[int], rng: np.random.Generator, activation=ReLU) -> Sequential:
    """``Linear -> act -> ... -> Linear`` through ``sizes``, e.g. ``[2, 32, 32, 3]`` (float64)."""
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, rng=rng, init="he" if i < len(sizes) - 2 else "xavier", dtype=np.float64))
        if i < len(sizes) - 2:
            layers.append(activation())
    return Sequential(*layers)


def train_toy(X: np.ndarray, y: np.ndarray, hidden: int = 32, depth: int = 2, steps: int = 1000,
              lr: float = 0.02, seed: int = 0) -> tuple[Sequential, list[float]]:
    """Full-batch Adam on ``SoftmaxCrossEntropy``; returns the model and the loss at every step."""
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1
    model = mlp([X.shape[1], *[hidden] * depth, n_classes], rng)
    opt = Adam(model.parameters(), lr=lr)
    loss_fn = SoftmaxCrossEntropy()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(X), y)                   # (N, 2) -> (N, K) -> scalar
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
        losses.append(loss)
    return model, losses


def accuracy(model: Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model(X).argmax(axis=-1) == y))


def decision_grid(model: Module, X: np.ndarray, resolution: int = 200, pad: float = 0.3
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's class at every point of a grid around ``X``: ``(xx, yy, classes)``, each ``(R, R)``."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)              # (R*R, 2)
    return xx, yy, model(points).argmax(axis=-1).reshape(xx.shape)   # (R*R, K) -> (R, R)
