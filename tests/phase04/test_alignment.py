"""Bahdanau and Luong score functions: gradchecks, masks, step-by-step use, torch autograd."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase00.gradcheck import check_gradients
from phase01.module import check_module
from phase04.alignment import (
    AdditiveAttention,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
)

B, S, Dq, Dk, A = 2, 5, 3, 4, 6


def make(kind, dq=Dq, dk=Dk, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "dot":
        return DotAttention(dk)
    if kind == "general":
        return GeneralAttention(dq, dk, rng=rng).astype(np.float64)
    if kind == "additive":
        return AdditiveAttention(dq, dk, A, rng=rng).astype(np.float64)
    return ConcatAttention(dq, dk, A, rng=rng).astype(np.float64)


KINDS = ["dot", "general", "additive", "concat"]


def query_dim(kind):
    return Dk if kind == "dot" else Dq


# -- gradchecks (float64, tol 1e-6) -------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps", [None, 1, 3])     # None: one (B, Dq) query; else (B, Tq, Dq)
@pytest.mark.parametrize("masked", ["none", "padding", "one_allowed"])
def test_check_module(kind, steps, masked):
    rng = np.random.default_rng(1)
    dq = query_dim(kind)
    query = rng.standard_normal((B, dq) if steps is None else (B, steps, dq))
    keys = rng.standard_normal((B, S, Dk))
    mask = None
    if masked == "padding":
        mask = np.array([[True] * S, [True] * 2 + [False] * (S - 2)])
    elif masked == "one_allowed":               # softmax over a single key: weight exactly 1
        mask = np.zeros((B, S), dtype=bool)
        mask[:, 3] = True
    attn = make(kind)
    report = check_module(attn, query, keys, *([] if mask is None else [mask]))
    assert max(report.values()) < 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_stepwise_use_matches_all_steps_at_once_and_gradchecks(kind):
    """prepare once, attend at T steps, backward the steps in reverse, then prepare_backward."""
    rng = np.random.default_rng(2)
    T = 4
    queries = rng.standard_normal((B, T, query_dim(kind)))
    keys = rng.standard_normal((B, S, Dk))
    mask = np.array([[True] * S, [True] * 3 + [False] * (S - 3)])
    dctx = rng.standard_normal((B, T, Dk))
    attn = make(kind)

    def run():
        memory = attn.prepare(keys, mask)
        outs = [attn.attend(queries[:, t], memory) for t in range(T)]
        return memory, outs

    def loss():
        _, outs = run()
        return float(sum(np.sum(c * dctx[:, t]) for t, (c, _, _) in enumerate(outs)))

    attn.zero_grad()
    memory, outs = run()
    dq = np.zeros_like(queries)
    for t in reversed(range(T)):
        dq[:, t] = attn.attend_backward(dctx[:, t], outs[t][2])
    dkeys = attn.prepare_backward(memory)

    together = make(kind)
    ctx_all = together(queries, keys, mask)
    np.testing.assert_allclose(np.stack([c for c, _, _ in outs], 1), ctx_all, atol=1e-13)
    dq_all, dkeys_all = together.backward(dctx)
    np.testing.assert_allclose(dq, dq_all, atol=1e-13)       # the same sums, regrouped
    np.testing.assert_allclose(dkeys, dkeys_all, atol=1e-13)

    arrays = {"queries": queries, "keys": keys, **{n: p.data for n, p in attn.named_parameters()}}
    analytic = {"queries": dq, "keys": dkeys, **{n: p.grad.copy() for n, p in attn.named_parameters()}}
    assert max(check_gradients(loss, arrays, analytic).values()) < 1e-6


def test_padding_positions_get_zero_weight_and_zero_gradient():
    rng = np.random.default_rng(3)
    attn = make("additive")
    keys = rng.standard_normal((B, S, Dk))
    mask = np.array([[True] * S, [True, True, False, False, False]])
    attn(rng.standard_normal((B, 3, Dq)), keys, mask)
    np.testing.assert_array_equal(attn.weights[1, :, 2:], 0.0)
    _, dkeys = attn.backward(np.ones((B, 3, Dk)))
    np.testing.assert_array_equal(dkeys[1, 2:], 0.0)


# -- against the formulas in torch autograd ------------------------------------------------------

def torch_scores(kind, attn, q, k):
    if kind == "dot":
        return q @ k.transpose(1, 2)
    if kind == "general":
        W = torch.tensor(attn.weight.data, requires_grad=True)
        return q @ (k @ W.T).transpose(1, 2), [("weight", W)]
    Wq = torch.tensor(attn.w_query.data, requires_grad=True)
    Wk = torch.tensor(attn.w_key.data, requires_grad=True)
    v = torch.tensor(attn.v.data, requires_grad=True)
    if kind == "concat":   # Luong's form: one W over the concatenation [q; h]
        W = torch.cat([Wq, Wk], dim=1)
        Tq, S_ = q.shape[1], k.shape[1]
        qh = torch.cat([q[:, :, None].expand(-1, -1, S_, -1), k[:, None].expand(-1, Tq, -1, -1)], -1)
        e = torch.tanh(qh @ W.T) @ v
    else:
        e = torch.tanh((q @ Wq.T)[:, :, None] + (k @ Wk.T)[:, None]) @ v
    return e, [("w_query", Wq), ("w_key", Wk), ("v", v)]


@given(st.sampled_from(KINDS), st.integers(1, 3), st.integers(1, 4), st.integers(1, 6),
       st.integers(0, 2**16))
def test_matches_torch_autograd_of_the_formulas(kind, b, Tq, s, seed):
    rng = np.random.default_rng(seed)
    attn = make(kind, seed=seed)
    q = rng.standard_normal((b, Tq, query_dim(kind)))
    k = rng.standard_normal((b, s, Dk))
    ctx = attn(q, k)
    dctx = rng.standard_normal(ctx.shape)
    dq, dk = attn.backward(dctx)

    tq = torch.tensor(q, requires_grad=True)
    tk = torch.tensor(k, requires_grad=True)
    res = torch_scores(kind, attn, tq, tk)
    e, params = (res, []) if kind == "dot" else res
    tctx = torch.softmax(e, -1) @ tk
    tctx.backward(torch.tensor(dctx))
    # float64 both sides, same formulas: rounding only (~1e-15); 1e-10 is generous
    np.testing.assert_allclose(ctx, tctx.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dq, tq.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dk, tk.grad.numpy(), rtol=1e-10, atol=1e-10)
    for name, t in params:
        np.testing.assert_allclose(getattr(attn, name).grad, t.grad.numpy(), rtol=1e-10,
                                   atol=1e-10, err_msg=name)


def test_concat_weight_is_luongs_single_matrix():
    attn = make("concat")
    assert attn.concat_weight().shape == (A, Dq + Dk)


# -- bad input -----------------------------------------------------------------------------------

def test_bad_shapes_raise_naming_them():
    attn = make("additive")
    with pytest.raises(ValueError, match=r"keys must be \(B, S, 4\), got shape \(2, 5, 3\)"):
        attn(np.zeros((2, Dq)), np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"got \(3, 3\) for keys \(2, 5, 4\)"):
        attn(np.zeros((3, Dq)), np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"mask must be boolean \(B, S\) = \(2, 5\)"):
        attn(np.zeros((2, Dq)), np.zeros((2, 5, 4)), np.ones((2, 4), dtype=bool))
