"""The losses and the advantage/KL arithmetic of RLHF and DPO, on numbers worked by hand."""

import math

import pytest
import torch

from phase09.dpo import dpo_loss
from phase09.rlhf import (
    bradley_terry_loss,
    gae,
    kl_penalized_rewards,
    lipogram_score,
    ppo_policy_loss,
    sequence_kl,
)


def test_lipogram_score():
    assert lipogram_score("Eel") == pytest.approx(1 - 2 / 3)
    assert lipogram_score("a cat, a dog!") == 1.0
    assert lipogram_score("") == 1.0


def test_bradley_terry_loss_by_hand():
    # margins 0 and ln 3: -log(1/2) = 0.6931..., -log(3/4) = 0.2877...; mean 0.4904...
    r_c, r_r = torch.tensor([1.0, math.log(3.0)]), torch.tensor([1.0, 0.0])
    expected = (math.log(2.0) + math.log(4 / 3)) / 2
    assert bradley_terry_loss(r_c, r_r).item() == pytest.approx(expected, abs=1e-7)  # float32


def test_kl_penalized_rewards_by_hand():
    logp = torch.tensor([[-1.0, -2.0, -0.5]])
    logp_ref = torch.tensor([[-1.5, -2.0, -1.0]])
    r = kl_penalized_rewards(logp, logp_ref, torch.tensor([2.0]), beta=0.1)
    # -0.1 * [0.5, 0, 0.5] + [0, 0, 2]
    torch.testing.assert_close(r, torch.tensor([[-0.05, 0.0, 1.95]]))
    assert sequence_kl(logp, logp_ref).item() == pytest.approx(1.0)  # 0.5 + 0 + 0.5


def test_gae_by_hand():
    rewards = torch.tensor([[0.0, 1.0]])
    values = torch.tensor([[0.5, 0.25]])
    adv, ret = gae(rewards, values, gamma=0.9, lam=0.5)
    # t=1: delta = 1 + 0 - 0.25 = 0.75, A1 = 0.75
    # t=0: delta = 0 + 0.9 * 0.25 - 0.5 = -0.275, A0 = -0.275 + 0.9 * 0.5 * 0.75 = 0.0625
    torch.testing.assert_close(adv, torch.tensor([[0.0625, 0.75]]))
    torch.testing.assert_close(ret, torch.tensor([[0.5625, 1.0]]))


def test_gae_with_lambda_one_is_the_discounted_return_minus_value():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    values = torch.tensor([[0.1, 0.2, 0.3]])
    adv, _ = gae(rewards, values, gamma=1.0, lam=1.0)
    torch.testing.assert_close(adv, torch.tensor([[6.0 - 0.1, 5.0 - 0.2, 3.0 - 0.3]]))


def test_ppo_clipped_loss_by_hand():
    logp_old = torch.zeros(3)
    logp = torch.log(torch.tensor([1.5, 0.5, 1.1]))     # ratios 1.5, 0.5, 1.1
    adv = torch.tensor([1.0, -1.0, 2.0])
    # min(1.5*1, 1.2*1) = 1.2 ; min(0.5*-1, 0.8*-1) = -0.8 ; min(1.1*2, 1.1*2) = 2.2
    expected = -(1.2 - 0.8 + 2.2) / 3
    assert ppo_policy_loss(logp, logp_old, adv, clip=0.2).item() == pytest.approx(expected, abs=1e-6)


def test_dpo_loss_by_hand():
    # implicit-reward margin: (-1 - -2) - (-3 - -2.5) = 1 + 0.5 = 1.5; beta 2 -> 3
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.5]),
                    beta=2.0)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-3.0)), abs=1e-6)  # float32
    # at the reference policy the loss is log 2 whatever the pairs
    z = torch.tensor([-4.0, -7.0])
    assert dpo_loss(z, z + 1, z, z + 1, beta=0.5).item() == pytest.approx(math.log(2.0), abs=1e-6)
