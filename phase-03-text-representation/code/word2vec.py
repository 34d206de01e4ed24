"""word2vec: skip-gram with negative sampling (Mikolov et al. 2013a, 2013b), in NumPy.

Each word ``w`` has two vectors: ``v_w`` (row of ``in_embed``, used when ``w`` is the centre)
and ``u_w`` (row of ``out_embed``, used when ``w`` is a context word). For a centre ``c``,
a context word ``o`` seen within the window, and ``K`` noise words ``n_1..n_K`` drawn from
the unigram distribution raised to the 3/4 power, the loss is

    L = -log sigma(u_o . v_c) - sum_k log sigma(-u_{n_k} . v_c)

and its gradient, derived in phase-03-text-representation/notes/negative-sampling.md, is
``dL/ds = sigma(s) - label`` for each score ``s = u . v`` (label 1 for ``o``, 0 for noise).
Frequent words are subsampled: each occurrence of ``w`` is dropped with probability
``1 - sqrt(t / f(w))`` where ``f(w)`` is its frequency.

    python -m phase03.word2vec              # one to two minutes: trains, prints neighbours,
                                            # writes blog/figures/word2vec_pca.png
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phase00.data import read_text
from phase01.module import Module
from phase01.optim import SGD
from phase03.embedding import Embedding
from phase03.tokenizer import WordTokenizer

FIGURES = Path(__file__).resolve().parents[1] / "blog" / "figures"

# the words the script prints neighbours of, and the groups of words the PCA figure draws
QUERY_WORDS = ["king", "queen", "thou", "death", "night", "father", "sword", "blood", "love"]
PCA_WORDS = {
    "rank": ["king", "queen", "prince", "duke", "lord", "lady"],
    "family": ["father", "mother", "son", "daughter", "brother", "sister"],
    "address": ["thou", "thee", "thy", "you", "your"],
    "time and sky": ["day", "night", "morning", "sun", "heaven", "earth"],
    "feeling": ["love", "hate", "fear", "joy", "grief", "sorrow"],
}


@dataclass
class Word2VecConfig:
    dim: int = 64            # length of each word vector
    window: int = 5          # largest distance to a context word; each centre draws its own in 1..window
    negatives: int = 5       # noise words per (centre, context) pair: K
    min_count: int = 10      # words seen fewer times are dropped from the vocabulary
    subsample: float = 1e-3  # t in the discard probability 1 - sqrt(t / f(w))
    epochs: int = 10         # passes over the text
    batch_size: int = 256    # (centre, context) pairs per SGD step
    lr: float = 0.05         # per pair (word2vec's C code uses 0.025 on far larger corpora); decays linearly to lr * 1e-4
    seed: int = 0


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` written with tanh, so it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def words_of(text: str) -> list[str]:
    """Lower-cased alphabetic words (the word tokenizer's split, punctuation dropped)."""
    return [w for w in WordTokenizer(lowercase=True).split(text) if w.isalpha()]


def build_vocab(words: list[str], min_count: int) -> tuple[list[str], np.ndarray]:
    """Words seen at least ``min_count`` times, most frequent first, and their counts."""
    counts = Counter(words)
    vocab = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return vocab, np.array([counts[w] for w in vocab], dtype=np.int64)


def keep_probability(counts: np.ndarray, t: float) -> np.ndarray:
    """Probability of keeping each occurrence of each word: ``min(1, sqrt(t / f))``.

    >>> keep_probability(np.array([900, 100]), t=0.01).round(3)   # f = 0.9 and 0.1
    array([0.105, 0.316])
    """
    f = counts / counts.sum()
    return np.minimum(1.0, np.sqrt(t / f))


def skipgram_pairs(ids: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All ``(centre, context)`` pairs of a word sequence, with word2vec's shrunk windows.

    Each position draws its window ``b`` in ``1..window``; the words within ``b`` on either
    side are its contexts (nearer words are therefore used more often).
    """
    n = len(ids)
    b = rng.integers(1, window + 1, size=n)  # (n,) each centre's window
    centres, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        left, right = np.arange(n - d), np.arange(d, n)  # positions i and i + d
        ok = d <= b[left]                                 # right word in the left centre's window
        centres.append(ids[left[ok]])
        contexts.append(ids[right[ok]])
        ok = d <= b[right]                                # left word in the right centre's window
        centres.append(ids[right[ok]])
        contexts.append(ids[left[ok]])
    if not centres:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centres), np.concatenate(contexts)


class SkipGram(Module):
    """Skip-gram with negative sampling: ``forward(centres, targets)`` is the mean loss.

    ``targets[:, 0]`` is each centre's true context word, ``targets[:, 1:]`` its noise words.
    Parameters: ``in_embed.weight`` (V, D), the word vectors one keeps, and
    ``out_embed.weight`` (V, D), the context vectors. Both are ``phase03.embedding.Embedding``.
    """

    def __init__(self, vocab_size: int, dim: int, rng: np.random.Generator | None = None):
        rng = rng or np.random.default_rng()
        self.in_embed = Embedding(vocab_size, dim, rng=rng)
        self.out_embed = Embedding(vocab_size, dim, rng=rng)
        # word2vec's initialisation: small uniform centre vectors, zero context vectors
        self.in_embed.weight.data[:] = rng.uniform(-0.5 / dim, 0.5 / dim, (vocab_size, dim))
        self.out_embed.weight.data[:] = 0.0

    def forward(self, centres: np.ndarray, targets: np.ndarray) -> float:
        v = self.in_embed(centres)                   # (B,) -> (B, D)
        u = self.out_embed(targets)                  # (B, 1+K) -> (B, 1+K, D)
        s = np.einsum("bd,bkd->bk", v, u)            # (B, 1+K) scores u . v
        labels = np.zeros_like(s)
        labels[:, 0] = 1.0                           # 1 for the true context, 0 for noise
        sign = 2.0 * labels - 1.0
        self.v, self.u, self.s, self.labels = v, u, s, labels
        # -log sigma(s) for the context, -log sigma(-s) for noise; log(1 + e^-x) = logaddexp(0, -x)
        return float(np.logaddexp(0.0, -sign * s).sum(axis=1).mean())

    def backward(self, dout: float = 1.0) -> None:
        B = self.s.shape[0]
        ds = (sigmoid(self.s) - self.labels) * np.asarray(dout / B, dtype=self.s.dtype)  # (B, 1+K)
        dv = np.einsum("bk,bkd->bd", ds, self.u)                       # (B, 1+K) x (B, 1+K, D) -> (B, D)
        du = ds[:, :, None] * self.v[:, None, :]                       # (B, 1+K, D)
        self.in_embed.backward(dv)
        self.out_embed.backward(du)
        return None


def nearest(vectors: np.ndarray, vocab: list[str], word: str, k: int = 6) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity with ``word``'s."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # (V, D)
    sims = unit @ unit[vocab.index(word)]                                               # (V,)
    order = [i for i in np.argsort(-sims) if vocab[i] != word][:k]
    return [(vocab[i], float(sims[i])) for i in order]


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Project the rows of ``x`` (N, D) on their two principal directions: (N, 2)."""
    centred = x - x.mean(axis=0)                     # (N, D)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T                        # (N, D) @ (D, 2) -> (N, 2)


def train(text: str, config: Word2VecConfig | None = None, log=print) -> tuple[list[str], SkipGram, list[float]]:
    """Train on the words of ``text``; returns the vocabulary, the model, the loss per epoch."""
    config = config or Word2VecConfig()
    rng = np.random.default_rng(config.seed)
    words = words_of(text)
    vocab, counts = build_vocab(words, config.min_count)
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.array([index[w] for w in words if w in index], dtype=np.int64)  # (N,)
    keep = keep_probability(counts, config.subsample)                        # (V,)
    noise_cdf = np.cumsum(counts ** 0.75) / np.sum(counts ** 0.75)           # (V,) unigram^(3/4)
    log(f"{len(words):,} words, vocabulary {len(vocab):,} (min_count {config.min_count}), "
        f"{len(ids):,} occurrences kept; about {keep[ids].mean():.0%} survive subsampling")

    model = SkipGram(len(vocab), config.dim, rng)
    opt = SGD(model.parameters(), lr=config.lr * config.batch_size)
    epoch_losses = []
    t0 = time.perf_counter()
    for epoch in range(config.epochs):
        kept = ids[rng.random(len(ids)) < keep[ids]]          # subsampling, fresh each epoch
        centres, contexts = skipgram_pairs(kept, config.window, rng)
        order = rng.permutation(len(centres))
        steps = max(1, len(order) // config.batch_size)
        total = 0.0
        for step in range(steps):
            progress = (epoch + step / steps) / config.epochs
            # a mean over B pairs divides each pair's gradient by B: the step multiplies it back
            opt.param_groups[0]["lr"] = config.lr * max(1e-4, 1.0 - progress) * config.batch_size
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            u = rng.random((len(batch), config.negatives))
            noise = np.minimum(np.searchsorted(noise_cdf, u), len(vocab) - 1)  # (B, K) draws
            targets = np.column_stack([contexts[batch], noise])               # (B, 1+K)
            model.zero_grad()
            total += model.forward(centres[batch], targets)
            model.backward()
            opt.step()
        epoch_losses.append(total / steps)
        elapsed = time.perf_counter() - t0
        eta = elapsed / (epoch + 1) * (config.epochs - epoch - 1)
        log(f"epoch {epoch + 1}/{config.epochs}: {len(centres):,} pairs, mean loss {total / steps:.4f}, "
            f"{len(centres) / (elapsed / (epoch + 1)):,.0f} pairs/s, elapsed {elapsed:.0f} s, eta {eta:.0f} s")
    return vocab, model, epoch_losses


def plot_pca(vocab: list[str], vectors: np.ndarray, groups: dict[str, list[str]], path: Path) -> None:
    """A labelled scatter of the grouped words in the plane of their first two principal components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [(w, g) for g, words in groups.items() for w in words if w in vocab]
    xy = pca_2d(vectors[[vocab.index(w) for w, _ in chosen]])  # (N, 2)
    colours = dict(zip(groups, plt.get_cmap("tab10").colors))
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for g in groups:
        pts = np.array([p for p, (_, gg) in zip(xy, chosen) if gg == g])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=16, color=colours[g], label=g)
    for (x, y), (w, g) in zip(xy, chosen):
        ax.annotate(w, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9, color=colours[g])
    ax.set_title("word2vec on Tiny Shakespeare: chosen words in their first two principal components",
                 fontsize=10)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    d = Word2VecConfig()
    p.add_argument("--dim", type=int, default=d.dim)
    p.add_argument("--window", type=int, default=d.window)
    p.add_argument("--negatives", type=int, default=d.negatives)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--figure", type=Path, default=FIGURES / "word2vec_pca.png",
                   help="where to write the PCA figure")
    a = p.parse_args(argv)
    config = Word2VecConfig(dim=a.dim, window=a.window, negatives=a.negatives, epochs=a.epochs,
                            batch_size=a.batch_size, lr=a.lr, seed=a.seed)
    vocab, model, _ = train(read_text(), config)
    vectors = model.in_embed.weight.data
    for w in QUERY_WORDS:
        if w in vocab:
            near = ", ".join(f"{n} {s:.2f}" for n, s in nearest(vectors, vocab, w))
            print(f"{w:>8}: {near}")
    plot_pca(vocab, vectors, PCA_WORDS, a.figure)
    print(f"wrote {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
