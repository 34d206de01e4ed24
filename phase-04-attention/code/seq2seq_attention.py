"""Phase 02's encoder-decoder with attention: Bahdanau's (2014) and Luong's (2015) wiring.

``phase02.seq2seq.Seq2Seq`` hands the decoder one vector, the encoder's final state. Both
models here keep that start state and also let every decoder step read all encoder states
through an attention module of ``phase04.alignment``. They differ in where attention sits
in the step (``s`` is the top decoder layer's hidden state, ``y`` the previous token):

    Bahdanau   c_t = attend(s_{t-1})           the query is the state BEFORE the step
               s_t = LSTM([onehot(y); c_t])      the context feeds the recurrence
               o_t = [s_t; c_t]                  head: Linear(2H, V)

    Luong      s_t = LSTM(onehot(y))             the plain decoder step first
               c_t = attend(s_t)                 the query is the state AFTER the step
               o_t = tanh(W_c [c_t; s_t])        head: Linear(H, V)

Only the pieces of phase 02's model that attention changes are overridden: ``encode``
(prepare the attention memory once per batch), ``decoder_step`` / ``decoder_step_backward``
and ``encode_backward`` (add the gradient that reached the encoder states through attention).
Training, greedy decoding and evaluation are phase 02's ``train_seq2seq``,
``Seq2Seq.greedy_decode`` and ``accuracy_by_length``, unchanged.

    model = BahdanauSeq2Seq(hidden_size=32, rng=np.random.default_rng(0))
    train_seq2seq(model, ReversalTask(1, 24))
    weights = model.attention_map(src)        # (B, output steps, S): the alignment

See phase-04-attention/notes/alignment-attention.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phase01.layers import Linear
from phase02.seq2seq import VOCAB_SIZE, Encoded, Seq2Seq
from phase04.alignment import (
    AdditiveAttention,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    Memory,
)


@dataclass
class AttendedEncoded(Encoded):
    """phase 02's ``Encoded`` plus the attention ``Memory`` prepared from ``out`` and ``mask``."""

    memory: Memory | None = None


class AttentionSeq2Seq(Seq2Seq):
    """What both attention models share: the memory, its backward, and recording weights.

    A subclass sets ``self.attention`` (a ``phase04.alignment`` module) after calling this
    ``__init__``, so that the encoder is drawn first and equals the plain model's for one seed.
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int, context_size: int,
                 rng: np.random.Generator):
        super().__init__(vocab_size, hidden_size, num_layers, context_size=context_size, rng=rng)
        self.attention = None
        self._recorded: list[np.ndarray] | None = None

    def encode(self, src, src_lengths=None) -> AttendedEncoded:
        enc = super().encode(src, src_lengths)                      # out (B, S, H), mask (B, S)
        memory = self.attention.prepare(enc.out, enc.mask)          # U h_j etc., once per batch
        return AttendedEncoded(**vars(enc), memory=memory)

    def encode_backward(self, d_out, dh, dc) -> None:
        """Every step's ``attend_backward`` has added into the memory; turn it into d(enc.out)."""
        d_out = d_out + self.attention.prepare_backward(self._enc.memory)   # (B, S, H)
        super().encode_backward(d_out, dh, dc)

    def _record(self, weights: np.ndarray) -> None:
        if self._recorded is not None:
            self._recorded.append(weights)

    def attention_map(self, src, src_lengths=None, max_len: int | None = None):
        """Greedy-decode ``src`` and return ``(ids (B, T), weights (B, T, S))``.

        ``weights[b, t]`` is the attention over source positions when step ``t`` was decoded.
        Rows after an example's EOS belong to steps the batch still ran (ignore them); steps
        never run, because every example had finished, are rows of zeros.
        """
        self._recorded = []
        try:
            ids = self.greedy_decode(src, src_lengths, max_len)
            ran = np.stack(self._recorded, axis=1)                  # T_run x (B, S) -> (B, T_run, S)
        finally:
            self._recorded = None
        weights = np.zeros(ids.shape + ran.shape[2:], dtype=ran.dtype)   # (B, T, S)
        weights[:, : ran.shape[1]] = ran
        return ids, weights


class BahdanauSeq2Seq(AttentionSeq2Seq):
    """Bahdanau et al.'s decoder: additive attention queried with the previous state.

    ``attn_dim`` is the width of the scoring network ``v^T tanh(W s + U h)`` (default H).

    >>> from phase02.seq2seq import ReversalTask
    >>> m = BahdanauSeq2Seq(hidden_size=8, rng=np.random.default_rng(0))
    >>> b = ReversalTask(1, 5, seed=0).batch(2)
    >>> m(b.src, b.src_lengths, b.tgt_in).shape == b.tgt_in.shape + (VOCAB_SIZE,)
    True
    >>> ids, w = m.attention_map(b.src, b.src_lengths)
    >>> w.shape == ids.shape + (b.src.shape[1],)
    True
    """

    def __init__(self, vocab_size: int = VOCAB_SIZE, hidden_size: int = 128, num_layers: int = 1,
                 attn_dim: int | None = None, rng: np.random.Generator | None = None):
        rng = rng if rng is not None else np.random.default_rng()
        H = hidden_size
        super().__init__(vocab_size, H, num_layers, context_size=H, rng=rng)
        self.attention = AdditiveAttention(H, H, attn_dim or H, rng=rng)
        self.head = Linear(2 * H, vocab_size, rng=rng)              # reads [s_t; c_t]

    def decoder_step(self, y_prev, state, enc: AttendedEncoded):
        s_prev = state[0][-1]                                       # (B, H) top layer, step t-1
        context, weights, attn_cache = self.attention.attend(s_prev, enc.memory)  # (B, H), (B, S)
        self._record(weights)
        x = np.concatenate([self.embed(y_prev), context], axis=1)   # (B, V + H)
        s, new_state, cell_cache = self.cell_step(x, state)         # (B, H)
        o = np.concatenate([s, context], axis=1)                    # (B, 2H)
        return o, new_state, (attn_cache, cell_cache)

    def decoder_step_backward(self, do, dstate, cache, d_enc_out):
        attn_cache, cell_cache = cache
        H, V = self.hidden_size, self.vocab_size
        dx, (dh_prev, dc_prev) = self.cell_step_backward(do[:, :H], dstate, cell_cache)  # dx (B, V + H)
        dcontext = do[:, H:] + dx[:, V:]                            # (B, H): the head's and the cell's
        dq = self.attention.attend_backward(dcontext, attn_cache)   # (B, H); keys' share -> memory
        dh_prev = dh_prev.copy()
        dh_prev[-1] += dq                                           # the query was s_{t-1}
        return dh_prev, dc_prev


LUONG_SCORES = ("dot", "general", "concat")


class LuongSeq2Seq(AttentionSeq2Seq):
    """Luong et al.'s global attention, queried with the current state, ``score`` one of
    ``"dot"``, ``"general"``, ``"concat"``; then ``o = tanh(W_c [c_t; s_t])`` (``combine``).

    Luong et al. also feed ``o_{t-1}`` into the next step's input ("input feeding"); this
    model leaves it out, so its decoder LSTM is exactly phase 02's.

    >>> m = LuongSeq2Seq(score="general", hidden_size=8, rng=np.random.default_rng(0))
    >>> sorted(n for n, _ in m.named_parameters() if not n.startswith(("encoder", "decoder")))
    ['attention.weight', 'combine.weight', 'head.bias', 'head.weight']
    """

    def __init__(self, score: str = "dot", vocab_size: int = VOCAB_SIZE, hidden_size: int = 128,
                 num_layers: int = 1, attn_dim: int | None = None,
                 rng: np.random.Generator | None = None):
        if score not in LUONG_SCORES:
            raise ValueError(f"LuongSeq2Seq: score must be one of {LUONG_SCORES}, got {score!r}")
        rng = rng if rng is not None else np.random.default_rng()
        H = hidden_size
        super().__init__(vocab_size, H, num_layers, context_size=0, rng=rng)
        self.score = score
        if score == "dot":
            self.attention = DotAttention(H)
        elif score == "general":
            self.attention = GeneralAttention(H, H, rng=rng)
        else:
            self.attention = ConcatAttention(H, H, attn_dim or H, rng=rng)
        # W_c. Only its parameter is used: each step multiplies by it with an explicit cache
        # (Linear.forward keeps a single input, and a step runs T times before any backward).
        self.combine = Linear(2 * H, H, bias=False, rng=rng)

    def decoder_step(self, y_prev, state, enc: AttendedEncoded):
        s, new_state, cell_cache = self.cell_step(self.embed(y_prev), state)     # (B, H)
        context, weights, attn_cache = self.attention.attend(s, enc.memory)     # (B, H), (B, S)
        self._record(weights)
        cs = np.concatenate([context, s], axis=1)                   # (B, 2H)
        o = np.tanh(cs @ self.combine.weight.data.T)                # (B, 2H) -> (B, H)
        return o, new_state, (cell_cache, attn_cache, cs, o)

    def decoder_step_backward(self, do, dstate, cache, d_enc_out):
        cell_cache, attn_cache, cs, o = cache
        H = self.hidden_size
        da = do * (1.0 - o * o)                                     # (B, H) through the tanh
        self.combine.weight.grad += da.T @ cs                       # (H, 2H)
        dcs = da @ self.combine.weight.data                         # (B, H) -> (B, 2H)
        ds = dcs[:, H:] + self.attention.attend_backward(dcs[:, :H], attn_cache)  # (B, H)
        _, dstate_prev = self.cell_step_backward(ds, dstate, cell_cache)
        return dstate_prev
