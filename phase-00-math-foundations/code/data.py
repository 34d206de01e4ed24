"""The one place every phase gets its data from.

Three files, each pinned by SHA-256:

    tinyshakespeare.txt   the corpus of phases 02-09
    gpt2/vocab.bpe        GPT-2's 50,000 merges          (phase 03)
    gpt2/encoder.json     GPT-2's token -> id map        (phase 03)

``path("tinyshakespeare.txt")`` finds a file in this order and returns its path:

1. the folder named by the environment variable ``FROMSCRATCH_DATA`` (tests and CI point
   it at a local copy, so nothing is downloaded);
2. the user cache, ``$XDG_CACHE_HOME/fromscratch`` or ``~/.cache/fromscratch``;
3. a download from the canonical address into the cache.

Whatever the source, the SHA-256 must match. A download goes to a temporary file beside its
target and is renamed into place only after the hash matched, so a failed or interrupted
download never leaves a partial file where the next run would find it.

See phase-00-math-foundations/README.md for how to place the files by hand when offline.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "FROMSCRATCH_DATA"


@dataclass(frozen=True)
class DataFile:
    name: str    # path relative to the data folder, e.g. "gpt2/vocab.bpe"
    url: str     # canonical address
    sha256: str  # hex digest the file must have


FILES: dict[str, DataFile] = {
    f.name: f
    for f in [
        DataFile(
            "tinyshakespeare.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ),
        DataFile(
            "gpt2/vocab.bpe",
            "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
            "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
        ),
        DataFile(
            "gpt2/encoder.json",
            "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
            "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
        ),
    ]
}


class DataError(RuntimeError):
    """A data file is missing, corrupt, or could not be downloaded."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/fromscratch``, else ``~/.cache/fromscratch``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fromscratch"


def sha256_of(file: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _by_hand(entry: DataFile, target: Path) -> str:
    return (
        f"To place it by hand: download {entry.url} and save it as {target} "
        f"(or put it in a folder named by ${ENV_VAR}); its SHA-256 must be {entry.sha256}."
    )


def _verified(entry: DataFile, file: Path) -> Path:
    digest = sha256_of(file)
    if digest != entry.sha256:
        raise DataError(
            f"{entry.name}: SHA-256 mismatch at {file}: expected {entry.sha256}, got {digest}. "
            "The file is corrupt or not the one this project expects. " + _by_hand(entry, file)
        )
    return file


def download(entry: DataFile, target: Path, timeout: float = 60.0) -> Path:
    """Download ``entry`` to ``target`` atomically; the hash is checked before the rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(entry.url, timeout=timeout) as resp:
                    while block := resp.read(1 << 16):
                        h.update(block)
                        out.write(block)
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise DataError(
                    f"{entry.name}: download from {entry.url} failed ({e}). "
                    "Are you offline? " + _by_hand(entry, target)
                ) from e
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != entry.sha256:
            raise DataError(
                f"{entry.name}: the file downloaded from {entry.url} has SHA-256 {h.hexdigest()}, "
                f"expected {entry.sha256}; nothing was saved. " + _by_hand(entry, target)
            )
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def path(name: str, *, allow_download: bool = True) -> Path:
    """The verified local path of data file ``name`` (see the module docstring for the order)."""
    if name not in FILES:
        raise DataError(f"unknown data file {name!r}; known: {', '.join(sorted(FILES))}")
    entry = FILES[name]
    env = os.environ.get(ENV_VAR)
    if env:
        candidate = Path(env) / name
        if candidate.is_file():
            return _verified(entry, candidate)
    cached = cache_dir() / name
    if cached.is_file():
        return _verified(entry, cached)
    if not allow_download:
        where = f"${ENV_VAR}={env} or " if env else ""
        raise DataError(f"{name}: not found in {where}{cached.parent}. " + _by_hand(entry, cached))
    return download(entry, cached)


def read_text(name: str = "tinyshakespeare.txt") -> str:
    """The whole text of a data file, e.g. ``read_text()`` is Tiny Shakespeare (1,115,394 chars)."""
    return path(name).read_text(encoding="utf-8")


def train_val_split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The first 90% for training, the last 10% for validation (the split nanoGPT uses)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = int(len(text) * (1.0 - val_fraction))
    return text[:n], text[n:]
