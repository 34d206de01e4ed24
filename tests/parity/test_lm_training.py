"""Whole-model parity: phase 05's NumPy GPT and its torch twin on Tiny Shakespeare.

1. One batch: the same loss and the same gradient for every parameter (float64, rtol 1e-6).
2. Twenty training steps, each side with its own optimizer (phase01.optim.AdamW with weight
   decay on the matrices only, as phase05.train_lm, and gradient clipping at 1.0, against
   torch.optim.AdamW and torch.nn.utils.clip_grad_norm_): the same 20 losses and the same
   weights at the end (float64, rtol 1e-6; the losses agree to ~2e-16).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from phase01.losses import SoftmaxCrossEntropy
from phase01.optim import AdamW, clip_grad_norm
from phase05.lm import GPT as NumpyGPT
from phase05.lm import GPTConfig
from phase05.train_lm import get_batch, load_data, param_groups
from phase06.convert import load_numpy_weights
from phase06.lm import GPT
from phase06.parity import assert_parity

CFG = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(scope="module")
def data():
    tok, train, _ = load_data()
    assert len(tok.chars) == CFG.vocab_size
    return train


def models(seed=0):
    ref = NumpyGPT(CFG, rng=np.random.default_rng(seed), dtype=np.float64)
    return ref, load_numpy_weights(GPT(CFG).double(), ref)


def test_one_batch_loss_and_every_gradient(data):
    ref, twin = models()
    x, y = get_batch(data, 4, CFG.block_size, np.random.default_rng(1))
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn(ref(x), y)
    ref.backward(loss_fn.backward())

    t_loss = F.cross_entropy(twin(torch.from_numpy(x)).view(-1, CFG.vocab_size), torch.from_numpy(y).view(-1))
    t_loss.backward()

    params = dict(twin.named_parameters())
    assert set(params) == {n for n, _ in ref.named_parameters()}       # lm_head.weight is wte.weight
    actual = {"loss": t_loss.detach(), **{f"{n} grad": params[n].grad for n, _ in ref.named_parameters()}}
    expected = {"loss": np.array(loss), **{f"{n} grad": p.grad for n, p in ref.named_parameters()}}
    worst = assert_parity(actual, expected, rtol=1e-6)                 # float64
    assert worst < 1e-9                                                # what float64 actually delivers


def test_twenty_adamw_steps_same_trajectory(data):
    ref, twin = models(seed=2)
    opt = AdamW(param_groups(ref, 0.1), lr=3e-3, betas=(0.9, 0.99))
    named = list(twin.named_parameters())
    t_opt = torch.optim.AdamW([{"params": [p for _, p in named if p.ndim >= 2], "weight_decay": 0.1},
                               {"params": [p for _, p in named if p.ndim < 2], "weight_decay": 0.0}],
                              lr=3e-3, betas=(0.9, 0.99))
    loss_fn, rng = SoftmaxCrossEntropy(), np.random.default_rng(3)
    losses, t_losses, norms, t_norms = [], [], [], []
    for _ in range(20):
        x, y = get_batch(data, 4, CFG.block_size, rng)
        opt.zero_grad()
        losses.append(loss_fn(ref(x), y))
        ref.backward(loss_fn.backward())
        norms.append(clip_grad_norm(ref.parameters(), 1.0))
        opt.step()

        t_opt.zero_grad()
        t_loss = F.cross_entropy(twin(torch.from_numpy(x)).view(-1, CFG.vocab_size), torch.from_numpy(y).view(-1))
        t_loss.backward()
        t_norms.append(float(torch.nn.utils.clip_grad_norm_(twin.parameters(), 1.0)))
        t_opt.step()
        t_losses.append(t_loss.item())

    assert losses[-1] < losses[0] - 0.5                                # it trains: the test is not vacuous
    worst = assert_parity({"losses": np.array(t_losses), "grad norms": np.array(t_norms)},
                          {"losses": np.array(losses), "grad norms": np.array(norms)}, rtol=1e-6)   # float64
    assert worst < 1e-12                                               # measured: ~2e-16, one rounding
    params = dict(twin.named_parameters())
    # The key third of each c_attn.bias has a zero gradient in exact arithmetic (a shift shared
    # by every key leaves the softmax unchanged); it starts at 0 and collects rounding noise
    # (~1e-15) that differs between the sides: rel err ~3e-7 against the array's other entries.
    assert_parity({n: params[n].detach() for n, _ in ref.named_parameters()},
                  {n: p.data for n, p in ref.named_parameters()}, rtol=1e-6)            # float64
