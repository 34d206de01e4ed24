"""LayerNorm, positional encodings, label smoothing and the LR schedule: numbers by hand,
float64 gradchecks, and torch as the reference."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from phase00.gradcheck import gradcheck
from phase01.module import check_module
from phase05.layernorm import LayerNorm, layernorm_backward, layernorm_forward
from phase05.losses import LabelSmoothingCrossEntropy
from phase05.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
)
from phase05.schedules import peak_lr, transformer_lr

# float64 on both sides, the same sums in another order: ~1e-15 apart; 1e-10 is generous.
TOL64 = 1e-10


# -- LayerNorm ------------------------------------------------------------------------------

def test_layernorm_by_hand():
    """x = [1, 2, 3, 6]: mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5 (eps = 0)."""
    x = np.array([1.0, 2.0, 3.0, 6.0])
    w = np.array([1.0, 2.0, 1.0, 1.0])
    b = np.array([0.0, 0.0, 0.5, 0.0])
    y, _ = layernorm_forward(x, w, b, eps=0.0)
    s = math.sqrt(3.5)
    expected = np.array([-2 / s, 2 * (-1 / s), 0.0 + 0.5, 3 / s])
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)  # float64 rounding only


def test_layernorm_backward_by_hand():
    """The note's example: x = [1, 2, 3], weight 1, dy = [1, 0, 0] (eps = 0).

    xhat = [-1.2247, 0, 1.2247], rstd = sqrt(3/2); g = dy; mean(g) = 1/3;
    mean(g * xhat) = -1.2247 / 3; dx = rstd * (g - 1/3 - xhat * mean(g xhat))."""
    x = np.array([1.0, 2.0, 3.0])
    _, cache = layernorm_forward(x, np.ones(3), np.zeros(3), eps=0.0)
    dx, dw, db = layernorm_backward(np.array([1.0, 0.0, 0.0]), np.ones(3), cache)
    r = math.sqrt(1.5)
    xh = np.array([-1.0, 0.0, 1.0]) * r
    m = -r / 3
    expected = r * (np.array([1.0, 0.0, 0.0]) - 1 / 3 - xh * m)     # = [1/6, -1/3, 1/6] * r
    np.testing.assert_allclose(dx, expected, atol=1e-15)
    np.testing.assert_allclose(dx, np.array([1 / 6, -1 / 3, 1 / 6]) * r, atol=1e-15)
    np.testing.assert_allclose(dw, [-r, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(db, [1.0, 0.0, 0.0], atol=0)
    assert abs(dx.sum()) < 1e-15   # shifting x by a constant changes nothing


@given(B=st.integers(1, 3), T=st.integers(1, 4), C=st.integers(1, 6), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_layernorm_gradcheck(B, T, C, bias, seed):
    rng = np.random.default_rng(seed)
    ln = LayerNorm(C, bias=bias).astype(np.float64)
    ln.weight.data[:] = rng.standard_normal(C)
    if bias:
        ln.bias.data[:] = rng.standard_normal(C)
    x = 3.0 * rng.standard_normal((B, T, C)) + 1.0
    report = check_module(ln, x)                     # float64, tol 1e-6
    assert max(report.values()) < 1e-6


@pytest.mark.parametrize("shape", [(2, 5, 8), (1, 1, 3), (7, 4)])
def test_layernorm_equals_torch(shape):
    rng = np.random.default_rng(0)
    C = shape[-1]
    x = rng.standard_normal(shape) * 2 + 0.5
    dy = rng.standard_normal(shape)
    ln = LayerNorm(C, eps=1e-5).astype(np.float64)
    ln.weight.data[:] = rng.standard_normal(C)
    ln.bias.data[:] = rng.standard_normal(C)
    ref = torch.nn.LayerNorm(C, eps=1e-5, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ln.state_dict().items()})
    xt = torch.from_numpy(x).requires_grad_()
    yt = ref(xt)
    yt.backward(torch.from_numpy(dy))
    y = ln(x)
    dx = ln.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(ln.weight.grad, ref.weight.grad.numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(ln.bias.grad, ref.bias.grad.numpy(), rtol=0, atol=TOL64)


def test_layernorm_float32_stays_float32():
    ln = LayerNorm(4)
    y = ln(np.ones((2, 4), dtype=np.float32))
    assert y.dtype == np.float32
    assert ln.backward(np.ones((2, 4), dtype=np.float32)).dtype == np.float32


def test_layernorm_bad_input_names_the_size():
    with pytest.raises(ValueError, match=r"LayerNorm\(4\).*\(2, 5\).*4 features"):
        LayerNorm(4)(np.zeros((2, 5)))


# -- positional encodings -------------------------------------------------------------------

def test_sinusoidal_matches_the_papers_formula_element_by_element():
    T, C = 7, 6
    pe = sinusoidal_encoding(T, C)
    for pos in range(T):
        for i in range(C // 2):
            angle = pos / 10000 ** (2 * i / C)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-15)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-15)


def test_sinusoidal_odd_width_and_relative_offsets():
    """PE[t + k] is a rotation of PE[t], so PE[t] . PE[t + k] depends only on k."""
    pe = sinusoidal_encoding(50, 16)
    for k in (1, 3, 10):
        dots = np.sum(pe[:-k] * pe[k:], axis=1)            # (50 - k,)
        assert np.ptp(dots) < 1e-12                         # float64 rounding
    odd = sinusoidal_encoding(5, 7)
    assert odd.shape == (5, 7)
    angle = np.arange(5)[:, None] / 10000 ** (np.arange(0, 7, 2) / 7)   # (5, 4) frequencies
    np.testing.assert_allclose(odd[:, 0::2], np.sin(angle), atol=1e-15)
    np.testing.assert_allclose(odd[:, 1::2], np.cos(angle[:, :3]), atol=1e-15)
    assert np.all(odd[0, 0::2] == 0.0) and np.all(odd[0, 1::2] == 1.0)


def test_sinusoidal_module_adds_and_passes_gradient():
    enc = SinusoidalPositionalEncoding(4, max_len=10)
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(enc(x) - x, np.broadcast_to(sinusoidal_encoding(3, 4), x.shape),
                               atol=1e-15)                  # x + pe - x: one rounding
    report = check_module(enc, x)
    assert max(report.values()) < 1e-6


def test_learned_positions_gradcheck():
    pos = LearnedPositionalEmbedding(6, 4, rng=np.random.default_rng(0)).astype(np.float64)
    x = np.random.default_rng(1).standard_normal((3, 5, 4))
    report = check_module(pos, x)                   # checks rows 5 (unused) too: gradient 0
    assert max(report.values()) < 1e-6


@pytest.mark.parametrize("module", [SinusoidalPositionalEncoding(4, max_len=8),
                                    LearnedPositionalEmbedding(8, 4)])
def test_positions_refuse_a_sequence_longer_than_the_table(module):
    with pytest.raises(ValueError, match=r"sequence length 9 exceeds the maximum length 8"):
        module(np.zeros((1, 9, 4)))


# -- label smoothing ------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_label_smoothing_equals_torch(eps):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((3, 5, 7)) * 3
    targets = rng.integers(0, 7, size=(3, 5))
    targets[0, :2] = -100                                    # padding
    ours = LabelSmoothingCrossEntropy(smoothing=eps)
    loss = ours(logits, targets)
    dlogits = ours.backward()
    lt = torch.from_numpy(logits).requires_grad_()
    ref = F.cross_entropy(lt.reshape(-1, 7), torch.from_numpy(targets).reshape(-1),
                          label_smoothing=eps, ignore_index=-100)
    ref.backward()
    assert abs(loss - ref.item()) < TOL64
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), rtol=0, atol=TOL64)
    assert np.all(dlogits[0, :2] == 0.0)                      # padding gets no gradient


def test_label_smoothing_gradcheck():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 6))
    targets = np.array([1, 5, -100, 0])
    loss = LabelSmoothingCrossEntropy(0.2)

    def fn(z):
        return np.array(loss.forward(z, targets))

    def grad_fn(dout, z):
        loss.forward(z, targets)
        return (loss.backward(float(dout)),)

    assert max(gradcheck(fn, grad_fn, logits).values()) < 1e-6


def test_label_smoothing_minimum_is_the_smoothed_target():
    """The loss is smallest where softmax(logits) = q, and there the gradient is zero."""
    V, eps = 5, 0.1
    q = np.full(V, eps / V)
    q[2] += 1 - eps
    loss = LabelSmoothingCrossEntropy(eps)
    at_q = loss(np.log(q)[None], np.array([2]))
    assert np.abs(loss.backward()).max() < 1e-15
    assert at_q == pytest.approx(-(q * np.log(q)).sum(), abs=1e-15)  # the entropy of q
    assert loss(np.log(q)[None] + [[0, 0, 1.0, 0, 0]], np.array([2])) > at_q


def test_label_smoothing_bad_targets():
    with pytest.raises(ValueError, match=r"target 7 is out of range \[0, 5\)"):
        LabelSmoothingCrossEntropy()(np.zeros((2, 5)), np.array([1, 7]))
    with pytest.raises(ValueError, match="smoothing must be in"):
        LabelSmoothingCrossEntropy(1.0)


# -- the paper's schedule -------------------------------------------------------------------

def test_transformer_lr_by_hand():
    # d_model 512, warmup 4000: 512^-0.5 * step * 4000^-1.5 before, 512^-0.5 * step^-0.5 after
    assert transformer_lr(1, 512) == pytest.approx(512 ** -0.5 * 4000 ** -1.5, rel=1e-12)
    assert transformer_lr(100, 512) == pytest.approx(100 * 512 ** -0.5 * 4000 ** -1.5, rel=1e-12)
    assert transformer_lr(10000, 512) == pytest.approx(0.01 * 512 ** -0.5, rel=1e-12)
    assert peak_lr(512, 4000) == pytest.approx(7.0e-4, abs=2e-6)
    steps = np.arange(1, 20000)
    lrs = np.array([transformer_lr(int(s), 512) for s in steps])
    assert int(np.argmax(lrs)) + 1 == 4000
    assert lrs.max() == pytest.approx(peak_lr(512, 4000), rel=1e-12)
    with pytest.raises(ValueError, match="counts from 1"):
        transformer_lr(0, 512)
