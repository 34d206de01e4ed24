"""The twins of phase 01's and phase 05's losses.

A NumPy loss returned a Python float and kept ``softmax(z) - onehot(y)`` for its backward;
a torch loss returns a 0-d tensor that is the root of the graph, so ``loss.backward()``
starts there. ``F.cross_entropy`` fuses log-softmax and the negative log-likelihood into
one node whose backward is the same ``(softmax(z) - q) / N`` (``q`` the one-hot or the
label-smoothed target).

>>> import torch
>>> float(SoftmaxCrossEntropy()(torch.zeros(2, 4), torch.tensor([1, 3])))  # log 4
1.3862943649291992
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _check(who: str, logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.ndim == 0 or tuple(logits.shape[:-1]) != tuple(targets.shape):
        raise ValueError(f"{who}: logits of shape {tuple(logits.shape)} need targets of shape "
                         f"{tuple(logits.shape[:-1])}, got {tuple(targets.shape)}")
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise ValueError(f"{who}: targets must be integer class ids, got dtype {targets.dtype}")


class SoftmaxCrossEntropy(nn.Module):
    """Mean of ``-log softmax(logits)[target]`` over targets that are not ``ignore_index``,
    the twin of ``phase01.losses.SoftmaxCrossEntropy``; ``logits (..., C)``, ``targets (...)``."""

    def __init__(self, ignore_index: int = -100):
        super().__init__()
        self.ignore_index = int(ignore_index)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check("SoftmaxCrossEntropy", logits, targets)
        C = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1),
                               ignore_index=self.ignore_index)      # (N, C), (N,) -> ()


class MSELoss(nn.Module):
    """``mean((pred - target)**2)``, the twin of ``phase01.losses.MSELoss``."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"MSELoss: pred has shape {tuple(pred.shape)}, target has shape "
                             f"{tuple(target.shape)}; they must match")
        return F.mse_loss(pred, target)


class LabelSmoothingCrossEntropy(nn.Module):
    """Cross-entropy against ``(1 - eps) onehot + eps / V``, the twin of
    ``phase05.losses.LabelSmoothingCrossEntropy``: ``F.cross_entropy(label_smoothing=eps)``
    uses the same definition and the same mean over the kept positions."""

    def __init__(self, smoothing: float = 0.1, ignore_index: int = -100):
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"LabelSmoothingCrossEntropy: smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check("LabelSmoothingCrossEntropy", logits, targets)
        V = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
                               ignore_index=self.ignore_index, label_smoothing=self.smoothing)
