"""Label-smoothed cross-entropy (Szegedy et al. 2016), the loss of the 2017 Transformer.

Plain cross-entropy pushes the target's probability towards 1, which only a logit going to
infinity reaches. Label smoothing trains against a softened target instead:

    q = (1 - eps) * one_hot(target) + eps / V          (V classes; q sums to 1)
    loss = -sum_c q_c log p_c,    p = softmax(logits)
    dloss/dlogits = p - q                               (per position, before averaging)

which is ``(1 - eps) * CE(target) + eps * mean_c(-log p_c)``: the usual loss plus a pull
towards the uniform distribution. ``eps = 0`` is the plain cross-entropy. This is the
definition ``torch.nn.functional.cross_entropy(..., label_smoothing=eps)`` uses.
"""

from __future__ import annotations

import numpy as np

from phase00.probability import log_softmax
from phase01.module import Module


class LabelSmoothingCrossEntropy(Module):
    """Mean label-smoothed cross-entropy over the positions whose target is not ``ignore_index``.

    ``forward(logits: (..., V), targets: int (...)) -> float``; ``backward(dout=1.0) -> dlogits``.
    Padding positions (``targets == ignore_index``) add nothing to the loss or the gradient.

    >>> loss = LabelSmoothingCrossEntropy(smoothing=0.1)
    >>> round(loss(np.zeros((1, 4)), np.array([2])), 4)   # uniform logits: log 4 either way
    1.3863
    >>> loss.backward().round(3)       # p - q: 0.25 - 0.025 off target, 0.25 - 0.925 at it
    array([[ 0.225,  0.225, -0.675,  0.225]])
    """

    def __init__(self, smoothing: float = 0.1, ignore_index: int = -100):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"LabelSmoothingCrossEntropy: smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.ignore_index = ignore_index

    def forward(self, logits: np.ndarray, targets: np.ndarray) -> float:
        logits = np.asarray(logits)
        targets = np.asarray(targets)
        if logits.shape[:-1] != targets.shape:
            raise ValueError(f"LabelSmoothingCrossEntropy: logits {logits.shape} need targets of "
                             f"shape {logits.shape[:-1]}, got {targets.shape}")
        V = logits.shape[-1]
        keep = targets != self.ignore_index                            # (...) bool
        bad = keep & ((targets < 0) | (targets >= V))
        if np.any(bad):
            raise ValueError(f"LabelSmoothingCrossEntropy: target {targets[bad][0]} is out of "
                             f"range [0, {V}) (ignore_index is {self.ignore_index})")
        n = int(keep.sum())
        if n == 0:
            raise ValueError("LabelSmoothingCrossEntropy: every target is ignore_index")
        safe = np.where(keep, targets, 0)                              # (...) valid ids
        logp = log_softmax(logits, axis=-1)                            # (..., V)
        nll = -np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]   # (...)
        smooth = -logp.mean(axis=-1)                                   # (...) mean over classes
        per_pos = (1.0 - self.smoothing) * nll + self.smoothing * smooth    # (...)
        self.cache = (logp, safe, keep, n)
        return float(np.sum(per_pos * keep) / n)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        logp, safe, keep, n = self.cache
        V = logp.shape[-1]
        grad = np.exp(logp)                                            # (..., V) p
        grad -= self.smoothing / V                                     # p - eps/V everywhere
        flat = grad.reshape(-1, V)                                     # (N, V) view
        flat[np.arange(safe.size), safe.reshape(-1)] -= 1.0 - self.smoothing  # - (1 - eps) at the target
        grad *= (keep[..., None] * (dout / n)).astype(grad.dtype)      # mean over kept positions
        return grad
