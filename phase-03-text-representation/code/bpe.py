"""Byte-pair encoding: the algorithm, two trainers that learn the same merges, and encoding.

BPE (Sennrich, Haddow & Birch 2016, on bytes as GPT-2 does) starts from the 256 byte values
and repeatedly fuses the most frequent adjacent pair of tokens into a new token. Training
records the merges in order; encoding replays them on new text, lowest rank first.

- ``pair_counts`` / ``merge``          the two steps of one round, on a list of ids
- ``train_bpe_reference``              recounts every pair after every merge (read this one)
- ``train_bpe_fast``                   the same merges, with a linked list and a heap
- ``apply_merges``                     encoding: merge the lowest-ranked pair until none is left
- ``GPT2_SPLIT_PATTERN``               GPT-2's pre-tokenisation regex (and its ASCII twin)

**Tie-break.** When several pairs share the highest count, the trainers take the pair with
the smallest ids, comparing the left id first and then the right id: ``(32, 116)`` beats
``(101, 32)``, and a raw byte beats any merged token (ids >= 256) in the same position.
Both trainers follow this rule, so they produce exactly the same merges.

**Counting.** A pair is counted at every position where it occurs, overlaps included (``a a a``
holds ``(a, a)`` twice), and a merge replaces occurrences left to right (``a a a`` becomes
``aa a``). Training stops early when no pair is left (every chunk is a single token).

See phase-03-text-representation/notes/bpe-by-hand.md for a worked example.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

# GPT-2's split pattern: common English contractions, runs of letters, runs of digits, runs of
# other symbols (each optionally led by one space), and whitespace. "\s+(?!\S)" leaves the
# last space of a run for the word that follows. (This is the pattern of OpenAI's encoder.py
# with the seven contractions folded into one group, the form tiktoken uses.)
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# The same split for text that is pure ASCII, where GPT-2's character classes are known
# exactly: \p{L} is [A-Za-z], \p{N} is [0-9], \s is [\t\n\v\f\r ]. Python's own `re` module
# runs it about twice as fast as `regex` runs the Unicode pattern. (Not `re`'s \s: it also
# matches the separators \x1c-\x1f, which GPT-2's \s does not.)
GPT2_SPLIT_PATTERN_ASCII = (
    r"""'(?:[sdmt]|ll|ve|re)| ?[A-Za-z]+| ?[0-9]+| ?[^\t\n\v\f\r A-Za-z0-9]+"""
    r"""|[\t\n\v\f\r ]+(?![^\t\n\v\f\r ])|[\t\n\v\f\r ]+"""
)

Pair = tuple[int, int]
MergeRecord = tuple[Pair, int]  # (pair, how often it occurred when it was merged)


def pair_counts(ids: Sequence[int], counts: Counter | None = None) -> Counter:
    """How often each adjacent pair occurs in ``ids`` (added to ``counts`` when given).

    >>> pair_counts([1, 2, 3, 1, 2])
    Counter({(1, 2): 2, (2, 3): 1, (3, 1): 1})
    >>> pair_counts([7, 7, 7])                # overlapping occurrences both count
    Counter({(7, 7): 2})
    """
    counts = Counter() if counts is None else counts
    counts.update(zip(ids, ids[1:]))  # (ids[0], ids[1]), (ids[1], ids[2]), ...
    return counts


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([7, 7, 7], (7, 7), 8)           # the left occurrence wins an overlap
    [8, 7]
    """
    out = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def best_pair(counts: Counter) -> Pair:
    """The pair to merge next: the highest count, ties to the smallest ``(left, right)``.

    >>> best_pair(Counter({(101, 32): 5, (32, 116): 5, (116, 104): 3}))
    (32, 116)
    """
    return min(counts, key=lambda pair: (-counts[pair], pair))


def train_bpe_reference(chunks: Iterable[bytes], num_merges: int) -> list[MergeRecord]:
    """Learn up to ``num_merges`` merges from ``chunks`` the plain way (for reading).

    Each chunk is a byte string (a whole text, or one pre-token of GPT-2's split); pairs
    never cross chunk borders. Every round recounts every pair of every chunk, takes the best
    one (``best_pair``), and merges it everywhere. Merge ``k`` creates token ``256 + k``.
    Returns ``[(pair, count), ...]`` in the order the merges were made.

    >>> train_bpe_reference([b"aaab", b"ab"], 2)
    [((97, 97), 2), ((97, 98), 2)]
    """
    seqs = [list(chunk) for chunk in chunks]  # each chunk as its byte values
    merges: list[MergeRecord] = []
    for k in range(num_merges):
        counts = Counter()
        for seq in seqs:
            pair_counts(seq, counts)
        if not counts:  # every chunk is a single token: nothing left to merge
            break
        pair = best_pair(counts)
        seqs = [merge(seq, pair, 256 + k) for seq in seqs]
        merges.append((pair, counts[pair]))
    return merges


def train_bpe_fast(chunks: Iterable[bytes], num_merges: int) -> list[MergeRecord]:
    """The same merges as ``train_bpe_reference``, without recounting anything.

    Three ideas make it fast:

    1. **Unique chunks with counts.** Tiny Shakespeare's 297,833 pre-tokens are only 15,057
       distinct strings; each is stored once with its count (``weight``).
    2. **Incremental pair counts.** All tokens live in one doubly linked list (arrays
       ``tok``, ``prev``, ``nxt``; -1 marks a chunk border), and ``where[pair]`` holds the
       positions where ``pair`` starts. Merging touches only those positions and adjusts the
       counts of the pairs around them: with neighbours ``x a b y``, the pairs ``(x, a)`` and
       ``(b, y)`` lose an occurrence and ``(x, ab)`` and ``(ab, y)`` gain one.
    3. **A heap for the best pair.** Entries are ``(-count, pair)``, so the top is the highest
       count and, among equals, the smallest pair: the documented tie-break. Entries go stale
       when a count changes; a popped entry is used only if it still matches the count.

    >>> train_bpe_fast([b"aaab", b"ab"], 2)
    [((97, 97), 2), ((97, 98), 2)]
    """
    weight_of = Counter(chunks)  # unique chunk -> how often it occurs
    tok: list[int] = []    # token id at each position (-1 once merged into its left neighbour)
    prev: list[int] = []   # position of the previous token in the chunk, -1 at the start
    nxt: list[int] = []    # position of the next token in the chunk, -1 at the end
    weight: list[int] = []  # how often the chunk holding this position occurs
    for chunk, w in weight_of.items():
        start, n = len(tok), len(chunk)
        if n == 0:
            continue
        tok.extend(chunk)
        prev.extend(range(start - 1, start + n - 1))
        nxt.extend(range(start + 1, start + n + 1))
        prev[start], nxt[-1] = -1, -1
        weight.extend([w] * n)

    count: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for i, j in enumerate(nxt):
        if j != -1:
            pair = (tok[i], tok[j])
            count[pair] += weight[i]
            where[pair].add(i)
    heap = [(-c, pair) for pair, c in count.items()]
    heapq.heapify(heap)

    def change(pair: Pair, pos: int, w: int) -> None:
        """Add ``w`` (negative: remove) occurrences of ``pair`` starting at ``pos``."""
        count[pair] += w
        if w > 0:
            where[pair].add(pos)
        else:
            where[pair].discard(pos)
        if count[pair] > 0:
            heapq.heappush(heap, (-count[pair], pair))
        else:
            del count[pair]

    merges: list[MergeRecord] = []
    while len(merges) < num_merges and heap:
        neg, pair = heapq.heappop(heap)
        if count.get(pair) != -neg:
            continue  # stale entry: the count changed since it was pushed
        new = 256 + len(merges)
        merges.append((pair, -neg))
        a, b = pair
        for i in sorted(where.pop(pair)):  # left to right, as merge() scans
            j = nxt[i]
            if tok[i] != a or j == -1 or tok[j] != b:
                continue  # consumed by the previous occurrence (a a a: the middle a)
            w, h, k = weight[i], prev[i], nxt[j]
            if h != -1:
                change((tok[h], a), h, -w)
            if k != -1:
                change((b, tok[k]), j, -w)
            count[pair] -= w
            tok[i], tok[j], nxt[i] = new, -1, k  # i now holds ab; j leaves the list
            if k != -1:
                prev[k] = i
            if h != -1:
                change((tok[h], new), h, w)
            if k != -1:
                change((new, tok[k]), i, w)
        count.pop(pair, None)  # every occurrence is merged: the count is 0
        where.pop(pair, None)  # (re-created if a b b overlapped the pair itself)
    return merges


def apply_merges(ids: Sequence[int], ranks: dict[Pair, int], merges: dict[Pair, int]) -> list[int]:
    """Encode one chunk: merge the lowest-ranked pair present, again and again.

    ``ranks[pair]`` is the pair's position in training order (0 was learned first) and
    ``merges[pair]`` the id it becomes. This is GPT-2's encoding loop. It merges one
    occurrence at a time, the leftmost lowest-ranked one, keeping the rank of every
    adjacent pair in a list so that finding the minimum is one call to ``min``. That equals
    merging every occurrence of the pair left to right (as ``merge`` does), because a pair
    that contains the new token was learned later, so it ranks after the pair just merged.

    >>> apply_merges([97, 97, 97, 98], {(97, 97): 0, (97, 98): 1}, {(97, 97): 256, (97, 98): 257})
    [256, 257]
    """
    ids = list(ids)
    none = len(ranks)  # ranks are 0 .. len-1: this one means "not a merge"
    pair_ranks = [ranks.get(pair, none) for pair in zip(ids, ids[1:])]  # rank of (ids[i], ids[i+1])
    while pair_ranks:
        best = min(pair_ranks)
        if best == none:
            break  # no pair left that training merged
        i = pair_ranks.index(best)  # the leftmost occurrence
        ids[i : i + 2] = [merges[(ids[i], ids[i + 1])]]
        del pair_ranks[i]
        if i > 0:
            pair_ranks[i - 1] = ranks.get((ids[i - 1], ids[i]), none)
        if i < len(ids) - 1:
            pair_ranks[i] = ranks.get((ids[i], ids[i + 1]), none)
    return ids
