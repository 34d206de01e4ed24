"""The NumPy layer protocol every phase from 01 to 05 follows (and phase 06 mirrors).

A layer is a ``Module``:

- ``forward(*inputs)`` returns the output and keeps, on ``self``, what backward needs;
- ``backward(dout)`` returns the gradient of each floating-point input (one array, or a
  tuple when there are several) and *accumulates* (``+=``) into each ``Parameter.grad``;
- parameters are ``Parameter`` attributes; sub-layers are ``Module`` attributes or
  ``ModuleList`` items, and their dotted names (``blocks.0.attn.c_attn.weight``) are the
  names the torch rebuild uses, so ``torch_module.load_state_dict(...)`` of
  ``numpy_module.state_dict()`` (converted to tensors) is the whole weight transfer.

``check_module`` is the float64 gradcheck of any layer that follows this protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from phase00.gradcheck import DEFAULT_EPS, DEFAULT_TOL, check_gradients


class Parameter:
    """An array and its gradient: the NumPy twin of ``torch.nn.Parameter``."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = np.asarray(data, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: parameter discovery, state dicts, train/eval, dtype conversion."""

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *douts):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # -- discovery -----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, Parameter)`` in definition order, each parameter once.

        A parameter shared by two layers (a tied embedding and output head) is yielded
        under the first name only, as ``torch.nn.Module.named_parameters`` does.
        """
        seen: set[int] = set()
        for name, p in self._named_parameters_all(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters_all(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value._named_parameters_all(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {name: p.data for name, p in self.named_parameters()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {name: p.grad for name, p in self.named_parameters()}

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, by dotted name (tied weights appear under each name)."""
        return {name: p.data.copy() for name, p in self._named_parameters_all("")}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy arrays into the parameters in place; names and shapes must match."""
        own = dict(self._named_parameters_all(""))
        if strict:
            missing = sorted(set(own) - set(state))
            unexpected = sorted(set(state) - set(own))
            if missing or unexpected:
                raise KeyError(
                    f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                    f"unexpected keys {unexpected}"
                )
        for name, value in state.items():
            if name not in own:
                continue
            value = np.asarray(value)
            if value.shape != own[name].shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: {name} has shape {value.shape}, "
                    f"the module expects {own[name].shape}"
                )
            np.copyto(own[name].data, value, casting="same_kind")

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def astype(self, dtype) -> Module:
        """Convert every parameter (and its gradient) to ``dtype`` in place; float64 for gradchecks."""
        for p in self.parameters():  # each once, so a tied weight stays shared
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        return self


class ModuleList(Module):
    """A list of layers whose parameters are named ``0.weight``, ``1.weight``, ... as in torch."""

    def __init__(self, modules: Iterable[Module] = ()):
        self._items: list[Module] = list(modules)

    def __getitem__(self, i: int) -> Module:
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def append(self, m: Module) -> None:
        self._items.append(m)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, m in enumerate(self._items):
            yield str(i), m

    def _named_parameters_all(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for i, m in enumerate(self._items):
            yield from m._named_parameters_all(f"{prefix}{i}.")


def check_module(
    module: Module,
    *inputs: np.ndarray,
    wrt: Sequence[int] | None = None,
    rng: np.random.Generator | None = None,
    eps: float = DEFAULT_EPS,
    tol: float = DEFAULT_TOL,
    params: bool = True,
) -> dict[str, float]:
    """Float64 gradcheck of a layer: every checked input and every parameter.

    ``backward`` returns one gradient per floating-point input, in order (a bare array
    when there is one); integer inputs (token ids, targets) and boolean masks get none.
    ``wrt`` picks which of those inputs to check (default: all of them). A layer with several outputs receives one ``dout`` per output.
    Returns the worst error per name (``input0``, ``weight``, ...); raises
    ``GradcheckError`` when one exceeds ``tol``.
    """
    rng = rng or np.random.default_rng(0)
    inputs = [np.array(x) for x in inputs]  # private copies, perturbed in place below
    float_idx = [i for i, x in enumerate(inputs) if np.issubdtype(x.dtype, np.floating)]
    wrt = float_idx if wrt is None else list(wrt)
    for i in wrt:
        if i not in float_idx:
            raise ValueError(f"input {i} is not a floating-point input; it has no gradient")
        if inputs[i].dtype != np.float64:
            raise TypeError(f"input {i} is {inputs[i].dtype}; gradchecks run in float64")
    if params:
        for name, p in module.named_parameters():
            if p.data.dtype != np.float64:
                raise TypeError(f"parameter {name} is {p.data.dtype}; call module.astype(np.float64)")

    def outputs() -> tuple[np.ndarray, ...]:
        out = module.forward(*inputs)
        return out if isinstance(out, tuple) else (out,)

    douts = tuple(rng.standard_normal(np.shape(o)) for o in outputs())
    module.zero_grad()
    outputs()
    grads = module.backward(*douts)
    if not float_idx:
        grads = ()
    elif not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(float_idx):
        raise ValueError(
            f"{type(module).__name__}.backward returned {len(grads)} input gradients "
            f"for {len(float_idx)} floating-point inputs"
        )
    by_input = dict(zip(float_idx, grads))
    arrays = {f"input{i}": inputs[i] for i in wrt}
    analytic = {f"input{i}": np.asarray(by_input[i]) for i in wrt}
    if params:
        for name, p in module.named_parameters():
            arrays[name] = p.data
            analytic[name] = p.grad.copy()

    def f() -> float:
        return float(sum(np.sum(o * d) for o, d in zip(outputs(), douts)))

    return check_gradients(f, arrays, analytic, eps=eps, tol=tol)
