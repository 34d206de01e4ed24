"""One training step of phase 05's NumPy GPT against phase 06's torch twin, the whole LM.

    python benchmarks/phase06_lm_step.py                    # 4 layers, d_model 128, 4 heads, T 64, B 32
    python benchmarks/phase06_lm_step.py --threads 2 --rounds 30

This is benchmarks/phase05_step.py, reused as it is (same step: forward, cross-entropy,
backward, AdamW, float32 on the CPU; same alternation of NumPy and torch steps; same
report), with one change: the torch side is ``phase06.lm.GPT``, the twin the parity suite
holds equal to the NumPy model, instead of the benchmark's own inline model. Its attention
is always ``F.scaled_dot_product_attention`` (``--torch-attention`` is ignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

# The BLAS and OpenMP thread counts are read when NumPy and torch load: set them first.
_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--threads", type=int, default=1)
_threads = _pre.parse_known_args()[0].threads
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(_threads)

import numpy as np  # noqa: E402, F401  (loaded here, with the thread count above)
import torch  # noqa: E402, F401

from phase05.lm import GPTConfig  # noqa: E402
from phase06.lm import GPT  # noqa: E402


def load_phase05_benchmark():
    """Import benchmarks/phase05_step.py as a module (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parent / "phase05_step.py"
    spec = importlib.util.spec_from_file_location("phase05_step", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)                 # parses no arguments when imported
    return module


class TwinGPT(GPT):
    """``phase06.lm.GPT`` with the constructor the phase 05 benchmark calls."""

    def __init__(self, config: GPTConfig, explicit: bool = False):
        super().__init__(config)


def main(argv: list[str] | None = None) -> int:
    bench = load_phase05_benchmark()
    bench.args = bench.parse(sys.argv[1:] if argv is None else argv)
    bench.TorchGPT = TwinGPT                        # the one change
    print("torch side: phase06.lm.GPT (the parity suite's twin)")
    return bench.main()


if __name__ == "__main__":
    sys.exit(main())
