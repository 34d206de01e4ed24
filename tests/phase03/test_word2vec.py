"""word2vec: the negative-sampling gradient, subsampling, window pairs, a short training run."""

import numpy as np
import torch
import torch.nn.functional as F

from phase01.module import check_module
from phase03.word2vec import (
    SkipGram,
    Word2VecConfig,
    build_vocab,
    keep_probability,
    nearest,
    pca_2d,
    skipgram_pairs,
    train,
    words_of,
)


def random_model(V=8, D=4, seed=0):
    rng = np.random.default_rng(seed)
    model = SkipGram(V, D, rng).astype(np.float64)
    for p in model.parameters():  # the zero init of out_embed would hide half the gradient
        p.data[:] = rng.standard_normal(p.data.shape)
    return model


def test_gradcheck_with_repeated_words():
    model = random_model()
    centres = np.array([0, 3, 3, 5])
    targets = np.array([[1, 2, 2, 7], [3, 0, 1, 1], [4, 4, 4, 4], [5, 6, 0, 3]])  # repeats, centre as noise
    errors = check_module(model, centres, targets)  # default tol 1e-6
    assert set(errors) == {"in_embed.weight", "out_embed.weight"}


def test_loss_and_gradients_equal_torch():
    model = random_model(V=10, D=5, seed=1)
    rng = np.random.default_rng(1)
    centres = rng.integers(0, 10, 6)
    targets = rng.integers(0, 10, (6, 4))
    model.zero_grad()
    loss = model.forward(centres, targets)
    model.backward()
    W_in = torch.tensor(model.in_embed.weight.data, requires_grad=True)
    W_out = torch.tensor(model.out_embed.weight.data, requires_grad=True)
    s = torch.einsum("bd,bkd->bk", W_in[centres], W_out[targets])
    labels = torch.zeros_like(s)
    labels[:, 0] = 1.0
    ref = F.binary_cross_entropy_with_logits(s, labels, reduction="sum") / len(centres)
    ref.backward()
    # float64 both sides, a few dozen terms: 1e-12
    assert abs(loss - ref.item()) < 1e-12
    np.testing.assert_allclose(model.in_embed.weight.grad, W_in.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.out_embed.weight.grad, W_out.grad.numpy(), rtol=0, atol=1e-12)


def test_the_loss_by_hand():
    # one centre, one context, one noise word, D = 1: v = 1, u_o = 2, u_n = -1
    # L = -log sigma(2) - log sigma(1) = 0.126928 + 0.313262 = 0.440190
    model = SkipGram(3, 1).astype(np.float64)
    model.in_embed.weight.data[:] = [[1.0], [0.0], [0.0]]
    model.out_embed.weight.data[:] = [[0.0], [2.0], [-1.0]]
    assert abs(model.forward(np.array([0]), np.array([[1, 2]])) - 0.440190) < 1e-6


def test_keep_probability():
    counts = np.array([10_000, 100, 1])
    keep = keep_probability(counts, t=0.05)  # f = 0.990, 0.0099, 0.0001
    f = counts / counts.sum()
    np.testing.assert_allclose(keep[0], np.sqrt(0.05 / f[0]), rtol=1e-12)  # frequent: thinned
    assert keep[1] == 1.0 and keep[2] == 1.0                               # rare: always kept


def test_skipgram_pairs_stay_within_the_window():
    rng = np.random.default_rng(0)
    ids = np.arange(50)  # word i at position i, so a pair's distance is |centre - context|
    centres, contexts = skipgram_pairs(ids, window=3, rng=rng)
    d = np.abs(centres - contexts)
    assert d.min() >= 1 and d.max() <= 3
    assert np.sum(d == 1) == 2 * 49  # distance 1 is inside every window, both directions
    assert np.sum(d == 1) > np.sum(d == 2) > np.sum(d == 3)  # shrunk windows favour near words
    assert skipgram_pairs(np.array([4]), 3, rng)[0].size == 0


def test_words_vocab_nearest_and_pca():
    words = words_of("The king, the KING! O'er the hills, 'tis 3 kings.")
    assert words == ["the", "king", "the", "king", "o", "er", "the", "hills", "tis", "kings"]
    vocab, counts = build_vocab(words, min_count=2)
    assert vocab == ["the", "king"] and list(counts) == [3, 2]
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    assert nearest(vectors, ["a", "b", "c"], "a", k=2)[0][0] == "b"
    xy = pca_2d(np.random.default_rng(0).standard_normal((6, 5)))
    assert xy.shape == (6, 2)
    np.testing.assert_allclose(xy.mean(axis=0), 0.0, atol=1e-12)
    assert xy[:, 0].var() >= xy[:, 1].var()  # the first component carries the most variance


def test_a_short_training_run_lowers_the_loss(shakespeare):
    config = Word2VecConfig(dim=16, epochs=2, min_count=20, batch_size=512)
    vocab, model, losses = train(shakespeare[:150_000], config, log=lambda s: None)
    # at the start every score is 0 (context vectors start at zero): loss (1 + K) log 2 = 4.159
    assert losses[0] < 4.159 and losses[1] < losses[0]
