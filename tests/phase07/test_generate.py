"""phase07.generate: the filters on hand examples, greedy against a hand-written loop, the KV
cache against the uncached path (same tokens), seeds, the stop token, streaming, crops."""

import pytest
import torch

from phase06.parity import assert_parity
from phase07.generate import generate, next_token, print_stream, top_k_filter, top_p_filter
from phase07.gpt import GPT, GPTConfig

INF = float("-inf")


def model(dtype=torch.float64, seed=0, **kw) -> GPT:
    torch.manual_seed(seed)
    cfg = dict(block_size=16, vocab_size=29, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg)).to(dtype).eval()


# -- the filters --------------------------------------------------------------------------

def test_top_k_by_hand():
    logits = torch.tensor([[0.1, 2.0, -1.0, 3.0, 0.5], [5.0, 4.0, 3.0, 2.0, 1.0]])
    assert torch.equal(top_k_filter(logits, 2), torch.tensor([[INF, 2.0, INF, 3.0, INF], [5.0, 4.0, INF, INF, INF]]))
    assert torch.equal(top_k_filter(logits, 5), logits)
    assert torch.equal(top_k_filter(logits, 99), logits)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        top_k_filter(logits, 0)


def test_top_p_by_hand():
    # probabilities 0.1, 0.4, 0.2, 0.3 (shuffled order on purpose): ranked 0.4, 0.3, 0.2, 0.1
    probs = torch.tensor([[0.1, 0.4, 0.2, 0.3]], dtype=torch.float64)
    logits = probs.log()
    def kept(p):
        return (top_p_filter(logits, p) > INF)[0].tolist()
    assert kept(0.3) == [False, True, False, False]   # 0.4 alone reaches 0.3
    assert kept(0.39) == [False, True, False, False]  # (an exact tie with 0.4 would hang on rounding)
    assert kept(0.5) == [False, True, False, True]    # 0.4 + 0.3 = 0.7 >= 0.5
    assert kept(0.85) == [False, True, True, True]    # 0.4 + 0.3 + 0.2 = 0.9
    assert kept(1.0) == [True, True, True, True]
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        top_p_filter(logits, 0.0)


def test_sampling_stays_inside_the_filters_and_follows_the_distribution():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.125, 0.125]])).repeat(20_000, 1)
    g = torch.Generator().manual_seed(0)
    tok = next_token(logits, temperature=1.0, generator=g)[:, 0]
    freq = torch.bincount(tok, minlength=4).double() / len(tok)
    # 20,000 draws: the standard error of a frequency is at most 0.0036; allow 5 of them
    assert torch.allclose(freq, torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64), atol=0.018)
    assert set(next_token(logits, top_k=2, generator=g)[:, 0].tolist()) == {0, 1}
    assert set(next_token(logits, top_p=0.7, generator=g)[:, 0].tolist()) == {0, 1}
    # temperature 0.5 squares the probabilities before renormalising: 0.64, 0.16, 0.04, 0.04 (x 1/0.88)
    tok = next_token(logits, temperature=0.5, generator=g)[:, 0]
    assert abs((tok == 0).double().mean().item() - 0.25 / 0.34375) < 0.02
    assert torch.equal(next_token(logits[:3], temperature=0), torch.zeros(3, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        next_token(logits, temperature=-1.0)


# -- generate -----------------------------------------------------------------------------

def reference_greedy(m: GPT, idx: torch.Tensor, n: int) -> torch.Tensor:
    """The plainest loop: whole window, full logits, arg max of the last row."""
    with torch.no_grad():
        for _ in range(n):
            logits = m(idx[:, -m.config.block_size:])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return idx


@pytest.mark.parametrize("use_cache", [False, True])
def test_greedy_equals_the_plain_loop(use_cache):
    m = model()
    idx = torch.randint(0, 29, (3, 4))
    # 30 new tokens cross block_size 16: the window slides
    got = generate(m, idx, 30, temperature=0, use_cache=use_cache)
    assert torch.equal(got, reference_greedy(m, idx, 30))


@pytest.mark.parametrize("kw", [
    dict(temperature=0),
    dict(temperature=1.0),
    dict(temperature=0.7, top_k=5),
    dict(temperature=1.3, top_p=0.8),
    dict(temperature=1.0, top_k=10, top_p=0.9),
])
@pytest.mark.parametrize("explicit", [False, True])
def test_kv_cache_gives_exactly_the_uncached_tokens(kw, explicit):
    m = model(explicit_attention=explicit)
    idx = torch.randint(0, 29, (2, 3), generator=torch.Generator().manual_seed(5))
    runs = {}
    for use_cache in (True, False):
        g = torch.Generator().manual_seed(123)
        runs[use_cache] = generate(m, idx, 25, generator=g, use_cache=use_cache, **kw)
    assert runs[True].shape == (2, 28)
    assert torch.equal(runs[True], runs[False])


def test_kv_cache_float32_tokens_and_logits():
    """float32, the default dtype: the same tokens, and per-step logits equal to rounding."""
    m = model(dtype=torch.float32, block_size=64)
    idx = torch.randint(0, 29, (1, 5))
    for seed in range(3):
        a = generate(m, idx, 40, generator=torch.Generator().manual_seed(seed), use_cache=True)
        b = generate(m, idx, 40, generator=torch.Generator().manual_seed(seed), use_cache=False)
        assert torch.equal(a, b)
    full = m(a[:, :-1])  # logits of every position in one pass = what the uncached path computes
    from phase07.gpt import KVCache
    cache = KVCache(m.config, 1)
    steps = [m(a[:, :5], cache=cache)] + [m(a[:, t:t + 1], cache=cache) for t in range(5, a.size(1) - 1)]
    # float32 through 2 layers: relative to the largest logit, a few ulps
    assert_parity({"logits": torch.cat(steps, 1)}, {"logits": full}, rtol=1e-5, scale_floor=1.0)


def test_seed_reproduces_and_different_seeds_differ():
    m = model()
    idx = torch.zeros(1, 1, dtype=torch.long)
    a = generate(m, idx, 20, generator=torch.Generator().manual_seed(7))
    b = generate(m, idx, 20, generator=torch.Generator().manual_seed(7))
    c = generate(m, idx, 20, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_stop_token_ends_each_row_and_pads():
    m = model()
    idx = torch.randint(0, 29, (4, 2), generator=torch.Generator().manual_seed(3))
    free = generate(m, idx, 12, temperature=0)[:, 2:]   # greedy: each row independent of the others
    stop = int(free[0, 4])                               # the 5th token of row 0
    out = generate(m, idx, 12, temperature=0, stop_token=stop)[:, 2:]
    first = [row.index(stop) if stop in row else None for row in free.tolist()]
    assert first[0] is not None and first[0] <= 4
    # generation runs until every row has stopped (or 12 tokens)
    assert out.size(1) == (12 if None in first else max(first) + 1)
    for r, k in enumerate(first):
        if k is None:
            assert out[r].tolist() == free[r, :out.size(1)].tolist()
        else:  # the same tokens up to the first stop, then stop tokens as padding
            assert out[r, :k + 1].tolist() == free[r, :k + 1].tolist()
            assert all(t == stop for t in out[r, k:].tolist())
    single = generate(m, idx[:1], 12, temperature=0, stop_token=stop)[0, 2:]
    assert single.tolist() == free[0, :first[0] + 1].tolist()


def test_streaming_prints_each_token_as_it_comes(capsys):
    m = model()
    seen = []
    alphabet = "abcdefghijklmnopqrstuvwxyz.,!"
    decode = lambda ids: "".join(alphabet[i] for i in ids)
    stream = print_stream(decode)
    def on_token(tok):
        seen.append(tok.clone())
        stream(tok)
    out = generate(m, torch.zeros(1, 1, dtype=torch.long), 10, temperature=0, on_token=on_token)
    assert torch.equal(torch.cat(seen, 1), out[:, 1:])
    assert capsys.readouterr().out == decode(out[0, 1:].tolist())


def test_prompt_longer_than_the_context_is_cropped_with_a_warning():
    m = model()
    idx = torch.randint(0, 29, (1, 20))
    with pytest.warns(UserWarning, match="prompt of 20 tokens is longer than block_size 16"):
        out = generate(m, idx, 3, temperature=0)
    assert torch.equal(out[:, :20], idx)  # the prompt is returned whole
    assert torch.equal(out, reference_greedy(m, idx, 3))  # the model saw the last 16
    with pytest.raises(ValueError, match=r"idx must be \(B, T\)"):
        generate(m, torch.zeros(1, 0, dtype=torch.long), 3)


def test_generate_restores_training_mode_and_ignores_dropout():
    m = model(dropout=0.5).train()
    idx = torch.zeros(1, 2, dtype=torch.long)
    a = generate(m, idx, 8, temperature=0)
    assert m.training
    assert torch.equal(a, generate(m, idx, 8, temperature=0))
