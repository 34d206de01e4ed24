"""The catalogue of NumPy/torch pairs: one builder per component of phases 01-05.

A builder takes a NumPy ``rng`` and the shape of the example (the parity suite draws those
with hypothesis; the blog's figure uses the defaults) and returns a ``Case``: the NumPy
module in float64 with perturbed weights (LayerNorm's ones and the zero biases would hide
mistakes), its torch twin in float64, and the inputs. ``Case.run()`` is
``phase06.pairs.run_pair``: both forward passes, the hand-written backward and autograd,
every output and gradient by name.

``TWINS`` maps every NumPy layer class of phases 01-05 to its twin; ``CATALOGUE`` names
the examples the figure measures, several per component where a switch changes the code
path (masks, padding, pre-norm, tied weights).

>>> case = linear(np.random.default_rng(0), B=2, T=3, n_in=4, n_out=5)
>>> actual, expected = case.run()
>>> sorted(actual)
['bias grad', 'input0 grad', 'out', 'weight grad']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

import phase01.layers as np_layers
import phase01.losses as np_losses
import phase02.char_rnn as np_char_rnn
import phase02.rnn as np_rnn
import phase02.seq2seq as np_seq2seq
import phase03.embedding as np_embedding
import phase03.word2vec as np_word2vec
import phase04.alignment as np_alignment
import phase04.attention as np_attention
import phase04.seq2seq_attention as np_seq2seq_attention
import phase05.blocks as np_blocks
import phase05.feedforward as np_feedforward
import phase05.layernorm as np_layernorm
import phase05.lm as np_lm
import phase05.losses as np_losses5
import phase05.positional as np_positional
import phase05.transformer as np_transformer
from phase06 import alignment, attention, embedding, layers, lm, losses, rnn, seq2seq, transformer
from phase06.pairs import run_pair

F64 = np.float64

TWINS: dict[type, type] = {
    np_layers.Linear: layers.Linear,
    np_layers.ReLU: layers.ReLU,
    np_layers.Tanh: layers.Tanh,
    np_layers.Sigmoid: layers.Sigmoid,
    np_layers.GELU: layers.GELU,
    np_layers.Dropout: layers.Dropout,
    np_layers.Sequential: layers.Sequential,
    np_losses.SoftmaxCrossEntropy: losses.SoftmaxCrossEntropy,
    np_losses.MSELoss: losses.MSELoss,
    np_rnn.RNN: rnn.RNN,
    np_rnn.LSTM: rnn.LSTM,
    np_rnn.GRU: rnn.GRU,
    np_rnn.RNNCell: rnn.RNNCell,
    np_rnn.LSTMCell: rnn.LSTMCell,
    np_rnn.GRUCell: rnn.GRUCell,
    np_char_rnn.CharRNN: seq2seq.CharRNN,
    np_seq2seq.Seq2Seq: seq2seq.Seq2Seq,
    np_embedding.Embedding: embedding.Embedding,
    np_word2vec.SkipGram: embedding.SkipGram,
    np_attention.ScaledDotProductAttention: attention.ScaledDotProductAttention,
    np_attention.MultiHeadAttention: attention.MultiHeadAttention,
    np_alignment.DotAttention: alignment.DotAttention,
    np_alignment.GeneralAttention: alignment.GeneralAttention,
    np_alignment.AdditiveAttention: alignment.AdditiveAttention,
    np_alignment.ConcatAttention: alignment.ConcatAttention,
    np_seq2seq_attention.BahdanauSeq2Seq: seq2seq.BahdanauSeq2Seq,
    np_seq2seq_attention.LuongSeq2Seq: seq2seq.LuongSeq2Seq,
    np_layernorm.LayerNorm: transformer.LayerNorm,
    np_positional.SinusoidalPositionalEncoding: transformer.SinusoidalPositionalEncoding,
    np_positional.LearnedPositionalEmbedding: transformer.LearnedPositionalEmbedding,
    np_feedforward.FeedForward: transformer.FeedForward,
    np_blocks.EncoderLayer: transformer.EncoderLayer,
    np_blocks.DecoderLayer: transformer.DecoderLayer,
    np_blocks.OutputProjection: transformer.OutputProjection,
    np_transformer.Transformer: transformer.Transformer,
    np_losses5.LabelSmoothingCrossEntropy: losses.LabelSmoothingCrossEntropy,
    np_lm.CausalSelfAttention: lm.CausalSelfAttention,
    np_lm.Block: lm.Block,
    np_lm.GPT: lm.GPT,
}


@dataclass
class Case:
    """One NumPy module, its twin, and the example they both run."""

    component: str                   # the NumPy class, e.g. "phase01.layers.Linear"
    numpy: object
    twin: torch.nn.Module
    inputs: list
    kwargs: dict = field(default_factory=dict)
    wrt: list[int] | None = None     # inputs with a gradient (default: every float input)
    abs_floor: float = 1e-9          # see KEY_BIAS_FLOOR

    def run(self, seed: int = 0) -> tuple[dict, dict]:
        """``(actual, expected)`` for ``phase06.parity.assert_parity``: torch, then NumPy."""
        return run_pair(self.numpy, self.twin, self.inputs, self.kwargs, wrt=self.wrt, seed=seed)


# The gradient of a key projection's bias is zero in exact arithmetic: the bias adds
# ``q . b`` to every score of a query's row, and a softmax ignores a shift shared by the whole
# row. Both sides return rounding noise instead, up to ~1e-15 for the O(1) gradients of these
# examples; measured against the default floor of 1e-9 that is a "relative error" of 1e-6.
# Cases with multi-head attention measure it against 1e-8 (a real error in that bias would
# be of the size of the other gradients, 1e-2 or more).
KEY_BIAS_FLOOR = 1e-8


def _name(module) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__name__}"


def _case(np_module, twin, inputs, kwargs=None, wrt=None, rng=None, perturb: float = 0.1,
          abs_floor: float = 1e-9) -> Case:
    """float64 on both sides; every NumPy parameter moved off its initial value."""
    if hasattr(np_module, "astype"):
        np_module.astype(F64)
    if rng is not None and perturb:
        for p in np_module.parameters():                         # each once: tied weights stay tied
            p.data += perturb * rng.standard_normal(p.shape)
    np_module.eval()                                             # dropout off, on both sides
    twin.to(torch.float64).eval()
    return Case(_name(np_module), np_module, twin, list(inputs), dict(kwargs or {}), wrt, abs_floor)


def _x(rng, *shape) -> np.ndarray:
    return rng.standard_normal(shape)


def _lengths(rng, B: int, T: int) -> np.ndarray:
    """Right-padding lengths in [1, T], the longest equal to T."""
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T
    return lengths


def _padding(rng, B: int, S: int) -> np.ndarray:
    """A key padding mask (True = real) with at least the first key real in every row."""
    return np.arange(S)[None, :] < _lengths(rng, B, S)[:, None]


# -- phase 01 ----------------------------------------------------------------------------------


def linear(rng, B=2, T=3, n_in=4, n_out=5, bias=True) -> Case:
    return _case(np_layers.Linear(n_in, n_out, bias=bias, rng=rng), layers.Linear(n_in, n_out, bias=bias),
                 [_x(rng, B, T, n_in)], rng=rng)


ACTIVATIONS = {
    "relu": (np_layers.ReLU, layers.ReLU, {}),
    "tanh": (np_layers.Tanh, layers.Tanh, {}),
    "sigmoid": (np_layers.Sigmoid, layers.Sigmoid, {}),
    "gelu": (np_layers.GELU, layers.GELU, {}),
    "gelu_tanh": (np_layers.GELU, layers.GELU, {"approximate": "tanh"}),
}


def activation(rng, name="gelu", B=2, n=7, scale=3.0) -> Case:
    np_cls, t_cls, kw = ACTIVATIONS[name]
    return _case(np_cls(**kw), t_cls(**kw), [scale * _x(rng, B, n)])


def dropout(rng, p=0.3, B=2, n=5, train_p0=False) -> Case:
    """Eval mode with ``p > 0``, or training mode with ``p = 0``: the identity either way."""
    case = _case(np_layers.Dropout(0.0 if train_p0 else p, rng=rng), layers.Dropout(0.0 if train_p0 else p),
                 [_x(rng, B, n)])
    if train_p0:
        case.numpy.train()
        case.twin.train()
    return case


def sequential(rng, B=3, n_in=4, hidden=6, n_out=2) -> Case:
    np_net = np_layers.Sequential(np_layers.Linear(n_in, hidden, rng=rng), np_layers.Tanh(),
                                  np_layers.Linear(hidden, hidden, rng=rng), np_layers.GELU("tanh"),
                                  np_layers.Linear(hidden, n_out, rng=rng))
    twin = layers.Sequential(layers.Linear(n_in, hidden), layers.Tanh(), layers.Linear(hidden, hidden),
                             layers.GELU("tanh"), layers.Linear(hidden, n_out))
    return _case(np_net, twin, [_x(rng, B, n_in)], rng=rng)


def _targets(rng, shape, C, ignore_index=None, p_ignore=0.0) -> np.ndarray:
    t = rng.integers(0, C, size=shape)
    if ignore_index is not None and p_ignore:
        drop = rng.random(shape) < p_ignore
        drop.flat[0] = False                                     # at least one target counts
        t = np.where(drop, ignore_index, t)
    return t


def softmax_cross_entropy(rng, B=2, T=3, C=5, ignore=True) -> Case:
    idx = -100 if ignore else None
    return _case(np_losses.SoftmaxCrossEntropy(), losses.SoftmaxCrossEntropy(),
                 [2 * _x(rng, B, T, C), _targets(rng, (B, T), C, idx, 0.3)])


def mse(rng, B=3, n=4) -> Case:
    return _case(np_losses.MSELoss(), losses.MSELoss(), [_x(rng, B, n), _x(rng, B, n)], wrt=[0])


# -- phase 02 ----------------------------------------------------------------------------------

RECURRENT = {
    "rnn_tanh": (np_rnn.RNN, rnn.RNN, {}),
    "rnn_relu": (np_rnn.RNN, rnn.RNN, {"nonlinearity": "relu"}),
    "lstm": (np_rnn.LSTM, rnn.LSTM, {}),
    "gru": (np_rnn.GRU, rnn.GRU, {}),
}


def recurrent(rng, kind="lstm", B=2, T=4, C=3, H=5, L=2, with_state=True, with_lengths=True) -> Case:
    np_cls, t_cls, kw = RECURRENT[kind]
    np_layer, twin = np_cls(C, H, L, rng=rng, **kw), t_cls(C, H, L, **kw)
    inputs = [_x(rng, B, T, C)]
    if with_state:
        inputs += [_x(rng, L, B, H) for _ in range(2 if kind == "lstm" else 1)]
    kwargs = {"lengths": _lengths(rng, B, T)} if with_lengths else {}
    return _case(np_layer, twin, inputs, kwargs, rng=rng)


CELLS = {"rnn": (np_rnn.RNNCell, rnn.RNNCell), "lstm": (np_rnn.LSTMCell, rnn.LSTMCell),
         "gru": (np_rnn.GRUCell, rnn.GRUCell)}


def cell(rng, kind="lstm", B=2, C=3, H=4, with_state=True) -> Case:
    np_cls, t_cls = CELLS[kind]
    inputs = [_x(rng, B, C)]
    if with_state:
        inputs += [_x(rng, B, H) for _ in range(2 if kind == "lstm" else 1)]
    return _case(np_cls(C, H, rng=rng), t_cls(C, H), inputs, rng=rng)


def char_rnn(rng, B=2, T=4, V=7, H=5, L=1, with_state=True) -> Case:
    inputs = [rng.integers(0, V, size=(B, T))]
    if with_state:
        inputs += [_x(rng, L, B, H), _x(rng, L, B, H)]
    return _case(np_char_rnn.CharRNN(V, H, L, rng=rng), seq2seq.CharRNN(V, H, L), inputs, rng=rng)


def _reversal(rng, B, S):
    lengths = _lengths(rng, B, S)
    return np_seq2seq.reversal_batch(rng.integers(0, 10, size=(B, S)), lengths)


def seq2seq_model(rng, B=2, S=3, H=4, L=1, attention="none") -> Case:
    """phase 02's encoder-decoder, or phase 04's with ``attention`` in
    ``"bahdanau"``, ``"dot"``, ``"general"``, ``"concat"`` (Luong's three scores)."""
    V = np_seq2seq.VOCAB_SIZE
    if attention == "none":
        np_model, twin = np_seq2seq.Seq2Seq(V, H, L, rng=rng), seq2seq.Seq2Seq(V, H, L)
    elif attention == "bahdanau":
        np_model = np_seq2seq_attention.BahdanauSeq2Seq(V, H, L, attn_dim=H + 1, rng=rng)
        twin = seq2seq.BahdanauSeq2Seq(V, H, L, attn_dim=H + 1)
    else:
        np_model = np_seq2seq_attention.LuongSeq2Seq(attention, V, H, L, attn_dim=H + 1, rng=rng)
        twin = seq2seq.LuongSeq2Seq(attention, V, H, L, attn_dim=H + 1)
    b = _reversal(rng, B, S)
    return _case(np_model, twin, [b.src, b.src_lengths, b.tgt_in], rng=rng)


# -- phase 03 ----------------------------------------------------------------------------------


def embedding_lookup(rng, V=6, D=3, B=2, T=5) -> Case:
    """Ids drawn from a small vocabulary, so rows repeat (the scatter-add's hard case)."""
    return _case(np_embedding.Embedding(V, D, rng=rng), embedding.Embedding(V, D),
                 [rng.integers(0, V, size=(B, T))], rng=rng)


def skipgram(rng, V=8, D=3, B=4, K=3) -> Case:
    return _case(np_word2vec.SkipGram(V, D, rng=rng), embedding.SkipGram(V, D),
                 [rng.integers(0, V, size=B), rng.integers(0, V, size=(B, 1 + K))], rng=rng, perturb=0.5)


# -- phase 04 ----------------------------------------------------------------------------------


def sdpa(rng, B=2, H=2, L=3, S=4, E=3, Ev=2, mask="none", causal=False, dropout_p=0.2) -> Case:
    """``mask``: ``"none"``, ``"bool"`` (random, some rows fully masked) or ``"float"``.
    ``dropout_p`` is set but inactive: both modules are in eval mode."""
    kwargs = {}
    if mask == "bool":
        kwargs["mask"] = rng.random((L, S)) < 0.7
    elif mask == "float":
        kwargs["mask"] = rng.standard_normal((B, 1, L, S))
    np_mod = np_attention.ScaledDotProductAttention(is_causal=causal, dropout_p=dropout_p, rng=rng)
    twin = attention.ScaledDotProductAttention(is_causal=causal, dropout_p=dropout_p)
    return _case(np_mod, twin, [_x(rng, B, H, L, E), _x(rng, B, H, S, E), _x(rng, B, H, S, Ev)], kwargs)


def mha(rng, B=2, T=3, S=4, C=4, nh=2, mode="self", causal=False, padding=False, attn_mask="none",
        bias=True) -> Case:
    """``mode``: ``"self"`` (one input), ``"cross"`` (query and memory), ``"qkv"`` (three,
    with kdim and vdim unlike C)."""
    kdim = vdim = None
    if mode == "self":
        S = T
        inputs = [_x(rng, B, T, C)]
    elif mode == "cross":
        inputs = [_x(rng, B, T, C), _x(rng, B, S, C)]
    else:
        kdim, vdim = C + 1, C + 2
        inputs = [_x(rng, B, T, C), _x(rng, B, S, kdim), _x(rng, B, S, vdim)]
    kwargs = {"is_causal": causal}
    if padding:
        kwargs["key_padding_mask"] = _padding(rng, B, S)
    if attn_mask == "bool":
        kwargs["attn_mask"] = rng.random((T, S)) < 0.7
    elif attn_mask == "float":
        kwargs["attn_mask"] = rng.standard_normal((T, S))
    np_mod = np_attention.MultiHeadAttention(C, nh, bias=bias, kdim=kdim, vdim=vdim, rng=rng)
    twin = attention.MultiHeadAttention(C, nh, bias=bias, kdim=kdim, vdim=vdim)
    return _case(np_mod, twin, inputs, kwargs, rng=rng, abs_floor=KEY_BIAS_FLOOR)


def alignment_attention(rng, kind="additive", B=2, Tq=None, S=4, Dq=3, Dk=3, A=5, mask=True) -> Case:
    """``kind`` in dot, general, additive, concat; ``Tq=None`` is one decoder step ``(B, Dq)``."""
    if kind == "dot":
        np_mod, twin, Dk = np_alignment.DotAttention(Dq), alignment.DotAttention(Dq), Dq
    elif kind == "general":
        np_mod, twin = np_alignment.GeneralAttention(Dq, Dk, rng=rng), alignment.GeneralAttention(Dq, Dk)
    else:
        np_cls = np_alignment.AdditiveAttention if kind == "additive" else np_alignment.ConcatAttention
        t_cls = alignment.AdditiveAttention if kind == "additive" else alignment.ConcatAttention
        np_mod, twin = np_cls(Dq, Dk, A, rng=rng), t_cls(Dq, Dk, A)
    query = _x(rng, B, Dq) if Tq is None else _x(rng, B, Tq, Dq)
    kwargs = {"mask": _padding(rng, B, S)} if mask else {}
    return _case(np_mod, twin, [query, _x(rng, B, S, Dk)], kwargs, rng=rng)


# -- phase 05 ----------------------------------------------------------------------------------


def layer_norm(rng, B=2, T=3, C=5, bias=True, eps=1e-5) -> Case:
    return _case(np_layernorm.LayerNorm(C, eps=eps, bias=bias), transformer.LayerNorm(C, eps=eps, bias=bias),
                 [_x(rng, B, T, C) * 2 + 1], rng=rng)


def sinusoidal(rng, B=2, T=3, C=6, max_len=8) -> Case:
    twin = transformer.SinusoidalPositionalEncoding(C, max_len, dtype=torch.float64)   # exact table
    return _case(np_positional.SinusoidalPositionalEncoding(C, max_len), twin, [_x(rng, B, T, C)])


def learned_positional(rng, B=2, T=3, C=4, max_len=6) -> Case:
    return _case(np_positional.LearnedPositionalEmbedding(max_len, C, rng=rng),
                 transformer.LearnedPositionalEmbedding(max_len, C), [_x(rng, B, T, C)], rng=rng)


def feedforward(rng, B=2, T=3, C=4, d_ff=8, activation="gelu_tanh", bias=True) -> Case:
    return _case(np_feedforward.FeedForward(C, d_ff, activation, bias=bias, rng=rng),
                 transformer.FeedForward(C, d_ff, activation, bias=bias), [_x(rng, B, T, C)], rng=rng)


def encoder_layer(rng, B=2, T=3, C=4, nh=2, d_ff=8, norm_first=False, activation="relu",
                  padding=True) -> Case:
    kw = dict(dropout=0.1, activation=activation, norm_first=norm_first)
    kwargs = {"key_padding_mask": _padding(rng, B, T)} if padding else {}
    return _case(np_blocks.EncoderLayer(C, nh, d_ff, rng=rng, **kw), transformer.EncoderLayer(C, nh, d_ff, **kw),
                 [_x(rng, B, T, C)], kwargs, rng=rng, abs_floor=KEY_BIAS_FLOOR)


def decoder_layer(rng, B=2, T=3, S=4, C=4, nh=2, d_ff=8, norm_first=False, padding=True,
                  causal=True) -> Case:
    kw = dict(dropout=0.1, activation="relu", norm_first=norm_first)
    kwargs = {"causal": causal}
    if padding:
        kwargs["tgt_key_padding_mask"] = _padding(rng, B, T)
        kwargs["memory_key_padding_mask"] = _padding(rng, B, S)
    return _case(np_blocks.DecoderLayer(C, nh, d_ff, rng=rng, **kw), transformer.DecoderLayer(C, nh, d_ff, **kw),
                 [_x(rng, B, T, C), _x(rng, B, S, C)], kwargs, rng=rng, abs_floor=KEY_BIAS_FLOOR)


def output_projection(rng, B=2, T=3, C=4, V=7, bias=False) -> Case:
    return _case(np_blocks.OutputProjection(C, V, bias=bias, rng=rng), transformer.OutputProjection(C, V, bias=bias),
                 [_x(rng, B, T, C)], rng=rng)


def label_smoothing(rng, B=2, T=3, V=6, smoothing=0.1, ignore=True) -> Case:
    idx = -100 if ignore else None
    return _case(np_losses5.LabelSmoothingCrossEntropy(smoothing), losses.LabelSmoothingCrossEntropy(smoothing),
                 [2 * _x(rng, B, T, V), _targets(rng, (B, T), V, idx, 0.3)])


def transformer_model(rng, B=2, S=4, T=3, V=9, C=8, nh=2, layers_=1, norm_first=False, share=True,
                      activation="relu") -> Case:
    cfg = np_transformer.TransformerConfig(V, V, d_model=C, n_head=nh, d_ff=2 * C, n_encoder_layers=layers_,
                                           n_decoder_layers=layers_, dropout=0.1, max_len=max(S, T) + 2,
                                           norm_first=norm_first, activation=activation, share_embeddings=share)
    src = rng.integers(1, V, size=(B, S))
    src[:, S - 1:] = np.where(rng.random((B, 1)) < 0.5, cfg.pad_id, src[:, S - 1:])   # some padding
    tgt_in = rng.integers(1, V, size=(B, T))
    return _case(np_transformer.Transformer(cfg, rng=rng), transformer.Transformer(cfg, dtype=torch.float64),
                 [src, tgt_in], rng=rng, abs_floor=KEY_BIAS_FLOOR)


def _gpt_config(T, V, C, nh, n_layer, bias=True) -> np_lm.GPTConfig:
    return np_lm.GPTConfig(vocab_size=V, block_size=T + 2, n_layer=n_layer, n_head=nh, n_embd=C,
                           dropout=0.1, bias=bias)


def causal_self_attention(rng, B=2, T=3, C=4, nh=2, bias=True) -> Case:
    return _case(np_lm.CausalSelfAttention(C, nh, dropout=0.1, bias=bias, rng=rng),
                 lm.CausalSelfAttention(C, nh, dropout=0.1, bias=bias), [_x(rng, B, T, C)], rng=rng)


def gpt_block(rng, B=2, T=3, C=4, nh=2, norm_first=True) -> Case:
    cfg = _gpt_config(T, 5, C, nh, 1)
    return _case(np_lm.Block(cfg, rng=rng, norm_first=norm_first), lm.Block(cfg, norm_first=norm_first),
                 [_x(rng, B, T, C)], rng=rng)


def gpt(rng, B=2, T=4, V=11, C=8, nh=2, n_layer=2, bias=True) -> Case:
    cfg = _gpt_config(T, V, C, nh, n_layer, bias)
    return _case(np_lm.GPT(cfg, rng=rng), lm.GPT(cfg), [rng.integers(0, V, size=(B, T))], rng=rng)


# -- the examples the figure measures ----------------------------------------------------------

Builder = Callable[[np.random.Generator], Case]

CATALOGUE: dict[str, list[Builder]] = {
    "Linear": [linear, partial(linear, bias=False)],
    "ReLU / Tanh / Sigmoid": [partial(activation, name=n) for n in ("relu", "tanh", "sigmoid")],
    "GELU (erf, tanh)": [partial(activation, name="gelu"), partial(activation, name="gelu_tanh")],
    "Dropout (off)": [dropout, partial(dropout, train_p0=True)],
    "Sequential MLP": [sequential],
    "SoftmaxCrossEntropy": [softmax_cross_entropy],
    "MSELoss": [mse],
    "RNN (tanh, relu)": [partial(recurrent, kind="rnn_tanh"), partial(recurrent, kind="rnn_relu")],
    "LSTM": [partial(recurrent, kind="lstm"), partial(recurrent, kind="lstm", with_state=False, with_lengths=False)],
    "GRU": [partial(recurrent, kind="gru")],
    "RNN/LSTM/GRU cells": [partial(cell, kind=k) for k in ("rnn", "lstm", "gru")],
    "CharRNN": [char_rnn],
    "Seq2Seq": [seq2seq_model],
    "Embedding": [embedding_lookup],
    "SkipGram (word2vec)": [skipgram],
    "scaled dot-product": [sdpa, partial(sdpa, mask="bool", causal=True), partial(sdpa, mask="float")],
    "MultiHeadAttention": [mha, partial(mha, mode="cross", padding=True),
                           partial(mha, mode="qkv", attn_mask="float", causal=True)],
    "Bahdanau / Luong scores": [partial(alignment_attention, kind=k) for k in ("additive", "dot", "general", "concat")],
    "Seq2Seq + attention": [partial(seq2seq_model, attention=a) for a in ("bahdanau", "dot", "general", "concat")],
    "LayerNorm": [layer_norm, partial(layer_norm, bias=False)],
    "positional encodings": [sinusoidal, learned_positional],
    "FeedForward": [feedforward, partial(feedforward, activation="relu")],
    "EncoderLayer": [encoder_layer, partial(encoder_layer, norm_first=True)],
    "DecoderLayer": [decoder_layer, partial(decoder_layer, norm_first=True)],
    "OutputProjection": [output_projection],
    "Transformer (2017)": [transformer_model, partial(transformer_model, norm_first=True, share=False)],
    "label smoothing": [label_smoothing],
    "CausalSelfAttention": [causal_self_attention],
    "GPT Block": [gpt_block],
    "GPT (decoder-only LM)": [gpt],
}


def worst(builders: list[Builder], seeds=(0, 1, 2)) -> tuple[float, str]:
    """The worst parity error of a component over its examples and ``seeds``, and the name of
    the array where it occurred (``"out"``, ``"input0 grad"``, ``"k_proj.bias grad"``...)."""
    from phase06.parity import compare

    err, where = 0.0, ""
    for build in builders:
        for seed in seeds:
            case = build(np.random.default_rng(seed))
            for m in compare(*case.run(seed), abs_floor=case.abs_floor):
                if m.err > err:
                    err, where = m.err, m.name
    return err, where


def measure(builders: list[Builder], seeds=(0, 1, 2)) -> float:
    """The worst parity error of a component over its examples and ``seeds``."""
    return worst(builders, seeds)[0]
