"""How much arithmetic a training step is, and what fraction of the machine it uses.

**The 6N rule.** A matrix of ``N`` weights costs ``2N`` FLOPs per token on the forward pass
(a multiply and an add per weight) and ``4N`` on the backward pass (one product for the
gradient of the input, one for the gradient of the weight), so training costs about
``6N`` FLOPs per token (Kaplan et al. 2020). Attention adds the products with the keys and
values, ``2 * 2 * T * C`` per layer and token forward, so ``12 L T C`` with the backward
(Kaplan et al.'s convention, which nanoGPT also uses: it counts the full ``T x T`` score
matrix, though the causal mask makes half of it zeros). Phase 07 does the counting.

**MFU**, model FLOPs utilisation, is the FLOPs the model needs per second divided by the
device's peak. It ignores how the work was done (recomputation, padding), so it compares
implementations fairly.

See phase-08-training-gpt/notes/mfu-and-6n.md.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from dataclasses import dataclass

import torch

from phase07.inspect import training_flops_per_token


def model_flops_per_token(model) -> float:
    """Training FLOPs per token of a ``phase07.gpt.GPT`` (unwraps DDP and ``torch.compile``).

    Phase 07 counts them product by product (``phase07.inspect.training_flops_per_token``):
    three times the forward products, which is ``6 N`` for the weight matrices plus
    ``12 L T C`` for attention.
    """
    model = getattr(model, "module", model)
    model = getattr(model, "_orig_mod", model)
    return float(training_flops_per_token(model.config)["training"])


@dataclass(frozen=True)
class Peak:
    name: str        # what the number is for
    float32: float   # FLOP/s with float32 matmuls (TF32 on NVIDIA Ampere and later)
    bfloat16: float  # FLOP/s with bfloat16 (or float16) matmuls, dense
    source: str      # where the number comes from


# Peak dense FLOP/s. Ours were measured with large torch matmuls (``measure_peak``, or
# ``python -m phase08.bench --measure_peak``); the NVIDIA ones are from
# the data sheets (dense, no sparsity; float32 column is TF32, which torch uses for float32
# matmuls when allowed).
PEAKS: dict[str, Peak] = {
    # 4096 x 4096 float32 matmuls, 2 threads, on a quiet machine: 267-271 GFLOP/s (the same
    # box gave 157 while other jobs shared its cores). Its bfloat16 matmuls are slower.
    "cpu-2core-xeon": Peak("2 cores of an AVX-512 Xeon (this project's CI box)", 270e9, 270e9,
                           "measured: torch float32 matmuls, 2 threads, n=4096"),
    "apple-m4-max": Peak("Apple M4 Max GPU (40 cores)", 13.5e12, 13.5e12,
                         "measured: torch MPS float32 matmuls; bfloat16 has no faster path"),
    "nvidia-h100-sxm": Peak("NVIDIA H100 SXM", 494.7e12, 989.4e12, "data sheet"),
    "nvidia-h100-pcie": Peak("NVIDIA H100 PCIe", 378e12, 756e12, "data sheet"),
    "nvidia-a100": Peak("NVIDIA A100", 156e12, 312e12, "data sheet"),
    "nvidia-l4": Peak("NVIDIA L4", 60e12, 121e12, "data sheet"),
    "nvidia-rtx-4090": Peak("NVIDIA GeForce RTX 4090", 82.6e12, 165.2e12, "data sheet"),
    "nvidia-rtx-3090": Peak("NVIDIA GeForce RTX 3090", 35.6e12, 71e12, "data sheet"),
    "nvidia-v100": Peak("NVIDIA V100", 15.7e12, 125e12, "data sheet (float16 tensor cores)"),
    "nvidia-t4": Peak("NVIDIA T4", 8.1e12, 65e12, "data sheet (float16 tensor cores)"),
}

_CUDA_NAMES = [("h100", "pcie", "nvidia-h100-pcie"), ("h100", "", "nvidia-h100-sxm"),
               ("a100", "", "nvidia-a100"), ("l4", "", "nvidia-l4"), ("4090", "", "nvidia-rtx-4090"),
               ("3090", "", "nvidia-rtx-3090"), ("v100", "", "nvidia-v100"), ("t4", "", "nvidia-t4")]


def _mac_chip() -> str:
    try:
        out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def peak_key(device: torch.device) -> str | None:
    """The ``PEAKS`` entry for ``device``, or None when the table does not know it."""
    kind = torch.device(device).type
    if kind == "cuda":
        name = torch.cuda.get_device_name(device).lower()
        for must, also, key in _CUDA_NAMES:
            if must in name and also in name:
                return key
        return None
    if kind == "mps":
        return "apple-m4-max" if "m4 max" in _mac_chip().lower() else None
    if kind == "cpu":
        return "cpu-2core-xeon" if platform.machine() in ("x86_64", "AMD64") else None
    return None


def peak_flops(device: torch.device, dtype: torch.dtype, threads: int | None = None) -> float | None:
    """Peak FLOP/s of ``device`` at ``dtype``; None when unknown (then MFU is not shown).

    For a CPU the 2-core figure is scaled by the threads torch uses (a rough guide on other
    machines: pass ``--peak_flops`` to the trainer or the benchmark for a true figure).
    """
    key = peak_key(device)
    if key is None:
        return None
    peak = PEAKS[key]
    value = peak.float32 if dtype == torch.float32 else peak.bfloat16
    if torch.device(device).type == "cpu":
        threads = threads or torch.get_num_threads()
        value = value * threads / 2
    return value


def measure_peak(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 4096,
                 repeats: int = 10) -> float:
    """FLOP/s of ``n x n`` matmuls on ``device`` (median of ``repeats``, after two warm-ups):
    the practical peak MFU is measured against when the table has no entry for a device.

    One product is ``n^3`` multiply-adds, ``2 n^3`` FLOPs: 137 GFLOP for ``n = 4096``.
    """
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    times = []
    for i in range(repeats + 2):
        synchronize(device)
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times)


def synchronize(device: torch.device) -> None:
    """Wait for the device to finish its queued work (CUDA, MPS); a no-op on the CPU."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def mfu(tokens_per_second: float, flops_token: float, peak: float | None, n_devices: int = 1) -> float | None:
    """Model FLOPs utilisation in [0, 1]: ``tokens/s * FLOPs/token / (peak * devices)``.

    >>> round(mfu(165, 855.2e6, 270e9), 3)  # nanoGPT's 124M on 2 CPU cores, 6.2 s per 1024 tokens
    0.523
    """
    if not peak:
        return None
    return tokens_per_second * flops_token / (peak * n_devices)
