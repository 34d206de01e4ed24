"""Attention over encoder states, the way translation models first used it (2014-2015).

A decoder state ``q`` (the query) scores every encoder state ``h_j`` (the keys, which are
also the values), a softmax turns the scores into alignment weights, and the context is
their weighted average:

    e_j = score(q, h_j)          a_j = softmax_j(e)          c = sum_j a_j h_j

The score functions of Bahdanau et al. (2014) and Luong et al. (2015):

    additive (Bahdanau)   score(q, h) = v^T tanh(W q + U h)       ``AdditiveAttention``
    dot      (Luong)      score(q, h) = q^T h                      ``DotAttention``
    general  (Luong)      score(q, h) = q^T W h                    ``GeneralAttention``
    concat   (Luong)      score(q, h) = v^T tanh(W [q; h])         ``ConcatAttention``

(concat is additive with ``W [q; h] = W_q q + W_h h``; the two papers differ in which
decoder state is the query and where the context goes, see ``phase04.seq2seq_attention``.)

Everything that depends only on the encoder states (``U h`` for additive, ``W h`` for
general) is computed once per source sentence by ``prepare``; each decoder step then calls
``attend``. The pair of each is explicit about its cache, like phase 02's recurrent cells:

    memory = attn.prepare(keys, mask)                   keys (B, S, Dk), mask (B, S) bool
    context, weights, cache = attn.attend(query, memory)   query (B, Dq) or (B, Tq, Dq)
    dquery = attn.attend_backward(dcontext, cache)      adds into memory's gradients
    dkeys = attn.prepare_backward(memory)               once, after every step's backward

``forward(query, keys, mask)`` / ``backward(dcontext) -> (dquery, dkeys)`` do both at once
for the layer protocol (and the gradchecks). See phase-04-attention/notes/alignment-attention.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phase01.module import Module, Parameter
from phase04.attention import masked_softmax, masked_softmax_backward


@dataclass
class Memory:
    """The encoder side of attention, prepared once per batch of source sentences."""

    keys: np.ndarray               # (B, S, Dk) encoder states: keys and values
    mask: np.ndarray | None        # (B, S) bool, True = a real source position
    proj: np.ndarray               # (B, S, A) what the score needs from the keys
    dkeys: np.ndarray = field(init=False)   # gradients, accumulated by attend_backward
    dproj: np.ndarray = field(init=False)

    def __post_init__(self):
        self.dkeys = np.zeros_like(self.keys)
        self.dproj = np.zeros_like(self.proj)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> Parameter:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` in float32, like torch's ``nn.Linear``."""
    bound = 1.0 / np.sqrt(fan_in)
    return Parameter(rng.uniform(-bound, bound, size=shape).astype(np.float32))


class _Attention(Module):
    """Shared parts: checks, the softmax and the weighted average; subclasses give the score."""

    def __init__(self, query_dim: int, key_dim: int):
        self.query_dim, self.key_dim = query_dim, key_dim

    # -- what a subclass provides -------------------------------------------------------
    def _project_keys(self, keys: np.ndarray) -> np.ndarray:
        """``(B, S, Dk) -> (B, S, A)``: the keys' part of the score (identity for dot)."""
        return keys

    def _project_keys_backward(self, memory: Memory) -> None:
        """Turn ``memory.dproj`` into parameter gradients and add it into ``memory.dkeys``."""
        memory.dkeys += memory.dproj

    def _scores(self, q: np.ndarray, memory: Memory):
        """``q (B, Tq, Dq) -> (scores (B, Tq, S), cache)``."""
        raise NotImplementedError

    def _scores_backward(self, dscores: np.ndarray, cache, memory: Memory) -> np.ndarray:
        """``dscores (B, Tq, S) -> dq (B, Tq, Dq)``; adds into ``memory.dproj``."""
        raise NotImplementedError

    # -- the shared algorithm -----------------------------------------------------------
    def prepare(self, keys: np.ndarray, mask: np.ndarray | None = None) -> Memory:
        """Check the encoder states and precompute the keys' part of every score."""
        name = type(self).__name__
        keys = np.asarray(keys)
        if keys.ndim != 3 or keys.shape[2] != self.key_dim:
            raise ValueError(f"{name}: keys must be (B, S, {self.key_dim}), got shape {keys.shape}")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != keys.shape[:2]:
                raise ValueError(f"{name}: mask must be boolean (B, S) = {keys.shape[:2]}, "
                                 f"got {mask.dtype} {mask.shape}")
        return Memory(keys, mask, self._project_keys(keys))

    def prepare_backward(self, memory: Memory) -> np.ndarray:
        """After every ``attend_backward``: the gradient of the keys ``(B, S, Dk)``."""
        self._project_keys_backward(memory)
        return memory.dkeys

    def attend(self, query: np.ndarray, memory: Memory):
        """``query (B, Dq)`` or ``(B, Tq, Dq)`` -> ``(context, weights, cache)``.

        ``context`` is ``(B, [Tq,] Dk)`` and ``weights`` ``(B, [Tq,] S)``, matching the query.
        """
        name = type(self).__name__
        query = np.asarray(query)
        one_step = query.ndim == 2
        q = query[:, None] if one_step else query                     # (B, Tq, Dq)
        B, S = memory.keys.shape[:2]
        if q.ndim != 3 or q.shape[0] != B or q.shape[2] != self.query_dim:
            raise ValueError(f"{name}: query must be (B, Dq) or (B, Tq, Dq) with B = {B}, "
                             f"Dq = {self.query_dim}; got {query.shape} for keys {memory.keys.shape}")
        scores, score_cache = self._scores(q, memory)                 # (B, Tq, S)
        allowed = None if memory.mask is None else memory.mask[:, None, :]  # (B, 1, S)
        weights = masked_softmax(scores, allowed)                     # (B, Tq, S)
        context = weights @ memory.keys                               # (B, Tq, S) @ (B, S, Dk) -> (B, Tq, Dk)
        cache = (memory, weights, score_cache, one_step)
        if one_step:
            return context[:, 0], weights[:, 0], cache
        return context, weights, cache

    def attend_backward(self, dcontext: np.ndarray, cache) -> np.ndarray:
        """``dcontext`` shaped like the context -> ``dquery``; keys' gradients go into the memory."""
        memory, weights, score_cache, one_step = cache
        dc = dcontext[:, None] if one_step else dcontext              # (B, Tq, Dk)
        memory.dkeys += np.swapaxes(weights, 1, 2) @ dc               # (B, S, Tq) @ (B, Tq, Dk) -> (B, S, Dk)
        dweights = dc @ np.swapaxes(memory.keys, 1, 2)                # (B, Tq, Dk) @ (B, Dk, S) -> (B, Tq, S)
        dscores = masked_softmax_backward(dweights, weights)          # (B, Tq, S)
        dq = self._scores_backward(dscores, score_cache, memory)      # (B, Tq, Dq)
        return dq[:, 0] if one_step else dq

    # -- the layer protocol -------------------------------------------------------------
    def forward(self, query: np.ndarray, keys: np.ndarray,
                mask: np.ndarray | None = None) -> np.ndarray:
        """``prepare`` then ``attend``: the context; ``self.weights`` keeps the weights."""
        memory = self.prepare(keys, mask)
        context, self.weights, self._cache = self.attend(query, memory)
        return context

    def backward(self, dcontext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dquery = self.attend_backward(dcontext, self._cache)
        return dquery, self.prepare_backward(self._cache[0])


class DotAttention(_Attention):
    """Luong's ``dot`` score ``q^T h`` (no parameters; needs ``Dq == Dk``).

    >>> attn = DotAttention(2)
    >>> keys = np.array([[[1.0, 0.0], [0.0, 1.0]]])          # two encoder states
    >>> context = attn(np.array([[3.0, 0.0]]), keys)         # a query pointing at the first
    >>> attn.weights.round(3)                                 # softmax(3, 0)
    array([[0.953, 0.047]])
    """

    def __init__(self, dim: int):
        super().__init__(dim, dim)

    def _scores(self, q, memory):
        return q @ np.swapaxes(memory.proj, 1, 2), q   # (B, Tq, D) @ (B, D, S) -> (B, Tq, S)

    def _scores_backward(self, dscores, q, memory):
        memory.dproj += np.swapaxes(dscores, 1, 2) @ q  # (B, S, Tq) @ (B, Tq, D) -> (B, S, D)
        return dscores @ memory.proj                     # (B, Tq, S) @ (B, S, D) -> (B, Tq, D)


class GeneralAttention(DotAttention):
    """Luong's ``general`` score ``q^T W h``, ``W`` of shape ``(Dq, Dk)``: a dot product with
    the projected keys ``W h``, which ``prepare`` computes once per sentence."""

    def __init__(self, query_dim: int, key_dim: int, rng: np.random.Generator | None = None):
        _Attention.__init__(self, query_dim, key_dim)
        rng = rng if rng is not None else np.random.default_rng()
        self.weight = _uniform(rng, (query_dim, key_dim), key_dim)

    def _project_keys(self, keys):
        return keys @ self.weight.data.T                 # (B, S, Dk) -> (B, S, Dq)

    def _project_keys_backward(self, memory):
        B, S, Dq = memory.dproj.shape
        self.weight.grad += memory.dproj.reshape(B * S, Dq).T @ memory.keys.reshape(B * S, -1)
        memory.dkeys += memory.dproj @ self.weight.data  # (B, S, Dq) -> (B, S, Dk)


class AdditiveAttention(_Attention):
    """Bahdanau's additive score ``v^T tanh(W q + U h)`` with ``attn_dim`` hidden units.

    Parameters ``w_query (A, Dq)``, ``w_key (A, Dk)``, ``v (A,)``. ``U h`` is computed once per
    sentence; each step adds ``W q`` to all S of them by broadcasting, ``(B, Tq, S, A)``.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int,
                 rng: np.random.Generator | None = None):
        super().__init__(query_dim, key_dim)
        rng = rng if rng is not None else np.random.default_rng()
        self.attn_dim = attn_dim
        self.w_query = _uniform(rng, (attn_dim, query_dim), query_dim)
        self.w_key = _uniform(rng, (attn_dim, key_dim), key_dim)
        self.v = _uniform(rng, (attn_dim,), attn_dim)

    def _project_keys(self, keys):
        return keys @ self.w_key.data.T                  # (B, S, Dk) -> (B, S, A)

    def _project_keys_backward(self, memory):
        B, S, A = memory.dproj.shape
        self.w_key.grad += memory.dproj.reshape(B * S, A).T @ memory.keys.reshape(B * S, -1)
        memory.dkeys += memory.dproj @ self.w_key.data   # (B, S, A) -> (B, S, Dk)

    def _scores(self, q, memory):
        qp = q @ self.w_query.data.T                     # (B, Tq, Dq) -> (B, Tq, A)
        h = np.tanh(qp[:, :, None, :] + memory.proj[:, None, :, :])  # (B, Tq, S, A)
        return h @ self.v.data, (q, h)                   # (B, Tq, S, A) @ (A,) -> (B, Tq, S)

    def _scores_backward(self, dscores, cache, memory):
        q, h = cache
        self.v.grad += np.einsum("bts,btsa->a", dscores, h)
        da = dscores[..., None] * self.v.data * (1.0 - h * h)        # (B, Tq, S, A) through tanh
        memory.dproj += da.sum(axis=1)                    # (B, S, A): each key in every step
        dqp = da.sum(axis=2)                              # (B, Tq, A): each step over every key
        B, Tq, A = dqp.shape
        self.w_query.grad += dqp.reshape(B * Tq, A).T @ q.reshape(B * Tq, -1)
        return dqp @ self.w_query.data                    # (B, Tq, A) -> (B, Tq, Dq)


class ConcatAttention(AdditiveAttention):
    """Luong's ``concat`` score ``v^T tanh(W [q; h])``.

    Splitting ``W`` by columns, ``W [q; h] = W_q q + W_h h``: the additive score, so this is
    ``AdditiveAttention`` under Luong's name (``w_query`` and ``w_key`` are the two halves of
    his ``W_a``; ``concat_weight`` returns them joined). In Luong's model the query is the
    decoder's *current* state; in Bahdanau's it is the previous one.
    """

    def concat_weight(self) -> np.ndarray:
        """Luong's ``W_a``, ``(A, Dq + Dk)``."""
        return np.concatenate([self.w_query.data, self.w_key.data], axis=1)
