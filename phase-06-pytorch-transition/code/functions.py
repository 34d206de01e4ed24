"""Custom ``torch.autograd.Function``s whose backward is the formula derived by hand.

Autograd builds a backward from the forward's operations. A ``Function`` replaces that with
your own: ``forward`` saves what the backward needs (``ctx.save_for_backward``), and
``backward`` receives the gradient of the output and returns one gradient per input
(``None`` for an input that has none). This is phase 05's ``layernorm_forward`` /
``layernorm_backward`` pair, and phase 01's softmax cross-entropy, moved into torch:

    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = weight * dy
    dlogits = (softmax(logits) - onehot(targets)) / N

``torch.autograd.gradcheck`` checks such a backward against finite differences in float64,
as ``phase00.gradcheck`` did for the NumPy layers (tests/phase06/test_functions.py).

>>> import torch
>>> x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
>>> w = torch.ones(4, dtype=torch.float64, requires_grad=True)
>>> b = torch.zeros(4, dtype=torch.float64, requires_grad=True)
>>> torch.autograd.gradcheck(layer_norm, (x, w, b, 1e-5))
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class LayerNormFunction(torch.autograd.Function):
    """LayerNorm over the last axis with phase 05's hand-derived backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float):
        mu = x.mean(dim=-1, keepdim=True)                        # (..., C) -> (..., 1)
        xc = x - mu                                              # (..., C)
        var = (xc * xc).mean(dim=-1, keepdim=True)               # (..., 1) biased, as torch
        rstd = torch.rsqrt(var + eps)                            # (..., 1)
        xhat = xc * rstd                                         # (..., C)
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.has_bias = bias is not None
        y = xhat * weight                                        # (..., C) * (C,)
        return y + bias if bias is not None else y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        xhat, rstd, weight = ctx.saved_tensors
        dx = dweight = dbias = None
        lead = tuple(range(dy.ndim - 1))                         # every axis but the features
        if ctx.needs_input_grad[0]:
            g = dy * weight                                      # (..., C) dL/dxhat
            mean_g = g.mean(dim=-1, keepdim=True)                # (..., 1)
            mean_gx = (g * xhat).mean(dim=-1, keepdim=True)      # (..., 1)
            dx = rstd * (g - mean_g - xhat * mean_gx)            # (..., C)
        if ctx.needs_input_grad[1]:
            dweight = (dy * xhat).sum(dim=lead)                  # (..., C) -> (C,)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            dbias = dy.sum(dim=lead)                             # (..., C) -> (C,)
        return dx, dweight, dbias, None                          # eps has no gradient


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
               eps: float = 1e-5) -> torch.Tensor:
    """``LayerNormFunction.apply``: the same numbers as ``F.layer_norm``, our backward."""
    return LayerNormFunction.apply(x, weight, bias, eps)


class SoftmaxCrossEntropyFunction(torch.autograd.Function):
    """Mean cross-entropy of ``logits (N, C)`` against ``targets (N,)``, phase 01's backward."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor):
        logp = torch.log_softmax(logits, dim=-1)                 # (N, C)
        ctx.save_for_backward(logp, targets)
        return -logp.gather(1, targets[:, None]).mean()          # (N, C) -> (N, 1) -> ()

    @staticmethod
    def backward(ctx, dout: torch.Tensor):
        logp, targets = ctx.saved_tensors
        grad = logp.exp() - F.one_hot(targets, logp.shape[-1]).to(logp.dtype)   # softmax - onehot
        return grad * (dout / logp.shape[0]), None               # targets are ids: no gradient


def softmax_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return SoftmaxCrossEntropyFunction.apply(logits, targets)
