"""The twin of phase 05's decoder-only language model, with the same ``GPTConfig``.

    idx (B, T) -> wte[idx] + wpe[:T] -> n_layer x Block -> ln_f -> lm_head (= wte^T) -> logits

Every parameter name is phase 05's (``blocks.0.attn.c_attn.weight`` ...), so::

    twin = GPT(numpy_gpt.config)
    phase06.convert.load_numpy_weights(twin, numpy_gpt)

copies a NumPy model into torch, tied head included. Attention uses torch's fused
``F.scaled_dot_product_attention(is_causal=True)``: the same numbers as phase 04's
hand-written attention (the parity suite holds them equal), one kernel instead of six
operations, and no (T, T) weights kept for a backward pass that recomputes what it needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from phase05.lm import GPTConfig
from phase06.attention import merge_heads, split_heads
from phase06.embedding import Embedding
from phase06.layers import Dropout, Linear
from phase06.transformer import (
    FeedForward,
    LayerNorm,
    LearnedPositionalEmbedding,
    OutputProjection,
    ResidualLayer,
)


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention with GPT-2's fused ``c_attn`` ``(3C, C)``; the twin of
    ``phase05.lm.CausalSelfAttention``. ``forward(x (B, T, C)) -> (B, T, C)``."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if n_head < 1 or n_embd % n_head != 0:
            raise ValueError(f"CausalSelfAttention: n_embd (d_model) {n_embd} is not divisible by n_head {n_head}")
        self.n_head, self.dropout = n_head, dropout
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = Linear(n_embd, n_embd, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)                 # (B, T, 3C) -> 3 x (B, T, C)
        q, k, v = (split_heads(a, self.n_head) for a in (q, k, v))   # (B, T, C) -> (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.c_proj(merge_heads(y))                       # (B, nh, T, hs) -> (B, T, C)


class Block(ResidualLayer):
    """``x + attn(ln1(x))`` then ``x + mlp(ln2(x))``; the twin of ``phase05.lm.Block``."""

    def __init__(self, config: GPTConfig, norm_first: bool = True):
        super().__init__()
        c = config
        self.norm_first = norm_first
        self.ln1 = LayerNorm(c.n_embd, bias=c.bias)
        self.attn = CausalSelfAttention(c.n_embd, c.n_head, c.dropout, c.bias)
        self.drop1 = Dropout(c.dropout)
        self.ln2 = LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = FeedForward(c.n_embd, 4 * c.n_embd, "gelu_tanh", 0.0, bias=c.bias)
        self.drop2 = Dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._sublayer(self.ln1, self.attn, self.drop1, x)  # (B, T, C)
        return self._sublayer(self.ln2, self.mlp, self.drop2, x)


class GPT(nn.Module):
    """The decoder-only LM, the twin of ``phase05.lm.GPT``: ``forward(idx (B, T)) -> logits``.

    Initialised as GPT-2 (weights ``N(0, 0.02)``, biases 0, the residual projections scaled
    by ``1 / sqrt(2 n_layer)``); ``lm_head.weight`` *is* ``wte.weight``.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        c = self.config = config
        self.wte = Embedding(c.vocab_size, c.n_embd)
        self.wpe = LearnedPositionalEmbedding(c.block_size, c.n_embd)
        self.drop = Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = OutputProjection(c.n_embd, c.vocab_size, bias=False, tied_to=self.wte.weight)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        resid_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.startswith("ln") or ".ln" in name:
                continue                                         # LayerNorm: weight 1, bias 0
            if name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, resid_std if name.endswith("c_proj.weight") else 0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        c = self.config
        if idx.ndim != 2 or not 1 <= idx.shape[1] <= c.block_size:
            raise ValueError(f"GPT: token ids must be (B, T) with 1 <= T <= block_size = {c.block_size}, "
                             f"got shape {tuple(idx.shape)}")
        x = self.drop(self.wpe(self.wte(idx)))                   # (B, T) -> (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x)                                         # (B, T, C)
        return self.lm_head(self.ln_f(x))                        # (B, T, C) -> (B, T, V)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` ids to ``idx (B, T)``, in eval mode; ``temperature = 0`` is
        greedy (then equal to phase 05's ``GPT.generate``); otherwise ``torch.multinomial``."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                logits = self(idx[:, -self.config.block_size:])[:, -1]          # (B, V)
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                if temperature == 0:
                    nxt = logits.argmax(dim=-1, keepdim=True)                  # (B, 1)
                else:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    nxt = torch.multinomial(probs, 1, generator=generator)      # (B, 1)
                idx = torch.cat([idx, nxt.to(idx.dtype)], dim=1)
        finally:
            self.train(was_training)
        return idx
