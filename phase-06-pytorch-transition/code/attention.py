"""Attention written out in torch, the twin of phase 04's NumPy attention.

``explicit_attention`` computes ``softmax(q k^T / sqrt(d) + mask) v`` step by step, the way
phase 04 derived it; ``torch.nn.functional.scaled_dot_product_attention`` fuses the same
computation into one kernel. Phase 07's GPT can use either (``GPTConfig.explicit_attention``);
the tests hold them equal.
"""

from __future__ import annotations

import math

import torch


def explicit_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    """Same contract as ``F.scaled_dot_product_attention``: ``(..., Tq, d)`` queries,
    ``(..., Tk, d)`` keys, ``(..., Tk, dv)`` values; a boolean mask is True where a query
    may attend, a float mask is added to the scores."""
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not fit together")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, d) @ (..., d, Tk) -> (..., Tq, Tk)
    Tq, Tk = scores.shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("pass either attn_mask or is_causal, not both")
        # query i may attend to keys 0..i (top-left aligned, as F.scaled_dot_product_attention)
        attn_mask = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = torch.softmax(scores, dim=-1)                    # (..., Tq, Tk)
    return weights @ v                                         # (..., Tq, dv)
