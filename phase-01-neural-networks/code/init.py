"""Weight initialisers: the scale of the first random numbers decides whether a deep net trains.

Every function takes ``shape`` shaped as torch stores weights, ``(out_features, in_features)``,
so ``fan_in = shape[1]`` and ``fan_out = shape[0]`` (a 1-D shape has ``fan_in = fan_out``).

- Xavier/Glorot (Glorot & Bengio 2010): variance ``2 / (fan_in + fan_out)`` keeps the signal's
  variance steady both forward and backward through *linear/tanh* layers.
- He/Kaiming (He et al. 2015): variance ``2 / fan_in`` makes up for ReLU zeroing half its inputs.
- ``normal(std=0.02)``: GPT-2's choice for every weight.

See phase-01-neural-networks/notes/initialisation.md for the derivation and the figure.
"""

from __future__ import annotations

import math

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *receptive_field)``, as torch counts them.

    >>> fans((10, 784))
    (784, 10)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        raise ValueError("init: a weight needs at least one dimension, got shape ()")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def uniform(shape, bound: float, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    """Entries drawn from ``U(-bound, bound)``, whose variance is ``bound**2 / 3``."""
    return _rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def normal(shape, std: float = 0.02, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    """Entries drawn from ``N(0, std**2)``; GPT-2 uses ``std = 0.02`` for every weight."""
    return (_rng(rng).standard_normal(size=shape) * std).astype(dtype)


def xavier_uniform(shape, rng: np.random.Generator | None = None, gain: float = 1.0, dtype=np.float32) -> np.ndarray:
    """Glorot uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Its variance, ``a**2 / 3 = 2 / (fan_in + fan_out)``, is the compromise between keeping
    forward activations (needs ``1/fan_in``) and backward gradients (``1/fan_out``) steady.
    """
    fan_in, fan_out = fans(shape)
    return uniform(shape, gain * math.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def xavier_normal(shape, rng: np.random.Generator | None = None, gain: float = 1.0, dtype=np.float32) -> np.ndarray:
    """Glorot normal: ``N(0, std**2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    return normal(shape, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def he_normal(shape, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    """He/Kaiming normal for ReLU nets: ``N(0, 2 / fan_in)`` (torch's ``kaiming_normal_``)."""
    fan_in, _ = fans(shape)
    return normal(shape, math.sqrt(2.0 / fan_in), rng, dtype)


def he_uniform(shape, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    """He/Kaiming uniform: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``, so the variance is ``2 / fan_in``."""
    fan_in, _ = fans(shape)
    return uniform(shape, math.sqrt(6.0 / fan_in), rng, dtype)


def torch_default(shape, fan_in: int | None = None, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    """What ``torch.nn.Linear`` does by default: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    torch writes it as ``kaiming_uniform_(w, a=sqrt(5))`` for the weight, whose bound works
    out to exactly ``1/sqrt(fan_in)``; the bias uses the same bound with the weight's fan-in,
    which is why ``fan_in`` can be passed for a 1-D bias.
    """
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    return uniform(shape, 1.0 / math.sqrt(fan_in), rng, dtype)


INITS = {
    "xavier": xavier_uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "normal": normal,
}
