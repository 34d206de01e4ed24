"""phase02.gradient_flow: the measured gradient norms obey the bounds the math gives."""

import numpy as np
import pytest

from phase00.data import read_text
from phase02.gradient_flow import (
    clipping_run,
    gradient_norms,
    lstm_with_forget_bias,
    orthogonal,
    rnn_with_radius,
)


def test_orthogonal():
    q = orthogonal(6, np.random.default_rng(0))
    assert np.max(np.abs(q @ q.T - np.eye(6))) <= 1e-12


@pytest.mark.parametrize("radius", [0.5, 0.9])
def test_rnn_gradient_obeys_the_vanishing_bound(radius):
    """With W_hh = radius * orthogonal, each step back multiplies the gradient's norm by at
    most radius (|1 - h^2| <= 1), so |dL/dx_t| <= |W_ih|_2 * radius^(T-1-t) for |dL/dh_T| = 1.
    The bound is exact math; 1e-12 absorbs rounding."""
    T = 40
    m = rnn_with_radius(5, 16, radius, np.random.default_rng(0))
    g = gradient_norms(m, T=T, batch=8)
    bound = np.linalg.norm(m.weight_ih_l0.data, 2) * radius ** (T - 1 - np.arange(T))
    assert np.all(g <= bound + 1e-12)  # at 39 steps back: 0.5^39 = 2e-12, 0.9^39 = 0.016


def test_rnn_gradient_explodes_above_radius_one():
    """Radius 2 puts the RNN in the exploding regime: the gradient grows going back."""
    g = gradient_norms(rnn_with_radius(5, 64, 2.0, np.random.default_rng(0)), T=40, batch=8)
    assert g[0] > 1e2 * g[-1]


def test_lstm_forget_gate_keeps_the_gradient():
    """With the forget gate pushed open (bias +4, f ~ 0.98) the cell path carries the
    gradient across 40 steps; at torch's init (f ~ 0.5) it fades like the RNN's."""
    rng = np.random.default_rng
    open_gate = gradient_norms(lstm_with_forget_bias(5, 16, 4.0, rng(0)), T=40, batch=8)
    default = gradient_norms(lstm_with_forget_bias(5, 16, 0.0, rng(0)), T=40, batch=8)
    assert open_gate[0] > 1e-2 * open_gate[-1]
    assert default[0] < 1e-6 * default[-1]


def test_clipping_rescues_the_exploding_run():
    """Same start, same batches, SGD with lr 2: unclipped, steps with gradient norms
    above 10 throw the weights off and the loss ends above where it started; clipped at
    1.0, the loss falls below its start and below the unclipped run's."""
    text = read_text()[:50_000]
    free = clipping_run(None, steps=40, hidden=32, seq=30, batch=16, text=text)
    clipped = clipping_run(1.0, steps=40, hidden=32, seq=30, batch=16, text=text)
    assert np.nanmax(free["grad_norm"]) > 10
    first, last = slice(0, 5), slice(-5, None)
    assert np.nan_to_num(free["loss"][last], nan=np.inf).mean() > free["loss"][first].mean()
    assert np.all(np.isfinite(clipped["loss"]))
    assert clipped["loss"][last].mean() < clipped["loss"][first].mean()
    assert clipped["loss"][last].mean() < np.nan_to_num(free["loss"][last], nan=np.inf).mean()
