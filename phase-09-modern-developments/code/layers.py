"""The three block-level changes between GPT-2 and LLaMA, as torch modules.

- ``RMSNorm`` (Zhang and Sennrich 2019): scale by the root mean square, no mean, no bias.
- ``SwiGLU`` (Shazeer 2020): ``down(silu(gate(x)) * up(x))``, a gated MLP.
- ``GQAttention`` (Shazeer 2019; Ainslie et al. 2023): ``n_head`` query heads share
  ``n_kv_head`` key/value heads (``n_kv_head = 1`` is multi-query attention), so the KV
  cache shrinks by ``n_head / n_kv_head``; RoPE on queries and keys; an optional sliding
  window (Mistral).

Parameter names follow Hugging Face's Llama (``q_proj`` ... ``down_proj``) so that loading
its weights is a renaming. See phase-09-modern-developments/notes/llama-and-mistral.md.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from phase09.rope import apply_rope


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight``, computed in float32 (as HF's LlamaRMSNorm)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., C) / (..., 1)
        return self.weight * h.to(x.dtype)


class SwiGLU(nn.Module):
    """The gated MLP: ``down_proj(silu(gate_proj(x)) * up_proj(x))``, no biases."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (B,T,C)->(B,T,H)->(B,T,C)


def check_heads(n_head: int, n_kv_head: int, where: str = "GQAttention") -> None:
    """Grouped-query attention needs every KV head to serve the same number of query heads."""
    if n_kv_head < 1 or n_head % n_kv_head != 0:
        raise ValueError(f"{where}: n_head {n_head} is not a multiple of n_kv_head {n_kv_head} "
                         "(each key/value head serves n_head // n_kv_head query heads)")


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(B, n_kv, T, hs) -> (B, n_kv * n_rep, T, hs)``: KV head ``g`` serves query heads
    ``g * n_rep .. g * n_rep + n_rep - 1``."""
    if n_rep == 1:
        return x
    B, n_kv, T, hs = x.shape
    return x[:, :, None].expand(B, n_kv, n_rep, T, hs).reshape(B, n_kv * n_rep, T, hs)


def attention_mask(q_pos: torch.Tensor, k_pos: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """Boolean ``(Tq, Tk)``: query at position ``i`` sees key at ``j`` if ``j <= i`` and, with a
    sliding window ``W``, ``j > i - W`` (the ``W`` most recent positions, itself included).

    >>> attention_mask(torch.arange(4), torch.arange(4), window=2).int()
    tensor([[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 1, 1]], dtype=torch.int32)
    """
    i, j = q_pos[:, None], k_pos[None, :]
    allowed = j <= i
    if window is not None:
        allowed = allowed & (j > i - window)
    return allowed


class GQAttention(nn.Module):
    """Causal self-attention with ``n_head`` query heads and ``n_kv_head`` key/value heads."""

    def __init__(self, dim: int, n_head: int, n_kv_head: int, head_dim: int | None = None,
                 rope_layout: str = "half", window: int | None = None):
        super().__init__()
        check_heads(n_head, n_kv_head)
        self.n_head, self.n_kv_head = n_head, n_kv_head
        self.head_dim = head_dim or dim // n_head
        self.rope_layout, self.window = rope_layout, window
        self.q_proj = nn.Linear(dim, n_head * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, n_kv_head * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, n_kv_head * self.head_dim, bias=False)
        self.o_proj = nn.Linear(n_head * self.head_dim, dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, pos: torch.Tensor,
                cache=None, layer: int = 0) -> torch.Tensor:
        """``x`` ``(B, T, C)`` at positions ``pos`` ``(T,)``; ``cos, sin`` ``(T, hs / 2)``."""
        B, T, _ = x.shape
        hs = self.head_dim
        q = self.q_proj(x).view(B, T, self.n_head, hs).transpose(1, 2)     # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_kv_head, hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, self.n_kv_head, hs).transpose(1, 2)  # (B, nkv, T, hs)
        q, k = apply_rope(q, cos, sin, self.rope_layout), apply_rope(k, cos, sin, self.rope_layout)
        k_pos = pos
        if cache is not None:
            k, v, k_pos = cache.append(layer, k, v, pos)                   # (B, nkv, Tk, hs)
        mask = attention_mask(pos, k_pos, self.window)                     # (T, Tk)
        n_rep = self.n_head // self.n_kv_head
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)                    # (B, nh, Tk, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)        # (B, nh, T, hs)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_head * hs))  # (B, T, C)


def kv_cache_bytes(n_layer: int, n_kv_head: int, head_dim: int, seq_len: int, batch: int = 1,
                   bytes_per_value: int = 2) -> int:
    """Bytes of a KV cache: keys and values, every layer, every KV head, every position.

    >>> kv_cache_bytes(32, 32, 128, 4096) / 2**30     # LLaMA-2 7B, one 4k sequence, fp16
    2.0
    >>> kv_cache_bytes(32, 8, 128, 4096) / 2**30      # with 8 KV heads (GQA): 4x smaller
    0.5
    """
    return 2 * n_layer * batch * n_kv_head * seq_len * head_dim * bytes_per_value
