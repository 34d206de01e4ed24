"""The learning rate: linear warmup, then a cosine down to a floor.

With peak ``lr``, floor ``min_lr``, ``warmup`` steps and a decay that ends at step ``decay``:

    step s < warmup:            lr * (s + 1) / warmup
    warmup <= s <= decay:       min_lr + (lr - min_lr) * (1 + cos(pi * (s - warmup) / (decay - warmup))) / 2
    s > decay:                  min_lr

Warmup protects the first steps, when Adam's second-moment estimate rests on a handful of
gradients and the random initial weights make large, badly aimed updates (Goyal et al.
2017 warmed up for large batches; every GPT since does). The cosine spends most of the run
near the peak and lands softly on the floor.

The formula is phase 01's ``cosine_with_warmup`` (the digit classifier used it first);
this module wraps it in an object a checkpoint can store, and reuses phase 01's ``set_lr``,
which works on a torch optimizer as well (it only writes ``param_groups``).

See phase-08-training-gpt/notes/lr-schedule.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from phase01.schedules import cosine_with_warmup, set_lr

__all__ = ["WarmupCosine", "set_lr"]


@dataclass
class WarmupCosine:
    """The schedule as an object a checkpoint can store (``state_dict``) and a loop can call.

    >>> s = WarmupCosine(lr=1.0, min_lr=0.1, warmup=2, decay=4)
    >>> [round(s(i), 3) for i in range(6)]
    [0.5, 1.0, 1.0, 0.55, 0.1, 0.1]
    """

    lr: float
    min_lr: float
    warmup: int
    decay: int

    def __post_init__(self):
        if not (self.lr > 0 and 0 <= self.min_lr <= self.lr):
            raise ValueError(f"WarmupCosine: need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")
        if not 0 <= self.warmup <= self.decay:
            raise ValueError(f"WarmupCosine: need 0 <= warmup <= decay, got warmup={self.warmup}, decay={self.decay}")

    def __call__(self, step: int) -> float:
        return cosine_with_warmup(step, self.lr, self.warmup, self.decay, self.min_lr)

    def state_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, d: dict) -> WarmupCosine:
        return cls(**d)
