"""The tokenizer family: training, encode/decode, exact save/load, clear errors on bad files."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phase03.tokenizer import (
    ByteBPETokenizer,
    CharTokenizer,
    RegexBPETokenizer,
    Tokenizer,
    TokenizerFileError,
    WordTokenizer,
)


@pytest.fixture(scope="module")
def regex_bpe(shakespeare):
    tok = RegexBPETokenizer().train(shakespeare[:100_000], vocab_size=400)
    tok.register_special_tokens({"<|endoftext|>": 400})
    return tok


# -- characters and words -------------------------------------------------------------------
def test_char_tokenizer_on_tiny_shakespeare(shakespeare):
    tok = CharTokenizer().train(shakespeare)
    assert tok.vocab_size == 65  # the corpus' distinct characters (data README)
    assert tok.chars[:3] == ["\n", " ", "!"] and tok.chars[-1] == "z"
    sample = shakespeare[:2000]
    assert tok.decode(tok.encode(sample)) == sample
    assert tok.encode("a") == [tok.chars.index("a")]


def test_char_tokenizer_rejects_unseen_characters():
    tok = CharTokenizer().train("abc")
    with pytest.raises(ValueError, match=r"'é' at position 1"):
        tok.encode("aé")
    with pytest.raises(ValueError, match="vocab_size"):
        CharTokenizer().train("abc", vocab_size=2)
    with pytest.raises(ValueError, match="id 3 is not in the vocabulary"):
        tok.decode([0, 3])


def test_word_tokenizer_keeps_the_most_frequent_words_and_maps_the_rest_to_unk():
    tok = WordTokenizer().train("to be, or not to be: that is the question", vocab_size=4)
    assert tok.words == ["<unk>", "be", "to", ","]  # be x2, to x2, then ',' < ':' < 'is' ...
    assert tok.encode("to be or") == [2, 1, 0]
    assert tok.decode(tok.encode("to be, question")) == "to be , <unk>"
    lower = WordTokenizer(lowercase=True).train("The the THE cat")
    assert lower.words == ["<unk>", "the", "cat"]
    with pytest.raises(ValueError, match="vocab_size must be >= 1"):
        WordTokenizer().train("x", vocab_size=0)


# -- byte-level BPE -------------------------------------------------------------------------
def test_byte_bpe_by_hand():
    # "aaabdaaabac": (a, a) x4 -> 256; then (a, b) and (256, a) tie at 2, (97, 98) is
    # smaller -> 257; then (256, 257) x2 -> 258
    tok = ByteBPETokenizer().train("aaabdaaabac", vocab_size=259)
    assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.vocab[258] == b"aaab"
    assert tok.decode([258, 100]) == "aaabd"


def test_byte_bpe_needs_at_least_256_tokens():
    for cls in (ByteBPETokenizer, RegexBPETokenizer):
        with pytest.raises(ValueError, match="vocab_size must be >= 256"):
            cls().train("hello", vocab_size=255)
    with pytest.raises(ValueError, match="trainer must be"):
        ByteBPETokenizer().train("hello", vocab_size=300, trainer="quick")


def test_both_trainers_give_the_same_tokenizer(shakespeare):
    text = shakespeare[:8000]
    fast = RegexBPETokenizer().train(text, 300, trainer="fast")
    ref = RegexBPETokenizer().train(text, 300, trainer="reference")
    assert fast.merges == ref.merges and len(fast.merges) == 44


def test_regex_bpe_never_merges_across_the_split(regex_bpe):
    for token in regex_bpe.vocab.values():
        text = token.decode("utf-8", errors="replace")
        if token.isascii() and text != "<|endoftext|>":
            assert len(regex_bpe.split(text)) <= 1, text


def test_regex_bpe_compresses_and_round_trips(regex_bpe, shakespeare):
    held_out = shakespeare[-20_000:]
    ids = regex_bpe.encode(held_out)
    # 144 merges learned on the first 100k characters shorten unseen text by more than 30%
    assert len(ids) < 0.7 * len(held_out.encode())
    assert regex_bpe.decode(ids) == held_out


@pytest.fixture(scope="module")
def byte_bpe():
    return ByteBPETokenizer().train("hello world, hello there", vocab_size=270)


@given(st.text(max_size=200))
def test_byte_bpe_round_trips_any_text(byte_bpe, text):
    assert byte_bpe.decode(byte_bpe.encode(text)) == text


@given(st.text(max_size=200))
def test_regex_bpe_round_trips_any_text(regex_bpe, text):
    assert regex_bpe.decode(regex_bpe.encode(text)) == text


def test_special_tokens(regex_bpe):
    text = "end<|endoftext|>start"
    plain = regex_bpe.encode(text)
    assert 400 not in plain and regex_bpe.decode(plain) == text
    special = regex_bpe.encode(text, allowed_special="all")
    assert special.count(400) == 1 and regex_bpe.decode(special) == text
    assert regex_bpe.encode(text, allowed_special={"<|endoftext|>"}) == special
    with pytest.raises(ValueError, match="not special tokens"):
        regex_bpe.encode(text, allowed_special={"<|fim|>"})
    with pytest.raises(ValueError, match="is taken"):
        regex_bpe.register_special_tokens({"<|x|>": 300})


def test_lone_surrogates_become_the_replacement_character(regex_bpe):
    assert regex_bpe.decode(regex_bpe.encode("a\ud800b")) == "a\ufffdb"


# -- save and load --------------------------------------------------------------------------
def tokenizers(shakespeare):
    text = shakespeare[:30_000]
    special = RegexBPETokenizer(special_tokens={"<|endoftext|>": 330}).train(text, 320)
    return [
        CharTokenizer().train(text),
        WordTokenizer(lowercase=True).train(text, vocab_size=200),
        ByteBPETokenizer().train(text[:5000], vocab_size=280),
        RegexBPETokenizer().train(text, vocab_size=320),
        special,
        RegexBPETokenizer(pattern=r"\w+|\W").train(text, vocab_size=300),
    ]


def test_save_load_round_trips_exactly(tmp_path, shakespeare):
    sample = shakespeare[40_000:42_000]
    for k, tok in enumerate(tokenizers(shakespeare)):
        first, second = tmp_path / f"{k}.txt", tmp_path / f"{k}-again.txt"
        tok.save(first)
        loaded = Tokenizer.load(first)
        assert type(loaded) is type(tok)
        loaded.save(second)
        assert second.read_bytes() == first.read_bytes()
        assert loaded.encode(sample) == tok.encode(sample)
        assert loaded.vocab_size == tok.vocab_size
        if isinstance(tok, ByteBPETokenizer):
            assert loaded.merges == tok.merges and loaded.vocab == tok.vocab
            assert list(loaded.merges) == list(tok.merges)  # the order is the rank
        if isinstance(tok, RegexBPETokenizer):
            assert loaded.pattern == tok.pattern and loaded.special_tokens == tok.special_tokens


def test_the_file_is_readable(tmp_path):
    # "the cat, the hat" splits into "the", " cat", ",", " the", " hat": "at", "he" and "th"
    # occur twice each; the tie goes to (97, 116) "at", then (104, 101) "he"
    tok = RegexBPETokenizer().train("the cat, the hat", vocab_size=258)
    tok.save(tmp_path / "t.txt")
    lines = (tmp_path / "t.txt").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["fromscratch-tokenizer 1", "type regex-bpe"]
    assert lines[2].startswith('pattern "\'(?:[sdmt]|ll|ve|re)| ?\\\\p{L}+')
    assert lines[3:] == ["bytes identity", "merges 2", '97 116 256  # "at"', '104 101 257  # "he"', "special 0"]


def test_loading_the_wrong_class_is_an_error(tmp_path):
    CharTokenizer().train("abc").save(tmp_path / "c.txt")
    with pytest.raises(TokenizerFileError, match=r"c\.txt, line 2: this file holds a CharTokenizer"):
        RegexBPETokenizer.load(tmp_path / "c.txt")


def corrupt(tmp_path, tok, edit):
    good = tmp_path / "good.txt"
    tok.save(good)
    lines = good.read_text(encoding="utf-8").split("\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(edit(lines)), encoding="utf-8")
    return bad


BPE_CORRUPTIONS = [
    # (name, edit of the list of lines, the line the error must name, words it must say)
    ("truncated", lambda L: L[:6], 6, "ends here"),
    ("no header", lambda L: ["hello", *L[1:]], 1, "header"),
    ("unknown type", lambda L: [L[0], "type sentencepiece", *L[2:]], 2, "unknown tokenizer type"),
    ("bad count", lambda L: L[:4] + ["merges many"] + L[5:], 5, "integer"),
    ("bad id", lambda L: L[:6] + ["32 x 257"] + L[7:], 7, "integer"),
    ("two ids", lambda L: L[:6] + ["32 116"] + L[7:], 7, "<left id> <right id> <new id>"),
    ("undefined id", lambda L: L[:5] + ["32 999 256"] + L[6:], 6, "not defined"),
    ("taken id", lambda L: L[:5] + ["32 116 97"] + L[6:], 6, "already taken"),
    ("bad json", lambda L: [L[0], L[1], 'pattern "abc'] + L[3:], 3, "JSON"),
    ("extra line", lambda L: L[:-1] + ["surprise"], None, "unexpected content"),
    ("bad bytes", lambda L: L[:3] + ["bytes none"] + L[4:], 4, "bytes identity"),
]


@pytest.mark.parametrize("name,edit,line,words", BPE_CORRUPTIONS, ids=[c[0] for c in BPE_CORRUPTIONS])
def test_a_bad_bpe_file_names_the_file_and_line(tmp_path, name, edit, line, words):
    tok = RegexBPETokenizer().train("the cat, the hat, the bat", vocab_size=262)
    bad = corrupt(tmp_path, tok, edit)
    with pytest.raises(TokenizerFileError) as err:
        Tokenizer.load(bad)
    message = str(err.value)
    assert message.startswith(f"{bad}, line "), message
    if line is not None:
        assert message.startswith(f"{bad}, line {line}:"), message
    assert words in message


@pytest.mark.parametrize("edit,line,words", [
    (lambda L: L[:4], 4, "ends here"),                                # truncated vocabulary
    (lambda L: L[:3] + ['0 "ab"'] + L[4:], 4, "not a single character"),
    (lambda L: L[:3] + ['5 "a"'] + L[4:], 4, "expected id 0"),
    (lambda L: L[:4] + ['1 "a"'] + L[5:], 5, "listed twice"),
])
def test_a_bad_char_file_names_the_file_and_line(tmp_path, edit, line, words):
    bad = corrupt(tmp_path, CharTokenizer().train("abc"), edit)
    with pytest.raises(TokenizerFileError, match=f"line {line}: .*{words}"):
        Tokenizer.load(bad)


def test_a_bad_word_file_names_the_file_and_line(tmp_path):
    tok = WordTokenizer().train("a b c")
    bad = corrupt(tmp_path, tok, lambda L: [L[0], L[1], "lowercase maybe", *L[3:]])
    with pytest.raises(TokenizerFileError, match=r"bad\.txt, line 3: expected true or false"):
        Tokenizer.load(bad)
    bad = corrupt(tmp_path, tok, lambda L: [L[0], L[1], L[2], "vocab 0"])
    with pytest.raises(TokenizerFileError, match="line 4: .*at least the unknown token"):
        Tokenizer.load(bad)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path):
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"fromscratch-tokenizer 1\ntype char\nvocab 1\n0 \"\xff\"\n")
    with pytest.raises(TokenizerFileError, match=r"bin\.txt: not UTF-8"):
        Tokenizer.load(bad)
