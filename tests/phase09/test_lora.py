"""LoRA on the phase-07 GPT: starts at the base model, merges exactly, counts parameters."""

import pytest
import torch

from phase07.gpt import GPT, GPTConfig
from phase09.lora import LoRALinear, add_lora, merge_lora, trainable_fraction


def _tiny():
    torch.manual_seed(0)
    return GPT(GPTConfig.from_preset("tiny")).double().eval()


def test_lora_linear_by_hand():
    base = torch.nn.Linear(2, 2, bias=False).double()
    with torch.no_grad():
        base.weight.copy_(torch.eye(2, dtype=torch.float64))
    lora = LoRALinear(base, r=1, alpha=2.0)  # scale alpha / r = 2
    with torch.no_grad():
        lora.lora_A.copy_(torch.tensor([[1.0, 2.0]]))
        lora.lora_B.copy_(torch.tensor([[3.0], [0.0]]))
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    # W x + 2 * B (A x) = [1, 1] + 2 * [3 * 3, 0] = [19, 1]
    torch.testing.assert_close(lora(x), torch.tensor([[19.0, 1.0]], dtype=torch.float64))


def test_adapters_start_at_the_base_and_merge_exactly():
    model = _tiny()
    idx = torch.randint(0, 65, (2, 16))
    with torch.no_grad():
        before = model(idx)
    names = add_lora(model, r=4, alpha=8)
    assert len(names) == 4 * model.config.n_layer
    with torch.no_grad():
        torch.testing.assert_close(model(idx), before, rtol=0, atol=0)  # B = 0: exactly the base
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_()
        unmerged = model(idx)
        assert (unmerged - before).abs().max() > 1e-3
        merge_lora(model)
        assert not any(isinstance(m, LoRALinear) for m in model.modules())
        assert (model(idx) - unmerged).abs().max().item() < 1e-10  # float64


def test_trainable_fraction_by_hand():
    model = _tiny()
    total = model.num_parameters()
    add_lora(model, r=2, alpha=4)
    trainable, total_after = trainable_fraction(model)
    C, L = 64, 2
    per_block = 2 * (C + 3 * C) + 2 * (C + C) + 2 * (C + 4 * C) + 2 * (4 * C + C)  # r (in + out) x 4
    assert trainable == L * per_block
    assert total_after == total + trainable
    assert all(p.requires_grad == ("lora_" in n) for n, p in model.named_parameters())


def test_only_adapters_get_gradients():
    model = _tiny()
    add_lora(model, r=2)
    idx = torch.randint(0, 65, (2, 8))
    _, loss = model(idx, idx)
    loss.backward()
    assert all((p.grad is not None) == ("lora_" in n) for n, p in model.named_parameters())


def test_bad_rank_and_no_target_are_clear_errors():
    with pytest.raises(ValueError, match="rank 9"):
        LoRALinear(torch.nn.Linear(8, 4), r=9)
    with pytest.raises(ValueError, match="no nn.Linear"):
        add_lora(_tiny(), targets=("nothing.here",))
