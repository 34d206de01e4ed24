"""FlashAttention equals plain attention: NumPy float64 to 1e-10, torch float32 to 1e-5."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from phase00.gradcheck import check_gradients
from phase09.flash import (
    attention_np,
    attention_np_backward,
    flash_attention,
    flash_backward_np,
    flash_forward_np,
)

SQUARE = [(37, 37, 16, 7), (37, 37, 7, 16), (5, 5, 8, 8), (1, 1, 4, 4)]  # Tq, Tk, bq, bk
CASES = [(c, *s) for c in (False, True) for s in SQUARE] + [(False, 20, 33, 6, 9)]  # causal needs Tq == Tk


def _qkv(Tq, Tk, seed=0, d=8):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, 3, Tq, d)), rng.standard_normal((2, 3, Tk, d)), rng.standard_normal((2, 3, Tk, d))


@pytest.mark.parametrize("causal,Tq,Tk,bq,bk", CASES)
def test_numpy_forward_and_backward_equal_plain(causal, Tq, Tk, bq, bk):
    q, k, v = _qkv(Tq, Tk)
    o, p = attention_np(q, k, v, causal)
    o2, lse = flash_forward_np(q, k, v, causal, bq, bk)
    assert np.abs(o - o2).max() < 1e-10  # float64
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(8)
    if causal:
        s = np.where(np.tri(Tq, dtype=bool), s, -np.inf)
    ref_lse = np.log(np.exp(s - s.max(-1, keepdims=True)).sum(-1)) + s.max(-1)
    assert np.abs(lse - ref_lse).max() < 1e-10
    do = np.random.default_rng(1).standard_normal(o.shape)
    for a, b in zip(attention_np_backward(do, q, k, v, p), flash_backward_np(do, q, k, v, o2, lse, causal, bq, bk)):
        assert np.abs(a - b).max() < 1e-10  # float64


@pytest.mark.parametrize("causal", [False, True])
def test_numpy_backward_gradcheck(causal):
    q, k, v = _qkv(6, 6, seed=2, d=4)
    do = np.random.default_rng(3).standard_normal((2, 3, 6, 4))

    def f():
        return float((flash_forward_np(q, k, v, causal, 4, 3)[0] * do).sum())

    o, lse = flash_forward_np(q, k, v, causal, 4, 3)
    dq, dk, dv = flash_backward_np(do, q, k, v, o, lse, causal, 4, 3)
    report = check_gradients(f, {"q": q, "k": k, "v": v}, {"q": dq, "k": dk, "v": dv})
    assert max(report.values()) < 1e-6  # float64 central differences


@pytest.mark.parametrize("causal", [False, True])
def test_torch_equals_sdpa_forward_and_backward(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 45, 16, generator=g, requires_grad=True) for _ in range(3))
    do = torch.randn(2, 3, 45, 16, generator=g)
    out = flash_attention(q, k, v, causal, block_q=16, block_k=12)
    out.backward(do)
    ref = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    ro = F.scaled_dot_product_attention(*ref, is_causal=causal)
    ro.backward(do)
    assert (out - ro).abs().max().item() < 1e-5  # float32
    for a, b in zip((q, k, v), ref):
        assert (a.grad - b.grad).abs().max().item() < 1e-5  # float32


def test_torch_gradcheck_float64():
    q, k, v = (torch.randn(1, 2, 7, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lambda q, k, v: flash_attention(q, k, v, True, 3, 2), (q, k, v))


def test_bad_shapes_are_clear_errors():
    q, k, v = _qkv(4, 6)
    with pytest.raises(ValueError, match="causal needs Tq == Tk"):
        flash_forward_np(q, k, v, causal=True)
    with pytest.raises(ValueError, match="must be"):
        flash_forward_np(q, k[..., :3], v, causal=False)
    with pytest.raises(ValueError, match="block sizes"):
        flash_forward_np(q, k, v, block_q=0)
