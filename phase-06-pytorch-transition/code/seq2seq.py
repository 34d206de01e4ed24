"""The twins of phase 02's and phase 04's recurrent models: the character LSTM, the
encoder-decoder, and the encoder-decoder with Bahdanau's or Luong's attention.

Phase 02's ``Seq2Seq`` ran T decoder steps forward, kept a cache per step, and ran T steps of
``decoder_step_backward`` in reverse, threading the state gradient by hand. The twins keep the
forward loop and drop everything after it: each step's operations are recorded in the graph,
and ``loss.backward()`` walks the T steps back. The structure (``encode``, ``init_state``,
``decoder_step``, ``cell_step``) and every parameter name are phase 02's and phase 04's::

    encoder.weight_ih_l0 ...    decoder.0.weight_ih ...    head.weight, head.bias
    attention.w_query, attention.w_key, attention.v    (Bahdanau; Luong "concat")
    attention.weight, combine.weight                    (Luong "general")

Token ids: PAD=0, BOS=1, EOS=2 as in ``phase02.seq2seq``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from phase02.seq2seq import BOS, EOS, PAD, VOCAB_SIZE
from phase06.alignment import (
    AdditiveAttention,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    Memory,
)
from phase06.embedding import one_hot
from phase06.layers import Linear
from phase06.rnn import LSTM, LSTMCell


class CharRNN(nn.Module):
    """One-hot characters -> LSTM -> Linear, the twin of ``phase02.char_rnn.CharRNN``:
    ``forward(ids (B, T), h0=None, c0=None) -> (logits (B, T, V), h_n, c_n)``."""

    def __init__(self, vocab_size: int, hidden_size: int = 256, num_layers: int = 1):
        super().__init__()
        self.vocab_size = vocab_size
        self.lstm = LSTM(vocab_size, hidden_size, num_layers)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, ids, h0=None, c0=None):
        x = one_hot(ids, self.vocab_size, dtype=self.head.weight.dtype)   # (B, T) -> (B, T, V)
        out, h_n, c_n = self.lstm(x, h0, c0)                     # (B, T, V) -> (B, T, H)
        return self.head(out), h_n, c_n                          # (B, T, H) -> (B, T, V)


@dataclass
class Encoded:
    out: torch.Tensor      # (B, S, H) top encoder layer at every position, 0 at PAD
    h: torch.Tensor        # (L, B, H) final hidden state of each encoder layer
    c: torch.Tensor        # (L, B, H) final cell state
    mask: torch.Tensor     # (B, S) True at real positions
    memory: Memory | None = None


class Seq2Seq(nn.Module):
    """Encoder LSTM -> final ``(h, c)`` -> decoder LSTM cells -> Linear; the twin of
    ``phase02.seq2seq.Seq2Seq``. ``forward(src, src_lengths, tgt_in) -> logits (B, T, V)``."""

    def __init__(self, vocab_size: int = VOCAB_SIZE, hidden_size: int = 128, num_layers: int = 1,
                 context_size: int = 0):
        super().__init__()
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.encoder = LSTM(vocab_size, hidden_size, num_layers)
        self.decoder = nn.ModuleList(
            LSTMCell(vocab_size + context_size if k == 0 else hidden_size, hidden_size)
            for k in range(num_layers))
        self.head = Linear(hidden_size, vocab_size)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return one_hot(ids, self.vocab_size, dtype=self.head.weight.dtype)  # (...) -> (..., V)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor | None = None) -> Encoded:
        B, S = src.shape
        lengths = torch.full((B,), S, device=src.device) if src_lengths is None else src_lengths
        out, h, c = self.encoder(self.embed(src), lengths=lengths)   # (B, S, V) -> (B, S, H)
        mask = torch.arange(S, device=src.device)[None, :] < lengths[:, None]   # (B, S)
        return Encoded(out, h, c, mask)

    def init_state(self, enc: Encoded):
        return enc.h, enc.c

    def cell_step(self, x: torch.Tensor, state):
        """Stacked LSTM cells, one step: ``x (B, in)`` -> top ``h (B, H)``, new ``(h, c)``."""
        h, c = state
        hs, cs, inp = [], [], x
        for k, cell in enumerate(self.decoder):
            hk, ck = cell(inp, h[k], c[k])                       # (B, in) -> (B, H)
            hs.append(hk)
            cs.append(ck)
            inp = hk
        return inp, (torch.stack(hs), torch.stack(cs))

    def decoder_step(self, y_prev: torch.Tensor, state, enc: Encoded):
        return self.cell_step(self.embed(y_prev), state)         # (B,) -> (B, V) -> (B, H)

    def forward(self, src, src_lengths, tgt_in):
        enc = self.encode(src, src_lengths)
        state = self.init_state(enc)
        outs = []
        for t in range(tgt_in.shape[1]):                         # teacher forcing
            o, state = self.decoder_step(tgt_in[:, t], state, enc)
            outs.append(o)
        return self.head(torch.stack(outs, dim=1))               # (B, T, H_o) -> (B, T, V)

    @torch.no_grad()
    def greedy_decode(self, src, src_lengths=None, max_len: int | None = None) -> torch.Tensor:
        """Feed back the argmax each step; ``(B, max_len)`` ids, PAD after the first EOS."""
        enc = self.encode(src, src_lengths)
        B, S = enc.mask.shape
        max_len = S + 1 if max_len is None else max_len
        state = self.init_state(enc)
        y = torch.full((B,), BOS, device=src.device)
        out = torch.full((B, max_len), PAD, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        for t in range(max_len):
            o, state = self.decoder_step(y, state, enc)
            y = self.head(o).argmax(dim=-1)                      # (B, H_o) -> (B, V) -> (B,)
            out[:, t] = torch.where(done, PAD, y)
            done |= y == EOS
            if bool(done.all()):
                break
        return out


class AttentionSeq2Seq(Seq2Seq):
    """Both attention models: the encoder states become the attention memory once per batch."""

    def encode(self, src, src_lengths=None) -> Encoded:
        enc = super().encode(src, src_lengths)
        enc.memory = self.attention.prepare(enc.out, enc.mask)  # U h_j etc., once per batch
        return enc


class BahdanauSeq2Seq(AttentionSeq2Seq):
    """The twin of ``phase04.seq2seq_attention.BahdanauSeq2Seq``: the previous top state is
    the query, the context feeds the LSTM and the head reads ``[s_t; c_t]``."""

    def __init__(self, vocab_size: int = VOCAB_SIZE, hidden_size: int = 128, num_layers: int = 1,
                 attn_dim: int | None = None):
        H = hidden_size
        super().__init__(vocab_size, H, num_layers, context_size=H)
        self.attention = AdditiveAttention(H, H, attn_dim or H)
        self.head = Linear(2 * H, vocab_size)

    def decoder_step(self, y_prev, state, enc: Encoded):
        context, _ = self.attention.attend(state[0][-1], enc.memory)   # query s_{t-1} (B, H)
        x = torch.cat([self.embed(y_prev), context], dim=1)     # (B, V + H)
        s, new_state = self.cell_step(x, state)                 # (B, H)
        return torch.cat([s, context], dim=1), new_state        # (B, 2H)


class LuongSeq2Seq(AttentionSeq2Seq):
    """The twin of ``phase04.seq2seq_attention.LuongSeq2Seq``: the current top state is the
    query, then ``o = tanh(W_c [c_t; s_t])`` (``combine``, no bias)."""

    def __init__(self, score: str = "dot", vocab_size: int = VOCAB_SIZE, hidden_size: int = 128,
                 num_layers: int = 1, attn_dim: int | None = None):
        if score not in ("dot", "general", "concat"):
            raise ValueError(f"LuongSeq2Seq: score must be one of ('dot', 'general', 'concat'), got {score!r}")
        H = hidden_size
        super().__init__(vocab_size, H, num_layers, context_size=0)
        self.score = score
        if score == "dot":
            self.attention = DotAttention(H)
        elif score == "general":
            self.attention = GeneralAttention(H, H)
        else:
            self.attention = ConcatAttention(H, H, attn_dim or H)
        self.combine = Linear(2 * H, H, bias=False)

    def decoder_step(self, y_prev, state, enc: Encoded):
        s, new_state = self.cell_step(self.embed(y_prev), state)             # (B, H)
        context, _ = self.attention.attend(s, enc.memory)                    # (B, H)
        o = torch.tanh(self.combine(torch.cat([context, s], dim=1)))         # (B, 2H) -> (B, H)
        return o, new_state
