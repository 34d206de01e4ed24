"""phase01.layers: float64 gradchecks, parity with torch.nn (forward and backward), bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase01 import init
from phase01.layers import GELU, Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh
from phase01.module import check_module

GRADCHECK_TOL = 1e-6  # worst relative error of central differences in float64 (phase00.gradcheck)
PARITY_TOL = 1e-12    # float64 vs float64 torch: only rounding differs

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=2)  # leading dims, batch 1 included
features = st.integers(1, 6)


def torch_twin(layer):
    """The torch.nn module that does the same job, with our weights loaded by name."""
    if isinstance(layer, Linear):
        t = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    elif isinstance(layer, Sequential):
        t = torch.nn.Sequential(*[torch_twin(m) for m in layer])
    else:
        t = {ReLU: torch.nn.ReLU, Tanh: torch.nn.Tanh, Sigmoid: torch.nn.Sigmoid}.get(type(layer))
        t = t() if t else torch.nn.GELU(approximate=layer.approximate)
    t = t.double()
    t.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return t


def assert_parity(layer, x, dout):
    """Same output and same gradients (input and every parameter) as the torch twin."""
    twin = torch_twin(layer)
    layer.zero_grad()
    out = layer(x)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    out_t = twin(xt)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=PARITY_TOL, atol=PARITY_TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=PARITY_TOL, atol=PARITY_TOL)
    tgrads = dict(twin.named_parameters())
    for name, g in layer.grads.items():
        np.testing.assert_allclose(g, tgrads[name].grad.numpy(), rtol=PARITY_TOL, atol=PARITY_TOL, err_msg=name)


def make(kind, n_in, n_out, rng):
    if kind == "linear":
        return Linear(n_in, n_out, rng=rng)
    if kind == "linear_nobias":
        return Linear(n_in, n_out, bias=False, rng=rng)
    if kind == "gelu":
        return GELU()
    if kind == "gelu_tanh":
        return GELU(approximate="tanh")
    return {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}[kind]()


KINDS = ["linear", "linear_nobias", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh"]


@pytest.mark.parametrize("kind", KINDS)
@given(lead=shapes, n_in=features, n_out=features, seed=st.integers(0, 2**16))
def test_gradcheck_and_torch_parity(kind, lead, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    layer = make(kind, n_in, n_out, rng).astype(np.float64)
    x = rng.standard_normal((*lead, n_in)) * 2
    if kind == "relu":  # keep central differences away from the kink at 0
        x = np.where(np.abs(x) < 1e-3, 0.5, x)
    worst = check_module(layer, x, rng=rng, tol=GRADCHECK_TOL)
    assert max(worst.values()) < GRADCHECK_TOL
    out_shape = layer(x).shape
    assert_parity(layer, x, rng.standard_normal(out_shape))


@given(seed=st.integers(0, 2**16), batch=st.integers(1, 5))
def test_sequential_mlp_gradcheck_and_parity(seed, batch):
    rng = np.random.default_rng(seed)
    net = Sequential(Linear(3, 5, rng=rng), Tanh(), Linear(5, 4, rng=rng), GELU("tanh"),
                     Linear(4, 2, rng=rng), Sigmoid()).astype(np.float64)
    assert sorted(net.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    x = rng.standard_normal((batch, 3))
    assert max(check_module(net, x, rng=rng, tol=GRADCHECK_TOL).values()) < GRADCHECK_TOL
    assert_parity(net, x, rng.standard_normal((batch, 2)))


def test_relu_gradient_at_zero_is_zero_as_torch():
    x = np.array([-1.0, 0.0, 2.0])
    r = ReLU()
    r(x)
    xt = torch.tensor(x, requires_grad=True)
    torch.relu(xt).sum().backward()
    np.testing.assert_array_equal(r.backward(np.ones(3)), xt.grad.numpy())  # exact: 0/1 masks


def test_gelu_extreme_inputs_are_finite_and_match_torch():
    x = np.array([-40.0, -10.0, -1e-8, 0.0, 1e-8, 10.0, 40.0])
    for approx in ("none", "tanh"):
        g = GELU(approx)
        out, dx = g(x), g.backward(np.ones_like(x))
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.gelu(xt, approximate=approx).sum().backward()
        np.testing.assert_allclose(out, torch.nn.functional.gelu(torch.tensor(x), approximate=approx).numpy(),
                                   rtol=1e-12, atol=1e-15)  # float64 rounding
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_sigmoid_never_overflows():
    with np.errstate(over="raise"):
        out = Sigmoid()(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(out, [0.0, 1.0])


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    net = Sequential(Linear(4, 3, rng=rng), ReLU(), Linear(3, 2, rng=rng), GELU(), Dropout(0.5, rng=rng))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    assert net(x).dtype == np.float32
    assert net.backward(np.ones((2, 2), np.float32)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads.values())


def test_backward_accumulates_parameter_gradients():
    rng = np.random.default_rng(1)
    lin = Linear(3, 2, rng=rng).astype(np.float64)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    lin(x)
    lin.backward(dout)
    once = lin.weight.grad.copy()
    lin(x)
    lin.backward(dout)
    np.testing.assert_allclose(lin.weight.grad, 2 * once, rtol=1e-15)  # += not =
    np.testing.assert_allclose(once, dout.T @ x, rtol=1e-12)


# -- Dropout -------------------------------------------------------------------------------
def test_dropout_train_zeroes_and_rescales_eval_is_identity():
    d = Dropout(0.25, rng=np.random.default_rng(0))
    x = np.ones((200, 100))
    out = d(x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-15)
    # the fraction dropped is Binomial(20000, 0.25)/20000: std 0.003, so 0.02 is > 6 sigma
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), out)  # same mask, same scale
    d.eval()
    np.testing.assert_array_equal(d(x), x)
    np.testing.assert_array_equal(d.backward(x), x)
    assert Sequential(Dropout(0.5)).eval()[0].training is False


def test_dropout_gradcheck_with_fixed_mask():
    class FixedMask(Dropout):  # the mask is random, so gradcheck one draw of it
        def forward(self, x):
            self.rng = np.random.default_rng(7)
            return super().forward(x)

    x = np.random.default_rng(2).standard_normal((3, 4))
    assert max(check_module(FixedMask(0.4), x, tol=GRADCHECK_TOL).values()) < GRADCHECK_TOL


def test_dropout_matches_torch_in_distribution_and_edges():
    # torch's random stream differs, so compare what can be compared: p = 0 and p = 1 exactly,
    # and the expectation E[dropout(x)] = x (mean of 0/scale variables over 10^5 draws: 1%)
    x = np.arange(1.0, 4.0)
    for p in (0.0, 1.0):
        ours = Dropout(p)(x)
        theirs = torch.nn.functional.dropout(torch.tensor(x), p, training=True).numpy()
        np.testing.assert_array_equal(ours, theirs)
    d = Dropout(0.5, rng=np.random.default_rng(3))
    mean = np.mean([d(np.ones(1000)) for _ in range(100)])
    assert abs(mean - 1.0) < 0.01  # std of the mean is 1/sqrt(1e5) = 0.003


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match="Dropout"):
        Dropout(1.5)


# -- shape errors ---------------------------------------------------------------------------
def test_linear_shape_mismatch_names_layer_and_both_shapes():
    lin = Linear(4, 3)
    with pytest.raises(ValueError) as e:
        lin(np.zeros((2, 5)))
    msg = str(e.value)
    assert "Linear(in_features=4, out_features=3" in msg
    assert "(2, 5)" in msg and "(3, 4)" in msg


def test_sequential_shape_mismatch_names_the_position():
    net = Sequential(Linear(4, 6), ReLU(), Linear(5, 2))
    with pytest.raises(ValueError) as e:
        net(np.zeros((8, 4), np.float32))
    msg = str(e.value)
    assert msg.startswith("Sequential[2] Linear(in_features=5, out_features=2")
    assert "(8, 6)" in msg and "(2, 5)" in msg


def test_backward_with_wrong_dout_shape_raises():
    lin = Linear(4, 3)
    lin(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"Linear.*\(2, 4\).*\(2, 3\)"):
        lin.backward(np.zeros((2, 4), np.float32))
    t = Tanh()
    t(np.zeros(3))
    with pytest.raises(ValueError, match="Tanh"):
        t.backward(np.zeros(4))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="init"):
        Linear(2, 2, init="orthogonal")
    with pytest.raises(ValueError, match="GELU"):
        GELU("erf")
    with pytest.raises(ValueError, match="Linear"):
        Linear(0, 2)


# -- initialisers ------------------------------------------------------------------------------
def test_linear_default_init_has_torch_bounds():
    lin = Linear(400, 300, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(400)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    # U(-a, a) has std a/sqrt(3); 120000 draws estimate it to ~0.2%, so 2% is far outside noise
    np.testing.assert_allclose(lin.weight.data.std(), bound / np.sqrt(3), rtol=0.02)
    assert lin.weight.shape == (300, 400) and lin.weight.dtype == np.float32


@pytest.mark.parametrize(
    ("fn", "std", "torch_fn"),
    [
        (init.xavier_uniform, np.sqrt(2 / (500 + 300)), torch.nn.init.xavier_uniform_),
        (init.xavier_normal, np.sqrt(2 / (500 + 300)), torch.nn.init.xavier_normal_),
        (init.he_normal, np.sqrt(2 / 500), lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
        (init.he_uniform, np.sqrt(2 / 500), lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")),
        (init.normal, 0.02, lambda w: torch.nn.init.normal_(w, std=0.02)),
    ],
)
def test_initialiser_std_matches_formula_and_torch(fn, std, torch_fn):
    w = fn((300, 500), rng=np.random.default_rng(0))
    torch.manual_seed(0)
    wt = torch_fn(torch.empty(300, 500, dtype=torch.float64)).numpy()
    # 150000 draws: the sample std is within ~0.4% of the true one; 3% cannot be noise
    np.testing.assert_allclose(w.std(), std, rtol=0.03)
    np.testing.assert_allclose(wt.std(), std, rtol=0.03)
    assert abs(w.mean()) < 0.05 * std
    assert w.shape == (300, 500)


def test_linear_init_options_zero_the_bias():
    for name in ("normal", "xavier", "he"):
        lin = Linear(10, 4, init=name, rng=np.random.default_rng(0))
        np.testing.assert_array_equal(lin.bias.data, 0)


def test_fans():
    assert init.fans((10, 784)) == (784, 10)
    assert init.fans((7,)) == (7, 7)
    with pytest.raises(ValueError):
        init.fans(())
