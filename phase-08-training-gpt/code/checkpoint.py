"""Checkpoints that lose nothing: atomic writes, exact resume, safe loading.

**Atomic.** A checkpoint is written to a temporary file in the same folder, flushed and
``fsync``-ed, then renamed over ``ckpt.pt`` with ``os.replace`` (atomic on POSIX and on
Windows), and the folder is ``fsync``-ed so the rename itself survives a power cut. A crash
at any moment leaves either the old checkpoint or the new one, never half of one.

**Exact.** Besides the model it holds everything the next step depends on: the optimizer's
moments and step counts, the schedule, the mixed-precision loss scaler, the random number
generators (torch's CPU generator and the device's, NumPy's global one, Python's), and the
data sampler's position. Resuming from step 10 then replays steps 10..19 bit for bit.

**Safe.** ``torch.load(..., weights_only=True)`` unpickles only tensors and primitive
containers, never arbitrary objects, so a checkpoint from a stranger cannot run code. That
is why everything stored here is a tensor, a number, a string or a dict/list/tuple of those.

See phase-08-training-gpt/notes/checkpoints.md.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

FORMAT = "fromscratch-phase08-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "iter", "model", "optimizer", "schedule", "config", "rng")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, foreign, or does not fit the run."""


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a directory for fsync; its rename is durable enough
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_atomic(state: dict, path: str | Path) -> Path:
    """Write ``state`` to ``path`` so that ``path`` is always a complete checkpoint.

    The temporary file is removed if anything fails before the rename (the old file at
    ``path`` is then untouched).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)  # a no-op after a successful rename
    return path


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint written by ``save_atomic`` with this module's format, checked.

    Raises ``CheckpointError`` naming the file and what is wrong with it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "ckpt.pt"
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways; all mean "unreadable"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint: it is truncated, corrupted, or holds objects "
            f"that weights_only=True refuses to unpickle ({first})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        what = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a phase08 checkpoint (expected format {FORMAT!r}; "
                              f"found {what})")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')!r}; "
                              f"this code reads version {VERSION}")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {missing}")
    return state


def _reason(e: Exception) -> str:
    """The informative line of torch.load's error (its first lines are generic advice)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if "WeightsUnpickler error" in ln or "Unsupported global" in ln:
            return ln.split(" Please use")[0]
    return lines[0] if lines else type(e).__name__


# ------------------------------------------------------------------------------ RNG states
def rng_state(device: torch.device) -> dict:
    """Every generator a training step may draw from, as tensors and primitives."""
    np_state = np.random.get_state(legacy=False)  # noqa: NPY002 - the global generator is what we save
    np_state["state"]["key"] = torch.from_numpy(np_state["state"]["key"].astype(np.int64))
    state = {"torch": torch.get_rng_state(), "numpy": np_state, "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore what ``rng_state`` captured (the device generator only on the same kind of device)."""
    torch.set_rng_state(state["torch"])
    np_state = dict(state["numpy"])
    np_state["state"] = dict(np_state["state"])
    np_state["state"]["key"] = np_state["state"]["key"].numpy().astype(np.uint32)
    np.random.set_state(np_state)  # noqa: NPY002
    random.setstate(_as_tuples(state["python"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    if device.type == "mps" and "mps" in state:
        torch.mps.set_rng_state(state["mps"])


def _as_tuples(x):
    """``random.setstate`` wants tuples; be tolerant of lists."""
    if isinstance(x, list | tuple):
        return tuple(_as_tuples(v) for v in x)
    return x
