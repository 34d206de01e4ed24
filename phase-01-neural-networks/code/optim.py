"""Optimizers in NumPy, step for step the same arithmetic as ``torch.optim``.

An optimizer holds ``param_groups``: a list of dicts, each with its ``"params"`` (a list of
``phase01.module.Parameter``) and its hyperparameters (``"lr"``, ``"weight_decay"``, ...).
A schedule changes the learning rate by writing ``group["lr"]`` before ``step()``, exactly
as with torch. ``step()`` reads each ``Parameter.grad`` and updates ``Parameter.data`` in
place; ``zero_grad()`` clears the gradients for the next backward pass.

See phase-01-neural-networks/notes/optimizers.md (Adam's bias correction worked by hand).

>>> import numpy as np
>>> from phase01.module import Parameter
>>> w = Parameter(np.array([1.0, -2.0]))
>>> opt = SGD([w], lr=0.1)
>>> w.grad[:] = [0.5, 0.5]
>>> opt.step(); w.data
array([ 0.95, -2.05])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from phase01.module import Module, Parameter


class Optimizer:
    """Base class: param groups, per-parameter state, ``zero_grad``, ``state_dict``.

    ``params`` is an iterable of ``Parameter`` or a list of dicts like
    ``[{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]``;
    keys a group leaves out come from ``defaults``.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        if isinstance(params, Module):
            params = params.parameters()
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict] = []
        self.state: dict[Parameter, dict] = {}  # per-parameter buffers (momentum, Adam moments)
        seen: set[int] = set()
        for group in groups:
            group = {**self.defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if not isinstance(p, Parameter):
                    raise TypeError(f"{type(self).__name__}: expected Parameter, got {type(p).__name__}")
                if id(p) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group")
                seen.add(id(p))
            self.param_groups.append(group)

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                self.update(p, group, self.state.setdefault(p, {}))

    def update(self, p: Parameter, group: dict, state: dict) -> None:
        """Change ``p.data`` in place from ``p.grad``; ``state`` is this parameter's buffers."""
        raise NotImplementedError

    # -- saving and restoring -----------------------------------------------------------
    def _ordered(self) -> list[Parameter]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or number}}, "param_groups": [...]}`` as torch lays it out:
        parameters are replaced by their position across all groups."""
        index = {id(p): i for i, p in enumerate(self._ordered())}
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        params = self._ordered()
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved param groups have different sizes")
        for own, saved in zip(self.param_groups, groups):
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: (np.array(v, dtype=p.dtype) if isinstance(v, np.ndarray) else v) for k, v in s.items()}


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    With ``g = grad + weight_decay * w`` and momentum ``mu``, torch's rule (no dampening):
    ``b = g`` on the first step, then ``b = mu * b + g``; the step direction is ``b``, or
    ``g + mu * b`` with ``nesterov=True``; finally ``w -= lr * direction``.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum, weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay})

    def update(self, p: Parameter, group: dict, state: dict) -> None:
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data                 # L2 penalty's gradient
        mu = group["momentum"]
        if mu:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                state["momentum_buffer"] *= mu
                state["momentum_buffer"] += g
            b = state["momentum_buffer"]
            g = g + mu * b if group["nesterov"] else b
        p.data -= (group["lr"] * g).astype(p.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2014), with L2 weight decay added to the gradient as ``torch.optim.Adam``.

    ``m = b1 m + (1-b1) g``; ``v = b2 v + (1-b2) g^2``; both start at 0, so they are biased
    towards 0 early on; dividing by ``1 - b1^t`` and ``1 - b2^t`` corrects it:
    ``w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: lr, eps, weight_decay must be >= 0, got {lr}, {eps}, {weight_decay}")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    def update(self, p: Parameter, group: dict, state: dict) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        g = p.grad
        if wd and self.decoupled:
            p.data *= 1 - lr * wd                                  # AdamW: shrink the weight itself
        elif wd:
            g = g + wd * p.data                                    # Adam: L2 penalty inside the gradient
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)               # m, first moment
            state["exp_avg_sq"] = np.zeros_like(p.data)            # v, second moment
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m += (1 - b1) * (g - m)                                    # = b1 m + (1-b1) g
        v *= b2
        v += (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t                            # bias corrections
        denom = np.sqrt(v) / math.sqrt(bc2) + eps
        p.data -= ((lr / bc1) * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2017): ``w *= 1 - lr * wd`` before
    the Adam step, so the decay is not rescaled by Adam's per-coordinate step size."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm(params: Iterable[Parameter] | Module, max_norm: float) -> float:
    """Scale every gradient by ``max_norm / total_norm`` when the global L2 norm exceeds ``max_norm``.

    Returns the total norm *before* clipping, as ``torch.nn.utils.clip_grad_norm_`` does
    (same ``1e-6`` in the denominator). A non-finite norm leaves non-finite gradients; the
    caller should stop (``phase01.train_mlp`` does).
    """
    params = params.parameters() if isinstance(params, Module) else list(params)
    total = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in params))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            p.grad *= coef
    return total
