"""Calculus for backpropagation: derivatives, the chain rule, Jacobians and their products.

A backward pass is the chain rule applied to arrays. This module computes every object
numerically (finite differences) so a learner can check a derivative before trusting it:

    derivative(f, x)          forward and central differences, and their error orders
    numerical_jacobian(f, x)  the full matrix J[i, j] = d f_i / d x_j
    jvp(f, x, v)              J v  (forward mode: how the output moves along v)
    vjp(f, x, u)              u^T J (reverse mode: what backprop computes)

See phase-00-math-foundations/notes/calculus-and-gradcheck.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def derivative(f: Callable[[float], float], x: float, h: float = 1e-5, method: str = "central") -> float:
    """``f'(x)`` by finite differences.

    forward  ``(f(x + h) - f(x)) / h``            error O(h)
    central  ``(f(x + h) - f(x - h)) / (2h)``     error O(h^2): the odd terms cancel

    >>> round(float(derivative(np.sin, 0.0)), 10)
    1.0
    """
    if method == "forward":
        return (f(x + h) - f(x)) / h
    if method == "central":
        return (f(x + h) - f(x - h)) / (2 * h)
    raise ValueError(f"method must be 'forward' or 'central', got {method!r}")


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``J[i, j] = d f(x)_i / d x_j`` by central differences, one column per input element.

    ``f`` maps an array of shape ``(n,)`` (or any shape, flattened) to ``(m,)`` (flattened).
    """
    x = np.array(x, dtype=np.float64)
    flat = x.reshape(-1)
    m = np.asarray(f(x)).size
    J = np.empty((m, flat.size))
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + h
        up = np.asarray(f(x), dtype=np.float64).reshape(-1)
        flat[j] = old - h
        down = np.asarray(f(x), dtype=np.float64).reshape(-1)
        flat[j] = old
        J[:, j] = (up - down) / (2 * h)
    return J


def jvp(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, v: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``J v`` with two evaluations of ``f``, no Jacobian: ``(f(x + h v) - f(x - h v)) / 2h``."""
    x = np.asarray(x, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return (np.asarray(f(x + h * v)) - np.asarray(f(x - h * v))) / (2 * h)


def vjp(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, u: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``u^T J``, shaped like ``x``: the gradient of the scalar ``u . f(x)``.

    Backprop computes exactly this, but analytically and in one sweep. Numerically it needs
    one evaluation pair per input element, which is why nobody trains by finite differences.
    """
    J = numerical_jacobian(f, x, h)
    return (np.asarray(u, dtype=np.float64).reshape(-1) @ J).reshape(np.shape(x))


def chain_rule_example(x: float) -> tuple[float, float]:
    """``y = sin(x^2)``, and ``dy/dx`` by the chain rule: ``cos(x^2) * 2x``.

    The forward pass keeps the intermediate ``u = x^2``; the backward pass multiplies the
    local derivatives from the output back: ``dy/du = cos(u)``, ``du/dx = 2x``.
    """
    u = x * x            # forward: inner function
    y = np.sin(u)        # forward: outer function
    dy_du = np.cos(u)    # backward: outer local derivative
    du_dx = 2 * x        # backward: inner local derivative
    return float(y), float(dy_du * du_dx)
