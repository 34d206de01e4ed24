"""LLaMA (Touvron et al. 2023) in PyTorch: GPT-2's decoder with four parts swapped.

RMSNorm for LayerNorm, SwiGLU for the GELU MLP, rotary embeddings for learned positions,
grouped-query attention for multi-head attention; no biases, an untied output head.

The contract is phase 07's: ``logits = model(idx)`` with ``idx`` ``(B, T)`` int64 and
``logits`` ``(B, T, vocab_size)``; ``logits, loss = model(idx, targets)``.
``Llama.from_hf(hf_model)`` copies a ``transformers`` ``LlamaForCausalLM``.
See phase-09-modern-developments/notes/llama-and-mistral.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn

from phase07.gpt import lm_loss
from phase09.layers import GQAttention, RMSNorm, SwiGLU, check_heads
from phase09.rope import LAYOUTS, permute_heads, rope_cos_sin


@dataclass(frozen=True)
class LlamaConfig:
    """The shape of a LLaMA. Defaults are a toy for a CPU."""

    vocab_size: int = 256  # token ids
    dim: int = 64  # width of the residual stream (HF: hidden_size)
    n_layer: int = 2  # decoder blocks (HF: num_hidden_layers)
    n_head: int = 4  # query heads (HF: num_attention_heads)
    n_kv_head: int = 2  # key/value heads; n_head is a multiple of it (HF: num_key_value_heads)
    head_dim: int = 16  # width of one head; RoPE needs it even
    hidden: int = 128  # SwiGLU's inner width (HF: intermediate_size)
    max_seq_len: int = 256  # longest sequence (HF: max_position_embeddings)
    rope_base: float = 10000.0  # theta in theta_j = base ** (-2j / head_dim)
    rope_layout: str = "half"  # "half" (HF) or "interleaved" (Meta's original code)
    norm_eps: float = 1e-6  # RMSNorm epsilon
    sliding_window: int | None = None  # Mistral: each query sees the last W positions

    def __post_init__(self):
        for name in ("vocab_size", "dim", "n_layer", "n_head", "n_kv_head", "head_dim", "hidden",
                     "max_seq_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"LlamaConfig.{name} must be a positive integer, got {value!r}")
        check_heads(self.n_head, self.n_kv_head, "LlamaConfig")
        if self.head_dim % 2:
            raise ValueError(f"LlamaConfig: head_dim must be even for RoPE, got {self.head_dim}")
        if self.rope_layout not in LAYOUTS:
            raise ValueError(f"LlamaConfig.rope_layout must be one of {LAYOUTS}, got {self.rope_layout!r}")
        if self.sliding_window is not None and self.sliding_window < 1:
            raise ValueError(f"LlamaConfig.sliding_window must be >= 1, got {self.sliding_window}")


class KVCache:
    """Keys and values of every layer: ``(n_layer, B, n_kv_head, max_len, head_dim)`` each.

    With grouped-query attention the cache holds ``n_kv_head`` heads, not ``n_head``: that is
    the whole memory saving (``phase09.layers.kv_cache_bytes``).
    """

    def __init__(self, config: LlamaConfig, batch_size: int, max_len: int | None = None,
                 dtype: torch.dtype = torch.float32):
        max_len = config.max_seq_len if max_len is None else max_len
        shape = (config.n_layer, batch_size, config.n_kv_head, max_len, config.head_dim)
        self.k, self.v = torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)
        self.max_len, self.length = max_len, 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor):
        """Store ``(B, nkv, T, hs)`` keys and values; return all so far and their positions."""
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KVCache: {end} positions do not fit in max_len {self.max_len}")
        self.k[layer, :, :, self.length:end], self.v[layer, :, :, self.length:end] = k, v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end], torch.arange(end)

    def advance(self, T: int) -> None:
        self.length += T

    def nbytes(self) -> int:
        return 2 * self.k.nelement() * self.k.element_size()


class Block(nn.Module):
    """Pre-norm: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.attn_norm = RMSNorm(c.dim, c.norm_eps)
        self.attn = GQAttention(c.dim, c.n_head, c.n_kv_head, c.head_dim, c.rope_layout, c.sliding_window)
        self.mlp_norm = RMSNorm(c.dim, c.norm_eps)
        self.mlp = SwiGLU(c.dim, c.hidden)

    def forward(self, x, cos, sin, pos, cache=None, layer=0):
        x = x + self.attn(self.attn_norm(x), cos, sin, pos, cache, layer)  # (B, T, C)
        return x + self.mlp(self.mlp_norm(x))                              # (B, T, C)


class Llama(nn.Module):
    """``logits = model(idx)``; ``logits, loss = model(idx, targets)``; ``cache=`` continues.

    >>> model = Llama(LlamaConfig())
    >>> model(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 256])
    """

    model_type = "llama"

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def new_cache(self, batch_size: int, max_len: int | None = None):
        return KVCache(self.config, batch_size, max_len)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *, cache=None):
        if idx.dim() != 2:
            raise ValueError(f"{type(self).__name__}: idx must be (B, T) token ids, got {tuple(idx.shape)}")
        B, T = idx.shape
        past = 0 if cache is None else cache.length
        if past + T > self.config.max_seq_len:
            raise ValueError(f"{type(self).__name__}: sequence length {past + T} exceeds "
                             f"max_seq_len {self.config.max_seq_len}")
        pos = torch.arange(past, past + T)                                  # (T,)
        cos, sin = rope_cos_sin(pos, self.config.head_dim, self.config.rope_base)  # (T, hs/2)
        x = self.embed(idx)                                                 # (B, T, C)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, pos, cache, i)
        if cache is not None:
            cache.advance(T)
        logits = self.lm_head(self.norm(x))                                # (B, T, V)
        return logits if targets is None else (logits, lm_loss(logits, targets))

    # -- Hugging Face ------------------------------------------------------------------------
    @classmethod
    def config_from_hf(cls, hf_config, rope_layout: str = "half") -> LlamaConfig:
        """Our config from a ``transformers`` config; ``ValueError`` for what we do not build."""
        if getattr(hf_config, "model_type", None) != cls.model_type:
            raise ValueError(f"{cls.__name__}.from_hf: expected a {cls.model_type!r} model, "
                             f"got model_type {getattr(hf_config, 'model_type', None)!r}")
        if getattr(hf_config, "attention_bias", False) or getattr(hf_config, "mlp_bias", False):
            raise ValueError(f"{cls.__name__}.from_hf: biases in attention/MLP are not supported")
        rope = getattr(hf_config, "rope_parameters", None) or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"{cls.__name__}.from_hf: rope_type {rope['rope_type']!r} is not supported")
        base = rope.get("rope_theta", getattr(hf_config, "rope_theta", 10000.0))
        n_head = hf_config.num_attention_heads
        return LlamaConfig(
            vocab_size=hf_config.vocab_size, dim=hf_config.hidden_size,
            n_layer=hf_config.num_hidden_layers, n_head=n_head,
            n_kv_head=hf_config.num_key_value_heads or n_head,
            head_dim=getattr(hf_config, "head_dim", None) or hf_config.hidden_size // n_head,
            hidden=hf_config.intermediate_size, max_seq_len=hf_config.max_position_embeddings,
            rope_base=float(base), rope_layout=rope_layout, norm_eps=hf_config.rms_norm_eps,
            sliding_window=getattr(hf_config, "sliding_window", None) if cls.model_type == "mistral" else None)

    @classmethod
    def from_hf(cls, hf_model, rope_layout: str = "half"):
        """Our model with the config and weights of a ``transformers`` ``LlamaForCausalLM``.

        ``rope_layout="interleaved"`` permutes the rows of every ``q_proj`` and ``k_proj``
        (``phase09.rope.permute_heads``): the same function in the paper's layout.
        """
        config = cls.config_from_hf(hf_model.config, rope_layout)
        model = cls(config)
        model.load_hf_state_dict(hf_model.state_dict())
        return model.to(next(hf_model.parameters()).dtype)

    def load_hf_state_dict(self, sd: Mapping[str, torch.Tensor]) -> None:
        """Rename HF's keys to ours, permute q/k rows if our layout is interleaved, check, load."""
        ours = {}
        for key, value in sd.items():
            if "rotary_emb" in key:
                continue
            name = (key.removeprefix("model.").replace("embed_tokens", "embed")
                    .replace("self_attn", "attn").replace("input_layernorm", "attn_norm")
                    .replace("post_attention_layernorm", "mlp_norm"))
            if self.config.rope_layout != "half" and name.endswith(("q_proj.weight", "k_proj.weight")):
                heads = self.config.n_head if "q_proj" in name else self.config.n_kv_head
                value = permute_heads(value, heads, "half", self.config.rope_layout)
            ours[name] = value
        if "lm_head.weight" not in ours and "embed.weight" in ours:  # tie_word_embeddings
            ours["lm_head.weight"] = ours["embed.weight"]
        self.check_state_dict(ours)
        self.load_state_dict(ours)

    def check_state_dict(self, sd: Mapping[str, torch.Tensor]) -> None:
        """``ValueError`` naming every missing key, unexpected key and wrong shape."""
        expected = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        problems = []
        missing = [k for k in expected if k not in sd]
        unexpected = [k for k in sd if k not in expected]
        shapes = [f"{k} is {tuple(sd[k].shape)}, expected {expected[k]}"
                  for k in expected if k in sd and tuple(sd[k].shape) != expected[k]]
        if missing:
            problems.append("missing keys: " + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected[:8])
                            + (" ..." if len(unexpected) > 8 else ""))
        if shapes:
            problems.append("wrong shapes: " + "; ".join(shapes))
        if problems:
            raise ValueError(f"state dict does not fit {type(self).__name__}({self.config}): "
                             + " | ".join(problems))


@torch.no_grad()
def generate(model: Llama, idx: torch.Tensor, max_new_tokens: int, *, use_cache: bool = True,
             temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` tokens to ``idx`` ``(B, T)``; greedy when ``temperature == 0``.

    With ``use_cache`` the prompt runs once and each new token is one position through the
    cache; without, the whole sequence runs again every step. Both give the same tokens.
    """
    model.eval()
    cache = model.new_cache(idx.shape[0]) if use_cache else None
    out, step_in = idx, idx
    for _ in range(max_new_tokens):
        logits = model(step_in if use_cache else out, cache=cache)[:, -1, :]  # (B, V)
        if temperature == 0.0:
            nxt = logits.argmax(-1, keepdim=True)                              # (B, 1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
        out = torch.cat([out, nxt], dim=1)
        step_in = nxt
    return out
