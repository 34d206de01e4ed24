"""Attention written out in torch, the twin of phase 04's NumPy attention.

``explicit_attention`` computes ``softmax(q k^T / sqrt(d) + mask) v`` step by step, the way
phase 04 derived it; ``torch.nn.functional.scaled_dot_product_attention`` fuses the same
computation into one kernel. Phase 07's GPT can use either (``GPTConfig.explicit_attention``);
the tests hold them equal.

Below it, the twins of ``phase04.attention`` with phase 04's exact semantics (masks that
combine, all-zero rows where nothing may be attended): ``causal_mask``, ``masked_softmax``,
``scaled_dot_product_attention`` (which returns ``(out, weights)``), the modules
``ScaledDotProductAttention`` and ``MultiHeadAttention``, and ``split_heads`` / ``merge_heads``.
"""

from __future__ import annotations

import math

import torch

from phase06.layers import Linear


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


# -- the twins of phase04.attention ------------------------------------------------------------
# Phase 04's semantics, kept exactly: a boolean mask is True where a query may attend, a float
# mask is added; causal and an explicit mask combine; a query row with no allowed key gets all
# zero weights (a plain softmax over a row of -inf gives nan, in the forward and the backward).


def causal_mask(T: int, S: int | None = None, device=None) -> torch.Tensor:
    """Boolean ``(T, S)``, True where query ``i`` may see key ``j <= i`` (top-left aligned)."""
    S = T if S is None else S
    if T < 1 or S < 1:
        raise ValueError(f"causal_mask needs T >= 1 and S >= 1, got T={T}, S={S}")
    return torch.ones(T, S, dtype=torch.bool, device=device).tril()


def masked_softmax(scores: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis where ``allowed`` (and ``scores > -inf``); zero elsewhere,
    and an all-zero row where nothing is allowed (no ``nan``, in the forward or the backward)."""
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    allowed = scores > float("-inf")                         # a float mask may forbid with -inf too
    empty = ~allowed.any(dim=-1, keepdim=True)                 # (..., L, 1) rows with no key at all
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1)   # finite everywhere
    return weights.masked_fill(~allowed, 0.0)                  # (..., L, S); empty rows become 0


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T * scale + mask) v``, the twin of ``phase04.attention.scaled_dot_product_attention``.

    Returns ``(out (..., L, Ev), weights (..., L, S))``, the weights before dropout (phase 04
    returned them inside its cache). There is no backward to return: autograd has it.
    """
    if not (q.ndim == k.ndim == v.ndim >= 2) or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q {tuple(q.shape)}, k {tuple(k.shape)}, "
                         f"v {tuple(v.shape)} do not fit together")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got {dropout_p}")
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ k.transpose(-2, -1)) * scale                 # (..., L, E) @ (..., E, S) -> (..., L, S)
    allowed = causal_mask(L, S, device=q.device) if is_causal else None
    if mask is not None:
        if mask.dtype == torch.bool:
            allowed = mask if allowed is None else allowed & mask
        else:
            scores = scores + mask                             # -inf entries are forbidden
    weights = masked_softmax(scores, allowed)                  # (..., L, S)
    dropped = torch.nn.functional.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights                                # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)


class ScaledDotProductAttention(torch.nn.Module):
    """``forward(q, k, v, mask=None) -> out``; keeps ``self.weights`` (detached) for heat-maps.
    Dropout on the weights acts in training mode only."""

    def __init__(self, is_causal: bool = False, scale: float | None = None, dropout_p: float = 0.0):
        super().__init__()
        self.is_causal, self.scale, self.dropout_p = is_causal, scale, dropout_p

    def forward(self, q, k, v, mask=None):
        p = self.dropout_p if self.training else 0.0
        out, weights = scaled_dot_product_attention(q, k, v, mask, self.is_causal, self.scale, p)
        self.weights = weights.detach()
        return out


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, T, C) -> (B, nh, T, C // nh)``: a view, then a transpose (no copy)."""
    B, T, C = x.shape
    return x.view(B, T, num_heads, C // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, nh, T, hs) -> (B, T, nh * hs)``; ``reshape`` copies, the transpose is not contiguous."""
    B, nh, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, nh * hs)


class MultiHeadAttention(torch.nn.Module):
    """The twin of ``phase04.attention.MultiHeadAttention``: ``q_proj``, ``k_proj``, ``v_proj``,
    ``out_proj`` around ``num_heads`` heads computed at once, batch first.

    ``forward(query, key=None, value=None, *, attn_mask=None, key_padding_mask=None,
    is_causal=None)``; ``key_padding_mask`` is True for a real key (phase 04's convention, the
    opposite of ``torch.nn.MultiheadAttention``'s). ``self.attn_weights`` keeps the weights.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, kdim: int | None = None,
                 vdim: int | None = None, dropout: float = 0.0, causal: bool = False,
                 init: str = "default"):
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads != 0:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.causal = causal
        self.attention = ScaledDotProductAttention(dropout_p=dropout)
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias, init=init)
        self.k_proj = Linear(self.kdim, embed_dim, bias=bias, init=init)
        self.v_proj = Linear(self.vdim, embed_dim, bias=bias, init=init)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, init=init)

    def _combined_mask(self, attn_mask, key_padding_mask, B: int, S: int):
        """One mask broadcasting to ``(B, nh, T, S)``."""
        mask = attn_mask
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool or tuple(key_padding_mask.shape) != (B, S):
                raise ValueError(f"MultiHeadAttention: key_padding_mask must be boolean of shape "
                                 f"(B, S) = {(B, S)}, got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
            kpm = key_padding_mask[:, None, None, :]             # (B, S) -> (B, 1, 1, S)
            if mask is None:
                mask = kpm
            elif mask.dtype == torch.bool:
                mask = mask & kpm
            else:
                mask = mask.masked_fill(~kpm, float("-inf"))
        return mask

    def forward(self, query, key=None, value=None, *, attn_mask=None, key_padding_mask=None,
                is_causal=None):
        if value is not None and key is None:
            raise ValueError("MultiHeadAttention: a value needs a key")
        key = query if key is None else key
        value = key if value is None else value
        if not (query.ndim == key.ndim == value.ndim == 3) or key.shape[1] != value.shape[1]:
            raise ValueError(f"MultiHeadAttention: inputs are (B, T, C) batch first; got query "
                             f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}")
        B, S = key.shape[0], key.shape[1]
        self.attention.is_causal = self.causal if is_causal is None else is_causal
        nh = self.num_heads
        q = split_heads(self.q_proj(query), nh)                  # (B, T, C) -> (B, nh, T, hs)
        k = split_heads(self.k_proj(key), nh)                    # (B, S, kdim) -> (B, nh, S, hs)
        v = split_heads(self.v_proj(value), nh)                  # (B, S, vdim) -> (B, nh, S, hs)
        heads = self.attention(q, k, v, self._combined_mask(attn_mask, key_padding_mask, B, S))
        self.attn_weights = self.attention.weights               # (B, nh, T, S)
        return self.out_proj(merge_heads(heads))                 # (B, nh, T, hs) -> (B, T, C)
