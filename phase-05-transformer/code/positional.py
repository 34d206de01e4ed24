"""Where a token sits: the fixed sinusoidal encoding of the 2017 paper and GPT's learned one.

Attention treats its inputs as a set: permute the tokens and the outputs permute with them.
Order enters only through a vector added to each token's embedding, one per position.

- ``sinusoidal_encoding(T, C)``       ``PE[t, 2i] = sin(t / 10000^(2i/C))``,
                                      ``PE[t, 2i+1] = cos(t / 10000^(2i/C))``
- ``SinusoidalPositionalEncoding``   adds it (no parameters; backward passes ``dout`` through)
- ``LearnedPositionalEmbedding``     adds a trained table ``weight[t]`` (GPT's ``wpe``); its
                                     gradient is ``dout`` summed over the batch

Both refuse a sequence longer than the table they were built with.
"""

from __future__ import annotations

import numpy as np

from phase01.module import Module, Parameter


def sinusoidal_encoding(max_len: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The ``(max_len, d_model)`` table of Vaswani et al. 2017, section 3.5.

    Column pair ``(2i, 2i+1)`` is a sine and a cosine of angular frequency
    ``base^(-2i/d_model)``: from one radian per position (``i = 0``) down to almost
    ``1/base`` radians per position. ``PE[t + k]`` is a fixed rotation of ``PE[t]`` for
    every ``t``, which lets attention learn relative offsets.

    >>> sinusoidal_encoding(3, 4).round(3)
    array([[ 0.   ,  1.   ,  0.   ,  1.   ],
           [ 0.841,  0.54 ,  0.01 ,  1.   ],
           [ 0.909, -0.416,  0.02 ,  1.   ]])
    """
    if max_len < 1 or d_model < 1:
        raise ValueError(f"sinusoidal_encoding needs max_len >= 1 and d_model >= 1, "
                         f"got {max_len}, {d_model}")
    pos = np.arange(max_len, dtype=np.float64)[:, None]          # (T, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)           # (ceil(C/2),)
    angle = pos / base ** (two_i / d_model)                      # (T, ceil(C/2))
    pe = np.empty((max_len, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


def _check_length(who: str, x: np.ndarray, max_len: int, d_model: int) -> None:
    if x.ndim < 2 or x.shape[-1] != d_model:
        raise ValueError(f"{who}: expected input (..., T, {d_model}), got shape {x.shape}")
    if x.shape[-2] > max_len:
        raise ValueError(f"{who}: sequence length {x.shape[-2]} exceeds the maximum length "
                         f"{max_len} the table was built for")


class SinusoidalPositionalEncoding(Module):
    """``x + PE[:T]`` for ``x`` of shape ``(..., T, d_model)``; no parameters.

    ``backward(dout)`` is ``dout``: adding a constant does not change a gradient.
    """

    def __init__(self, d_model: int, max_len: int = 512):
        self.d_model = d_model
        self.max_len = max_len
        self.pe = sinusoidal_encoding(max_len, d_model)               # (max_len, C), a constant

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        _check_length("SinusoidalPositionalEncoding", x, self.max_len, self.d_model)
        return x + self.pe[: x.shape[-2]].astype(x.dtype)             # (..., T, C) + (T, C)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout


class LearnedPositionalEmbedding(Module):
    """``x + weight[:T]`` with a trained ``weight`` of shape ``(max_len, d_model)``.

    The table is GPT's ``wpe`` (``torch.nn.Embedding(max_len, d_model)`` looked up at
    positions ``0..T-1``). Every example in the batch uses the same rows, so the rows'
    gradient is ``dout`` summed over the batch axes; rows ``T..max_len-1`` get none.

    >>> pos = LearnedPositionalEmbedding(8, 2, rng=np.random.default_rng(0))
    >>> _ = pos(np.zeros((3, 5, 2)))               # batch 3, length 5
    >>> _ = pos.backward(np.ones((3, 5, 2)))
    >>> pos.weight.grad[:, 0].tolist()             # 3 examples used rows 0..4
    [3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, max_len: int, d_model: int, rng: np.random.Generator | None = None,
                 std: float = 0.02, dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng()
        self.max_len = max_len
        self.d_model = d_model
        self.weight = Parameter((std * rng.standard_normal((max_len, d_model))).astype(dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        _check_length("LearnedPositionalEmbedding", x, self.max_len, self.d_model)
        self.T = x.shape[-2]
        return x + self.weight.data[: self.T]                          # (..., T, C) + (T, C)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        lead = tuple(range(dout.ndim - 2))
        self.weight.grad[: self.T] += dout.sum(axis=lead)              # (..., T, C) -> (T, C)
        return dout
