"""Recurrent layers in NumPy: RNN (Elman), LSTM and GRU, with backpropagation through time by hand.

Every layer is batch-first and laid out exactly as torch's, so tests copy weights by name:

    x       (B, T, input_size)          a batch of sequences
    h0, c0  (num_layers, B, hidden)     initial states (zeros when omitted)
    out     (B, T, hidden)              the top layer's hidden state at every step
    h_n     (num_layers, B, hidden)     the final states, one per layer (c_n too for the LSTM)

    weight_ih_l{k}  (G*H, in)   weight_hh_l{k}  (G*H, H)   bias_ih_l{k}, bias_hh_l{k}  (G*H,)

with G = 1 (RNN), 4 (LSTM, gates in the order i, f, g, o) or 3 (GRU, gates r, z, n).

One step of each cell, with ``xp = x W_ih^T + b_ih`` and ``hp = h W_hh^T + b_hh`` (each a
single matrix product for all gates at once):

    RNN    h' = tanh(xp + hp)
    LSTM   i, f, g, o = sig, sig, tanh, sig of (xp + hp) split in four
           c' = f * c + i * g            h' = o * tanh(c')
    GRU    r, z = sig of (xp + hp)[:2H] split in two
           n  = tanh(xp_n + r * hp_n)    (r multiplies W_hn h + b_hn, as in torch)
           h' = (1 - z) * n + z * h

The input projection ``xp`` is computed for all T steps in one product before the loop; the
loop over time runs only the recurrence. Backward runs the loop in reverse and then forms
``dW_ih`` and ``dW_hh`` with one product each over all steps.

``lengths`` (optional, ints of shape (B,)) marks right-padded batches, as torch's
``pack_padded_sequence``: past its length a sequence's state stays frozen and its outputs are
zero, so ``h_n`` is the state after each sequence's last real step.

The cells (``RNNCell``, ``LSTMCell``, ``GRUCell``, named and laid out as torch's) run one
step; their ``step`` / ``step_backward`` pair passes the cache explicitly, which is what a
hand-written decoding loop (``phase02.seq2seq``) needs.

See phase-02-sequence-models/notes/bptt-by-hand.md and notes/lstm-gates.md for the math.
"""

from __future__ import annotations

import numpy as np

from phase01.module import Module, Parameter

# -- pointwise parts of one step -------------------------------------------------------------
# Each ``*_pointwise`` takes the two projections xp, hp (B, G*H) and the previous state tuple,
# returns (new state tuple, cache). Each ``*_pointwise_backward`` takes the gradient of the
# new state tuple and returns (dxp, dhp, gradient of the previous state through paths other
# than hp). The matrix products with W_ih and W_hh live in the callers.


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` written as ``(1 + tanh(x / 2)) / 2``: the same number, no overflow.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def rnn_tanh_pointwise(xp, hp, state):
    """Elman step: ``h' = tanh(xp + hp)``."""
    h = np.tanh(xp + hp)                                        # (B, H)
    return (h,), h


def rnn_tanh_pointwise_backward(dstate, h):
    (dh,) = dstate
    da = dh * (1.0 - h * h)                                     # (B, H)
    return da, da, (None,)


def rnn_relu_pointwise(xp, hp, state):
    """``h' = max(0, xp + hp)`` (torch's ``nonlinearity="relu"``)."""
    h = np.maximum(xp + hp, 0.0)                                # (B, H)
    return (h,), h


def rnn_relu_pointwise_backward(dstate, h):
    (dh,) = dstate
    da = dh * (h > 0)                                           # (B, H)
    return da, da, (None,)


def lstm_pointwise(xp, hp, state):
    """LSTM step on the pre-activations ``xp + hp`` (B, 4H), gates in torch's order i, f, g, o."""
    _, c = state
    H = c.shape[-1]
    a = xp + hp                                                 # (B, 4H)
    gates = np.empty_like(a)
    gates[:, : 2 * H] = sigmoid(a[:, : 2 * H])                  # i, f
    gates[:, 2 * H : 3 * H] = np.tanh(a[:, 2 * H : 3 * H])      # g
    gates[:, 3 * H :] = sigmoid(a[:, 3 * H :])                  # o
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    c_new = f * c + i * g                                       # (B, H)  the additive path
    tc = np.tanh(c_new)                                         # (B, H)
    h_new = o * tc                                              # (B, H)
    return (h_new, c_new), (gates, c, tc)


def lstm_pointwise_backward(dstate, cache):
    dh, dc_next = dstate
    gates, c, tc = cache
    H = c.shape[-1]
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    dc = dh * o * (1.0 - tc * tc)                               # (B, H) through h = o tanh(c)
    if dc_next is not None:
        dc = dc + dc_next                                       # plus the cell path from t+1
    da = np.empty_like(gates)                                   # (B, 4H)
    da[:, :H] = dc * g * i * (1.0 - i)                          # di, through the sigmoid
    da[:, H : 2 * H] = dc * c * f * (1.0 - f)                   # df
    da[:, 2 * H : 3 * H] = dc * i * (1.0 - g * g)               # dg, through the tanh
    da[:, 3 * H :] = dh * tc * o * (1.0 - o)                    # do
    return da, da, (None, dc * f)                               # dc_prev = dc * f


def gru_pointwise(xp, hp, state):
    """GRU step, torch's formula: ``n = tanh(xp_n + r * hp_n)``, ``h' = (1 - z) n + z h``."""
    (h,) = state
    H = h.shape[-1]
    rz = sigmoid(xp[:, : 2 * H] + hp[:, : 2 * H])               # (B, 2H)
    r, z = rz[:, :H], rz[:, H:]
    hn = hp[:, 2 * H :]                                         # (B, H)  W_hn h + b_hn
    n = np.tanh(xp[:, 2 * H :] + r * hn)                        # (B, H)
    h_new = (1.0 - z) * n + z * h                               # (B, H)
    return (h_new,), (rz, hn, n, h)


def gru_pointwise_backward(dstate, cache):
    (dh,) = dstate
    rz, hn, n, h = cache
    H = h.shape[-1]
    r, z = rz[:, :H], rz[:, H:]
    dn_pre = dh * (1.0 - z) * (1.0 - n * n)                     # (B, H)
    dxp = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype)        # (B, 3H)
    dxp[:, :H] = dn_pre * hn * r * (1.0 - r)                    # dr_pre
    dxp[:, H : 2 * H] = dh * (h - n) * z * (1.0 - z)            # dz_pre
    dxp[:, 2 * H :] = dn_pre
    dhp = dxp.copy()
    dhp[:, 2 * H :] = dn_pre * r                                # r scales the hidden part of n
    return dxp, dhp, (dh * z,)                                  # h' = ... + z h


CELLS = {
    "RNN_TANH": (1, 1, rnn_tanh_pointwise, rnn_tanh_pointwise_backward),
    "RNN_RELU": (1, 1, rnn_relu_pointwise, rnn_relu_pointwise_backward),
    "LSTM": (4, 2, lstm_pointwise, lstm_pointwise_backward),
    "GRU": (3, 1, gru_pointwise, gru_pointwise_backward),
}


def _uniform_init(rng, shape, hidden_size):
    """torch's init for every recurrent weight and bias: U(-1/sqrt(H), 1/sqrt(H))."""
    k = 1.0 / np.sqrt(hidden_size)
    return rng.uniform(-k, k, size=shape).astype(np.float32)


def _check_state(layer: str, name: str, s, expected: tuple[int, ...]) -> np.ndarray:
    s = np.asarray(s)
    if s.shape != expected:
        raise ValueError(f"{layer}: {name} has shape {s.shape}, expected {expected}")
    if not np.issubdtype(s.dtype, np.floating):
        raise ValueError(f"{layer}: {name} must be floating point, got {s.dtype}")
    return s


# -- the multi-layer recurrent layer ---------------------------------------------------------


class _Recurrent(Module):
    """Shared code of RNN, LSTM and GRU: parameters, validation, the loops over time."""

    MODE = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 rng: np.random.Generator | None = None):
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(
                f"{type(self).__name__}: input_size, hidden_size and num_layers must be >= 1, got "
                f"{input_size}, {hidden_size}, {num_layers}"
            )
        rng = rng or np.random.default_rng()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        G, H = CELLS[self.MODE][0], hidden_size
        for k in range(num_layers):  # torch's order: w_ih, w_hh, b_ih, b_hh for each layer
            fan_in = input_size if k == 0 else H
            setattr(self, f"weight_ih_l{k}", Parameter(_uniform_init(rng, (G * H, fan_in), H)))
            setattr(self, f"weight_hh_l{k}", Parameter(_uniform_init(rng, (G * H, H), H)))
            setattr(self, f"bias_ih_l{k}", Parameter(_uniform_init(rng, (G * H,), H)))
            setattr(self, f"bias_hh_l{k}", Parameter(_uniform_init(rng, (G * H,), H)))

    def _weights(self, k: int) -> tuple[Parameter, Parameter, Parameter, Parameter]:
        return (getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}"),
                getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}"))

    # -- checks --------------------------------------------------------------------------
    def _check_input(self, x, states, lengths):
        name = type(self).__name__
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"{name}: input must be (batch, time, {self.input_size}), got shape {x.shape}")
        B, T, C = x.shape
        if T == 0:
            raise ValueError(f"{name}: got a sequence of length 0 (input shape {x.shape}); need T >= 1")
        if B == 0:
            raise ValueError(f"{name}: got an empty batch (input shape {x.shape})")
        if C != self.input_size:
            raise ValueError(f"{name}: input has {C} features (shape {x.shape}), expected input_size={self.input_size}")
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{name}: input must be floating point, got {x.dtype}")
        expected = (self.num_layers, B, self.hidden_size)
        states = tuple(None if s is None else _check_state(name, sn, s, expected)
                       for sn, s in states)
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
                raise ValueError(f"{name}: lengths must be integers of shape ({B},), got {lengths.dtype} {lengths.shape}")
            if lengths.min() < 1 or lengths.max() > T:
                raise ValueError(f"{name}: lengths must lie in [1, {T}], got {lengths.min()}..{lengths.max()}")
            if np.all(lengths == T):
                lengths = None  # nothing is padded: skip the masking
        return x, states, lengths

    # -- forward and backward over layers ------------------------------------------------
    def _forward(self, x, states, lengths):
        """``states``: one entry per state kind (h, and c for the LSTM), each None or (L, B, H)."""
        _, n_states, step, _ = CELLS[self.MODE]
        B = x.shape[0]
        H, dtype = self.hidden_size, self.weight_ih_l0.data.dtype
        dtype = np.result_type(dtype, x.dtype)
        masks = None if lengths is None else (np.arange(x.shape[1])[None, :] < lengths[:, None])
        self._cache = []
        finals = [np.empty((self.num_layers, B, H), dtype=dtype) for _ in range(n_states)]
        inp = x
        for k in range(self.num_layers):
            s0 = tuple(np.zeros((B, H), dtype=dtype) if s is None else s[k].astype(dtype)
                       for s in states)
            inp, sT, cache = self._layer_forward(k, inp, s0, masks, step)
            self._cache.append(cache)
            for j in range(n_states):
                finals[j][k] = sT[j]
        self._masks = masks
        return inp, finals

    def _layer_forward(self, k, x, state, masks, step):
        w_ih, w_hh, b_ih, b_hh = (p.data for p in self._weights(k))
        B, T, _ = x.shape
        H = self.hidden_size
        xp = x @ w_ih.T + b_ih                                  # (B, T, C) -> (B, T, G*H)
        out = np.empty((B, T, H), dtype=xp.dtype)               # (B, T, H)
        h_prev = np.empty((B, T, H), dtype=xp.dtype)            # (B, T, H)  h_{t-1} at each t
        steps = []
        for t in range(T):
            h_prev[:, t] = state[0]
            hp = state[0] @ w_hh.T + b_hh                       # (B, H) -> (B, G*H)
            new, c = step(xp[:, t], hp, state)
            if masks is not None:                               # padded rows keep their state
                m = masks[:, t, None]                           # (B, 1)
                new = tuple(np.where(m, n, s) for n, s in zip(new, state))
                out[:, t] = new[0] * m
            else:
                out[:, t] = new[0]
            steps.append(c)
            state = new
        return out, state, (x, h_prev, steps)

    def _backward(self, dout, dfinals):
        _, n_states, _, step_back = CELLS[self.MODE]
        dx = dout
        dinit = [np.zeros((self.num_layers,) + dout.shape[:1] + (self.hidden_size,), dtype=dout.dtype)
                 for _ in range(n_states)]
        for k in reversed(range(self.num_layers)):
            ds = [None if d is None else d[k] for d in dfinals]
            dx, ds0 = self._layer_backward(k, dx, ds, step_back)
            for j in range(n_states):
                dinit[j][k] = ds0[j]
        return dx, dinit

    def _layer_backward(self, k, dout, ds, step_back):
        p_ih, p_hh, pb_ih, pb_hh = self._weights(k)
        x, h_prev, steps = self._cache[k]
        masks = self._masks
        B, T, H = dout.shape
        GH = p_hh.data.shape[0]
        dxp = np.empty((B, T, GH), dtype=dout.dtype)            # (B, T, G*H)
        dhp = dxp if self.MODE != "GRU" else np.empty_like(dxp)  # RNN and LSTM: dhp == dxp
        ds = [np.zeros((B, H), dtype=dout.dtype) if d is None else d for d in ds]
        for t in reversed(range(T)):
            d_new = [ds[0] + dout[:, t]] + ds[1:]               # the state at t feeds t+1 and out
            if masks is not None:
                m = masks[:, t, None]                           # (B, 1)
                carry = [d * ~m for d in d_new]                 # frozen rows pass it straight back
                carry[0] = ds[0] * ~m                           # out is zero there: no dout
                d_new = [d * m for d in d_new]
            dxp_t, dhp_t, direct = step_back(d_new, steps[t])
            dxp[:, t] = dxp_t
            if dhp is not dxp:
                dhp[:, t] = dhp_t
            ds = [dhp_t @ p_hh.data if j == 0 else 0.0 for j in range(len(ds))]  # (B, G*H) -> (B, H)
            for j, d in enumerate(direct):
                if d is not None:
                    ds[j] = ds[j] + d
            if masks is not None:
                ds = [d + c for d, c in zip(ds, carry)]
        flat_dxp = dxp.reshape(B * T, GH)                       # (B*T, G*H)
        flat_dhp = dhp.reshape(B * T, GH)
        p_ih.grad += flat_dxp.T @ x.reshape(B * T, -1)          # (G*H, C)
        p_hh.grad += flat_dhp.T @ h_prev.reshape(B * T, H)      # (G*H, H)
        pb_ih.grad += flat_dxp.sum(axis=0)
        pb_hh.grad += flat_dhp.sum(axis=0)
        dx = dxp @ p_ih.data                                    # (B, T, G*H) -> (B, T, C)
        return dx, ds

    def _input_grads(self, dx, dinit):
        grads = [dx] + [d for d, given in zip(dinit, self._given) if given]
        return grads[0] if len(grads) == 1 else tuple(grads)

    # One state per layer (RNN, GRU); LSTM overrides both to carry the cell state too.
    def forward(self, x, h0=None, lengths=None):
        """``(B, T, C)`` and optional ``h0 (L, B, H)`` -> ``out (B, T, H)``, ``h_n (L, B, H)``."""
        x, states, lengths = self._check_input(x, [("h0", h0)], lengths)
        self._given = [h0 is not None]
        out, (h_n,) = self._forward(x, states, lengths)
        return out, h_n

    def backward(self, dout, dh_n=None):
        """``dout (B, T, H)``, optional ``dh_n`` -> ``dx`` (and ``dh0`` when ``h0`` was given)."""
        dx, dinit = self._backward(np.asarray(dout), [dh_n])
        return self._input_grads(dx, dinit)


class RNN(_Recurrent):
    """Elman's recurrent layer, ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Equal to ``torch.nn.RNN(input_size, hidden_size, num_layers, batch_first=True)`` (and
    ``nonlinearity="relu"`` too).

    >>> rnn = RNN(3, 4, num_layers=2, rng=np.random.default_rng(0))
    >>> out, h_n = rnn(np.ones((2, 5, 3), dtype=np.float32))
    >>> out.shape, h_n.shape
    ((2, 5, 4), (2, 2, 4))
    >>> bool(np.allclose(out[:, -1], h_n[-1]))  # the top layer's last output is its final state
    True
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", rng: np.random.Generator | None = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.MODE = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, rng)


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014), equal to ``torch.nn.GRU(..., batch_first=True)``."""

    MODE = "GRU"


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et
    al. 2000), equal to ``torch.nn.LSTM(..., batch_first=True)``.

    torch takes and returns the states as a pair ``(h, c)``; here they are separate arguments
    and outputs, so that every input and output is one array: ``out, h_n, c_n = lstm(x, h0, c0)``.

    >>> lstm = LSTM(3, 4, rng=np.random.default_rng(0))
    >>> [name for name, _ in lstm.named_parameters()]
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    >>> lstm.weight_ih_l0.shape  # four gates i, f, g, o stacked: (4 * hidden, input)
    (16, 3)
    """

    MODE = "LSTM"

    def forward(self, x, h0=None, c0=None, lengths=None):
        """``(B, T, C)``, optional ``h0, c0 (L, B, H)`` -> ``out (B, T, H)``, ``h_n``, ``c_n``."""
        x, states, lengths = self._check_input(x, [("h0", h0), ("c0", c0)], lengths)
        self._given = [h0 is not None, c0 is not None]
        out, (h_n, c_n) = self._forward(x, states, lengths)
        return out, h_n, c_n

    def backward(self, dout, dh_n=None, dc_n=None):
        """``dout (B, T, H)``, optional ``dh_n, dc_n`` -> ``dx`` (and ``dh0``, ``dc0`` when given)."""
        dx, dinit = self._backward(np.asarray(dout), [dh_n, dc_n])
        return self._input_grads(dx, dinit)


# -- single-step cells -----------------------------------------------------------------------


class _Cell(Module):
    """One step of a recurrent cell; parameters named as torch's ``nn.*Cell``.

    ``step(x, state) -> (new_state, cache)`` and ``step_backward(d_new_state, cache) ->
    (dx, d_state)`` are the explicit-cache pair (both states are tuples: ``(h,)`` or
    ``(h, c)``); ``step_backward`` accumulates the parameter gradients. ``forward`` /
    ``backward`` wrap them for the layer protocol, keeping caches on a stack so a cell may be
    called T times and then backwarded T times in reverse order.
    """

    MODE = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator | None = None):
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{type(self).__name__}: sizes must be >= 1, got {input_size}, {hidden_size}")
        rng = rng or np.random.default_rng()
        G, H = CELLS[self.MODE][0], hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = Parameter(_uniform_init(rng, (G * H, input_size), H))
        self.weight_hh = Parameter(_uniform_init(rng, (G * H, H), H))
        self.bias_ih = Parameter(_uniform_init(rng, (G * H,), H))
        self.bias_hh = Parameter(_uniform_init(rng, (G * H,), H))
        self._stack: list = []

    def initial_state(self, batch: int, dtype=None) -> tuple[np.ndarray, ...]:
        dtype = dtype or self.weight_ih.data.dtype
        return tuple(np.zeros((batch, self.hidden_size), dtype=dtype)
                     for _ in range(CELLS[self.MODE][1]))

    def step(self, x, state):
        name = type(self).__name__
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{name}: input must be (batch, {self.input_size}), got shape {x.shape}")
        for s in state:
            _check_state(name, "state", s, (x.shape[0], self.hidden_size))
        xp = x @ self.weight_ih.data.T + self.bias_ih.data              # (B, C) -> (B, G*H)
        hp = state[0] @ self.weight_hh.data.T + self.bias_hh.data       # (B, H) -> (B, G*H)
        new, c = CELLS[self.MODE][2](xp, hp, state)
        return new, (x, state[0], c)

    def step_backward(self, d_new, cache):
        x, h, c = cache
        d_new = [np.zeros_like(h) if d is None else d for d in d_new]
        dxp, dhp, direct = CELLS[self.MODE][3](d_new, c)
        self.weight_ih.grad += dxp.T @ x                                # (G*H, C)
        self.weight_hh.grad += dhp.T @ h                                # (G*H, H)
        self.bias_ih.grad += dxp.sum(axis=0)
        self.bias_hh.grad += dhp.sum(axis=0)
        dstate = [dhp @ self.weight_hh.data] + [None] * (len(d_new) - 1)  # (B, G*H) -> (B, H)
        for j, d in enumerate(direct):
            if d is not None:
                dstate[j] = d if dstate[j] is None else dstate[j] + d
        return dxp @ self.weight_ih.data, tuple(dstate)                 # (B, C), state grads


class RNNCell(_Cell):
    """``torch.nn.RNNCell``: ``forward(x (B, C), h (B, H)) -> h' (B, H)``."""

    def forward(self, x, h=None):
        x = np.asarray(x)
        state = (h,) if h is not None else self.initial_state(x.shape[0], x.dtype)
        (h_new,), cache = self.step(x, state)
        self._stack.append((cache, h is not None))
        return h_new

    def backward(self, dh):
        cache, given = self._stack.pop()
        dx, (dh_prev,) = self.step_backward((dh,), cache)
        return (dx, dh_prev) if given else dx


class GRUCell(RNNCell):
    """``torch.nn.GRUCell``: ``forward(x (B, C), h (B, H)) -> h' (B, H)``, gates r, z, n."""

    MODE = "GRU"


class LSTMCell(_Cell):
    """``torch.nn.LSTMCell``: ``forward(x (B, C), h, c) -> (h', c')``, gates i, f, g, o."""

    MODE = "LSTM"

    def forward(self, x, h=None, c=None):
        x = np.asarray(x)
        zeros = self.initial_state(x.shape[0], x.dtype)
        state = (zeros[0] if h is None else h, zeros[1] if c is None else c)
        new, cache = self.step(x, state)
        self._stack.append((cache, (h is not None, c is not None)))
        return new

    def backward(self, dh, dc=None):
        cache, given = self._stack.pop()
        dx, (dh_prev, dc_prev) = self.step_backward((dh, dc), cache)
        grads = [dx] + [g for g, ok in zip((dh_prev, dc_prev), given) if ok]
        return grads[0] if len(grads) == 1 else tuple(grads)
