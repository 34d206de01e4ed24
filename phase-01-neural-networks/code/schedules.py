"""Learning-rate schedules as plain functions of the step number.

A training loop sets the rate itself before each step:

>>> lrs = [cosine_with_warmup(s, base_lr=1.0, warmup_steps=2, total_steps=6) for s in range(7)]
>>> [round(x, 3) for x in lrs]
[0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]

and ``for g in opt.param_groups: g["lr"] = lr`` (see ``set_lr``).
"""

from __future__ import annotations

import math


def step_lr(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    """``base_lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` steps
    (``torch.optim.lr_scheduler.StepLR``)."""
    if step_size < 1:
        raise ValueError(f"step_lr: step_size must be >= 1, got {step_size}")
    return base_lr * gamma ** (step // step_size)


def cosine_with_warmup(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> float:
    """Linear warmup to ``base_lr``, then a half cosine down to ``min_lr`` at ``total_steps``.

    Warmup: step ``s < warmup_steps`` gets ``base_lr * (s + 1) / warmup_steps`` (never 0, and
    ``base_lr`` at the last warmup step). Decay: with ``progress = (s - warmup) / (total - warmup)``,
    ``min_lr + (base_lr - min_lr) * (1 + cos(pi * progress)) / 2``; after ``total_steps``, ``min_lr``.
    """
    if warmup_steps < 0 or total_steps < warmup_steps:
        raise ValueError(f"cosine_with_warmup: need 0 <= warmup_steps <= total_steps, got {warmup_steps}, {total_steps}")
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer, lr: float) -> None:
    """Write ``lr`` into every param group of ``optimizer`` (what a torch scheduler does)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
