"""AdamW for a GPT: decay the matrices, leave the vectors alone.

Weight decay pulls a weight towards zero. For a matrix of a Linear layer or an embedding
that is a useful prior: many small weights, no single direction blown up. For a bias or a
LayerNorm gain it is not: a gain of 1 is the neutral value, and decaying it towards 0
shrinks the signal of the whole layer; a bias has one number per unit and nothing to
regularise. So the rule (GPT-2's practice, nanoGPT's too) is simply the tensor's rank:
2-D and more is decayed, 1-D is not.

See phase-08-training-gpt/notes/adamw-decay.md and papers/2017-loshchilov-adamw.md.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils._foreach_utils import (
    _get_foreach_kernels_supported_devices,
    _get_fused_kernels_supported_devices,
)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: tensors with ``dim >= 2`` decay at ``weight_decay``, the rest at 0.

    ``named_parameters`` lists a tied weight once, so the shared embedding/head matrix is
    updated once per step.

    >>> groups = param_groups(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)), 0.1)
    >>> [(g["weight_decay"], [tuple(p.shape) for p in g["params"]]) for g in groups]
    [(0.1, [(4, 3)]), (0.0, [(4,), (4,), (4,)])]
    """
    decay, keep = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else keep).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": keep, "weight_decay": 0.0}]


def choose_impl(requested: str, device: torch.device) -> str:
    """``"auto"`` -> ``"fused"`` where torch has a fused AdamW kernel for the device (CUDA,
    MPS, CPU in torch 2.4+), else ``"foreach"`` where it has foreach kernels, else the plain
    ``"for-loop"``. Naming an implementation the device lacks is an error."""
    kind = torch.device(device).type
    fused_ok = kind in _get_fused_kernels_supported_devices()
    if requested == "auto":
        if fused_ok:
            return "fused"
        return "foreach" if kind in _get_foreach_kernels_supported_devices() else "for-loop"
    if requested == "fused" and not fused_ok:
        raise ValueError(f"adamw_impl=fused: this torch ({torch.__version__}) has no fused AdamW for "
                         f"{kind}; use adamw_impl=foreach or for-loop")
    if requested not in ("fused", "foreach", "for-loop"):
        raise ValueError(f"adamw_impl must be auto, fused, foreach or for-loop, got {requested!r}")
    return requested


def make_adamw(model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float],
               device: torch.device, impl: str = "auto") -> tuple[torch.optim.AdamW, str]:
    """The optimizer and the name of the implementation it runs (printed by the trainer)."""
    impl = choose_impl(impl, device)
    flags = {"fused": {"fused": True}, "foreach": {"foreach": True},
             "for-loop": {"foreach": False, "fused": False}}[impl]
    opt = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, **flags)
    return opt, impl
