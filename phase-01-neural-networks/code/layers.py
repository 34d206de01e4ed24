"""The NumPy layer library every later NumPy phase reuses.

Each layer follows the protocol of ``phase01.module``: ``forward`` keeps what ``backward``
needs, ``backward(dout)`` returns the input gradient and accumulates (``+=``) into every
``Parameter.grad``. Each backward sits directly under its forward. Shapes follow torch
(``Linear.weight`` is ``(out_features, in_features)``), and so do parameter names, so a
``torch.nn`` twin loads ``state_dict()`` unchanged.

See phase-01-neural-networks/notes/backprop.md for the derivations.

>>> import numpy as np
>>> net = Sequential(Linear(4, 8, rng=np.random.default_rng(0)), ReLU(), Linear(8, 3))
>>> net(np.ones((2, 4), dtype=np.float32)).shape
(2, 3)
>>> sorted(net.state_dict())
['0.bias', '0.weight', '2.bias', '2.weight']
"""

from __future__ import annotations

import math

import numpy as np

from phase01 import init as initialisers
from phase01.module import Module, ModuleList, Parameter


def _check_dout(layer: Module, dout: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``dout`` must have the shape the forward pass produced."""
    dout = np.asarray(dout)
    if dout.shape != shape:
        raise ValueError(f"{layer!r}.backward: dout has shape {dout.shape}, the forward output had shape {shape}")
    return dout


class Linear(Module):
    """``y = x W^T + b`` over the last axis: ``(..., in_features) -> (..., out_features)``.

    ``init``: ``"default"`` is torch's ``nn.Linear`` init (``U(+-1/sqrt(in))`` for weight and
    bias); ``"normal"`` (std 0.02, bias 0), ``"xavier"`` and ``"he"`` draw the weight from
    ``phase01.init`` and start the bias at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None, init: str = "default", dtype=np.float32):
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = rng if rng is not None else np.random.default_rng()
        shape = (self.out_features, self.in_features)
        if init == "default":
            w = initialisers.torch_default(shape, rng=rng, dtype=dtype)
            b = initialisers.torch_default((self.out_features,), fan_in=self.in_features, rng=rng, dtype=dtype)
        elif init in initialisers.INITS:
            w = initialisers.INITS[init](shape, rng=rng, dtype=dtype)
            b = np.zeros(self.out_features, dtype=dtype)
        else:
            raise ValueError(f"Linear: unknown init {init!r}; use 'default' or one of {sorted(initialisers.INITS)}")
        self.weight = Parameter(w)                                  # (out, in)
        self.bias = Parameter(b) if bias else None                  # (out,)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: input of shape {x.shape} does not fit weight of shape {self.weight.shape}; "
                f"the input's last dimension must be {self.in_features}"
            )
        self.x = x                                                  # (..., in)
        out = x @ self.weight.data.T                                # (..., in) @ (in, out) -> (..., out)
        if self.bias is not None:
            out = out + self.bias.data                              # (..., out) + (out,)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = _check_dout(self, dout, self.x.shape[:-1] + (self.out_features,))
        d2 = dout.reshape(-1, self.out_features)                    # (N, out), N = prod(...)
        x2 = self.x.reshape(-1, self.in_features)                   # (N, in)
        self.weight.grad += d2.T @ x2                               # (out, N) @ (N, in) -> (out, in)
        if self.bias is not None:
            self.bias.grad += d2.sum(axis=0)                        # (N, out) -> (out,)
        return dout @ self.weight.data                              # (..., out) @ (out, in) -> (..., in)


class ReLU(Module):
    """``max(x, 0)``; its gradient passes where ``x > 0`` and is 0 elsewhere (0 at ``x = 0``, as torch)."""

    def __repr__(self) -> str:
        return "ReLU()"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.mask = x > 0                                           # (...) bool
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = _check_dout(self, dout, self.mask.shape)
        return np.where(self.mask, dout, 0).astype(dout.dtype, copy=False)


class Tanh(Module):
    """``tanh(x)``; ``d tanh / dx = 1 - tanh(x)**2``, so backward needs only the output."""

    def __repr__(self) -> str:
        return "Tanh()"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = _check_dout(self, dout, self.out.shape)
        return dout * (1 - self.out**2)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, computed without overflow; ``d sigma / dx = sigma (1 - sigma)``."""

    def __repr__(self) -> str:
        return "Sigmoid()"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        e = np.exp(-np.abs(x))                                      # in (0, 1], never overflows
        self.out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = _check_dout(self, dout, self.out.shape)
        return dout * self.out * (1 - self.out)


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; math.erf is exact to double precision
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class GELU(Module):
    """``x * Phi(x)`` (Hendrycks & Gimpel 2016), ``Phi`` the standard normal CDF.

    ``approximate="none"``: ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``, exact but slow here
    (NumPy has no vectorised erf, so each element calls ``math.erf``).
    ``approximate="tanh"``: ``Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``,
    the form GPT-2 uses, all NumPy.
    """

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.x = x
        if self.approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x)))  # (...)
            out = 0.5 * x * (1 + self.t)
        else:
            self.cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))               # (...) Phi(x)
            out = x * self.cdf
        return out.astype(x.dtype, copy=False)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = _check_dout(self, dout, self.x.shape)
        x = self.x
        if self.approximate == "tanh":
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2)              # d(inner)/dx
            local = 0.5 * (1 + self.t) + 0.5 * x * (1 - self.t**2) * du
        else:
            pdf = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)            # phi(x)
            local = self.cdf + x * pdf                                    # d(x Phi(x))/dx
        return (dout * local).astype(dout.dtype, copy=False)


class Dropout(Module):
    """Inverted dropout (Srivastava et al. 2014): in training, zero each entry with probability
    ``p`` and scale the survivors by ``1 / (1 - p)``, so evaluation is the identity."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p = float(p)
        self.rng = rng if rng is not None else np.random.default_rng()

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        if self.p == 1.0:
            self.mask = np.zeros(x.shape, dtype=x.dtype)
        else:
            keep = self.rng.random(x.shape) >= self.p               # (...) bool, True with prob 1-p
            self.mask = (keep / (1.0 - self.p)).astype(x.dtype)     # 0 or 1/(1-p)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.mask is None:                                       # eval mode or p == 0: identity
            return np.asarray(dout)
        return _check_dout(self, dout, self.mask.shape) * self.mask


class Sequential(ModuleList):
    """Layers applied in order; ``backward`` runs them in reverse.

    Parameters are named ``"0.weight"``, ``"2.bias"`` by position, as in ``torch.nn.Sequential``
    (layers without parameters, like ``ReLU``, still take a position). A shape mismatch inside
    is re-raised with the layer's position: ``Sequential[2] Linear(...): input of shape ...``.
    """

    def __init__(self, *layers: Module):
        super().__init__(layers)

    def __repr__(self) -> str:
        inner = ", ".join(repr(m) for m in self)
        return f"Sequential({inner})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        for i, layer in enumerate(self):
            try:
                x = layer(x)
            except ValueError as e:
                raise ValueError(f"Sequential[{i}] {e}") from e
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for i in reversed(range(len(self))):
            try:
                dout = self[i].backward(dout)
            except ValueError as e:
                raise ValueError(f"Sequential[{i}] {e}") from e
        return dout
