"""A decoder-only language model shaped like GPT-2, in NumPy, with its whole backward by hand.

    idx (B, T) -> wte[idx] + wpe[:T] -> n_layer x Block -> ln_f -> lm_head (= wte^T) -> logits

    Block (pre-norm):  x = x + attn(ln1(x))       causal multi-head self-attention
                       x = x + mlp(ln2(x))        c_proj(gelu_tanh(c_fc(x)))

Parameter names, which phase 06's torch twin and phase 07's GPT mirror::

    wte.weight (V, C)        wpe.weight (block_size, C)
    blocks.{i}.ln1.{weight,bias}         blocks.{i}.attn.c_attn.{weight,bias} (3C, C)
    blocks.{i}.attn.c_proj.{weight,bias} blocks.{i}.ln2.{weight,bias}
    blocks.{i}.mlp.c_fc.{weight,bias} (4C, C)     blocks.{i}.mlp.c_proj.{weight,bias} (C, 4C)
    ln_f.{weight,bias}       lm_head.weight (tied: the same array as wte.weight)

Weights are shaped as torch's ``nn.Linear`` (``(out, in)``); GPT-2's checkpoints store the
transpose (they use a ``Conv1D``), which phase 07 handles when it loads them.

See phase-05-transformer/notes/prenorm-block-backward.md for the block's backward written out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phase00.probability import sample_categorical
from phase01.layers import Dropout, Linear
from phase01.module import Module, ModuleList
from phase03.embedding import Embedding
from phase04.attention import (
    merge_heads,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    split_heads,
)
from phase05.blocks import OutputProjection, ResidualLayer
from phase05.feedforward import FeedForward
from phase05.layernorm import LayerNorm
from phase05.positional import LearnedPositionalEmbedding
from phase05.transformer import check_ids


@dataclass
class GPTConfig:
    vocab_size: int = 65          # 65 characters in Tiny Shakespeare
    block_size: int = 64          # context length T: the longest sequence the model reads
    n_layer: int = 4              # number of blocks
    n_head: int = 4               # heads per attention; n_embd % n_head == 0
    n_embd: int = 128             # C, the width of the residual stream
    dropout: float = 0.0          # after embeddings, attention weights and every sublayer
    bias: bool = True             # biases in Linear layers and LayerNorms (GPT-2: True)

    def __post_init__(self):
        if self.n_head < 1 or self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig: n_embd (d_model) {self.n_embd} is not divisible by "
                             f"n_head {self.n_head}")
        if min(self.vocab_size, self.block_size, self.n_layer, self.n_embd) < 1:
            raise ValueError(f"GPTConfig: sizes must be positive, got {self}")


class CausalSelfAttention(Module):
    """Causal multi-head self-attention with GPT-2's fused projection ``c_attn``.

    One ``Linear(C, 3C)`` makes queries, keys and values in a single matrix product (rows
    ``[0:C]``, ``[C:2C]``, ``[2C:3C]`` of its weight are phase 04's ``q_proj``, ``k_proj``,
    ``v_proj``); phase 04's ``scaled_dot_product_attention`` does the rest, every head at once.

    ``forward(x: (B, T, C)) -> (B, T, C)``; ``backward(dy) -> dx``.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 rng: np.random.Generator | None = None):
        if n_head < 1 or n_embd % n_head != 0:
            raise ValueError(f"CausalSelfAttention: n_embd (d_model) {n_embd} is not divisible "
                             f"by n_head {n_head}")
        rng = rng if rng is not None else np.random.default_rng()
        self.n_head = n_head
        self.dropout = dropout
        self.rng = rng
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias, rng=rng)
        self.c_proj = Linear(n_embd, n_embd, bias=bias, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        B, T, C = self.shape = x.shape
        nh = self.n_head
        qkv = self.c_attn(x.reshape(B * T, C)).reshape(B, T, 3 * C)   # (B*T, C) -> (B*T, 3C) -> (B, T, 3C)
        q, k, v = np.split(qkv, 3, axis=-1)                   # 3 x (B, T, C)
        q, k, v = (split_heads(a, nh) for a in (q, k, v))     # (B, T, C) -> (B, nh, T, hs)
        p = self.dropout if self.training else 0.0
        y, self.cache = scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p,
                                                     rng=self.rng)     # (B, nh, T, hs)
        self.attn_weights = self.cache.weights                          # (B, nh, T, T)
        y = merge_heads(y).reshape(B * T, C)                  # (B, nh, T, hs) -> (B, T, C) -> (B*T, C)
        return self.c_proj(y).reshape(B, T, C)                # (B*T, C) -> (B, T, C)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        B, T, C = self.shape
        dy = self.c_proj.backward(dy.reshape(B * T, C)).reshape(B, T, C)  # (B, T, C)
        dq, dk, dv = scaled_dot_product_attention_backward(split_heads(dy, self.n_head),
                                                           self.cache)    # 3 x (B, nh, T, hs)
        dqkv = np.concatenate([merge_heads(dq), merge_heads(dk), merge_heads(dv)], axis=-1)  # (B, T, 3C)
        return self.c_attn.backward(dqkv.reshape(B * T, 3 * C)).reshape(B, T, C)      # (B, T, C)


class Block(ResidualLayer):
    """One GPT block: ``x + attn(ln1(x))`` then ``x + mlp(ln2(x))`` (pre-norm, the default).

    ``norm_first=False`` gives GPT-1's post-norm arrangement, ``LN(x + f(x))``.
    """

    def __init__(self, config: GPTConfig, rng: np.random.Generator | None = None,
                 norm_first: bool = True):
        rng = rng if rng is not None else np.random.default_rng()
        c = config
        self.norm_first = norm_first
        self.ln1 = LayerNorm(c.n_embd, bias=c.bias)
        self.attn = CausalSelfAttention(c.n_embd, c.n_head, c.dropout, c.bias, rng=rng)
        self.drop1 = Dropout(c.dropout, rng=rng)
        self.ln2 = LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = FeedForward(c.n_embd, 4 * c.n_embd, "gelu_tanh", 0.0, bias=c.bias, rng=rng)
        self.drop2 = Dropout(c.dropout, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._sublayer(self.ln1, self.attn, self.drop1, x)        # (B, T, C)
        return self._sublayer(self.ln2, self.mlp, self.drop2, x)      # (B, T, C)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy, _ = self._sublayer_backward(self.ln2, self.mlp, self.drop2, dy)
        dx, _ = self._sublayer_backward(self.ln1, self.attn, self.drop1, dy)
        return dx


class GPT(Module):
    """The decoder-only LM. ``forward(idx: int (B, T)) -> logits (B, T, vocab_size)``.

    ``backward(dlogits)`` fills every gradient and returns ``None`` (the input is ids).
    Initialisation follows GPT-2: weights ``N(0, 0.02)``, biases 0, and the two projections
    that write into the residual stream (``attn.c_proj``, ``mlp.c_proj``) scaled down by
    ``1 / sqrt(2 * n_layer)`` so that the stream's variance does not grow with depth.
    """

    def __init__(self, config: GPTConfig, rng: np.random.Generator | None = None,
                 dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng()
        c = self.config = config
        self.wte = Embedding(c.vocab_size, c.n_embd, rng=rng)
        self.wpe = LearnedPositionalEmbedding(c.block_size, c.n_embd, rng=rng)
        self.drop = Dropout(c.dropout, rng=rng)
        self.blocks = ModuleList(Block(c, rng=rng) for _ in range(c.n_layer))
        self.ln_f = LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = OutputProjection(c.n_embd, c.vocab_size, bias=False,
                                        tied_to=self.wte.weight)
        self._init_weights(rng)
        self.astype(dtype)

    def _init_weights(self, rng: np.random.Generator) -> None:
        resid_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.startswith("ln") or ".ln" in name:
                continue                                    # LayerNorm: weight 1, bias 0
            if name.endswith("bias"):
                p.data[...] = 0.0
            else:
                std = resid_std if name.endswith("c_proj.weight") else 0.02
                p.data[...] = rng.normal(0.0, std, p.shape)

    def forward(self, idx: np.ndarray) -> np.ndarray:
        c = self.config
        idx = check_ids("GPT", idx, c.vocab_size, c.block_size, limit="block_size")
        x = self.drop(self.wpe(self.wte(idx)))              # (B, T) -> (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x)                                     # (B, T, C)
        B, T, C = x.shape
        logits = self.lm_head(self.ln_f(x).reshape(B * T, C))    # (B*T, C) -> (B*T, V)
        return logits.reshape(B, T, -1)                      # (B, T, V)

    def backward(self, dlogits: np.ndarray) -> None:
        B, T, V = dlogits.shape
        dx = self.lm_head.backward(dlogits.reshape(B * T, V))   # (B*T, V) -> (B*T, C)
        dx = self.ln_f.backward(dx.reshape(B, T, -1))            # (B, T, C)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        self.wte.backward(self.wpe.backward(self.drop.backward(dx)))  # rows of wte, wpe
        return None

    def generate(self, idx: np.ndarray, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Append ``max_new_tokens`` sampled ids to ``idx (B, T)``, one at a time, in eval mode.

        The model sees the last ``block_size`` tokens; ``temperature = 0`` is greedy; ``top_k``
        keeps only the ``k`` most probable tokens.
        """
        rng = rng if rng is not None else np.random.default_rng()
        idx = np.asarray(idx)
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                logits = self.forward(idx[:, -self.config.block_size:])[:, -1]   # (B, V)
                logits = logits.astype(np.float64)
                if top_k is not None:
                    kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])][:, None]
                    logits = np.where(logits < kth, -np.inf, logits)
                nxt = sample_categorical(logits, temperature, rng)               # (B,)
                idx = np.concatenate([idx, nxt[:, None].astype(idx.dtype)], axis=1)
        finally:
            self.train(was_training)
        return idx
