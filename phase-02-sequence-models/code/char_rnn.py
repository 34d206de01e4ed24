"""A character-level LSTM language model on Tiny Shakespeare (after Karpathy's char-rnn, 2015).

    python -m phase02.char_rnn                      # 10 minutes, prints progress and samples
    python -m phase02.char_rnn --max_seconds 60     # a quick look
    python -m phase02.char_rnn --hidden 512 --layers 2 --max_seconds 3600

The text is split 90/10 (``phase00.data.train_val_split``). Training uses *truncated*
backpropagation through time: the training text is cut into ``batch`` parallel streams,
each read ``seq`` characters at a time, and the LSTM's final state of one chunk is the
initial state of the next (its value flows forward; no gradient flows back across the
chunk boundary). Losses are in nats per character (``log 65 = 4.17`` is a uniform guess).

On a busy machine set ``OPENBLAS_NUM_THREADS=1``: the matrices here are small, and BLAS
threads fighting other processes for two cores cost more than they bring.

See phase-02-sequence-models/blog/recurrence.md for samples at several points of training.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from phase00.data import read_text, train_val_split
from phase00.probability import one_hot, sample_categorical
from phase01.layers import Linear
from phase01.losses import SoftmaxCrossEntropy
from phase01.module import Module
from phase01.optim import Adam, clip_grad_norm
from phase02.rnn import LSTM


class CharVocab:
    """Characters <-> ids, ids in sorted character order.

    >>> v = CharVocab("hello")
    >>> v.chars, v.encode("hole").tolist(), v.decode([3, 1])
    ('ehlo', [1, 3, 2, 0], 'oh')
    """

    def __init__(self, text: str):
        self.chars = "".join(sorted(set(text)))
        if not self.chars:
            raise ValueError("CharVocab: the text is empty")
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"CharVocab.encode: characters not in the vocabulary: {unknown!r}")
        return np.fromiter((self.stoi[ch] for ch in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"CharVocab.decode: ids must lie in [0, {len(self)}), got {ids.min()}..{ids.max()}")
        return "".join(self.chars[i] for i in ids)


class CharRNN(Module):
    """One-hot characters -> LSTM -> Linear -> logits over the next character.

    ``forward(ids (B, T), h0=None, c0=None) -> (logits (B, T, V), h_n, c_n)``; states are
    ``(num_layers, B, hidden)``. ``backward(dlogits)`` accumulates every gradient and returns
    ``dh0``/``dc0`` for the states that were given (ids have no gradient).

    >>> m = CharRNN(vocab_size=5, hidden_size=8, rng=np.random.default_rng(0))
    >>> logits, h, c = m(np.array([[0, 4, 2]]))
    >>> logits.shape, h.shape
    ((1, 3, 5), (1, 1, 8))
    """

    def __init__(self, vocab_size: int, hidden_size: int = 256, num_layers: int = 1,
                 rng: np.random.Generator | None = None):
        rng = rng or np.random.default_rng()
        self.vocab_size = vocab_size
        self.lstm = LSTM(vocab_size, hidden_size, num_layers, rng=rng)
        self.head = Linear(hidden_size, vocab_size, rng=rng)

    def forward(self, ids, h0=None, c0=None):
        ids = np.asarray(ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"CharRNN: ids must be integers of shape (batch, time), got {ids.dtype} {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"CharRNN: token ids must lie in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}"
            )
        x = one_hot(ids, self.vocab_size, dtype=self.head.weight.data.dtype)  # (B, T) -> (B, T, V)
        out, h_n, c_n = self.lstm(x, h0, c0)                    # (B, T, V) -> (B, T, H)
        logits = self.head(out)                                 # (B, T, H) -> (B, T, V)
        return logits, h_n, c_n

    def backward(self, dlogits, dh_n=None, dc_n=None):
        dout = self.head.backward(dlogits)                      # (B, T, V) -> (B, T, H)
        grads = self.lstm.backward(dout, dh_n, dc_n)
        if not isinstance(grads, tuple):
            return None                                         # only dx (of the one-hot ids)
        return grads[1:] if len(grads) > 2 else grads[1]


# -- data ------------------------------------------------------------------------------------


def streams(ids: np.ndarray, batch: int) -> np.ndarray:
    """Cut a 1-D id array into ``batch`` contiguous rows of equal length, (batch, N // batch).

    >>> streams(np.arange(10), 3)
    array([[0, 1, 2],
           [3, 4, 5],
           [6, 7, 8]])
    """
    n = len(ids) // batch
    if n < 2:
        raise ValueError(f"streams: {len(ids)} ids are too few for {batch} streams")
    return ids[: n * batch].reshape(batch, n)


def chunks(data: np.ndarray, seq: int, offset: int = 0):
    """Yield ``(x, y)`` windows of ``data (B, N)``: ``y`` is ``x`` shifted by one character;
    the last window may be shorter.

    >>> [(x.tolist(), y.tolist()) for x, y in chunks(np.arange(8)[None], 3)]
    [([[0, 1, 2]], [[1, 2, 3]]), ([[3, 4, 5]], [[4, 5, 6]]), ([[6]], [[7]])]
    """
    if seq < 1:
        raise ValueError(f"chunks: seq must be >= 1, got {seq}")
    N = data.shape[1]
    for t in range(offset, N - 1, seq):
        T = min(seq, N - 1 - t)
        yield data[:, t : t + T], data[:, t + 1 : t + T + 1]


def evaluate(model: CharRNN, ids: np.ndarray, batch: int = 32, seq: int = 256) -> float:
    """Mean loss (nats per character) over ``ids``, read as ``batch`` streams with carried state."""
    data = streams(ids, batch)
    h = c = None
    total, count = 0.0, 0
    loss_fn = SoftmaxCrossEntropy()
    for x, y in chunks(data, seq):
        logits, h, c = model(x, h, c)
        total += loss_fn(logits, y) * y.size
        count += y.size
    return total / count


def sample(model: CharRNN, vocab: CharVocab, prime: str = "\n", length: int = 300,
           temperature: float = 0.8, rng: np.random.Generator | None = None) -> str:
    """Generate ``length`` characters after ``prime``, drawing each from softmax(logits / T).

    ``temperature`` 0 is greedy; below 1 is safer and more repetitive, above 1 wilder.
    """
    if not prime:
        raise ValueError("sample: prime must hold at least one character")
    rng = rng or np.random.default_rng()
    logits, h, c = model(vocab.encode(prime)[None])             # (1, P) -> (1, P, V)
    out = []
    for _ in range(length):
        nxt = int(sample_categorical(logits[0, -1], temperature, rng))
        out.append(nxt)
        logits, h, c = model(np.array([[nxt]]), h, c)           # one step, state carried
    return prime + vocab.decode(out)


# -- training --------------------------------------------------------------------------------


@dataclass
class Config:
    hidden: int = 256           # LSTM width
    layers: int = 1             # stacked LSTM layers
    batch: int = 32             # parallel streams
    seq: int = 64               # truncated-BPTT length (characters per chunk)
    lr: float = 3e-3            # Adam peak learning rate
    min_lr: float = 2e-4        # end of the cosine decay
    warmup: int = 50            # linear warm-up iterations
    clip: float = 5.0           # global gradient-norm clip
    max_seconds: float = 600.0  # wall-clock budget for training (evaluation included)
    max_iters: int = 0          # stop after this many iterations as well (0: no limit)
    eval_every: int = 500       # iterations between validation estimates
    eval_chars: int = 40_000    # characters of the validation text used mid-run (all at the end)
    sample_every: int = 1000    # iterations between printed samples (and at 50, 150)
    sample_len: int = 300       # characters per sample
    temperature: float = 0.8    # sampling temperature
    log_every: int = 25         # iterations between progress lines
    seed: int = 1337
    samples_out: str = ""       # write samples and losses as JSON here (for the blog)


def _fmt_time(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 60}:{s % 60:02d}"


def learning_rate(cfg: Config, it: int, frac: float) -> float:
    """Linear warm-up over ``cfg.warmup`` iterations, then a cosine from ``cfg.lr`` down to
    ``cfg.min_lr`` as the budget fraction ``frac`` (time or iterations, whichever is larger)
    goes from 0 to 1.

    >>> cfg = Config(lr=1e-3, min_lr=1e-4, warmup=10)
    >>> [round(learning_rate(cfg, it, f), 6) for it, f in [(0, 0.0), (100, 0.0), (100, 0.5), (100, 1.0)]]
    [0.0001, 0.001, 0.00055, 0.0001]
    """
    warm = min(1.0, (it + 1) / cfg.warmup) if cfg.warmup > 0 else 1.0
    cosine = cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * min(frac, 1.0)))
    return warm * cosine


def train(cfg: Config, text: str | None = None, quiet: bool = False) -> dict:
    """Train a ``CharRNN`` under ``cfg``; returns losses, timings, samples and the model."""
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    text = read_text() if text is None else text
    vocab = CharVocab(text)
    train_text, val_text = train_val_split(text, 0.1)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    rng = np.random.default_rng(cfg.seed)
    model = CharRNN(len(vocab), cfg.hidden, cfg.layers, rng=rng)
    opt = Adam(model.parameters(), lr=cfg.lr)
    loss_fn = SoftmaxCrossEntropy()
    data = streams(train_ids, cfg.batch)
    iters_per_epoch = math.ceil((data.shape[1] - 1) / cfg.seq)
    log(f"char-rnn: {len(train_ids):,} train / {len(val_ids):,} val chars, vocab {len(vocab)}, "
        f"LSTM {cfg.layers}x{cfg.hidden}, {model.num_parameters():,} parameters, "
        f"{iters_per_epoch} iterations per epoch")

    history, samples = [], []
    t0 = time.perf_counter()
    it, epoch, ema = 0, 0, None
    last_log_t, last_log_it = t0, 0

    def budget_used() -> float:
        by_time = (time.perf_counter() - t0) / cfg.max_seconds if cfg.max_seconds > 0 else 0.0
        by_iter = it / cfg.max_iters if cfg.max_iters > 0 else 0.0
        return max(by_time, by_iter)

    def take_sample() -> None:
        s = sample(model, vocab, "\n", cfg.sample_len, cfg.temperature, np.random.default_rng(it))
        samples.append({"iter": it, "seconds": round(time.perf_counter() - t0, 1),
                        "train_loss": ema, "text": s})
        log(f"--- sample at iter {it} (T={cfg.temperature}) ---{s}\n---")

    done = False
    while not done:
        offset = int(rng.integers(cfg.seq)) if epoch > 0 else 0  # vary chunk boundaries
        h = c = None                                            # fresh state each epoch
        for x, y in chunks(data, cfg.seq, offset):
            frac = budget_used()
            if frac >= 1.0:
                done = True
                break
            lr = learning_rate(cfg, it, frac)
            for g in opt.param_groups:
                g["lr"] = lr
            logits, h, c = model(x, h, c)                       # state carried, gradient not
            loss = loss_fn(logits, y)
            opt.zero_grad()
            model.backward(loss_fn.backward())
            clip_grad_norm(model.parameters(), cfg.clip)
            opt.step()
            it += 1
            ema = loss if ema is None else 0.95 * ema + 0.05 * loss
            if it % cfg.log_every == 0:
                now = time.perf_counter()
                rate = (it - last_log_it) * x.size / (now - last_log_t)
                elapsed = now - t0
                eta = elapsed * (1.0 - frac) / max(frac, 1e-9)
                log(f"iter {it:6d} | epoch {it / iters_per_epoch:5.2f} | loss {ema:.3f} | "
                    f"lr {lr:.1e} | {rate / 1000:5.1f}k char/s | {_fmt_time(elapsed)} elapsed | "
                    f"ETA {_fmt_time(eta)}")
                last_log_t, last_log_it = now, it
            if it % cfg.eval_every == 0:
                val = evaluate(model, val_ids[: cfg.eval_chars])
                history.append({"iter": it, "seconds": round(time.perf_counter() - t0, 1),
                                "train_loss": ema, "val_loss": val})
                log(f"iter {it:6d} | val loss {val:.4f} nats/char (first {cfg.eval_chars:,} val chars)")
            if it % cfg.sample_every == 0 or it in (50, 150):
                take_sample()
        epoch += 1
    train_seconds = time.perf_counter() - t0
    val = evaluate(model, val_ids)
    train_eval = evaluate(model, train_ids[: len(val_ids)])
    take_sample()
    history.append({"iter": it, "seconds": round(train_seconds, 1), "train_loss": ema, "val_loss": val})
    log(f"done: {it} iterations ({it / iters_per_epoch:.2f} epochs) in {_fmt_time(train_seconds)} | "
        f"train loss {train_eval:.4f} | val loss {val:.4f} nats/char (all {len(val_ids):,} val chars)")
    result = {"config": asdict(cfg), "iters": it, "train_seconds": train_seconds,
              "train_loss": train_eval, "val_loss": val, "history": history, "samples": samples}
    if cfg.samples_out:
        Path(cfg.samples_out).write_text(json.dumps(result, indent=1))
        log(f"samples and losses written to {cfg.samples_out}")
    result["model"], result["vocab"] = model, vocab
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train a character-level LSTM on Tiny Shakespeare.")
    for name, value in asdict(Config()).items():
        p.add_argument(f"--{name}", type=type(value), default=value)
    cfg = Config(**vars(p.parse_args(argv)))
    return train(cfg)


if __name__ == "__main__":
    main()
