"""A small character-level GPT on Tiny Shakespeare, for the LoRA, RLHF and DPO demos.

The demos want "the phase-08 Shakespeare model". To run in minutes on a shared CPU they
train a small phase-07 ``GPT`` for a fixed time instead (``pretrain``), and cache it under
``out/phase09/`` so the three demos share it. It writes passable pseudo-Shakespeare, no
more: the point of the demos is the fine-tuning arithmetic, not the prose.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from phase00.data import read_text
from phase02.char_rnn import CharVocab  # the 65-character vocabulary, defined once in phase 02
from phase07.gpt import GPT, GPTConfig

OUT = Path("out/phase09")
BASE_CONFIG = GPTConfig(block_size=64, vocab_size=65, n_layer=3, n_head=4, n_embd=96, dropout=0.0)


def batches(data: np.ndarray, batch_size: int, block: int, rng: np.random.Generator):
    """Random windows ``(B, block)`` and their next-character targets."""
    starts = rng.integers(0, len(data) - block - 1, batch_size)
    x = np.stack([data[s:s + block] for s in starts])
    y = np.stack([data[s + 1:s + block + 1] for s in starts])
    return torch.from_numpy(x).long(), torch.from_numpy(y).long()


@torch.no_grad()
def eval_loss(model: GPT, data: np.ndarray, batch_size: int = 32, n_batches: int = 10, seed: int = 1) -> float:
    """Mean cross-entropy over fixed random windows of ``data`` (the same windows every call)."""
    model.eval()
    rng = np.random.default_rng(seed)
    block = model.config.block_size
    losses = [model(*batches(data, batch_size, block, rng))[1].item() for _ in range(n_batches)]
    return float(np.mean(losses))


def train(model: GPT, data: np.ndarray, seconds: float, lr: float = 3e-3, batch_size: int = 32,
          seed: int = 0, params=None, log=print) -> int:
    """AdamW on random windows for ``seconds`` of wall time; returns the number of steps."""
    rng = np.random.default_rng(seed)
    params = [p for p in (params or model.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    model.train()
    t0, step = time.time(), 0
    while time.time() - t0 < seconds:
        x, y = batches(data, batch_size, model.config.block_size, rng)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log(f"  step {step:5d}  loss {loss.item():.3f}  ({time.time() - t0:.0f}s)")
    return step


def load_base(seconds: float = 90.0, out: Path = OUT, log=print) -> tuple[GPT, CharVocab]:
    """The cached base model, or a new one trained for ``seconds`` (then cached)."""
    text = read_text()
    vocab = CharVocab(text)
    path = out / "base_char_gpt.pt"
    model = GPT(BASE_CONFIG)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        log(f"loaded the base model from {path}")
    else:
        log(f"no base model at {path}: training a {model.num_parameters():,}-parameter char GPT "
            f"for {seconds:.0f}s (a stand-in for the phase-08 Shakespeare model)")
        torch.manual_seed(0)
        model.reset_parameters()
        data = np.array(vocab.encode(text[: int(0.9 * len(text))]), dtype=np.int64)
        steps = train(model, data, seconds, log=log)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
        log(f"trained {steps} steps, saved {path}")
    model.eval()
    return model, vocab


def speeches_of(text: str, speaker: str) -> list[str]:
    """Every speech of ``speaker`` (a block starting with the line ``SPEAKER:``), with its heading.

    >>> speeches_of("A:\\nhi\\n\\nB:\\nno\\n\\nA:\\nbye\\n", "A")
    ['A:\\nhi\\n', 'A:\\nbye\\n']
    """
    blocks = text.split("\n\n")
    return [b.strip("\n") + "\n" for b in blocks if b.startswith(speaker + ":\n")]
