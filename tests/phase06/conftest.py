"""Phase 06's tests run tiny tensors: one torch thread each is faster than a pool of threads
waking up for every small product on a busy machine (tests/parity does the same)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
