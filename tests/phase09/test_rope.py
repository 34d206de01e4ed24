"""RoPE: the rotation, its layouts, its defining property, its backward, HF's functions."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase00.gradcheck import gradcheck
from phase09.rope import (
    apply_rope,
    layout_permutation,
    permute_heads,
    rope_complex,
    rope_cos_sin,
    rope_frequencies,
    rope_np,
    rope_np_backward,
    to_layout,
)


def test_frequencies_by_hand():
    # head_dim 8, base 10000: theta_j = 10000^(-j/4) for j = 0, 2, 4, 6 -> 1, 0.1, 0.01, 0.001
    np.testing.assert_allclose(rope_frequencies(8), [1.0, 0.1, 0.01, 0.001], rtol=1e-12)


def test_one_pair_rotates_by_position_times_theta():
    x = np.array([[3.0, 4.0]] * 3)  # positions 0, 1, 2 of a 2-dim head: theta = 1
    out = rope_np(x, np.arange(3), layout="interleaved")
    for m in range(3):
        c, s = np.cos(m), np.sin(m)
        np.testing.assert_allclose(out[m], [3 * c - 4 * s, 3 * s + 4 * c], atol=1e-12)


def test_interleaved_is_complex_multiplication():
    x = np.random.default_rng(0).standard_normal((2, 7, 10))
    np.testing.assert_allclose(rope_np(x, np.arange(7), layout="interleaved"),
                               rope_complex(x, np.arange(7)), atol=1e-12)  # float64


@given(m=st.integers(0, 500), n=st.integers(0, 500), shift=st.integers(0, 300),
       layout=st.sampled_from(["half", "interleaved"]), seed=st.integers(0, 2**16))
def test_dot_product_depends_only_on_m_minus_n(m, n, shift, layout, seed):
    """q_m . k_n == q_{m+s} . k_{n+s}: the score sees only the offset m - n."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((1, 16)), rng.standard_normal((1, 16))

    def score(i, j):
        return (rope_np(q, np.array([i]), layout=layout) @ rope_np(k, np.array([j]), layout=layout).T).item()

    assert abs(score(m, n) - score(m + shift, n + shift)) < 1e-9  # float64, angles <= 800 rad


def test_rotation_keeps_norms():
    x = np.random.default_rng(1).standard_normal((5, 12))
    out = rope_np(x, np.arange(5) * 37)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12)


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_backward_gradcheck(layout):
    x = np.random.default_rng(2).standard_normal((2, 4, 6))
    pos = np.array([0, 3, 5, 9])
    report = gradcheck(lambda x: rope_np(x, pos, layout=layout),
                       lambda dout, x: (rope_np_backward(dout, pos, layout=layout),), x)
    assert report["x0"] < 1e-6  # float64 finite differences


def test_layout_converter_round_trip_and_commutes_with_rope():
    x = np.random.default_rng(3).standard_normal((3, 5, 8))
    pos = np.arange(5)
    np.testing.assert_array_equal(to_layout(to_layout(x, "half", "interleaved"), "interleaved", "half"), x)
    a = to_layout(rope_np(x, pos, layout="half"), "half", "interleaved")
    b = rope_np(to_layout(x, "half", "interleaved"), pos, layout="interleaved")
    np.testing.assert_allclose(a, b, atol=1e-12)
    assert layout_permutation(4, "half", "interleaved").tolist() == [0, 2, 1, 3]  # (x0,x2),(x1,x3)


def test_permute_heads_reorders_projection_rows():
    W = torch.randn(3 * 8, 5, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    y = (x @ W.T).view(4, 3, 8)
    y2 = (x @ permute_heads(W, 3, "half", "interleaved").T).view(4, 3, 8)
    torch.testing.assert_close(y2, to_layout(y, "half", "interleaved"), rtol=0, atol=1e-12)


def test_odd_head_dim_is_a_clear_error():
    with pytest.raises(ValueError, match="head_dim must be even"):
        rope_np(np.zeros((2, 5)), np.arange(2))
    with pytest.raises(ValueError, match="head_dim must be even"):
        rope_cos_sin(torch.arange(3), 7)
    with pytest.raises(ValueError, match="layout"):
        rope_np(np.zeros((2, 4)), np.arange(2), layout="spiral")


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_torch_equals_numpy(layout):
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 8))
    cos, sin = rope_cos_sin(torch.arange(6), 8, dtype=torch.float64)
    out = apply_rope(torch.from_numpy(x), cos, sin, layout)
    # float32 angles (as HF) vs float64 angles: |angle error| ~ 5 * 6e-8
    np.testing.assert_allclose(out.numpy(), rope_np(x, np.arange(6), layout=layout), atol=1e-6)


def test_half_layout_equals_hf_llama():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    q, k = torch.randn(2, 4, 9, 16), torch.randn(2, 2, 9, 16)
    cos, sin = rope_cos_sin(torch.arange(9), 16)
    hf_cos, hf_sin = torch.cat([cos, cos], -1)[None], torch.cat([sin, sin], -1)[None]  # (1, T, D)
    hq, hk = apply_rotary_pos_emb(q, k, hf_cos, hf_sin)
    torch.testing.assert_close(apply_rope(q, cos, sin), hq, rtol=0, atol=1e-6)  # float32
    torch.testing.assert_close(apply_rope(k, cos, sin), hk, rtol=0, atol=1e-6)
