"""Scaled dot-product attention: gradchecks, masks, and torch's F.scaled_dot_product_attention."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from phase00.gradcheck import gradcheck
from phase01.module import check_module
from phase04.attention import (
    ScaledDotProductAttention,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)

# float64 against float64: both sides do the same few products and one softmax, so they
# agree to ~1e-15 relative; 1e-10 leaves room for different summation orders.
TOL64 = 1e-10


def sdpa_fn(mask=None, is_causal=False, scale=None, dropout_p=0.0, seed=0):
    """``(fn, grad_fn)`` for phase00.gradcheck; dropout re-seeded so every call draws the same."""

    def fn(q, k, v):
        rng = np.random.default_rng(seed)
        return scaled_dot_product_attention(q, k, v, mask, is_causal, scale, dropout_p, rng)[0]

    def grad_fn(dout, q, k, v):
        rng = np.random.default_rng(seed)
        _, cache = scaled_dot_product_attention(q, k, v, mask, is_causal, scale, dropout_p, rng)
        return scaled_dot_product_attention_backward(dout, cache)

    return fn, grad_fn


def qkv(rng, batch=(2,), L=3, S=4, E=3, Ev=2):
    return (rng.standard_normal((*batch, L, E)), rng.standard_normal((*batch, S, E)),
            rng.standard_normal((*batch, S, Ev)))


# -- masks and the masked softmax ---------------------------------------------------------

def test_causal_mask_is_torchs_top_left_triangle():
    for T, S in [(1, 1), (3, 3), (2, 5), (5, 2)]:
        expected = torch.ones(T, S, dtype=torch.bool).tril().numpy()
        np.testing.assert_array_equal(causal_mask(T, S), expected)
    with pytest.raises(ValueError, match="T=0"):
        causal_mask(0)


def test_masked_softmax_rows_sum_to_one_or_zero_without_warnings():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((4, 5)) * 50
    allowed = rng.random((4, 5)) < 0.5
    allowed[0] = False                       # a row with nothing allowed
    allowed[1] = [False, False, True, False, False]  # a row with one key allowed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = masked_softmax(scores, allowed)
    np.testing.assert_array_equal(p[~allowed], 0.0)
    np.testing.assert_allclose(p.sum(-1), allowed.any(-1).astype(float), atol=1e-12)  # exact up to rounding
    np.testing.assert_array_equal(p[1], [0, 0, 1, 0, 0])


def test_additive_minus_infinity_mask_equals_the_boolean_mask():
    rng = np.random.default_rng(1)
    q, k, v = qkv(rng)
    allowed = rng.random((2, 3, 4)) < 0.6
    additive = np.where(allowed, 0.0, -np.inf)
    a, _ = scaled_dot_product_attention(q, k, v, allowed)
    b, _ = scaled_dot_product_attention(q, k, v, additive)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)  # the same arithmetic: exact up to rounding


# -- gradchecks (float64, phase00.gradcheck, tol 1e-6) --------------------------------------

@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float", "one_allowed", "empty_rows",
                                  "causal_and_bool", "scale", "L_ne_S_causal"])
def test_gradcheck(case):
    rng = np.random.default_rng(2)
    q, k, v = qkv(rng, batch=(2, 2), L=4, S=4, E=3, Ev=2)
    kwargs = {}
    if case == "causal":
        kwargs = {"is_causal": True}
    elif case == "bool":
        kwargs = {"mask": rng.random((2, 1, 4, 4)) < 0.7}
    elif case == "float":
        kwargs = {"mask": rng.standard_normal((4, 4))}
    elif case == "one_allowed":  # every row: all keys masked but one (softmax weight exactly 1)
        mask = np.zeros((2, 2, 4, 4), dtype=bool)
        mask[..., np.arange(4), rng.integers(0, 4, size=4)] = True
        kwargs = {"mask": mask}
    elif case == "empty_rows":  # rows with nothing allowed output 0 and pass back 0
        mask = rng.random((2, 2, 4, 4)) < 0.5
        mask[:, :, 1] = False
        mask[:, :, 2] = [True, False, False, False]
        kwargs = {"mask": mask}
    elif case == "causal_and_bool":
        kwargs = {"mask": rng.random((4, 4)) < 0.6, "is_causal": True}
    elif case == "scale":
        kwargs = {"scale": 2.5}
    elif case == "L_ne_S_causal":
        q, k, v = qkv(rng, batch=(3,), L=2, S=5, E=2, Ev=3)
        kwargs = {"is_causal": True}
    report = gradcheck(*sdpa_fn(**kwargs), q, k, v)
    assert max(report.values()) < 1e-6


def test_gradcheck_with_dropout():
    rng = np.random.default_rng(3)
    report = gradcheck(*sdpa_fn(dropout_p=0.4, is_causal=True, seed=5), *qkv(rng, L=4, S=4))
    assert max(report.values()) < 1e-6


def test_dropout_zeroes_or_rescales_each_weight():
    rng = np.random.default_rng(4)
    q, k, v = qkv(rng, batch=(8,), L=6, S=6)
    p = 0.25
    out, cache = scaled_dot_product_attention(q, k, v, dropout_p=p, rng=np.random.default_rng(0))
    assert 0.6 < cache.keep.mean() < 0.9  # 288 draws of keep-probability 0.75: 9 sigma from the limits
    np.testing.assert_allclose(out, (cache.weights * cache.keep / (1 - p)) @ v, atol=1e-14)


def test_module_check_module_with_mask():
    rng = np.random.default_rng(5)
    layer = ScaledDotProductAttention(is_causal=True)
    q, k, v = qkv(rng, L=3, S=3)
    report = check_module(layer, q, k, v)
    assert max(report.values()) < 1e-6
    assert layer.weights.shape == (2, 3, 3)
    np.testing.assert_array_equal(np.triu(layer.weights[0], 1), 0.0)


def test_fully_masked_row_gives_zero_output_and_zero_gradient():
    rng = np.random.default_rng(6)
    q, k, v = qkv(rng, batch=(1,), L=3, S=3)
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out, cache = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(out[0, 1], 0.0)
    dq, dk, dv = scaled_dot_product_attention_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dq[0, 1], 0.0)


# -- against torch.nn.functional.scaled_dot_product_attention -----------------------------

@st.composite
def sdpa_case(draw):
    B = draw(st.integers(1, 2))
    nh = draw(st.integers(1, 3))
    L = draw(st.integers(1, 5))
    S = draw(st.integers(1, 5))
    E = draw(st.integers(1, 4))
    Ev = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["none", "causal", "bool", "float", "bool_heads"]))
    seed = draw(st.integers(0, 2**16))
    return B, nh, L, S, E, Ev, kind, seed


def torch_sdpa_with_grads(q, k, v, dout, mask, is_causal):
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tm = None if mask is None else torch.tensor(mask)
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=is_causal)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()


@given(sdpa_case())
def test_matches_torch_sdpa_forward_and_backward(case):
    B, nh, L, S, E, Ev, kind, seed = case
    rng = np.random.default_rng(seed)
    q, k, v = qkv(rng, batch=(B, nh), L=L, S=S, E=E, Ev=Ev)
    mask, is_causal = None, False
    if kind == "causal":
        is_causal = True
    elif kind == "bool":
        mask = rng.random((L, S)) < 0.6            # may leave rows empty: torch gives 0 there too
    elif kind == "bool_heads":
        mask = rng.random((B, nh, L, S)) < 0.5
    elif kind == "float":
        mask = rng.standard_normal((B, 1, L, S))
    ours, cache = scaled_dot_product_attention(q, k, v, mask, is_causal)
    dout = rng.standard_normal(ours.shape)
    grads = scaled_dot_product_attention_backward(dout, cache)
    ref = torch_sdpa_with_grads(q, k, v, dout, mask, is_causal)
    for name, a, b in zip(["out", "dq", "dk", "dv"], (ours, *grads), ref):
        np.testing.assert_allclose(a, b, rtol=TOL64, atol=TOL64, err_msg=name)


def test_matches_torch_on_one_allowed_key_per_row():
    rng = np.random.default_rng(7)
    q, k, v = qkv(rng, batch=(2, 2), L=4, S=4)
    mask = np.zeros((4, 4), dtype=bool)
    mask[np.arange(4), [3, 0, 0, 2]] = True
    ours, cache = scaled_dot_product_attention(q, k, v, mask)
    dout = rng.standard_normal(ours.shape)
    grads = scaled_dot_product_attention_backward(dout, cache)
    ref = torch_sdpa_with_grads(q, k, v, dout, mask, False)
    for a, b in zip((ours, *grads), ref):
        np.testing.assert_allclose(a, b, rtol=TOL64, atol=TOL64)


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes, words", [
    (((2, 3, 4), (2, 5, 3), (2, 5, 4)), "q (2, 3, 4), k (2, 5, 3), v (2, 5, 4)"),
    (((2, 3, 4), (2, 5, 4), (2, 6, 4)), "same length S"),
    (((2, 3, 4), (3, 5, 4), (3, 5, 4)), "batch axes differ"),
    (((3, 4), (2, 5, 4), (2, 5, 4)), "same number"),
    (((4,), (4,), (4,)), "same number"),
])
def test_mismatched_shapes_raise_naming_them(shapes, words):
    arrays = [np.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match=r"q \(.*k \(.*v \(") as err:
        scaled_dot_product_attention(*arrays)
    assert words in str(err.value)


def test_wrong_mask_shape_or_dtype_raises_naming_shapes():
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 4))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\).*\(2, 3, 5\)"):
        scaled_dot_product_attention(q, k, v, np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 2, 3, 5\)"):  # would grow the batch
        scaled_dot_product_attention(q, k, v, np.ones((4, 2, 3, 5), dtype=bool))
    with pytest.raises(ValueError, match="dtype int64"):
        scaled_dot_product_attention(q, k, v, np.ones((3, 5), dtype=np.int64))
