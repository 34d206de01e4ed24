"""The twins of phase 03's embedding layer and word2vec's skip-gram loss.

``weight[ids]`` is the forward pass on both sides. The backward pass is where phase 03 had
to be careful: an id that appears twice must receive both gradient rows, which is why it
used ``np.add.at`` and not ``grad[ids] += dout``. autograd's ``EmbeddingBackward0`` does the
same scatter-add (``index_add``) on its own.

>>> import torch
>>> emb = Embedding(5, 2)
>>> emb(torch.tensor([[4, 4, 1]])).sum().backward()
>>> emb.weight.grad[:, 0].tolist()           # row 4 was used twice, row 1 once
[0.0, 1.0, 0.0, 0.0, 2.0]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def one_hot(ids: torch.Tensor, num_classes: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``(...)`` ids -> ``(..., num_classes)`` rows with a single 1, in ``dtype`` (default float)."""
    if ids.numel() and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"one_hot: ids must be in [0, {num_classes}), got min {int(ids.min())}, max {int(ids.max())}")
    return F.one_hot(ids, num_classes).to(dtype or torch.get_default_dtype())


class Embedding(nn.Module):
    """``weight (num_embeddings, embedding_dim)``, ``forward(ids) = weight[ids]``; the twin of
    ``phase03.embedding.Embedding`` (standard normal init, as ``torch.nn.Embedding``)."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding: num_embeddings and embedding_dim must be >= 1, "
                             f"got {num_embeddings} and {embedding_dim}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = nn.Parameter(torch.randn(num_embeddings, embedding_dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(f"Embedding: ids must be integers, got dtype {ids.dtype}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise ValueError(f"Embedding: ids must be in [0, {self.num_embeddings}), "
                             f"got min {int(ids.min())}, max {int(ids.max())}")
        return F.embedding(ids, self.weight)                     # (...) -> (..., D)


class SkipGram(nn.Module):
    """Skip-gram with negative sampling, the twin of ``phase03.word2vec.SkipGram``:
    ``forward(centres (B,), targets (B, 1+K))`` is the mean over the batch of
    ``-log sigma(u_0 . v) - sum_k log sigma(-u_k . v)`` (column 0 the true context)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.in_embed = Embedding(vocab_size, dim)
        self.out_embed = Embedding(vocab_size, dim)
        with torch.no_grad():                                    # word2vec's initialisation
            self.in_embed.weight.uniform_(-0.5 / dim, 0.5 / dim)
            self.out_embed.weight.zero_()

    def forward(self, centres: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        v = self.in_embed(centres)                               # (B,) -> (B, D)
        u = self.out_embed(targets)                              # (B, 1+K) -> (B, 1+K, D)
        s = torch.einsum("bd,bkd->bk", v, u)                     # (B, 1+K) scores
        sign = torch.full_like(s, -1.0)
        sign[:, 0] = 1.0                                         # +1 for the context, -1 for noise
        return F.softplus(-sign * s).sum(dim=1).mean()           # -log sigma(x) = softplus(-x)
