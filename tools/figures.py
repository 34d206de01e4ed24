"""Regenerate every blog figure: runs ``phaseNN.figures.main(out_dir)`` for each phase.

    python -m tools.figures            # all phases
    python -m tools.figures 00 04      # just these
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    phases = sorted(ROOT.glob("phase-[0-9][0-9]-*"))
    wanted = set(argv)
    for phase in phases:
        n = phase.name[6:8]
        if wanted and n not in wanted:
            continue
        if not (phase / "code" / "figures.py").is_file():
            continue
        t0 = time.perf_counter()
        module = importlib.import_module(f"phase{n}.figures")
        out = phase / "blog" / "figures"
        out.mkdir(parents=True, exist_ok=True)
        module.main(out)
        print(f"phase {n}: figures written to {out.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
