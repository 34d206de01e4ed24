"""phase01.optim and phase01.schedules, step by step against torch.optim."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from phase01.module import Parameter
from phase01.optim import SGD, Adam, AdamW, clip_grad_norm
from phase01.schedules import cosine_with_warmup, set_lr, step_lr

STEPS = 20
# Differences are measured as |ours - torch| / max(1, |torch|): absolute for weights below 1,
# relative above (a float32 weight of 4 has a rounding step, one ulp, of 4.8e-7).
TOL64 = 1e-12  # float64 on both sides: only the order of roundings differs
TOL32 = 1e-6   # float32 on both sides: the target, "the same numbers to 1e-6"

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def gradient(w: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """A gradient that depends on the current weights (so differences would compound)."""
    return 0.5 * w + np.sin(3 * w) + noise


def run(ours_cls, torch_cls, kwargs, dtype, groups=None, schedule=None, clip=None, steps=STEPS):
    """Run both optimizers from the same start on the same gradient rule; return max |diff| per step."""
    rng = np.random.default_rng(0)
    starts = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    noises = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    ours = [Parameter(w.copy()) for w in starts]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in starts]

    def grouped(params):
        if groups is None:
            return params
        return [{**extra, "params": [params[i] for i in idx]} for idx, extra in groups]

    opt = ours_cls(grouped(ours), **kwargs)
    topt = torch_cls(grouped(theirs), **kwargs)
    base = [g["lr"] for g in opt.param_groups]
    diffs = []
    for t in range(steps):
        for p, q, n in zip(ours, theirs, noises[t]):
            p.grad[...] = gradient(p.data, n)
            q.grad = torch.from_numpy(gradient(q.detach().numpy(), n))
        if clip is not None:
            n_ours = clip_grad_norm(ours, clip)
            n_theirs = torch.nn.utils.clip_grad_norm_(theirs, clip).item()
            assert n_ours == pytest.approx(n_theirs, rel=1e-6)
        if schedule is not None:
            for g, tg, b in zip(opt.param_groups, topt.param_groups, base):
                g["lr"] = tg["lr"] = schedule(t, b)
        opt.step()
        topt.step()
        diffs.append(max(float(np.max(np.abs(p.data - q.detach().numpy()) / np.maximum(1, np.abs(q.detach().numpy()))))
                         for p, q in zip(ours, theirs)))
        assert all(p.data.dtype == dtype for p in ours)
    return diffs


CASES = {
    "sgd": (SGD, torch.optim.SGD, {"lr": 0.1}),
    "sgd_wd": (SGD, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.05}),
    "momentum": (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "nesterov": (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    "adam": (Adam, torch.optim.Adam, {"lr": 0.01}),
    "adam_l2": (Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    "adamw": (AdamW, torch.optim.AdamW, {"lr": 0.01}),
    "adamw_wd": (AdamW, torch.optim.AdamW, {"lr": 0.02, "weight_decay": 0.3}),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, TOL64), (np.float32, TOL32)])
def test_step_by_step_equal_to_torch(case, dtype, tol):
    ours_cls, torch_cls, kwargs = CASES[case]
    diffs = run(ours_cls, torch_cls, kwargs, dtype)
    assert max(diffs) < tol, diffs


@pytest.mark.parametrize("case", ["momentum", "adam", "adamw_wd"])
def test_param_groups_schedule_and_clipping_equal_to_torch(case):
    ours_cls, torch_cls, kwargs = CASES[case]
    groups = [([0, 2], {"weight_decay": 0.1}), ([1], {"weight_decay": 0.0, "lr": kwargs["lr"] / 2})]

    def schedule(t, base):
        return cosine_with_warmup(t, base, warmup_steps=5, total_steps=STEPS, min_lr=base / 10)

    diffs = run(ours_cls, torch_cls, kwargs, np.float64, groups=groups, schedule=schedule, clip=1.0)
    assert max(diffs) < TOL64, diffs


def test_adam_two_steps_of_the_note():
    # notes/optimizers.md: g = 0.5 then 0.3, lr 0.1: steps of exactly lr * 1.0 then lr * 0.95749
    p = Parameter(np.array([0.0]))
    opt = Adam([p], lr=0.1)
    p.grad[:] = 0.5
    opt.step()
    assert p.data[0] == pytest.approx(-0.1, rel=1e-7)  # eps = 1e-8 against sqrt(v_hat) = 0.5
    np.testing.assert_allclose(opt.state[p]["exp_avg"], 0.05, rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], 0.00025, rtol=1e-15)
    p.grad[:] = 0.3
    opt.step()
    assert p.data[0] == pytest.approx(-0.1 - 0.1 * 0.95749, abs=5e-7)  # the note rounds to 5 digits


def test_clipping_example_of_the_note():
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    a.grad[:], b.grad[:] = 3.0, 4.0
    assert clip_grad_norm([a, b], 1.0) == 5.0
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8], rtol=1e-6)  # the 1e-6 in the denominator


def test_groups_take_missing_keys_from_defaults():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = AdamW([{"params": [a]}, {"params": [b], "weight_decay": 0.0}], lr=0.1, weight_decay=0.2)
    assert opt.param_groups[0]["weight_decay"] == 0.2 and opt.param_groups[1]["weight_decay"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    set_lr(opt, 0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]


def test_state_dict_round_trip_resumes_exactly():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    grads = rng.standard_normal((10, 5))

    def fresh():
        p = Parameter(w0.copy())
        return p, Adam([p], lr=0.1, weight_decay=0.01)

    p, opt = fresh()
    for g in grads:
        p.grad[...] = g
        opt.step()
    q, opt2 = fresh()
    for g in grads[:6]:
        q.grad[...] = g
        opt2.step()
    saved, saved_w = opt2.state_dict(), q.data.copy()
    assert all(isinstance(v, (np.ndarray, int, float)) for s in saved["state"].values() for v in s.values())
    r, opt3 = fresh()
    r.data[...] = saved_w
    opt3.load_state_dict(saved)
    for g in grads[6:]:
        r.grad[...] = g
        opt3.step()
    np.testing.assert_array_equal(r.data, p.data)  # bit for bit: the same arithmetic in the same order


def test_state_dict_layout_is_torchs():
    ours, theirs = Parameter(np.ones(3)), torch.ones(3, requires_grad=True)
    o, t = SGD([ours], lr=0.1, momentum=0.9), torch.optim.SGD([theirs], lr=0.1, momentum=0.9)
    ours.grad[...] = 1.0
    theirs.grad = torch.ones(3, dtype=torch.float32)
    o.step()
    t.step()
    sd, tsd = o.state_dict(), t.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    assert sd["state"][0].keys() == tsd["state"][0].keys()
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]


def test_zero_grad_and_bad_arguments():
    p = Parameter(np.ones(2))
    p.grad[...] = 3.0
    SGD([p], lr=0.1).zero_grad()
    np.testing.assert_array_equal(p.grad, 0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty"):
        Adam([])
    with pytest.raises(ValueError, match="more than one group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


# -- clipping --------------------------------------------------------------------------------
@given(scale=st.floats(1e-3, 1e3), max_norm=st.floats(0.1, 10.0), seed=st.integers(0, 2**16))
def test_clip_grad_norm_equals_torch(scale, max_norm, seed):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s) * scale for s in SHAPES]
    ours = [Parameter(np.zeros(s)) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(ours, theirs, grads):
        p.grad[...] = g
        q.grad = torch.tensor(g)
    total = clip_grad_norm(ours, max_norm)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm).item()
    assert total == pytest.approx(ttotal, rel=1e-12)  # float64 sums in a different order
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12, atol=1e-15)
    new_norm = math.sqrt(sum(float(np.sum(p.grad**2)) for p in ours))
    assert new_norm <= max_norm * (1 + 1e-12)


# -- schedules -------------------------------------------------------------------------------
def _torch_lrs(make_scheduler, steps, base=0.5):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_step_lr_equals_torch():
    theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12)
    ours = [step_lr(s, 0.5, step_size=3, gamma=0.5) for s in range(12)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cosine_with_warmup_equals_torch_linear_then_cosine():
    warm, total, base, floor = 4, 15, 0.5, 0.05
    theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warm, eta_min=floor),
    ], milestones=[warm]), total + 1, base)
    ours = [cosine_with_warmup(s, base, warm, total, min_lr=floor) for s in range(total + 1)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)  # float64 cos; torch's recurrence rounds
    assert cosine_with_warmup(total + 7, base, warm, total, min_lr=floor) == floor


def test_schedule_bad_arguments():
    with pytest.raises(ValueError):
        step_lr(0, 0.1, step_size=0, gamma=0.5)
    with pytest.raises(ValueError):
        cosine_with_warmup(0, 0.1, warmup_steps=10, total_steps=5)
