"""GPT-2's tokenizer, rebuilt from OpenAI's two files and equal to tiktoken's ``gpt2`` encoding.

GPT-2 (Radford et al. 2019) ships its tokenizer as two files:

- ``vocab.bpe``: a ``#version`` line, then the 50,000 merges in rank order, one per line,
  as two tokens separated by a space (``Ġ t`` is the merge of " " and "t");
- ``encoder.json``: every token's id, 50,257 entries (256 bytes + 50,000 merges + ``<|endoftext|>``).

Both write bytes as printable characters through ``bytes_to_unicode`` (a space is ``Ġ``, a
newline ``Ċ``), so that the files are plain text. Underneath, GPT-2 is exactly a
``RegexBPETokenizer``: the split pattern of ``phase03.bpe``, a byte table (GPT-2's byte
ids are a permutation of 0..255: "!" is 0), 50,000 merges, and one special token.

>>> tok = GPT2Tokenizer.load()
>>> tok.encode("Hello world"), tok.eot_token
([15496, 995], 50256)
>>> tok.decode([15496, 995])
'Hello world'

See phase-03-text-representation/notes/why-bytes-and-regex.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from phase00 import data
from phase03.bpe import GPT2_SPLIT_PATTERN, Pair
from phase03.tokenizer import RegexBPETokenizer, Tokenizer, TokenizerFileError

ENDOFTEXT = "<|endoftext|>"
VOCAB_BPE_SHA256 = data.FILES["gpt2/vocab.bpe"].sha256
ENCODER_JSON_SHA256 = data.FILES["gpt2/encoder.json"].sha256


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte value to a printable character.

    The 188 bytes that print as themselves ("!".."~", "¡".."¬", "®".."ÿ") keep their own
    character; the other 68 (control characters, the space, ...) are sent, in byte order, to
    chr(256), chr(257), ...

    >>> table = bytes_to_unicode()
    >>> table[ord("a")], table[ord(" ")], table[ord("\\n")], len(set(table.values()))
    ('a', 'Ġ', 'Ċ', 256)
    """
    printable = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)}
    table: dict[int, str] = {}
    shifted = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


def _check_sha256(path: Path, expected: str, name: str) -> None:
    got = data.sha256_of(path)
    if got != expected:
        raise TokenizerFileError(
            f"{path}: SHA-256 {got} does not match GPT-2's {name} ({expected}). This is not the "
            f"file GPT-2 shipped with (truncated, edited or another tokenizer's); pass "
            f"check_hash=False to load a different BPE in the same format."
        )


def read_encoder_json(path: Path) -> dict[str, int]:
    """``encoder.json`` as ``{token string: id}``; a JSON error names the file and line."""
    try:
        encoder = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TokenizerFileError(f"{path}, line {e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise TokenizerFileError(f"{path}: not UTF-8 text ({e})") from None
    if not isinstance(encoder, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in encoder.items()
    ):
        raise TokenizerFileError(f"{path}, line 1: expected one JSON object of token string -> integer id")
    return encoder


def read_vocab_bpe(path: Path) -> list[tuple[int, str, str]]:
    """``vocab.bpe`` as ``[(line number, left, right), ...]`` in rank order."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise TokenizerFileError(f"{path}: not UTF-8 text ({e})") from None
    if not lines[0].startswith("#version"):
        raise TokenizerFileError(f"{path}, line 1: expected the '#version: ...' header, got {lines[0][:60]!r}")
    merges = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line:
            continue  # the file ends with a newline
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise TokenizerFileError(f"{path}, line {lineno}: expected two tokens separated by one space, got {line[:60]!r}")
        merges.append((lineno, parts[0], parts[1]))
    return merges


class GPT2Tokenizer(RegexBPETokenizer):
    """GPT-2's byte-level BPE: ``encode`` / ``decode`` equal to tiktoken's ``gpt2`` encoding.

    ``encode(text)`` treats ``<|endoftext|>`` in the text as ordinary characters unless
    ``allowed_special`` names it (or is ``"all"``). Lone surrogates become U+FFFD, as in
    tiktoken, so any ``str`` encodes; ``decode`` never raises on valid ids: ids that split a
    multi-byte character decode to U+FFFD.

    One shortcut, the one tiktoken takes: a chunk whose bytes are already a token is that
    token, with no merging (the tests check that every GPT-2 token's bytes merge to itself,
    so the shortcut changes no output).
    """

    kind = "gpt2"

    def _build(self) -> None:
        super()._build()
        specials = set(self.special_tokens.values())
        self._id_of_bytes = {b: i for i, b in self.vocab.items() if i not in specials}  # ordinary tokens

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>``: 50256."""
        return self.special_tokens[ENDOFTEXT]

    def train(self, text: str, vocab_size: int | None = None, trainer: str = "fast") -> Tokenizer:
        raise TypeError("GPT2Tokenizer is read from OpenAI's files, not trained; "
                        "train a RegexBPETokenizer to learn merges of your own")

    def _encode_chunk(self, data: bytes) -> list[int]:
        token = self._id_of_bytes.get(data)
        if token is not None:
            return [token]
        return super()._encode_chunk(data)

    @classmethod
    def from_files(cls, vocab_bpe_path: str | Path, encoder_json_path: str | Path,
                   check_hash: bool = True) -> GPT2Tokenizer:
        """Build the tokenizer from ``vocab.bpe`` and ``encoder.json``.

        With ``check_hash`` (the default) both files must be exactly the ones GPT-2 shipped
        (SHA-256); either way a malformed file raises ``TokenizerFileError`` naming it and the line.
        """
        vocab_bpe_path, encoder_json_path = Path(vocab_bpe_path), Path(encoder_json_path)
        if check_hash:
            _check_sha256(vocab_bpe_path, VOCAB_BPE_SHA256, "vocab.bpe")
            _check_sha256(encoder_json_path, ENCODER_JSON_SHA256, "encoder.json")
        encoder = read_encoder_json(encoder_json_path)
        to_char = bytes_to_unicode()
        missing = [to_char[b] for b in range(256) if to_char[b] not in encoder]
        if missing:
            raise TokenizerFileError(f"{encoder_json_path}: the byte tokens {missing[:5]} are missing")
        byte_ids = [encoder[to_char[b]] for b in range(256)]
        merges: dict[Pair, int] = {}
        for lineno, left, right in read_vocab_bpe(vocab_bpe_path):
            for token in (left, right, left + right):
                if token not in encoder:
                    raise TokenizerFileError(f"{vocab_bpe_path}, line {lineno}: the token {token!r} "
                                             f"is not in {encoder_json_path}")
            merges[(encoder[left], encoder[right])] = encoder[left + right]
        if ENDOFTEXT not in encoder:
            raise TokenizerFileError(f"{encoder_json_path}: no {ENDOFTEXT!r} entry")
        try:
            tok = cls(GPT2_SPLIT_PATTERN, byte_ids, merges, {ENDOFTEXT: encoder[ENDOFTEXT]})
        except ValueError as e:
            raise TokenizerFileError(f"{vocab_bpe_path} and {encoder_json_path} disagree: {e}") from None
        if tok.vocab_size != len(encoder):
            raise TokenizerFileError(
                f"{vocab_bpe_path} defines {tok.vocab_size - 257} merges but {encoder_json_path} has "
                f"{len(encoder)} entries ({len(encoder) - 257} merges expected); is one file truncated?")
        return tok

    @classmethod
    def load(cls, path: str | Path | None = None) -> GPT2Tokenizer:
        """GPT-2's tokenizer from the project's data files (``phase00.data``), or from a file
        that ``save`` wrote when ``path`` is given."""
        if path is not None:
            return super().load(path)
        return cls.from_files(data.path("gpt2/vocab.bpe"), data.path("gpt2/encoder.json"))
