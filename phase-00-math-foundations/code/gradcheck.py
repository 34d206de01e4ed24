"""Finite-difference gradient checking: the judge of every hand-written backward pass.

Every later phase proves its backward passes with the two functions here:

    numerical_gradient(f, x)                 central differences of a scalar f w.r.t. array x
    check_gradients(f, arrays, analytic)     compares hand-derived gradients with them, by name

The error measure is ``|a - n| / max(|a|, |n|, 1)``: relative where a gradient is larger
than 1, absolute where it is smaller (a relative error of a gradient of 1e-9 is noise, not
a bug). In float64 with ``eps = 1e-6`` a correct backward sits near 1e-9; a wrong one is
off by the size of the gradient itself. The default tolerance, 1e-6, sits between the two.

See phase-00-math-foundations/notes/calculus-and-gradcheck.md for the derivation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

DEFAULT_EPS = 1e-6
DEFAULT_TOL = 1e-6


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one beyond the tolerance."""


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place (and restoring it).

    ``f`` takes no arguments: it reads ``x`` (and whatever else) from its closure, so the
    same ``f`` serves for an input and for every parameter of a layer.

    >>> x = np.array([1.0, 2.0])
    >>> g = numerical_gradient(lambda: float((x ** 2).sum()), x)
    >>> np.allclose(g, [2.0, 4.0])
    True
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradcheck needs float64 arrays (float32 loses 8 digits), got {x.dtype}")
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)  # a view: writing to it writes to x
    if not np.shares_memory(flat_x, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + eps
        f_plus = f()
        flat_x[i] = old - eps
        f_minus = f()
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1.0) -> np.ndarray:
    """Elementwise ``|a - b| / max(|a|, |b|, floor)``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)


def worst(a: np.ndarray, b: np.ndarray, floor: float = 1.0) -> tuple[float, tuple[int, ...]]:
    """The largest ``rel_error`` between ``a`` and ``b`` and the index where it occurs."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0, ()
    err = rel_error(a, b, floor)
    if not np.all(np.isfinite(err)):
        idx = np.unravel_index(int(np.argmax(~np.isfinite(err))), a.shape)
        return float("inf"), tuple(int(i) for i in idx)
    idx = np.unravel_index(int(np.argmax(err)), a.shape)
    return float(err[idx]), tuple(int(i) for i in idx)


def check_gradients(
    f: Callable[[], float],
    arrays: Mapping[str, np.ndarray],
    analytic: Mapping[str, np.ndarray],
    eps: float = DEFAULT_EPS,
    tol: float = DEFAULT_TOL,
) -> dict[str, float]:
    """Compare ``analytic[name]`` with the numerical gradient of ``f`` w.r.t. ``arrays[name]``.

    Returns the worst error per name. Raises ``GradcheckError`` naming the array, the error,
    the element and both values when any error exceeds ``tol``, e.g.
    ``"W: rel err 3.2e-02 at (1, 0): analytic 0.5, numeric 0.484 (tol 1e-06)"``.
    """
    missing = set(arrays) ^ set(analytic)
    if missing:
        raise KeyError(f"arrays and analytic gradients name different things: {sorted(missing)}")
    report: dict[str, float] = {}
    failures = []
    for name, x in arrays.items():
        a = np.asarray(analytic[name])
        if a.shape != x.shape:
            raise ValueError(f"{name}: analytic gradient shape {a.shape} != array shape {x.shape}")
        n = numerical_gradient(f, x, eps)
        err, idx = worst(a, n)
        report[name] = err
        if not err <= tol:
            failures.append(
                f"{name}: rel err {err:.1e} at {idx}: analytic {a[idx]:.6g}, "
                f"numeric {n[idx]:.6g} (tol {tol:.0e})"
            )
    if failures:
        raise GradcheckError("; ".join(failures))
    return report


def gradcheck(
    fn: Callable[..., np.ndarray],
    grad_fn: Callable[..., tuple[np.ndarray, ...]],
    *inputs: np.ndarray,
    rng: np.random.Generator | None = None,
    eps: float = DEFAULT_EPS,
    tol: float = DEFAULT_TOL,
) -> dict[str, float]:
    """Check a pure function and its hand-written vector-Jacobian product.

    ``fn(*inputs)`` returns an array ``out``; ``grad_fn(dout, *inputs)`` returns one
    gradient per input. A random ``dout`` turns ``out`` into the scalar ``sum(out * dout)``
    whose gradient is exactly what ``grad_fn`` claims to compute. Inputs are named
    ``x0, x1, ...`` in the report.

    >>> gradcheck(np.tanh, lambda dout, x: (dout * (1 - np.tanh(x) ** 2),), np.linspace(-2, 2, 5))["x0"] < 1e-8
    True
    """
    rng = rng or np.random.default_rng(0)
    inputs = tuple(np.array(x, dtype=np.float64) for x in inputs)  # private copies
    dout = rng.standard_normal(np.shape(fn(*inputs)))
    analytic = grad_fn(dout, *inputs)
    if len(analytic) != len(inputs):
        raise ValueError(f"grad_fn returned {len(analytic)} gradients for {len(inputs)} inputs")

    def f() -> float:
        return float(np.sum(fn(*inputs) * dout))

    names = [f"x{i}" for i in range(len(inputs))]
    return check_gradients(f, dict(zip(names, inputs)), dict(zip(names, analytic)), eps, tol)
