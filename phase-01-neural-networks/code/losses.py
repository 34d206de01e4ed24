"""Losses: softmax cross-entropy (with ``ignore_index``) and mean squared error.

Both are ``Module``s: ``forward`` returns a Python float and keeps what ``backward`` needs;
``backward(dout=1.0)`` returns the gradient of ``dout * loss`` with respect to the
prediction. See phase-01-neural-networks/notes/backprop.md for why softmax followed by
cross-entropy has the gradient ``(softmax(z) - onehot(y)) / N``.
"""

from __future__ import annotations

import numpy as np

from phase00.probability import log_softmax
from phase01.module import Module


class SoftmaxCrossEntropy(Module):
    """Mean of ``-log softmax(logits)[target]`` over the targets that are not ``ignore_index``.

    ``logits`` is ``(..., C)``, ``targets`` integer class ids of shape ``(...)``. Positions
    whose target equals ``ignore_index`` (padding) add nothing to the loss or the gradient,
    as in ``torch.nn.CrossEntropyLoss``. When every target is ignored the mean is ``0 / 0``
    and, as in torch, the loss is ``nan``; its gradient is zero.

    >>> loss = SoftmaxCrossEntropy()
    >>> round(loss(np.zeros((2, 4)), np.array([1, 3])), 6)  # uniform over 4 classes: log 4
    1.386294
    """

    def __init__(self, ignore_index: int = -100):
        self.ignore_index = int(ignore_index)

    def __repr__(self) -> str:
        return f"SoftmaxCrossEntropy(ignore_index={self.ignore_index})"

    def forward(self, logits: np.ndarray, targets: np.ndarray) -> float:
        logits, targets = np.asarray(logits), np.asarray(targets)
        if logits.ndim == 0 or logits.shape[:-1] != targets.shape:
            raise ValueError(
                f"{self!r}: logits of shape {logits.shape} need targets of shape {logits.shape[:-1]}, "
                f"got targets of shape {targets.shape}"
            )
        if not np.issubdtype(targets.dtype, np.integer):
            raise ValueError(f"{self!r}: targets must be integer class ids, got dtype {targets.dtype}")
        C = logits.shape[-1]
        keep = targets != self.ignore_index                                      # (...) bool
        bad = keep & ((targets < 0) | (targets >= C))
        if bad.any():
            raise ValueError(f"{self!r}: targets must lie in [0, {C}) or equal ignore_index, got {targets[bad][0]}")
        safe = np.where(keep, targets, 0)                                        # (...) valid ids everywhere
        logp = log_softmax(logits, axis=-1)                                      # (..., C)
        picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]      # (...)
        self.probs = np.exp(logp)                                                # (..., C)
        self.safe, self.keep, self.count = safe, keep, int(keep.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(-(picked * keep).sum() / self.count)                    # nan if count == 0

    def backward(self, dout: float = 1.0) -> np.ndarray:
        grad = self.probs.copy()                                                 # (..., C) softmax(z)
        np.put_along_axis(grad, self.safe[..., None],
                          np.take_along_axis(grad, self.safe[..., None], axis=-1) - 1, axis=-1)
        scale = np.asarray(dout, dtype=grad.dtype) / max(self.count, 1)          # d(mean)/d(each term)
        return grad * self.keep[..., None] * scale                               # (..., C), 0 on ignored rows


class MSELoss(Module):
    """``mean((pred - target)**2)`` over every element; ``d/dpred = 2 (pred - target) / N``."""

    def __repr__(self) -> str:
        return "MSELoss()"

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred, target = np.asarray(pred), np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(f"{self!r}: pred has shape {pred.shape}, target has shape {target.shape}; they must match")
        self.diff = pred - target                                                # (...)
        return float(np.mean(self.diff**2))

    def backward(self, dout: float = 1.0) -> np.ndarray:
        return (2.0 * np.asarray(dout) / self.diff.size) * self.diff             # (...)
