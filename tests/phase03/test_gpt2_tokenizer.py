"""GPT-2's tokenizer: equal to tiktoken's GPT-2 encoding (built offline from the same files)."""

import shutil

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from phase00.data import path
from phase03.bpe import GPT2_SPLIT_PATTERN, apply_merges
from phase03.gpt2_tokenizer import GPT2Tokenizer, bytes_to_unicode
from phase03.tokenizer import CharTokenizer, Tokenizer, TokenizerFileError

EDGE_CASES = [
    "",
    " ",
    "   ",
    "\n",
    "\n\n\n",
    " \t\n \r\n\x0b\x0c",
    "hello  world   ",
    "  leading and trailing  ",
    "don't won't I'm you're we've they'll he'd it's",
    "DON'T YOU'LL 'S 's ''s",
    "0 1 12 123 1234 12345 3.14159 1,000,000 -42 2024-01-01",
    "😀 👍🏽 🇫🇷 👨‍👩‍👧‍👦 🙂",
    "naïve café résumé Ünïcödé",
    "日本語のテキスト 中文 한국어",
    "Ελληνικά русский язык עברית العربية हिन्दी",
    "mixed: English, 日本, and emoji 🎉 in one line!",
    "a\ud800b",                 # a lone high surrogate
    "\udfff",                   # a lone low surrogate
    "\ud83d\ude00",             # a surrogate pair written as two code points
    "<|endoftext|>",
    "x<|endoftext|>y <|endoftext|>",
    "\x00\x01\x1c\x1f\x7f",
    "\u00a0\u2003\u3000 non-breaking and wide spaces",
    "'''\"\"\"!!!???...,,,;;;",
    "ĠĊ already-looking-like-gpt2 bytes",
    " SolidGoldMagikarp",
    "    def f(x):\n        return x  # code\n",
]


def test_equal_to_tiktoken_on_all_of_tiny_shakespeare(gpt2, reference_gpt2, shakespeare):
    ours = gpt2.encode(shakespeare)
    theirs = reference_gpt2.encode_ordinary(shakespeare)
    assert len(shakespeare) == 1_115_394 and len(theirs) == 338_025
    assert ours == theirs
    assert gpt2.decode(ours) == shakespeare


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_equal_to_tiktoken_on_edge_cases(gpt2, reference_gpt2, text):
    assert gpt2.encode(text) == reference_gpt2.encode_ordinary(text)
    assert gpt2.encode(text, allowed_special="all") == reference_gpt2.encode(text, allowed_special="all")


@given(st.text(max_size=300))
def test_equal_to_tiktoken_on_drawn_text(gpt2, reference_gpt2, text):
    gpt2.clear_cache()
    assert gpt2.encode(text) == reference_gpt2.encode_ordinary(text)
    assert gpt2.decode(gpt2.encode(text)) == text


# every code point, surrogates (Cs) included
ANY_CHAR = st.characters(blacklist_categories=())


@given(st.text(alphabet=ANY_CHAR, max_size=100))
def test_equal_to_tiktoken_on_any_code_points(gpt2, reference_gpt2, text):
    assert gpt2.encode(text) == reference_gpt2.encode_ordinary(text)


@given(st.lists(st.sampled_from(["<|endoftext|>", "a", " b", "\n", "é", "<|", "|>"]), max_size=12))
def test_special_tokens_as_tiktoken(gpt2, reference_gpt2, parts):
    text = "".join(parts)
    assert gpt2.encode(text) == reference_gpt2.encode(text, disallowed_special=())
    assert gpt2.encode(text, allowed_special={"<|endoftext|>"}) == reference_gpt2.encode(
        text, allowed_special={"<|endoftext|>"})


def test_the_basics(gpt2):
    assert gpt2.eot_token == 50256 and gpt2.vocab_size == 50257
    assert gpt2.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert len(gpt2.encode("<|endoftext|>")) > 1  # not special unless allowed
    assert gpt2.decode([50256]) == "<|endoftext|>"
    assert gpt2.encode("Hello world") == [15496, 995]  # GPT-2's ids for "Hello", " world"


@given(st.text(max_size=200))
def test_decode_inverts_encode(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text


def test_decoding_a_split_character_gives_replacement_characters(gpt2, reference_gpt2):
    ids = gpt2.encode("🙂")  # 4 UTF-8 bytes in 2 tokens
    assert len(ids) == 2
    for part in ([ids[0]], [ids[1]], ids[::-1]):
        assert "\ufffd" in gpt2.decode(part)
        assert gpt2.decode(part) == reference_gpt2.decode(part)  # tiktoken also uses "replace"
    assert gpt2.decode(ids) == "🙂"


@given(st.lists(st.integers(0, 50256), max_size=30))
def test_any_ids_decode_like_tiktoken(gpt2, reference_gpt2, ids):
    assert gpt2.decode(ids) == reference_gpt2.decode(ids)


def test_unknown_ids_are_an_error(gpt2):
    with pytest.raises(ValueError, match="id 50257 is not in the vocabulary"):
        gpt2.decode([0, 50257])
    with pytest.raises(ValueError, match="id -1 is not"):
        gpt2.decode([-1])


def test_bytes_to_unicode_matches_the_independent_rule(byte_decoder):
    table = bytes_to_unicode()
    assert {c: b for b, c in table.items()} == byte_decoder
    assert table[ord("A")] == "A" and table[0] == "Ā" and table[ord(" ")] == "Ġ"


def test_the_byte_ids_are_gpt2s(gpt2):
    # "!" is GPT-2's token 0, the first printable byte; byte 0 comes after the 188 printable ones
    assert gpt2.byte_ids[ord("!")] == 0 and gpt2.byte_ids[0] == 188
    assert sorted(gpt2.byte_ids) == list(range(256))


def test_every_token_merges_back_to_itself(gpt2):
    """The whole-token shortcut changes nothing: BPE on any token's bytes yields that token."""
    for i, token in gpt2.vocab.items():
        if i != gpt2.eot_token:
            assert apply_merges([gpt2.byte_ids[b] for b in token], gpt2.ranks, gpt2.merges) == [i]


def test_our_split_is_openais(gpt2):
    # the split pattern of OpenAI's encoder.py, with its seven contractions spelled out
    original = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    for text in EDGE_CASES[:-3]:
        assert gpt2.split(text) == original.findall(text)
    assert gpt2.pattern == GPT2_SPLIT_PATTERN


@given(st.text(max_size=200))
def test_our_split_is_openais_on_drawn_text(gpt2, text):
    original = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    assert gpt2.split(text) == original.findall(text)


def test_it_cannot_be_trained(gpt2):
    with pytest.raises(TypeError, match="not trained"):
        gpt2.train("text", 300)


# -- files ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gpt2_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    for name in ("vocab.bpe", "encoder.json"):
        shutil.copy(path(f"gpt2/{name}"), folder / name)
    return folder


def test_from_files_equals_load(gpt2, gpt2_files):
    tok = GPT2Tokenizer.from_files(gpt2_files / "vocab.bpe", gpt2_files / "encoder.json")
    assert tok.merges == gpt2.merges and tok.byte_ids == gpt2.byte_ids


def write_edited(folder, tmp_path, name, edit):
    """Copy both files to tmp_path, with ``edit`` applied to the text of ``name``."""
    for other in ("vocab.bpe", "encoder.json"):
        shutil.copy(folder / other, tmp_path / other)
    target = tmp_path / name
    target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path / "vocab.bpe", tmp_path / "encoder.json"


def test_a_vocab_bpe_with_the_wrong_hash_is_refused(gpt2_files, tmp_path):
    vocab, encoder = write_edited(gpt2_files, tmp_path, "vocab.bpe", lambda t: t.replace("Ġ t", "Ġ  t", 1))
    with pytest.raises(TokenizerFileError, match=r"vocab\.bpe: SHA-256 [0-9a-f]{64} does not match GPT-2's vocab\.bpe"):
        GPT2Tokenizer.from_files(vocab, encoder)
    # without the hash check the same file is read, and the bad line is named
    with pytest.raises(TokenizerFileError, match=r"vocab\.bpe, line 2: expected two tokens"):
        GPT2Tokenizer.from_files(vocab, encoder, check_hash=False)


def test_a_truncated_vocab_bpe_is_refused(gpt2_files, tmp_path):
    vocab, encoder = write_edited(gpt2_files, tmp_path, "vocab.bpe", lambda t: t[: len(t) // 2])
    with pytest.raises(TokenizerFileError, match="SHA-256"):
        GPT2Tokenizer.from_files(vocab, encoder)
    with pytest.raises(TokenizerFileError, match=r"vocab\.bpe, line \d+: (expected two tokens|the token)|is one file truncated"):
        GPT2Tokenizer.from_files(vocab, encoder, check_hash=False)


def test_a_vocab_bpe_line_with_an_unknown_token(gpt2_files, tmp_path):
    vocab, encoder = write_edited(gpt2_files, tmp_path, "vocab.bpe",
                                  lambda t: t.replace("\nĠ t\n", "\nĠ zzzzqqq\n", 1))
    with pytest.raises(TokenizerFileError, match=r"vocab\.bpe, line 2: the token 'zzzzqqq' is not in .*encoder\.json"):
        GPT2Tokenizer.from_files(vocab, encoder, check_hash=False)


def test_a_broken_encoder_json_names_the_line(gpt2_files, tmp_path):
    vocab, encoder = write_edited(gpt2_files, tmp_path, "encoder.json", lambda t: '{\n"a": 1,\n"b": \n}')
    with pytest.raises(TokenizerFileError, match=r"encoder\.json, line 4: not valid JSON"):
        GPT2Tokenizer.from_files(vocab, encoder, check_hash=False)


def test_a_vocab_bpe_without_its_header(gpt2_files, tmp_path):
    vocab, encoder = write_edited(gpt2_files, tmp_path, "vocab.bpe", lambda t: t.split("\n", 1)[1])
    with pytest.raises(TokenizerFileError, match=r"vocab\.bpe, line 1: expected the '#version"):
        GPT2Tokenizer.from_files(vocab, encoder, check_hash=False)


def test_save_and_load_in_our_format(gpt2, tmp_path, shakespeare):
    gpt2.save(tmp_path / "gpt2.txt")
    loaded = Tokenizer.load(tmp_path / "gpt2.txt")
    assert type(loaded) is GPT2Tokenizer
    assert GPT2Tokenizer.load(tmp_path / "gpt2.txt").merges == gpt2.merges
    assert loaded.eot_token == 50256 and loaded.byte_ids == gpt2.byte_ids
    assert list(loaded.merges.items()) == list(gpt2.merges.items())
    sample = shakespeare[:5000] + "<|endoftext|>"
    assert loaded.encode(sample, allowed_special="all") == gpt2.encode(sample, allowed_special="all")
    loaded.save(tmp_path / "again.txt")
    assert (tmp_path / "again.txt").read_bytes() == (tmp_path / "gpt2.txt").read_bytes()
    with pytest.raises(TokenizerFileError, match="holds a GPT2Tokenizer, not a CharTokenizer"):
        CharTokenizer.load(tmp_path / "gpt2.txt")
