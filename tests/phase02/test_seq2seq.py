"""phase02.seq2seq: the reversal task, the encoder-decoder's gradients (float64 gradcheck and
torch), greedy decoding, and the evaluator."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from phase01.module import check_module
from phase02.seq2seq import (
    BOS,
    EOS,
    PAD,
    VOCAB_SIZE,
    ReversalTask,
    Seq2Seq,
    Seq2SeqConfig,
    accuracy_by_length,
    decode_digits,
    encode_digits,
    exact_match,
    reversal_batch,
    run,
    train_seq2seq,
)

PARITY_TOL = 1e-10  # float64 against float64: a few ulps per operation


@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=8), min_size=1, max_size=5))
def test_reversal_batch_matches_a_plain_python_reference(strings):
    S = max(map(len, strings))
    digits = np.zeros((len(strings), S), dtype=np.int64)
    for b, s in enumerate(strings):
        digits[b, : len(s)] = [int(ch) for ch in s]
    batch = reversal_batch(digits, np.array([len(s) for s in strings]))
    for b, s in enumerate(strings):
        pad = [PAD] * (S - len(s))
        rev = list(encode_digits(s[::-1]))
        assert batch.src[b].tolist() == list(encode_digits(s)) + pad
        assert batch.tgt_in[b].tolist() == [BOS] + rev + pad
        assert batch.tgt_out[b].tolist() == rev + [EOS] + pad
        assert decode_digits(batch.tgt_out[b]) == s[::-1]


def test_task_is_seeded_and_respects_lengths():
    a, b = ReversalTask(2, 7, seed=3).batch(50), ReversalTask(2, 7, seed=3).batch(50)
    assert np.array_equal(a.src, b.src) and np.array_equal(a.tgt_out, b.tgt_out)
    assert a.src_lengths.min() >= 2 and a.src_lengths.max() <= 7
    fixed = ReversalTask(1, 3, seed=0).batch(4, length=9)
    assert fixed.src.shape == (4, 9) and (fixed.src_lengths == 9).all()


class TorchSeq2Seq(torch.nn.Module):
    """The same model from torch parts: nn.LSTM encoder (packed), nn.LSTMCell decoder."""

    def __init__(self, V, H, L):
        super().__init__()
        self.V = V
        self.encoder = torch.nn.LSTM(V, H, L, batch_first=True)
        self.decoder = torch.nn.ModuleList(torch.nn.LSTMCell(V if k == 0 else H, H) for k in range(L))
        self.head = torch.nn.Linear(H, V)

    def forward(self, src, lengths, tgt_in):
        x = F.one_hot(src, self.V).double()
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h, c) = self.encoder(packed)
        hs, cs = list(h), list(c)
        outs = []
        for t in range(tgt_in.shape[1]):
            inp = F.one_hot(tgt_in[:, t], self.V).double()
            for k, cell in enumerate(self.decoder):
                hs[k], cs[k] = cell(inp, (hs[k], cs[k]))
                inp = hs[k]
            outs.append(inp)
        return self.head(torch.stack(outs, 1))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_equal_to_torch(num_layers):
    """Logits and every parameter gradient equal a torch build of the same model."""
    torch.manual_seed(0)
    ref = TorchSeq2Seq(VOCAB_SIZE, 6, num_layers).double()
    ours = Seq2Seq(VOCAB_SIZE, 6, num_layers).astype(np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    b = ReversalTask(1, 5, seed=1).batch(4)
    logits = ours(b.src, b.src_lengths, b.tgt_in)
    t_logits = ref(torch.tensor(b.src), torch.tensor(b.src_lengths), torch.tensor(b.tgt_in))
    assert np.max(np.abs(logits - t_logits.detach().numpy())) <= PARITY_TOL
    d = np.random.default_rng(0).standard_normal(logits.shape)
    (t_logits * torch.tensor(d)).sum().backward()
    assert ours.backward(d) is None
    grads = ours.grads
    assert set(grads) == {n for n, _ in ref.named_parameters()}
    for name, p in ref.named_parameters():
        assert np.max(np.abs(grads[name] - p.grad.numpy())) <= PARITY_TOL, name


@pytest.mark.parametrize("num_layers", [1, 2])
def test_gradcheck(num_layers):
    """Float64 finite differences through encoder, padding and decoder (tol 1e-6)."""
    m = Seq2Seq(VOCAB_SIZE, 3, num_layers, rng=np.random.default_rng(0)).astype(np.float64)
    b = ReversalTask(1, 3, seed=2).batch(2)
    errors = check_module(m, b.src, b.src_lengths, b.tgt_in)
    assert max(errors.values()) <= 1e-6


def test_greedy_decode_is_argmax_of_teacher_forcing_on_its_own_outputs():
    """Feeding the greedy output back as tgt_in reproduces it: the two loops agree."""
    m = Seq2Seq(hidden_size=16, rng=np.random.default_rng(0))
    b = ReversalTask(3, 3, seed=0).batch(5)
    pred = m.greedy_decode(b.src, b.src_lengths, max_len=4)
    tgt_in = np.concatenate([np.full((5, 1), BOS), pred[:, :-1]], axis=1)
    forced = m(b.src, b.src_lengths, tgt_in).argmax(-1)
    for row_pred, row_forced in zip(pred, forced):
        n = len(row_pred) if EOS not in row_pred else list(row_pred).index(EOS) + 1
        assert row_forced[:n].tolist() == row_pred[:n].tolist()
        assert (row_pred[n:] == PAD).all()


def test_exact_match_counts_only_fully_right_answers():
    tgt = reversal_batch(np.array([[1, 2, 3]] * 4), np.array([3, 3, 3, 3])).tgt_out  # 3 2 1 EOS
    right = tgt[0]
    pred = np.stack([right, right.copy(), right.copy(), right.copy()])
    pred[1, 1] = DIGIT = encode_digits("9")[0]       # a wrong digit
    pred[2, 3] = DIGIT                               # no EOS where it belongs
    pred[3, :] = right[[0, 1, 2, 3]]                 # same as row 0
    assert exact_match(pred, tgt).tolist() == [True, False, False, True]
    assert exact_match(pred[:, :3], tgt).tolist() == [False] * 4  # too short to hold the EOS


class Oracle:
    """Any object with greedy_decode works with accuracy_by_length."""

    def __init__(self, wrong_from: int = 99):
        self.wrong_from = wrong_from

    def greedy_decode(self, src, src_lengths, max_len):
        out = np.full((len(src), max_len), PAD)
        for b, (row, n) in enumerate(zip(src, src_lengths)):
            out[b, :n] = row[:n][::-1]
            out[b, n] = EOS
            if n >= self.wrong_from:
                out[b, 0] = BOS
        return out


def test_accuracy_by_length_with_oracles():
    assert accuracy_by_length(Oracle(), [1, 4, 9], n_per_length=30) == {1: 1.0, 4: 1.0, 9: 1.0}
    assert accuracy_by_length(Oracle(wrong_from=5), [4, 5], n_per_length=30) == {4: 1.0, 5: 0.0}


def test_short_training_learns_short_reversals():
    """300 Adam steps on lengths 1-3 (a few seconds): the loss falls from log 13 and most
    length-1 and 2 inputs come out right. The thresholds are far from both chance and 100%."""
    m = Seq2Seq(hidden_size=32, rng=np.random.default_rng(0))
    hist = train_seq2seq(m, ReversalTask(1, 3, seed=0), steps=300, batch=32, lr=1e-2, log_every=100, quiet=True)
    assert hist[0]["loss"] < np.log(VOCAB_SIZE) and hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    acc = accuracy_by_length(m, [1, 2], n_per_length=100)
    assert acc[1] >= 0.9 and acc[2] >= 0.5


def test_bad_input_raises_value_error():
    m = Seq2Seq(hidden_size=4)
    src = np.array([[3, 4, 5]])
    with pytest.raises(ValueError, match=r"src token ids must lie in \[0, 13\), got 3\.\.13"):
        m(np.array([[3, 13, 5]]), None, np.array([[BOS]]))
    with pytest.raises(ValueError, match="tgt_in token ids must lie in"):
        m(src, None, np.array([[BOS, -1]]))
    with pytest.raises(ValueError, match="src is a sequence of length 0"):
        m(np.zeros((1, 0), dtype=np.int64), None, np.array([[BOS]]))
    with pytest.raises(ValueError, match="tgt_in is a sequence of length 0"):
        m(src, None, np.zeros((1, 0), dtype=np.int64))
    with pytest.raises(ValueError, match=r"src_lengths must be 1 integers in \[1, 3\]"):
        m(src, np.array([4]), np.array([[BOS]]))
    with pytest.raises(ValueError, match="src has batch 1, tgt_in 2"):
        m(src, None, np.array([[BOS], [BOS]]))
    with pytest.raises(ValueError, match="encode_digits"):
        encode_digits("12a")


@pytest.mark.slow
def test_default_run_learns_short_and_collapses_long():
    """The baseline of phase 04: near-perfect on short inputs, failing beyond training."""
    result = run(Seq2SeqConfig(), quiet=True)
    acc = {int(k): v for k, v in result["accuracy"].items()}
    assert min(acc[L] for L in range(1, 7)) >= 0.95
    assert acc[Seq2SeqConfig().eval_max] <= 0.2
