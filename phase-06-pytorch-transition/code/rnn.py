"""The twins of phase 02's recurrent layers: RNN, LSTM, GRU and their one-step cells.

Parameter names and layouts are phase 02's, which are torch's (``weight_ih_l0`` is
``(G*H, input)``, gates stacked i, f, g, o for the LSTM and r, z, n for the GRU), so the
same state dict loads into these twins, into ``torch.nn.LSTM`` and into phase 02's layer.

The forward pass is phase 02's, written with torch operations: one matrix product for the
input projection of all T steps, then a Python loop over time for the recurrence. There is
no backward: autograd records each step and backpropagation through time is the reverse
walk over that recording, ``T`` steps of the graph for ``T`` steps of the loop.
``torch.nn.LSTM`` runs the same arithmetic in one fused kernel; these twins keep the loop
visible and support phase 02's ``lengths`` (a right-padded batch: past its length a
sequence's state stays frozen and its outputs are zero, as ``pack_padded_sequence``).

Shapes, batch first as phase 02: ``x (B, T, C)``, states ``(num_layers, B, H)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# -- one step of each cell, on the two projections xp = x W_ih^T + b_ih, hp = h W_hh^T + b_hh --


def rnn_tanh_step(xp: torch.Tensor, hp: torch.Tensor, state: tuple) -> tuple:
    return (torch.tanh(xp + hp),)                                # (B, H)


def rnn_relu_step(xp: torch.Tensor, hp: torch.Tensor, state: tuple) -> tuple:
    return (torch.relu(xp + hp),)                                # (B, H)


def lstm_step(xp: torch.Tensor, hp: torch.Tensor, state: tuple) -> tuple:
    """``c' = f c + i g``, ``h' = o tanh(c')``; gates in torch's order i, f, g, o."""
    _, c = state
    i, f, g, o = (xp + hp).chunk(4, dim=-1)                      # (B, 4H) -> 4 x (B, H)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new


def gru_step(xp: torch.Tensor, hp: torch.Tensor, state: tuple) -> tuple:
    """``n = tanh(xp_n + r * hp_n)``, ``h' = (1 - z) n + z h``; gates r, z, n as torch."""
    (h,) = state
    x_r, x_z, x_n = xp.chunk(3, dim=-1)                          # 3 x (B, H)
    h_r, h_z, h_n = hp.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return ((1 - z) * n + z * h,)


STEPS = {  # mode: (gates G, number of states, step)
    "RNN_TANH": (1, 1, rnn_tanh_step),
    "RNN_RELU": (1, 1, rnn_relu_step),
    "LSTM": (4, 2, lstm_step),
    "GRU": (3, 1, gru_step),
}


def _uniform_(tensors, hidden_size: int) -> None:
    """torch's init for every recurrent weight and bias: ``U(-1/sqrt(H), 1/sqrt(H))``."""
    k = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for t in tensors:
            t.uniform_(-k, k)


class _Recurrent(nn.Module):
    """Shared code of RNN, LSTM and GRU: parameters, checks, the loop over layers and time."""

    MODE = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{type(self).__name__}: input_size, hidden_size and num_layers must be "
                             f">= 1, got {input_size}, {hidden_size}, {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        G, H = STEPS[self.MODE][0], hidden_size
        for k in range(num_layers):                              # torch's order and names
            fan_in = input_size if k == 0 else H
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(G * H, fan_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(G * H, H)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(G * H)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(G * H)))
        _uniform_(self.parameters(), H)

    def _weights(self, k: int):
        return (getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}"),
                getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}"))

    def _check(self, x: torch.Tensor, states: dict, lengths):
        name = type(self).__name__
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"{name}: input must be (batch >= 1, time >= 1, {self.input_size}), "
                             f"got shape {tuple(x.shape)}")
        B, T, _ = x.shape
        for sname, s in states.items():
            if s is not None and tuple(s.shape) != (self.num_layers, B, self.hidden_size):
                raise ValueError(f"{name}: {sname} has shape {tuple(s.shape)}, expected "
                                 f"{(self.num_layers, B, self.hidden_size)}")
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device)
            if tuple(lengths.shape) != (B,) or lengths.min() < 1 or lengths.max() > T:
                raise ValueError(f"{name}: lengths must be {B} integers in [1, {T}], got {lengths.tolist()}")
        return lengths

    def _run(self, x: torch.Tensor, states: tuple, lengths) -> tuple[torch.Tensor, list]:
        """``x (B, T, C)``, one entry per state kind (None or ``(L, B, H)``) -> out, finals."""
        _, n_states, step = STEPS[self.MODE]
        B, T, _ = x.shape
        H = self.hidden_size
        masks = None
        if lengths is not None:
            masks = torch.arange(T, device=x.device)[None, :] < lengths[:, None]  # (B, T) real steps
        finals: list[list[torch.Tensor]] = [[] for _ in range(n_states)]
        inp = x
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._weights(k)
            state = tuple(x.new_zeros(B, H) if s is None else s[k] for s in states)
            xp = F.linear(inp, w_ih, b_ih)                       # (B, T, C) -> (B, T, G*H), all steps
            outs = []
            for t in range(T):                                   # the recurrence: one step at a time
                hp = F.linear(state[0], w_hh, b_hh)              # (B, H) -> (B, G*H)
                new = step(xp[:, t], hp, state)
                if masks is not None:                            # padded rows keep their state
                    m = masks[:, t, None]                        # (B, 1)
                    new = tuple(torch.where(m, n, s) for n, s in zip(new, state))
                    outs.append(new[0] * m)                      # and output zero
                else:
                    outs.append(new[0])
                state = new
            inp = torch.stack(outs, dim=1)                       # T x (B, H) -> (B, T, H)
            for j in range(n_states):
                finals[j].append(state[j])
        return inp, [torch.stack(f) for f in finals]             # (B, T, H), n_states x (L, B, H)


class RNN(_Recurrent):
    """Elman's layer, ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``; the twin of
    ``phase02.rnn.RNN``. ``forward(x, h0=None, lengths=None) -> (out, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.MODE = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers)

    def forward(self, x, h0=None, lengths=None):
        lengths = self._check(x, {"h0": h0}, lengths)
        out, (h_n,) = self._run(x, (h0,), lengths)
        return out, h_n


class GRU(_Recurrent):
    """Gated recurrent unit, the twin of ``phase02.rnn.GRU``: ``(x, h0, lengths) -> (out, h_n)``."""

    MODE = "GRU"

    def forward(self, x, h0=None, lengths=None):
        lengths = self._check(x, {"h0": h0}, lengths)
        out, (h_n,) = self._run(x, (h0,), lengths)
        return out, h_n


class LSTM(_Recurrent):
    """The twin of ``phase02.rnn.LSTM``: ``forward(x, h0=None, c0=None, lengths=None) ->
    (out, h_n, c_n)``; the states are separate arguments, as phase 02 has them."""

    MODE = "LSTM"

    def forward(self, x, h0=None, c0=None, lengths=None):
        lengths = self._check(x, {"h0": h0, "c0": c0}, lengths)
        out, (h_n, c_n) = self._run(x, (h0, c0), lengths)
        return out, h_n, c_n


class _Cell(nn.Module):
    """One step, parameters named as torch's ``nn.*Cell``: ``weight_ih (G*H, C)`` etc."""

    MODE = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{type(self).__name__}: sizes must be >= 1, got {input_size}, {hidden_size}")
        G, H = STEPS[self.MODE][0], hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))
        self.bias_ih = nn.Parameter(torch.empty(G * H))
        self.bias_hh = nn.Parameter(torch.empty(G * H))
        _uniform_(self.parameters(), H)

    def step(self, x: torch.Tensor, state: tuple) -> tuple:
        """``x (B, C)``, ``state`` a tuple of ``(B, H)`` -> the new state tuple."""
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be (batch, {self.input_size}), "
                             f"got shape {tuple(x.shape)}")
        xp = F.linear(x, self.weight_ih, self.bias_ih)           # (B, C) -> (B, G*H)
        hp = F.linear(state[0], self.weight_hh, self.bias_hh)    # (B, H) -> (B, G*H)
        return STEPS[self.MODE][2](xp, hp, state)


class RNNCell(_Cell):
    """``forward(x (B, C), h (B, H) = zeros) -> h'``, the twin of ``phase02.rnn.RNNCell``."""

    def forward(self, x, h=None):
        h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h
        return self.step(x, (h,))[0]


class GRUCell(RNNCell):
    """``forward(x, h) -> h'`` with gates r, z, n; the twin of ``phase02.rnn.GRUCell``."""

    MODE = "GRU"


class LSTMCell(_Cell):
    """``forward(x, h, c) -> (h', c')``; the twin of ``phase02.rnn.LSTMCell``."""

    MODE = "LSTM"

    def forward(self, x, h=None, c=None):
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        return self.step(x, (zeros if h is None else h, zeros if c is None else c))
