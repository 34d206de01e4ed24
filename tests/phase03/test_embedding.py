"""The embedding layer: a lookup equal to one-hot times a matrix, backward as a scatter-add."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from phase01.module import check_module
from phase03.embedding import Embedding, one_hot


def test_one_hot_times_the_table_is_the_lookup():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 3))
    ids = np.array([[4, 0, 4], [2, 2, 1]])
    # a one-hot row times W picks a row: bit-identical, since every product is by 0 or 1
    assert np.array_equal(one_hot(ids, 5) @ W, W[ids])
    emb = Embedding(5, 3).astype(np.float64)
    emb.weight.data[:] = W
    assert np.array_equal(emb(ids), one_hot(ids, 5) @ W)


def test_backward_is_the_transposed_one_hot_product():
    rng = np.random.default_rng(1)
    emb = Embedding(6, 4, rng=rng).astype(np.float64)
    ids = np.array([3, 1, 3, 3, 0])                           # id 3 three times
    dout = rng.standard_normal((5, 4))
    emb.zero_grad()
    emb(ids)
    assert emb.backward(dout) is None                          # integer ids: no input gradient
    # the gradient of (one_hot @ W) with respect to W is one_hot.T @ dout; float64 sums of
    # up to three terms in a different order: 1e-12
    np.testing.assert_allclose(emb.weight.grad, one_hot(ids, 6).T @ dout, rtol=0, atol=1e-12)
    np.testing.assert_allclose(emb.weight.grad[3], dout[0] + dout[2] + dout[3], rtol=0, atol=1e-12)
    assert np.all(emb.weight.grad[[2, 4, 5]] == 0)             # rows no id picked


def test_gradcheck_with_repeated_ids():
    rng = np.random.default_rng(2)
    emb = Embedding(7, 3, rng=rng).astype(np.float64)
    ids = np.array([[1, 1, 5, 1], [6, 5, 0, 1]])                # (B, T) with repeats
    errors = check_module(emb, ids, rng=rng)                     # default tol 1e-6
    assert set(errors) == {"weight"}


def test_the_gradient_accumulates_across_calls():
    emb = Embedding(3, 2).astype(np.float64)
    emb.zero_grad()
    for _ in range(2):
        emb(np.array([1]))
        emb.backward(np.ones((1, 2)))
    assert np.array_equal(emb.weight.grad, [[0, 0], [2, 2], [0, 0]])


@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=st.integers(0, 9)))
def test_equal_to_torch_for_any_ids_shape(ids):
    rng = np.random.default_rng(3)
    emb = Embedding(10, 5, rng=rng).astype(np.float64)
    ref = torch.nn.Embedding(10, 5, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.weight.data))
    out = emb(ids)
    ref_out = ref(torch.from_numpy(ids))
    assert out.shape == ids.shape + (5,)
    np.testing.assert_array_equal(out, ref_out.detach().numpy())  # a copy: exact
    dout = rng.standard_normal(out.shape)
    emb.zero_grad()
    emb.backward(dout)
    ref_out.backward(torch.from_numpy(dout))
    # float64 sums of the same terms, possibly in another order: 1e-12
    np.testing.assert_allclose(emb.weight.grad, ref.weight.grad.numpy(), rtol=0, atol=1e-12)


def test_bad_ids_are_errors():
    emb = Embedding(4, 2)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 4\), got min 0, max 4"):
        emb(np.array([0, 4]))
    with pytest.raises(ValueError, match="ids must be integers"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="dout has shape"):
        emb(np.array([0, 1]))
        emb.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="must be >= 1"):
        Embedding(0, 2)


def test_default_dtype_and_init():
    emb = Embedding(1000, 16, rng=np.random.default_rng(0))
    assert emb.weight.data.dtype == np.float32
    assert abs(emb.weight.data.std() - 1.0) < 0.05  # N(0, 1) as torch; 16000 draws: std err 0.006
