"""The shared pieces of phase 06 that later phases use: device choice, the parity helper,
explicit attention."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from phase06.attention import explicit_attention
from phase06.device import pick_device, supports_float64
from phase06.parity import assert_parity, compare


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    auto = pick_device("auto")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert auto.type == expected
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            pick_device("mps")
    assert supports_float64(torch.device("cpu")) and not supports_float64(torch.device("mps"))


def test_parity_names_the_worst_element():
    w = np.linspace(1, 2, 8)
    bad = w.copy()
    bad[5] *= 1.03
    with pytest.raises(AssertionError, match=r"decoder.layers.1.ln1.weight grad: rel err 2\.9e-02 at \(5,\)"):
        assert_parity({"decoder.layers.1.ln1.weight grad": bad}, {"decoder.layers.1.ln1.weight grad": w}, rtol=1e-6)
    assert assert_parity({"a": torch.tensor(w)}, {"a": w}, rtol=1e-12) == 0.0


def test_parity_reports_nan_and_shape_and_name_mismatch():
    with pytest.raises(AssertionError, match="x: rel err inf"):
        assert_parity({"x": np.array([1.0, np.nan])}, {"x": np.array([1.0, 2.0])}, rtol=1e-6)
    with pytest.raises(ValueError, match="x: shapes differ"):
        compare({"x": np.zeros(2)}, {"x": np.zeros(3)})
    with pytest.raises(KeyError, match="only in actual"):
        compare({"x": 1, "y": 2}, {"x": 1})


def test_parity_floor_ignores_cancellation_noise_but_not_real_errors():
    e = np.array([1.0, 1e-17])
    a = np.array([1.0, 3e-17])       # an element that cancelled to ~0: noise at the array's scale
    assert assert_parity({"g": a}, {"g": e}, rtol=1e-6) < 1e-6
    assert assert_parity({"z": np.zeros(3)}, {"z": np.full(3, 1e-17)}, rtol=1e-6) < 1e-6  # zero in exact math
    with pytest.raises(AssertionError):
        assert_parity({"g": np.array([1.0, 1e-4])}, {"g": e}, rtol=1e-6)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.booleans())
def test_explicit_attention_equals_sdpa(B, H, Tq, Tk, d, causal):
    g = torch.Generator().manual_seed(B * 100 + H * 10 + Tq)
    q = torch.randn(B, H, Tq, d, dtype=torch.float64, generator=g, requires_grad=True)
    k = torch.randn(B, H, Tk, d, dtype=torch.float64, generator=g, requires_grad=True)
    v = torch.randn(B, H, Tk, d, dtype=torch.float64, generator=g, requires_grad=True)
    if causal and Tq > Tk:
        causal = False  # rows with no key would be all -inf (nan) in both: not a useful comparison
    ours = explicit_attention(q, k, v, is_causal=causal)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    dout = torch.randn_like(ref)
    g_ours = torch.autograd.grad(ours, (q, k, v), dout)
    g_ref = torch.autograd.grad(ref, (q, k, v), dout)
    assert_parity({"out": ours, "dq": g_ours[0], "dk": g_ours[1], "dv": g_ours[2]},
                  {"out": ref, "dq": g_ref[0], "dk": g_ref[1], "dv": g_ref[2]}, rtol=1e-6,
                  abs_floor=1e-8)  # float64; with one key dq = dk = 0 exactly and one side keeps ~1e-15 residue


def test_explicit_attention_masks():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 5, 3) for _ in range(3))
    mask = torch.rand(5, 5) > 0.3
    mask[:, 0] = True
    np.testing.assert_allclose(explicit_attention(q, k, v, mask).numpy(),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask).numpy(), atol=1e-6)
    add = torch.randn(5, 5)
    np.testing.assert_allclose(explicit_attention(q, k, v, add).numpy(),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=add).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        explicit_attention(q, k[..., :2], v)
