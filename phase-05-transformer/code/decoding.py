"""Turning a next-token distribution into a sequence: greedy search and beam search.

Both take a ``step`` function, ``step(tokens: int (N, t)) -> log-probabilities (N, V)`` of
the token after each prefix, so they work with any model (the tests drive them with a
hand-made distribution whose best sequence is known). Sequences start with ``bos``; a
sequence that emits ``eos`` is finished, and is padded with ``pad`` afterwards.

Greedy search takes the most probable token at every step. It can miss the most probable
*sequence*: if the first token is ``a`` (0.6) or ``b`` (0.4), and after ``a`` the best
continuation has 0.5 while after ``b`` one continuation is certain, greedy ends with
0.6 * 0.5 = 0.30 and misses 0.4 * 1.0 = 0.40. Beam search keeps the ``K`` best prefixes at
every step, scored by their total log-probability, and finds it with ``K = 2``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Step = Callable[[np.ndarray], np.ndarray]


def _check(batch_size: int, max_len: int) -> None:
    if batch_size < 1 or max_len < 1:
        raise ValueError(f"decoding needs batch_size >= 1 and max_len >= 1, got {batch_size}, {max_len}")


def greedy_search(step: Step, batch_size: int, bos: int, eos: int, max_len: int,
                  pad: int = 0) -> np.ndarray:
    """Up to ``max_len`` tokens per sequence (after ``bos``, which is not returned).

    Returns ``(batch_size, L)`` ids with ``L <= max_len``; each row ends at its ``eos``
    (included) and is padded with ``pad`` after it.
    """
    _check(batch_size, max_len)
    tokens = np.full((batch_size, 1), bos, dtype=np.int64)             # (B, 1)
    done = np.zeros(batch_size, dtype=bool)
    for _ in range(max_len):
        nxt = np.argmax(step(tokens), axis=-1)                          # (B, V) -> (B,)
        nxt = np.where(done, pad, nxt)
        tokens = np.concatenate([tokens, nxt[:, None]], axis=1)         # (B, t + 1)
        done |= nxt == eos
        if done.all():
            break
    return tokens[:, 1:]


def beam_search(step: Step, batch_size: int, bos: int, eos: int, max_len: int,
                beam_size: int = 4, pad: int = 0,
                length_penalty: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The ``beam_size`` best prefixes by total log-probability, extended step by step.

    Every step extends each of the ``K`` live beams by every token (``K * V`` candidates per
    example) and keeps the ``K`` best. A finished beam (it emitted ``eos``) is carried on
    unchanged: its only continuation is ``pad`` at log-probability 0. At the end each example
    returns its best beam under ``score / ((5 + length) / 6) ** length_penalty`` (the length
    normalisation of Wu et al. 2016; ``length_penalty = 0`` ranks by plain log-probability).

    Returns ``(tokens (B, L), scores (B,))``: the sequences (``bos`` dropped, padded after
    ``eos``) and their total log-probabilities. ``beam_size = 1`` is greedy search.
    """
    _check(batch_size, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    B, K = batch_size, beam_size
    tokens = np.full((B, K, 1), bos, dtype=np.int64)                    # (B, K, t)
    scores = np.full((B, K), -np.inf)                                   # (B, K)
    scores[:, 0] = 0.0                      # one live beam at the start: no duplicate beams
    done = np.zeros((B, K), dtype=bool)
    lengths = np.zeros((B, K), dtype=np.int64)                          # tokens up to eos
    for _ in range(max_len):
        t = tokens.shape[-1]
        logp = np.asarray(step(tokens.reshape(B * K, t)), dtype=np.float64)   # (B*K, V)
        V = logp.shape[-1]
        logp = logp.reshape(B, K, V)
        # a finished beam continues with pad only, and adds nothing to its score
        frozen = np.full(V, -np.inf)
        frozen[pad] = 0.0
        logp = np.where(done[..., None], frozen, logp)                  # (B, K, V)
        cand = (scores[..., None] + logp).reshape(B, K * V)             # (B, K*V)
        best = np.argsort(-cand, axis=-1, kind="stable")[:, :K]         # (B, K) top-K candidates
        beam, tok = best // V, best % V                                 # parent beam, new token
        rows = np.arange(B)[:, None]
        tokens = np.concatenate([tokens[rows, beam], tok[..., None]], axis=-1)   # (B, K, t + 1)
        scores = cand[rows, best]                                       # (B, K)
        was_done = done[rows, beam]
        lengths = lengths[rows, beam] + ~was_done
        done = was_done | (tok == eos)
        if done[np.isfinite(scores)].all():
            break
    norm = ((5.0 + lengths) / 6.0) ** length_penalty                     # (B, K)
    pick = np.argmax(np.where(np.isfinite(scores), scores / norm, -np.inf), axis=-1)   # (B,)
    rows = np.arange(B)
    return tokens[rows, pick, 1:], scores[rows, pick]
