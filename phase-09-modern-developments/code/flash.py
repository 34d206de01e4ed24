"""FlashAttention (Dao et al. 2022; Dao 2023): exact attention without the ``T x T`` matrix.

Plain attention materialises ``S = Q K^T / sqrt(d)`` and ``P = softmax(S)``, ``T x T`` each.
FlashAttention walks over tiles of keys and keeps, per query row, only a running maximum
``m``, a running denominator ``l`` and an unnormalised output ``acc``. When a new tile
raises the maximum from ``m`` to ``m'``, everything accumulated so far is rescaled by
``exp(m - m')`` (the online softmax, Milakov and Gimelshein 2018). The backward pass keeps
only ``lse = m + log l`` per row and recomputes each tile of ``P`` from it.

NumPy versions to learn (float64 equal to plain attention to 1e-10), a torch
``autograd.Function`` to run. The loops are over tiles: that *is* the algorithm (on a GPU
each tile lives in fast on-chip memory). See phase-09-modern-developments/notes/flash-attention.md.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from phase00.probability import softmax


def _check(q, k, v, causal: bool, block_q: int = 1, block_k: int = 1) -> None:
    if q.shape[-1] != k.shape[-1] or k.shape != v.shape or q.shape[:-2] != k.shape[:-2]:
        raise ValueError(f"flash attention: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} "
                         "must be (..., Tq, d), (..., Tk, d), (..., Tk, d)")
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"flash attention: causal needs Tq == Tk, got {q.shape[-2]} and {k.shape[-2]}")
    if block_q < 1 or block_k < 1:
        raise ValueError(f"flash attention: block sizes must be >= 1, got {block_q}, {block_k}")


def _T(x):
    return np.swapaxes(x, -1, -2)


# -- plain attention, the reference ---------------------------------------------------------

def attention_np(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False):
    """Plain attention: ``(..., Tq, d), (..., Tk, d), (..., Tk, d) -> (..., Tq, d)``, and ``P``."""
    _check(q, k, v, causal)
    s = q @ _T(k) / math.sqrt(q.shape[-1])                      # (..., Tq, Tk)
    if causal:
        T = q.shape[-2]
        s = np.where(np.tri(T, dtype=bool), s, -np.inf)
    p = softmax(s, axis=-1)                                      # (..., Tq, Tk)
    return p @ v, p


def attention_np_backward(do, q, k, v, p):
    """Gradients of plain attention from the stored ``P``: ``dq, dk, dv``."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    dv = _T(p) @ do                                              # (..., Tk, d)
    dp = do @ _T(v)                                              # (..., Tq, Tk)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))              # softmax backward, row by row
    return ds @ k * scale, _T(ds) @ q * scale, dv


# -- the tiled version ---------------------------------------------------------------------

def _tile_scores(q_blk, k_blk, scale, causal, q0, k0):
    """Scores of one tile, ``(..., bq, bk)``, with the causal mask at offsets ``q0, k0``."""
    s = q_blk @ _T(k_blk) * scale
    if causal:
        i = np.arange(q0, q0 + q_blk.shape[-2])[:, None]
        j = np.arange(k0, k0 + k_blk.shape[-2])[None, :]
        s = np.where(j <= i, s, -np.inf)
    return s


def flash_forward_np(q, k, v, causal: bool = False, block_q: int = 64, block_k: int = 64):
    """Tiled attention with the online softmax: returns ``o`` ``(..., Tq, d)`` and
    ``lse`` ``(..., Tq)`` (log-sum-exp of each score row, all the backward pass keeps).

    Memory beyond the inputs and output: ``O(block_q * block_k)`` per tile and ``O(Tq)`` for
    the running statistics, never ``O(Tq * Tk)``.
    """
    _check(q, k, v, causal, block_q, block_k)
    Tq, Tk, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d)
    o = np.empty(q.shape, dtype=q.dtype)
    lse = np.empty(q.shape[:-1], dtype=q.dtype)
    for q0 in range(0, Tq, block_q):
        qb = q[..., q0:q0 + block_q, :]                          # (..., bq, d)
        m = np.full(qb.shape[:-1], -np.inf, dtype=q.dtype)       # running max      (..., bq)
        l = np.zeros(qb.shape[:-1], dtype=q.dtype)               # running sum      (..., bq)
        acc = np.zeros(qb.shape, dtype=q.dtype)                  # unnormalised out (..., bq, d)
        k_end = min(Tk, q0 + qb.shape[-2]) if causal else Tk     # later keys are all masked
        for k0 in range(0, k_end, block_k):
            s = _tile_scores(qb, k[..., k0:k0 + block_k, :], scale, causal, q0, k0)  # (..., bq, bk)
            m_new = np.maximum(m, s.max(-1))                     # (..., bq)
            p = np.exp(s - m_new[..., None])                     # (..., bq, bk)
            alpha = np.exp(m - m_new)                            # rescales the old sums
            l = alpha * l + p.sum(-1)
            acc = alpha[..., None] * acc + p @ v[..., k0:k0 + block_k, :]
            m = m_new
        o[..., q0:q0 + block_q, :] = acc / l[..., None]
        lse[..., q0:q0 + block_q] = m + np.log(l)
    return o, lse


def flash_backward_np(do, q, k, v, o, lse, causal: bool = False, block_q: int = 64, block_k: int = 64):
    """Gradients ``dq, dk, dv`` recomputing each tile of ``P = exp(S - lse)``.

    Uses ``D_i = sum_j P_ij dP_ij = do_i . o_i``, so the softmax backward
    ``dS = P * (dP - D)`` needs no row of ``P`` beyond the current tile.
    """
    _check(q, k, v, causal, block_q, block_k)
    Tq, Tk, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d)
    D = (do * o).sum(-1)                                         # (..., Tq)
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for k0 in range(0, Tk, block_k):
        kb, vb = k[..., k0:k0 + block_k, :], v[..., k0:k0 + block_k, :]  # (..., bk, d)
        q_start = (k0 // block_q) * block_q if causal else 0     # earlier queries see none of it
        for q0 in range(q_start, Tq, block_q):
            sl = slice(q0, q0 + block_q)
            s = _tile_scores(q[..., sl, :], kb, scale, causal, q0, k0)   # (..., bq, bk)
            p = np.exp(s - lse[..., sl, None])                   # the tile of P, recomputed
            dv[..., k0:k0 + block_k, :] += _T(p) @ do[..., sl, :]
            dp = do[..., sl, :] @ _T(vb)                         # (..., bq, bk)
            ds = p * (dp - D[..., sl, None])
            dq[..., sl, :] += ds @ kb * scale
            dk[..., k0:k0 + block_k, :] += _T(ds) @ q[..., sl, :] * scale
    return dq, dk, dv


# -- torch ---------------------------------------------------------------------------------

def _tile_scores_torch(qb, kb, scale, causal, q0, k0):
    s = qb @ kb.transpose(-1, -2) * scale                        # (..., bq, bk)
    if causal:
        i = torch.arange(q0, q0 + qb.shape[-2], device=qb.device)[:, None]
        j = torch.arange(k0, k0 + kb.shape[-2], device=qb.device)[None, :]
        s = s.masked_fill(j > i, float("-inf"))
    return s


class FlashAttention(torch.autograd.Function):
    """The same forward and backward as the NumPy functions, on torch tensors."""

    @staticmethod
    def forward(ctx, q, k, v, causal: bool = False, block_q: int = 64, block_k: int = 64):
        _check(q, k, v, causal, block_q, block_k)
        Tq, Tk, d = q.shape[-2], k.shape[-2], q.shape[-1]
        scale = 1.0 / math.sqrt(d)
        o = torch.empty_like(q)
        lse = torch.empty(q.shape[:-1], dtype=q.dtype, device=q.device)
        for q0 in range(0, Tq, block_q):
            qb = q[..., q0:q0 + block_q, :]                      # (..., bq, d)
            m = torch.full(qb.shape[:-1], float("-inf"), dtype=q.dtype, device=q.device)
            l = torch.zeros_like(m)
            acc = torch.zeros_like(qb)
            k_end = min(Tk, q0 + qb.shape[-2]) if causal else Tk
            for k0 in range(0, k_end, block_k):
                s = _tile_scores_torch(qb, k[..., k0:k0 + block_k, :], scale, causal, q0, k0)
                m_new = torch.maximum(m, s.amax(-1))
                p = torch.exp(s - m_new[..., None])
                alpha = torch.exp(m - m_new)
                l = alpha * l + p.sum(-1)
                acc = alpha[..., None] * acc + p @ v[..., k0:k0 + block_k, :]
                m = m_new
            o[..., q0:q0 + block_q, :] = acc / l[..., None]
            lse[..., q0:q0 + block_q] = m + torch.log(l)
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.args = (causal, block_q, block_k)
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse = ctx.saved_tensors
        causal, block_q, block_k = ctx.args
        Tq, Tk, d = q.shape[-2], k.shape[-2], q.shape[-1]
        scale = 1.0 / math.sqrt(d)
        D = (do * o).sum(-1)                                     # (..., Tq)
        dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        for k0 in range(0, Tk, block_k):
            kb, vb = k[..., k0:k0 + block_k, :], v[..., k0:k0 + block_k, :]
            q_start = (k0 // block_q) * block_q if causal else 0
            for q0 in range(q_start, Tq, block_q):
                sl = slice(q0, q0 + block_q)
                p = torch.exp(_tile_scores_torch(q[..., sl, :], kb, scale, causal, q0, k0)
                              - lse[..., sl, None])              # (..., bq, bk)
                dv[..., k0:k0 + block_k, :] += p.transpose(-1, -2) @ do[..., sl, :]
                ds = p * (do[..., sl, :] @ vb.transpose(-1, -2) - D[..., sl, None])
                dq[..., sl, :] += ds @ kb * scale
                dk[..., k0:k0 + block_k, :] += ds.transpose(-1, -2) @ q[..., sl, :] * scale
        return dq, dk, dv, None, None, None


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                    block_q: int = 64, block_k: int = 64) -> torch.Tensor:
    """``(..., Tq, d), (..., Tk, d), (..., Tk, d) -> (..., Tq, d)``, differentiable.

    >>> q = torch.randn(1, 2, 10, 8)
    >>> torch.allclose(flash_attention(q, q, q, causal=True, block_q=4, block_k=3),
    ...                torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True), atol=1e-6)
    True
    """
    return FlashAttention.apply(q, k, v, causal, block_q, block_k)
