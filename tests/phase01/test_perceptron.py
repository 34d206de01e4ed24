"""phase01.perceptron: converges on separable data within Novikoff's bound, cycles on XOR."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phase01.datasets import linearly_separable, xor
from phase01.perceptron import Perceptron, novikoff_bound, to_signs


@given(seed=st.integers(0, 2**16), margin=st.sampled_from([0.05, 0.2, 0.5]), shift=st.floats(-2, 2))
def test_converges_within_novikoffs_bound(seed, margin, shift):
    rng = np.random.default_rng(seed)
    X, y = linearly_separable(40, margin=margin, rng=rng)
    X = X + shift
    p = Perceptron(2)
    hist = p.fit(X, y, epochs=10_000, rng=rng)
    assert hist.converged
    np.testing.assert_array_equal(p.predict(X), to_signs(y))  # every point on its side
    # the generating line x1 = 0.5 x0 + 0.1 (shifted) separates with a margin: Novikoff's bound holds
    w_true, b_true = np.array([-0.5, 1.0]), -0.1 - shift + 0.5 * shift
    assert sum(hist.mistakes) <= novikoff_bound(X, y, w_true, b_true)
    assert len(hist.updates) == sum(hist.mistakes)


def test_one_update_by_hand():
    # w = 0, b = 0; the point (1, 2) with label +1 is a mistake (score 0): w = (1, 2), b = 1
    p = Perceptron(2)
    hist = p.fit(np.array([[1.0, 2.0]]), np.array([1]), epochs=5)
    np.testing.assert_array_equal(p.w, [1.0, 2.0])
    assert p.b == 1.0 and hist.mistakes == [1, 0] and hist.converged


def test_xor_never_converges():
    X, y = xor()
    for seed in range(5):
        hist = Perceptron(2).fit(X, y, epochs=200, rng=np.random.default_rng(seed))
        assert not hist.converged
        assert min(hist.mistakes) >= 1  # every epoch still finds a point on the wrong side


def test_no_line_separates_xor():
    # a brute-force search over many lines never gets all four XOR points right
    X, y = xor()
    s = to_signs(y)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((20000, 3))                      # (w0, w1, b) candidates
    scores = X @ W[:, :2].T + W[:, 2]                         # (4, 20000)
    best = np.max(np.sum(np.sign(scores) == s[:, None], axis=0))
    assert best == 3  # at most 3 of 4: the sum argument of notes/perceptron.md


def test_bad_input():
    with pytest.raises(ValueError, match=r"Perceptron\(n_features=2\).*\(3, 3\).*\(2,\)"):
        Perceptron(2).predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="labels"):
        Perceptron(2).fit(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="rows"):
        Perceptron(2).fit(np.zeros((3, 2)), np.array([0, 1]))
