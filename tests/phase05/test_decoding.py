"""Greedy and beam search on hand-made distributions whose best sequence is known by
enumerating every sequence."""

import itertools
import math

import numpy as np
import pytest

from phase05.decoding import beam_search, greedy_search

PAD, BOS, EOS, A, B, C = range(6)
V = 6


def table_step(table):
    """A step function from ``{prefix tuple (after bos): {token: prob}}``. A prefix not in the
    table (one that already ended) gets a distribution beam search must ignore: all on ``a``."""

    def step(tokens):
        out = np.full((len(tokens), V), -np.inf)
        for i, row in enumerate(tokens):
            for tok, p in table.get(tuple(int(t) for t in row[1:]), {A: 1.0}).items():
                out[i, tok] = math.log(p)
        return out

    return step


# a (0.6) then c or b (0.5 each) then eos: 0.30 per sequence; b (0.4) then eos: 0.40
TABLE = {(): {A: 0.6, B: 0.4}, (A,): {C: 0.5, B: 0.5}, (B,): {EOS: 1.0},
         (A, C): {EOS: 1.0}, (A, B): {EOS: 1.0}}


def test_greedy_misses_the_best_sequence_that_beam_search_finds():
    step = table_step(TABLE)
    greedy = greedy_search(step, 1, BOS, EOS, max_len=5)
    assert greedy.tolist() in ([[A, C, EOS]], [[A, B, EOS]])
    tokens, scores = beam_search(step, 1, BOS, EOS, max_len=5, beam_size=2)
    assert tokens.tolist() == [[B, EOS, PAD]]            # padded to the longest beam kept
    assert scores[0] == pytest.approx(math.log(0.4), abs=1e-12)


def random_step(seed, vocab=5):
    """Deterministic pseudo-random next-token log-probs for every prefix (never pad or bos)."""

    def logp(prefix):
        rng = np.random.default_rng([seed, *prefix])
        z = rng.standard_normal(vocab) * 2
        z[PAD] = z[BOS] = -np.inf
        return z - np.log(np.sum(np.exp(z[2:])))

    def step(tokens):
        return np.stack([logp(tuple(int(t) for t in row[1:])) for row in tokens])

    return step, logp


def brute_force_best(logp, vocab, max_len):
    """The most probable finished-or-full-length sequence, by enumeration."""
    best, best_seq = -np.inf, None
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(2, vocab), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue                      # eos only at the end; short ones must end in eos
            s = sum(logp(seq[:i])[seq[i]] for i in range(n))
            if s > best:
                best, best_seq = s, list(seq)
    return best, best_seq


@pytest.mark.parametrize("seed", range(6))
def test_a_wide_beam_is_exact(seed):
    """3 real tokens, 3 steps: at most 27 live prefixes, so a beam of 27 keeps them all."""
    step, logp = random_step(seed)
    best, seq = brute_force_best(logp, 5, 3)
    tokens, scores = beam_search(step, 1, BOS, EOS, max_len=3, beam_size=27)
    assert scores[0] == pytest.approx(best, abs=1e-12)
    got = [t for t in tokens[0].tolist() if t != PAD]
    assert got == seq


@pytest.mark.parametrize("seed", range(4))
def test_beam_of_one_is_greedy(seed):
    step, _ = random_step(seed)
    greedy = greedy_search(step, 1, BOS, EOS, max_len=6)
    tokens, _ = beam_search(step, 1, BOS, EOS, max_len=6, beam_size=1)
    np.testing.assert_array_equal(tokens, greedy)


def test_batches_decode_independently():
    """Row i of the batch sees the distribution of seed i; each equals its own run."""
    steps = [random_step(s)[0] for s in range(3)]

    def batched(tokens):                     # tokens (B*K, t); example = row // K
        K = len(tokens) // 3
        return np.concatenate([steps[i](tokens[i * K:(i + 1) * K]) for i in range(3)])

    tokens, scores = beam_search(batched, 3, BOS, EOS, max_len=4, beam_size=3)
    for i in range(3):
        one, s = beam_search(steps[i], 1, BOS, EOS, max_len=4, beam_size=3)
        L = one.shape[1]
        np.testing.assert_array_equal(tokens[i, :L], one[0])
        assert np.all(tokens[i, L:] == PAD)
        assert scores[i] == pytest.approx(s[0], abs=1e-12)


def test_length_penalty_prefers_longer_sequences():
    """eos now (0.6, log -0.51) beats a, a, eos (0.4 * 0.9 * 0.9 = 0.324, log -1.13) by plain
    log-probability; divided by ((5 + length) / 6) ** 3 (1 for one token, 2.37 for three)
    the long one wins: -1.13 / 2.37 = -0.48 > -0.51."""
    table = {(): {EOS: 0.6, A: 0.4}, (A,): {A: 0.9, EOS: 0.1}, (A, A): {EOS: 0.9, A: 0.1},
             (A, A, A): {EOS: 1.0}}
    step = table_step(table)
    short, _ = beam_search(step, 1, BOS, EOS, max_len=4, beam_size=3)
    assert short[0].tolist()[:1] == [EOS]                       # 0.6 > 0.324
    long, _ = beam_search(step, 1, BOS, EOS, max_len=4, beam_size=3, length_penalty=3.0)
    assert long[0].tolist()[:3] == [A, A, EOS]


def test_bad_arguments():
    step = table_step(TABLE)
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        beam_search(step, 1, BOS, EOS, max_len=3, beam_size=0)
    with pytest.raises(ValueError, match="max_len >= 1"):
        greedy_search(step, 1, BOS, EOS, max_len=0)
