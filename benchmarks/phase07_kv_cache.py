"""Generation speed with and without the KV cache (phase 07).

    python benchmarks/phase07_kv_cache.py                 # auto device, 256 and 512 new tokens
    python benchmarks/phase07_kv_cache.py --device cpu --threads 1

The model is the shakespeare-char architecture (6 layers, 6 heads, 384 wide, 65 tokens)
with random weights: speed does not depend on what the weights say. One prompt token,
greedy decoding, batch 1. Both paths must produce the same tokens; the program checks.

The preset's context is 256 positions, so 512 new tokens do not fit in it: past 256 the
window slides, every position (hence every key) changes at each step, and the cached path
has to recompute the window like the uncached one. The main table therefore raises
block_size to 1024 (only the position table grows); a second table shows the preset's own
256 context, where the cache helps only for the first 256 tokens.
"""

from __future__ import annotations

import argparse
import time

import torch

from phase06.device import pick_device
from phase07.generate import generate
from phase07.gpt import GPT, GPTConfig


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(model: GPT, n: int, use_cache: bool, device: torch.device) -> tuple[float, torch.Tensor]:
    idx = torch.zeros(1, 1, dtype=torch.long, device=device)
    sync(device)
    t0 = time.perf_counter()
    out = generate(model, idx, n, temperature=0, use_cache=use_cache)
    sync(device)
    return time.perf_counter() - t0, out


def table(block_size: int, new_tokens: list[int], device: torch.device) -> None:
    torch.manual_seed(0)
    config = GPTConfig.from_preset("shakespeare-char", block_size=block_size, dropout=0.0)
    model = GPT(config).to(device).eval()
    timed(model, 8, True, device)  # warm-up: first calls allocate and pick kernels
    timed(model, 8, False, device)
    print(f"\nshakespeare-char, block_size {block_size}, {model.num_parameters():,} parameters, {device}")
    print(f"{'new tokens':>10} {'no cache tok/s':>15} {'cache tok/s':>12} {'speedup':>8} {'same tokens':>12}")
    for n in new_tokens:
        t_plain, out_plain = timed(model, n, False, device)
        t_cache, out_cache = timed(model, n, True, device)
        same = "yes" if torch.equal(out_plain, out_cache) else "NO"
        print(f"{n:>10} {n / t_plain:>15.1f} {n / t_cache:>12.1f} {t_plain / t_cache:>7.1f}x {same:>12}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--skip-preset-context", action="store_true",
                        help="only the block_size 1024 table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    table(1024, args.new_tokens, device)
    if not args.skip_preset_context:
        table(256, args.new_tokens, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
