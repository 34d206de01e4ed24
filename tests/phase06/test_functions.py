"""Custom autograd Functions whose backward is the hand-derived formula (phase06.functions)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from phase05.layernorm import layernorm_backward, layernorm_forward
from phase06.functions import LayerNormFunction, layer_norm, softmax_cross_entropy
from phase06.parity import assert_parity


def f64(*shape, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=g).requires_grad_(requires_grad)


@settings(max_examples=20)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 6), st.booleans(), st.integers(0, 1000))
def test_layer_norm_function_passes_gradcheck(B, T, C, bias, seed):
    """torch.autograd.gradcheck: central differences in float64 against our backward
    (its default tolerances, atol 1e-5 and rtol 1e-3, on eps 1e-6 perturbations)."""
    x, w = f64(B, T, C, seed=seed), f64(C, seed=seed + 1)
    b = f64(C, seed=seed + 2) if bias else None
    assert torch.autograd.gradcheck(layer_norm, (x, w, b, 1e-5))


def test_layer_norm_function_equals_torch_and_phase05():
    x, w, b = f64(2, 3, 5), f64(5, seed=1), f64(5, seed=2)
    ours = layer_norm(x, w, b)
    dy = f64(2, 3, 5, seed=3, requires_grad=False)
    grads = torch.autograd.grad(ours, (x, w, b), dy)
    ref = F.layer_norm(x, (5,), w, b)
    ref_grads = torch.autograd.grad(ref, (x, w, b), dy)
    y_np, cache = layernorm_forward(x.detach().numpy(), w.detach().numpy(), b.detach().numpy())
    np_grads = layernorm_backward(dy.numpy(), w.detach().numpy(), cache)
    names = ["y", "dx", "dweight", "dbias"]
    assert_parity(dict(zip(names, (ours, *grads))), dict(zip(names, (ref, *ref_grads))), rtol=1e-10)  # float64
    assert_parity(dict(zip(names, (ours, *grads))), dict(zip(names, (y_np, *np_grads))), rtol=1e-10)  # same formula
    assert ours.grad_fn.name() == "LayerNormFunctionBackward"       # our node in the graph


def test_layer_norm_function_skips_gradients_nobody_asked_for():
    x, w = f64(2, 4), torch.ones(4, dtype=torch.float64)
    (dx,) = torch.autograd.grad(layer_norm(x, w, None).sum(), (x,))
    assert dx.shape == x.shape and float(dx.abs().max()) < 1e-12   # a normalised row sums to 0: constant
    with pytest.raises(RuntimeError):                              # w does not require grad
        torch.autograd.grad(layer_norm(x, w, None).sum(), (w,))
    assert LayerNormFunction.apply(x, w, None, 1e-5).shape == (2, 4)


@settings(max_examples=15)
@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 1000))
def test_softmax_cross_entropy_function(N, C, seed):
    logits = f64(N, C, seed=seed)
    targets = torch.from_numpy(np.random.default_rng(seed).integers(0, C, size=N))
    assert torch.autograd.gradcheck(lambda z: softmax_cross_entropy(z, targets), (logits,))
    ours = softmax_cross_entropy(logits, targets)
    ref = F.cross_entropy(logits, targets)
    assert_parity({"loss": ours, "grad": torch.autograd.grad(ours, logits)[0]},
                  {"loss": ref, "grad": torch.autograd.grad(ref, logits)[0]}, rtol=1e-10)   # float64
