"""RMSNorm, SwiGLU and grouped-query attention against HF's modules and direct formulas."""

import math

import pytest
import torch
import torch.nn.functional as F

from phase09.layers import GQAttention, RMSNorm, SwiGLU, attention_mask, kv_cache_bytes, repeat_kv
from phase09.rope import apply_rope, rope_cos_sin


def test_rmsnorm_by_hand_and_vs_hf():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    x = torch.tensor([[3.0, 4.0]])  # mean of squares 12.5 -> rms 3.5355
    norm = RMSNorm(2, eps=0.0)
    torch.testing.assert_close(norm(x), torch.tensor([[3 / math.sqrt(12.5), 4 / math.sqrt(12.5)]]))
    ours, hf = RMSNorm(16, eps=1e-5), LlamaRMSNorm(16, eps=1e-5)
    with torch.no_grad():
        ours.weight.normal_()
        hf.weight.copy_(ours.weight)
    x = torch.randn(3, 5, 16)
    torch.testing.assert_close(ours(x), hf(x), rtol=0, atol=0)  # same float32 operations


def test_swiglu_vs_hf_llama_mlp():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    hf = LlamaMLP(LlamaConfig(hidden_size=16, intermediate_size=40, num_attention_heads=2,
                                num_key_value_heads=2))
    ours = SwiGLU(16, 40)
    ours.load_state_dict(hf.state_dict())
    x = torch.randn(2, 7, 16)
    torch.testing.assert_close(ours(x), hf(x), rtol=0, atol=1e-6)  # float32
    # and the formula itself
    g, u, d = hf.gate_proj.weight, hf.up_proj.weight, hf.down_proj.weight
    torch.testing.assert_close(ours(x), (F.silu(x @ g.T) * (x @ u.T)) @ d.T, rtol=0, atol=1e-6)


def test_repeat_kv_groups_heads():
    x = torch.arange(2 * 3).view(1, 2, 3, 1).float()  # 2 KV heads
    y = repeat_kv(x, 3)                                  # 6 query heads
    assert [y[0, h, 0, 0].item() for h in range(6)] == [0, 0, 0, 3, 3, 3]


@pytest.mark.parametrize("n_kv", [4, 2, 1])  # MHA, GQA, MQA
def test_gqa_equals_per_head_formula(n_kv):
    torch.manual_seed(0)
    attn = GQAttention(32, n_head=4, n_kv_head=n_kv, head_dim=8).double()
    x = torch.randn(2, 6, 32, dtype=torch.float64)
    pos = torch.arange(6)
    cos, sin = rope_cos_sin(pos, 8, dtype=torch.float64)
    out = attn(x, cos, sin, pos)
    q = apply_rope((x @ attn.q_proj.weight.T).view(2, 6, 4, 8).transpose(1, 2), cos, sin)
    k = apply_rope((x @ attn.k_proj.weight.T).view(2, 6, n_kv, 8).transpose(1, 2), cos, sin)
    v = (x @ attn.v_proj.weight.T).view(2, 6, n_kv, 8).transpose(1, 2)
    heads = []
    for h in range(4):
        g = h // (4 // n_kv)  # the KV head that query head h reads
        s = q[:, h] @ k[:, g].transpose(-1, -2) / math.sqrt(8)
        s = s.masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), float("-inf"))
        heads.append(torch.softmax(s, -1) @ v[:, g])
    ref = torch.cat(heads, -1) @ attn.o_proj.weight.T
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)  # float64


def test_bad_head_counts_are_clear_errors():
    with pytest.raises(ValueError, match="n_head 6 is not a multiple of n_kv_head 4"):
        GQAttention(48, 6, 4)


def test_sliding_window_mask_by_hand():
    m = attention_mask(torch.arange(5), torch.arange(5), window=3)
    assert m[4].tolist() == [False, False, True, True, True]
    assert m[1].tolist() == [True, True, False, False, False]


def test_kv_cache_saving_of_gqa(capsys):
    # LLaMA-2 70B: 80 layers, 64 query heads, 8 KV heads, head_dim 128, 4096 positions, fp16
    mha = kv_cache_bytes(80, 64, 128, 4096)
    gqa = kv_cache_bytes(80, 8, 128, 4096)
    assert mha == 2 * 80 * 64 * 4096 * 128 * 2 == 10 * 2**30   # 10 GiB by hand
    assert mha // gqa == 8
    print(f"KV cache per 4k sequence: MHA {mha / 2**30:.2f} GiB, GQA(8) {gqa / 2**30:.2f} GiB, "
          f"MQA {kv_cache_bytes(80, 1, 128, 4096) / 2**30:.3f} GiB")
    assert "GQA(8) 1.25 GiB" in capsys.readouterr().out
