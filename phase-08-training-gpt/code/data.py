"""Token windows from memory-mapped bins, drawn by a seeded generator.

``phase08.prepare`` writes ``train.bin`` and ``val.bin`` (one flat array of token ids each)
and ``meta.json``. Training reads random windows of ``block_size + 1`` tokens: the first
``block_size`` are the input, the last ``block_size`` (shifted by one) the targets.

The batch of optimizer step ``s`` is a pure function of ``(seed, s)``: its window starts
come from ``numpy.random.default_rng([seed, s])``. So the sampler's whole state is the step
number, a checkpoint stores it, and a resumed run draws exactly the batches the straight
run would have drawn. The starts of one step are laid out as
``(grad_accum, world_size, batch_size)``: process ``r`` takes row ``r`` of each
micro-step. One process with a batch of ``4 B`` therefore sees exactly the windows of four
micro-batches of ``B``, or of four processes with ``B`` each (the equivalences the tests
check).

See phase-08-training-gpt/notes/training-loop.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

META = "meta.json"
SPLITS = ("train", "val")
EVAL_STREAM = 2**32 - 1  # the seed stream of the fixed evaluation windows, far from any step number


def windows(tokens: np.ndarray, starts: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for windows beginning at ``starts``.

    >>> x, y = windows(np.arange(10, 20, dtype=np.uint16), np.array([0, 5]), 3)
    >>> x.tolist(), y.tolist()
    ([[10, 11, 12], [15, 16, 17]], [[11, 12, 13], [16, 17, 18]])
    """
    idx = starts[:, None] + np.arange(block_size + 1)  # (B, 1) + (T+1,) -> (B, T+1)
    w = tokens[idx].astype(np.int64)                     # (B, T+1), one gather from the memmap
    return w[:, :-1], w[:, 1:]                           # (B, T), (B, T)


def read_meta(data_dir: str | Path) -> dict:
    """``meta.json`` of a prepared folder, checked for the fields training needs."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise ValueError(f"data_dir {str(folder)!r} is not a folder; prepare one with "
                         "`python -m phase08.prepare --tokenizer char --input FILE --out DIR`")
    meta_path = folder / META
    if not meta_path.is_file():
        raise ValueError(f"{meta_path} is missing: {folder} is not a folder written by phase08.prepare")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path} is not valid JSON ({e})") from e
    for key in ("tokenizer", "vocab_size", "dtype", "train_tokens", "val_tokens"):
        if key not in meta:
            raise ValueError(f"{meta_path} lacks {key!r}: not written by phase08.prepare")
    if meta["dtype"] not in ("uint16", "uint32"):
        raise ValueError(f"{meta_path}: dtype must be uint16 or uint32, got {meta['dtype']!r}")
    return meta


def open_split(data_dir: str | Path, split: str, meta: dict | None = None) -> np.memmap:
    """The memory-mapped tokens of ``split`` ("train" or "val"), length checked against meta.json."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    meta = read_meta(data_dir) if meta is None else meta
    path = Path(data_dir) / f"{split}.bin"
    if not path.is_file():
        raise ValueError(f"{path} is missing")
    dtype = np.dtype(meta["dtype"])
    expected = meta[f"{split}_tokens"]
    if path.stat().st_size != expected * dtype.itemsize:
        raise ValueError(f"{path} holds {path.stat().st_size} bytes, meta.json promises "
                         f"{expected} {dtype.name} tokens ({expected * dtype.itemsize} bytes)")
    return np.memmap(path, dtype=dtype, mode="r")


@dataclass
class Sampler:
    """Seeded windows of one split for one process of ``world_size``.

    >>> s = Sampler(np.arange(100, dtype=np.uint16), block_size=4, batch_size=2, seed=0)
    >>> x, y = s.micro_batch(step=0, micro=0)
    >>> x.shape, bool((y[:, :-1] == x[:, 1:]).all())
    ((2, 4), True)
    """

    tokens: np.ndarray
    block_size: int
    batch_size: int
    seed: int
    grad_accum: int = 1
    world_size: int = 1
    rank: int = 0

    def __post_init__(self):
        if len(self.tokens) < self.block_size + 1:
            raise ValueError(f"a split of {len(self.tokens)} tokens is shorter than one window "
                             f"(block_size + 1 = {self.block_size + 1}); use more text or a smaller block_size")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world_size {self.world_size}")

    def starts(self, step: int) -> np.ndarray:
        """All window starts of optimizer step ``step``: ``(grad_accum, world_size, batch_size)``."""
        rng = np.random.default_rng([self.seed, step])
        high = len(self.tokens) - self.block_size  # the last start whose window fits
        n = self.grad_accum * self.world_size * self.batch_size
        return rng.integers(0, high, size=n).reshape(self.grad_accum, self.world_size, self.batch_size)

    def micro_batch(self, step: int, micro: int) -> tuple[np.ndarray, np.ndarray]:
        """This process's ``(x, y)`` for micro-step ``micro`` of optimizer step ``step``."""
        return windows(self.tokens, self.starts(step)[micro, self.rank], self.block_size)

    def eval_batches(self, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """This process's share of ``n`` fixed batches of ``world_size * batch_size`` windows
        (the same windows at every evaluation, and the same set however it is sharded)."""
        rng = np.random.default_rng([self.seed, EVAL_STREAM])
        high = len(self.tokens) - self.block_size
        starts = rng.integers(0, high, size=(n, self.world_size, self.batch_size))
        return [windows(self.tokens, s[self.rank], self.block_size) for s in starts]


def to_device(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """An int64 batch on ``device``; pinned memory and a non-blocking copy on CUDA only."""
    t = torch.from_numpy(x)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
