"""Text files -> token bins the trainer memory-maps.

    python -m phase08.prepare --tokenizer char --input input.txt --out data/shakespeare-char
    python -m phase08.prepare --tokenizer gpt2 --input a.txt b.txt c.txt --out data/books --workers 4
    python -m phase08.prepare --tokenizer gpt2 --hf_dataset HuggingFaceFW/fineweb-edu \\
        --hf_config sample-10BT --max_tokens 2500000000 --out data/fineweb-edu-gpt2

writes into ``--out``:

- ``train.bin`` and ``val.bin``: the token ids, one flat array each, ``uint16`` when the
  vocabulary fits in 65,536 ids (both tokenizers here), else ``uint32``. Each file
  contributes its first 90% of tokens to train and its last 10% to val (``--val_fraction``).
- ``meta.json``: the tokenizer, the vocabulary size, the dtype, the token counts, and the
  SHA-256 and token count of every source, so a run records exactly what it read.
- ``tokenizer.txt`` for the character tokenizer (phase 03's file format); its characters
  also go into ``meta.json`` (a checkpoint carries them, and sampling needs nothing else).

Files are tokenized in parallel (one task per file, ``--workers`` processes) behind a
progress bar. Each output file is written to a temporary name and renamed into place, and
``meta.json`` comes last, so a folder with a ``meta.json`` is complete.

The tokenizers are phase 03's: ``phase03.tokenizer.CharTokenizer`` and
``phase03.gpt2_tokenizer.GPT2Tokenizer`` (equal to tiktoken's GPT-2 encoding).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from phase00.data import DataError, cache_dir, sha256_of
from phase00.data import path as data_path
from phase03.tokenizer import CharTokenizer

TOKENIZERS = ("char", "gpt2")
GPT2_EOT = 50256  # <|endoftext|>, between documents of a streamed data set


# ------------------------------------------------------------------------------ tokenizers
def gpt2_tokenizer():
    """Phase 03's GPT-2 tokenizer, from the BPE files ``phase00.data`` provides."""
    from phase03.gpt2_tokenizer import GPT2Tokenizer

    return GPT2Tokenizer.load()


def tokenizer_from_meta(meta: dict):
    """The tokenizer a prepared folder (or a checkpoint's copy of its meta) was made with.

    >>> tokenizer_from_meta({"tokenizer": "char", "chars": ["a", "b"]}).encode("ba")
    [1, 0]
    """
    kind = meta.get("tokenizer")
    if kind == "char":
        if "chars" not in meta:
            raise ValueError("meta.json of a char data set lacks its 'chars'")
        return CharTokenizer(meta["chars"])
    if kind == "gpt2":
        return gpt2_tokenizer()
    raise ValueError(f"unknown tokenizer {kind!r} in meta.json; known: {', '.join(TOKENIZERS)}")


def dtype_for(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id.

    >>> dtype_for(65).name, dtype_for(50257).name, dtype_for(100_000).name
    ('uint16', 'uint16', 'uint32')
    """
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


# ------------------------------------------------------------------------------ workers
# Each worker process builds its tokenizer once (the initializer), then encodes whole files.
_WORKER_TOKENIZER = None


def _init_worker(kind: str, chars: list[str] | None) -> None:
    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = CharTokenizer(chars) if kind == "char" else gpt2_tokenizer()


def _encode_file(path: str) -> np.ndarray:
    text = Path(path).read_text(encoding="utf-8")
    return np.asarray(_WORKER_TOKENIZER.encode(text), dtype=np.int64)


def _chars_of_file(path: str) -> set[str]:
    return set(Path(path).read_text(encoding="utf-8"))


def _pool_map(fn, items: list, workers: int, desc: str, initializer=None, initargs=()) -> list:
    """``[fn(x) for x in items]``, in ``workers`` processes when there is more than one item."""
    if workers <= 1 or len(items) <= 1:
        if initializer:
            initializer(*initargs)
        return [fn(x) for x in tqdm(items, desc=desc, unit="file", disable=len(items) < 2)]
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), initializer=initializer,
                             initargs=initargs) as pool:
        return list(tqdm(pool.map(fn, items), total=len(items), desc=desc, unit="file"))


# ------------------------------------------------------------------------------ writing
def _write_atomic_bytes(path: Path, data: bytes | np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.tobytes() if isinstance(data, np.ndarray) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data is for everyone who can read the folder
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def split_tokens(ids: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The first ``1 - val_fraction`` of the tokens for training, the rest for validation.

    >>> [a.tolist() for a in split_tokens(np.arange(10), 0.2)]
    [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]]
    """
    n_train = int(len(ids) * (1.0 - val_fraction))
    return ids[:n_train], ids[n_train:]


def write_prepared(out: Path, parts: list[np.ndarray], meta: dict, val_fraction: float,
                   tokenizer=None) -> dict:
    """Split each part, concatenate, write the bins then ``meta.json``; returns the meta."""
    out.mkdir(parents=True, exist_ok=True)
    dtype = dtype_for(meta["vocab_size"])
    train, val = zip(*(split_tokens(p, val_fraction) for p in parts)) if parts else ((), ())
    train_ids = np.concatenate(train) if train else np.zeros(0, np.int64)
    val_ids = np.concatenate(val) if val else np.zeros(0, np.int64)
    if train_ids.size and int(max(train_ids.max(), val_ids.max(initial=0))) >= meta["vocab_size"]:
        raise ValueError("a token id exceeds the vocabulary size: the tokenizer and meta disagree")
    _write_atomic_bytes(out / "train.bin", train_ids.astype(dtype))
    _write_atomic_bytes(out / "val.bin", val_ids.astype(dtype))
    if tokenizer is not None and hasattr(tokenizer, "save") and meta["tokenizer"] == "char":
        tokenizer.save(out / "tokenizer.txt")
    meta = {**meta, "dtype": dtype.name, "train_tokens": int(train_ids.size),
            "val_tokens": int(val_ids.size), "val_fraction": val_fraction,
            "created_by": "phase08.prepare"}
    _write_atomic_bytes(out / "meta.json", (json.dumps(meta, indent=1, ensure_ascii=False) + "\n").encode())
    return meta


def prepare_files(inputs: list[str | Path], out: str | Path, tokenizer: str = "char",
                  val_fraction: float = 0.1, workers: int = 1) -> dict:
    """Tokenize ``inputs`` into ``out`` (see the module docstring); returns meta.json's dict."""
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if not inputs:
        raise ValueError("no input files given")
    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.is_file():
            raise ValueError(f"input {str(p)!r} is not a file")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    files = [str(p) for p in paths]
    chars = None
    if tokenizer == "char":  # the vocabulary is every character of every file
        sets = _pool_map(_chars_of_file, files, workers, "characters")
        chars = sorted(set().union(*sets))
        tok = CharTokenizer(chars)
    else:
        tok = gpt2_tokenizer()
    parts = _pool_map(_encode_file, files, workers, "tokenizing", _init_worker, (tokenizer, chars))
    sources = [{"path": str(p), "sha256": sha256_of(p), "bytes": p.stat().st_size, "tokens": int(len(ids))}
               for p, ids in zip(paths, parts)]
    meta = {"tokenizer": tokenizer, "vocab_size": tok.vocab_size, "sources": sources}
    if chars is not None:
        meta["chars"] = chars
    if tokenizer == "gpt2":
        meta["eot_token"] = GPT2_EOT
    return write_prepared(out, parts, meta, val_fraction, tok)


def prepare_documents(docs: Iterable[str], out: str | Path, max_tokens: int, val_every: int = 100,
                      workers: int = 1, batch_docs: int = 256, source: str = "") -> dict:
    """GPT-2 tokens of a stream of documents, each followed by ``<|endoftext|>``, until
    ``max_tokens``; every ``val_every``-th document goes to validation. Written
    incrementally (a streamed corpus does not fit in memory) to temporary files that are
    renamed into place at the end."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = gpt2_tokenizer()
    dtype = dtype_for(tok.vocab_size)
    tmp = {s: out / f".{s}.bin.partial" for s in ("train", "val")}
    counts = {"train": 0, "val": 0}
    n_docs = 0
    bar = tqdm(total=max_tokens, unit="tok", unit_scale=True, desc="streaming")
    files = {s: open(tmp[s], "wb") for s in tmp}
    try:
        pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=("gpt2", None)) if workers > 1 else None
        if pool is None:
            _init_worker("gpt2", None)
        for batch in _batches(docs, batch_docs):
            encoded = pool.map(_encode_text, batch) if pool else map(_encode_text, batch)
            for ids in encoded:
                split = "val" if n_docs % val_every == 0 else "train"
                arr = np.append(ids, GPT2_EOT).astype(dtype)
                files[split].write(arr.tobytes())
                counts[split] += arr.size
                n_docs += 1
                bar.update(arr.size)
            if counts["train"] + counts["val"] >= max_tokens:
                break
        if pool:
            pool.shutdown()
    finally:
        for f in files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        bar.close()
    for s in tmp:
        os.replace(tmp[s], out / f"{s}.bin")
    meta = {"tokenizer": "gpt2", "vocab_size": tok.vocab_size, "dtype": dtype.name,
            "train_tokens": counts["train"], "val_tokens": counts["val"], "documents": n_docs,
            "val_every": val_every, "eot_token": GPT2_EOT, "sources": [{"path": source}],
            "created_by": "phase08.prepare"}
    _write_atomic_bytes(out / "meta.json", (json.dumps(meta, indent=1) + "\n").encode())
    return meta


def _encode_text(text: str) -> np.ndarray:
    return np.asarray(_WORKER_TOKENIZER.encode(text), dtype=np.int64)


def _batches(items: Iterable, n: int):
    batch = []
    for x in items:
        batch.append(x)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def stream_hf_dataset(name: str, config: str | None, split: str = "train", field: str = "text"):
    """Documents of a Hugging Face dataset, streamed. Needs ``datasets`` and a network;
    without them a ``ValueError`` says so (nothing else in this project needs either)."""
    try:
        import datasets  # noqa: PLC0415 - optional
    except ImportError:
        raise ValueError("streaming a Hugging Face dataset needs the `datasets` package "
                         "(pip install datasets) and a network connection; it is not installed here. "
                         "Without them, prepare local text files with --input FILE ...") from None
    try:
        ds = datasets.load_dataset(name, name=config, split=split, streaming=True)
        first = next(iter(ds))
    except Exception as e:  # the hub raises many kinds; all mean the same here
        raise ValueError(f"could not stream {name} ({config}) from the Hugging Face hub: {e}. "
                         "Is there a network connection?") from e
    if field not in first:
        raise ValueError(f"{name} documents have no {field!r} field; fields: {sorted(first)}")
    return (row[field] for row in ds)


# ------------------------------------------------------------------------------ Tiny Shakespeare
def prepared_shakespeare(tokenizer: str = "char") -> Path:
    """Tiny Shakespeare prepared with ``tokenizer``, cached beside phase 00's data files
    (``~/.cache/fromscratch/prepared/tinyshakespeare-char``); prepared on first use, and
    again if its source hash no longer matches."""
    src = data_path("tinyshakespeare.txt")
    folder = cache_dir() / "prepared" / f"tinyshakespeare-{tokenizer}"
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if meta["sources"][0]["sha256"] == sha256_of(src) and meta["tokenizer"] == tokenizer:
                return folder
        except (json.JSONDecodeError, KeyError, IndexError):
            pass
    print(f"preparing Tiny Shakespeare ({tokenizer} tokens) into {folder}")
    prepare_files([src], folder, tokenizer)
    return folder


# ------------------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m phase08.prepare", allow_abbrev=False,
                                description="Tokenize text files into train.bin/val.bin/meta.json.")
    p.add_argument("--tokenizer", choices=TOKENIZERS, required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", nargs="+", metavar="FILE", help="text files (UTF-8)")
    src.add_argument("--shakespeare", action="store_true", help="Tiny Shakespeare from phase00.data")
    src.add_argument("--hf_dataset", metavar="NAME", help="stream a Hugging Face dataset, e.g. HuggingFaceFW/fineweb-edu")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    p.add_argument("--val_fraction", type=float, default=0.1, help="tail of each file kept for validation")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--hf_config", default="sample-10BT", help="the dataset's config (FineWeb-Edu: sample-10BT)")
    p.add_argument("--hf_split", default="train")
    p.add_argument("--max_tokens", type=int, default=2_500_000_000, help="stop streaming after this many tokens")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    try:
        if args.hf_dataset:
            if args.tokenizer != "gpt2":
                raise ValueError("--hf_dataset streams documents for the gpt2 tokenizer only")
            docs = stream_hf_dataset(args.hf_dataset, args.hf_config, args.hf_split)
            meta = prepare_documents(docs, args.out, args.max_tokens, workers=args.workers,
                                     source=f"hf:{args.hf_dataset}/{args.hf_config}/{args.hf_split}")
        else:
            inputs = [data_path("tinyshakespeare.txt")] if args.shakespeare else args.input
            meta = prepare_files(inputs, args.out, args.tokenizer, args.val_fraction, args.workers)
    except (ValueError, DataError, OSError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {meta['train_tokens']:,} train + {meta['val_tokens']:,} val tokens "
          f"({meta['tokenizer']}, vocab {meta['vocab_size']:,}, {meta['dtype']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
