"""Phase 05's Transformer pieces and whole models against their torch twins
(phase06.transformer, phase06.lm, phase06.losses).

float64, rtol 1e-6 per comparison (rounding differences stay below 1e-10; a real error is
1e-3 or more, see test_planted_error.py). Shapes include batch 1, length 1 and one head;
padding masks leave at least one real key per row; dropout is set but off (eval mode).
"""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phase05.lm import GPT as NumpyGPT
from phase05.lm import GPTConfig
from phase05.transformer import Transformer as NumpyTransformer
from phase05.transformer import TransformerConfig
from phase06 import cases
from phase06.convert import load_numpy_weights
from phase06.lm import GPT
from phase06.parity import assert_parity
from phase06.transformer import Transformer

seeds = st.integers(0, 2**16)
small = st.integers(1, 4)
width_heads = st.sampled_from([(2, 1), (4, 1), (4, 2), (6, 3), (8, 2)])   # (C, n_head)


@given(seeds, small, small, st.integers(2, 6), st.booleans(), st.sampled_from([1e-5, 1e-3]))
def test_layer_norm(seed, B, T, C, bias, eps):
    case = cases.layer_norm(np.random.default_rng(seed), B=B, T=T, C=C, bias=bias, eps=eps)
    assert_parity(*case.run(seed), rtol=1e-6)


def test_layer_norm_of_one_feature():
    """C = 1: ``x - mean(x)`` is 0, so the output is the bias and the weight's gradient is 0
    in exact arithmetic. NumPy subtracts to an exact 0; torch's kernel leaves ~1e-16, which
    ``rstd = 1/sqrt(eps) = 316`` amplifies: an absolute comparison is the meaningful one."""
    case = cases.layer_norm(np.random.default_rng(0), B=2, T=3, C=1)
    actual, expected = case.run()
    bias = case.numpy.bias.data
    np.testing.assert_allclose(expected["out"], np.broadcast_to(bias, (2, 3, 1)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(actual["out"].numpy(), expected["out"], rtol=0, atol=1e-12)
    for name in expected:                    # weight grad: 0 vs ~1e-15; the rest equal to rounding
        np.testing.assert_allclose(np.asarray(actual[name]), expected[name], rtol=1e-9, atol=1e-12, err_msg=name)


@given(seeds, small, st.integers(1, 6), st.integers(1, 7))
def test_positional_encodings(seed, B, T, C):
    rng = np.random.default_rng(seed)
    for case in (cases.sinusoidal(rng, B=B, T=T, C=C, max_len=T + 2),
                 cases.learned_positional(rng, B=B, T=T, C=C, max_len=T + 2)):
        assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, small, small, small, small, st.sampled_from(["relu", "gelu", "gelu_tanh"]), st.booleans())
def test_feedforward(seed, B, T, C, d_ff, activation, bias):
    case = cases.feedforward(np.random.default_rng(seed), B=B, T=T, C=C, d_ff=d_ff, activation=activation, bias=bias)
    assert_parity(*case.run(seed), rtol=1e-6)


@settings(max_examples=25)
@given(seeds, small, small, width_heads, st.booleans(), st.sampled_from(["relu", "gelu"]), st.booleans())
def test_encoder_layer(seed, B, T, C_nh, norm_first, activation, padding):
    C, nh = C_nh
    case = cases.encoder_layer(np.random.default_rng(seed), B=B, T=T, C=C, nh=nh, d_ff=2 * C,
                               norm_first=norm_first, activation=activation, padding=padding)
    assert_parity(*case.run(seed), rtol=1e-6, abs_floor=case.abs_floor)  # floor: cases.KEY_BIAS_FLOOR


@settings(max_examples=25)
@given(seeds, small, small, small, width_heads, st.booleans(), st.booleans(), st.booleans())
def test_decoder_layer(seed, B, T, S, C_nh, norm_first, padding, causal):
    C, nh = C_nh
    case = cases.decoder_layer(np.random.default_rng(seed), B=B, T=T, S=S, C=C, nh=nh, d_ff=2 * C,
                               norm_first=norm_first, padding=padding, causal=causal)
    assert_parity(*case.run(seed), rtol=1e-6, abs_floor=case.abs_floor)  # floor: cases.KEY_BIAS_FLOOR


@given(seeds, small, small, small, st.integers(1, 8), st.booleans())
def test_output_projection(seed, B, T, C, V, bias):
    case = cases.output_projection(np.random.default_rng(seed), B=B, T=T, C=C, V=V, bias=bias)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, small, small, st.integers(2, 7), st.sampled_from([0.0, 0.1, 0.3]), st.booleans())
def test_label_smoothing(seed, B, T, V, smoothing, ignore):
    case = cases.label_smoothing(np.random.default_rng(seed), B=B, T=T, V=V, smoothing=smoothing, ignore=ignore)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, small, st.integers(1, 5), width_heads, st.booleans())
def test_causal_self_attention(seed, B, T, C_nh, bias):
    """phase 04's attention by hand against torch's fused F.scaled_dot_product_attention."""
    C, nh = C_nh
    case = cases.causal_self_attention(np.random.default_rng(seed), B=B, T=T, C=C, nh=nh, bias=bias)
    assert_parity(*case.run(seed), rtol=1e-6)


@settings(max_examples=25)
@given(seeds, small, st.integers(1, 5), width_heads, st.booleans())
def test_gpt_block(seed, B, T, C_nh, norm_first):
    C, nh = C_nh
    case = cases.gpt_block(np.random.default_rng(seed), B=B, T=T, C=C, nh=nh, norm_first=norm_first)
    assert_parity(*case.run(seed), rtol=1e-6)


@settings(max_examples=10)
@given(seeds, st.integers(1, 2), st.integers(1, 5), st.integers(2, 12), width_heads, st.integers(1, 2),
       st.booleans())
def test_gpt(seed, B, T, V, C_nh, n_layer, bias):
    """The whole decoder-only LM: logits and every parameter's gradient (wte collects the tied
    head's gradient and the embedding's scatter-add, on both sides)."""
    C, nh = C_nh
    case = cases.gpt(np.random.default_rng(seed), B=B, T=T, V=V, C=C, nh=nh, n_layer=n_layer, bias=bias)
    actual, expected = case.run(seed)
    assert "lm_head.weight grad" not in actual          # tied: one parameter, listed once, as wte
    assert_parity(actual, expected, rtol=1e-6)


@settings(max_examples=8)
@given(seeds, st.integers(1, 2), st.integers(1, 4), st.integers(1, 4), st.sampled_from([(4, 1), (4, 2), (6, 3)]),
       st.integers(1, 2), st.booleans(), st.booleans())
def test_transformer(seed, B, S, T, C_nh, n_layers, norm_first, share):
    """The 2017 encoder-decoder: padded sources, post-norm or pre-norm, tied or separate embeddings."""
    C, nh = C_nh
    case = cases.transformer_model(np.random.default_rng(seed), B=B, S=S, T=T, C=C, nh=nh, layers_=n_layers,
                                   norm_first=norm_first, share=share)
    assert_parity(*case.run(seed), rtol=1e-6, abs_floor=case.abs_floor)  # floor: cases.KEY_BIAS_FLOOR


def test_transformer_greedy_and_beam_decoding_agree():
    """Same weights, same decoded ids: greedy on both sides, and phase 05's beam search driven
    by the torch model against the NumPy model's own beam decoding."""
    rng = np.random.default_rng(0)
    cfg = TransformerConfig(11, 11, d_model=8, n_head=2, d_ff=16, n_encoder_layers=1, n_decoder_layers=1,
                            dropout=0.0, max_len=12)
    ref = NumpyTransformer(cfg, rng=rng, dtype=np.float64)
    for p in ref.parameters():
        p.data += 0.5 * rng.standard_normal(p.shape)              # sharper distributions than at init
    twin = load_numpy_weights(Transformer(cfg, dtype=torch.float64), ref)
    src = rng.integers(3, 11, size=(3, 5))
    src[1, 3:] = 0                                                # a padded source
    greedy = ref.greedy_decode(src, bos=1, eos=2, max_len=6)
    assert np.array_equal(twin.greedy_decode(torch.from_numpy(src), 1, 2, 6).numpy(), greedy)
    beam = ref.beam_decode(src, bos=1, eos=2, max_len=6, beam_size=3)
    assert np.array_equal(twin.beam_decode(torch.from_numpy(src), 1, 2, 6, beam_size=3).numpy(), beam)


def test_gpt_greedy_generation_agrees():
    rng = np.random.default_rng(1)
    cfg = GPTConfig(vocab_size=13, block_size=6, n_layer=2, n_head=2, n_embd=8)
    ref = NumpyGPT(cfg, rng=rng, dtype=np.float64)
    for p in ref.parameters():
        p.data += 0.3 * rng.standard_normal(p.shape)
    twin = load_numpy_weights(GPT(cfg).double(), ref)
    idx = rng.integers(0, 13, size=(2, 3))
    ours = twin.generate(torch.from_numpy(idx), max_new_tokens=8, temperature=0.0)   # past block_size: cropped
    assert np.array_equal(ours.numpy(), ref.generate(idx, max_new_tokens=8, temperature=0.0))
