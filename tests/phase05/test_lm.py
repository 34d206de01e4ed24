"""The decoder-only LM: whole-model gradcheck, names and tying, causality, bad input,
generation, and transformers' GPT2LMHeadModel (random weights, float64) as the reference."""

import numpy as np
import pytest
import torch

from phase01.losses import SoftmaxCrossEntropy
from phase01.module import check_module
from phase01.optim import AdamW
from phase05.lm import GPT, GPTConfig

GRADCHECK_TOL = 1e-6   # phase00.gradcheck's default
# float64 on both sides, different summation orders through 2 blocks: ~1e-14; 1e-10 is generous.
TOL64 = 1e-10


def tiny(seed=0, dtype=np.float64, **kw):
    cfg = GPTConfig(**({"vocab_size": 7, "block_size": 5, "n_layer": 2, "n_head": 2,
                        "n_embd": 4} | kw))
    return GPT(cfg, rng=np.random.default_rng(seed), dtype=dtype)


def randomise(model, rng, scale=0.5):
    """GPT-2's init is small (std 0.02); bigger random weights make the checks stricter."""
    for _, p in model.named_parameters():
        p.data[...] = scale * rng.standard_normal(p.shape)


def test_whole_model_gradcheck():
    model = tiny()
    randomise(model, np.random.default_rng(1))
    idx = np.array([[1, 2, 3, 1, 0], [6, 6, 5, 0, 2]])     # repeated ids: the scatter-add
    report = check_module(model, idx)
    assert max(report.values()) < GRADCHECK_TOL, report


def test_parameter_names_and_tied_head():
    model = tiny(n_layer=1)
    names = list(model.params)
    assert names == ["wte.weight", "wpe.weight",
                     "blocks.0.ln1.weight", "blocks.0.ln1.bias",
                     "blocks.0.attn.c_attn.weight", "blocks.0.attn.c_attn.bias",
                     "blocks.0.attn.c_proj.weight", "blocks.0.attn.c_proj.bias",
                     "blocks.0.ln2.weight", "blocks.0.ln2.bias",
                     "blocks.0.mlp.c_fc.weight", "blocks.0.mlp.c_fc.bias",
                     "blocks.0.mlp.c_proj.weight", "blocks.0.mlp.c_proj.bias",
                     "ln_f.weight", "ln_f.bias"]
    assert model.lm_head.weight is model.wte.weight
    assert "lm_head.weight" in model.state_dict()          # as torch lists a tied weight
    # 7*4 + 5*4 + block (2*4 + 4*12 + 12 + 4*4 + 4 + 2*4 + 4*16 + 16 + 16*4 + 4) + 2*4
    assert model.num_parameters() == 28 + 20 + (8 + 60 + 20 + 8 + 80 + 68) + 8


def test_gpt2_initialisation():
    model = GPT(GPTConfig(n_layer=8, n_embd=64, n_head=4), rng=np.random.default_rng(0))
    assert model.wte.weight.dtype == np.float32
    assert np.std(model.wte.weight.data) == pytest.approx(0.02, rel=0.05)   # 4160 draws
    c_proj = model.blocks[0].attn.c_proj.weight.data
    assert np.std(c_proj) == pytest.approx(0.02 / 4.0, rel=0.05)            # 1/sqrt(2*8)
    assert np.all(model.blocks[0].mlp.c_fc.bias.data == 0)
    assert np.all(model.ln_f.weight.data == 1)


def test_causal():
    model = tiny(seed=2)
    randomise(model, np.random.default_rng(2))
    idx = np.array([[1, 2, 3, 4, 5]])
    a = model(idx)
    idx2 = idx.copy()
    idx2[0, 3:] = 0
    b = model(idx2)
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=0, atol=1e-13)
    assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-3


def test_bad_input_names_the_limit():
    model = tiny()
    with pytest.raises(ValueError, match=r"sequence length 6 is outside \[1, 5\].*block_size = 5"):
        model(np.zeros((1, 6), dtype=np.int64))
    with pytest.raises(ValueError, match=r"token id 7 is out of range \[0, 7\) \(vocab_size\)"):
        model(np.array([[1, 7]]))
    with pytest.raises(ValueError, match=r"n_embd \(d_model\) 10 is not divisible by n_head 4"):
        GPTConfig(n_embd=10, n_head=4)


def test_generate():
    model = tiny(seed=3, dtype=np.float32)
    prompt = np.array([[1, 2], [3, 4]])
    out = model.generate(prompt, 8, temperature=0.0)        # longer than the context: it crops
    assert out.shape == (2, 10)
    np.testing.assert_array_equal(out[:, :2], prompt)
    # greedy: each new token is the argmax given the last block_size tokens
    for t in range(2, 10):
        ctx = out[:, max(0, t - 5):t]
        np.testing.assert_array_equal(out[:, t], np.argmax(model(ctx)[:, -1], axis=-1))
    top1 = model.generate(prompt, 8, temperature=1.0, top_k=1, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(top1, out)                # top-k 1 is greedy too
    s1 = model.generate(prompt, 5, rng=np.random.default_rng(5))
    s2 = model.generate(prompt, 5, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(s1, s2)                   # seeded


def test_a_few_steps_learn_a_fixed_batch():
    rng = np.random.default_rng(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16), rng=rng)
    x = rng.integers(0, 11, size=(8, 8))
    y = np.roll(x, -1, axis=1)
    loss_fn = SoftmaxCrossEntropy()
    opt = AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        model.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[0] > 2.2 and losses[-1] < 1.0, (losses[0], losses[-1])   # log 11 = 2.40


# -- the reference: transformers' GPT-2 with random weights -----------------------------------

def to_hf(model):
    """Our state dict under GPT-2's names; GPT-2's Conv1D stores (in, out), the transpose."""
    out = {"transformer.wte.weight": model.wte.weight.data,
           "transformer.wpe.weight": model.wpe.weight.data,
           "transformer.ln_f.weight": model.ln_f.weight.data,
           "transformer.ln_f.bias": model.ln_f.bias.data,
           "lm_head.weight": model.wte.weight.data}
    for i, blk in enumerate(model.blocks):
        h = f"transformer.h.{i}."
        for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")):
            ln = getattr(blk, ours)
            out[h + theirs + ".weight"], out[h + theirs + ".bias"] = ln.weight.data, ln.bias.data
        for mod, lin in (("attn.c_attn", blk.attn.c_attn), ("attn.c_proj", blk.attn.c_proj),
                         ("mlp.c_fc", blk.mlp.c_fc), ("mlp.c_proj", blk.mlp.c_proj)):
            out[h + mod + ".weight"] = lin.weight.data.T
            out[h + mod + ".bias"] = lin.bias.data
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}


@pytest.mark.parametrize("n_layer,n_head,n_embd,T", [(2, 2, 8, 6), (1, 1, 4, 1), (3, 4, 16, 7)])
def test_equals_transformers_gpt2(n_layer, n_head, n_embd, T):
    transformers = pytest.importorskip("transformers")
    rng = np.random.default_rng(n_layer * 10 + T)
    model = GPT(GPTConfig(vocab_size=13, block_size=8, n_layer=n_layer, n_head=n_head,
                          n_embd=n_embd), rng=rng, dtype=np.float64)
    randomise(model, rng, scale=0.3)
    hf_cfg = transformers.GPT2Config(vocab_size=13, n_positions=8, n_embd=n_embd,
                                     n_layer=n_layer, n_head=n_head,
                                     activation_function="gelu_new", resid_pdrop=0.0,
                                     embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5)
    ref = transformers.GPT2LMHeadModel(hf_cfg).double()
    ref.config._attn_implementation = "eager"
    missing, unexpected = ref.load_state_dict(to_hf(model), strict=False)
    assert unexpected == [] and all(".attn.bias" in k or "masked_bias" in k for k in missing)
    ref.train()                                             # dropout is 0; grads on
    idx = rng.integers(0, 13, size=(2, T))
    dlogits = rng.standard_normal((2, T, 13))
    logits_ref = ref(torch.from_numpy(idx)).logits
    logits_ref.backward(torch.from_numpy(dlogits))
    logits = model(idx)
    model.zero_grad()
    model.backward(dlogits)
    np.testing.assert_allclose(logits, logits_ref.detach().numpy(), rtol=0, atol=TOL64)
    theirs = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    ours = to_hf_grads(model)
    for name, g in ours.items():
        np.testing.assert_allclose(g, theirs[name], rtol=0, atol=TOL64, err_msg=name)


def to_hf_grads(model):
    """Our gradients under GPT-2's names (the tied wte/lm_head gradient is one array)."""
    saved = {n: p.data.copy() for n, p in model.named_parameters()}
    for _, p in model.named_parameters():
        p.data = p.grad                                     # borrow to_hf's name mapping
    grads = {k: v.numpy() for k, v in to_hf(model).items() if k != "lm_head.weight"}
    for n, p in model.named_parameters():
        p.data = saved[n]
    return grads
