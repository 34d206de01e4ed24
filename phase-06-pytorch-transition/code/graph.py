"""Read the graph autograd recorded: the ``grad_fn`` chain behind a tensor, as text.

Every tensor computed from one that requires a gradient carries ``grad_fn``, the node that
will run its backward; ``grad_fn.next_functions`` are the nodes of its inputs. Walking them
from the output gives the backward pass in the order ``loss.backward()`` runs it: the same
list of hand-written backward calls phase 05's ``Block.backward`` made, now discovered
rather than written. Leaves are ``AccumulateGrad`` nodes, one per parameter: the
``p.grad += ...`` of the NumPy layers.

>>> import torch
>>> w = torch.nn.Parameter(torch.ones(2))
>>> y = (torch.tanh(w) * 3).sum()
>>> print("\\n".join(grad_fn_lines(y, {"w": w})))
SumBackward0
  MulBackward0
    TanhBackward0
      AccumulateGrad -> w
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def grad_fn_lines(output: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None,
                  max_depth: int = 60) -> list[str]:
    """The graph behind ``output``, one node per line, each indented under the node whose
    backward feeds it. A node reached twice (a tensor used twice, like the residual stream)
    is printed the second time as ``(see above)``; parameters are named from ``params``."""
    names = {id(p): n for n, p in (params or {}).items()}
    seen: set[int] = set()
    lines: list[str] = []

    def visit(node, depth: int) -> None:
        if node is None or depth > max_depth:
            return
        label = type(node).__name__
        if hasattr(node, "variable"):                          # AccumulateGrad: a leaf tensor
            label += f" -> {names.get(id(node.variable), tuple(node.variable.shape))}"
        if id(node) in seen:
            lines.append("  " * depth + label + " (see above)")
            return
        seen.add(id(node))
        lines.append("  " * depth + label)
        for child, _ in node.next_functions:
            visit(child, depth + 1)

    visit(output.grad_fn, 0)
    return lines


def backward_nodes(output: torch.Tensor) -> list[str]:
    """The distinct node types behind ``output``, in the order first met from the output."""
    order: list[str] = []
    for line in grad_fn_lines(output):
        name = line.strip().split(" ")[0]
        if name not in order:
            order.append(name)
    return order
