"""Parameter and FLOP counts of transformer layers, as functions of their sizes.

The tests hold every count equal to ``num_parameters()`` of the real module. See
phase-05-transformer/notes/parameter-and-flop-counts.md for the derivations.

>>> gpt_block_parameters(768)                 # one GPT-2 small block
7087872
>>> encoder_layer_parameters(512, 2048)       # one layer of the 2017 base model
3152384
"""

from __future__ import annotations


def attention_parameters(d_model: int, bias: bool = True) -> int:
    """Q, K, V and output projections, ``d_model x d_model`` each: ``4 C^2 (+ 4 C)``."""
    return 4 * d_model * d_model + (4 * d_model if bias else 0)


def feedforward_parameters(d_model: int, d_ff: int, bias: bool = True) -> int:
    """``c_fc`` (``C x d_ff``) and ``c_proj`` (``d_ff x C``): ``2 C d_ff (+ d_ff + C)``."""
    return 2 * d_model * d_ff + (d_ff + d_model if bias else 0)


def layernorm_parameters(d_model: int, bias: bool = True) -> int:
    return d_model * (2 if bias else 1)


def gpt_block_parameters(d_model: int, bias: bool = True) -> int:
    """ln1, attention, ln2, MLP with ``d_ff = 4 C``: ``12 C^2 + 13 C`` with biases."""
    return (2 * layernorm_parameters(d_model, bias) + attention_parameters(d_model, bias)
            + feedforward_parameters(d_model, 4 * d_model, bias))


def gpt_parameters(vocab_size: int, block_size: int, n_layer: int, d_model: int,
                   bias: bool = True) -> int:
    """Token and position tables, the blocks, ``ln_f``; the tied head adds nothing."""
    return ((vocab_size + block_size) * d_model + n_layer * gpt_block_parameters(d_model, bias)
            + layernorm_parameters(d_model, bias))


def encoder_layer_parameters(d_model: int, d_ff: int) -> int:
    """Self-attention, feed-forward and two LayerNorms: ``4 C^2 + 2 C d_ff + d_ff + 9 C``."""
    return attention_parameters(d_model) + feedforward_parameters(d_model, d_ff) + 2 * layernorm_parameters(d_model)


def decoder_layer_parameters(d_model: int, d_ff: int) -> int:
    """An encoder layer plus cross-attention and a third LayerNorm."""
    return encoder_layer_parameters(d_model, d_ff) + attention_parameters(d_model) + layernorm_parameters(d_model)


def block_forward_flops(d_model: int, T: int, d_ff: int | None = None) -> int:
    """Multiply-adds x 2 of one self-attention block's forward pass over a sequence of ``T``.

    Projections ``2 T (4 C^2 + 2 C d_ff)`` (``24 T C^2`` with ``d_ff = 4C``) plus the two
    attention products ``q k^T`` and ``weights v``, ``2 * 2 T^2 C``. The number of heads does
    not appear: heads split ``C`` into ``n_head`` slices of ``C / n_head``, the same total.
    Elementwise work (softmax, GELU, LayerNorm) is O(T C + n_head T^2), left out.
    """
    d_ff = 4 * d_model if d_ff is None else d_ff
    return 2 * T * (4 * d_model * d_model + 2 * d_model * d_ff) + 4 * T * T * d_model


def train_step_flops(forward: int) -> int:
    """Forward plus backward: the backward pass does two products per forward product."""
    return 3 * forward
