"""Pick the device once, explicitly: cuda, then mps, then cpu.

Every entry point of phases 07-09 takes ``--device`` and passes it here. ``"auto"`` picks
the best device present; naming one that is absent is an error, never a silent fallback
(a run you believe is on the GPU and that crawls on the CPU wastes an afternoon).

MPS facts the later phases respect (from PyTorch's documentation and issue tracker):
float64 is not supported on MPS; ``pin_memory`` is CUDA only; bf16 on MPS needs macOS 14+;
``scaled_dot_product_attention`` on MPS runs the math path.
"""

from __future__ import annotations

import torch

CHOICES = ("auto", "cuda", "mps", "cpu")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(spec: str = "auto") -> torch.device:
    """``"auto"`` -> cuda if present, else mps, else cpu; ``"cuda:1"``, ``"mps"``, ``"cpu"`` as named.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    if not isinstance(spec, str) or spec.split(":")[0] not in CHOICES:
        raise ValueError(f"device must be one of {', '.join(CHOICES)} (optionally cuda:N), got {spec!r}")
    kind = spec.split(":")[0]
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} requested but CUDA is not available on this machine")
    if kind == "mps" and not mps_available():
        raise ValueError(f"device {spec!r} requested but MPS is not available (needs Apple silicon and a torch built with MPS)")
    return torch.device(spec)


def supports_float64(device: torch.device) -> bool:
    """MPS has no float64: parity checks in float64 run on the CPU."""
    return torch.device(device).type != "mps"
