"""The learning-rate schedule of Vaswani et al. 2017 (section 5.3): warm up, then decay.

    lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)     (step >= 1)

It rises linearly for ``warmup`` steps and then falls as ``1 / sqrt(step)``; the two branches
meet at ``step = warmup``, where ``lr = factor / sqrt(d_model * warmup)``. The paper used
``d_model = 512``, ``warmup = 4000``, ``factor = 1`` (a peak of 7.0e-4) with Adam
``betas = (0.9, 0.98)``, ``eps = 1e-9``. Adam's update is adaptive, but its second-moment
estimate is poor in the first steps; the warm-up keeps those steps small.
"""

from __future__ import annotations

import math


def transformer_lr(step: int, d_model: int, warmup: int = 4000, factor: float = 1.0) -> float:
    """The 2017 schedule at optimizer step ``step`` (counted from 1).

    >>> round(transformer_lr(4000, 512), 7)       # the peak of the paper's setting
    0.0006988
    >>> round(transformer_lr(2000, 512) / transformer_lr(4000, 512), 6)   # linear warm-up
    0.5
    >>> round(transformer_lr(16000, 512) / transformer_lr(4000, 512), 6)  # then 1/sqrt(step)
    0.5
    """
    if step < 1:
        raise ValueError(f"transformer_lr: step counts from 1, got {step}")
    if warmup < 1 or d_model < 1:
        raise ValueError(f"transformer_lr: need warmup >= 1 and d_model >= 1, got {warmup}, {d_model}")
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def peak_lr(d_model: int, warmup: int, factor: float = 1.0) -> float:
    """The schedule's maximum, reached at ``step = warmup``: ``factor / sqrt(d_model * warmup)``."""
    return factor / math.sqrt(d_model * warmup)
