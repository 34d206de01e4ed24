import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phase00.calculus import chain_rule_example, derivative, jvp, numerical_jacobian, vjp
from phase00.linalg import (
    batched_matmul,
    broadcast_shape,
    matmul_dot_rows,
    matmul_einsum,
    matmul_loops,
    matmul_outer,
    unbroadcast,
)

dims = st.integers(1, 5)


@given(dims, dims, dims, st.data())
def test_every_matmul_equals_numpy(n, k, m, data):
    A = data.draw(arrays(np.float64, (n, k), elements=st.floats(-10, 10)))
    B = data.draw(arrays(np.float64, (k, m), elements=st.floats(-10, 10)))
    ref = A @ B
    for fn in (matmul_loops, matmul_dot_rows, matmul_outer, matmul_einsum):
        np.testing.assert_allclose(fn(A, B), ref, rtol=1e-12, atol=1e-10, err_msg=fn.__name__)


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"A is \(2, 3\), B is \(4, 5\)"):
        matmul_loops(np.zeros((2, 3)), np.zeros((4, 5)))


def test_batched_matmul_broadcasts_leading_axes():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2, 1, 3, 4))
    B = rng.standard_normal((5, 4, 6))
    np.testing.assert_allclose(batched_matmul(A, B), np.matmul(A, B), rtol=1e-12)


shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@given(shapes, shapes)
def test_broadcast_shape_agrees_with_numpy(a, b):
    try:
        expected = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(ValueError, match="do not broadcast"):
            broadcast_shape(a, b)
    else:
        assert broadcast_shape(a, b) == expected


@given(shapes, shapes)
def test_unbroadcast_is_the_adjoint_of_broadcasting(a, b):
    try:
        out = np.broadcast_shapes(a, b)
    except ValueError:
        return
    # <broadcast(x), g> == <x, unbroadcast(g)> for every x, g: the defining property
    rng = np.random.default_rng(0)
    x = rng.standard_normal(a)
    g = rng.standard_normal(out)
    lhs = np.sum(np.broadcast_to(x, out) * g)
    rhs = np.sum(x * unbroadcast(g, a))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


def test_central_difference_error_is_second_order():
    x = 0.7
    exact = np.cos(x)
    errs_c = [abs(derivative(np.sin, x, h) - exact) for h in (1e-2, 1e-3)]
    errs_f = [abs(derivative(np.sin, x, h, "forward") - exact) for h in (1e-2, 1e-3)]
    # 10x smaller h: central error drops ~100x, forward ~10x
    assert 80 < errs_c[0] / errs_c[1] < 120
    assert 8 < errs_f[0] / errs_f[1] < 12
    with pytest.raises(ValueError, match="method"):
        derivative(np.sin, x, method="backward-ish")


def test_jacobian_jvp_vjp_agree_with_closed_form():
    A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    f = lambda x: np.tanh(A @ x)
    x = np.array([0.1, -0.2, 0.3])
    J = (1 - np.tanh(A @ x) ** 2)[:, None] * A       # d tanh(Ax)/dx = diag(1 - tanh^2) A
    np.testing.assert_allclose(numerical_jacobian(f, x), J, atol=1e-9)
    v = np.array([1.0, 0.5, -2.0])
    u = np.array([0.3, -0.7])
    np.testing.assert_allclose(jvp(f, x, v), J @ v, atol=1e-9)
    np.testing.assert_allclose(vjp(f, x, u), u @ J, atol=1e-9)


def test_chain_rule_example():
    for x in (0.0, 0.5, -1.3):
        y, dy = chain_rule_example(x)
        assert y == pytest.approx(np.sin(x * x))
        assert dy == pytest.approx(derivative(lambda t: np.sin(t * t), x), rel=1e-8, abs=1e-10)
