"""Probability for language models: stable softmax, cross-entropy, entropy, KL, sampling.

Every language model ends in the same three lines: logits -> softmax -> cross-entropy.
Done naively they overflow (``exp(1000)`` is ``inf``); done as here they are exact for any
finite logits. See phase-00-math-foundations/notes/softmax-cross-entropy.md.
"""

from __future__ import annotations

import numpy as np


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log(sum(exp(x)))`` along ``axis`` without overflow.

    Subtracting the maximum ``m`` first changes nothing mathematically,
    ``log sum exp(x) = m + log sum exp(x - m)``, but keeps every ``exp`` in ``(0, 1]``.

    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # log(2 e^1000) = 1000 + log 2
    1000.6931471805599
    """
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # a row of -inf stays -inf instead of nan
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for an all -inf row
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x - logsumexp(x)``: log-probabilities, exact even where the probability underflows."""
    x = np.asarray(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis``, stable for any finite logits.

    >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    """
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))  # every entry in (0, 1]
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(dout: np.ndarray, probs: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product of softmax: ``p * (dout - sum(dout * p))``.

    The Jacobian is ``diag(p) - p p^T``; multiplying it by ``dout`` never needs the matrix.
    """
    return probs * (dout - np.sum(dout * probs, axis=axis, keepdims=True))


def one_hot(targets: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    """``one_hot(np.array([2, 0]), 3)`` is ``[[0, 0, 1], [1, 0, 0]]``."""
    targets = np.asarray(targets)
    if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(f"targets must lie in [0, {num_classes}), got {targets.min()}..{targets.max()}")
    return np.eye(num_classes, dtype=dtype)[targets]


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean negative log-likelihood of integer ``targets`` under ``softmax(logits)``.

    ``logits`` is ``(N, C)`` (or ``(..., C)``), ``targets`` holds class ids of shape ``(N,)``
    (or ``(...)``). With uniform logits over ``C`` classes the loss is ``log C``.
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {logits.shape} need targets of shape {logits.shape[:-1]}, got {targets.shape}")
    C = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= C):
        raise ValueError(f"targets must lie in [0, {C}), got {targets.min()}..{targets.max()}")
    logp = log_softmax(logits, axis=-1)                                        # (..., C)
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]     # (...)
    return float(-picked.mean())


def cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d cross_entropy / d logits = ``(softmax(logits) - one_hot(targets)) / N``.

    ``N`` is the number of predictions averaged over (every position but the class axis).
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    n = targets.size
    grad = softmax(logits, axis=-1)
    np.put_along_axis(grad, targets[..., None], np.take_along_axis(grad, targets[..., None], -1) - 1.0, -1)
    return grad / n


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """``-sum p log p`` in nats, with ``0 log 0 = 0``. Uniform over ``C`` gives ``log C``."""
    p = np.asarray(p, dtype=np.float64)
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=axis)


def kl_divergence(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
    """``KL(p || q) = sum p log(p / q)`` in nats: zero iff ``p == q``, infinite where
    ``q = 0 < p``, never negative."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    pos = p > 0
    with np.errstate(divide="ignore"):
        ratio = np.where(pos, np.log(np.where(pos, p, 1.0)) - np.log(q), 0.0)
    return np.sum(np.where(pos, p * ratio, 0.0), axis=axis)


def sample_categorical(
    logits: np.ndarray,
    temperature: float = 1.0,
    rng: np.random.Generator | None = None,
    size: int | None = None,
) -> np.ndarray:
    """Draw class ids from ``softmax(logits / temperature)`` (last axis), seeded by ``rng``.

    ``temperature -> 0`` approaches argmax; ``temperature = 0`` *is* argmax (greedy).
    Higher temperatures flatten the distribution. ``logits`` may be ``(C,)`` or ``(B, C)``.
    Uses the inverse CDF: one uniform per draw, compared against cumulative probabilities.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        greedy = np.argmax(logits, axis=-1)
        return greedy if size is None else np.repeat(greedy[..., None], size, axis=-1)
    rng = rng or np.random.default_rng()
    probs = softmax(logits / temperature, axis=-1)        # (..., C)
    cdf = np.cumsum(probs, axis=-1)
    cdf[..., -1] = 1.0                                    # guard against rounding below 1
    shape = probs.shape[:-1] + ((size,) if size is not None else ())
    u = rng.random(shape)                                 # (..., [size])
    if size is None:
        return np.sum(cdf <= u[..., None], axis=-1)
    return np.sum(cdf[..., None, :] <= u[..., None], axis=-1)
