"""Peak memory and time of plain vs tiled (Flash) attention against sequence length.

    .venv/bin/python benchmarks/phase09_flash.py             # T = 256 ... 8192, draws the figure
    .venv/bin/python benchmarks/phase09_flash.py --max-T 2048

Method. Both run the NumPy forward pass in float32 (one head, d = 64) on this CPU.
Peak memory is what ``tracemalloc`` sees: NumPy reports every array buffer it allocates to
Python's tracemalloc, so ``tracemalloc.get_traced_memory()[1]`` after ``reset_peak()``
is the largest total of live arrays during the call, *beyond* the inputs that already
existed (q, k, v: 3 * T * d * 4 bytes). Plain attention holds ``S`` and ``P`` (``T x T``);
the tiled version holds the output, the running ``m, l`` and one ``block x block`` tile.
Time is the best of ``--repeats`` wall-clock runs (the machine is shared: treat it as rough).
On a GPU the point of FlashAttention is fewer slow-memory reads and writes; in NumPy on a
CPU the tiled version is *slower* (Python loops over tiles), and only the memory claim
carries over. The figure is ``phase-09-modern-developments/blog/figures/flash_memory.png``.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np

from phase09.flash import attention_np, flash_forward_np

FIG_DIR = Path(__file__).resolve().parents[1] / "phase-09-modern-developments" / "blog" / "figures"


def measure(fn, repeats: int) -> tuple[float, float]:
    """(peak MiB beyond what was live before, best seconds)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return peak / 2**20, min(times)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-T", type=int, default=8192)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", type=Path, default=FIG_DIR)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    T = 256
    print(f"{'T':>6} {'plain MiB':>10} {'tiled MiB':>10} {'ratio':>7} {'plain s':>8} {'tiled s':>8}")
    while T <= args.max_T:
        q, k, v = (rng.standard_normal((T, args.d)).astype(np.float32) for _ in range(3))
        pm, pt = measure(lambda q=q, k=k, v=v: attention_np(q, k, v, causal=True), args.repeats)
        fm, ft = measure(lambda q=q, k=k, v=v: flash_forward_np(q, k, v, causal=True, block_q=args.block,
                                                  block_k=args.block), args.repeats)
        rows.append(dict(T=T, plain_mib=pm, tiled_mib=fm, plain_s=pt, tiled_s=ft))
        print(f"{T:>6} {pm:>10.2f} {fm:>10.3f} {pm / fm:>7.1f} {pt:>8.3f} {ft:>8.3f}", flush=True)
        T *= 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flash_memory.json").write_text(json.dumps(rows, indent=1))
    plot(rows, args.out / "flash_memory.png")
    print(f"wrote {args.out / 'flash_memory.png'}")
    return dict(rows=rows)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = [r["T"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.loglog(T, [r["plain_mib"] for r in rows], "o-", label="plain (S and P are T x T)")
    a.loglog(T, [r["tiled_mib"] for r in rows], "s-", label="tiled (online softmax)")
    a.set_xlabel("sequence length T")
    a.set_ylabel("peak extra memory (MiB, tracemalloc)")
    a.set_title("memory: T^2 vs T")
    a.legend(fontsize=8)
    b.loglog(T, [r["plain_s"] for r in rows], "o-", label="plain")
    b.loglog(T, [r["tiled_s"] for r in rows], "s-", label="tiled")
    b.set_xlabel("sequence length T")
    b.set_ylabel("seconds (NumPy, CPU, causal forward)")
    b.set_title("time on this CPU")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
