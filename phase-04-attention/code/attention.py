"""Scaled dot-product attention, masks, and multi-head attention, with backward passes by hand.

One attention step, for queries ``q`` (L of them), keys ``k`` and values ``v`` (S of them):

    scores  = q @ k^T * scale + additive_mask      (..., L, S)   scale = 1 / sqrt(d_k)
    weights = softmax(scores) over the S keys       (..., L, S)   disallowed keys get 0
    out     = weights @ v                            (..., L, Ev)

Masks follow ``torch.nn.functional.scaled_dot_product_attention``: a boolean mask says where
a query *may* attend (True = allowed), a float mask is added to the scores (``-inf`` forbids).
A query row with no allowed key gets all-zero weights and output (torch does the same).

- ``causal_mask(T)``                         the lower-triangular "no peeking ahead" mask
- ``masked_softmax`` / ``softmax_backward``  the softmax with masked entries, and its VJP
- ``scaled_dot_product_attention``           forward: ``(out, cache)``; the function pair of
  ``scaled_dot_product_attention_backward``  backward: ``(dq, dk, dv)``
- ``ScaledDotProductAttention``              the same as a Module (``phase01.module`` protocol)
- ``MultiHeadAttention``                     Q, K, V and output projections around it, every
                                             head at once; self-, causal and cross-attention

See phase-04-attention/notes/softmax-attention-backward.md for the derivation of the
backward pass and phase-04-attention/notes/why-sqrt-dk.md for the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phase00.probability import softmax_backward
from phase01.layers import Linear
from phase01.module import Module


def causal_mask(T: int, S: int | None = None) -> np.ndarray:
    """Boolean ``(T, S)`` mask, True where query ``i`` may see key ``j``: ``j <= i``.

    ``S`` defaults to ``T``. For ``S != T`` the triangle is aligned at the top left, as
    ``is_causal=True`` is in torch's ``scaled_dot_product_attention``.

    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    S = T if S is None else S
    if T < 1 or S < 1:
        raise ValueError(f"causal_mask needs T >= 1 and S >= 1, got T={T}, S={S}")
    return np.tril(np.ones((T, S), dtype=bool))


def masked_softmax(scores: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis where ``allowed`` is True (and ``scores > -inf``); 0 elsewhere.

    A row in which nothing is allowed comes out all zeros instead of ``0/0 = nan``.

    >>> masked_softmax(np.array([[1.0, 2.0, 3.0]]), np.array([[True, True, False]])).round(4)
    array([[0.2689, 0.7311, 0.    ]])
    >>> masked_softmax(np.array([[1.0, 2.0]]), np.array([[False, False]]))
    array([[0., 0.]])
    """
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    m = np.max(scores, axis=-1, keepdims=True)     # (..., L, 1); -inf for an empty row
    m = np.where(np.isfinite(m), m, 0.0)           # so that -inf - m stays -inf, not nan
    e = np.exp(scores - m)                         # exp(-inf) = 0 for the masked entries
    z = np.sum(e, axis=-1, keepdims=True)          # (..., L, 1)
    return e / np.where(z > 0, z, 1.0)


# The backward of masked_softmax is the plain softmax VJP, p * (dp - sum(dp * p)): where
# p = 0 (a masked entry, or an empty row) the gradient is 0, which is exactly right.
masked_softmax_backward = softmax_backward


def _check_mask(mask: np.ndarray, target: tuple[int, ...], who: str) -> np.ndarray:
    """``mask`` as an array that broadcasts to ``target`` (the scores' shape), else ValueError."""
    mask = np.asarray(mask)
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
        raise ValueError(f"{who}: a mask is boolean (True = may attend) or float (added to "
                         f"the scores), got dtype {mask.dtype} of shape {mask.shape}")
    try:
        shape = np.broadcast_shapes(mask.shape, target)
    except ValueError:
        shape = None
    if shape != target:
        raise ValueError(f"{who}: mask of shape {mask.shape} does not broadcast to the "
                         f"attention scores' shape {target} (..., L queries, S keys)")
    return mask


@dataclass
class AttentionCache:
    """What the backward pass of one attention call needs."""

    q: np.ndarray          # (..., L, E)
    k: np.ndarray          # (..., S, E)
    v: np.ndarray          # (..., S, Ev)
    weights: np.ndarray    # (..., L, S) softmax weights before dropout (rows sum to 1 or 0)
    scale: float
    keep: np.ndarray | None = None   # (..., L, S) dropout's kept entries, None without dropout
    dropout_p: float = 0.0


def scaled_dot_product_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, AttentionCache]:
    """``softmax(q k^T * scale + mask) v`` over any leading batch (and head) axes.

    ``q`` is ``(..., L, E)``, ``k`` is ``(..., S, E)``, ``v`` is ``(..., S, Ev)``; the output is
    ``(..., L, Ev)``. ``mask`` broadcasts to ``(..., L, S)``: boolean (True = may attend) or
    float (added). ``is_causal`` also forbids key ``j > i`` (combined with ``mask`` when both
    are given; torch allows only one of them). ``scale`` defaults to ``1 / sqrt(E)``. With
    ``dropout_p > 0`` the weights are dropped (and rescaled by ``1 / (1 - p)``) using ``rng``.

    Returns ``(out, cache)``; ``cache.weights`` holds the attention weights.

    >>> q = k = np.eye(2)[None]                    # two orthogonal keys, one per query
    >>> v = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> out, cache = scaled_dot_product_attention(q, k, v, scale=10.0)
    >>> out.round(3)                               # each query mostly copies "its" value
    array([[[1., 0.],
            [0., 1.]]])
    >>> scaled_dot_product_attention(q, k, v, is_causal=True)[0][0, 0]   # query 0 sees key 0
    array([1., 0.])
    """
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    shapes = f"q {q.shape}, k {k.shape}, v {v.shape}"
    if not (q.ndim == k.ndim == v.ndim >= 2):
        raise ValueError(f"scaled_dot_product_attention: q, k, v need the same number (>= 2) "
                         f"of axes (..., length, features); got {shapes}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(f"scaled_dot_product_attention: batch axes differ: {shapes}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: q and k need the same feature size "
                         f"E to be compared: {shapes}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: k and v need one value per key "
                         f"(same length S): {shapes}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got {dropout_p}")
    L, S = q.shape[-2], k.shape[-2]
    scale = float(1.0 / np.sqrt(q.shape[-1]) if scale is None else scale)  # float32 stays float32

    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    allowed = causal_mask(L, S) if is_causal else None          # (L, S) or None
    if mask is not None:
        mask = _check_mask(mask, scores.shape, "scaled_dot_product_attention")
        if mask.dtype == bool:
            allowed = mask if allowed is None else allowed & mask
        else:
            scores = scores + mask.astype(scores.dtype, copy=False)  # -inf entries are forbidden
    weights = masked_softmax(scores, allowed)                   # (..., L, S)

    keep = None
    if dropout_p > 0.0:
        rng = rng if rng is not None else np.random.default_rng()
        keep = rng.random(weights.shape) >= dropout_p           # (..., L, S) bool
        dropped = weights * keep / (1.0 - dropout_p)
    else:
        dropped = weights
    out = dropped @ v                                           # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
    return out, AttentionCache(q, k, v, weights, scale, keep, dropout_p)


def scaled_dot_product_attention_backward(
    dout: np.ndarray, cache: AttentionCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dq, dk, dv)`` of ``scaled_dot_product_attention`` given ``dout = dL/dout``.

    With ``P`` the weights, ``dS = P * (dP - rowsum(dP * P))`` (the softmax Jacobian
    ``diag(p) - p p^T`` applied row by row), where ``dP = dout v^T`` and ``dv = P^T dout``;
    then ``dq = scale * dS k`` and ``dk = scale * dS^T q``.
    """
    q, k, v, P = cache.q, cache.k, cache.v, cache.weights
    if cache.keep is not None:
        drop_scale = cache.keep / (1.0 - cache.dropout_p)        # (..., L, S)
        Pd = P * drop_scale
    else:
        Pd = P
    dv = np.swapaxes(Pd, -1, -2) @ dout      # (..., S, L) @ (..., L, Ev) -> (..., S, Ev)
    dP = dout @ np.swapaxes(v, -1, -2)       # (..., L, Ev) @ (..., Ev, S) -> (..., L, S)
    if cache.keep is not None:
        dP = dP * drop_scale
    dS = masked_softmax_backward(dP, P)      # (..., L, S); zero where P = 0
    dq = (dS @ k) * cache.scale              # (..., L, S) @ (..., S, E) -> (..., L, E)
    dk = (np.swapaxes(dS, -1, -2) @ q) * cache.scale   # (..., S, L) @ (..., L, E) -> (..., S, E)
    return dq, dk, dv


class ScaledDotProductAttention(Module):
    """``scaled_dot_product_attention`` as a parameter-free Module: ``forward(q, k, v, mask=None)``.

    ``backward(dout)`` returns ``(dq, dk, dv)``; ``self.weights`` keeps the last attention
    weights ``(..., L, S)``. Dropout acts only in training mode.
    """

    def __init__(self, is_causal: bool = False, scale: float | None = None,
                 dropout_p: float = 0.0, rng: np.random.Generator | None = None):
        self.is_causal = is_causal
        self.scale = scale
        self.dropout_p = dropout_p
        self.rng = rng if rng is not None else np.random.default_rng()

    def forward(self, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                mask: np.ndarray | None = None) -> np.ndarray:
        p = self.dropout_p if self.training else 0.0
        out, self.cache = scaled_dot_product_attention(q, k, v, mask, self.is_causal,
                                                       self.scale, p, self.rng)
        self.weights = self.cache.weights
        return out

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return scaled_dot_product_attention_backward(dout, self.cache)


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """``(B, T, C) -> (B, nh, T, C // nh)``: head ``h`` gets features ``h*hs .. (h+1)*hs - 1``."""
    B, T, C = x.shape
    return x.reshape(B, T, num_heads, C // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """``(B, nh, T, hs) -> (B, T, nh * hs)``, the inverse of ``split_heads``."""
    B, nh, T, hs = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)


class MultiHeadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017), batch first: ``(B, T, C)`` in and out.

    ``num_heads`` heads of size ``hs = embed_dim // num_heads`` attend in parallel, all in one
    batched matrix product (the heads are an array axis, never a Python loop)::

        q = query @ Wq^T + bq,  k = key @ Wk^T + bk,  v = value @ Wv^T + bv      (B, *, C)
        heads = softmax(q_h k_h^T / sqrt(hs) + mask) v_h    for every head h      (B, nh, T, hs)
        out = concat(heads) @ Wo^T + bo                                           (B, T, C)

    Parameters: ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` (each a ``phase01.layers.Linear``,
    weights ``(out, in)``). ``torch.nn.MultiheadAttention`` packs the first three into one
    ``in_proj_weight`` ``(3C, C)``: its rows ``[0:C]``, ``[C:2C]``, ``[2C:3C]`` are our
    ``q_proj.weight``, ``k_proj.weight``, ``v_proj.weight``.

    ``forward(query, key=None, value=None, *, attn_mask=None, key_padding_mask=None,
    is_causal=None)``:

    - ``forward(x)`` is self-attention; ``forward(x, memory)`` is cross-attention (key = value
      = memory, ``(B, S, kdim)``); ``forward(q, k, v)`` takes all three.
      ``backward(dout)`` returns one gradient per array passed: ``dx``, ``(dx, dmemory)`` or
      ``(dq, dk, dv)``.
    - ``attn_mask`` broadcasts to ``(B, nh, T, S)`` (so ``(T, S)`` works): boolean, True = may
      attend, or float, added to the scores.
    - ``key_padding_mask`` is boolean ``(B, S)``, True for a real key, False for padding.
      (torch's ``nn.MultiheadAttention`` uses the opposite: True = ignore.)
    - ``is_causal`` (default: the constructor's ``causal``) adds the causal mask.

    ``self.attn_weights`` keeps the last weights ``(B, nh, T, S)`` (for heat-maps).
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, dropout: float = 0.0,
                 causal: bool = False, rng: np.random.Generator | None = None,
                 init: str = "default"):
        if num_heads < 1 or embed_dim % num_heads != 0:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        rng = rng if rng is not None else np.random.default_rng()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.causal = causal
        self.attention = ScaledDotProductAttention(dropout_p=dropout, rng=rng)
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng, init=init)
        self.k_proj = Linear(self.kdim, embed_dim, bias=bias, rng=rng, init=init)
        self.v_proj = Linear(self.vdim, embed_dim, bias=bias, rng=rng, init=init)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng, init=init)

    def _check_inputs(self, query, key, value) -> None:
        shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
        if not (query.ndim == key.ndim == value.ndim == 3):
            raise ValueError(f"MultiHeadAttention: inputs are (B, T, C) batch first; got {shapes}")
        if not (query.shape[0] == key.shape[0] == value.shape[0]):
            raise ValueError(f"MultiHeadAttention: batch sizes differ: {shapes}")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"MultiHeadAttention: key and value need the same length S: {shapes}")
        want = (self.embed_dim, self.kdim, self.vdim)
        if (query.shape[2], key.shape[2], value.shape[2]) != want:
            raise ValueError(f"MultiHeadAttention: expected feature sizes (embed_dim, kdim, vdim) "
                             f"= {want}; got {shapes}")

    def _combined_mask(self, attn_mask, key_padding_mask, B: int, T: int, S: int):
        """One mask broadcasting to ``(B, nh, T, S)`` from ``attn_mask`` and the padding mask."""
        target = (B, self.num_heads, T, S)
        mask = None
        if attn_mask is not None:
            mask = _check_mask(attn_mask, target, "MultiHeadAttention attn_mask")
        if key_padding_mask is not None:
            kpm = np.asarray(key_padding_mask)
            if kpm.dtype != bool or kpm.shape != (B, S):
                raise ValueError(f"MultiHeadAttention: key_padding_mask must be boolean of shape "
                                 f"(B, S) = {(B, S)}, got {kpm.dtype} {kpm.shape}")
            kpm = kpm[:, None, None, :]                          # (B, S) -> (B, 1, 1, S)
            if mask is None:
                mask = kpm
            elif mask.dtype == bool:
                mask = mask & kpm
            else:
                mask = np.where(kpm, mask, -np.inf)
        return mask

    def forward(self, query: np.ndarray, key: np.ndarray | None = None,
                value: np.ndarray | None = None, *, attn_mask: np.ndarray | None = None,
                key_padding_mask: np.ndarray | None = None,
                is_causal: bool | None = None) -> np.ndarray:
        self.n_inputs = 1 + (key is not None) + (value is not None)
        if value is not None and key is None:
            raise ValueError("MultiHeadAttention: a value needs a key")
        key = query if key is None else key
        value = key if value is None else value
        query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
        self._check_inputs(query, key, value)
        B, T, _ = query.shape
        S = key.shape[1]
        mask = self._combined_mask(attn_mask, key_padding_mask, B, T, S)
        self.attention.is_causal = self.causal if is_causal is None else is_causal

        nh = self.num_heads
        q = split_heads(self.q_proj(query), nh)   # (B, T, C) -> (B, T, C) -> (B, nh, T, hs)
        k = split_heads(self.k_proj(key), nh)     # (B, S, kdim) -> (B, S, C) -> (B, nh, S, hs)
        v = split_heads(self.v_proj(value), nh)   # (B, S, vdim) -> (B, S, C) -> (B, nh, S, hs)
        heads = self.attention(q, k, v, mask)     # (B, nh, T, hs)
        self.attn_weights = self.attention.weights               # (B, nh, T, S)
        return self.out_proj(merge_heads(heads))  # (B, nh, T, hs) -> (B, T, C) -> (B, T, C)

    def backward(self, dout: np.ndarray):
        nh = self.num_heads
        dheads = split_heads(self.out_proj.backward(dout), nh)  # (B, T, C) -> (B, nh, T, hs)
        dq, dk, dv = self.attention.backward(dheads)             # (B, nh, T|S, hs) each
        dquery = self.q_proj.backward(merge_heads(dq))           # (B, T, C)
        dkey = self.k_proj.backward(merge_heads(dk))             # (B, S, kdim)
        dvalue = self.v_proj.backward(merge_heads(dv))           # (B, S, vdim)
        if self.n_inputs == 1:
            return dquery + dkey + dvalue
        if self.n_inputs == 2:
            return dquery, dkey + dvalue
        return dquery, dkey, dvalue
