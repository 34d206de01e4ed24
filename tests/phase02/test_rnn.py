"""phase02.rnn: gradchecks, and equality with torch.nn.RNN / LSTM / GRU and their cells."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase01.module import Module, check_module
from phase02.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, sigmoid

# float64 on both sides: the same arithmetic in a different order differs by a few ulps per
# operation; after at most a few dozen operations 1e-10 is a generous and still sharp bound.
PARITY_TOL = 1e-10

KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def make_pair(kind, C, H, L, seed=0):
    torch.manual_seed(seed)
    if kind.startswith("rnn"):
        nl = kind.split("_")[1]
        ref = torch.nn.RNN(C, H, L, nonlinearity=nl, batch_first=True).double()
        ours = RNN(C, H, L, nonlinearity=nl)
    elif kind == "lstm":
        ref, ours = torch.nn.LSTM(C, H, L, batch_first=True).double(), LSTM(C, H, L)
    else:
        ref, ours = torch.nn.GRU(C, H, L, batch_first=True).double(), GRU(C, H, L)
    ours.astype(np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref, ours


def run_torch(ref, kind, x, h0, c0, lengths):
    T = x.shape[1]
    xt = torch.tensor(x, requires_grad=True)
    h0t = None if h0 is None else torch.tensor(h0, requires_grad=True)
    c0t = None if c0 is None else torch.tensor(c0, requires_grad=True)
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    if kind == "lstm":
        state = None if h0t is None else (h0t, c0t)
        out, (hn, cn) = ref(inp, state)
        finals = [hn, cn]
    else:
        out, hn = ref(inp, h0t)
        finals = [hn]
    if lengths is not None:
        out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)[0]
    return [out] + finals, [xt] + [t for t in (h0t, c0t) if t is not None]


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


@given(
    kind=st.sampled_from(KINDS),
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    C=st.integers(1, 4),
    H=st.integers(1, 5),
    L=st.integers(1, 2),
    with_state=st.booleans(),
    padded=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_equal_to_torch(kind, B, T, C, H, L, with_state, padded, seed):
    """Outputs, final states, input gradients and every parameter gradient equal torch's."""
    ref, ours = make_pair(kind, C, H, L, seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, C))
    h0 = rng.standard_normal((L, B, H)) if with_state else None
    c0 = rng.standard_normal((L, B, H)) if with_state and kind == "lstm" else None
    lengths = rng.integers(1, T + 1, size=B) if padded else None

    if kind == "lstm":
        if with_state:  # torch takes both states or neither
            outs = ours(x, h0, c0, lengths=lengths)
        else:
            outs = ours(x, lengths=lengths)
    else:
        outs = ours(x, h0, lengths=lengths)
    t_outs, t_inputs = run_torch(ref, kind, x, h0, c0, lengths)
    douts = [rng.standard_normal(o.shape) for o in outs]
    for o, t in zip(outs, t_outs):
        assert o.shape == tuple(t.shape)
        assert max_abs(o, t.detach().numpy()) <= PARITY_TOL

    sum((t * torch.tensor(d)).sum() for t, d in zip(t_outs, douts)).backward()
    grads = ours.backward(*douts)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(t_inputs)
    for g, t in zip(grads, t_inputs):
        assert max_abs(g, t.grad.numpy()) <= PARITY_TOL
    ours_grads = ours.grads
    assert list(ours_grads) == [n for n, _ in ref.named_parameters()]  # same names, same order
    for name, p in ref.named_parameters():
        assert max_abs(ours_grads[name], p.grad.numpy()) <= PARITY_TOL, name


class WithLengths(Module):
    """Passes ``lengths`` by keyword (check_module passes inputs positionally)."""

    def __init__(self, inner):
        self.inner = inner

    def forward(self, x, lengths):
        return self.inner(x, lengths=lengths)

    def backward(self, *douts):
        return self.inner.backward(*douts)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", ["plain", "states", "padded"])
def test_gradcheck(kind, variant):
    """Float64 finite differences on every input and parameter (tol 1e-6, phase00 default)."""
    _, m = make_pair(kind, C=3, H=4, L=2)
    rng = np.random.default_rng(1)
    B, T = 2, 4
    args = [rng.standard_normal((B, T, 3))]
    if variant == "states":
        args.append(rng.standard_normal((2, B, 4)))
        if kind == "lstm":
            args.append(rng.standard_normal((2, B, 4)))
    if variant == "padded":
        m = WithLengths(m)
        args.append(np.array([4, 2]))
    errors = check_module(m, *args, rng=rng)
    assert max(errors.values()) <= 1e-6


@pytest.mark.parametrize("cell_cls,ref_cls", [(RNNCell, torch.nn.RNNCell), (LSTMCell, torch.nn.LSTMCell),
                                              (GRUCell, torch.nn.GRUCell)])
def test_cells_equal_torch_and_gradcheck(cell_cls, ref_cls):
    torch.manual_seed(0)
    ref, ours = ref_cls(3, 4).double(), cell_cls(3, 4).astype(np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    lstm = cell_cls is LSTMCell
    outs = ours(x, h, c) if lstm else (ours(x, h),)
    t_outs = ref(xt, (ht, ct)) if lstm else (ref(xt, ht),)
    douts = [rng.standard_normal(o.shape) for o in outs]
    sum((t * torch.tensor(d)).sum() for t, d in zip(t_outs, douts)).backward()
    grads = ours.backward(*douts)
    for o, t in zip(outs, t_outs):
        assert max_abs(o, t.detach().numpy()) <= PARITY_TOL
    for g, t in zip(grads, (xt, ht, ct)):
        assert max_abs(g, t.grad.numpy()) <= PARITY_TOL
    for name, p in ref.named_parameters():
        assert max_abs(ours.grads[name], p.grad.numpy()) <= PARITY_TOL, name
    fresh = cell_cls(3, 4, rng=np.random.default_rng(2)).astype(np.float64)
    errors = check_module(fresh, x, h, c) if lstm else check_module(fresh, x, h)
    assert max(errors.values()) <= 1e-6


def test_cell_unrolled_equals_layer():
    """An LSTMCell stepped T times, then backwarded T times in reverse, is the LSTM layer."""
    layer = LSTM(3, 5, rng=np.random.default_rng(0)).astype(np.float64)
    cell = LSTMCell(3, 5).astype(np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # drop "_l0"
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3))
    out, h_n, c_n = layer(x)
    h = c = np.zeros((2, 5))
    outs = []
    for t in range(4):
        h, c = cell(x[:, t], h, c)
        outs.append(h)
    assert max_abs(np.stack(outs, 1), out) <= PARITY_TOL
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    dh, dc = np.zeros((2, 5)), None
    dxs = []
    for t in reversed(range(4)):
        dxt, dh, dc = cell.backward(dh + dout[:, t], dc)
        dxs.append(dxt)
    assert max_abs(np.stack(dxs[::-1], 1), dx) <= PARITY_TOL
    for name, g in cell.grads.items():
        assert max_abs(g, layer.grads[name + "_l0"]) <= PARITY_TOL


def test_float32_forward_close_to_float64():
    """float32 is the training dtype: relative error ~1e-7 per op, so 1e-5 over 20 steps."""
    m = LSTM(4, 8, num_layers=2, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((3, 20, 4)).astype(np.float32)
    out32, *_ = m(x)
    assert out32.dtype == np.float32
    out64, *_ = m.astype(np.float64)(x.astype(np.float64))
    assert max_abs(out32, out64) <= 1e-5


def test_sigmoid_is_stable_and_exact():
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 800.0])
    ref = torch.sigmoid(torch.tensor(x)).numpy()
    assert max_abs(sigmoid(x), ref) <= 1e-15  # absolute: values in [0, 1]


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_bad_input_raises_value_error(cls):
    m = cls(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="length 0"):
        m(np.zeros((2, 0, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="expected input_size=3"):
        m(np.zeros((2, 5, 7), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(batch, time, 3\)"):
        m(np.zeros((5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        m(np.zeros((2, 5, 3), dtype=np.float32), np.zeros((1, 2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        m(np.zeros((2, 5, 3), dtype=np.float32), lengths=np.array([5, 0]))
    with pytest.raises(ValueError, match="floating point"):
        m(np.zeros((2, 5, 3), dtype=np.int64))


def test_lstm_c0_shape_named():
    m = LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM: c0 has shape \(1, 2, 5\)"):
        m(np.zeros((2, 5, 3)), np.zeros((1, 2, 4)), np.zeros((1, 2, 5)))


def test_cell_bad_state_shape():
    with pytest.raises(ValueError, match=r"LSTMCell: state has shape \(2, 3\), expected \(2, 4\)"):
        LSTMCell(3, 4)(np.zeros((2, 3)), np.zeros((2, 3)))
