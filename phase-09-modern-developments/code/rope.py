"""Rotary position embedding (Su et al. 2021), in NumPy to learn and in torch to run.

RoPE turns each pair of a query's (or key's) coordinates into a complex number and
multiplies it by ``exp(i * m * theta_j)``, where ``m`` is the position and
``theta_j = base ** (-2j / head_dim)``. A rotation keeps lengths, and the dot product of a
query rotated by ``m`` with a key rotated by ``n`` only sees the difference ``m - n``.

Two layouts pair the coordinates differently:

- ``"half"`` (Hugging Face Llama): coordinate ``j`` pairs with ``j + head_dim / 2``;
- ``"interleaved"`` (the RoPE paper, Meta's original Llama code): ``2j`` pairs with ``2j + 1``.

They are the same rotation on permuted coordinates; ``to_layout`` converts a vector and
``permute_heads`` converts a projection's weight rows, so a model trained in one layout
runs in the other. See phase-09-modern-developments/notes/rope.md.
"""

from __future__ import annotations

import numpy as np
import torch

LAYOUTS = ("half", "interleaved")


def _check(head_dim: int, layout: str) -> None:
    if head_dim % 2 != 0:
        raise ValueError(f"RoPE: head_dim must be even (coordinates rotate in pairs), got {head_dim}")
    if layout not in LAYOUTS:
        raise ValueError(f"RoPE: layout must be one of {LAYOUTS}, got {layout!r}")


def rope_frequencies(head_dim: int, base: float = 10000.0) -> np.ndarray:
    """The ``head_dim / 2`` angular frequencies ``theta_j = base ** (-2j / head_dim)``.

    >>> rope_frequencies(4, base=100.0)
    array([1. , 0.1])
    """
    _check(head_dim, "half")
    return base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)


def rope_angles(positions: np.ndarray, head_dim: int, base: float = 10000.0) -> np.ndarray:
    """``m * theta_j`` for every position: ``(T,) -> (T, head_dim / 2)``."""
    return np.outer(np.asarray(positions, dtype=np.float64), rope_frequencies(head_dim, base))


def _pairs(layout: str, head_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first and second coordinate of every pair, ``(head_dim / 2,)`` each."""
    j = np.arange(head_dim // 2)
    if layout == "half":
        return j, j + head_dim // 2
    return 2 * j, 2 * j + 1


def rope_np(x: np.ndarray, positions: np.ndarray, base: float = 10000.0, layout: str = "half",
            inverse: bool = False) -> np.ndarray:
    """Rotate every pair of ``x``'s last axis by ``m * theta_j``: ``(..., T, D) -> (..., T, D)``.

    ``inverse=True`` rotates by ``-m * theta_j``; since a rotation's inverse is its transpose,
    that is also the backward pass (see ``rope_np_backward``).

    >>> x = np.array([[1.0, 0.0]])                       # one position, one pair
    >>> np.round(rope_np(x, np.array([1]), layout="interleaved"), 4)  # rotated by 1 radian
    array([[0.5403, 0.8415]])
    """
    T, D = x.shape[-2:]
    _check(D, layout)
    if len(positions) != T:
        raise ValueError(f"rope_np: {len(positions)} positions for {T} rows of x")
    angle = rope_angles(positions, D, base) * (-1.0 if inverse else 1.0)  # (T, D/2)
    cos, sin = np.cos(angle), np.sin(angle)
    a, b = _pairs(layout, D)
    out = np.empty_like(x, dtype=np.result_type(x, np.float64) if x.dtype == np.float64 else x.dtype)
    out[..., a] = x[..., a] * cos - x[..., b] * sin  # real part of (x_a + i x_b) e^{i angle}
    out[..., b] = x[..., a] * sin + x[..., b] * cos  # imaginary part
    return out


def rope_np_backward(dout: np.ndarray, positions: np.ndarray, base: float = 10000.0,
                     layout: str = "half") -> np.ndarray:
    """Gradient of ``rope_np`` w.r.t. ``x``: rotate ``dout`` back by the same angles."""
    return rope_np(dout, positions, base, layout, inverse=True)


def rope_complex(x: np.ndarray, positions: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """The same rotation written as complex multiplication (interleaved layout).

    ``x`` pairs ``(x[2j], x[2j+1])`` become ``z_j = x[2j] + i x[2j+1]``; the result is
    ``z_j * exp(i m theta_j)`` unpacked back to reals. Used to check ``rope_np``.
    """
    T, D = x.shape[-2:]
    _check(D, "interleaved")
    z = x[..., 0::2] + 1j * x[..., 1::2]                         # (..., T, D/2) complex
    z = z * np.exp(1j * rope_angles(positions, D, base))        # rotate each pair
    out = np.empty(x.shape, dtype=np.float64)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


def layout_permutation(head_dim: int, src: str, dst: str) -> np.ndarray:
    """Index ``p`` with ``x_dst = x_src[..., p]``: where each ``dst`` coordinate comes from.

    >>> layout_permutation(6, "half", "interleaved")
    array([0, 3, 1, 4, 2, 5])
    >>> layout_permutation(6, "interleaved", "half")
    array([0, 2, 4, 1, 3, 5])
    """
    _check(head_dim, src)
    _check(head_dim, dst)
    p = np.empty(head_dim, dtype=np.int64)
    a_src, b_src = _pairs(src, head_dim)
    a_dst, b_dst = _pairs(dst, head_dim)
    p[a_dst], p[b_dst] = a_src, b_src  # pair j's first and second coordinates move together
    return p


def to_layout(x, src: str, dst: str):
    """Reorder the last axis of ``x`` (NumPy array or torch tensor) from layout ``src`` to ``dst``."""
    p = layout_permutation(x.shape[-1], src, dst)
    return x[..., torch.from_numpy(p)] if isinstance(x, torch.Tensor) else x[..., p]


def permute_heads(weight, n_heads: int, src: str, dst: str):
    """Reorder a q or k projection weight ``(n_heads * head_dim, in)`` head by head, so that
    ``x @ W_dst.T == to_layout(x @ W_src.T, src, dst)`` for every head."""
    out_features = weight.shape[0]
    if out_features % n_heads:
        raise ValueError(f"permute_heads: {out_features} rows do not split into {n_heads} heads")
    hd = out_features // n_heads
    rows = (np.arange(n_heads)[:, None] * hd + layout_permutation(hd, src, dst)[None, :]).ravel()
    return weight[torch.from_numpy(rows)] if isinstance(weight, torch.Tensor) else weight[rows]


# -- torch ---------------------------------------------------------------------------------

def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of ``m * theta_j``, each ``(T, head_dim / 2)``, computed in float32
    (as Hugging Face does) and cast to ``dtype``."""
    _check(head_dim, "half")
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64,
                                            device=positions.device).float() / head_dim))
    angle = positions.float()[:, None] * inv_freq[None, :]  # (T,) x (D/2,) -> (T, D/2)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               layout: str = "half") -> torch.Tensor:
    """Rotate ``x`` ``(B, nh, T, D)`` by angles whose ``cos, sin`` are ``(T, D / 2)``."""
    D = x.shape[-1]
    _check(D, layout)
    if layout == "half":
        x1, x2 = x[..., : D // 2], x[..., D // 2:]                     # (B, nh, T, D/2) each
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    x1, x2 = x[..., 0::2], x[..., 1::2]                                # (B, nh, T, D/2) each
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
