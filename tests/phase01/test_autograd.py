"""phase01.autograd.Value: every op's gradient against finite differences and float64 torch."""

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase00.gradcheck import check_gradients
from phase01.autograd import ScalarMLP, Value, train_scalar_mlp

GRADCHECK_TOL = 1e-6  # float64 central differences (phase00.gradcheck)
TORCH_TOL = 1e-12     # the same float64 arithmetic in torch

# each op as (name, how to apply it to Values / tensors, the domain it is defined on)
UNARY = {
    "exp": (lambda a: a.exp(), st.floats(-5, 5)),
    "log": (lambda a: a.log(), st.floats(0.1, 10)),
    "tanh": (lambda a: a.tanh(), st.floats(-4, 4)),
    "relu": (lambda a: a.relu(), st.floats(-4, 4).filter(lambda v: abs(v) > 1e-3)),  # off the kink
    "pow3": (lambda a: a**3, st.floats(-3, 3)),
    "pow-1.5": (lambda a: a**-1.5, st.floats(0.2, 5)),
    "neg": (lambda a: -a, st.floats(-5, 5)),
    "radd": (lambda a: 2.0 + a, st.floats(-5, 5)),
    "rsub": (lambda a: 2.0 - a, st.floats(-5, 5)),
    "rdiv": (lambda a: 2.0 / a, st.floats(0.2, 5)),
}
BINARY = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b,
}
TORCH_UNARY = {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "relu": torch.relu}


def value_grad(f, *xs):
    """Forward value and gradients of ``f`` at ``xs`` through our engine."""
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


def torch_grad(f, *xs):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    out.backward()
    return out.item(), [t.grad.item() for t in ts]


def numerical_check(f, *xs):
    """phase00.gradcheck's central differences on the scalar function vs our engine's gradient."""
    arr = np.array(xs, dtype=np.float64)
    _, grads = value_grad(f, *xs)
    return check_gradients(lambda: f(*[Value(x) for x in arr]).data, {"x": arr}, {"x": np.array(grads)},
                           tol=GRADCHECK_TOL)["x"]


def as_torch(name, fn):
    if name in TORCH_UNARY:
        return TORCH_UNARY[name]
    return fn  # operator overloads (** / - + and reflected) are the same syntax on tensors


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_op_matches_gradcheck_and_torch(name, data):
    fn, domain = UNARY[name]
    x = data.draw(domain)
    assert numerical_check(fn, x) < GRADCHECK_TOL
    out, (g,) = value_grad(fn, x)
    tout, (tg,) = torch_grad(as_torch(name, fn), x)
    assert out == pytest.approx(tout, rel=TORCH_TOL, abs=TORCH_TOL)
    assert g == pytest.approx(tg, rel=TORCH_TOL, abs=TORCH_TOL)


@pytest.mark.parametrize("name", BINARY)
@given(a=st.floats(-4, 4), b=st.floats(0.3, 4) | st.floats(-4, -0.3))
def test_binary_op_matches_gradcheck_and_torch(name, a, b):
    fn = BINARY[name]
    assert numerical_check(fn, a, b) < GRADCHECK_TOL
    out, grads = value_grad(fn, a, b)
    tout, tgrads = torch_grad(fn, a, b)
    assert out == pytest.approx(tout, rel=TORCH_TOL, abs=TORCH_TOL)
    np.testing.assert_allclose(grads, tgrads, rtol=TORCH_TOL, atol=TORCH_TOL)


def expression(a, b, c, exp, log, tanh, relu):
    """A graph where nodes are reused (``d`` twice, ``a`` four times): paths must be summed."""
    d = a * b + c
    e = tanh(d) * d + exp(a / 3)
    f = relu(e + 1.0) ** 2 - log(b * b + 1.0)
    return (f + a * e) / (c * c + 2.0)


def ours(a, b, c):
    return expression(a, b, c, Value.exp, Value.log, Value.tanh, Value.relu)


def theirs(a, b, c):
    return expression(a, b, c, torch.exp, torch.log, torch.tanh, torch.relu)


@given(a=st.floats(-2, 2), b=st.floats(-2, 2), c=st.floats(-2, 2))
def test_composite_expression_with_shared_nodes(a, b, c):
    out, grads = value_grad(ours, a, b, c)
    tout, tgrads = torch_grad(theirs, a, b, c)
    assert out == pytest.approx(tout, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grads, tgrads, rtol=1e-10, atol=1e-12)  # longer chains round more
    if abs(expression(a, b, c, math.exp, math.log, math.tanh, lambda v: v) + 1.0) > 1e-3:
        assert numerical_check(ours, a, b, c) < GRADCHECK_TOL


def test_worked_example_by_hand():
    # c = a*b + a at a=2, b=-3: c = -4, dc/da = b + 1 = -2, dc/db = a = 2
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a
    c.backward()
    assert (c.data, a.grad, b.grad) == (-4.0, -2.0, 2.0)


def test_node_used_twice_sums_both_paths():
    x = Value(3.0)
    y = x * x  # dy/dx = 2x = 6: two paths of 3 each
    y.backward()
    assert x.grad == 6.0


def test_topological_order_puts_every_node_after_its_parents():
    a, b = Value(1.0), Value(2.0)
    out = ((a * b).tanh() + a).exp() * b
    order = out.topological_order()
    pos = {id(n): i for i, n in enumerate(order)}
    assert len(pos) == len(order) == 7  # a, b, a*b, tanh, +a, exp, *b: each once
    for n in order:
        assert all(pos[id(p)] < pos[id(n)] for p in n._parents)
    assert order[-1] is out


def test_backward_twice_gives_the_same_gradient():
    a = Value(0.5)
    out = (a * a).exp()
    out.backward()
    first = a.grad
    out.backward()
    assert a.grad == first == pytest.approx(2 * 0.5 * math.exp(0.25), rel=1e-15)


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-9)


def test_log_of_nonpositive_and_value_power_raise():
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).log()
    with pytest.raises(TypeError):
        Value(2.0) ** Value(2.0)


def test_scalar_mlp_gradients_match_torch():
    net = ScalarMLP([3, 4, 2], rng=random.Random(0))
    x = [0.5, -1.0, 2.0]
    outs = net(x)
    loss = outs[0] * outs[0] + outs[1].tanh()
    loss.backward()
    # the same network in torch, weights copied neuron by neuron
    W1 = torch.tensor([[w.data for w in n.w] for n in net.layers[0]], dtype=torch.float64, requires_grad=True)
    b1 = torch.tensor([n.b.data for n in net.layers[0]], dtype=torch.float64, requires_grad=True)
    W2 = torch.tensor([[w.data for w in n.w] for n in net.layers[1]], dtype=torch.float64, requires_grad=True)
    b2 = torch.tensor([n.b.data for n in net.layers[1]], dtype=torch.float64, requires_grad=True)
    h = torch.tanh(W1 @ torch.tensor(x, dtype=torch.float64) + b1)
    o = W2 @ h + b2
    tloss = o[0] ** 2 + torch.tanh(o[1])
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose([[w.grad for w in n.w] for n in net.layers[0]], W1.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose([n.b.grad for n in net.layers[1]], b2.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_scalar_mlp_learns_xor():
    xs, ys = [[0, 0], [0, 1], [1, 0], [1, 1]], [-1, 1, 1, -1]
    net, losses = train_scalar_mlp(xs, ys, sizes=[2, 4, 1], steps=200, lr=0.2, seed=0)
    assert losses[-1] < 1e-3 < losses[0]
    assert [math.copysign(1, net(x)[0].data) for x in xs] == ys
