"""Moving weights between a NumPy layer (``phase01.module``) and its torch twin.

Both sides name parameters the same way (``blocks.0.attn.c_attn.weight``) and shape them the
same way (``Linear.weight`` is ``(out, in)``), so the transfer is one dictionary
comprehension; the functions here add the checks that make a mistake loud.

>>> import numpy as np
>>> from phase01.layers import Linear as NumpyLinear
>>> from phase06.layers import Linear
>>> ours = NumpyLinear(3, 2, rng=np.random.default_rng(0))
>>> twin = load_numpy_weights(Linear(3, 2), ours)
>>> bool(np.array_equal(twin.weight.detach().numpy(), ours.weight.data))
True
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def numpy_state_to_torch(state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """``{name: array}`` -> ``{name: tensor}`` (``torch.from_numpy``: no copy until loading)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def load_numpy_weights(twin: nn.Module, numpy_module) -> nn.Module:
    """Copy every parameter of ``numpy_module`` into ``twin`` by name; returns ``twin``.

    ``load_state_dict`` copies *into* the twin's existing tensors, converting to their dtype
    and device: build (or ``.to(torch.float64)``) the twin first when the copy must keep
    float64. ``strict=True``: a name on one side only is a ``RuntimeError`` naming it.
    """
    twin.load_state_dict(numpy_state_to_torch(numpy_module.state_dict()), strict=True)
    return twin


def save_torch_weights(twin: nn.Module, numpy_module) -> None:
    """The other direction: copy the twin's parameters into the NumPy module, by name."""
    names = set(numpy_module.state_dict())
    state = {k: v.detach().cpu().numpy() for k, v in twin.state_dict().items() if k in names}
    numpy_module.load_state_dict(state, strict=True)
