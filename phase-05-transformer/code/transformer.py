"""The encoder-decoder Transformer of Vaswani et al. 2017, forward and backward by hand.

    source ids (B, S) -> embed * sqrt(C) + PE -> N encoder layers -> memory (B, S, C)
    target ids (B, T) -> embed * sqrt(C) + PE -> N decoder layers (attending to memory)
                      -> output projection -> logits (B, T, V)

The decoder reads the target shifted right (``bos y1 y2 ...``) and predicts it unshifted
(``y1 y2 ... eos``); the causal mask stops position ``t`` from seeing ``y_t``. Padding
(``pad_id``) is masked out of every attention as a key and out of the loss as a target.

With ``share_embeddings`` (one vocabulary for both sides, as the paper's English-German BPE)
the source embedding, the target embedding and the output projection are one matrix
(section 3.4), and the embeddings are multiplied by ``sqrt(d_model)``: the table is
initialised with standard deviation ``d_model^-0.5``, so the tied output projection starts
with unit-sized logits and the scaled embeddings with unit-sized entries, like the
positional encoding they are added to.

See phase-05-transformer/blog/a-transformer-with-nothing-but-numpy.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phase00.probability import log_softmax
from phase01.layers import Dropout
from phase01.module import Module, ModuleList
from phase03.embedding import Embedding
from phase05.blocks import DecoderLayer, EncoderLayer, OutputProjection
from phase05.decoding import beam_search, greedy_search
from phase05.feedforward import ACTIVATIONS
from phase05.layernorm import LayerNorm
from phase05.positional import SinusoidalPositionalEncoding


@dataclass
class TransformerConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64             # C, the width of every residual stream
    n_head: int = 4               # heads per attention; d_model % n_head == 0
    d_ff: int = 256               # hidden width of the feed-forward (4 * d_model in the paper)
    n_encoder_layers: int = 2     # N = 6 in the paper
    n_decoder_layers: int = 2
    dropout: float = 0.1          # P_drop: embeddings, attention weights, every sublayer
    max_len: int = 64             # longest source or target sequence (the PE table)
    norm_first: bool = False      # False: post-norm as in the paper; True: pre-norm
    activation: str = "relu"      # "relu" (paper), "gelu" or "gelu_tanh"
    share_embeddings: bool = True # one matrix for source, target and output (same vocabulary)
    pad_id: int = 0               # padding token: masked as a key, ignored as a target

    def __post_init__(self):
        if self.n_head < 1 or self.d_model % self.n_head != 0:
            raise ValueError(f"TransformerConfig: d_model {self.d_model} is not divisible by "
                             f"n_head {self.n_head}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"TransformerConfig: activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(f"TransformerConfig: share_embeddings needs one vocabulary, got "
                             f"src_vocab_size {self.src_vocab_size} != tgt_vocab_size {self.tgt_vocab_size}")


def check_ids(who: str, ids: np.ndarray, vocab_size: int, max_len: int,
              limit: str = "max_len") -> np.ndarray:
    """``ids`` as an integer ``(B, T)`` array with ``1 <= T <= max_len`` and ids in range.

    ``limit`` is the name of the length limit in the error message (``block_size`` for GPT).
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{who}: token ids must be an integer array (B, T), got {ids.dtype} {ids.shape}")
    if not 1 <= ids.shape[1] <= max_len:
        raise ValueError(f"{who}: sequence length {ids.shape[1]} is outside [1, {max_len}]: "
                         f"the context limit is {limit} = {max_len}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids.max() if ids.max() >= vocab_size else ids.min()
        raise ValueError(f"{who}: token id {bad} is out of range [0, {vocab_size}) (vocab_size)")
    return ids


class Transformer(Module):
    """The 2017 encoder-decoder. ``forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V)``.

    ``backward(dlogits)`` fills every parameter's gradient (the inputs are integer ids, so it
    returns ``None``). Parameters: ``src_embed``, ``tgt_embed``, ``encoder.{i}``,
    ``decoder.{i}`` (see ``EncoderLayer`` and ``DecoderLayer``), ``generator`` and, with
    ``norm_first``, the final ``encoder_norm`` and ``decoder_norm`` a pre-norm stack needs.
    """

    def __init__(self, config: TransformerConfig, rng: np.random.Generator | None = None,
                 dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng()
        c = self.config = config
        C = c.d_model
        self.src_embed = Embedding(c.src_vocab_size, C, rng=rng)
        self.tgt_embed = Embedding(c.tgt_vocab_size, C, rng=rng)
        self.src_embed.weight.data[...] = rng.normal(0.0, C ** -0.5, self.src_embed.weight.shape)
        self.tgt_embed.weight.data[...] = rng.normal(0.0, C ** -0.5, self.tgt_embed.weight.shape)
        if c.share_embeddings:
            self.tgt_embed.weight = self.src_embed.weight         # one Parameter, used twice
        self.pos = SinusoidalPositionalEncoding(C, c.max_len)
        self.src_drop = Dropout(c.dropout, rng=rng)
        self.tgt_drop = Dropout(c.dropout, rng=rng)
        layer = dict(d_model=C, n_head=c.n_head, d_ff=c.d_ff, dropout=c.dropout,
                     activation=c.activation, norm_first=c.norm_first, rng=rng)
        self.encoder = ModuleList(EncoderLayer(**layer) for _ in range(c.n_encoder_layers))
        self.decoder = ModuleList(DecoderLayer(**layer) for _ in range(c.n_decoder_layers))
        self.encoder_norm = LayerNorm(C) if c.norm_first else None
        self.decoder_norm = LayerNorm(C) if c.norm_first else None
        self.generator = OutputProjection(C, c.tgt_vocab_size, bias=False, rng=rng,
                                          tied_to=self.tgt_embed.weight if c.share_embeddings else None)
        self.astype(dtype)

    # -- forward ---------------------------------------------------------------------------
    def encode(self, src: np.ndarray) -> np.ndarray:
        """Source ids ``(B, S)`` -> memory ``(B, S, C)``; keeps the source padding mask."""
        c = self.config
        src = check_ids("Transformer source", src, c.src_vocab_size, c.max_len)
        self.src_mask = src != c.pad_id                                  # (B, S) True = real
        x = self.src_embed(src) * math.sqrt(c.d_model)                  # (B, S) -> (B, S, C)
        x = self.src_drop(self.pos(x))                                   # + PE[:S]
        for layer in self.encoder:
            x = layer(x, key_padding_mask=self.src_mask)                 # (B, S, C)
        return self.encoder_norm(x) if self.encoder_norm is not None else x

    def decode(self, tgt_in: np.ndarray, memory: np.ndarray,
               src_mask: np.ndarray) -> np.ndarray:
        """Shifted target ids ``(B, T)`` and memory ``(B, S, C)`` -> logits ``(B, T, V)``."""
        c = self.config
        tgt_in = check_ids("Transformer target", tgt_in, c.tgt_vocab_size, c.max_len)
        tgt_mask = tgt_in != c.pad_id                                    # (B, T)
        y = self.tgt_embed(tgt_in) * math.sqrt(c.d_model)               # (B, T) -> (B, T, C)
        y = self.tgt_drop(self.pos(y))
        for layer in self.decoder:
            y = layer(y, memory, tgt_key_padding_mask=tgt_mask,
                      memory_key_padding_mask=src_mask)                  # (B, T, C)
        if self.decoder_norm is not None:
            y = self.decoder_norm(y)
        return self.generator(y)                                         # (B, T, C) -> (B, T, V)

    def forward(self, src: np.ndarray, tgt_in: np.ndarray) -> np.ndarray:
        memory = self.encode(src)
        return self.decode(tgt_in, memory, self.src_mask)

    # -- backward --------------------------------------------------------------------------
    def backward(self, dlogits: np.ndarray) -> None:
        scale = math.sqrt(self.config.d_model)
        dy = self.generator.backward(dlogits)                            # (B, T, V) -> (B, T, C)
        if self.decoder_norm is not None:
            dy = self.decoder_norm.backward(dy)
        dmemory = 0.0
        for layer in reversed(self.decoder):
            dy, dm = layer.backward(dy)                                  # every layer reads memory
            dmemory = dmemory + dm                                       # (B, S, C)
        dy = self.pos.backward(self.tgt_drop.backward(dy))
        self.tgt_embed.backward(dy * scale)                              # scatter-add into rows
        dx = dmemory
        if self.encoder_norm is not None:
            dx = self.encoder_norm.backward(dx)
        for layer in reversed(self.encoder):
            dx = layer.backward(dx)
        dx = self.pos.backward(self.src_drop.backward(dx))
        self.src_embed.backward(dx * scale)
        return None

    # -- decoding --------------------------------------------------------------------------
    def _step_fn(self, memory: np.ndarray, src_mask: np.ndarray):
        def step(tokens: np.ndarray) -> np.ndarray:                      # (N, t) -> (N, V)
            logits = self.decode(tokens, memory, src_mask)               # (N, t, V)
            return log_softmax(logits[:, -1].astype(np.float64), axis=-1)
        return step

    def greedy_decode(self, src: np.ndarray, bos: int, eos: int, max_len: int) -> np.ndarray:
        """Most probable token at each step, in eval mode; ``(B, L)`` ids after ``bos``."""
        was_training = self.training
        self.eval()
        try:
            memory = self.encode(src)
            step = self._step_fn(memory, self.src_mask)
            return greedy_search(step, len(memory), bos, eos, max_len, pad=self.config.pad_id)
        finally:
            self.train(was_training)

    def beam_decode(self, src: np.ndarray, bos: int, eos: int, max_len: int,
                    beam_size: int = 4, length_penalty: float = 0.0) -> np.ndarray:
        """Beam search in eval mode; ``(B, L)`` ids of each example's best beam."""
        was_training = self.training
        self.eval()
        try:
            memory = self.encode(src)                                    # (B, S, C)
            K = beam_size
            memory_k = np.repeat(memory, K, axis=0)                      # (B*K, S, C), beams of b together
            mask_k = np.repeat(self.src_mask, K, axis=0)                 # (B*K, S)
            tokens, _ = beam_search(self._step_fn(memory_k, mask_k), len(memory), bos, eos,
                                    max_len, beam_size=K, pad=self.config.pad_id,
                                    length_penalty=length_penalty)
            return tokens
        finally:
            self.train(was_training)
