"""Sequence to sequence (Sutskever et al. 2014; Cho et al. 2014): an encoder LSTM reads the
input, a decoder LSTM writes the output, and everything the decoder knows about the input
passes through the encoder's final state. The task: reverse a string of digits.

    python -m phase02.seq2seq                 # trains in two to four minutes, prints accuracy by length

The task (``ReversalTask``): a source of 1..N digits, the target is the same digits reversed,
then EOS. Token ids: PAD=0, BOS=1, EOS=2, digits '0'..'9' = 3..12 (``VOCAB_SIZE`` = 13).
Batches mix lengths, right-padded with PAD; the encoder freezes its state past each
sequence's length and the loss ignores PAD targets, so padding changes nothing.

    src      (B, S)     digits, PAD after src_lengths[b]
    tgt_in   (B, S + 1) BOS, reversed digits, PAD...           (the teacher-forced inputs)
    tgt_out  (B, S + 1) reversed digits, EOS, PAD...           (the targets)

The model interface (what ``train_seq2seq`` and ``accuracy_by_length`` use, and what an
attention model in phase 04 keeps):

    forward(src, src_lengths, tgt_in) -> logits (B, T, V)      teacher forcing
    backward(dlogits) -> None                                   accumulates every gradient
    greedy_decode(src, src_lengths, max_len) -> ids (B, max_len), PAD after the first EOS
    parameters(), train(), eval()                               from phase01.module.Module

and the pieces that ``forward``, ``backward`` and ``greedy_decode`` are built from, which a
subclass overrides to add attention:

    encode(src, src_lengths) -> Encoded(out (B, S, H), h (L, B, H), c (L, B, H), mask (B, S))
        ``out`` holds the top encoder layer's state at EVERY source position (zero at PAD),
        ``h``, ``c`` the final states of each layer, ``mask`` is True at real positions.
    encode_backward(d_out, dh, dc)
    init_state(enc) -> (h, c)              the decoder's first state: the encoder's final one
    decoder_step(y_prev (B,), state, enc) -> (o (B, H_o), new_state, cache)
        one decoding step; ``o`` goes through ``self.head`` (a Linear) to the logits.
        The base step is ``o = cell_step(one_hot(y_prev), state)``: an attention subclass
        computes a context vector from ``state`` and ``enc.out`` and concatenates it to the
        cell's input (Bahdanau), or mixes it into ``o`` after the cell (Luong). Set
        ``context_size`` in ``__init__`` to widen the first decoder cell's input.
    decoder_step_backward(do, dstate, cache, d_enc_out) -> dstate_prev
        the reverse of one step; gradient for ``enc.out`` is ADDED into ``d_enc_out`` (B, S, H)
    cell_step(x (B, V + context_size), state) -> (o, new_state, cache)    stacked LSTMCells
    cell_step_backward(do, dstate, cache) -> (dx, dstate_prev)

Caches travel explicitly (``decoder_step`` returns one, ``decoder_step_backward`` takes it),
so one module can run T steps forward and T steps back; ``forward`` keeps the batch's
``Encoded`` as ``self._enc`` until ``backward`` (an ``encode_backward`` override may read it). States are ``(h, c)`` pairs of
``(num_layers, B, H)`` arrays; a ``None`` state gradient means zero.

See phase-02-sequence-models/blog/recurrence.md for the accuracy-by-length figure.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phase00.probability import one_hot
from phase01.layers import Linear
from phase01.losses import SoftmaxCrossEntropy
from phase01.module import Module, ModuleList
from phase01.optim import Adam, clip_grad_norm
from phase02.rnn import LSTM, LSTMCell

PAD, BOS, EOS = 0, 1, 2
DIGIT0 = 3                      # '0' is id 3, ..., '9' is id 12
VOCAB_SIZE = 13


# -- the task ----------------------------------------------------------------------------------


def encode_digits(s: str) -> np.ndarray:
    """``encode_digits("907")`` is ``[12, 3, 10]``."""
    if not s.isdigit() or not s.isascii():
        raise ValueError(f"encode_digits: expected a non-empty string of digits 0-9, got {s!r}")
    return np.array([DIGIT0 + int(ch) for ch in s], dtype=np.int64)


def decode_digits(ids) -> str:
    """Digits up to the first EOS (or PAD); ``decode_digits([12, 3, 10, 2, 0])`` is ``"907"``."""
    out = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i in (EOS, PAD):
            break
        if not DIGIT0 <= i < VOCAB_SIZE:
            raise ValueError(f"decode_digits: id {i} is not a digit (ids 3..12), EOS or PAD")
        out.append(str(i - DIGIT0))
    return "".join(out)


@dataclass
class Batch:
    src: np.ndarray           # (B, S)     digit ids, PAD past src_lengths
    src_lengths: np.ndarray   # (B,)       1..S
    tgt_in: np.ndarray        # (B, S + 1) BOS then the reversed digits
    tgt_out: np.ndarray       # (B, S + 1) the reversed digits then EOS


def reversal_batch(digits: np.ndarray, lengths: np.ndarray) -> Batch:
    """The reversal batch for ``digits (B, S)`` (values 0-9) cut to ``lengths (B,)``.

    >>> b = reversal_batch(np.array([[1, 2, 3], [4, 5, 0]]), np.array([3, 2]))
    >>> b.src.tolist(), b.tgt_in.tolist(), b.tgt_out.tolist()
    ([[4, 5, 6], [7, 8, 0]], [[1, 6, 5, 4], [1, 8, 7, 0]], [[6, 5, 4, 2], [8, 7, 2, 0]])
    """
    digits, lengths = np.asarray(digits), np.asarray(lengths)
    B, S = digits.shape
    if S == 0 or lengths.min() < 1 or lengths.max() > S:
        raise ValueError(f"reversal_batch: lengths must lie in [1, {S}], got {lengths.tolist()}")
    pos = np.arange(S)[None, :]                                 # (1, S)
    real = pos < lengths[:, None]                               # (B, S)
    src = np.where(real, digits + DIGIT0, PAD)                  # (B, S)
    back = np.clip(lengths[:, None] - 1 - pos, 0, S - 1)        # (B, S) index read backwards
    rev = np.where(real, np.take_along_axis(src, back, axis=1), PAD)  # (B, S)
    tgt_in = np.concatenate([np.full((B, 1), BOS), rev], axis=1)      # (B, S + 1)
    tgt_out = np.concatenate([rev, np.full((B, 1), PAD)], axis=1)     # (B, S + 1)
    tgt_out[np.arange(B), lengths] = EOS
    return Batch(src, lengths.astype(np.int64), tgt_in, tgt_out)


class ReversalTask:
    """Seeded batches of the digit-reversal task, lengths uniform in ``[min_len, max_len]``.

    >>> task = ReversalTask(min_len=1, max_len=5, seed=0)
    >>> b = task.batch(4)
    >>> b.src.shape[0], bool((b.src_lengths <= 5).all())
    (4, True)
    """

    def __init__(self, min_len: int = 1, max_len: int = 12, seed: int = 0):
        if not 1 <= min_len <= max_len:
            raise ValueError(f"ReversalTask: need 1 <= min_len <= max_len, got {min_len}, {max_len}")
        self.min_len, self.max_len = min_len, max_len
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int, length: int | None = None) -> Batch:
        """``size`` random examples; all of ``length`` digits when given."""
        if length is not None:
            lengths = np.full(size, length)
        else:
            lengths = self.rng.integers(self.min_len, self.max_len + 1, size=size)
        digits = self.rng.integers(0, 10, size=(size, int(lengths.max())))
        return reversal_batch(digits, lengths)


# -- the model ----------------------------------------------------------------------------------


@dataclass
class Encoded:
    out: np.ndarray       # (B, S, H) top-layer encoder state at every source position, 0 at PAD
    h: np.ndarray         # (L, B, H) final hidden state of each encoder layer
    c: np.ndarray         # (L, B, H) final cell state of each encoder layer
    mask: np.ndarray      # (B, S)    True at real (non-PAD) positions
    lengths: np.ndarray   # (B,)


def check_ids(where: str, name: str, ids, vocab_size: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{where}: {name} must be integer ids of shape (batch, time), got {ids.dtype} {ids.shape}")
    if ids.shape[1] == 0:
        raise ValueError(f"{where}: {name} is a sequence of length 0 (shape {ids.shape})")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{where}: {name} token ids must lie in [0, {vocab_size}), got {ids.min()}..{ids.max()}")
    return ids


class Seq2Seq(Module):
    """Encoder LSTM -> final (h, c) -> decoder LSTM cells -> Linear -> next-token logits.

    >>> m = Seq2Seq(hidden_size=16, rng=np.random.default_rng(0))
    >>> b = ReversalTask(1, 4, seed=0).batch(3)
    >>> m(b.src, b.src_lengths, b.tgt_in).shape == b.tgt_in.shape + (VOCAB_SIZE,)
    True
    """

    def __init__(self, vocab_size: int = VOCAB_SIZE, hidden_size: int = 128, num_layers: int = 1,
                 context_size: int = 0, rng: np.random.Generator | None = None):
        rng = rng or np.random.default_rng()
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.context_size = context_size
        self.encoder = LSTM(vocab_size, hidden_size, num_layers, rng=rng)
        self.decoder = ModuleList(
            LSTMCell(vocab_size + context_size if k == 0 else hidden_size, hidden_size, rng=rng)
            for k in range(num_layers)
        )
        self.head = Linear(hidden_size, vocab_size, rng=rng)

    @property
    def dtype(self):
        return self.head.weight.data.dtype

    def embed(self, ids: np.ndarray) -> np.ndarray:
        """Token ids -> one-hot rows, ``(...) -> (..., V)``."""
        return one_hot(ids, self.vocab_size, dtype=self.dtype)

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, src, src_lengths=None) -> Encoded:
        name = type(self).__name__
        src = check_ids(name, "src", src, self.vocab_size)
        B, S = src.shape
        lengths = np.full(B, S) if src_lengths is None else np.asarray(src_lengths)
        if lengths.shape != (B,) or lengths.min() < 1 or lengths.max() > S:
            raise ValueError(f"{name}: src_lengths must be {B} integers in [1, {S}], got {lengths.tolist()}")
        out, h, c = self.encoder(self.embed(src), lengths=lengths)  # (B, S, V) -> (B, S, H)
        mask = np.arange(S)[None, :] < lengths[:, None]             # (B, S)
        return Encoded(out, h, c, mask, lengths)

    def encode_backward(self, d_out, dh, dc) -> None:
        self.encoder.backward(d_out, dh, dc)                        # dx of one-hot ids: dropped

    # -- decoder ---------------------------------------------------------------------------
    def init_state(self, enc: Encoded):
        return enc.h, enc.c

    def cell_step(self, x, state):
        """Stacked LSTM cells, one step: ``x (B, V + context)`` -> top ``h`` (B, H)."""
        h, c = state
        hs, cs, caches = [], [], []
        inp = x
        for k, cell in enumerate(self.decoder):
            (hk, ck), cache = cell.step(inp, (h[k], c[k]))         # (B, in) -> (B, H)
            hs.append(hk)
            cs.append(ck)
            caches.append(cache)
            inp = hk
        return inp, (np.stack(hs), np.stack(cs)), caches

    def cell_step_backward(self, do, dstate, caches):
        dh, dc = (None, None) if dstate is None else dstate
        L = self.num_layers
        dh_prev, dc_prev = [None] * L, [None] * L
        d_inp = do
        for k in reversed(range(L)):
            dhk = d_inp if dh is None else d_inp + dh[k]
            dck = None if dc is None else dc[k]
            d_inp, (dh_prev[k], dc_prev[k]) = self.decoder[k].step_backward((dhk, dck), caches[k])
        return d_inp, (np.stack(dh_prev), np.stack(dc_prev))

    def decoder_step(self, y_prev, state, enc: Encoded):
        return self.cell_step(self.embed(y_prev), state)           # (B,) -> (B, V) -> (B, H)

    def decoder_step_backward(self, do, dstate, cache, d_enc_out):
        _, dstate_prev = self.cell_step_backward(do, dstate, cache)
        return dstate_prev

    # -- teacher forcing -------------------------------------------------------------------
    def forward(self, src, src_lengths, tgt_in):
        """Logits ``(B, T, V)`` for every target position, fed the true previous token."""
        tgt_in = check_ids(type(self).__name__, "tgt_in", tgt_in, self.vocab_size)
        enc = self.encode(src, src_lengths)
        if tgt_in.shape[0] != enc.out.shape[0]:
            raise ValueError(f"{type(self).__name__}: src has batch {enc.out.shape[0]}, tgt_in {tgt_in.shape[0]}")
        state = self.init_state(enc)
        outs, caches = [], []
        for t in range(tgt_in.shape[1]):
            o, state, cache = self.decoder_step(tgt_in[:, t], state, enc)
            outs.append(o)
            caches.append(cache)
        self._enc, self._caches = enc, caches
        return self.head(np.stack(outs, axis=1))                  # (B, T, H_o) -> (B, T, V)

    def backward(self, dlogits):
        do = self.head.backward(dlogits)                            # (B, T, V) -> (B, T, H_o)
        enc = self._enc
        d_enc_out = np.zeros_like(enc.out)                          # (B, S, H)
        dstate = None
        for t in reversed(range(do.shape[1])):
            dstate = self.decoder_step_backward(do[:, t], dstate, self._caches[t], d_enc_out)
        dh, dc = self.init_state_backward(dstate)
        self.encode_backward(d_enc_out, dh, dc)
        return None                                                 # integer inputs only

    def init_state_backward(self, dstate):
        return dstate

    # -- inference -------------------------------------------------------------------------
    def greedy_decode(self, src, src_lengths=None, max_len: int | None = None) -> np.ndarray:
        """Feed back the argmax each step; ``(B, max_len)`` ids, PAD after the first EOS."""
        enc = self.encode(src, src_lengths)
        B, S = enc.mask.shape
        max_len = S + 1 if max_len is None else max_len
        state = self.init_state(enc)
        y = np.full(B, BOS)
        out = np.full((B, max_len), PAD)
        done = np.zeros(B, dtype=bool)
        for t in range(max_len):
            o, state, _ = self.decoder_step(y, state, enc)
            y = np.argmax(self.head(o), axis=-1)                    # (B, H_o) -> (B, V) -> (B,)
            out[:, t] = np.where(done, PAD, y)
            done |= y == EOS
            if done.all():
                break
        return out


# -- training and evaluation ------------------------------------------------------------------


def train_seq2seq(model: Module, task: ReversalTask, steps: int = 3000, batch: int = 64,
                  lr: float = 3e-3, clip: float = 1.0, log_every: int = 250,
                  max_seconds: float = 0.0, quiet: bool = False) -> list[dict]:
    """Adam on the teacher-forced cross-entropy (PAD targets ignored), gradient norm clipped.

    Works for any model with the interface of the module docstring. Returns the loss history.
    """
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    opt = Adam(model.parameters(), lr=lr)
    loss_fn = SoftmaxCrossEntropy(ignore_index=PAD)
    history, ema = [], None
    model.train()
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        b = task.batch(batch)
        logits = model(b.src, b.src_lengths, b.tgt_in)             # (B, T, V)
        loss = loss_fn(logits, b.tgt_out)
        opt.zero_grad()
        model.backward(loss_fn.backward())
        clip_grad_norm(model.parameters(), clip)
        for g in opt.param_groups:                                  # linear decay to 10%
            g["lr"] = lr * (1.0 - 0.9 * step / steps)
        opt.step()
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        if step % log_every == 0 or step == steps:
            history.append({"step": step, "loss": ema, "seconds": time.perf_counter() - t0})
            log(f"step {step:5d}/{steps} | loss {ema:.4f} | {time.perf_counter() - t0:6.1f} s")
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            log(f"stopped at step {step}: the {max_seconds:.0f} s budget is spent")
            break
    model.eval()
    return history


def exact_match(pred: np.ndarray, tgt_out: np.ndarray) -> np.ndarray:
    """Per example: every token up to and including the target's EOS is right, ``(B,)`` bools.

    >>> exact_match(np.array([[5, 2, 0], [5, 4, 2]]), np.array([[5, 2, 0], [5, 2, 0]])).tolist()
    [True, False]
    """
    T = min(pred.shape[1], tgt_out.shape[1])
    pred, tgt = pred[:, :T], tgt_out[:, :T]
    care = tgt != PAD                                               # the answer and its EOS
    if (tgt_out[:, T:] != PAD).any():
        return np.zeros(len(pred), dtype=bool)                      # prediction too short
    return np.all((pred == tgt) | ~care, axis=1)


def accuracy_by_length(model: Module, lengths, n_per_length: int = 200, seed: int = 1234,
                       batch: int = 200) -> dict[int, float]:
    """Exact-match accuracy of ``model.greedy_decode`` on fresh examples of each length."""
    task = ReversalTask(1, max(lengths), seed=seed)
    acc = {}
    for L in lengths:
        right = 0
        for start in range(0, n_per_length, batch):
            b = task.batch(min(batch, n_per_length - start), length=L)
            pred = model.greedy_decode(b.src, b.src_lengths, max_len=L + 1)
            right += int(exact_match(pred, b.tgt_out).sum())
        acc[L] = right / n_per_length
    return acc


@dataclass
class Seq2SeqConfig:
    hidden: int = 128        # LSTM width (encoder and decoder)
    layers: int = 1          # stacked LSTM layers
    train_min: int = 1       # shortest training input
    train_max: int = 20      # longest training input
    eval_max: int = 24       # evaluate lengths 1..eval_max
    steps: int = 3000        # optimiser steps
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0
    out: str = ""            # write the accuracy table as JSON here


def run(cfg: Seq2SeqConfig, quiet: bool = False) -> dict:
    """Train a ``Seq2Seq`` on the reversal task and measure accuracy by length."""
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    model = Seq2Seq(VOCAB_SIZE, cfg.hidden, cfg.layers, rng=np.random.default_rng(cfg.seed))
    task = ReversalTask(cfg.train_min, cfg.train_max, seed=cfg.seed)
    log(f"seq2seq: LSTM {cfg.layers}x{cfg.hidden}, {model.num_parameters():,} parameters, "
        f"training on lengths {cfg.train_min}..{cfg.train_max}")
    t0 = time.perf_counter()
    history = train_seq2seq(model, task, cfg.steps, cfg.batch, cfg.lr, quiet=quiet)
    seconds = time.perf_counter() - t0
    acc = accuracy_by_length(model, range(1, cfg.eval_max + 1))
    log(f"trained in {seconds:.0f} s; exact-match accuracy by input length (greedy decoding):")
    log("length | accuracy")
    for L, a in acc.items():
        log(f"{L:6d} | {a:7.1%}{'   (longer than any training input)' if L > cfg.train_max else ''}")
    result = {"config": vars(cfg), "seconds": seconds, "history": history,
              "accuracy": {str(k): v for k, v in acc.items()}}
    if cfg.out:
        Path(cfg.out).write_text(json.dumps(result, indent=1))
    result["model"] = model
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train an encoder-decoder LSTM to reverse digit strings.")
    for name, value in vars(Seq2SeqConfig()).items():
        p.add_argument(f"--{name}", type=type(value), default=value)
    return run(Seq2SeqConfig(**vars(p.parse_args(argv))))


if __name__ == "__main__":
    main()
