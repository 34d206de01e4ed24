"""The position-wise feed-forward network: the same two-layer MLP applied at every position.

    FFN(x) = c_proj(dropout(act(c_fc(x))))          (..., C) -> (..., d_ff) -> (..., C)

with ``act`` = ReLU in the 2017 paper (``d_ff = 4 C = 2048``) and the tanh approximation of
GELU in GPT-2. Attention mixes information *between* positions; this layer transforms each
position on its own, and holds two thirds of a block's parameters.

The names ``c_fc`` and ``c_proj`` are GPT-2's (``mlp.c_fc``, ``mlp.c_proj``); torch's
``nn.TransformerEncoderLayer`` calls the same two layers ``linear1`` and ``linear2``.
"""

from __future__ import annotations

import numpy as np

from phase01.layers import GELU, Dropout, Linear, ReLU
from phase01.module import Module

ACTIVATIONS = ("relu", "gelu", "gelu_tanh")


def make_activation(name: str) -> Module:
    """``"relu"`` (Vaswani et al.), ``"gelu"`` (exact, erf) or ``"gelu_tanh"`` (GPT-2)."""
    if name == "relu":
        return ReLU()
    if name == "gelu":
        return GELU(approximate="none")
    if name == "gelu_tanh":
        return GELU(approximate="tanh")
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


class FeedForward(Module):
    """Position-wise feed-forward: ``c_proj(dropout(act(c_fc(x))))``.

    ``forward(x: (..., d_model)) -> (..., d_model)``; ``backward(dout) -> dx``.
    """

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu", dropout: float = 0.0,
                 bias: bool = True, rng: np.random.Generator | None = None,
                 init: str = "default"):
        rng = rng if rng is not None else np.random.default_rng()
        self.c_fc = Linear(d_model, d_ff, bias=bias, rng=rng, init=init)
        self.act = make_activation(activation)
        self.drop = Dropout(dropout, rng=rng)
        self.c_proj = Linear(d_ff, d_model, bias=bias, rng=rng, init=init)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.shape = x.shape
        x2 = x.reshape(-1, x.shape[-1])       # (..., C) -> (N, C): one matrix product, not one per batch row
        h = self.act(self.c_fc(x2))          # (N, C) -> (N, d_ff)
        return self.c_proj(self.drop(h)).reshape(self.shape)   # (N, d_ff) -> (N, C) -> (..., C)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        d2 = dout.reshape(-1, dout.shape[-1])                 # (..., C) -> (N, C)
        dh = self.drop.backward(self.c_proj.backward(d2))     # (N, C) -> (N, d_ff)
        return self.c_fc.backward(self.act.backward(dh)).reshape(self.shape)   # (N, C) -> (..., C)
