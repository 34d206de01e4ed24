import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phase00.gradcheck import GradcheckError, check_gradients, gradcheck, numerical_gradient, worst


def test_numerical_gradient_of_a_quadratic_is_exact_to_roundoff():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = np.array([0.5, -1.0])
    g = numerical_gradient(lambda: float(x @ A @ x), x)
    np.testing.assert_allclose(g, 2 * A @ x, rtol=0, atol=1e-8)  # roundoff ~ 1e-16 |f| / eps
    np.testing.assert_array_equal(x, [0.5, -1.0])  # restored after perturbation


def test_float32_is_refused():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


@given(arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4)), elements=st.floats(-3, 3)))
def test_correct_gradients_pass(x):
    report = gradcheck(lambda z: np.tanh(z) * z, lambda d, z: (d * (np.tanh(z) + z * (1 - np.tanh(z) ** 2)),), x)
    assert report["x0"] < 1e-7


def test_a_planted_wrong_gradient_is_caught_and_located():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)

    def f():
        return float(np.sum(np.sin(W @ x)))

    right = np.outer(np.cos(W @ x), x)
    wrong = right.copy()
    wrong[1, 2] += 1e-3  # one element off by 1e-3
    assert check_gradients(f, {"W": W}, {"W": right})["W"] < 1e-8
    with pytest.raises(GradcheckError, match=r"W: rel err \d\.\de-0[34] at \(1, 2\)"):
        check_gradients(f, {"W": W}, {"W": wrong})


def test_transposed_gradient_is_caught():
    # a classic bug: returning dW.T for a square W
    W = np.random.default_rng(1).standard_normal((3, 3))
    x = np.array([1.0, 2.0, 3.0])
    dout = np.array([0.5, -1.0, 2.0])
    f = lambda: float(dout @ (W @ x))
    with pytest.raises(GradcheckError, match="W: rel err"):
        check_gradients(f, {"W": W}, {"W": np.outer(dout, x).T})


def test_worst_reports_nan_and_shape_mismatch():
    err, idx = worst(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert err == np.inf and idx == (1,)
    with pytest.raises(ValueError, match="shapes differ"):
        worst(np.zeros(2), np.zeros(3))


def test_names_must_match():
    x = np.zeros(2)
    with pytest.raises(KeyError, match="name different things"):
        check_gradients(lambda: 0.0, {"x": x}, {"y": x})
