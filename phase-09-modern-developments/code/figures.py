"""The blog's figures: ``python -m phase09.figures`` writes them into blog/figures.

- ``rope_frequencies.png``: the RoPE angular frequencies and what a rotation does to one pair.
- ``flash_memory.png`` and ``rlhf_dpo.png`` come from ``benchmarks/phase09_flash.py`` and the
  ``phase09.rlhf`` / ``phase09.dpo`` demos (they take minutes); this module redraws them
  from their saved results when those exist.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phase09.rope import rope_frequencies, rope_np  # noqa: E402

FIG_DIR = Path(__file__).resolve().parents[1] / "blog" / "figures"


def rope_figure(path: Path, head_dim: int = 64) -> None:
    theta = rope_frequencies(head_dim)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.semilogy(np.arange(head_dim // 2), theta, "o", ms=3)
    a.set_xlabel("pair j")
    a.set_ylabel("theta_j (radians per position)")
    a.set_title(f"RoPE frequencies, head_dim {head_dim}")
    a2 = a.twinx()
    a2.semilogy(np.arange(head_dim // 2), 2 * np.pi / theta, "r.", ms=3)
    a2.set_ylabel("wavelength (positions)", color="r")
    m = np.arange(0, 64)
    q = np.zeros((64, head_dim))
    q[:, 0] = 1.0   # pair 0 in the half layout: coordinates 0 and head_dim / 2
    q[:, 8] = 1.0   # pair 8
    rot = rope_np(q, m)
    b.plot(rot[:, 0], rot[:, head_dim // 2], ".-", lw=0.5, label="pair 0 (fast)")
    b.plot(rot[:, 8], rot[:, 8 + head_dim // 2], "o-", ms=3, label="pair 8 (slower)")
    b.set_aspect("equal")
    b.set_title("one pair at positions 0..63")
    b.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(out_dir: Path = FIG_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "rope_frequencies.png"]
    rope_figure(written[0])
    saved = FIG_DIR / "flash_memory.json"
    if saved.is_file():
        import importlib.util
        bench = Path(__file__).resolve().parents[2] / "benchmarks" / "phase09_flash.py"
        spec = importlib.util.spec_from_file_location("phase09_flash_bench", bench)
        if spec and spec.loader and bench.is_file():
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            mod.plot(json.loads(saved.read_text()), out_dir / "flash_memory.png")
            written.append(out_dir / "flash_memory.png")
    return written


if __name__ == "__main__":
    for p in main():
        print(p)
