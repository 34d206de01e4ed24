"""Transformer layers: sublayers wrapped in residual connections, post-norm or pre-norm.

Every sublayer ``f`` (self-attention, cross-attention, feed-forward) sits in a residual
connection (He et al. 2016) with a LayerNorm, arranged one of two ways:

    post-norm (Vaswani et al. 2017):   y = LN(x + dropout(f(x)))
    pre-norm  (GPT-2, Xiong et al.):   y = x + dropout(f(LN(x)))

Backward, with ``dy`` arriving at ``y``:

    post-norm:  dz = LN.backward(dy);   dx = dz + f.backward(dropout.backward(dz))
    pre-norm:   dx = dy + LN.backward(f.backward(dropout.backward(dy)))

In pre-norm the ``dy +`` term carries the gradient from the loss to every layer untouched;
in post-norm it passes through a LayerNorm at every layer (which is why post-norm needs the
learning-rate warm-up, see papers/2020-xiong-prenorm.md).

- ``ResidualLayer``   the two arrangements, written once (``_sublayer`` / ``_sublayer_backward``)
- ``EncoderLayer``    self-attention, then feed-forward (as ``torch.nn.TransformerEncoderLayer``)
- ``DecoderLayer``    causal self-attention, cross-attention to the encoder, feed-forward
                      (as ``torch.nn.TransformerDecoderLayer``)
- ``OutputProjection``  the final linear layer to vocabulary logits, optionally tied to an
                      embedding matrix (Press and Wolf 2017)

Padding masks follow phase 04: ``key_padding_mask`` is boolean ``(B, S)``, True for a real
token, False for padding (torch's ``nn.Transformer*Layer`` uses the opposite).
"""

from __future__ import annotations

import numpy as np

from phase01.layers import Dropout, Linear
from phase01.module import Module, Parameter
from phase04.attention import MultiHeadAttention
from phase05.feedforward import FeedForward
from phase05.layernorm import LayerNorm


def _split_grads(g) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``(d first input, (d other inputs...))`` from what a sublayer's backward returned."""
    if isinstance(g, tuple):
        return g[0], tuple(g[1:])
    return g, ()


class ResidualLayer(Module):
    """Base class of a transformer layer: residual sublayers in post-norm or pre-norm.

    A subclass sets ``self.norm_first`` and calls ``_sublayer(norm, f, drop, x, *args)`` in
    ``forward`` and ``_sublayer_backward(norm, f, drop, dy)`` in ``backward`` (in reverse
    order), one call per sublayer; each sublayer has its own ``norm`` and ``drop``.
    """

    norm_first: bool = False

    def _sublayer(self, norm: Module, f: Module, drop: Module, x: np.ndarray, *args, **kwargs):
        """One sublayer with its residual connection; ``args`` go to ``f`` after the input."""
        if self.norm_first:
            return x + drop(f(norm(x), *args, **kwargs))      # pre-norm:  x + f(LN(x))
        return norm(x + drop(f(x, *args, **kwargs)))          # post-norm: LN(x + f(x))

    def _sublayer_backward(self, norm: Module, f: Module, drop: Module, dy: np.ndarray):
        """``(dx, (d args...))`` for one ``_sublayer`` call."""
        if self.norm_first:
            df, d_args = _split_grads(f.backward(drop.backward(dy)))
            return dy + norm.backward(df), d_args              # the identity path adds dy
        dz = norm.backward(dy)                                 # through LN first
        df, d_args = _split_grads(f.backward(drop.backward(dz)))
        return dz + df, d_args


def _check_heads(who: str, d_model: int, n_head: int) -> None:
    if n_head < 1 or d_model % n_head != 0:
        raise ValueError(f"{who}: d_model {d_model} is not divisible by n_head {n_head}")


class EncoderLayer(ResidualLayer):
    """Self-attention and feed-forward, each in a residual connection.

    ``forward(x: (B, T, C), key_padding_mask: bool (B, T) | None) -> (B, T, C)``;
    ``backward(dy) -> dx``. Parameters: ``self_attn`` (phase 04's ``MultiHeadAttention``),
    ``norm1``, ``ff`` (``c_fc``, ``c_proj``), ``norm2``. With ``norm_first=False``, ReLU and
    ``dropout=0`` it is ``torch.nn.TransformerEncoderLayer(batch_first=True)``.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False,
                 rng: np.random.Generator | None = None, layer_norm_eps: float = 1e-5):
        _check_heads("EncoderLayer", d_model, n_head)
        rng = rng if rng is not None else np.random.default_rng()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout=dropout, rng=rng)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop1 = Dropout(dropout, rng=rng)
        self.ff = FeedForward(d_model, d_ff, activation, dropout, rng=rng)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop2 = Dropout(dropout, rng=rng)

    def forward(self, x: np.ndarray, key_padding_mask: np.ndarray | None = None) -> np.ndarray:
        x = self._sublayer(self.norm1, self.self_attn, self.drop1, x,
                           key_padding_mask=key_padding_mask)          # (B, T, C)
        return self._sublayer(self.norm2, self.ff, self.drop2, x)      # (B, T, C)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy, _ = self._sublayer_backward(self.norm2, self.ff, self.drop2, dy)
        dx, _ = self._sublayer_backward(self.norm1, self.self_attn, self.drop1, dy)
        return dx


class DecoderLayer(ResidualLayer):
    """Causal self-attention, cross-attention to ``memory``, feed-forward; each residual.

    ``forward(x: (B, T, C), memory: (B, S, C), tgt_key_padding_mask: bool (B, T) | None,
    memory_key_padding_mask: bool (B, S) | None, causal=True) -> (B, T, C)``;
    ``backward(dy) -> (dx, dmemory)``. Parameters: ``self_attn``, ``norm1``, ``cross_attn``
    (queries from ``x``, keys and values from ``memory``), ``norm2``, ``ff``, ``norm3``.
    torch's ``nn.TransformerDecoderLayer`` names the cross-attention ``multihead_attn``.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False,
                 rng: np.random.Generator | None = None, layer_norm_eps: float = 1e-5):
        _check_heads("DecoderLayer", d_model, n_head)
        rng = rng if rng is not None else np.random.default_rng()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout=dropout, rng=rng)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop1 = Dropout(dropout, rng=rng)
        self.cross_attn = MultiHeadAttention(d_model, n_head, dropout=dropout, rng=rng)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop2 = Dropout(dropout, rng=rng)
        self.ff = FeedForward(d_model, d_ff, activation, dropout, rng=rng)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop3 = Dropout(dropout, rng=rng)

    def forward(self, x: np.ndarray, memory: np.ndarray,
                tgt_key_padding_mask: np.ndarray | None = None,
                memory_key_padding_mask: np.ndarray | None = None,
                causal: bool = True) -> np.ndarray:
        x = self._sublayer(self.norm1, self.self_attn, self.drop1, x, is_causal=causal,
                           key_padding_mask=tgt_key_padding_mask)      # (B, T, C)
        x = self._sublayer(self.norm2, self.cross_attn, self.drop2, x, memory,
                           key_padding_mask=memory_key_padding_mask)   # (B, T, C) attends (B, S, C)
        return self._sublayer(self.norm3, self.ff, self.drop3, x)      # (B, T, C)

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dy, _ = self._sublayer_backward(self.norm3, self.ff, self.drop3, dy)
        dy, (dmemory,) = self._sublayer_backward(self.norm2, self.cross_attn, self.drop2, dy)
        dx, _ = self._sublayer_backward(self.norm1, self.self_attn, self.drop1, dy)
        return dx, dmemory


class OutputProjection(Linear):
    """Hidden states to vocabulary logits, ``x @ W^T (+ b)``, with ``W`` optionally tied.

    ``tied_to`` is an embedding's ``weight`` Parameter ``(vocab_size, d_model)``: the
    projection then *shares* it (one array, two uses), as GPT-2 and the 2017 paper do, and
    its gradient collects both contributions: the embedding's scatter-add and this layer's
    ``dout^T x``. ``named_parameters`` lists the shared weight once, under its first name.
    """

    def __init__(self, d_model: int, vocab_size: int, bias: bool = False,
                 tied_to: Parameter | None = None, rng: np.random.Generator | None = None,
                 init: str = "default"):
        super().__init__(d_model, vocab_size, bias=bias, rng=rng, init=init)
        if tied_to is not None:
            if tied_to.shape != (vocab_size, d_model):
                raise ValueError(f"OutputProjection: a tied weight must be (vocab_size, d_model) = "
                                 f"{(vocab_size, d_model)}, got {tied_to.shape}")
            self.weight = tied_to
