"""Phase 03's embedding layer and word2vec's skip-gram loss against their torch twins.

float64, rtol 1e-6. Ids are drawn from small vocabularies so that rows repeat: the
scatter-add of the embedding's backward (``np.add.at`` by hand, ``EmbeddingBackward0`` in
torch) must give a repeated row the sum of its gradients.
"""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase03.embedding import one_hot as np_one_hot
from phase06 import cases
from phase06.embedding import one_hot
from phase06.parity import assert_parity

seeds = st.integers(0, 2**16)


@given(seeds, st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.integers(1, 6))
def test_embedding(seed, V, D, B, T):
    case = cases.embedding_lookup(np.random.default_rng(seed), V=V, D=D, B=B, T=T)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, st.integers(2, 8), st.integers(1, 4), st.integers(1, 5), st.integers(1, 4))
def test_skipgram(seed, V, D, B, K):
    case = cases.skipgram(np.random.default_rng(seed), V=V, D=D, B=B, K=K)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(st.lists(st.integers(0, 4), min_size=1, max_size=6))
def test_one_hot(ids):
    ids = np.array(ids)
    assert np.array_equal(one_hot(torch.from_numpy(ids), 5, dtype=torch.float64).numpy(), np_one_hot(ids, 5))
