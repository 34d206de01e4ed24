"""GPT-2 in PyTorch: one config dataclass, four small modules, and a KV cache.

The architecture is GPT-2's (Radford et al. 2019): token and learned position embeddings,
``n_layer`` pre-norm blocks (LayerNorm -> causal self-attention -> residual, LayerNorm ->
MLP with the tanh GELU -> residual), a final LayerNorm, and an output head that shares its
weight with the token embedding (Press and Wolf 2017).

Parameter names mirror Hugging Face's ``GPT2LMHeadModel`` (``transformer.h.0.attn.c_attn``
...), so converting weights is a matter of transposing four matrices per block
(``phase07.hf``). Our projections are ``nn.Linear`` (weight ``(out, in)``); HF's are
``Conv1D`` (weight ``(in, out)``).

The contract:

- ``logits = model(idx)``: ``idx`` is ``(B, T)`` int64 with ``T <= block_size``; the result
  is ``(B, T, vocab_size)``.
- ``logits, loss = model(idx, targets)``: the same logits and the mean cross-entropy over
  every position whose target is not ``-1`` (a scalar tensor).
- A sequence longer than ``block_size`` is an error here (``ValueError`` naming the limit);
  ``phase07.generate`` crops prompts to the last ``block_size`` tokens with a warning.

See phase-07-gpt-architecture/notes/gpt2-architecture.md (why pre-norm, why tying, where
124,439,808 comes from) and notes/kv-cache.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from phase06.attention import explicit_attention

# GELU's two forms -> nn.GELU's ``approximate`` argument. The same curve to within 1e-3;
# on a CPU the exact (erf) kernel runs about 4x faster than the tanh one (phase 08, notes/cpu-recipe.md).
GELUS = {"tanh": "tanh", "exact": "none"}


@dataclass(frozen=True)
class GPTConfig:
    """The shape of a GPT-2. The defaults are GPT-2 small (124M)."""

    block_size: int = 1024  # context length: the most positions one forward pass sees (HF: n_positions)
    vocab_size: int = 50257  # token ids: 256 bytes + 50,000 BPE merges + <|endoftext|>
    n_layer: int = 12  # transformer blocks stacked on the residual stream
    n_head: int = 12  # attention heads per block; each is n_embd // n_head wide
    n_embd: int = 768  # width of the residual stream (d_model)
    dropout: float = 0.0  # on embeddings, attention weights and both residual branches while training
    layer_norm_eps: float = 1e-5  # the epsilon of every LayerNorm, as GPT-2
    explicit_attention: bool = False  # True: phase 06's step-by-step attention, False: F.scaled_dot_product_attention
    gelu: str = "tanh"  # "tanh": GPT-2's approximation (HF "gelu_new"); "exact": the erf form (nanoGPT, BERT)

    def __post_init__(self):
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig: n_embd {self.n_embd} is not divisible by n_head {self.n_head} "
                f"(each head gets n_embd // n_head dimensions)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.gelu not in GELUS:
            raise ValueError(f"GPTConfig.gelu must be one of {', '.join(GELUS)}, got {self.gelu!r}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides) -> GPTConfig:
        """A named preset, optionally with some fields changed.

        >>> GPTConfig.from_preset("gpt2-medium").n_layer
        24
        >>> GPTConfig.from_preset("shakespeare-char", dropout=0.0).n_embd
        384
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; presets are: {', '.join(PRESETS)}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"GPTConfig has no field {', '.join(bad)}; fields are: {', '.join(sorted(known))}")
        return replace(PRESETS[name], **overrides)


PRESETS: dict[str, GPTConfig] = {
    # OpenAI's four GPT-2 sizes (Radford et al. 2019, table 2; heads from the released configs)
    "gpt2": GPTConfig(n_layer=12, n_head=12, n_embd=768),  # 124M
    "gpt2-medium": GPTConfig(n_layer=24, n_head=16, n_embd=1024),  # 350M
    "gpt2-large": GPTConfig(n_layer=36, n_head=20, n_embd=1280),  # 774M
    "gpt2-xl": GPTConfig(n_layer=48, n_head=25, n_embd=1600),  # 1558M
    # small ones for a CPU: tests, snippets, demos
    "tiny": GPTConfig(block_size=64, vocab_size=65, n_layer=2, n_head=4, n_embd=64),
    # nanoGPT's character-level Shakespeare model (its config/train_shakespeare_char.py)
    "shakespeare-char": GPTConfig(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384,
                                  dropout=0.2),
}


class KVCache:
    """The keys and values of every layer for the positions processed so far.

    Buffers are allocated once, ``(n_layer, B, n_head, max_len, head_size)`` for keys and the
    same for values; ``length`` is the number of positions filled. A forward pass with a
    cache appends its new positions' keys and values in every layer and then advances
    ``length`` (see notes/kv-cache.md for the derivation and the memory it costs).
    """

    def __init__(self, config: GPTConfig, batch_size: int, max_len: int | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        max_len = config.block_size if max_len is None else max_len
        if not 1 <= max_len <= config.block_size:
            raise ValueError(f"KVCache: max_len {max_len} must be in 1..block_size {config.block_size}")
        shape = (config.n_layer, batch_size, config.n_head, max_len, config.head_size)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.max_len = max_len
        self.length = 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k, v`` of shape ``(B, nh, T, hs)`` after the cached positions of ``layer``;
        return all keys and values so far, ``(B, nh, length + T, hs)`` each (views)."""
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KVCache: {end} positions do not fit in max_len {self.max_len}")
        self.k[layer, :, :, self.length:end] = k  # (B, nh, T, hs) into (B, nh, max_len, hs)
        self.v[layer, :, :, self.length:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # (B, nh, end, hs)

    def nbytes(self) -> int:
        return self.k.nelement() * self.k.element_size() * 2


class CausalSelfAttention(nn.Module):
    """All heads at once: one ``c_attn`` makes queries, keys and values, ``c_proj`` mixes the heads."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # q, k, v side by side
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)      # a residual projection
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        nh, hs = self.config.n_head, self.config.head_size
        q, k, v = self.c_attn(x).split(C, dim=2)          # (B, T, C) -> 3 x (B, T, C)
        q = q.view(B, T, nh, hs).transpose(1, 2)          # (B, T, C) -> (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)
        v = v.view(B, T, nh, hs).transpose(1, 2)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(layer, k, v)              # (B, nh, past + T, hs)
        mask, is_causal = _causal_mask(T, past, x.device)
        y = self._attend(q, k, v, mask, is_causal)       # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, nh, T, hs) -> (B, T, C)
        return self.resid_dropout(self.c_proj(y))         # (B, T, C)

    def _attend(self, q, k, v, mask, is_causal):
        p = self.config.dropout if self.training else 0.0
        if not self.config.explicit_attention:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)
        if p > 0:
            raise ValueError("explicit_attention has no dropout on the attention weights: "
                             "train with dropout=0, or use the default scaled_dot_product_attention")
        return explicit_attention(q, k, v, attn_mask=mask, is_causal=is_causal)


def _causal_mask(T: int, past: int, device) -> tuple[torch.Tensor | None, bool]:
    """The mask of ``T`` new queries at positions ``past .. past+T-1`` over ``past + T`` keys.

    Query ``i`` may see keys ``0 .. past + i``. Returns ``(mask, is_causal)`` for
    ``scaled_dot_product_attention``: no past is the usual triangle (``is_causal=True``),
    one new query sees everything (no mask), otherwise a boolean ``(T, past + T)`` mask.
    """
    if past == 0:
        return None, True
    if T == 1:
        return None, False
    return torch.ones(T, past + T, dtype=torch.bool, device=device).tril(diagonal=past), False


class MLP(nn.Module):
    """Position-wise: widen 4x, GELU (GPT-2's tanh form by default), narrow back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU(approximate=GELUS[config.gelu])  # GPT-2's "gelu_new" unless config.gelu="exact"
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)  # a residual projection
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    """Pre-norm: each sub-layer reads a normalised copy and adds its result to the stream."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))                 # (B, T, C)
        return x


class GPT(nn.Module):
    """GPT-2: ``logits = model(idx)``, ``logits, loss = model(idx, targets)``.

    >>> model = GPT(GPTConfig.from_preset("tiny"))
    >>> model(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 65])
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embedding, shared with the head
            wpe=nn.Embedding(config.block_size, config.n_embd),  # learned position embedding
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying (Press and Wolf 2017)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's init: N(0, 0.02) for weights and embeddings, zero biases, LayerNorm (1, 0),
        and N(0, 0.02 / sqrt(2 n_layer)) for the two projections that write into the residual
        stream in each block, so the stream's variance does not grow with depth."""
        if self.transformer.wte.weight.is_meta:
            return  # built under torch.device("meta"): shapes only, no values to draw
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=std)

    def num_parameters(self, exclude_positions: bool = False) -> int:
        """Parameters counted once (the tied head is the token embedding)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if exclude_positions else n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *,
                cache: KVCache | None = None, last_only: bool = False):
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` logits, or ``(logits, loss)`` with targets.

        ``cache``: positions continue after ``cache.length``, keys and values are appended.
        ``last_only``: compute the head for the last position only, ``(B, 1, vocab_size)``
        (generation needs no more).
        """
        if idx.dim() != 2:
            raise ValueError(f"GPT: idx must be (B, T) token ids, got shape {tuple(idx.shape)}")
        B, T = idx.shape
        past = 0 if cache is None else cache.length
        if past + T > self.config.block_size:
            raise ValueError(
                f"GPT: sequence length {past + T} exceeds block_size {self.config.block_size} "
                f"(crop the input to its last {self.config.block_size} tokens)")
        pos = torch.arange(past, past + T, device=idx.device)              # (T,)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)         # (B, T, C)
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache, i)                                        # (B, T, C)
        if cache is not None:
            cache.length = past + T
        if last_only:
            x = x[:, -1:, :]                                              # (B, 1, C)
        logits = self.lm_head(self.transformer.ln_f(x))                   # (B, T, C) -> (B, T, V)
        if targets is None:
            return logits
        return logits, lm_loss(logits, targets)

    # -- state dicts: clear errors, the tied head ------------------------------------------
    def check_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Raise ``ValueError`` naming every missing key, unexpected key and wrong shape."""
        expected = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        shapes = [f"{k} is {tuple(state_dict[k].shape)}, expected {expected[k]}"
                  for k in expected if k in state_dict and tuple(state_dict[k].shape) != expected[k]]
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if shapes:
            problems.append("wrong shapes: " + "; ".join(shapes))
        if problems:
            c = self.config
            raise ValueError(f"state dict does not fit GPT(n_layer={c.n_layer}, n_head={c.n_head}, "
                             f"n_embd={c.n_embd}, vocab_size={c.vocab_size}, block_size={c.block_size}): "
                             + " | ".join(problems))

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True,
                        assign: bool = False):
        """``nn.Module.load_state_dict`` with clear errors and the tie kept.

        ``lm_head.weight`` may be absent (it is ``transformer.wte.weight``); if present it
        must equal the embedding.
        """
        sd = dict(state_dict)
        wte = sd.get("transformer.wte.weight")
        if "lm_head.weight" not in sd and wte is not None:
            sd["lm_head.weight"] = wte
        elif wte is not None and not torch.equal(sd["lm_head.weight"], wte):
            raise ValueError("lm_head.weight differs from transformer.wte.weight, "
                             "but this model ties them (one matrix for both)")
        if strict:
            self.check_state_dict(sd)
        result = super().load_state_dict(sd, strict=strict, assign=assign)
        self.lm_head.weight = self.transformer.wte.weight  # assign=True would untie them
        return result

    # -- Hugging Face weights (phase07.hf does the work) -----------------------------------
    @classmethod
    def from_hf(cls, hf_model) -> GPT:
        """Our model with the config and weights of a ``transformers`` ``GPT2LMHeadModel``."""
        from phase07.hf import from_hf
        return from_hf(hf_model)

    def to_hf_state_dict(self) -> dict[str, torch.Tensor]:
        """Our weights under HF's names and shapes (Conv1D weights are ``(in, out)``)."""
        from phase07.hf import to_hf_state_dict
        return to_hf_state_dict(self)

    def to_hf(self):
        """A ``transformers`` ``GPT2LMHeadModel`` with our config and weights."""
        from phase07.hf import to_hf
        return to_hf(self)

    @classmethod
    def from_numpy_lm(cls, np_model) -> GPT:
        """The torch twin of phase 05's NumPy ``GPT``, same weights (``phase07.from_numpy``)."""
        from phase07.from_numpy import from_numpy_lm
        return from_numpy_lm(np_model)

    @classmethod
    def from_pretrained(cls, name_or_path: str = "gpt2", *, cache_dir=None) -> GPT:
        """Real GPT-2 weights from a local file, folder or the HF cache; never downloads."""
        from phase07.hf import from_pretrained
        return from_pretrained(name_or_path, cache_dir=cache_dir)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -1) -> torch.Tensor:
    """Mean cross-entropy of ``(B, T, V)`` logits against ``(B, T)`` next tokens,
    skipping positions whose target is ``ignore_index``."""
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"lm_loss: targets {tuple(targets.shape)} do not match logits {tuple(logits.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=ignore_index)  # (B*T, V), (B*T,) -> ()
