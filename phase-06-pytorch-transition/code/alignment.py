"""The twins of phase 04's alignment attention (Bahdanau 2014, Luong 2015).

A decoder state ``q`` scores every encoder state ``h_j``, a softmax over the source turns
the scores into weights, and the context is the weighted average of the ``h_j``:

    additive / concat   v^T tanh(W q + U h)      parameters w_query (A, Dq), w_key (A, Dk), v (A,)
    dot                 q^T h                    none
    general             q^T W h                  weight (Dq, Dk)

Phase 04 kept what depends only on the encoder (``U h``, ``W h``) in a ``Memory`` built once
per batch by ``prepare``, and each decoder step called ``attend``; the backward pair of each
accumulated into the memory's gradients. Here ``prepare`` returns the same tensors and
autograd sums the gradient arriving at ``U h`` from every step on its own: a tensor used T
times in the graph receives the sum of T gradients, which is what ``Memory.dproj += ...``
did by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from phase06.attention import masked_softmax


@dataclass
class Memory:
    keys: torch.Tensor             # (B, S, Dk) encoder states: keys and values
    mask: torch.Tensor | None      # (B, S) bool, True = a real source position
    proj: torch.Tensor             # (B, S, A) the keys' part of the score


def _uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class _Attention(nn.Module):
    def __init__(self, query_dim: int, key_dim: int):
        super().__init__()
        self.query_dim, self.key_dim = query_dim, key_dim

    def _project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return keys                                              # dot: the keys themselves

    def _scores(self, q: torch.Tensor, memory: Memory) -> torch.Tensor:
        raise NotImplementedError

    def prepare(self, keys: torch.Tensor, mask: torch.Tensor | None = None) -> Memory:
        if keys.ndim != 3 or keys.shape[2] != self.key_dim:
            raise ValueError(f"{type(self).__name__}: keys must be (B, S, {self.key_dim}), got shape {tuple(keys.shape)}")
        if mask is not None and (mask.dtype != torch.bool or mask.shape != keys.shape[:2]):
            raise ValueError(f"{type(self).__name__}: mask must be boolean (B, S) = {tuple(keys.shape[:2])}, "
                             f"got {mask.dtype} {tuple(mask.shape)}")
        return Memory(keys, mask, self._project_keys(keys))

    def attend(self, query: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        """``query (B, Dq)`` or ``(B, Tq, Dq)`` -> ``(context, weights)`` shaped like the query."""
        one_step = query.ndim == 2
        q = query[:, None] if one_step else query                # (B, Tq, Dq)
        if q.ndim != 3 or q.shape[0] != memory.keys.shape[0] or q.shape[2] != self.query_dim:
            raise ValueError(f"{type(self).__name__}: query must be (B, Dq) or (B, Tq, Dq) with Dq = "
                             f"{self.query_dim}; got {tuple(query.shape)} for keys {tuple(memory.keys.shape)}")
        allowed = None if memory.mask is None else memory.mask[:, None, :]    # (B, 1, S)
        weights = masked_softmax(self._scores(q, memory), allowed)           # (B, Tq, S)
        context = weights @ memory.keys                          # (B, Tq, S) @ (B, S, Dk) -> (B, Tq, Dk)
        return (context[:, 0], weights[:, 0]) if one_step else (context, weights)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None):
        context, weights = self.attend(query, self.prepare(keys, mask))
        self.weights = weights.detach()
        return context


class DotAttention(_Attention):
    """Luong's ``dot`` score ``q^T h``."""

    def __init__(self, dim: int):
        super().__init__(dim, dim)

    def _scores(self, q, memory):
        return q @ memory.proj.transpose(1, 2)                   # (B, Tq, D) @ (B, D, S) -> (B, Tq, S)


class GeneralAttention(DotAttention):
    """Luong's ``general`` score ``q^T W h``: a dot product with the projected keys ``W h``."""

    def __init__(self, query_dim: int, key_dim: int):
        _Attention.__init__(self, query_dim, key_dim)
        self.weight = _uniform((query_dim, key_dim), key_dim)

    def _project_keys(self, keys):
        return keys @ self.weight.T                              # (B, S, Dk) -> (B, S, Dq)


class AdditiveAttention(_Attention):
    """Bahdanau's ``v^T tanh(W q + U h)``; ``W q`` broadcasts over the S keys, ``(B, Tq, S, A)``."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__(query_dim, key_dim)
        self.attn_dim = attn_dim
        self.w_query = _uniform((attn_dim, query_dim), query_dim)
        self.w_key = _uniform((attn_dim, key_dim), key_dim)
        self.v = _uniform((attn_dim,), attn_dim)

    def _project_keys(self, keys):
        return keys @ self.w_key.T                               # (B, S, Dk) -> (B, S, A)

    def _scores(self, q, memory):
        qp = q @ self.w_query.T                                  # (B, Tq, Dq) -> (B, Tq, A)
        h = torch.tanh(qp[:, :, None, :] + memory.proj[:, None, :, :])   # (B, Tq, S, A)
        return h @ self.v                                        # (B, Tq, S, A) @ (A,) -> (B, Tq, S)


class ConcatAttention(AdditiveAttention):
    """Luong's ``concat`` score ``v^T tanh(W [q; h])``: the additive score under his name."""

    def concat_weight(self) -> torch.Tensor:
        return torch.cat([self.w_query, self.w_key], dim=1)     # (A, Dq + Dk)
