r"""The tokenizer family: one small base class, four ways to turn text into integers.

    Tokenizer            train(text, vocab_size), encode(text), decode(ids), save(path),
                         Tokenizer.load(path), vocab_size
    CharTokenizer        one id per character (Tiny Shakespeare has 65)
    WordTokenizer        one id per word or punctuation mark; rare words become <unk>
    ByteBPETokenizer     byte-level BPE over the whole text (Sennrich et al. 2016, on bytes)
    RegexBPETokenizer    the same, but merges never cross GPT-2's pre-token boundaries;
                         optional special tokens such as <|endoftext|>

>>> tok = ByteBPETokenizer().train("aaabdaaabac", vocab_size=259)
>>> tok.encode("aaabdaaabac")
[258, 100, 258, 97, 99]
>>> tok.decode([258, 100])
'aaabd'

``save`` writes a readable text file (a header, then one entry per line, strings as JSON)
and ``Tokenizer.load`` reads any of them back, exactly: ``load(save(t))`` encodes and saves
exactly as ``t`` does. A malformed or truncated file raises ``TokenizerFileError`` naming the
file and the line. A regex BPE tokenizer with two merges is saved as (``#`` starts a comment)::

    fromscratch-tokenizer 1
    type regex-bpe
    pattern "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
    bytes identity
    merges 2
    97 116 256  # "at"
    104 101 257  # "he"
    special 0

See phase-03-text-representation/notes/bpe-by-hand.md and notes/why-bytes-and-regex.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain
from pathlib import Path

import regex

from phase03.bpe import (
    GPT2_SPLIT_PATTERN,
    GPT2_SPLIT_PATTERN_ASCII,
    Pair,
    apply_merges,
    train_bpe_fast,
    train_bpe_reference,
)

FORMAT_HEADER = "fromscratch-tokenizer 1"


class TokenizerFileError(ValueError):
    """A tokenizer file that cannot be read; the message starts with ``file, line N:``."""


def to_utf8(text: str) -> bytes:
    """``text`` as UTF-8; lone surrogates (which UTF-8 cannot hold) become U+FFFD, as in tiktoken.

    A valid surrogate *pair* written as two code points is joined into its character first.

    >>> to_utf8("a\\ud800b")
    b'a\\xef\\xbf\\xbdb'
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return text.encode("utf-8")


def quote(s: str) -> str:
    """A JSON string literal, readable (``"é"``, not ``"\\u00e9"``) unless it holds a lone surrogate."""
    q = json.dumps(s, ensure_ascii=False)
    try:
        q.encode("utf-8")
    except UnicodeEncodeError:
        q = json.dumps(s)
    return q


class LineReader:
    """Reads a tokenizer file line by line; every error names the file and the line.

    Blank lines and lines starting with ``#`` are skipped.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.lines = self.path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError as e:
            raise TokenizerFileError(f"{self.path}: not UTF-8 text ({e})") from None
        self.lineno = 0  # the line most recently returned, 1-based

    def error(self, message: str) -> TokenizerFileError:
        return TokenizerFileError(f"{self.path}, line {self.lineno}: {message}")

    def next(self, expected: str) -> str:
        """The next meaningful line; at the end of the file, an error saying what was expected."""
        while self.lineno < len(self.lines):
            self.lineno += 1
            line = self.lines[self.lineno - 1]
            if line.strip() and not line.startswith("#"):
                return line
        raise self.error(f"the file ends here, expected {expected} (truncated file?)")

    def keyword(self, key: str) -> str:
        """Read ``key value`` and return ``value`` (the rest of the line, stripped)."""
        line = self.next(f"a line '{key} ...'")
        word, _, rest = line.partition(" ")
        if word != key:
            raise self.error(f"expected a line '{key} ...', got {line[:60]!r}")
        return rest.strip()

    def integer(self, text: str, what: str) -> int:
        if not re.fullmatch(r"-?\d+", text.strip()):
            raise self.error(f"expected an integer {what}, got {text[:60]!r}")
        return int(text)

    def count(self, key: str) -> int:
        """Read ``key N`` with N >= 0, the number of entry lines that follow."""
        n = self.integer(self.keyword(key), f"after '{key}'")
        if n < 0:
            raise self.error(f"'{key}' needs a count >= 0, got {n}")
        return n

    def string(self, text: str, what: str) -> str:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise self.error(f"expected {what} as a JSON string, got {text[:60]!r} ({e.msg})") from None
        if not isinstance(value, str):
            raise self.error(f"expected {what} as a JSON string, got {text[:60]!r}")
        return value

    def boolean(self, text: str, what: str) -> bool:
        if text not in ("true", "false"):
            raise self.error(f"expected true or false for {what}, got {text[:60]!r}")
        return text == "true"

    def id_and_string(self, what: str) -> tuple[int, str]:
        """One entry line ``<id> <JSON string>``."""
        line = self.next(f"a line '<id> <{what} as JSON>'")
        head, _, rest = line.partition(" ")
        return self.integer(head, "id"), self.string(rest, what)

    def finish(self) -> None:
        """Nothing but blank lines and comments may follow the last entry."""
        try:
            line = self.next("")
        except TokenizerFileError:
            return
        raise self.error(f"unexpected content after the last entry: {line[:60]!r}")


class Tokenizer:
    """The interface every tokenizer here follows (and the registry ``load`` dispatches on)."""

    kind = "base"  # the 'type' line of a saved file
    _kinds: dict[str, type[Tokenizer]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Tokenizer._kinds[cls.kind] = cls

    def train(self, text: str, vocab_size: int | None = None) -> Tokenizer:
        """Learn the vocabulary from ``text``; returns ``self``."""
        raise NotImplementedError(f"{type(self).__name__}.train")

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError(f"{type(self).__name__}.encode")

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError(f"{type(self).__name__}.decode")

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}.vocab_size")

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the tokenizer as readable text (UTF-8, one entry per line)."""
        lines = [FORMAT_HEADER, f"type {self.kind}", *self._lines()]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """Read a file written by ``save``; the ``type`` line picks the class."""
        r = LineReader(path)
        header = r.next(f"the header {FORMAT_HEADER!r}")
        if header.strip() != FORMAT_HEADER:
            raise r.error(f"expected the header {FORMAT_HEADER!r}, got {header[:60]!r}")
        kind = r.keyword("type")
        if kind not in Tokenizer._kinds:
            raise r.error(f"unknown tokenizer type {kind!r}; known: {', '.join(sorted(Tokenizer._kinds))}")
        found = Tokenizer._kinds[kind]
        if not issubclass(found, cls):
            raise r.error(f"this file holds a {found.__name__}, not a {cls.__name__}")
        tok = found._read(r)
        r.finish()
        return tok

    def _lines(self) -> list[str]:
        """The body of the saved file, after the header and type lines."""
        raise NotImplementedError

    @classmethod
    def _read(cls, r: LineReader) -> Tokenizer:
        """The inverse of ``_lines``."""
        raise NotImplementedError

    def _check_ids(self, ids: Iterable[int], known) -> list[int]:
        ids = [int(i) for i in ids]
        for i in ids:
            if i not in known:
                raise ValueError(f"{type(self).__name__}.decode: id {i} is not in the vocabulary "
                                 f"(vocab_size {self.vocab_size})")
        return ids


def _read_vocab(r: LineReader, n: int, what: str, single_chars: bool = False) -> list[str]:
    """``n`` lines ``<id> <JSON string>`` with ids 0, 1, 2, ... in order, all strings distinct."""
    vocab: list[str] = []
    seen: set[str] = set()
    for expect in range(n):
        i, s = r.id_and_string(what)
        if i != expect:
            raise r.error(f"expected id {expect} here (ids are listed in order), got {i}")
        if s in seen:
            raise r.error(f"{what} {s!r} is listed twice")
        if single_chars and len(s) != 1:
            raise r.error(f"{s!r} is not a single character")
        seen.add(s)
        vocab.append(s)
    return vocab


# -- characters -----------------------------------------------------------------------------
class CharTokenizer(Tokenizer):
    """One id per distinct character of the training text, in sorted order.

    >>> tok = CharTokenizer().train("hello")
    >>> tok.chars, tok.encode("hole")
    (['e', 'h', 'l', 'o'], [1, 3, 2, 0])

    The vocabulary is closed: a character not seen in training raises ``ValueError``.
    """

    kind = "char"

    def __init__(self, chars: Sequence[str] = ()):
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    def train(self, text: str, vocab_size: int | None = None) -> CharTokenizer:
        chars = sorted(set(text))
        if vocab_size is not None and vocab_size < len(chars):
            raise ValueError(f"CharTokenizer.train: the text has {len(chars)} distinct characters, "
                             f"more than vocab_size={vocab_size}")
        self.__init__(chars)
        return self

    def encode(self, text: str) -> list[int]:
        try:
            return [self.index[c] for c in text]
        except KeyError as e:
            pos = next(i for i, c in enumerate(text) if c not in self.index)
            raise ValueError(f"CharTokenizer.encode: character {e.args[0]!r} at position {pos} "
                             f"is not in the {len(self.chars)}-character vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        ids = self._check_ids(ids, range(len(self.chars)))
        return "".join(self.chars[i] for i in ids)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def _lines(self) -> list[str]:
        return [f"vocab {len(self.chars)}", *(f"{i} {quote(c)}" for i, c in enumerate(self.chars))]

    @classmethod
    def _read(cls, r: LineReader) -> CharTokenizer:
        return cls(_read_vocab(r, r.count("vocab"), "character", single_chars=True))


# -- words ----------------------------------------------------------------------------------
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")  # a run of letters/digits, or one punctuation mark


class WordTokenizer(Tokenizer):
    """One id per word or punctuation mark; id 0 is the unknown token for everything else.

    ``decode`` joins tokens with single spaces: word-level tokenizing forgets the spacing.

    >>> tok = WordTokenizer().train("the cat and the hat", vocab_size=3)
    >>> tok.words, tok.encode("the hat and a cat")
    (['<unk>', 'the', 'and'], [1, 0, 2, 0, 0])
    >>> tok.decode([1, 0, 2])
    'the <unk> and'
    """

    kind = "word"

    def __init__(self, words: Sequence[str] = ("<unk>",), lowercase: bool = False):
        if not words:
            raise ValueError("WordTokenizer needs at least the unknown token")
        self.words = list(words)
        self.lowercase = lowercase
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def unk(self) -> str:
        return self.words[0]

    def split(self, text: str) -> list[str]:
        """Words and punctuation marks, lower-cased if the tokenizer is."""
        return WORD_PATTERN.findall(text.lower() if self.lowercase else text)

    def train(self, text: str, vocab_size: int | None = None) -> WordTokenizer:
        """Keep the ``vocab_size - 1`` most frequent tokens (ties: alphabetical), all if None."""
        if vocab_size is not None and vocab_size < 1:
            raise ValueError(f"WordTokenizer.train: vocab_size must be >= 1 (the unknown token), got {vocab_size}")
        counts = Counter(self.split(text))
        counts.pop(self.unk, None)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        keep = ranked if vocab_size is None else ranked[: vocab_size - 1]
        self.__init__([self.unk, *keep], self.lowercase)
        return self

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, 0) for w in self.split(text)]

    def decode(self, ids: Iterable[int]) -> str:
        ids = self._check_ids(ids, range(len(self.words)))
        return " ".join(self.words[i] for i in ids)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def _lines(self) -> list[str]:
        return [f"lowercase {'true' if self.lowercase else 'false'}", f"vocab {len(self.words)}",
                *(f"{i} {quote(w)}" for i, w in enumerate(self.words))]

    @classmethod
    def _read(cls, r: LineReader) -> WordTokenizer:
        lowercase = r.boolean(r.keyword("lowercase"), "lowercase")
        n = r.count("vocab")
        if n < 1:
            raise r.error("the vocabulary needs at least the unknown token (id 0)")
        return cls(_read_vocab(r, n, "word"), lowercase)


# -- byte-level BPE -------------------------------------------------------------------------
class ByteBPETokenizer(Tokenizer):
    """Byte-level BPE over the whole text: 256 byte tokens, then one token per merge.

    State: ``byte_ids[b]`` is the id of byte ``b`` (``b`` itself after training; GPT-2 uses a
    permutation) and ``merges`` maps a pair of ids to the id it becomes, in the order the
    merges were learned (that order is the rank encoding replays them in). Derived from
    them: ``vocab`` maps every id to its bytes, ``ranks`` every merged pair to its rank.

    Encoding a long text without a split is slow (each merge rescans the whole text): this
    class is for reading; ``RegexBPETokenizer`` is the one to use.
    """

    kind = "byte-bpe"

    def __init__(self, byte_ids: Sequence[int] = range(256), merges: dict[Pair, int] | None = None):
        self.byte_ids = list(byte_ids)
        self.merges: dict[Pair, int] = dict(merges or {})
        self._build()

    def _build(self) -> None:
        """Derive ``vocab`` (id -> bytes) and ``ranks`` (pair -> rank) from the state."""
        if len(self.byte_ids) != 256 or len(set(self.byte_ids)) != 256:
            raise ValueError(f"{type(self).__name__}: byte_ids must be 256 distinct ids")
        self.vocab: dict[int, bytes] = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        self.ranks: dict[Pair, int] = {}
        for rank, ((a, b), new) in enumerate(self.merges.items()):
            if a not in self.vocab or b not in self.vocab or new in self.vocab:
                raise ValueError(f"{type(self).__name__}: merge {rank} ({a}, {b}) -> {new} must join "
                                 f"two ids defined before it into a new id")
            self.vocab[new] = self.vocab[a] + self.vocab[b]
            self.ranks[(a, b)] = rank

    def train(self, text: str, vocab_size: int | None = None, trainer: str = "fast") -> ByteBPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text`` (fewer if no pair is left to merge).

        ``trainer`` is ``"fast"`` or ``"reference"``; both learn exactly the same merges.
        """
        if vocab_size is None or vocab_size < 256:
            raise ValueError(f"{type(self).__name__}.train: vocab_size must be >= 256 "
                             f"(one token per byte value), got {vocab_size}")
        learners = {"fast": train_bpe_fast, "reference": train_bpe_reference}
        if trainer not in learners:
            raise ValueError(f"{type(self).__name__}.train: trainer must be 'fast' or 'reference', got {trainer!r}")
        records = learners[trainer](self._training_chunks(text), vocab_size - 256)
        self.byte_ids = list(range(256))
        self.merges = {pair: 256 + k for k, (pair, _) in enumerate(records)}
        self._build()
        return self

    def _training_chunks(self, text: str) -> list[bytes]:
        return [to_utf8(text)]

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Bytes -> byte ids -> merges replayed by rank."""
        byte_ids = self.byte_ids
        return apply_merges([byte_ids[b] for b in data], self.ranks, self.merges)

    def encode(self, text: str) -> list[int]:
        return self._encode_chunk(to_utf8(text))

    def decode(self, ids: Iterable[int]) -> str:
        """Bytes of every id, joined, read as UTF-8; a broken character becomes U+FFFD."""
        vocab, ids = self.vocab, list(ids)
        try:
            data = b"".join([vocab[i] for i in ids])
        except (KeyError, TypeError):
            self._check_ids(ids, vocab)
            raise
        return data.decode("utf-8", errors="replace")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # -- files ---------------------------------------------------------------------------
    def _lines(self) -> list[str]:
        if self.byte_ids == list(range(256)):
            lines = ["bytes identity"]
        else:
            lines = ["bytes table", *(f"{b} {i}" for b, i in enumerate(self.byte_ids))]
        lines.append(f"merges {len(self.merges)}")
        for (a, b), new in self.merges.items():
            shown = quote(self.vocab[new].decode("utf-8", errors="replace"))
            lines.append(f"{a} {b} {new}  # {shown}")
        return lines

    @classmethod
    def _read_bytes_and_merges(cls, r: LineReader) -> tuple[list[int], dict[Pair, int]]:
        mode = r.keyword("bytes")
        if mode == "identity":
            byte_ids = list(range(256))
        elif mode == "table":
            byte_ids = []
            for b in range(256):
                fields = r.next(f"the table line of byte {b}").split()
                if len(fields) != 2 or r.integer(fields[0], "byte") != b:
                    raise r.error(f"expected '{b} <id>' (byte {b} of the table)")
                byte_ids.append(r.integer(fields[1], "id"))
            if len(set(byte_ids)) != 256:
                raise r.error("the byte table gives two bytes the same id")
        else:
            raise r.error(f"expected 'bytes identity' or 'bytes table', got 'bytes {mode}'")
        known = set(byte_ids)
        merges: dict[Pair, int] = {}
        for k in range(r.count("merges")):
            line = r.next(f"merge line {k + 1} '<left> <right> <new>'")
            fields = line.split("#", 1)[0].split()
            if len(fields) != 3:
                raise r.error(f"expected '<left id> <right id> <new id>', got {line[:60]!r}")
            a, b, new = (r.integer(f, "id") for f in fields)
            if a not in known or b not in known:
                raise r.error(f"merge {a} {b}: id {a if a not in known else b} is not defined above")
            if new in known:
                raise r.error(f"merge {a} {b} -> {new}: id {new} is already taken")
            if (a, b) in merges:
                raise r.error(f"the pair {a} {b} is merged twice")
            merges[(a, b)] = new
            known.add(new)
        return byte_ids, merges

    @classmethod
    def _read(cls, r: LineReader) -> ByteBPETokenizer:
        return cls(*cls._read_bytes_and_merges(r))


class RegexBPETokenizer(ByteBPETokenizer):
    """Byte-level BPE inside pre-tokens: the text is first split by a regex (GPT-2's by
    default), and merges never cross a split. Special tokens are matched before the split.

    >>> tok = RegexBPETokenizer().train("the cat, the hat, the bat", vocab_size=260)
    >>> [tok.decode([i]) for i in tok.encode("the bat")]
    ['the', ' ', 'b', 'at']
    """

    kind = "regex-bpe"
    cache_limit = 1 << 17  # chunks remembered by encode (the cache is cleared when full)

    def __init__(self, pattern: str = GPT2_SPLIT_PATTERN, byte_ids: Sequence[int] = range(256),
                 merges: dict[Pair, int] | None = None, special_tokens: dict[str, int] | None = None):
        self.pattern = pattern
        self.compiled = regex.compile(pattern)
        # GPT-2's split on pure-ASCII text: the same chunks, twice as fast (see phase03.bpe)
        self._ascii = re.compile(GPT2_SPLIT_PATTERN_ASCII) if pattern == GPT2_SPLIT_PATTERN else None
        self.special_tokens: dict[str, int] = {}
        super().__init__(byte_ids, merges)
        self.register_special_tokens(special_tokens or {})

    def _build(self) -> None:
        super()._build()
        self._cache: dict[str, list[int]] = {}
        for s, i in getattr(self, "special_tokens", {}).items():  # kept across train()
            if i in self.vocab:
                raise ValueError(f"{type(self).__name__}: special token {s!r} has id {i}, "
                                 f"which a merge now uses; register it with a higher id")
            self.vocab[i] = s.encode("utf-8")

    def register_special_tokens(self, special_tokens: dict[str, int]) -> None:
        """Add tokens such as ``{"<|endoftext|>": 50256}`` that encode only when allowed."""
        for s, i in special_tokens.items():
            if i in self.vocab and self.special_tokens.get(s) != i:
                raise ValueError(f"{type(self).__name__}: special token {s!r} wants id {i}, which is taken")
            self.special_tokens[s] = i
            self.vocab[i] = s.encode("utf-8")

    def split(self, text: str) -> list[str]:
        """The pre-tokens that merges never cross.

        >>> RegexBPETokenizer().split("Hello world, it's 2024!!")
        ['Hello', ' world', ',', ' it', "'s", ' 2024', '!!']
        """
        if self._ascii is not None and text.isascii():
            return self._ascii.findall(text)
        return self.compiled.findall(text)

    def _training_chunks(self, text: str) -> list[bytes]:
        return [to_utf8(chunk) for chunk in self.split(text)]

    def clear_cache(self) -> None:
        self._cache.clear()

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` with no special tokens (``<|endoftext|>`` is just 13 characters)."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: replace them first, as tiktoken does
            text = to_utf8(text).decode("utf-8")
        chunks = self.split(text)  # GPT-2's split: ["Hello", " world", "!"]
        cache = self._cache
        if len(cache) > self.cache_limit:
            cache.clear()
        for chunk in set(chunks).difference(cache):  # BPE once per distinct unseen chunk
            cache[chunk] = self._encode_chunk(chunk.encode("utf-8"))
        return list(chain.from_iterable(map(cache.__getitem__, chunks)))  # the rest: lookups

    def encode(self, text: str, allowed_special: str | Iterable[str] = ()) -> list[int]:
        """Encode ``text``; the special tokens named in ``allowed_special`` (or ``"all"``) become
        their ids, everywhere else they are ordinary text.

        >>> tok = RegexBPETokenizer(special_tokens={"<|end|>": 256})
        >>> tok.encode("a<|end|>", allowed_special="all"), len(tok.encode("a<|end|>"))
        ([97, 256], 8)
        """
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(f"{type(self).__name__}.encode: {sorted(unknown)} are not special tokens "
                             f"of this tokenizer (it has {sorted(self.special_tokens)})")
        if not allowed:
            return self.encode_ordinary(text)
        # longest first, so that a special token that contains another one wins
        splitter = "(" + "|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)) + ")"
        ids: list[int] = []
        for k, part in enumerate(regex.split(splitter, text)):
            ids += [self.special_tokens[part]] if k % 2 else self.encode_ordinary(part)
        return ids

    def _lines(self) -> list[str]:
        specials = [f"{quote(s)} {i}" for s, i in self.special_tokens.items()]
        return [f"pattern {quote(self.pattern)}", *super()._lines(),
                f"special {len(specials)}", *specials]

    @classmethod
    def _read(cls, r: LineReader) -> RegexBPETokenizer:
        pattern = r.string(r.keyword("pattern"), "the split pattern")
        try:
            regex.compile(pattern)
        except regex.error as e:
            raise r.error(f"the split pattern does not compile: {e}") from None
        byte_ids, merges = cls._read_bytes_and_merges(r)
        special: dict[str, int] = {}
        for _ in range(r.count("special")):
            line = r.next("a line '<JSON string> <id>'")
            text, _, i = line.rpartition(" ")
            special[r.string(text, "the special token")] = r.integer(i, "id")
        try:
            return cls(pattern, byte_ids, merges, special)
        except ValueError as e:
            raise r.error(str(e)) from None
