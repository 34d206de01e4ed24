"""LLaMA and Mistral equal to transformers' models with random weights (never downloaded)."""

import pytest
import torch

from phase09.llama import Llama, LlamaConfig, generate
from phase09.mistral import Mistral, RollingKVCache

transformers = pytest.importorskip("transformers")  # a dev dependency: present in the suite


def _small(cls, **extra):
    cfg = cls(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              rms_norm_eps=1e-6, **extra)
    torch.manual_seed(0)
    return cfg


def _randomise_norms(model):
    with torch.no_grad():  # HF initialises RMSNorm weights to 1: make them matter
        for name, p in model.named_parameters():
            if "norm" in name:
                p.normal_(1.0, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def hf_llama():
    cfg = _small(transformers.LlamaConfig)
    return _randomise_norms(transformers.LlamaForCausalLM(cfg))


@pytest.fixture(scope="module")
def hf_mistral():
    cfg = _small(transformers.MistralConfig, sliding_window=8)
    return _randomise_norms(transformers.MistralForCausalLM(cfg))


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_llama_logits_equal_hf(hf_llama, layout):
    idx = torch.randint(0, 97, (2, 40), generator=torch.Generator().manual_seed(1))
    ours = Llama.from_hf(hf_llama, rope_layout=layout)
    assert ours.config.n_head == 4 and ours.config.n_kv_head == 2
    with torch.no_grad():
        err = (ours(idx) - hf_llama(idx).logits).abs().max().item()
    assert err < 1e-5, err  # float32


def test_llama_cached_generation_equals_uncached(hf_llama):
    ours = Llama.from_hf(hf_llama)
    prompt = torch.randint(0, 97, (2, 5), generator=torch.Generator().manual_seed(2))
    assert torch.equal(generate(ours, prompt, 20), generate(ours, prompt, 20, use_cache=False))
    with torch.no_grad():  # and the logits themselves, chunk by chunk
        cache = ours.new_cache(2)
        seq = generate(ours, prompt, 20)
        chunks = torch.cat([ours(seq[:, :9], cache=cache), ours(seq[:, 9:10], cache=cache),
                            ours(seq[:, 10:], cache=cache)], 1)
        assert (chunks - ours(seq)).abs().max().item() < 1e-5  # float32


def test_mistral_logits_equal_hf_past_the_window(hf_mistral):
    idx = torch.randint(0, 97, (2, 40), generator=torch.Generator().manual_seed(3))  # 40 > window 8
    ours = Mistral.from_hf(hf_mistral)
    assert ours.config.sliding_window == 8
    with torch.no_grad():
        err = (ours(idx) - hf_mistral(idx).logits).abs().max().item()
        # the window matters: without it the logits past position 8 differ
        no_window = Llama(LlamaConfig(**{**ours.config.__dict__, "sliding_window": None}))
        no_window.load_state_dict(ours.state_dict())
        assert (no_window(idx) - ours(idx))[:, 8:].abs().max().item() > 1e-3
    assert err < 1e-5, err  # float32


def test_mistral_rolling_cache_generation_equals_uncached(hf_mistral):
    ours = Mistral.from_hf(hf_mistral)
    prompt = torch.randint(0, 97, (1, 5), generator=torch.Generator().manual_seed(4))
    cached = generate(ours, prompt, 25)   # to position 30, well past the window of 8
    assert torch.equal(cached, generate(ours, prompt, 25, use_cache=False))
    cache = ours.new_cache(1)
    assert isinstance(cache, RollingKVCache)
    assert cache.k.shape[3] == 8                         # memory bounded by the window
    with torch.no_grad():                                # a prefill longer than the window, then chunks
        seq = cached
        out = torch.cat([ours(seq[:, :13], cache=cache), ours(seq[:, 13:14], cache=cache),
                         ours(seq[:, 14:], cache=cache)], 1)
        assert (out - ours(seq)).abs().max().item() < 1e-5  # float32


def test_wrong_architecture_is_a_clear_error(hf_llama, hf_mistral):
    with pytest.raises(ValueError, match="expected a 'mistral' model"):
        Mistral.from_hf(hf_llama)
    with pytest.raises(ValueError, match="expected a 'llama' model"):
        Llama.from_hf(transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2)))
    model = Llama.from_hf(hf_llama)
    gpt2_keys = {"transformer.wte.weight": torch.zeros(97, 64), "lm_head.weight": torch.zeros(97, 64)}
    with pytest.raises(ValueError, match="missing keys: .*unexpected keys: transformer.wte.weight"):
        model.load_hf_state_dict(gpt2_keys)


def test_config_errors():
    with pytest.raises(ValueError, match="n_head 4 is not a multiple of n_kv_head 3"):
        LlamaConfig(n_head=4, n_kv_head=3)
    with pytest.raises(ValueError, match="head_dim must be even"):
        LlamaConfig(head_dim=15)
    with pytest.raises(ValueError, match="sliding_window must be set"):
        Mistral(LlamaConfig())
    with pytest.raises(ValueError, match="exceeds max_seq_len"):
        Llama(LlamaConfig(max_seq_len=8))(torch.zeros(1, 9, dtype=torch.long))
