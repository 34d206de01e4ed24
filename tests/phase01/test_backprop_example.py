"""The 2-3-2 example of notes/backprop.md: the note's numbers, checked by torch and by our layers."""

import numpy as np
import torch

from phase01.layers import Linear, ReLU, Sequential
from phase01.losses import SoftmaxCrossEntropy
from phase01.optim import SGD

WEIGHTS = {
    "0.weight": [[0.5, -0.2], [-0.3, 0.4], [0.1, -0.6]],
    "0.bias": [0.1, 0.0, 0.2],
    "2.weight": [[0.3, -0.5, 0.2], [0.4, 0.1, -0.3]],
    "2.bias": [0.0, 0.1],
}
X, Y = [[1.0, 2.0]], [0]
# the numbers printed in the note, rounded to 5 decimals (so compared to 5e-6 + float64 noise)
NOTE = {
    "z1": [0.2, 0.5, -0.9], "z2": [-0.19, 0.23], "p": [0.39652, 0.60348], "loss": 0.92504,
    "d_z2": [-0.60348, 0.60348], "d_h": [0.06035, 0.36209, -0.30174],
    "d_W2": [[-0.12070, -0.30174, 0.0], [0.12070, 0.30174, 0.0]],
    "d_W1": [[0.06035, 0.12070], [0.36209, 0.72418], [0.0, 0.0]],
    "d_x": [-0.07845, 0.13277], "loss_after_step": 0.4726, "z2_after_step": [0.3086, -0.1953],
}
ROUNDING = 5.1e-6  # half a unit in the 5th decimal


def torch_values():
    w = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in WEIGHTS.items()}
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    z1 = x @ w["0.weight"].T + w["0.bias"]
    h = torch.relu(z1)
    z2 = h @ w["2.weight"].T + w["2.bias"]
    for t in (z1, h, z2):
        t.retain_grad()
    loss = torch.nn.functional.cross_entropy(z2, torch.tensor(Y))
    loss.backward()
    with torch.no_grad():
        w2 = {k: v - 0.5 * v.grad for k, v in w.items()}
        z2b = torch.relu(x @ w2["0.weight"].T + w2["0.bias"]) @ w2["2.weight"].T + w2["2.bias"]
        loss_b = torch.nn.functional.cross_entropy(z2b, torch.tensor(Y))
    return {
        "z1": z1[0], "z2": z2[0], "p": torch.softmax(z2, -1)[0], "loss": loss, "d_z2": z2.grad[0],
        "d_h": h.grad[0], "d_W2": w["2.weight"].grad, "d_W1": w["0.weight"].grad, "d_x": x.grad[0],
        "loss_after_step": loss_b, "z2_after_step": z2b[0],
    }


def test_the_notes_numbers_are_what_torch_computes():
    for name, value in torch_values().items():
        tol = 5.1e-5 if name.endswith("after_step") else ROUNDING  # printed to 4 decimals
        np.testing.assert_allclose(value.detach().numpy(), NOTE[name], rtol=0, atol=tol, err_msg=name)


def test_our_layers_compute_the_same_example():
    net = Sequential(Linear(2, 3, dtype=np.float64), ReLU(), Linear(3, 2, dtype=np.float64))
    net.load_state_dict({k: np.array(v) for k, v in WEIGHTS.items()})
    ce = SoftmaxCrossEntropy()
    theirs = torch_values()
    loss = ce(net(np.array(X)), np.array(Y))
    dx = net.backward(ce.backward())
    assert abs(loss - theirs["loss"].item()) < 1e-15                                  # float64
    np.testing.assert_allclose(dx[0], theirs["d_x"].numpy(), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(net[2].weight.grad, theirs["d_W2"].numpy(), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(net[0].weight.grad, theirs["d_W1"].numpy(), rtol=1e-14, atol=1e-16)
    SGD(net.parameters(), lr=0.5).step()
    assert abs(ce(net(np.array(X)), np.array(Y)) - theirs["loss_after_step"].item()) < 1e-14
