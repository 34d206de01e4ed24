"""The twins of phase 05's Transformer pieces and of the 2017 encoder-decoder itself.

- ``LayerNorm``                       ``F.layer_norm``; phase 05's ``layernorm_backward`` is its
                                      backward (``phase06.functions.LayerNormFunction`` shows it)
- ``SinusoidalPositionalEncoding``    the table as a *registered buffer*: moved by ``.to(device)``,
                                      absent from ``state_dict()`` (``persistent=False``), never trained
- ``LearnedPositionalEmbedding``      GPT's ``wpe``, a parameter
- ``FeedForward``                     ``c_proj(dropout(act(c_fc(x))))``
- ``EncoderLayer``, ``DecoderLayer``  residual sublayers, post-norm or pre-norm
- ``OutputProjection``                logits, its weight optionally *the same* ``nn.Parameter``
                                      as an embedding's (weight tying)
- ``Transformer``                     the whole encoder-decoder, with greedy and beam decoding

Every parameter name is phase 05's, so ``load_state_dict`` of a converted NumPy state dict
is the whole transfer; a tied weight appears under each of its names on both sides.
Masks follow phase 04: ``key_padding_mask`` is True for a real token.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from phase05.decoding import beam_search
from phase05.feedforward import ACTIVATIONS
from phase05.transformer import TransformerConfig
from phase06.attention import MultiHeadAttention
from phase06.embedding import Embedding
from phase06.layers import GELU, Dropout, Linear, ReLU


class LayerNorm(nn.Module):
    """Normalise the last axis, then scale and shift; the twin of ``phase05.layernorm.LayerNorm``."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        if normalized_shape < 1:
            raise ValueError(f"LayerNorm: normalized_shape must be >= 1, got {normalized_shape}")
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != self.normalized_shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}): input of shape {tuple(x.shape)} "
                             f"does not end in {self.normalized_shape} features")
        return F.layer_norm(x, (self.normalized_shape,), self.weight, self.bias, self.eps)


def sinusoidal_encoding(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The ``(max_len, d_model)`` table of Vaswani et al. 2017, computed in float64."""
    if max_len < 1 or d_model < 1:
        raise ValueError(f"sinusoidal_encoding needs max_len >= 1 and d_model >= 1, got {max_len}, {d_model}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]             # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)              # (ceil(C/2),)
    angle = pos / base ** (two_i / d_model)                               # (T, ceil(C/2))
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    """``x + PE[:T]`` with ``PE`` a non-persistent buffer of ``dtype`` (default: torch's default
    dtype). The table is computed in float64 on the CPU and stored in ``dtype``, so a float32
    model never holds float64 (which MPS lacks), and a float64 model gets an exact table:
    build it with ``dtype=torch.float64``, since ``.double()`` later cannot restore the digits
    a float32 table already lost."""

    def __init__(self, d_model: int, max_len: int = 512, dtype: torch.dtype | None = None):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        table = sinusoidal_encoding(max_len, d_model).to(dtype or torch.get_default_dtype())
        self.register_buffer("pe", table, persistent=False)  # (max_len, C), follows .to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2 or x.shape[-1] != self.d_model or x.shape[-2] > self.max_len:
            raise ValueError(f"SinusoidalPositionalEncoding: expected (..., T <= {self.max_len}, "
                             f"{self.d_model}), got shape {tuple(x.shape)}")
        return x + self.pe[: x.shape[-2]]                     # (..., T, C) + (T, C)


class LearnedPositionalEmbedding(nn.Module):
    """``x + weight[:T]``, GPT's ``wpe``; the twin of ``phase05.positional.LearnedPositionalEmbedding``."""

    def __init__(self, max_len: int, d_model: int, std: float = 0.02):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2 or x.shape[-1] != self.d_model or x.shape[-2] > self.max_len:
            raise ValueError(f"LearnedPositionalEmbedding: expected (..., T <= {self.max_len}, "
                             f"{self.d_model}), got shape {tuple(x.shape)}")
        return x + self.weight[: x.shape[-2]]                 # (..., T, C) + (T, C)


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")
    return ReLU() if name == "relu" else GELU("tanh" if name == "gelu_tanh" else "none")


class FeedForward(nn.Module):
    """``c_proj(dropout(act(c_fc(x))))``, the twin of ``phase05.feedforward.FeedForward``."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu", dropout: float = 0.0,
                 bias: bool = True, init: str = "default"):
        super().__init__()
        self.c_fc = Linear(d_model, d_ff, bias=bias, init=init)
        self.act = make_activation(activation)
        self.drop = Dropout(dropout)
        self.c_proj = Linear(d_ff, d_model, bias=bias, init=init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.drop(self.act(self.c_fc(x))))  # (..., C) -> (..., d_ff) -> (..., C)


class ResidualLayer(nn.Module):
    """Post-norm ``LN(x + drop(f(x)))`` or pre-norm ``x + drop(f(LN(x)))``; one call per sublayer."""

    norm_first: bool = False

    def _sublayer(self, norm: nn.Module, f: nn.Module, drop: nn.Module, x: torch.Tensor, *args, **kwargs):
        if self.norm_first:
            return x + drop(f(norm(x), *args, **kwargs))
        return norm(x + drop(f(x, *args, **kwargs)))


class EncoderLayer(ResidualLayer):
    """Self-attention then feed-forward, each residual; the twin of ``phase05.blocks.EncoderLayer``.
    ``forward(x (B, T, C), key_padding_mask (B, T) | None) -> (B, T, C)``."""

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop1 = Dropout(dropout)
        self.ff = FeedForward(d_model, d_ff, activation, dropout)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop2 = Dropout(dropout)

    def forward(self, x, key_padding_mask=None):
        x = self._sublayer(self.norm1, self.self_attn, self.drop1, x, key_padding_mask=key_padding_mask)
        return self._sublayer(self.norm2, self.ff, self.drop2, x)


class DecoderLayer(ResidualLayer):
    """Causal self-attention, cross-attention to ``memory``, feed-forward; the twin of
    ``phase05.blocks.DecoderLayer``. ``forward(x, memory, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, causal=True) -> (B, T, C)``."""

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop1 = Dropout(dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop2 = Dropout(dropout)
        self.ff = FeedForward(d_model, d_ff, activation, dropout)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps)
        self.drop3 = Dropout(dropout)

    def forward(self, x, memory, tgt_key_padding_mask=None, memory_key_padding_mask=None, causal=True):
        x = self._sublayer(self.norm1, self.self_attn, self.drop1, x, is_causal=causal,
                           key_padding_mask=tgt_key_padding_mask)             # (B, T, C)
        x = self._sublayer(self.norm2, self.cross_attn, self.drop2, x, memory,
                           key_padding_mask=memory_key_padding_mask)          # (B, T, C) attends (B, S, C)
        return self._sublayer(self.norm3, self.ff, self.drop3, x)


class OutputProjection(Linear):
    """Hidden states to logits; with ``tied_to`` (an embedding's ``nn.Parameter``) the weight
    *is* that parameter: one tensor, two uses, one ``.grad`` collecting both contributions."""

    def __init__(self, d_model: int, vocab_size: int, bias: bool = False,
                 tied_to: nn.Parameter | None = None, init: str = "default"):
        super().__init__(d_model, vocab_size, bias=bias, init=init)
        if tied_to is not None:
            if tuple(tied_to.shape) != (vocab_size, d_model):
                raise ValueError(f"OutputProjection: a tied weight must be (vocab_size, d_model) = "
                                 f"{(vocab_size, d_model)}, got {tuple(tied_to.shape)}")
            self.weight = tied_to


class Transformer(nn.Module):
    """The 2017 encoder-decoder, the twin of ``phase05.transformer.Transformer`` (same config).
    ``forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V)``."""

    def __init__(self, config: TransformerConfig, dtype: torch.dtype | None = None):
        super().__init__()
        c = self.config = config
        C = c.d_model
        self.src_embed = Embedding(c.src_vocab_size, C)
        self.tgt_embed = Embedding(c.tgt_vocab_size, C)
        with torch.no_grad():
            self.src_embed.weight.normal_(0.0, C ** -0.5)
            self.tgt_embed.weight.normal_(0.0, C ** -0.5)
        if c.share_embeddings:
            self.tgt_embed.weight = self.src_embed.weight        # one Parameter, used twice
        self.pos = SinusoidalPositionalEncoding(C, c.max_len, dtype=dtype)
        self.src_drop = Dropout(c.dropout)
        self.tgt_drop = Dropout(c.dropout)
        layer = dict(d_model=C, n_head=c.n_head, d_ff=c.d_ff, dropout=c.dropout,
                     activation=c.activation, norm_first=c.norm_first)
        self.encoder = nn.ModuleList(EncoderLayer(**layer) for _ in range(c.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(**layer) for _ in range(c.n_decoder_layers))
        self.encoder_norm = LayerNorm(C) if c.norm_first else None
        self.decoder_norm = LayerNorm(C) if c.norm_first else None
        self.generator = OutputProjection(C, c.tgt_vocab_size, bias=False,
                                          tied_to=self.tgt_embed.weight if c.share_embeddings else None)
        if dtype is not None:
            self.to(dtype)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids ``(B, S)`` -> ``(memory (B, S, C), src_mask (B, S))``."""
        c = self.config
        src_mask = src != c.pad_id                                # (B, S) True = real
        x = self.src_drop(self.pos(self.src_embed(src) * math.sqrt(c.d_model)))
        for layer in self.encoder:
            x = layer(x, key_padding_mask=src_mask)
        return (self.encoder_norm(x) if self.encoder_norm is not None else x), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        c = self.config
        tgt_mask = tgt_in != c.pad_id                             # (B, T)
        y = self.tgt_drop(self.pos(self.tgt_embed(tgt_in) * math.sqrt(c.d_model)))
        for layer in self.decoder:
            y = layer(y, memory, tgt_key_padding_mask=tgt_mask, memory_key_padding_mask=src_mask)
        if self.decoder_norm is not None:
            y = self.decoder_norm(y)
        return self.generator(y)                                  # (B, T, C) -> (B, T, V)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, bos: int, eos: int, max_len: int) -> torch.Tensor:
        """The most probable token at each step, in eval mode: ``(B, L)`` ids after ``bos``."""
        was_training = self.training
        self.eval()
        try:
            memory, src_mask = self.encode(src)
            B = src.shape[0]
            tokens = torch.full((B, 1), bos, dtype=torch.long, device=src.device)
            done = torch.zeros(B, dtype=torch.bool, device=src.device)
            for _ in range(max_len):
                nxt = self.decode(tokens, memory, src_mask)[:, -1].argmax(dim=-1)   # (B,)
                nxt = torch.where(done, self.config.pad_id, nxt)
                tokens = torch.cat([tokens, nxt[:, None]], dim=1)
                done |= nxt == eos
                if bool(done.all()):
                    break
            return tokens[:, 1:]
        finally:
            self.train(was_training)

    @torch.no_grad()
    def beam_decode(self, src: torch.Tensor, bos: int, eos: int, max_len: int, beam_size: int = 4,
                    length_penalty: float = 0.0) -> torch.Tensor:
        """Beam search by phase 05's ``beam_search`` (model-agnostic: it only asks for the
        log-probabilities of the next token), driven by this model; ``(B, L)`` ids."""
        was_training = self.training
        self.eval()
        try:
            memory, src_mask = self.encode(src)
            memory_k = memory.repeat_interleave(beam_size, dim=0)     # (B*K, S, C), beams of b together
            mask_k = src_mask.repeat_interleave(beam_size, dim=0)

            def step(tokens: np.ndarray) -> np.ndarray:             # (N, t) ids -> (N, V) log-probs
                t = torch.as_tensor(tokens, device=src.device)
                logits = self.decode(t, memory_k, mask_k)[:, -1].cpu().double()  # float64 on the CPU, never on MPS
                return torch.log_softmax(logits, dim=-1).cpu().numpy()

            tokens, _ = beam_search(step, src.shape[0], bos, eos, max_len, beam_size=beam_size,
                                    pad=self.config.pad_id, length_penalty=length_penalty)
            return torch.as_tensor(tokens)
        finally:
            self.train(was_training)
