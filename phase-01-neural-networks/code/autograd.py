"""A scalar autograd engine: every number remembers how it was made, so it can pass gradients back.

This is the idea of Karpathy's micrograd, written here from the chain rule up. A ``Value``
holds a float ``data``, a ``grad`` (``d output / d self``, filled by ``backward``), the
``Value``s it was computed from, and a small function that pushes its own ``grad`` to them.
``backward()`` orders the graph topologically (every node after everything it depends on),
seeds the output's gradient with 1 and walks the order in reverse.

>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a          # c = ab + a
>>> c.backward()
>>> a.grad, b.grad         # dc/da = b + 1, dc/db = a
(-2.0, 2.0)

See phase-01-neural-networks/blog/backprop-by-hand-then-by-graph.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable


class Value:
    """A scalar node of a computation graph: ``data``, ``grad`` and how to send ``grad`` back."""

    __slots__ = ("data", "grad", "_parents", "_backward", "op")

    def __init__(self, data: float, _parents: tuple[Value, ...] = (), op: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._parents = _parents
        self._backward: Callable[[], None] = lambda: None
        self.op = op  # which operation made this node, for printing graphs

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(x: Value | float) -> Value:
        return x if isinstance(x, Value) else Value(x)

    # -- the operations and their local derivatives ----------------------------------------
    def __add__(self, other: Value | float) -> Value:
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> Value:
        if isinstance(k, Value):
            raise TypeError("Value ** Value is not supported; use exp(b * log(a))")
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward() -> None:  # d(a^k)/da = k a^(k-1)
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:  # d e^a / da = e^a, which is out itself
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"Value.log: needs a positive number, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:  # d log a / da = 1 / a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:  # d tanh a / da = 1 - tanh(a)^2
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:  # 1 where a > 0, else 0 (0 at a = 0, as torch)
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    # -- everything else is built from the operations above -------------------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-Value._lift(other))

    def __truediv__(self, other: Value | float) -> Value:
        return self * Value._lift(other) ** -1.0

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return Value._lift(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return Value._lift(other) / self

    # -- backpropagation ---------------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every node this one depends on, each after all of its parents (iterative DFS)."""
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents if id(p) not in visited)
        return order

    def backward(self) -> None:
        """Fill ``grad`` of every node upstream with ``d self / d node``.

        Every node's ``grad`` is first reset to 0, so a second ``backward`` does not add to
        the first (unlike torch, which accumulates across calls). Within one pass gradients
        do accumulate (``+=``): a node used twice sums the contributions of both paths.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


# -- a tiny MLP on Values ---------------------------------------------------------------------
class Neuron:
    """``act(w . x + b)`` with ``Value`` weights; ``act`` is ``"tanh"``, ``"relu"`` or ``"linear"``."""

    def __init__(self, n_in: int, act: str = "tanh", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1, 1) / math.sqrt(n_in)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.act = act

    def __call__(self, x: Iterable[Value | float]) -> Value:
        s = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return {"tanh": s.tanh, "relu": s.relu, "linear": lambda: s}[self.act]()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class ScalarMLP:
    """Layers of ``Neuron``s; hidden layers use ``act``, the last layer is linear.

    >>> net = ScalarMLP([2, 4, 1], rng=random.Random(1))
    >>> len(net.parameters())  # (2*4 + 4) + (4*1 + 1)
    17
    """

    def __init__(self, sizes: list[int], act: str = "tanh", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.layers = [
            [Neuron(n_in, act if i < len(sizes) - 2 else "linear", rng) for _ in range(n_out)]
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]

    def __call__(self, x: Iterable[Value | float]) -> list[Value]:
        out = list(x)
        for layer in self.layers:
            out = [neuron(out) for neuron in layer]
        return out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for neuron in layer for p in neuron.parameters()]


def train_scalar_mlp(xs: list[list[float]], ys: list[float], sizes: list[int] = (2, 8, 1),
                     steps: int = 100, lr: float = 0.1, seed: int = 0) -> tuple[ScalarMLP, list[float]]:
    """Fit ``ys`` (labels +-1) with a ``ScalarMLP`` by full-batch gradient descent on the
    squared error ``mean((y - f(x))**2)``. Returns the net and its loss per step.

    >>> xs, ys = [[0, 0], [0, 1], [1, 0], [1, 1]], [-1, 1, 1, -1]   # XOR
    >>> net, losses = train_scalar_mlp(xs, ys, sizes=[2, 4, 1], steps=200, lr=0.2)
    >>> losses[-1] < 0.05
    True
    """
    net = ScalarMLP(list(sizes), rng=random.Random(seed))
    losses = []
    for _ in range(steps):
        preds = [net(x)[0] for x in xs]
        loss = sum(((p - y) ** 2 for p, y in zip(preds, ys)), Value(0.0)) / len(xs)
        loss.backward()
        for p in net.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return net, losses
