"""The one comparison helper of the parity suite (``tests/parity/``).

``compare(actual, expected)`` takes two mappings from names to arrays or tensors (outputs,
input gradients, parameter gradients) and reports the worst element of each by name, so a
failure reads ``decoder.layers.1.ln1.weight grad: rel err 3.0e-02 at (5,)`` rather than a
wall of numbers. ``assert_parity`` raises when any exceeds the tolerance.

The error of an element is ``|a - e| / max(|a|, |e|, floor)`` where ``floor`` is
``scale_floor`` times the largest ``|e|`` of that array (and at least ``abs_floor``):
relative for the elements that carry the array's signal, and no false alarm on elements
that cancelled to nearly zero (their error is a few ulps of the array's scale, not of
themselves), nor on an array that is zero in exact arithmetic (the gradient of a query
that attends to a single key is 0; one implementation returns 0, another 1e-17).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch


def to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


@dataclass
class Mismatch:
    name: str
    err: float
    index: tuple[int, ...]
    actual: float
    expected: float

    def __str__(self) -> str:
        return (f"{self.name}: rel err {self.err:.1e} at {self.index} "
                f"(got {self.actual:.6g}, expected {self.expected:.6g})")


def worst_element(actual, expected, scale_floor: float = 1e-6, abs_floor: float = 1e-9) -> Mismatch:
    a = to_numpy(actual).astype(np.float64)
    e = to_numpy(expected).astype(np.float64)
    if a.shape != e.shape:
        raise ValueError(f"shapes differ: got {a.shape}, expected {e.shape}")
    if a.size == 0:
        return Mismatch("", 0.0, (), 0.0, 0.0)
    floor = max(scale_floor * float(np.max(np.abs(e))), abs_floor)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - e) / np.maximum(np.maximum(np.abs(a), np.abs(e)), floor)
    err = np.where(np.isnan(a) != np.isnan(e), np.inf, np.nan_to_num(err, nan=0.0))
    idx = np.unravel_index(int(np.argmax(err)), a.shape)
    return Mismatch("", float(err[idx]), tuple(int(i) for i in idx), float(a[idx]), float(e[idx]))


def compare(actual: Mapping, expected: Mapping, scale_floor: float = 1e-6,
            abs_floor: float = 1e-9) -> list[Mismatch]:
    """The worst element of every named pair; names must match exactly."""
    if set(actual) != set(expected):
        raise KeyError(f"names differ: only in actual {sorted(set(actual) - set(expected))}, "
                       f"only in expected {sorted(set(expected) - set(actual))}")
    out = []
    for name in expected:
        try:
            m = worst_element(actual[name], expected[name], scale_floor, abs_floor)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        m.name = name
        out.append(m)
    return out


def assert_parity(actual: Mapping, expected: Mapping, rtol: float, scale_floor: float = 1e-6,
                  abs_floor: float = 1e-9) -> float:
    """Raise ``AssertionError`` listing every name whose worst error exceeds ``rtol``.

    Returns the worst error over all names (for reports such as the blog's figure).
    """
    results = compare(actual, expected, scale_floor, abs_floor)
    bad = [m for m in results if not m.err <= rtol]
    if bad:
        worst_first = sorted(bad, key=lambda m: -m.err)
        raise AssertionError(f"parity failed (rtol {rtol:.0e}): " + "; ".join(map(str, worst_first)))
    return max((m.err for m in results), default=0.0)
