"""phase07.hf: Hugging Face GPT2LMHeadModel with random weights (never downloaded) is the
judge. Logits equal, gradients equal, weights round-trip exactly, local files load, and a
missing checkpoint is a clear error."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

from phase06.parity import assert_parity
from phase07.gpt import GPT, GPTConfig
from phase07.hf import config_from_hf, state_dict_from_hf


def hf_model(n_layer=2, n_head=2, n_embd=16, n_positions=24, vocab_size=37, seed=0, **kw) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd, n_positions=n_positions,
                     vocab_size=vocab_size, bos_token_id=None, eos_token_id=None, **kw)
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # HF zeroes biases and sets LayerNorm to (1, 0): perturb all so no mix-up hides
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.sampled_from([1, 2, 4]), st.sampled_from([8, 16]), st.integers(1, 2),
       st.integers(1, 24), st.integers(0, 10_000))
def test_logits_equal_hf_float32(n_layer, n_head, width, B, T, seed):
    hf = hf_model(n_layer=n_layer, n_head=n_head, n_embd=width, seed=seed)
    ours = GPT.from_hf(hf)
    assert ours.config == GPTConfig(block_size=24, vocab_size=37, n_layer=n_layer, n_head=n_head,
                                    n_embd=width, dropout=0.1)
    idx = torch.randint(0, 37, (B, T), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = hf(idx).logits
        got = ours(idx)
    # float32: errors relative to the largest logit (scale_floor=1), a few ulps of rounding
    # through a few layers stay far below 1e-5; a transposed or swapped weight is O(1)
    assert_parity({"logits": got}, {"logits": ref}, rtol=1e-5, scale_floor=1.0)


@pytest.mark.parametrize("activation,gelu", [("gelu_new", "tanh"), ("gelu", "exact")])
def test_logits_and_gradients_equal_hf_float64(activation, gelu):
    hf = hf_model(n_layer=3, n_head=4, n_embd=32, activation_function=activation).double()
    ours = GPT.from_hf(hf)
    assert ours.config.gelu == gelu
    assert ours.to_hf().config.activation_function == activation
    assert ours.transformer.wte.weight.dtype == torch.float64
    idx = torch.randint(0, 37, (2, 20))
    ref_logits = hf(idx[:, :-1]).logits
    # the loss on HF's logits, by torch (HF's own loss casts the logits to float32)
    ref_loss = torch.nn.functional.cross_entropy(ref_logits.reshape(-1, 37), idx[:, 1:].reshape(-1))
    logits, loss = ours(idx[:, :-1], idx[:, 1:])
    loss.backward()
    ref_loss.backward()
    actual = {"logits": logits, "loss": loss}
    expected = {"logits": ref_logits, "loss": ref_loss}
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        actual[f"{name} grad"] = p.grad
        g = hf_params[name].grad
        expected[f"{name} grad"] = g.t() if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")) else g
    assert_parity(actual, expected, rtol=1e-9)  # float64


def test_round_trip_is_exact_both_ways():
    hf = hf_model(n_layer=2, n_head=2, n_embd=16)
    back = GPT.from_hf(hf).to_hf()
    a, b = hf.state_dict(), back.state_dict()
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bit for bit
    torch.manual_seed(1)
    ours = GPT(GPTConfig.from_preset("tiny"))
    again = GPT.from_hf(ours.to_hf())
    assert again.config == ours.config
    for (k, v), (k2, v2) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    sd = ours.to_hf_state_dict()
    assert sd["transformer.h.0.mlp.c_fc.weight"].shape == (64, 256)  # Conv1D: (in, out)
    assert torch.equal(sd["transformer.h.0.mlp.c_fc.weight"], ours.transformer.h[0].mlp.c_fc.weight.t())


def test_unsupported_hf_configs_are_refused():
    with pytest.raises(ValueError, match="activation_function='relu' is not GPT-2's architecture"):
        config_from_hf(GPT2Config(activation_function="relu"))
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        config_from_hf(GPT2Config(scale_attn_by_inverse_layer_idx=True))
    with pytest.raises(ValueError, match="one dropout rate"):
        config_from_hf(GPT2Config(attn_pdrop=0.0))


def hub_style(hf: GPT2LMHeadModel) -> dict[str, torch.Tensor]:
    """OpenAI's gpt2 file on the Hub: no 'transformer.' prefix, no lm_head, a causal-mask buffer per block."""
    out = {k.removeprefix("transformer."): v.contiguous().clone() for k, v in hf.state_dict().items()
           if k != "lm_head.weight"}
    T = hf.config.n_positions
    for i in range(hf.config.n_layer):
        out[f"h.{i}.attn.bias"] = torch.ones(1, 1, T, T).tril()
    return out


def test_from_pretrained_reads_local_files(tmp_path):
    hf = hf_model(n_layer=2, n_head=4, n_embd=32)
    idx = torch.randint(0, 37, (1, 9))
    with torch.no_grad():
        ref = hf(idx).logits
    # a folder written by save_pretrained (model.safetensors + config.json)
    hf.save_pretrained(tmp_path / "saved")
    # a bare Hub-style file with a config.json beside it (n_head is not in the tensors)
    (tmp_path / "hub").mkdir()
    save_file(hub_style(hf), str(tmp_path / "hub" / "model.safetensors"))
    (tmp_path / "hub" / "config.json").write_text(json.dumps({"n_head": 4}))
    for source in (tmp_path / "saved", str(tmp_path / "hub" / "model.safetensors")):
        model = GPT.from_pretrained(source)
        assert not model.training and model.config.n_head == 4 and model.config.n_layer == 2
        with torch.no_grad():
            assert_parity({"logits": model(idx)}, {"logits": ref}, rtol=1e-5, scale_floor=1.0)  # float32


def test_hub_keys_are_normalised():
    hf = hf_model()
    ours = state_dict_from_hf(hub_style(hf))
    assert set(ours) == set(hf.state_dict()) - {"lm_head.weight"}  # prefix added, mask buffers dropped
    assert ours["transformer.h.0.attn.c_attn.bias"].shape == (48,)
    assert ours["transformer.h.1.attn.c_attn.weight"].shape == (48, 16)


def test_missing_weights_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with pytest.raises(FileNotFoundError, match=r"no local weights for 'gpt2'.*does not hold it.*huggingface-cli download gpt2"):
        GPT.from_pretrained("gpt2", cache_dir=tmp_path / "empty_cache")
    with pytest.raises(FileNotFoundError, match="no such file"):
        GPT.from_pretrained(tmp_path / "nope.safetensors")
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        GPT.from_pretrained(tmp_path / "folder")


def test_a_file_that_is_not_gpt2_is_a_clear_error(tmp_path):
    save_file({"weight": torch.zeros(3, 3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a GPT-2 checkpoint: no tensor transformer.wte.weight"):
        GPT.from_pretrained(tmp_path / "other.safetensors")
    hf = hf_model()
    broken = hub_style(hf)
    del broken["h.1.mlp.c_fc.bias"]
    save_file(broken, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"n_head": 2}))
    with pytest.raises(ValueError, match=r"missing keys: transformer\.h\.1\.mlp\.c_fc\.bias"):
        GPT.from_pretrained(tmp_path)
