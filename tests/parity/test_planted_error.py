"""The suite can fail: plant a 1e-3 relative error in one hand-written backward of the NumPy
GPT and the parity helper must name the gradient it spoiled, and nothing else."""

import re

import numpy as np
import pytest
import torch

from phase05.lm import GPT as NumpyGPT
from phase05.lm import GPTConfig
from phase06.convert import load_numpy_weights
from phase06.lm import GPT
from phase06.pairs import run_pair
from phase06.parity import assert_parity

CFG = GPTConfig(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8)


def pair():
    rng = np.random.default_rng(0)
    ref = NumpyGPT(CFG, rng=rng, dtype=np.float64)
    for p in ref.parameters():
        p.data += 0.1 * rng.standard_normal(p.shape)
    idx = rng.integers(0, CFG.vocab_size, size=(2, 5))
    return ref, load_numpy_weights(GPT(CFG).double(), ref), idx


def test_unplanted_pair_passes():
    ref, twin, idx = pair()
    assert assert_parity(*run_pair(ref, twin, [idx]), rtol=1e-6) < 1e-9    # float64


def test_planted_parameter_gradient_error_is_named(monkeypatch):
    """``blocks.1.ln1``'s backward adds 1.001 times its weight gradient instead of 1 time."""
    ref, twin, idx = pair()
    ln = ref.blocks[1].ln1
    honest = ln.backward

    def planted(dy):
        before = ln.weight.grad.copy()
        dx = honest(dy)
        ln.weight.grad += 1e-3 * (ln.weight.grad - before)      # this call's share, 1e-3 too big
        return dx

    monkeypatch.setattr(ln, "backward", planted)
    with pytest.raises(AssertionError) as info:
        assert_parity(*run_pair(ref, twin, [idx]), rtol=1e-6)
    message = str(info.value)
    # |e - a| / |e| = 1e-3 / 1.001: reported as 1.0e-03, at one position of the 8 features
    assert re.fullmatch(r"parity failed \(rtol 1e-06\): blocks\.1\.ln1\.weight grad: rel err 1\.0e-03 at "
                        r"\(\d\,\) \(got .*, expected .*\)", message), message


def test_planted_input_gradient_error_spreads_upstream_only(monkeypatch):
    """An error in the gradient block 0's MLP passes back reaches every parameter before it
    (block 0's norms and attention, the embeddings) and none after it: the names that fail
    point at where to look."""
    ref, twin, idx = pair()
    mlp = ref.blocks[0].mlp
    honest = mlp.backward
    monkeypatch.setattr(mlp, "backward", lambda dout: honest(dout) * (1 + 1e-3))
    with pytest.raises(AssertionError) as info:
        assert_parity(*run_pair(ref, twin, [idx]), rtol=1e-6)
    failing = set(re.findall(r"([\w.]+ grad): rel err", str(info.value)))
    assert {"blocks.0.ln2.weight grad", "blocks.0.attn.c_attn.weight grad", "blocks.0.ln1.bias grad",
            "wpe.weight grad"} <= failing, failing
    assert not any(n.startswith(("blocks.1.", "ln_f.", "blocks.0.mlp.")) for n in failing), failing
    assert torch.get_default_dtype() == torch.float32                   # nothing leaked into torch's defaults
