import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phase00.gradcheck import gradcheck
from phase00.probability import (
    cross_entropy,
    cross_entropy_grad,
    entropy,
    kl_divergence,
    log_softmax,
    logsumexp,
    one_hot,
    sample_categorical,
    softmax,
    softmax_backward,
)

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
logit_rows = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 7)), elements=finite)


@given(logit_rows)
def test_softmax_sums_to_one_and_never_overflows(x):
    with np.errstate(over="raise", invalid="raise"):
        p = softmax(x)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


@given(logit_rows)
def test_log_softmax_is_log_of_softmax_where_representable(x):
    lp = log_softmax(x)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 1e-12)
    p = softmax(x)
    ok = p > 1e-300  # where the probability itself did not underflow
    np.testing.assert_allclose(lp[ok], np.log(p[ok]), rtol=1e-9, atol=1e-9)


def test_extreme_logits_are_exact():
    # +-1e4: naive exp overflows to inf (or underflows to 0 / 0 = nan)
    x = np.array([1e4, -1e4, 1e4])
    np.testing.assert_allclose(softmax(x), [0.5, 0.0, 0.5], atol=0)
    assert logsumexp(x) == pytest.approx(1e4 + np.log(2), rel=1e-15)
    assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_logsumexp_matches_the_definition_on_small_values():
    x = np.array([[0.1, -0.3, 2.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(logsumexp(x, axis=1), np.log(np.exp(x).sum(axis=1)), rtol=1e-14)
    assert logsumexp(x, axis=0, keepdims=True).shape == (1, 3)


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 6)), elements=st.floats(-20, 20)),
       st.data())
def test_cross_entropy_gradient_is_softmax_minus_one_hot(logits, data):
    n, c = logits.shape
    targets = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    expected = (softmax(logits) - one_hot(targets, c)) / n   # the closed form, written out
    np.testing.assert_allclose(cross_entropy_grad(logits, targets), expected, rtol=1e-12, atol=1e-15)
    # and the closed form is the gradient (central differences, float64, tol 1e-6)
    gradcheck(lambda z: np.array(cross_entropy(z, targets)),
              lambda dout, z: (dout * cross_entropy_grad(z, targets),), logits)


def test_cross_entropy_known_values():
    # uniform logits over C classes: loss log C
    assert cross_entropy(np.zeros((3, 5)), np.array([0, 1, 4])) == pytest.approx(np.log(5), rel=1e-15)
    # the worked example of the note: logits (2, 1, 0.1), target 0 -> -log(0.6590...)
    p0 = np.exp(2) / (np.exp(2) + np.exp(1) + np.exp(0.1))
    assert cross_entropy(np.array([[2.0, 1.0, 0.1]]), np.array([0])) == pytest.approx(-np.log(p0), rel=1e-14)


def test_cross_entropy_rejects_bad_targets():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="need targets of shape"):
        cross_entropy(np.zeros((2, 3)), np.array([0]))


def test_softmax_backward_gradchecks():
    x = np.random.default_rng(1).standard_normal((3, 4))
    report = gradcheck(softmax, lambda dout, z: (softmax_backward(dout, softmax(z)),), x)
    assert report["x0"] < 1e-8


def test_entropy_and_kl():
    c = 4
    uniform = np.full(c, 1 / c)
    assert entropy(uniform) == pytest.approx(np.log(c), rel=1e-15)
    assert entropy(np.array([1.0, 0.0, 0.0])) == 0.0
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    # KL(p||q) = 0.5 log 2 + 0.5 log 2 = log 2; the zero of p contributes nothing
    assert kl_divergence(p, q) == pytest.approx(np.log(2), rel=1e-15)
    assert kl_divergence(q, p) == np.inf
    assert kl_divergence(q, q) == 0.0


@given(arrays(np.float64, 5, elements=st.floats(0.01, 1)), arrays(np.float64, 5, elements=st.floats(0.01, 1)))
def test_kl_is_nonnegative(a, b):
    assert kl_divergence(a / a.sum(), b / b.sum()) >= -1e-12


def test_sampling_frequencies_follow_the_distribution():
    logits = np.log(np.array([0.1, 0.2, 0.7]))
    draws = sample_categorical(logits, rng=np.random.default_rng(0), size=200_000)
    freq = np.bincount(draws, minlength=3) / draws.size
    # standard error of a frequency near 0.7 with 2e5 draws is ~0.001; allow 5 sigma
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.005)


def test_sampling_is_seeded_and_temperature_sharpens():
    logits = np.array([[0.0, 1.0, 2.0]])
    a = sample_categorical(logits, rng=np.random.default_rng(42), size=50)
    b = sample_categorical(logits, rng=np.random.default_rng(42), size=50)
    np.testing.assert_array_equal(a, b)
    cold = sample_categorical(logits[0], temperature=0.05, rng=np.random.default_rng(0), size=1000)
    hot = sample_categorical(logits[0], temperature=5.0, rng=np.random.default_rng(0), size=1000)
    assert (cold == 2).mean() > 0.99
    assert 0.2 < (hot == 0).mean() < 0.45  # near 1/3 at high temperature
    np.testing.assert_array_equal(sample_categorical(np.array([[3.0, 1.0], [0.0, 9.0]]), temperature=0), [0, 1])
    with pytest.raises(ValueError, match="temperature"):
        sample_categorical(logits, temperature=-1)


def test_zero_probability_class_is_never_drawn():
    logits = np.array([-np.inf, 0.0, 0.0])
    draws = sample_categorical(logits, rng=np.random.default_rng(3), size=10_000)
    assert not np.any(draws == 0)
