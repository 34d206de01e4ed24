"""Layer normalisation (Ba, Kiros and Hinton 2016) with its backward pass derived by hand.

Each position's feature vector ``x`` (the last axis, ``C`` numbers) is normalised on its own:

    mu   = mean(x)                     var = mean((x - mu)^2)
    xhat = (x - mu) / sqrt(var + eps)  y   = weight * xhat + bias

and the backward pass, with ``g = weight * dy`` and ``rstd = 1 / sqrt(var + eps)``:

    dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    dweight = sum over positions of dy * xhat       dbias = sum over positions of dy

The two means come from ``x`` feeding the output three ways: directly, through ``mu`` and
through ``var``. See phase-05-transformer/notes/layernorm-backward.md for the derivation with
numbers.
"""

from __future__ import annotations

import numpy as np

from phase01.module import Module, Parameter


def layernorm_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float = 1e-5
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Normalise the last axis of ``x``; return ``(y, (xhat, rstd))``, the cache for backward.

    >>> y, _ = layernorm_forward(np.array([1.0, 2.0, 3.0]), np.ones(3), np.zeros(3), eps=0.0)
    >>> y.round(4)        # mean 2, variance 2/3: (x - 2) / 0.8165
    array([-1.2247,  0.    ,  1.2247])
    """
    mu = x.mean(axis=-1, keepdims=True)                  # (..., C) -> (..., 1)
    xc = x - mu                                          # (..., C)
    var = np.mean(xc * xc, axis=-1, keepdims=True)       # (..., 1) biased, as torch
    rstd = 1.0 / np.sqrt(var + eps)                      # (..., 1)
    xhat = xc * rstd                                     # (..., C)
    y = xhat * weight                                    # (..., C) * (C,)
    if bias is not None:
        y += bias
    return y, (xhat, rstd)


def layernorm_backward(
    dy: np.ndarray, weight: np.ndarray, cache: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dweight, dbias)`` of ``layernorm_forward`` given ``dy = dL/dy``.

    ``dweight`` and ``dbias`` are summed over every leading axis (batch and positions).
    """
    xhat, rstd = cache
    g = dy * weight                                      # (..., C)  dL/dxhat
    mean_g = g.mean(axis=-1, keepdims=True)              # (..., 1)
    mean_gx = np.mean(g * xhat, axis=-1, keepdims=True)  # (..., 1)
    dx = rstd * (g - mean_g - xhat * mean_gx)            # (..., C)
    lead = tuple(range(dy.ndim - 1))
    dweight = np.sum(dy * xhat, axis=lead)               # (..., C) -> (C,)
    dbias = np.sum(dy, axis=lead)                        # (..., C) -> (C,)
    return dx, dweight, dbias


class LayerNorm(Module):
    """LayerNorm over the last axis, as ``torch.nn.LayerNorm(normalized_shape, eps, bias)``.

    Parameters ``weight`` (ones) and ``bias`` (zeros), both ``(normalized_shape,)``.
    ``forward(x: (..., C)) -> (..., C)``; ``backward(dy) -> dx``.

    >>> ln = LayerNorm(4)
    >>> y = ln(np.array([[1.0, 2.0, 3.0, 6.0]]))
    >>> float(y.mean()), round(float(y.var()), 4)     # zero mean, unit variance
    (0.0, 1.0)
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, bias: bool = True,
                 dtype=np.float32):
        if normalized_shape < 1:
            raise ValueError(f"LayerNorm: normalized_shape must be >= 1, got {normalized_shape}")
        self.normalized_shape = normalized_shape
        self.eps = eps
        self.weight = Parameter(np.ones(normalized_shape, dtype=dtype))
        self.bias = Parameter(np.zeros(normalized_shape, dtype=dtype)) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.normalized_shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}): input of shape {x.shape} "
                             f"does not end in {self.normalized_shape} features")
        bias = None if self.bias is None else self.bias.data
        y, self.cache = layernorm_forward(x, self.weight.data, bias, self.eps)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx, dweight, dbias = layernorm_backward(dy, self.weight.data, self.cache)
        self.weight.grad += dweight
        if self.bias is not None:
            self.bias.grad += dbias
        return dx
