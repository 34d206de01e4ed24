"""Phase 07's torch GPT and phase 05's NumPy GPT are the same function: with the same
weights, the same logits and the same gradient for every parameter, in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phase05.lm import GPT as NumpyGPT
from phase05.lm import GPTConfig as NumpyConfig
from phase06.parity import assert_parity
from phase07.from_numpy import from_numpy_lm, numpy_name_to_ours
from phase07.gpt import GPT


def numpy_model(seed, **kw) -> NumpyGPT:
    rng = np.random.default_rng(seed)
    model = NumpyGPT(NumpyConfig(**kw), rng=rng, dtype=np.float64)
    for p in model.parameters():  # LayerNorms start at (1, 0) and biases at 0: move every value
        p.data += 0.05 * rng.standard_normal(p.shape)
    return model


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.sampled_from([1, 2, 4]), st.integers(1, 12),
       st.integers(0, 1000))
def test_same_logits_and_parameter_gradients_float64(B, n_layer, n_head, T, seed):
    ref = numpy_model(seed, vocab_size=19, block_size=12, n_layer=n_layer, n_head=n_head, n_embd=8)
    ours = GPT.from_numpy_lm(ref)
    assert ours.transformer.wte.weight.dtype == torch.float64
    rng = np.random.default_rng(seed + 1)
    idx = rng.integers(0, 19, size=(B, T))
    dlogits = rng.standard_normal((B, T, 19))      # any upstream gradient: loss = sum(logits * dlogits)

    ref_logits = ref.forward(idx)
    ref.zero_grad()
    ref.backward(dlogits)

    logits = ours(torch.from_numpy(idx))
    (logits * torch.from_numpy(dlogits)).sum().backward()

    actual = {"logits": logits}
    expected = {"logits": ref_logits}
    for name, p in ref.named_parameters():        # each once: lm_head.weight is wte.weight
        ours_name = numpy_name_to_ours(name)
        actual[f"{ours_name} grad"] = dict(ours.named_parameters())[ours_name].grad
        expected[f"{ours_name} grad"] = p.grad
    assert len(actual) == 1 + sum(1 for _ in ours.parameters())
    assert_parity(actual, expected, rtol=1e-9)      # float64: the two differ by rounding only


def test_converter_names_and_errors():
    ref = numpy_model(0, vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
    ours = from_numpy_lm(ref)
    assert ours.config.n_layer == 2 and ours.config.block_size == 8
    assert ours.lm_head.weight is ours.transformer.wte.weight
    for name, value in ref.state_dict().items():
        assert np.array_equal(ours.state_dict()[numpy_name_to_ours(name)].numpy(), value), name
    with pytest.raises(ValueError, match="not a parameter of phase 05's GPT: 'blocks_0.x'"):
        numpy_name_to_ours("blocks_0.x")
    no_bias = NumpyGPT(NumpyConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8, bias=False))
    with pytest.raises(ValueError, match="bias=False"):
        from_numpy_lm(no_bias)


def test_figure_attention_weights_equal_the_numpy_models():
    """phase07.figures.attention_weights recomputes softmax(q k^T / sqrt(hs)); phase 05's
    NumPy attention records the weights it used. Same weights in, same maps out."""
    from phase07.figures import attention_weights

    ref = numpy_model(3, vocab_size=13, block_size=10, n_layer=2, n_head=2, n_embd=8)
    ours = from_numpy_lm(ref).eval()
    idx = np.random.default_rng(4).integers(0, 13, size=(2, 10))
    ref.eval().forward(idx)
    maps = attention_weights(ours, torch.from_numpy(idx))
    assert_parity({f"layer {i}": m for i, m in enumerate(maps)},
                  {f"layer {i}": b.attn.attn_weights for i, b in enumerate(ref.blocks)}, rtol=1e-10)  # float64
