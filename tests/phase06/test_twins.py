"""The torch twins as torch modules: weight transfer by name, tied weights, buffers, dtypes
(nothing that breaks on MPS), dropout in training, the reference torch.nn modules, errors."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from phase02.rnn import LSTM as NumpyLSTM
from phase05.lm import GPT as NumpyGPT
from phase05.lm import GPTConfig
from phase05.transformer import Transformer as NumpyTransformer
from phase05.transformer import TransformerConfig
from phase06 import attention, cases, layers, lm, rnn, transformer
from phase06.convert import load_numpy_weights, save_torch_weights
from phase06.parity import assert_parity

CODE = Path(__file__).resolve().parents[2] / "phase-06-pytorch-transition" / "code"
GPT_CFG = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
TR_CFG = TransformerConfig(9, 9, d_model=8, n_head=2, d_ff=16, n_encoder_layers=1, n_decoder_layers=1, max_len=10)


def test_state_dict_transfer_is_one_line_and_tied_weights_stay_tied():
    ref = NumpyGPT(GPT_CFG, rng=np.random.default_rng(0))
    twin = lm.GPT(GPT_CFG)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in ref.state_dict().items()})   # the line
    assert set(twin.state_dict()) == set(ref.state_dict())          # both list lm_head.weight and wte.weight
    assert twin.lm_head.weight is twin.wte.weight
    assert np.array_equal(twin.lm_head.weight.detach().numpy(), ref.wte.weight.data)
    tr = transformer.Transformer(TR_CFG)
    assert tr.generator.weight is tr.src_embed.weight is tr.tgt_embed.weight
    assert set(tr.state_dict()) == set(NumpyTransformer(TR_CFG).state_dict())   # pe is not in it


def test_weights_go_back_to_numpy():
    twin = lm.GPT(GPT_CFG)
    ref = NumpyGPT(GPT_CFG, rng=np.random.default_rng(0))
    save_torch_weights(twin, ref)
    assert np.array_equal(ref.blocks[1].mlp.c_fc.weight.data, twin.blocks[1].mlp.c_fc.weight.detach().numpy())


def test_transfer_errors_name_the_parameter():
    ref = NumpyLSTM(3, 4, num_layers=2, rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="weight_ih_l1"):
        load_numpy_weights(rnn.LSTM(3, 4, num_layers=1), ref)        # unexpected key
    with pytest.raises(RuntimeError, match="size mismatch for weight_ih_l0"):
        load_numpy_weights(rnn.GRU(3, 4, num_layers=2), ref)          # 3 gates, not 4


def test_buffer_moves_with_the_module_but_is_not_saved():
    pe = transformer.SinusoidalPositionalEncoding(6, 10)
    assert [n for n, _ in pe.named_buffers()] == ["pe"] and pe.state_dict() == {}
    assert pe.pe.dtype == torch.float32 and pe.to(torch.float64).pe.dtype == torch.float64
    exact = transformer.SinusoidalPositionalEncoding(6, 10, dtype=torch.float64).pe
    assert exact[3, 0].item() == math.sin(3.0)                        # float64 table: exact to the ulp
    assert abs(pe.pe[3, 0].item() - math.sin(3.0)) > 0                # float32 then .double(): digits lost


def every_twin():
    """One float32 twin of every kind, built with torch's default dtype (as on MPS)."""
    return [
        layers.Linear(3, 4), layers.GELU("tanh"), layers.Dropout(0.1), rnn.LSTM(3, 4, 2), rnn.GRUCell(3, 4),
        attention.MultiHeadAttention(4, 2), transformer.LayerNorm(4), transformer.Transformer(TR_CFG),
        transformer.SinusoidalPositionalEncoding(4, 6), lm.GPT(GPT_CFG),
    ] + [cls(*args) for cls, args in [(rnn.RNN, (3, 4)), (transformer.FeedForward, (4, 8))]]


def test_nothing_is_float64_unless_asked_mps_has_no_float64():
    for twin in every_twin():
        for name, t in list(twin.named_parameters()) + list(twin.named_buffers()):
            assert t.dtype == torch.float32, f"{type(twin).__name__}.{name} is {t.dtype}"
    out = lm.GPT(GPT_CFG)(torch.zeros(1, 3, dtype=torch.long))
    assert out.dtype == torch.float32
    out = transformer.Transformer(TR_CFG)(torch.ones(1, 4, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))
    assert out.dtype == torch.float32


def test_no_pin_memory_anywhere_in_phase06():
    offenders = [p.name for p in CODE.glob("*.py") if "pin_memory" in p.read_text() and p.name != "device.py"]
    assert offenders == []


def test_dropout_twin_in_training_and_eval():
    torch.manual_seed(0)
    drop = layers.Dropout(0.25)
    y = drop(torch.ones(100_000))
    zero = (y == 0).float().mean().item()
    assert abs(zero - 0.25) < 0.01                                   # 5 standard deviations: 0.0014 each
    assert torch.allclose(y[y != 0], torch.tensor(1 / 0.75))         # survivors scaled up
    assert torch.equal(drop.eval()(torch.ones(5)), torch.ones(5))


def test_twins_equal_the_torch_nn_modules():
    """Independent of NumPy: each twin against the torch.nn module that does the same job."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    ours = rnn.LSTM(3, 4, num_layers=2).double()
    ref = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    ref.load_state_dict(ours.state_dict())                          # the same names
    out, h, c = ours(x)
    ref_out, (ref_h, ref_c) = ref(x)
    assert_parity({"out": out, "h": h, "c": c}, {"out": ref_out, "h": ref_h, "c": ref_c}, rtol=1e-10)  # float64

    ln = transformer.LayerNorm(3).double()
    assert_parity({"y": ln(x)}, {"y": torch.nn.LayerNorm(3).double()(x)}, rtol=1e-12)  # the same kernel

    mha = attention.MultiHeadAttention(4, 2).double()
    ref_mha = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    with torch.no_grad():                                            # torch packs q, k, v in one matrix
        ref_mha.in_proj_weight.copy_(torch.cat([mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight]))
        ref_mha.in_proj_bias.copy_(torch.cat([mha.q_proj.bias, mha.k_proj.bias, mha.v_proj.bias]))
        ref_mha.out_proj.weight.copy_(mha.out_proj.weight)
        ref_mha.out_proj.bias.copy_(mha.out_proj.bias)
    q, kv = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64)
    real = torch.tensor([[True] * 5, [True, True, False, False, False]])
    ours_out = mha(q, kv, key_padding_mask=real)                     # True = real key (phase 04)
    ref_out, _ = ref_mha(q, kv, kv, key_padding_mask=~real)          # True = ignore (torch)
    assert_parity({"out": ours_out}, {"out": ref_out}, rtol=1e-10)  # float64

    causal = lm.CausalSelfAttention(4, 2).double()
    y = causal(q)
    qkv = causal.c_attn(q).split(4, dim=2)
    heads = [attention.split_heads(t, 2) for t in qkv]
    explicit = causal.c_proj(attention.merge_heads(attention.explicit_attention(*heads, is_causal=True)))
    assert_parity({"y": y}, {"y": explicit}, rtol=1e-10)             # fused kernel vs written out


def test_attention_twin_rows_with_no_key_are_zero_not_nan():
    q = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 4, 3, dtype=torch.float64)
    mask = torch.tensor([[False] * 4, [True, False, True, False]])
    out, w = attention.scaled_dot_product_attention(q, k, k, mask)
    out.sum().backward()
    assert torch.equal(w[0, 0], torch.zeros(4, dtype=torch.float64)) and torch.isfinite(q.grad).all()
    assert torch.allclose(w[0, 1].sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.isnan(torch.softmax(torch.full((4,), float("-inf")), dim=-1)).all()   # what a plain softmax gives


def test_bad_input_raises_value_error_naming_the_layer():
    with pytest.raises(ValueError, match=r"Linear\(3, 4\): input of shape \(2, 5\)"):
        layers.Linear(3, 4)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="not divisible by num_heads 3"):
        attention.MultiHeadAttention(4, 3)
    with pytest.raises(ValueError, match="LSTM: input must be"):
        rnn.LSTM(3, 4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="block_size = 8"):
        lm.GPT(GPT_CFG)(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="Embedding: ids must be in"):
        lm.GPT(GPT_CFG)(torch.full((1, 3), 11))
    with pytest.raises(ValueError, match="LayerNorm"):
        transformer.LayerNorm(4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="SinusoidalPositionalEncoding"):
        transformer.SinusoidalPositionalEncoding(4, 6)(torch.zeros(1, 7, 4))


def test_gpt_twin_initialisation_follows_gpt2():
    torch.manual_seed(0)
    big = lm.GPT(GPTConfig(vocab_size=100, block_size=32, n_layer=4, n_head=2, n_embd=64))
    assert abs(big.wte.weight.std().item() - 0.02) < 0.002
    assert abs(big.blocks[0].attn.c_proj.weight.std().item() - 0.02 / math.sqrt(8)) < 0.001
    assert torch.equal(big.blocks[0].ln1.weight, torch.ones(64)) and not big.blocks[0].mlp.c_fc.bias.any()


def test_catalogue_builds_float64_pairs():
    case = cases.gpt(np.random.default_rng(0))
    assert all(p.dtype == torch.float64 for p in case.twin.parameters())
    assert all(p.dtype == np.float64 for p in case.numpy.parameters())
    assert not case.twin.training and not case.numpy.training       # dropout off on both sides
