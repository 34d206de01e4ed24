"""Vanishing and exploding gradients, measured (Bengio et al. 1994; Pascanu et al. 2013).

Two experiments, both used by ``phase02.figures`` and runnable alone:

    python -m phase02.gradient_flow       # prints both tables

1. ``gradient_norms``: a loss on the LAST step only, ``L = v . h_T``; backpropagation through
   time carries ``dL/dh_T`` back to every step, and ``|dL/dx_t|`` measures how much of it
   reaches step ``t``. For a tanh RNN each step back multiplies by ``diag(1 - h^2) W_hh``:
   the norm shrinks geometrically when ``W_hh``'s spectral radius is below 1 (vanishing) and
   can grow geometrically above it (exploding). The LSTM's cell path multiplies by the
   forget gate ``f`` instead, so the gradient survives as long as ``f`` stays near 1.

2. ``clipping_run``: a tanh RNN character model started in the exploding regime
   (``W_hh`` = 2 x an orthogonal matrix) and trained by plain SGD (learning rate 2), once
   without and once with global gradient-norm clipping at 1. Without clipping the first
   large gradients throw the weights far away and the loss climbs above the uniform guess;
   with it every step has a bounded length and training proceeds.

See phase-02-sequence-models/notes/lstm-gates.md for why the additive cell path helps.
"""

from __future__ import annotations

import numpy as np

from phase00.data import read_text
from phase00.probability import one_hot
from phase01.layers import Linear
from phase01.losses import SoftmaxCrossEntropy
from phase01.optim import SGD, clip_grad_norm
from phase02.rnn import LSTM, RNN


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n x n`` orthogonal matrix (every singular value is 1)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))                              # (n, n)


def rnn_with_radius(input_size: int, hidden: int, radius: float | None,
                    rng: np.random.Generator) -> RNN:
    """A tanh RNN in float64; ``W_hh = radius * orthogonal`` (``None``: torch's default init)."""
    m = RNN(input_size, hidden, rng=rng).astype(np.float64)
    if radius is not None:
        m.weight_hh_l0.data[:] = radius * orthogonal(hidden, rng)
    return m


def lstm_with_forget_bias(input_size: int, hidden: int, forget_bias: float,
                          rng: np.random.Generator) -> LSTM:
    """An LSTM in float64 with ``forget_bias`` added to the forget gate's bias (slice H:2H)."""
    m = LSTM(input_size, hidden, rng=rng).astype(np.float64)
    m.bias_ih_l0.data[hidden : 2 * hidden] += forget_bias
    return m


def gradient_norms(layer, T: int = 100, batch: int = 32, seed: int = 0) -> np.ndarray:
    """``|dL/dx_t|`` for t = 0..T-1 (mean over the batch) for ``L = v . h_T``, ``|v| = 1``.

    >>> g = gradient_norms(rnn_with_radius(4, 8, 0.5, np.random.default_rng(0)), T=20)
    >>> g.shape, bool(g[0] < 1e-4 * g[-1])  # 19 steps back, almost nothing is left
    ((20,), True)
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, T, layer.input_size))       # (B, T, C)
    out = layer(x)[0]                                           # (B, T, H)
    v = rng.standard_normal((batch, layer.hidden_size))
    dout = np.zeros_like(out)
    dout[:, -1] = v / np.linalg.norm(v, axis=1, keepdims=True)  # the loss sees only h_T
    grads = layer.backward(dout)
    dx = grads[0] if isinstance(grads, tuple) else grads        # (B, T, C)
    return np.linalg.norm(dx, axis=2).mean(axis=0)              # (T,)


def vanishing_table(T: int = 100, hidden: int = 64, input_size: int = 8, seeds: int = 3) -> dict[str, np.ndarray]:
    """Gradient norm reaching each step for RNNs and LSTMs, geometric mean over ``seeds`` inits."""
    makers = {
        "RNN, torch init": lambda rng: rnn_with_radius(input_size, hidden, None, rng),
        "RNN, W_hh radius 1.0": lambda rng: rnn_with_radius(input_size, hidden, 1.0, rng),
        "RNN, W_hh radius 1.5": lambda rng: rnn_with_radius(input_size, hidden, 1.5, rng),
        "RNN, W_hh radius 2.0": lambda rng: rnn_with_radius(input_size, hidden, 2.0, rng),
        "LSTM, torch init": lambda rng: lstm_with_forget_bias(input_size, hidden, 0.0, rng),
        "LSTM, forget bias +1": lambda rng: lstm_with_forget_bias(input_size, hidden, 1.0, rng),
        "LSTM, forget bias +2": lambda rng: lstm_with_forget_bias(input_size, hidden, 2.0, rng),
    }
    table = {}
    for name, make in makers.items():
        logs = [np.log(gradient_norms(make(np.random.default_rng(s)), T, seed=s)) for s in range(seeds)]
        table[name] = np.exp(np.mean(logs, axis=0))             # (T,)
    return table


# -- clipping rescues an exploding run -------------------------------------------------------


def clipping_run(clip: float | None, steps: int = 300, hidden: int = 64, seq: int = 50,
                 batch: int = 32, lr: float = 2.0, radius: float = 2.0, seed: int = 0,
                 text: str | None = None) -> dict[str, np.ndarray]:
    """SGD on a tanh-RNN character model started with ``W_hh = radius * orthogonal``.

    ``clip=None`` trains without clipping. Returns per-step ``loss`` and ``grad_norm``
    (the global norm before clipping), float64 arrays of length ``steps``.
    """
    text = (read_text() if text is None else text)[:200_000]
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((stoi[c] for c in text), dtype=np.int64, count=len(text))
    V = len(chars)
    rng = np.random.default_rng(seed)
    rnn = rnn_with_radius(V, hidden, radius, rng)
    head = Linear(hidden, V, rng=rng).astype(np.float64)
    params = rnn.parameters() + head.parameters()
    opt = SGD(params, lr=lr)
    loss_fn = SoftmaxCrossEntropy()
    losses, norms = np.full(steps, np.nan), np.full(steps, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):          # the unclipped run may overflow
        for step in range(steps):
            starts = rng.integers(0, len(ids) - seq - 1, size=batch)
            idx = starts[:, None] + np.arange(seq + 1)[None, :]     # (B, T + 1)
            x, y = ids[idx[:, :-1]], ids[idx[:, 1:]]
            out, _ = rnn(one_hot(x, V))                             # (B, T, V) -> (B, T, H)
            logits = head(out)                                      # (B, T, H) -> (B, T, V)
            losses[step] = loss_fn(logits, y)
            opt.zero_grad()
            rnn.backward(head.backward(loss_fn.backward()))
            if clip is None:
                norms[step] = np.sqrt(sum(float(np.sum(p.grad ** 2)) for p in params))
            else:
                norms[step] = clip_grad_norm(params, clip)
            opt.step()
            if not np.isfinite(losses[step]):
                break
    return {"loss": losses, "grad_norm": norms}


def main() -> None:
    table = vanishing_table()
    T = len(next(iter(table.values())))
    back = [1, 10, 25, 50, 99]
    print("gradient norm |dL/dx_t| reaching t = T-1-k steps back (T = 100, H = 64, mean of 3 inits)")
    print(f"{'':24s}" + "".join(f"{f'k={k}':>11s}" for k in back))
    for name, g in table.items():
        print(f"{name:24s}" + "".join(f"{g[T - 1 - k]:11.2e}" for k in back))
    print("\nSGD (lr 2) on a tanh-RNN char model started in the exploding regime (W_hh radius 2):")
    for clip in (None, 1.0):
        r = clipping_run(clip)
        label = "no clipping" if clip is None else f"clip at {clip}"
        loss, norm = r["loss"], r["grad_norm"]
        print(f"{label:12s}: loss at steps 1/50/150/300 = "
              + " / ".join(f"{loss[i]:.3f}" for i in (0, 49, 149, len(loss) - 1))
              + f"; largest gradient norm {np.nanmax(norm):.3g}")


if __name__ == "__main__":
    main()
