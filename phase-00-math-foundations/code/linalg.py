"""Linear algebra the way a GPU sees it: matrix multiply from loops to one call.

A transformer is mostly matrix multiplies. This module writes the same product four
ways, from three Python loops to ``np.einsum``, so a learner can see they agree and then
measure why nobody uses the first one (``phase00.figures`` draws the timings).
It also spells out NumPy's broadcasting rule, which every later phase leans on.
See phase-00-math-foundations/notes/linear-algebra.md.
"""

from __future__ import annotations

import numpy as np


def _check_matmul(A: np.ndarray, B: np.ndarray) -> tuple[int, int, int]:
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"matmul of 2-D arrays only, got shapes {A.shape} and {B.shape}")
    (n, k), (k2, m) = A.shape, B.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: A is {A.shape}, B is {B.shape}")
    return n, k, m


def matmul_loops(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``C[i, j] = sum_p A[i, p] B[p, j]``, three Python loops: n*k*m multiply-adds.

    >>> matmul_loops(np.array([[1, 2]]), np.array([[3], [4]]))
    array([[11.]])
    """
    n, k, m = _check_matmul(A, B)
    C = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += A[i, p] * B[p, j]
            C[i, j] = s
    return C


def matmul_dot_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """One loop over rows of ``A``; each row of ``C`` is a row vector times ``B``."""
    n, k, m = _check_matmul(A, B)
    C = np.empty((n, m), dtype=np.result_type(A, B))
    for i in range(n):
        C[i] = A[i] @ B                      # (k,) @ (k, m) -> (m,)
    return C


def matmul_outer(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The product as a sum of k outer products: ``C = sum_p A[:, p] B[p, :]``.

    This view explains the backward pass of a linear layer: ``dW = X^T dY`` sums one
    outer product per example.
    """
    n, k, m = _check_matmul(A, B)
    C = np.zeros((n, m), dtype=np.result_type(A, B))
    for p in range(k):
        C += np.outer(A[:, p], B[p, :])      # (n,) x (m,) -> (n, m)
    return C


def matmul_einsum(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``np.einsum("ik,kj->ij", A, B)``: the index notation of the first docstring, run."""
    _check_matmul(A, B)
    return np.einsum("ik,kj->ij", A, B)


def batched_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Attention's workhorse: ``(..., n, k) @ (..., k, m) -> (..., n, m)`` with the leading
    axes broadcast, written with einsum so the indices are visible."""
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"inner dimensions differ: {A.shape} @ {B.shape}")
    return np.einsum("...ik,...kj->...ij", A, B)


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcasting rule, by hand.

    Align shapes on the right; in each position the sizes must be equal or one of them 1,
    and the result takes the larger. Missing leading axes count as 1.

    >>> broadcast_shape((8, 1, 6), (7, 1))
    (8, 7, 6)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast: sizes {sorted(sizes)} at axis {axis}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back down to ``shape``: the backward pass of broadcasting.

    If ``b`` of shape ``(C,)`` was added to every row of an ``(N, C)`` array, each element
    of ``b`` touched ``N`` outputs, so its gradient is the column sum.

    >>> unbroadcast(np.ones((4, 3)), (3,))
    array([4., 4., 4.])
    """
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    if grad.shape != tuple(shape):
        raise ValueError(f"cannot unbroadcast gradient of shape {grad.shape} to {shape}")
    return grad
