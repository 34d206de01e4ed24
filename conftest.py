"""Shared test set-up: data folder, hypothesis profiles, a headless matplotlib, and the
``one_torch_thread`` fixture the torch test folders switch on in their conftest."""

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent

# Tests never download: point phase00.data at ../shared/data when it is there.
_shared = ROOT.parent / "shared" / "data"
if "FROMSCRATCH_DATA" not in os.environ and _shared.is_dir():
    os.environ["FROMSCRATCH_DATA"] = str(_shared)

# "ci": the same examples on every run (CI never flakes); "dev": fresh examples each run.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test, restored after it. Tests of tiny tensors run faster on
    one thread than with a pool waking up for every 4x4 product (20x on a busy two-core
    machine). torch is imported here, not above, so the NumPy phases' tests never load it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
