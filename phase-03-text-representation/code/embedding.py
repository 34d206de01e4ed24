"""The embedding layer: a table of vectors, one row per token id.

Multiplying a one-hot row by a matrix picks one row of the matrix:

    one_hot(ids, V) @ W  ==  W[ids]                  (..., V) @ (V, D) -> (..., D)

so an embedding layer is a linear layer whose input is one-hot, computed as a lookup. Its
backward follows from the same identity: the gradient of ``W`` is ``one_hot(ids).T @ dout``,
which adds each ``dout`` row into the row of ``W`` its id picked; an id that occurs twice
receives both rows (``np.add.at``, a scatter-add). Token ids get no gradient.

See phase-03-text-representation/notes/embeddings.md.
"""

from __future__ import annotations

import numpy as np

from phase01.module import Module, Parameter


def one_hot(ids: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    """``(...)`` integer ids -> ``(..., num_classes)`` rows of zeros with a 1 at each id.

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"one_hot: ids must be in [0, {num_classes}), got min {ids.min()}, max {ids.max()}")
    return np.eye(num_classes, dtype=dtype)[ids]  # (...) -> (..., V)


class Embedding(Module):
    """``weight`` of shape ``(num_embeddings, embedding_dim)``; ``forward(ids) = weight[ids]``.

    ``ids`` may have any shape: ``(B, T)`` token ids give ``(B, T, D)`` vectors. The
    initialisation is torch's ``nn.Embedding``: standard normal entries.

    >>> emb = Embedding(5, 2, rng=np.random.default_rng(0))
    >>> emb(np.array([[4, 4, 1]])).shape
    (1, 3, 2)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng: np.random.Generator | None = None,
                 dtype=np.float32):
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding: num_embeddings and embedding_dim must be >= 1, "
                             f"got {num_embeddings} and {embedding_dim}")
        rng = rng or np.random.default_rng()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype))

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"Embedding: ids must be integers, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise ValueError(f"Embedding: ids must be in [0, {self.num_embeddings}), "
                             f"got min {ids.min()}, max {ids.max()}")
        self.ids = ids
        return self.weight.data[ids]  # (...) -> (..., D)

    def backward(self, dout: np.ndarray) -> None:
        """Scatter-add: ``weight.grad[ids[k]] += dout[k]`` for every position ``k``, repeats included."""
        if np.shape(dout) != self.ids.shape + (self.embedding_dim,):
            raise ValueError(f"Embedding.backward: dout has shape {np.shape(dout)}, "
                             f"expected {self.ids.shape + (self.embedding_dim,)}")
        dout = np.asarray(dout, dtype=self.weight.grad.dtype)  # mixed dtypes make np.add.at ~7x slower
        np.add.at(self.weight.grad, self.ids, dout)  # (..., D) into (V, D); `grad[ids] += dout` would drop repeats
        return None  # integer ids have no gradient
