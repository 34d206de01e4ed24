"""Data preparation round-trips through decode; the sampler's windows and layouts are exact."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from phase03.gpt2_tokenizer import GPT2Tokenizer
from phase03.tokenizer import CharTokenizer
from phase08 import prepare
from phase08.data import Sampler, open_split, read_meta, windows


def _decode_split(folder, split, tok):
    meta = read_meta(folder)
    return tok.decode(open_split(folder, split, meta).tolist())


def test_char_prepare_round_trips_through_decode(char_data, shakespeare_head):
    text = shakespeare_head.read_text(encoding="utf-8")
    meta = read_meta(char_data)
    tok = CharTokenizer(sorted(set(text)))  # built here from the text, not from meta
    assert meta["vocab_size"] == len(set(text)) and meta["dtype"] == "uint16"
    assert _decode_split(char_data, "train", tok) + _decode_split(char_data, "val", tok) == text
    assert meta["train_tokens"] == int(len(text) * 0.9)
    assert meta["train_tokens"] + meta["val_tokens"] == len(text)
    src = meta["sources"][0]
    assert src["sha256"] == hashlib.sha256(shakespeare_head.read_bytes()).hexdigest()
    assert src["tokens"] == len(text)
    # the tokenizer file of phase 03 is written too, and agrees
    assert CharTokenizer.load(char_data / "tokenizer.txt").chars == tok.chars


def test_gpt2_prepare_round_trips_through_decode(tmp_path, shakespeare_head):
    text = shakespeare_head.read_text(encoding="utf-8")[:3000]
    src = tmp_path / "small.txt"
    src.write_text(text, encoding="utf-8")
    meta = prepare.prepare_files([src], tmp_path / "out", "gpt2")
    tok = GPT2Tokenizer.load()
    assert meta["vocab_size"] == 50257 and meta["dtype"] == "uint16"
    ids = open_split(tmp_path / "out", "train").tolist() + open_split(tmp_path / "out", "val").tolist()
    assert ids == tok.encode(text)
    assert tok.decode(ids) == text


def test_several_files_in_parallel_equal_one_at_a_time(tmp_path):
    texts = ["First Citizen:\nBefore we proceed\n" * 20, "MENENIUS:\nWhat work's, my countrymen\n" * 30,
             "Second Citizen:\nWould you proceed especially\n" * 25]
    files = []
    for i, t in enumerate(texts):
        files.append(tmp_path / f"f{i}.txt")
        files[-1].write_text(t)
    serial = prepare.prepare_files(files, tmp_path / "serial", "char", workers=1)
    parallel = prepare.prepare_files(files, tmp_path / "parallel", "char", workers=2)
    for split in ("train", "val"):
        assert (tmp_path / "serial" / f"{split}.bin").read_bytes() == (tmp_path / "parallel" / f"{split}.bin").read_bytes()
    assert serial["sources"] == parallel["sources"]
    # each file contributes its own head to train and its own tail to val
    tok = CharTokenizer(sorted(set("".join(texts))))
    val = _decode_split(tmp_path / "serial", "val", tok)
    assert val == "".join(t[int(len(t) * 0.9):] for t in texts)


def test_a_large_vocabulary_is_stored_as_uint32(tmp_path):
    meta = prepare.write_prepared(tmp_path / "big", [np.array([0, 70_000, 5, 99_999, 3] * 4)],
                                  {"tokenizer": "char", "vocab_size": 100_000}, 0.25)
    assert meta["dtype"] == "uint32"
    ids = open_split(tmp_path / "big", "train").tolist() + open_split(tmp_path / "big", "val").tolist()
    assert ids == [0, 70_000, 5, 99_999, 3] * 4


def test_streamed_documents_are_separated_by_endoftext(tmp_path):
    docs = [f"Document number {i}." for i in range(10)]
    meta = prepare.prepare_documents(iter(docs), tmp_path / "s", max_tokens=10**6, val_every=5)
    tok = GPT2Tokenizer.load()
    val = open_split(tmp_path / "s", "val").tolist()
    train = open_split(tmp_path / "s", "train").tolist()
    assert tok.decode(val) == "Document number 0.<|endoftext|>Document number 5.<|endoftext|>"
    assert train.count(50256) == 8 and meta["documents"] == 10
    assert not list((tmp_path / "s").glob(".*partial"))


def test_streaming_without_datasets_says_what_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *a, **k):
        if name == "datasets":
            raise ImportError("No module named 'datasets'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ValueError, match="needs the `datasets` package .* and a network"):
        prepare.stream_hf_dataset("HuggingFaceFW/fineweb-edu", "sample-10BT")


# ------------------------------------------------------------------------------ the sampler
def test_windows_are_shifted_by_one():
    tokens = np.arange(100, 200, dtype=np.uint16)
    x, y = windows(tokens, np.array([0, 7, 90]), 9)
    assert x.dtype == np.int64 and x.shape == (3, 9)
    assert x[1].tolist() == list(range(107, 116)) and y[1].tolist() == list(range(108, 117))
    assert y[2, -1] == 199  # the last window may end on the last token


def test_batches_are_a_function_of_seed_and_step():
    tokens = np.arange(1000, dtype=np.uint16)
    a = Sampler(tokens, 8, 4, seed=1)
    b = Sampler(tokens, 8, 4, seed=1)
    assert np.array_equal(a.micro_batch(17, 0)[0], b.micro_batch(17, 0)[0])
    assert not np.array_equal(a.micro_batch(17, 0)[0], a.micro_batch(18, 0)[0])
    assert not np.array_equal(a.micro_batch(17, 0)[0], Sampler(tokens, 8, 4, seed=2).micro_batch(17, 0)[0])


def test_every_layout_of_a_step_sees_the_same_windows():
    """batch 8 == 4 micro-batches of 2 == 2 processes x batch 4 == 2 processes x 2 micro x 2."""
    tokens = np.arange(5000, dtype=np.uint16)
    step = 3

    def rows(batch, accum, world):
        out = []
        for m in range(accum):
            for r in range(world):
                s = Sampler(tokens, 8, batch, seed=5, grad_accum=accum, world_size=world, rank=r)
                out += s.micro_batch(step, m)[0][:, 0].tolist()
        return out

    one = rows(8, 1, 1)
    assert rows(2, 4, 1) == one
    assert rows(4, 1, 2) == one
    assert rows(2, 2, 2) == one


def test_eval_batches_are_fixed_and_shared_across_processes():
    tokens = np.arange(3000, dtype=np.uint16)
    single = Sampler(tokens, 8, 4, seed=1).eval_batches(3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(single, Sampler(tokens, 8, 4, seed=1).eval_batches(3)))
    halves = [Sampler(tokens, 8, 2, seed=1, world_size=2, rank=r).eval_batches(3) for r in (0, 1)]
    whole = Sampler(tokens, 8, 4, seed=1).eval_batches(3)
    for i in range(3):
        assert sorted(np.concatenate([halves[0][i][0], halves[1][i][0]])[:, 0]) == sorted(whole[i][0][:, 0])


def test_a_split_shorter_than_one_window_is_refused():
    with pytest.raises(ValueError, match="shorter than one window"):
        Sampler(np.arange(10, dtype=np.uint16), block_size=10, batch_size=1, seed=0)


def test_a_bin_that_disagrees_with_meta_is_refused(char_data, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("meta.json", "val.bin"):
        (bad / name).write_bytes((char_data / name).read_bytes())
    (bad / "train.bin").write_bytes((char_data / "train.bin").read_bytes()[:-2])
    with pytest.raises(ValueError, match="meta.json promises"):
        open_split(bad, "train")


def test_meta_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        read_meta(tmp_path / "nope")
    with pytest.raises(ValueError, match="meta.json is missing"):
        read_meta(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"tokenizer": "char"}))
    with pytest.raises(ValueError, match="lacks 'vocab_size'"):
        read_meta(tmp_path)
