"""phase07.inspect against hand counts, against the model itself (built on the meta device),
and the activation-memory estimate against the tensors autograd really keeps."""

import pytest
import torch

from phase07 import inspect as insp
from phase07.gpt import GPT, PRESETS, GPTConfig, KVCache

GPT2 = GPTConfig.from_preset("gpt2")


def test_gpt2_parameters_by_hand():
    per_block = {
        "ln_1": 2 * 768,                        # 1,536: gain and bias
        "attn.c_attn": 768 * 2304 + 2304,       # 1,771,776: q, k, v
        "attn.c_proj": 768 * 768 + 768,         # 590,592
        "ln_2": 2 * 768,                        # 1,536
        "mlp.c_fc": 768 * 3072 + 3072,          # 2,362,368
        "mlp.c_proj": 3072 * 768 + 768,         # 2,360,064
    }
    assert insp.block_parameters(GPT2) == per_block
    assert sum(per_block.values()) == 7_087_872
    counts = insp.parameter_counts(GPT2)
    assert counts["transformer.wte"] == 38_597_376       # 50257 * 768
    assert counts["transformer.wpe"] == 786_432          # 1024 * 768
    assert counts["transformer.h.*.mlp.c_fc"] == 12 * 2_362_368
    assert counts["transformer.ln_f"] == 1_536
    assert counts["lm_head (tied to wte)"] == 0
    assert sum(counts.values()) == 38_597_376 + 786_432 + 12 * 7_087_872 + 1_536 == 124_439_808


@pytest.mark.parametrize("name", list(PRESETS))
def test_counts_equal_the_model_component_by_component(name):
    config = GPTConfig.from_preset(name)
    with torch.device("meta"):
        model = GPT(config)
    actual: dict[str, int] = {}
    for pname, p in model.named_parameters():  # each parameter once: the head is the embedding
        parts = pname.split(".")
        if parts[1] == "h":  # transformer.h.<i>.<sub>.<leaf> -> transformer.h.*.<sub>
            key = "transformer.h.*." + ".".join(parts[3:-1])
        else:
            key = ".".join(parts[:-1])
        actual[key] = actual.get(key, 0) + p.numel()
    expected = {k: v for k, v in insp.parameter_counts(config).items() if v}
    assert actual == expected


def test_gpt2_flops_by_hand():
    f = insp.flops_per_token(GPT2)  # context 1024
    assert f["attn.c_attn"] == 12 * 2 * 768 * 2304 == 42_467_328
    assert f["attn.c_proj"] == 12 * 2 * 768 * 768 == 14_155_776
    assert f["mlp.c_fc"] == f["mlp.c_proj"] == 12 * 2 * 768 * 3072 == 56_623_104
    assert f["attention scores q k^T"] == f["attention values w v"] == 12 * 2 * 1024 * 768 == 18_874_368
    assert f["lm_head"] == 2 * 768 * 50257 == 77_194_752
    t = insp.training_flops_per_token(GPT2)
    assert t["forward"] == 284_812_800
    assert t["training"] == 3 * 284_812_800 == 854_438_400
    assert t["6N"] == 6 * 124_439_808 == 746_638_848
    # PaLM's form of the same count: 6 x (matrix parameters) + 12 L T C
    matrix_params = 12 * 12 * 768 * 768 + 50257 * 768
    assert t["training"] == 6 * matrix_params + 12 * 12 * 1024 * 768
    assert insp.training_flops_per_token(GPT2, 256)["forward"] == 284_812_800 - 4 * 12 * (1024 - 256) * 768


def test_flops_match_the_products_the_model_runs():
    """Count the multiply-adds torch performs (its FLOP counter) in one forward pass.

    The explicit attention runs q k^T and w v as plain matrix products, which the counter
    sees (it has no formula for the CPU kernel behind scaled_dot_product_attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    config = GPTConfig(block_size=32, vocab_size=50, n_layer=2, n_head=2, n_embd=16, explicit_attention=True)
    model = GPT(config)
    B, T = 2, 32
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(B, T, dtype=torch.long))
    assert counter.get_total_flops() == B * T * sum(insp.flops_per_token(config, T).values())


def saved_bytes(config: GPTConfig, B: int, T: int) -> int:
    """Bytes of the distinct non-parameter tensors autograd keeps, plus the logits."""
    torch.manual_seed(0)
    model = GPT(config)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            kept[s.data_ptr()] = s.nbytes()
        return t

    idx = torch.randint(0, config.vocab_size, (B, T))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits, _ = model(idx, idx)
    kept[logits.untyped_storage().data_ptr()] = logits.untyped_storage().nbytes()
    return sum(kept.values())


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("shape", [(2, 4, 64, 65, 64), (3, 2, 48, 100, 32)])
def test_activation_memory_estimate_equals_what_autograd_keeps(shape, explicit):
    L, nh, C, V, T = shape
    config = GPTConfig(block_size=T, vocab_size=V, n_layer=L, n_head=nh, n_embd=C, explicit_attention=explicit)
    B = 3
    measured = saved_bytes(config, B, T)
    estimate = insp.training_memory(config, B, T, attention="explicit" if explicit else "sdpa")["activations"]
    # left out on purpose: int64 token ids (16 bytes a token) and the explicit path's T^2-byte
    # mask, under 1% of these totals; anything the formula misses per block is several %
    assert abs(estimate / measured - 1) < 0.01, (estimate, measured)


def test_training_memory_and_kv_cache():
    mem = insp.training_memory(GPT2, batch_size=8)
    assert mem["parameters"] == mem["gradients"] == 4 * 124_439_808
    assert mem["AdamW moments (m, v)"] == 8 * 124_439_808
    # per token: 12 (16*768 + 4 + 12) + 2*768 + 2 + 2*50257 = 147,648 + 102,052 floats
    assert mem["activations"] == 4 * 8 * 1024 * (12 * (16 * 768 + 4 + 12) + 2 * 768 + 2 + 2 * 50257)
    assert mem["total"] == sum(v for k, v in mem.items() if k != "total")
    with pytest.raises(ValueError, match="seq_len 2048 exceeds block_size 1024"):
        insp.training_memory(GPT2, 1, 2048)
    assert insp.kv_cache_bytes(GPT2, 1) == 2 * 12 * 1024 * 768 * 4
    tiny = GPTConfig.from_preset("tiny")
    assert insp.kv_cache_bytes(tiny, 3, 64) == KVCache(tiny, 3).nbytes()


def test_cli_prints_the_breakdown(capsys):
    assert insp.main(["--preset", "gpt2", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "124,439,808" in out and "7,087,872" in out and "854,438,400" in out
    assert "batch 4 x context 1024" in out
    with pytest.raises(SystemExit):
        insp.main(["--preset", "gpt5"])
