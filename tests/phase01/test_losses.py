"""phase01.losses: gradchecks and parity with torch.nn.CrossEntropyLoss / MSELoss."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase01.losses import MSELoss, SoftmaxCrossEntropy
from phase01.module import Module, check_module

GRADCHECK_TOL = 1e-6  # float64 central differences
PARITY_TOL = 1e-12    # float64 vs float64 torch


@given(lead=st.lists(st.integers(1, 4), min_size=1, max_size=2), C=st.integers(1, 6),
       seed=st.integers(0, 2**16), ignore=st.booleans(), scale=st.sampled_from([1.0, 30.0]))
def test_cross_entropy_matches_torch_and_gradchecks(lead, C, seed, ignore, scale):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((*lead, C)) * scale
    targets = rng.integers(0, C, size=lead)
    if ignore:
        targets[rng.random(lead) < 0.4] = -100
    ce = SoftmaxCrossEntropy()
    loss = ce(logits, targets)
    dout = 0.7
    grad = ce.backward(dout)

    zt = torch.tensor(logits, requires_grad=True)
    # torch wants the class axis second: (N, C, d1, ...)
    lt = torch.nn.functional.cross_entropy(zt.movedim(-1, 1), torch.from_numpy(targets), ignore_index=-100)
    (lt * dout).backward()
    if (targets == -100).all():
        assert np.isnan(loss) and torch.isnan(lt)
        np.testing.assert_array_equal(grad, 0)
        np.testing.assert_array_equal(zt.grad.numpy(), 0)
        return
    assert loss == pytest.approx(lt.item(), rel=PARITY_TOL, abs=PARITY_TOL)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=PARITY_TOL)
    worst = check_module(ce, logits, targets, rng=rng, tol=GRADCHECK_TOL)
    assert worst["input0"] < GRADCHECK_TOL


def test_cross_entropy_by_hand():
    # logits (0, log 3) give probabilities (1/4, 3/4); target 1 costs -log(3/4)
    ce = SoftmaxCrossEntropy()
    loss = ce(np.array([[0.0, np.log(3.0)]]), np.array([1]))
    assert loss == pytest.approx(-np.log(0.75), rel=1e-14)
    np.testing.assert_allclose(ce.backward(), [[0.25, -0.25]], rtol=1e-14)  # p - onehot


def test_cross_entropy_extreme_logits_are_finite():
    ce = SoftmaxCrossEntropy()
    loss = ce(np.array([[1e4, -1e4, 0.0]]), np.array([1]))
    assert loss == pytest.approx(2e4, rel=1e-12)
    assert np.all(np.isfinite(ce.backward()))


def test_cross_entropy_custom_ignore_index():
    ce = SoftmaxCrossEntropy(ignore_index=0)
    logits = np.random.default_rng(0).standard_normal((4, 3))
    targets = np.array([0, 1, 2, 0])
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets), ignore_index=0)
    assert ce(logits, targets) == pytest.approx(expected.item(), rel=PARITY_TOL)
    np.testing.assert_array_equal(ce.backward()[[0, 3]], 0)


def test_cross_entropy_bad_input():
    ce = SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*\(4, 3\).*\(4,\).*\(5,\)"):
        ce(np.zeros((4, 3)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ce(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        ce(np.zeros((2, 3)), np.array([0.0, 1.0]))


class _MSEAgainst(Module):
    """MSELoss with its target bound, so check_module sees one floating-point input."""

    def __init__(self, target):
        self.loss, self.target = MSELoss(), target

    def forward(self, pred):
        return self.loss(pred, self.target)

    def backward(self, dout):
        return self.loss.backward(dout)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_mse_matches_torch_and_gradchecks(shape, seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    m = MSELoss()
    loss = m(pred, target)
    grad = m.backward(1.3)
    pt = torch.tensor(pred, requires_grad=True)
    lt = torch.nn.functional.mse_loss(pt, torch.tensor(target))
    (lt * 1.3).backward()
    assert loss == pytest.approx(lt.item(), rel=PARITY_TOL, abs=PARITY_TOL)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=PARITY_TOL, atol=PARITY_TOL)
    assert check_module(_MSEAgainst(target), pred, rng=rng, tol=GRADCHECK_TOL)["input0"] < GRADCHECK_TOL


def test_mse_shape_mismatch():
    with pytest.raises(ValueError, match=r"MSELoss.*\(3,\).*\(4,\)"):
        MSELoss()(np.zeros(3), np.zeros(4))
