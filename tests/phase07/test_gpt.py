"""phase07.gpt: config and presets, the exact parameter count, init, the forward/loss
contract, SDPA against the explicit attention, the KV-cache forward, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from phase06.parity import assert_parity
from phase07.gpt import GPT, PRESETS, GPTConfig, KVCache, lm_loss


def small(**kw) -> GPTConfig:
    base = dict(block_size=16, vocab_size=23, n_layer=2, n_head=2, n_embd=16)
    base.update(kw)
    return GPTConfig(**base)


def model64(seed=0, **kw) -> GPT:
    torch.manual_seed(seed)
    return GPT(small(**kw)).double().eval()


# -- config -------------------------------------------------------------------------------

def test_presets_have_the_published_shapes():
    expect = {  # (n_layer, n_head, n_embd, block_size, vocab_size): GPT-2's released configs, nanoGPT's char config
        "gpt2": (12, 12, 768, 1024, 50257),
        "gpt2-medium": (24, 16, 1024, 1024, 50257),
        "gpt2-large": (36, 20, 1280, 1024, 50257),
        "gpt2-xl": (48, 25, 1600, 1024, 50257),
        "shakespeare-char": (6, 6, 384, 256, 65),
    }
    for name, shape in expect.items():
        c = GPTConfig.from_preset(name)
        assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.vocab_size) == shape, name
        assert c.layer_norm_eps == 1e-5
    assert "tiny" in PRESETS
    assert GPTConfig.from_preset("gpt2", block_size=256).block_size == 256


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match=r"unknown preset 'gpt3'; presets are: gpt2, gpt2-medium, gpt2-large, gpt2-xl, tiny, shakespeare-char"):
        GPTConfig.from_preset("gpt3")
    with pytest.raises(ValueError, match="GPTConfig has no field n_heads"):
        GPTConfig.from_preset("tiny", n_heads=3)


def test_bad_config_names_the_limit():
    with pytest.raises(ValueError, match="n_embd 100 is not divisible by n_head 3"):
        GPTConfig(n_embd=100, n_head=3)
    with pytest.raises(ValueError, match="n_layer must be a positive integer"):
        GPTConfig(n_layer=0)
    with pytest.raises(ValueError, match="dropout must be in"):
        GPTConfig(dropout=1.0)


# -- parameters -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    # 50257*768 + 1024*768 + 12*7,087,872 + 2*768 = 38,597,376 + 786,432 + 85,054,464 + 1,536
    ("gpt2", 124_439_808),
    # the counts Hugging Face reports for the released checkpoints
    ("gpt2-medium", 354_823_168),
    ("gpt2-large", 774_030_080),
    ("gpt2-xl", 1_557_611_200),
])
def test_parameter_count_counts_the_tied_weight_once(name, expected):
    with torch.device("meta"):  # shapes only: no memory, no time
        model = GPT(GPTConfig.from_preset(name))
    assert model.num_parameters() == expected
    assert model.lm_head.weight is model.transformer.wte.weight
    all_names = dict(model.named_parameters(remove_duplicate=False))
    assert sum(p.numel() for p in all_names.values()) == expected + 50257 * model.config.n_embd


def test_init_statistics():
    torch.manual_seed(0)
    cfg = GPTConfig(block_size=128, vocab_size=512, n_layer=8, n_head=4, n_embd=256)
    model = GPT(cfg)
    resid = 0.02 / math.sqrt(2 * cfg.n_layer)
    for name, p in model.named_parameters():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            assert torch.all(p == 1), name
        elif name.endswith(".bias"):
            assert torch.all(p == 0), name
        else:
            std = resid if name.endswith("c_proj.weight") else 0.02
            # the sample std of n normal draws has relative spread 1/sqrt(2n) <= 1.1e-3 here: allow 5 of those
            assert abs(p.std().item() / std - 1) < 5 / math.sqrt(2 * p.numel()), name
            assert abs(p.mean().item()) < 5 * std / math.sqrt(p.numel()), name


# -- forward and loss -----------------------------------------------------------------------

def test_forward_contract_and_loss():
    model = model64()
    idx = torch.randint(0, 23, (3, 7))
    targets = torch.randint(0, 23, (3, 7))
    logits = model(idx)
    assert logits.shape == (3, 7, 23) and logits.dtype == torch.float64
    logits2, loss = model(idx, targets)
    assert torch.equal(logits, logits2)
    # reference: the mean of -log softmax at the target, written out
    logp = logits.log_softmax(-1).gather(-1, targets[..., None])[..., 0]
    assert abs(loss.item() - (-logp.mean().item())) < 1e-12  # float64
    # ignore_index -1 drops positions from the mean
    t2 = targets.clone()
    t2[:, :3] = -1
    _, loss2 = model(idx, t2)
    assert abs(loss2.item() - (-logp[:, 3:].mean().item())) < 1e-12
    assert abs(lm_loss(logits, targets).item() - F.cross_entropy(logits.reshape(-1, 23), targets.reshape(-1)).item()) < 1e-12
    with pytest.raises(ValueError, match="targets"):
        lm_loss(logits, targets[:, :3])


def test_last_only_is_the_last_row():
    model = model64()
    idx = torch.randint(0, 23, (2, 9))
    assert_parity({"last": model(idx, last_only=True)[:, 0]}, {"last": model(idx)[:, -1]}, rtol=1e-12)


def test_causal_the_future_does_not_change_the_past():
    model = model64()
    idx = torch.randint(0, 23, (1, 10))
    other = idx.clone()
    other[0, 6:] = (other[0, 6:] + 5) % 23
    assert_parity({"logits[:6]": model(other)[:, :6]}, {"logits[:6]": model(idx)[:, :6]}, rtol=1e-12)
    assert not torch.allclose(model(other)[:, 6:], model(idx)[:, 6:])


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 2, 4]), st.integers(1, 16))
def test_sdpa_equals_explicit_attention_forward_and_backward(B, n_layer, n_head, T):
    torch.manual_seed(B * 100 + n_layer * 10 + T)
    sdpa = GPT(small(n_layer=n_layer, n_head=n_head)).double()
    explicit = GPT(small(n_layer=n_layer, n_head=n_head, explicit_attention=True)).double()
    explicit.load_state_dict(sdpa.state_dict())
    idx = torch.randint(0, 23, (B, T))
    targets = torch.randint(0, 23, (B, T))
    out = {}
    for name, m in (("sdpa", sdpa), ("explicit", explicit)):
        logits, loss = m(idx, targets)
        loss.backward()
        out[name] = {"logits": logits, **{f"{k} grad": p.grad for k, p in m.named_parameters()}}
    assert_parity(out["explicit"], out["sdpa"], rtol=1e-9)  # float64: the two differ by rounding only


def test_explicit_attention_refuses_attention_dropout_in_training():
    model = GPT(small(explicit_attention=True, dropout=0.1))
    with pytest.raises(ValueError, match="explicit_attention has no dropout"):
        model(torch.zeros(1, 4, dtype=torch.long))
    model.eval()
    assert model(torch.zeros(1, 4, dtype=torch.long)).shape == (1, 4, 23)


def test_too_long_or_badly_shaped_input_names_the_limit():
    model = GPT(small())
    with pytest.raises(ValueError, match="sequence length 17 exceeds block_size 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"idx must be \(B, T\)"):
        model(torch.zeros(17, dtype=torch.long))


# -- the KV-cache forward -------------------------------------------------------------------

@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("chunks", [[16], [1] * 16, [5, 1, 1, 4, 5], [3, 13]])
def test_cached_forward_in_chunks_equals_one_full_forward(chunks, explicit):
    model = model64(explicit_attention=explicit)
    idx = torch.randint(0, 23, (2, 16))
    full = model(idx)
    cache = KVCache(model.config, 2, dtype=torch.float64)
    pieces, t = [], 0
    for n in chunks:
        pieces.append(model(idx[:, t:t + n], cache=cache))
        t += n
    assert cache.length == 16
    assert_parity({"logits": torch.cat(pieces, 1)}, {"logits": full}, rtol=1e-10)  # float64


def test_cache_limits():
    model = model64()
    cache = KVCache(model.config, 1, max_len=8, dtype=torch.float64)
    model(torch.zeros(1, 8, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="9 positions do not fit in max_len 8"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)
    full = KVCache(model.config, 1, dtype=torch.float64)
    model(torch.zeros(1, 16, dtype=torch.long), cache=full)
    with pytest.raises(ValueError, match="sequence length 17 exceeds block_size 16"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=full)
    with pytest.raises(ValueError, match="max_len 17 must be in 1..block_size 16"):
        KVCache(model.config, 1, max_len=17)
    # keys and values of every layer: 2 x (n_layer, B, n_head, T, head_size) floats
    assert full.nbytes() == 2 * 2 * 1 * 2 * 16 * 8 * 8


# -- state dicts ----------------------------------------------------------------------------

def test_state_dict_errors_name_the_keys():
    model = GPT(small())
    sd = model.state_dict()
    bad = dict(sd)
    del bad["transformer.h.1.mlp.c_fc.bias"]
    bad["transformer.h.2.ln_1.weight"] = torch.ones(16)
    with pytest.raises(ValueError, match=r"missing keys: transformer\.h\.1\.mlp\.c_fc\.bias \| unexpected keys: transformer\.h\.2\.ln_1\.weight"):
        model.load_state_dict(bad)
    wrong = dict(sd)
    wrong["transformer.wpe.weight"] = torch.zeros(32, 16)
    with pytest.raises(ValueError, match=r"transformer\.wpe\.weight is \(32, 16\), expected \(16, 16\)"):
        model.load_state_dict(wrong)
    untied = dict(sd)
    untied["lm_head.weight"] = sd["lm_head.weight"] + 1
    with pytest.raises(ValueError, match="lm_head.weight differs from transformer.wte.weight"):
        model.load_state_dict(untied)


def test_load_state_dict_keeps_the_tie_and_accepts_a_missing_head():
    src, dst = GPT(small()), GPT(small())
    sd = {k: v for k, v in src.state_dict().items() if k != "lm_head.weight"}
    dst.load_state_dict(sd)
    for assign in (False, True):
        dst.load_state_dict(src.state_dict(), assign=assign)
        assert dst.lm_head.weight is dst.transformer.wte.weight
        assert torch.equal(dst.lm_head.weight, src.transformer.wte.weight)
    idx = torch.randint(0, 23, (1, 5))
    assert torch.equal(dst(idx), src(idx))


def test_gelu_forms_are_the_two_torch_gelus_and_a_bad_name_is_refused():
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    tanh = GPT(small(gelu="tanh")).transformer.h[0].mlp.gelu
    exact = GPT(small(gelu="exact")).transformer.h[0].mlp.gelu
    assert torch.equal(tanh(x), torch.nn.functional.gelu(x, approximate="tanh"))
    torch.testing.assert_close(exact(x), 0.5 * x * (1 + torch.erf(x / 2**0.5)), rtol=1e-12, atol=1e-15)
    assert 0 < (tanh(x) - exact(x)).abs().max() < 1e-3  # two curves, close but not the same
    with pytest.raises(ValueError, match="gelu must be one of tanh, exact"):
        small(gelu="relu")
