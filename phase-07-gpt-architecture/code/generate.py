"""Text generation from a ``phase07.gpt.GPT``: greedy, temperature, top-k, top-p, a seeded
``torch.Generator``, a stop token, streaming, and the KV cache.

One step turns the last position's logits into a token:

1. ``temperature == 0``: greedy, the arg max (top-k and top-p cannot change it);
2. otherwise divide the logits by the temperature, keep the ``top_k`` largest, keep the
   smallest set of most likely tokens whose probability adds up to ``top_p``, and sample
   from the renormalised distribution with ``generator`` (the order Hugging Face uses).

The KV cache (``use_cache=True``) runs the prompt once, then one position per step, reading
the keys and values of earlier positions from a ``KVCache``; it gives exactly the tokens of
the uncached path, which recomputes the whole sequence each step (notes/kv-cache.md).

Context: a prompt longer than ``block_size`` is cropped to its last ``block_size`` tokens
with a ``UserWarning``. When the sequence grows past ``block_size``, every step conditions
on the last ``block_size`` tokens (positions restart at 0), as nanoGPT does. Learned
positions make cached keys useless once the window slides (every token's position, hence
every key, changes), so from that point the cached path recomputes the window too.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable

import torch

from phase07.gpt import GPT, KVCache


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Set every logit below the ``k``-th largest of its row to ``-inf``.

    >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[-inf, 3., 2., -inf]])
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be a positive integer, got {k!r}")
    if k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, V) -> (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities add up to at least
    ``p`` (nucleus sampling, Holtzman et al. 2019); set the rest to ``-inf``.

    Probabilities 0.5, 0.3, 0.2 with ``p = 0.6``: 0.5 alone is short of 0.6, 0.5 + 0.3 is
    not, so the first two stay.

    >>> top_p_filter(torch.tensor([[0.5, 0.3, 0.2]]).log(), 0.6).exp()
    tensor([[0.5000, 0.3000, 0.0000]])
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V) each
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs          # mass of the tokens ranked above each one
    drop_sorted = before >= p                      # the set already reached p without it
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(B, V)`` logits of the last position -> ``(B, 1)`` next token ids."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)             # (B, V) -> (B, 1)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)                      # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)


@torch.no_grad()
def generate(model: GPT, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, stop_token: int | None = None,
             use_cache: bool = True,
             on_token: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
    """Extend ``(B, T)`` prompts by up to ``max_new_tokens`` tokens; returns ``(B, T + n)``.

    ``stop_token``: a row that produced it keeps producing it (padding), and generation ends
    once every row has. ``on_token(tokens)`` is called with each step's ``(B, 1)`` tokens
    (``print_stream`` builds one that prints). The model runs in eval mode (no dropout) and
    is put back in its previous mode afterwards.

    >>> from phase07.gpt import GPTConfig
    >>> model = GPT(GPTConfig.from_preset("tiny"))
    >>> generate(model, torch.zeros(1, 3, dtype=torch.long), 4, temperature=0).shape
    torch.Size([1, 7])
    """
    if idx.dim() != 2 or idx.size(1) == 0:
        raise ValueError(f"generate: idx must be (B, T) token ids with T >= 1, got shape {tuple(idx.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
    block = model.config.block_size
    start = max(0, idx.size(1) - block)  # the first position the model sees
    if start:
        warnings.warn(f"generate: prompt of {idx.size(1)} tokens is longer than block_size {block}; "
                      f"the model sees its last {block} tokens", stacklevel=2)
    was_training = model.training
    model.eval()
    try:
        dtype = model.transformer.wte.weight.dtype
        cache = KVCache(model.config, idx.size(0), device=idx.device, dtype=dtype) if use_cache else None
        finished = torch.zeros(idx.size(0), 1, dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            if cache is not None and idx.size(1) - start <= block:
                new = idx[:, start + cache.length:]                 # the prompt, then one token
                logits = model(new, cache=cache, last_only=True)    # (B, 1, V)
            else:
                logits = model(idx[:, -block:], last_only=True)     # the whole window, (B, 1, V)
            tok = next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # (B, 1)
            if stop_token is not None:
                tok = tok.masked_fill(finished, stop_token)
                finished |= tok == stop_token
            idx = torch.cat([idx, tok], dim=1)                       # (B, T) -> (B, T + 1)
            if on_token is not None:
                on_token(tok)
            if stop_token is not None and bool(finished.all()):
                break
    finally:
        model.train(was_training)
    return idx


def print_stream(decode: Callable[[list[int]], str], file=None) -> Callable[[torch.Tensor], None]:
    """An ``on_token`` callback that prints each new token of row 0 as soon as it exists.

    >>> cb = print_stream(lambda ids: "".join("ab"[i] for i in ids))
    >>> cb(torch.tensor([[1]])); cb(torch.tensor([[0]]))
    ba
    """
    def callback(tokens: torch.Tensor) -> None:
        print(decode(tokens[0].tolist()), end="", file=file or sys.stdout, flush=True)

    return callback

