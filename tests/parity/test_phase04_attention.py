"""Phase 04's attention against its torch twins (phase06.attention, phase06.alignment,
phase06.seq2seq): scaled dot-product attention with every kind of mask, multi-head attention
(self, cross, separate q/k/v sizes, causal, padding), Bahdanau's and Luong's scores, and the
two attention seq2seq models.

float64, rtol 1e-6. Random boolean masks leave some query rows with no key at all: phase 04
defines their weights and output as zero, and the twin must agree (and not produce nan).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from phase06 import cases
from phase06.parity import assert_parity

seeds = st.integers(0, 2**16)
small = st.integers(1, 4)


@given(seeds, small, st.integers(1, 3), small, small, small, small,
       st.sampled_from(["none", "bool", "float"]), st.booleans())
def test_scaled_dot_product_attention(seed, B, H, L, S, E, Ev, mask, causal):
    case = cases.sdpa(np.random.default_rng(seed), B=B, H=H, L=L, S=S, E=E, Ev=Ev, mask=mask, causal=causal)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, small, small, small, st.sampled_from([(2, 1), (4, 1), (4, 2), (6, 3), (4, 4)]),
       st.sampled_from(["self", "cross", "qkv"]), st.booleans(), st.booleans(),
       st.sampled_from(["none", "bool", "float"]), st.booleans())
def test_multi_head_attention(seed, B, T, S, C_nh, mode, causal, padding, attn_mask, bias):
    C, nh = C_nh
    case = cases.mha(np.random.default_rng(seed), B=B, T=T, S=S, C=C, nh=nh, mode=mode, causal=causal,
                     padding=padding, attn_mask=attn_mask, bias=bias)
    assert_parity(*case.run(seed), rtol=1e-6, abs_floor=case.abs_floor)  # floor: cases.KEY_BIAS_FLOOR


@given(seeds, st.sampled_from(["dot", "general", "additive", "concat"]), small,
       st.one_of(st.none(), small), small, small, small, small, st.booleans())
def test_alignment_scores(seed, kind, B, Tq, S, Dq, Dk, A, mask):
    """One decoder step ``(B, Dq)`` (Tq None) or several ``(B, Tq, Dq)`` against ``(B, S, Dk)``."""
    case = cases.alignment_attention(np.random.default_rng(seed), kind=kind, B=B, Tq=Tq, S=S, Dq=Dq,
                                     Dk=Dk, A=A, mask=mask)
    assert_parity(*case.run(seed), rtol=1e-6)


@settings(max_examples=12)
@given(seeds, st.sampled_from(["bahdanau", "dot", "general", "concat"]), st.integers(1, 3),
       st.integers(1, 4), st.integers(1, 4), st.integers(1, 2))
def test_attention_seq2seq(seed, attention, B, S, H, L):
    case = cases.seq2seq_model(np.random.default_rng(seed), B=B, S=S, H=H, L=L, attention=attention)
    assert_parity(*case.run(seed), rtol=1e-6)
