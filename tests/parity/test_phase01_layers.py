"""Phase 01's layers and losses against their torch twins (phase06.layers, phase06.losses).

Every comparison is float64 on both sides; ``assert_parity``'s rtol of 1e-6 is far above the
rounding differences (1e-16 relative per operation, 1e-12 at worst after cancellation) and
far below a real bug (a wrong term or a missing transpose is off by 1e-2 or more).
"""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase01.autograd import Value
from phase06 import cases
from phase06.parity import assert_parity

seeds = st.integers(0, 2**16)
dims = st.integers(1, 5)           # 1 is batch 1, length 1, one feature


@given(seeds, dims, dims, dims, dims, st.booleans())
def test_linear(seed, B, T, n_in, n_out, bias):
    case = cases.linear(np.random.default_rng(seed), B=B, T=T, n_in=n_in, n_out=n_out, bias=bias)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, st.sampled_from(sorted(cases.ACTIVATIONS)), dims, dims)
def test_activations(seed, name, B, n):
    case = cases.activation(np.random.default_rng(seed), name=name, B=B, n=n)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, st.floats(0.0, 0.9), st.booleans())
def test_dropout_off(seed, p, train_p0):
    """Eval mode (any p) and p = 0 in training are the identity on both sides."""
    case = cases.dropout(np.random.default_rng(seed), p=p, train_p0=train_p0)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, dims, dims, dims, dims)
def test_sequential_mlp(seed, B, n_in, hidden, n_out):
    case = cases.sequential(np.random.default_rng(seed), B=B, n_in=n_in, hidden=hidden, n_out=n_out)
    actual, expected = case.run(seed)
    assert {"0.weight grad", "2.weight grad", "4.bias grad"} <= set(actual)   # torch.nn.Sequential's names
    assert_parity(actual, expected, rtol=1e-6)


@given(seeds, dims, dims, st.integers(2, 6), st.booleans())
def test_softmax_cross_entropy(seed, B, T, C, ignore):
    case = cases.softmax_cross_entropy(np.random.default_rng(seed), B=B, T=T, C=C, ignore=ignore)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, dims, dims)
def test_mse(seed, B, n):
    assert_parity(*cases.mse(np.random.default_rng(seed), B=B, n=n).run(seed), rtol=1e-6)


@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_scalar_autograd_engine_equals_torch(xs):
    """Phase 01's ``Value`` (micrograd's idea) and torch's autograd on one expression."""
    def f(a, b, c, tanh, relu, exp):
        d = a * b + c ** 2 - a / (1 + exp(b * b))
        e = tanh(d) * relu(c + 0.5) + (d - c) * 0.3
        return e * e + exp(-e)

    ours = [Value(x) for x in xs]
    out = f(*ours, Value.tanh, Value.relu, Value.exp)
    out.backward()
    ref = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    ref_out = f(*ref, torch.tanh, torch.relu, torch.exp)
    ref_out.backward()
    assert_parity({"out": np.array(out.data), **{f"d{i}": np.array(v.grad) for i, v in enumerate(ours)}},
                  {"out": ref_out, **{f"d{i}": t.grad for i, t in enumerate(ref)}}, rtol=1e-6)  # float64
