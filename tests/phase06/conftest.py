"""Phase 06's tests run tiny tensors: one torch thread per test (the root conftest's
``one_torch_thread``)."""

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Switch on the root conftest's ``one_torch_thread`` for every test in this folder."""
