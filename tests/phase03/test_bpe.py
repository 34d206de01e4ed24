"""BPE: the two trainers learn exactly the same merges; encoding replays them faithfully."""

import re as std_re

import regex
from hypothesis import given
from hypothesis import strategies as st

from phase03.bpe import (
    GPT2_SPLIT_PATTERN,
    GPT2_SPLIT_PATTERN_ASCII,
    apply_merges,
    merge,
    pair_counts,
    train_bpe_fast,
    train_bpe_reference,
)

SPLIT = regex.compile(GPT2_SPLIT_PATTERN)


def chunks_of(text: str) -> list[bytes]:
    return [c.encode("utf-8") for c in SPLIT.findall(text)]


def test_pair_counts_and_merge_by_hand():
    assert pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert pair_counts([5]) == {} and pair_counts([]) == {}
    assert merge([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge([7, 7, 7, 7, 7], (7, 7), 8) == [8, 8, 7]  # left to right, no overlap
    assert merge([1, 2], (2, 1), 9) == [1, 2]


def test_first_merges_worked_by_hand():
    # "low lower lowest" as one chunk. Pairs: (l,o) x3, (o,w) x3, (' ',l) x2, (w,e) x2, and
    # (w,' '), (e,r), (r,' '), (e,s), (s,t) once. (l,o) and (o,w) tie at 3: (108, 111) wins.
    # Then "lo" = 256 and (256, w) x3 makes "low" = 257. Then (' ', 257) and (257, e) tie at
    # 2, and (32, 257) < (257, 101).
    text = b"low lower lowest"
    merges = train_bpe_reference([text], 3)
    assert merges == [((108, 111), 3), ((256, 119), 3), ((32, 257), 2)]
    assert train_bpe_fast([text], 3) == merges


def test_ten_words_by_hand():
    # the table of phase-03-text-representation/notes/bpe-by-hand.md
    words = [w.encode() for w in "low low low lower lower newest newest newest widest widest".split()]
    e, s, t, l, o, w, n, d = b"estlownd"
    expected = [((e, s), 5), ((l, o), 5), ((256, t), 5), ((257, w), 5),
                ((e, w), 3), ((n, 260), 3), ((261, 258), 3), ((d, 258), 2)]
    assert train_bpe_reference(words, 8) == expected
    assert train_bpe_fast(words, 8) == expected


def test_tie_break_prefers_the_smallest_pair():
    # every pair occurs once: the smallest (left, right) wins, left id first
    assert train_bpe_reference([b"zb", b"ay", b"az"], 1) == [((97, 121), 1)]
    assert train_bpe_fast([b"zb", b"ay", b"az"], 1) == [((97, 121), 1)]
    # a raw byte beats a merged token: after merging "ab" -> 256, (256, 99) and (99, 100)
    # both occur twice; (99, 100) wins because 99 < 256
    text = [b"abcd", b"abcd"]
    ref = train_bpe_reference(text, 2)
    assert ref == [((97, 98), 2), ((99, 100), 2)]
    assert train_bpe_fast(text, 2) == ref


def test_overlapping_pairs_are_counted_and_merged_like_merge():
    # "aaaa": (a, a) occurs 3 times (overlapping), the merge makes "aa aa", then (aa, aa) once
    assert train_bpe_reference([b"aaaa"], 2) == [((97, 97), 3), ((256, 256), 1)]
    assert train_bpe_fast([b"aaaa"], 2) == [((97, 97), 3), ((256, 256), 1)]
    assert train_bpe_fast([b"aaaaa", b"aaa"], 3) == train_bpe_reference([b"aaaaa", b"aaa"], 3)


def test_training_stops_when_nothing_is_left_to_merge():
    assert train_bpe_reference([b"ab", b"ab"], 10) == [((97, 98), 2)]
    assert train_bpe_fast([b"ab", b"ab"], 10) == [((97, 98), 2)]
    assert train_bpe_fast([b"a", b""], 5) == [] == train_bpe_reference([b"a", b""], 5)


def test_fast_equals_reference_on_shakespeare(shakespeare):
    chunks = chunks_of(shakespeare[:12_000])
    ref = train_bpe_reference(chunks, 60)
    assert len(ref) == 60
    assert train_bpe_fast(chunks, 60) == ref


def test_fast_equals_reference_on_whole_texts(shakespeare):
    # no split: one long chunk, where the linked list does all the work
    for text in [shakespeare[:3000], "abababab ab abba", "the theme then there", "\n\n\n\n x"]:
        chunks = [text.encode("utf-8")]
        assert train_bpe_fast(chunks, 40) == train_bpe_reference(chunks, 40), text[:30]


@given(st.text(alphabet="ab c\n'é1!", max_size=300), st.integers(0, 40))
def test_fast_equals_reference_on_drawn_text(text, num_merges):
    chunks = chunks_of(text)
    assert train_bpe_fast(chunks, num_merges) == train_bpe_reference(chunks, num_merges)


@given(st.lists(st.binary(max_size=12), max_size=20), st.integers(0, 30))
def test_fast_equals_reference_on_drawn_bytes(chunks, num_merges):
    # few distinct bytes make many ties and overlaps
    chunks = [bytes(b % 3 for b in c) for c in chunks]
    assert train_bpe_fast(chunks, num_merges) == train_bpe_reference(chunks, num_merges)


def merge_all_by_rank(ids, merges):
    """The textbook encoder: apply the merges in training order, each everywhere."""
    for new, pair in enumerate(merges, start=256):
        ids = merge(ids, pair, new)
    return ids


@given(st.text(alphabet="ab c\n'é", max_size=200), st.text(alphabet="ab c\n'é", max_size=60))
def test_apply_merges_equals_replaying_every_merge(train_text, text):
    merges = [pair for pair, _ in train_bpe_fast(chunks_of(train_text), 30)]
    ranks = {p: r for r, p in enumerate(merges)}
    new_ids = {p: 256 + r for r, p in enumerate(merges)}
    for chunk in chunks_of(text):
        assert apply_merges(list(chunk), ranks, new_ids) == merge_all_by_rank(list(chunk), merges)


def test_training_text_encodes_to_the_training_segmentation(shakespeare):
    # every merge removes at least one token from the training text, so the encoded length
    # is the byte count minus the number of merge applications
    chunks = chunks_of(shakespeare[:20_000])
    records = train_bpe_fast(chunks, 100)
    merges = [pair for pair, _ in records]
    ranks = {p: r for r, p in enumerate(merges)}
    new_ids = {p: 256 + r for r, p in enumerate(merges)}
    encoded = [apply_merges(list(c), ranks, new_ids) for c in chunks]
    assert sum(map(len, encoded)) < sum(map(len, chunks))
    for enc, chunk in zip(encoded, chunks):
        assert enc == merge_all_by_rank(list(chunk), merges)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_the_ascii_split_equals_gpt2s_split_on_ascii_text(text):
    assert std_re.findall(GPT2_SPLIT_PATTERN_ASCII, text) == SPLIT.findall(text)


def test_the_ascii_split_on_shakespeare_and_every_ascii_character(shakespeare):
    every = "".join(chr(c) for c in range(128)) * 2 + " x  y\t\t z\n\n 12 ab's 'S"
    for text in (shakespeare, every):
        assert std_re.findall(GPT2_SPLIT_PATTERN_ASCII, text) == SPLIT.findall(text)
