"""The parity suite runs tiny tensors: one torch thread each is faster than a pool of threads
waking up for every 4x4 product (20x on a busy two-core machine)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
