"""Phase 02's recurrent layers, cells and models against their torch twins (phase06.rnn,
phase06.seq2seq): outputs, final states, and the gradient of every input, initial state and
weight, through backpropagation through time by hand on one side and by autograd on the other.

float64 throughout; rtol 1e-6 (rounding differences stay below 1e-11 here; a wrong gate or
a dropped term in the state's gradient is off by 1e-2 or more).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from phase06 import cases
from phase06.parity import assert_parity

seeds = st.integers(0, 2**16)
small = st.integers(1, 4)


@given(seeds, st.sampled_from(sorted(cases.RECURRENT)), small, small, small, small,
       st.integers(1, 2), st.booleans(), st.booleans())
def test_recurrent_layers(seed, kind, B, T, C, H, L, with_state, with_lengths):
    """RNN (tanh, relu), LSTM and GRU; stacked; with or without initial states; right-padded."""
    case = cases.recurrent(np.random.default_rng(seed), kind=kind, B=B, T=T, C=C, H=H, L=L,
                           with_state=with_state, with_lengths=with_lengths)
    assert_parity(*case.run(seed), rtol=1e-6)


@given(seeds, st.sampled_from(sorted(cases.CELLS)), small, small, small, st.booleans())
def test_cells(seed, kind, B, C, H, with_state):
    case = cases.cell(np.random.default_rng(seed), kind=kind, B=B, C=C, H=H, with_state=with_state)
    assert_parity(*case.run(seed), rtol=1e-6)


@settings(max_examples=15)
@given(seeds, small, small, st.integers(2, 6), small, st.integers(1, 2), st.booleans())
def test_char_rnn(seed, B, T, V, H, L, with_state):
    case = cases.char_rnn(np.random.default_rng(seed), B=B, T=T, V=V, H=H, L=L, with_state=with_state)
    assert_parity(*case.run(seed), rtol=1e-6)


@settings(max_examples=15)
@given(seeds, st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 2))
def test_seq2seq(seed, B, S, H, L):
    """The encoder reads right-padded digits (lengths vary), the decoder is teacher-forced."""
    case = cases.seq2seq_model(np.random.default_rng(seed), B=B, S=S, H=H, L=L)
    assert_parity(*case.run(seed), rtol=1e-6)


def test_seq2seq_greedy_decoding_agrees():
    """Same weights, same ids: phase 02's and phase 04's greedy decoders against the twins'."""
    import torch

    from phase02.seq2seq import ReversalTask

    b = ReversalTask(1, 6, seed=0).batch(5)
    for attention in ("none", "bahdanau", "general"):
        rng = np.random.default_rng(1)
        case = cases.seq2seq_model(rng, B=2, S=3, H=6, attention=attention)
        for p in case.numpy.parameters():
            p.data *= 3.0                                        # sharper logits: no near-ties
        case.run()                                               # loads the weights into the twin
        ref = case.numpy.greedy_decode(b.src, b.src_lengths, max_len=8)
        ours = case.twin.greedy_decode(torch.from_numpy(b.src), torch.from_numpy(b.src_lengths), max_len=8)
        assert np.array_equal(ours.numpy(), ref), attention
