"""The parameter formulas of phase05.counts equal the real modules' counts."""

import numpy as np
import pytest

from phase05.blocks import DecoderLayer, EncoderLayer
from phase05.counts import (
    block_forward_flops,
    decoder_layer_parameters,
    encoder_layer_parameters,
    gpt_block_parameters,
    gpt_parameters,
    train_step_flops,
)
from phase05.lm import GPT, Block, GPTConfig


@pytest.mark.parametrize("C,nh", [(4, 1), (8, 2), (24, 3), (64, 8)])
def test_gpt_counts_equal_the_modules(C, nh):
    cfg = GPTConfig(vocab_size=11, block_size=9, n_layer=3, n_head=nh, n_embd=C)
    assert Block(cfg).num_parameters() == gpt_block_parameters(C)
    assert GPT(cfg).num_parameters() == gpt_parameters(11, 9, 3, C)
    assert Block(GPTConfig(n_embd=C, n_head=nh, bias=False)).num_parameters() == gpt_block_parameters(C, bias=False)


@pytest.mark.parametrize("C,nh,d_ff", [(4, 2, 6), (16, 4, 64), (12, 3, 7)])
def test_encoder_decoder_counts_equal_the_modules(C, nh, d_ff):
    assert EncoderLayer(C, nh, d_ff).num_parameters() == encoder_layer_parameters(C, d_ff)
    assert DecoderLayer(C, nh, d_ff).num_parameters() == decoder_layer_parameters(C, d_ff)


def test_published_sizes():
    assert gpt_parameters(50257, 1024, 12, 768) == 124_439_808      # GPT-2 small
    assert gpt_parameters(65, 64, 4, 128) == 809_856                 # this phase's LM


def test_flops_by_hand():
    C, T = 128, 64
    # c_attn 6TC^2, attn.c_proj 2TC^2, mlp 16TC^2, q k^T and P v 2 T^2 C each
    assert block_forward_flops(C, T) == 6 * T * C * C + 2 * T * C * C + 16 * T * C * C + 4 * T * T * C
    assert block_forward_flops(C, T) == 27_262_976
    assert train_step_flops(10) == 30


def test_flops_count_the_matrix_products_of_a_real_block():
    """Count 2*m*k*n for every np.matmul a Block forward makes (heads included)."""
    import phase01.layers as layers_mod
    import phase04.attention as attn_mod

    cfg = GPTConfig(vocab_size=5, block_size=16, n_layer=1, n_head=4, n_embd=16)
    block = Block(cfg)
    x = np.random.default_rng(0).standard_normal((1, 16, 16)).astype(np.float32)
    flops = []

    def count(a, b):
        a, b = np.asarray(a), np.asarray(b)
        out = np.matmul(a, b)
        m, k = a.shape[-2:]
        n = b.shape[-1]
        flops.append(2 * m * k * n * int(np.prod(out.shape[:-2], dtype=np.int64)))
        return out

    # the products live in Linear.forward and scaled_dot_product_attention: wrap both to
    # record the shapes they multiply (batch of 1: the FLOPs of one sequence)
    orig_linear = layers_mod.Linear.forward

    def linear_forward(self, inp):
        count(inp, self.weight.data.T)
        return orig_linear(self, inp)

    orig_sdpa = attn_mod.scaled_dot_product_attention

    def sdpa(q, k, v, *a, **kw):
        out, cache = orig_sdpa(q, k, v, *a, **kw)
        count(q, np.swapaxes(k, -1, -2))
        count(cache.weights, v)
        return out, cache

    import phase05.lm as lm_mod

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(layers_mod.Linear, "forward", linear_forward)
        mp.setattr(lm_mod, "scaled_dot_product_attention", sdpa)
        block(x)
    assert sum(flops) == block_forward_flops(16, 16)
