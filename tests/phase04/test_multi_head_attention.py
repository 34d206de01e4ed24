"""MultiHeadAttention: gradchecks, causality, masks, and torch.nn.MultiheadAttention with copied weights."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase01.module import Module, check_module
from phase04.attention import MultiHeadAttention, causal_mask

# float64 on both sides, the same products in a different order: ~1e-15; 1e-10 is generous.
TOL64 = 1e-10


class Bound(Module):
    """``mha`` with fixed keyword arguments, so that check_module can call ``forward(*inputs)``."""

    def __init__(self, mha, **kwargs):
        self.mha = mha
        self.kwargs = kwargs

    def forward(self, *inputs):
        return self.mha(*inputs, **self.kwargs)

    def backward(self, dout):
        return self.mha.backward(dout)


def mha64(E=6, nh=2, seed=0, **kw):
    return MultiHeadAttention(E, nh, rng=np.random.default_rng(seed), **kw).astype(np.float64)


# -- gradchecks (float64, check_module: every input and parameter, tol 1e-6) ------------------

@pytest.mark.parametrize("case", ["self", "causal", "cross", "qkv_kdim_vdim", "padding_causal",
                                  "bool_mask", "float_mask", "one_allowed", "no_bias", "one_head",
                                  "head_dim_1", "length_1"])
def test_check_module(case):
    rng = np.random.default_rng(1)
    B, T, S, E, nh = 2, 4, 3, 6, 2
    x = rng.standard_normal((B, T, E))
    mem = rng.standard_normal((B, S, E))
    kwargs, inputs, mha = {}, (x,), None
    if case == "causal":
        kwargs = {"is_causal": True}
    elif case == "cross":
        inputs = (x, mem)
    elif case == "qkv_kdim_vdim":
        mha = mha64(E, nh, kdim=5, vdim=3)
        inputs = (x, rng.standard_normal((B, S, 5)), rng.standard_normal((B, S, 3)))
    elif case == "padding_causal":  # left-aligned tokens, right padding, causal: row 0 sees only key 0
        kpm = np.array([[True, True, True, True], [True, True, False, False]])
        kwargs = {"key_padding_mask": kpm, "is_causal": True}
    elif case == "bool_mask":
        m = rng.random((B, nh, T, T)) < 0.6
        m[..., 0] = True
        kwargs = {"attn_mask": m}
    elif case == "float_mask":
        kwargs = {"attn_mask": rng.standard_normal((T, T))}
    elif case == "one_allowed":  # every row of every head: one key allowed, the rest masked
        m = np.zeros((B, nh, T, T), dtype=bool)
        idx = rng.integers(0, T, size=(B, nh, T))
        np.put_along_axis(m, idx[..., None], True, axis=-1)
        kwargs = {"attn_mask": m}
    elif case == "no_bias":
        mha = mha64(E, nh, bias=False)
    elif case == "one_head":
        mha = mha64(E, 1)
    elif case == "head_dim_1":
        mha = mha64(E, E)
    elif case == "length_1":
        inputs = (x[:, :1],)
        kwargs = {"is_causal": True}
    mha = mha or mha64(E, nh)
    report = check_module(Bound(mha, **kwargs), *inputs)
    assert max(report.values()) < 1e-6, report


def test_check_module_with_attention_dropout():
    """Training-mode dropout, re-seeded on every forward so the finite differences see one mask."""
    mha = mha64(6, 3, dropout=0.3)

    class Reseeded(Bound):
        def forward(self, *inputs):
            self.mha.attention.rng = np.random.default_rng(42)
            return super().forward(*inputs)

    x = np.random.default_rng(2).standard_normal((2, 4, 6))
    report = check_module(Reseeded(mha, is_causal=True), x)
    assert max(report.values()) < 1e-6
    assert (mha.attention.cache.keep == 0).any()         # dropout really dropped something
    eval_out = mha.eval()(x)
    plain = mha64(6, 3)                                  # same seed, same weights, no dropout
    np.testing.assert_allclose(eval_out, plain(x), rtol=0, atol=1e-15)


# -- causality -------------------------------------------------------------------------------

@given(st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**16), st.data())
def test_causal_output_at_t_ignores_tokens_after_t(T, nh, seed, data):
    t = data.draw(st.integers(0, T - 1))
    rng = np.random.default_rng(seed)
    mha = mha64(2 * nh, nh, seed=seed, causal=True)
    x = rng.standard_normal((2, T, 2 * nh))
    y = x.copy()
    y[:, t + 1:] = rng.standard_normal(y[:, t + 1:].shape) * 10   # change the future
    out_x, out_y = mha(x), mha(y)
    # positions <= t see the same keys and values: identical arithmetic up to rounding
    np.testing.assert_allclose(out_x[:, : t + 1], out_y[:, : t + 1], rtol=0, atol=1e-12)
    # and the gradient of out[:, t] reaches nothing after t: exactly zero
    dout = np.zeros_like(out_y)
    dout[:, t] = 1.0
    dx = mha.backward(dout)
    np.testing.assert_array_equal(dx[:, t + 1:], 0.0)
    if t + 1 < T:  # without the mask, the future does matter (so the test above can fail)
        free = mha64(2 * nh, nh, seed=seed)
        assert not np.allclose(free(x)[:, t], free(y)[:, t], atol=1e-6)


# -- against torch.nn.MultiheadAttention with copied weights ---------------------------------

def copy_from_torch(ours: MultiHeadAttention, ref: torch.nn.MultiheadAttention) -> None:
    E = ours.embed_dim
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    if "in_proj_weight" in sd:
        wq, wk, wv = np.split(sd["in_proj_weight"], 3)           # (3E, E) -> 3 x (E, E)
    else:
        wq, wk, wv = sd["q_proj_weight"], sd["k_proj_weight"], sd["v_proj_weight"]
    state = {"q_proj.weight": wq, "k_proj.weight": wk, "v_proj.weight": wv,
             "out_proj.weight": sd["out_proj.weight"]}
    if "in_proj_bias" in sd:
        bq, bk, bv = np.split(sd["in_proj_bias"], 3)
        state |= {"q_proj.bias": bq, "k_proj.bias": bk, "v_proj.bias": bv,
                  "out_proj.bias": sd["out_proj.bias"]}
    assert E == wq.shape[0]
    ours.load_state_dict(state)


def grads_of_torch(ref: torch.nn.MultiheadAttention) -> dict[str, np.ndarray]:
    g = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    if "in_proj_weight" in g:
        g["q_proj.weight"], g["k_proj.weight"], g["v_proj.weight"] = np.split(g.pop("in_proj_weight"), 3)
    else:
        g["q_proj.weight"], g["k_proj.weight"], g["v_proj.weight"] = (
            g.pop("q_proj_weight"), g.pop("k_proj_weight"), g.pop("v_proj_weight"))
    if "in_proj_bias" in g:
        g["q_proj.bias"], g["k_proj.bias"], g["v_proj.bias"] = np.split(g.pop("in_proj_bias"), 3)
    return g


@st.composite
def mha_case(draw):
    nh = draw(st.integers(1, 3))
    hs = draw(st.integers(1, 3))
    return dict(
        B=draw(st.integers(1, 2)), T=draw(st.integers(1, 4)), S=draw(st.integers(1, 4)),
        nh=nh, E=nh * hs,
        mode=draw(st.sampled_from(["self", "cross", "qkv", "kdim_vdim"])),
        mask=draw(st.sampled_from(["none", "causal", "bool", "float", "padding"])),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@given(mha_case())
def test_matches_torch_multihead_attention(c):
    B, T, S, E, nh = c["B"], c["T"], c["S"], c["E"], c["nh"]
    rng = np.random.default_rng(c["seed"])
    torch.manual_seed(c["seed"])
    kdim = vdim = E
    if c["mode"] == "self":
        S = T
    if c["mode"] == "kdim_vdim":
        kdim, vdim = E + 1, 2
    ref = torch.nn.MultiheadAttention(E, nh, bias=c["bias"], batch_first=True, kdim=kdim,
                                      vdim=vdim, dtype=torch.float64)
    if c["bias"]:  # torch initialises the in-projection bias to zero: make the test see it
        with torch.no_grad():
            ref.in_proj_bias.normal_()
            ref.out_proj.bias.normal_()
    ours = MultiHeadAttention(E, nh, bias=c["bias"], kdim=kdim, vdim=vdim).astype(np.float64)
    copy_from_torch(ours, ref)

    query = rng.standard_normal((B, T, E))
    key = rng.standard_normal((B, S, kdim))
    value = key if c["mode"] == "cross" else rng.standard_normal((B, S, vdim))
    if c["mode"] == "self":
        key = value = query
    ours_inputs = {"self": (query,), "cross": (query, key)}.get(c["mode"], (query, key, value))

    kw, tkw = {}, {}
    if c["mask"] == "causal":   # torch's is_causal is only a hint: it needs the mask itself
        kw = {"is_causal": True}
        tkw = {"attn_mask": torch.tensor(~causal_mask(T, S)), "is_causal": False}
    elif c["mask"] == "bool":   # every row keeps key 0, so no row is empty
        allowed = rng.random((T, S)) < 0.6
        allowed[:, 0] = True
        kw = {"attn_mask": allowed}
        tkw = {"attn_mask": torch.tensor(~allowed)}      # torch: True = may NOT attend
    elif c["mask"] == "float":
        m = rng.standard_normal((T, S))
        kw = {"attn_mask": m}
        tkw = {"attn_mask": torch.tensor(m)}
    elif c["mask"] == "padding":
        real = rng.random((B, S)) < 0.7
        real[:, 0] = True
        kw = {"key_padding_mask": real}
        tkw = {"key_padding_mask": torch.tensor(~real)}  # torch: True = padding

    out = ours(*ours_inputs, **kw)
    dout = rng.standard_normal(out.shape)
    dins = ours.backward(dout)
    dins = dins if isinstance(dins, tuple) else (dins,)

    tq = torch.tensor(query, requires_grad=True)
    tk = tq if c["mode"] == "self" else torch.tensor(key, requires_grad=True)
    if c["mode"] in ("self", "cross"):
        tv = tk
    else:
        tv = torch.tensor(value, requires_grad=True)
    tout, tw = ref(tq, tk, tv, need_weights=True, average_attn_weights=False, **tkw)
    tout.backward(torch.tensor(dout))

    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(ours.attn_weights, tw.detach().numpy(), rtol=TOL64, atol=TOL64)
    leaves = {"self": [tq], "cross": [tq, tk]}.get(c["mode"], [tq, tk, tv])
    for d, t in zip(dins, leaves, strict=True):
        np.testing.assert_allclose(d, t.grad.numpy(), rtol=TOL64, atol=TOL64)
    ref_grads = grads_of_torch(ref)
    assert set(ref_grads) == set(ours.grads)
    for name, g in ours.grads.items():
        np.testing.assert_allclose(g, ref_grads[name], rtol=TOL64, atol=TOL64, err_msg=name)


def test_float32_is_the_default_and_stays_float32():
    mha = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 5, 8)).astype(np.float32)
    out = mha(x, is_causal=True)
    assert out.dtype == np.float32
    assert mha.backward(np.ones_like(out)).dtype == np.float32
    additive = np.where(np.eye(5, dtype=bool), 0.0, -1.0)      # a float64 mask
    assert mha(x, attn_mask=additive).dtype == np.float32


# -- bad input -------------------------------------------------------------------------------

def test_embed_dim_not_divisible_by_heads_raises():
    with pytest.raises(ValueError, match="embed_dim 10 is not divisible by num_heads 3"):
        MultiHeadAttention(10, 3)


def test_mismatched_inputs_raise_naming_shapes():
    mha = MultiHeadAttention(6, 2, rng=np.random.default_rng(0))
    x = np.zeros((2, 4, 6))
    with pytest.raises(ValueError, match=r"query \(2, 4, 6\), key \(3, 5, 6\)"):
        mha(x, np.zeros((3, 5, 6)))
    with pytest.raises(ValueError, match=r"key \(2, 5, 6\), value \(2, 4, 6\)"):
        mha(x, np.zeros((2, 5, 6)), np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match=r"\(embed_dim, kdim, vdim\) = \(6, 6, 6\).*query \(2, 4, 5\)"):
        mha(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"\(B, T, C\).*query \(4, 6\)"):
        mha(np.zeros((4, 6)))


def test_wrong_masks_raise_naming_shapes():
    mha = MultiHeadAttention(6, 2, rng=np.random.default_rng(0))
    x = np.zeros((2, 4, 6))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 5\).*\(2, 2, 4, 4\)"):
        mha(x, attn_mask=np.ones((4, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask .*\(2, 4\).*\(4, 2\)"):
        mha(x, key_padding_mask=np.ones((4, 2), dtype=bool))
