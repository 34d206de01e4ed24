"""Run a NumPy layer and its torch twin on the same input, collect everything to compare.

``run_pair(numpy_module, twin, inputs, kwargs)``:

1. copies the NumPy weights into the twin by name (``phase06.convert.load_numpy_weights``);
2. NumPy: ``out = numpy_module(*inputs, **kwargs)``, then ``numpy_module.backward(*douts)``
   with random upstream gradients ``douts``, one per output: the hand-written backward;
3. torch: the same inputs as tensors (floating ones with ``requires_grad``), then
   ``sum(out * dout).backward()``: autograd's gradient of the same surrogate loss;
4. returns two dicts with the same names, ready for ``phase06.parity.assert_parity``::

       "out" (or "out0", "out1", ...)      the outputs
       "input0 grad", ...                  the gradient of every floating-point input
       "blocks.0.ln1.weight grad", ...     the gradient of every parameter, by name

Integer inputs (token ids, lengths) and masks get no gradient, as in ``check_module``;
pass masks through ``kwargs``. A loss's scalar output gets a scalar upstream gradient.

>>> import numpy as np
>>> from phase01.layers import Linear as NumpyLinear
>>> from phase06.layers import Linear
>>> np_lin = NumpyLinear(3, 2, rng=np.random.default_rng(0)).astype(np.float64)
>>> actual, expected = run_pair(np_lin, Linear(3, 2).double(), [np.ones((4, 3))])
>>> sorted(actual)
['bias grad', 'input0 grad', 'out', 'weight grad']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from phase06.convert import load_numpy_weights


def _as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _is_float(x) -> bool:
    return isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)


def to_torch(x, requires_grad: bool = False):
    """Arrays to tensors (floats may require grad); ``None`` and Python values pass through."""
    if isinstance(x, np.ndarray):
        t = torch.from_numpy(np.array(x))          # a private copy: no aliasing with NumPy
        return t.requires_grad_(requires_grad and t.is_floating_point())
    return x


def _names(module, prefix: str) -> dict[str, object]:
    return {f"{prefix}{n}": p for n, p in module.named_parameters()}


def run_pair(numpy_module, twin: nn.Module, inputs: Sequence, kwargs: Mapping | None = None,
             wrt: Sequence[int] | None = None, seed: int = 0,
             load_weights: bool = True) -> tuple[dict, dict]:
    """``(actual, expected)``: the twin's outputs and gradients, and the NumPy module's.

    ``wrt``: the positions of the inputs that have a gradient (default: every floating-point
    input; a loss's float target has none, so ``MSELoss`` takes ``wrt=[0]``).
    """
    kwargs = dict(kwargs or {})
    if load_weights:
        load_numpy_weights(twin, numpy_module)
    np_names, t_names = _names(numpy_module, ""), _names(twin, "")
    if set(np_names) != set(t_names):
        raise KeyError(f"parameters differ: only in NumPy {sorted(set(np_names) - set(t_names))}, "
                       f"only in torch {sorted(set(t_names) - set(np_names))}")
    inputs = [np.asarray(x) if isinstance(x, np.ndarray | list) else x for x in inputs]
    float_idx = [i for i, x in enumerate(inputs) if _is_float(x)] if wrt is None else list(wrt)
    rng = np.random.default_rng(seed)

    # NumPy: forward, then the hand-written backward with random upstream gradients.
    numpy_module.zero_grad()
    outs = _as_tuple(numpy_module(*inputs, **kwargs))
    douts = [rng.standard_normal(np.shape(o)) for o in outs]
    grads = numpy_module.backward(*[d if np.ndim(o) else float(d) for o, d in zip(outs, douts)])
    grads = () if not float_idx else _as_tuple(grads)
    if len(grads) != len(float_idx):
        raise ValueError(f"{type(numpy_module).__name__}.backward returned {len(grads)} input "
                         f"gradients for {len(float_idx)} floating-point inputs")

    # torch: the same inputs as tensors, the same upstream gradients, autograd does the rest.
    twin.zero_grad(set_to_none=True)                             # .grad accumulates, as in NumPy
    t_inputs = [to_torch(x, requires_grad=i in float_idx) for i, x in enumerate(inputs)]
    t_outs = _as_tuple(twin(*t_inputs, **{k: to_torch(v) for k, v in kwargs.items()}))
    if len(t_outs) != len(outs):
        raise ValueError(f"NumPy gives {len(outs)} outputs, the twin {len(t_outs)}")
    surrogate = sum((o * torch.as_tensor(d, dtype=o.dtype)).sum() for o, d in zip(t_outs, douts))
    surrogate.backward()

    one = len(outs) == 1
    expected = {("out" if one else f"out{j}"): o for j, o in enumerate(outs)}
    actual = {("out" if one else f"out{j}"): o.detach() for j, o in enumerate(t_outs)}
    for i, g in zip(float_idx, grads):
        t = t_inputs[i].grad
        expected[f"input{i} grad"] = g
        actual[f"input{i} grad"] = torch.zeros_like(t_inputs[i]) if t is None else t
    for name, p in np_names.items():
        t = t_names[name]
        expected[f"{name} grad"] = p.grad
        actual[f"{name} grad"] = torch.zeros_like(t) if t.grad is None else t.grad
    return actual, expected
