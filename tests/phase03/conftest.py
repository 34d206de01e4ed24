"""Shared fixtures: Tiny Shakespeare, our GPT-2 tokenizer, and tiktoken's, built offline."""

import json

import pytest
import tiktoken
from tiktoken_ext.openai_public import r50k_pat_str  # GPT-2's split, as tiktoken spells it

from phase00.data import path, read_text
from phase03.gpt2_tokenizer import GPT2Tokenizer


def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's printable-character -> byte map, derived independently of phase03.

    Bytes whose character is printable and not a space stand for themselves; the others
    take chr(256), chr(257), ... in byte order (the rule tiktoken's loader uses).
    """
    direct = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    decoder = {chr(b): b for b in direct}
    shifted = [b for b in range(256) if b not in direct]
    decoder.update({chr(256 + n): b for n, b in enumerate(shifted)})
    return decoder


def build_tiktoken_gpt2() -> tiktoken.Encoding:
    """tiktoken's GPT-2 encoding from the two local files: nothing is downloaded."""
    decoder = gpt2_byte_decoder()
    encoder = json.loads(path("gpt2/encoder.json", allow_download=False).read_text(encoding="utf-8"))
    ranks = {bytes(decoder[c] for c in token): i for token, i in encoder.items() if token != "<|endoftext|>"}
    return tiktoken.Encoding(
        name="gpt2-local",
        pat_str=r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": encoder["<|endoftext|>"]},
        explicit_n_vocab=50257,
    )


@pytest.fixture(scope="session")
def shakespeare() -> str:
    return read_text()


@pytest.fixture(scope="session")
def gpt2() -> GPT2Tokenizer:
    return GPT2Tokenizer.load()


@pytest.fixture(scope="session")
def reference_gpt2() -> tiktoken.Encoding:
    return build_tiktoken_gpt2()


@pytest.fixture(scope="session")
def byte_decoder() -> dict[str, int]:
    return gpt2_byte_decoder()
