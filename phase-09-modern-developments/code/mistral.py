"""Mistral (Jiang et al. 2023): LLaMA with sliding-window attention and a rolling KV cache.

Each query at position ``i`` attends to keys ``i - W + 1 .. i`` only. Information still
travels further: after ``L`` layers a position can draw on ``L * (W - 1)`` positions back,
through the intermediate hidden states. Since no query ever needs a key older than ``W``
positions, the cache keeps ``W`` slots and position ``p`` lives in slot ``p % W``: memory is
bounded by the window, not the sequence. ``Mistral.from_hf`` copies a
``transformers`` ``MistralForCausalLM``. See phase-09-modern-developments/notes/llama-and-mistral.md.
"""

from __future__ import annotations

import torch

from phase09.llama import Llama, LlamaConfig, generate  # noqa: F401  (generate works for both)


class RollingKVCache:
    """``W`` slots per layer, ``(n_layer, B, n_kv_head, W, head_dim)``; position ``p`` in slot ``p % W``.

    ``slot_pos[s]`` is the position stored in slot ``s`` (``-1``: empty); the attention mask is
    built from positions, so the slots' order never matters.

    >>> c = RollingKVCache(LlamaConfig(sliding_window=3), batch_size=1)
    >>> c.advance(5); c.slot_pos.tolist()   # positions 0..4: slots hold 3, 4 and 2
    [3, 4, 2]
    """

    def __init__(self, config: LlamaConfig, batch_size: int, max_len: int | None = None,
                 dtype: torch.dtype = torch.float32):
        if config.sliding_window is None:
            raise ValueError("RollingKVCache: the config has no sliding_window")
        W = config.sliding_window
        shape = (config.n_layer, batch_size, config.n_kv_head, W, config.head_dim)
        self.k, self.v = torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)
        self.window, self.length = W, 0
        self.slot_pos = torch.full((W,), -1, dtype=torch.long)

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor):
        """Return the cached keys/values plus the new ones ``(B, nkv, n_cached + T, hs)`` and
        their positions; then keep the newest ``W`` of the new positions in their slots."""
        filled = self.slot_pos >= 0                                       # (W,)
        k_all = torch.cat([self.k[layer][:, :, filled], k], dim=2)        # (B, nkv, n + T, hs)
        v_all = torch.cat([self.v[layer][:, :, filled], v], dim=2)
        k_pos = torch.cat([self.slot_pos[filled], pos])                   # (n + T,)
        keep = slice(max(0, k.shape[2] - self.window), None)              # newest W positions
        slots = pos[keep] % self.window
        self.k[layer][:, :, slots], self.v[layer][:, :, slots] = k[:, :, keep], v[:, :, keep]
        return k_all, v_all, k_pos

    def advance(self, T: int) -> None:
        new = torch.arange(self.length, self.length + T)[-self.window:]
        self.slot_pos[new % self.window] = new
        self.length += T

    def nbytes(self) -> int:
        return 2 * self.k.nelement() * self.k.element_size()


class Mistral(Llama):
    """A ``Llama`` whose config has a ``sliding_window`` and whose cache rolls.

    >>> m = Mistral(LlamaConfig(sliding_window=4))
    >>> m(torch.zeros(1, 9, dtype=torch.long)).shape
    torch.Size([1, 9, 256])
    """

    model_type = "mistral"

    def __init__(self, config: LlamaConfig):
        if config.sliding_window is None:
            raise ValueError("Mistral: LlamaConfig.sliding_window must be set (e.g. 4096)")
        super().__init__(config)

    def new_cache(self, batch_size: int, max_len: int | None = None):
        return RollingKVCache(self.config, batch_size)
