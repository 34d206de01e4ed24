"""The torch twins of phase 01's layers: same names, same shapes, no backward to write.

Each class mirrors one of ``phase01.layers`` and keeps its parameter names, so the whole
weight transfer from a NumPy layer is one line (``phase06.convert.load_numpy_weights``)::

    phase01.layers.Linear(4, 3)       weight (3, 4), bias (3,)
    phase06.layers.Linear(4, 3)       weight (3, 4), bias (3,)     nn.Parameter, same names

What changes is what is missing: a ``forward`` and nothing else. torch records every
operation of ``forward`` in a graph as it runs, and ``loss.backward()`` walks that graph in
reverse, calling for each node the backward formula phase 01 wrote by hand (see
phase-06-pytorch-transition/notes/autograd.md). ``nn.Module`` finds the parameters the way
``phase01.module.Module`` did (attributes that are ``nn.Parameter`` or sub-modules), and
``.train()`` / ``.eval()`` switch dropout exactly as before.

>>> import torch
>>> net = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
>>> net(torch.ones(2, 4)).shape
torch.Size([2, 3])
>>> sorted(net.state_dict())
['0.bias', '0.weight', '2.bias', '2.weight']
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Linear(nn.Module):
    """``y = x W^T + b`` over the last axis, the twin of ``phase01.layers.Linear``.

    ``init="default"`` draws as ``torch.nn.Linear`` does (``U(+-1/sqrt(in))`` for weight and
    bias); ``"normal"`` is GPT-2's ``N(0, 0.02)`` with a zero bias. The parity suite loads the
    NumPy weights anyway, so the initialisation only matters when the twin trains on its own.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "default"):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, out_features={out_features}")
        if init not in ("default", "normal"):
            raise ValueError(f"Linear: unknown init {init!r}; use 'default' or 'normal'")
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))   # (out, in)
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None  # (out,)
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "default") -> None:
        with torch.no_grad():                      # initialising is not part of any graph
            if init == "normal":
                self.weight.normal_(0.0, 0.02)
                if self.bias is not None:
                    self.bias.zero_()
                return
            bound = 1.0 / math.sqrt(self.in_features)
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): input of shape {tuple(x.shape)} "
                             f"does not fit weight of shape {tuple(self.weight.shape)}")
        return F.linear(x, self.weight, self.bias)   # (..., in) @ (in, out) + (out,) -> (..., out)


class ReLU(nn.Module):
    """``max(x, 0)``; autograd's ``ReluBackward0`` passes the gradient where the output is > 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class Tanh(nn.Module):
    """``tanh(x)``; ``TanhBackward0`` uses the saved output: ``dout * (1 - y**2)``, as phase 01."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


class Sigmoid(nn.Module):
    """``1 / (1 + exp(-x))``; ``SigmoidBackward0`` computes ``dout * y * (1 - y)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


class GELU(nn.Module):
    """``x * Phi(x)``, exact (``approximate="none"``, with erf) or GPT-2's tanh form."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self.approximate)


class Dropout(nn.Module):
    """Inverted dropout: in training zero each entry with probability ``p`` and scale the rest
    by ``1 / (1 - p)``; in eval mode the identity. torch draws the mask from its own generator,
    so a twin never reproduces NumPy's mask: the parity suite compares with dropout off."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p = float(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training)


class Sequential(nn.Sequential):
    """``torch.nn.Sequential`` itself: children named ``"0"``, ``"1"``, ... as phase 01's, and a
    ``forward`` that calls them in order. Its backward, reversing the list, is autograd's job."""
