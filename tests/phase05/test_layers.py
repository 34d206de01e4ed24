"""Feed-forward, encoder and decoder layers, GPT blocks: float64 gradchecks in both residual
arrangements, and torch.nn.TransformerEncoderLayer / TransformerDecoderLayer as references."""

import numpy as np
import pytest
import torch

from phase01.module import Module, Parameter, check_module
from phase05.blocks import DecoderLayer, EncoderLayer, OutputProjection
from phase05.feedforward import FeedForward
from phase05.lm import Block, CausalSelfAttention, GPTConfig

# float64 on both sides, the same sums in another order: ~1e-15 apart; 1e-10 is generous.
TOL64 = 1e-10
GRADCHECK_TOL = 1e-6   # phase00.gradcheck's default: a wrong backward is off by O(1)


class Bound(Module):
    """A layer with fixed keyword arguments, so that check_module can call ``forward(*inputs)``."""

    def __init__(self, layer, **kwargs):
        self.layer = layer
        self.kwargs = kwargs

    def forward(self, *inputs):
        return self.layer(*inputs, **self.kwargs)

    def backward(self, dout):
        return self.layer.backward(dout)


def randomise_norms(module, rng):
    """LayerNorms start at weight 1, bias 0; random values make the gradchecks stricter."""
    for name, p in module.named_parameters():
        if "norm" in name or ".ln" in name or name.startswith("ln"):
            p.data[...] = rng.standard_normal(p.shape)


# -- feed-forward ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh"])
def test_feedforward_gradcheck(activation):
    rng = np.random.default_rng(0)
    ff = FeedForward(4, 6, activation, rng=rng).astype(np.float64)
    x = rng.standard_normal((2, 3, 4))
    assert max(check_module(ff, x).values()) < GRADCHECK_TOL


def test_feedforward_equals_torch_mlp():
    rng = np.random.default_rng(1)
    ff = FeedForward(5, 7, "gelu_tanh", rng=rng).astype(np.float64)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.GELU(approximate="tanh"),
                              torch.nn.Linear(7, 5)).double()
    sd = ff.state_dict()
    names = {"0.weight": "c_fc.weight", "0.bias": "c_fc.bias",
             "2.weight": "c_proj.weight", "2.bias": "c_proj.bias"}
    ref.load_state_dict({theirs: torch.from_numpy(sd[ours]) for theirs, ours in names.items()})
    x = rng.standard_normal((2, 3, 5))
    dy = rng.standard_normal((2, 3, 5))
    xt = torch.from_numpy(x).requires_grad_()
    ref(xt).backward(torch.from_numpy(dy))
    y = ff(x)
    dx = ff.backward(dy)
    np.testing.assert_allclose(y, ref(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(ff.c_fc.weight.grad, ref[0].weight.grad.numpy(), rtol=0, atol=TOL64)


# -- encoder and decoder layers: gradchecks in both arrangements -----------------------------

@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradcheck(norm_first):
    rng = np.random.default_rng(2)
    layer = EncoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, rng=rng).astype(np.float64)
    randomise_norms(layer, rng)
    x = rng.standard_normal((2, 3, 4))
    pad = np.array([[True, True, True], [True, True, False]])   # the second example is padded
    report = check_module(Bound(layer, key_padding_mask=pad), x)
    assert max(report.values()) < GRADCHECK_TOL, report


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_gradcheck(norm_first):
    rng = np.random.default_rng(3)
    layer = DecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, rng=rng).astype(np.float64)
    randomise_norms(layer, rng)
    x = rng.standard_normal((2, 3, 4))
    memory = rng.standard_normal((2, 5, 4))
    mem_pad = np.array([[True] * 5, [True, True, True, False, False]])
    tgt_pad = np.array([[True, True, True], [True, True, False]])
    report = check_module(Bound(layer, tgt_key_padding_mask=tgt_pad,
                                memory_key_padding_mask=mem_pad), x, memory)
    assert max(report.values()) < GRADCHECK_TOL, report


def test_encoder_layer_gradcheck_with_dropout():
    """Dropout's masks are drawn in forward; check_module re-runs forward for every
    perturbation, so a fresh rng per forward keeps the same masks each time."""

    class Seeded(Module):
        def __init__(self, layer):
            self.layer = layer

        def forward(self, x):
            for m in (self.layer.drop1, self.layer.drop2, self.layer.ff.drop):
                m.rng = np.random.default_rng(7)
            self.layer.self_attn.attention.rng = np.random.default_rng(8)
            return self.layer(x)

        def backward(self, dout):
            return self.layer.backward(dout)

    rng = np.random.default_rng(4)
    layer = EncoderLayer(4, 2, 6, dropout=0.3, rng=rng).astype(np.float64)
    report = check_module(Seeded(layer), rng.standard_normal((2, 3, 4)))
    assert max(report.values()) < GRADCHECK_TOL, report


# -- the references: torch.nn.TransformerEncoderLayer / TransformerDecoderLayer -------------

def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def mha_state(prefix_ours, prefix_torch, sd):
    """phase 04's q_proj/k_proj/v_proj/out_proj -> torch's packed in_proj_weight (3C, C)."""
    w = np.concatenate([sd[f"{prefix_ours}.{n}_proj.weight"] for n in "qkv"])
    b = np.concatenate([sd[f"{prefix_ours}.{n}_proj.bias"] for n in "qkv"])
    return {f"{prefix_torch}.in_proj_weight": w, f"{prefix_torch}.in_proj_bias": b,
            f"{prefix_torch}.out_proj.weight": sd[f"{prefix_ours}.out_proj.weight"],
            f"{prefix_torch}.out_proj.bias": sd[f"{prefix_ours}.out_proj.bias"]}


def torch_state(layer):
    """Our layer's state dict under torch's names."""
    sd = layer.state_dict()
    out = mha_state("self_attn", "self_attn", sd)
    if isinstance(layer, DecoderLayer):
        out |= mha_state("cross_attn", "multihead_attn", sd)
    out |= {"linear1.weight": sd["ff.c_fc.weight"], "linear1.bias": sd["ff.c_fc.bias"],
            "linear2.weight": sd["ff.c_proj.weight"], "linear2.bias": sd["ff.c_proj.bias"]}
    out |= {k: v for k, v in sd.items() if k.startswith("norm")}
    return {k: _t(v) for k, v in out.items()}


def torch_grads(ref):
    """torch's gradients under our names (the packed in_proj split back into q, k, v)."""
    g = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    out = {}
    for ours, theirs in (("self_attn", "self_attn"), ("cross_attn", "multihead_attn")):
        if f"{theirs}.in_proj_weight" not in g:
            continue
        for part, w, b in zip("qkv", np.split(g[f"{theirs}.in_proj_weight"], 3),
                              np.split(g[f"{theirs}.in_proj_bias"], 3)):
            out[f"{ours}.{part}_proj.weight"], out[f"{ours}.{part}_proj.bias"] = w, b
        out[f"{ours}.out_proj.weight"] = g[f"{theirs}.out_proj.weight"]
        out[f"{ours}.out_proj.bias"] = g[f"{theirs}.out_proj.bias"]
    out |= {"ff.c_fc.weight": g["linear1.weight"], "ff.c_fc.bias": g["linear1.bias"],
            "ff.c_proj.weight": g["linear2.weight"], "ff.c_proj.bias": g["linear2.bias"]}
    out |= {k: v for k, v in g.items() if k.startswith("norm")}
    return out


def assert_grads_equal(layer, ref, tol):
    theirs = torch_grads(ref)
    ours = layer.grads
    assert set(ours) == set(theirs)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=tol, err_msg=name)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("B,T,C,nh", [(2, 5, 8, 2), (1, 1, 4, 1), (3, 4, 6, 3)])
def test_encoder_layer_equals_torch(B, T, C, nh, norm_first):
    rng = np.random.default_rng(B * 100 + T)
    layer = EncoderLayer(C, nh, 2 * C + 1, dropout=0.0, norm_first=norm_first,
                         rng=rng).astype(np.float64)
    randomise_norms(layer, rng)
    ref = torch.nn.TransformerEncoderLayer(C, nh, 2 * C + 1, dropout=0.0, activation="relu",
                                           batch_first=True, norm_first=norm_first,
                                           dtype=torch.float64)
    ref.load_state_dict(torch_state(layer))
    x = rng.standard_normal((B, T, C))
    dy = rng.standard_normal((B, T, C))
    pad = np.ones((B, T), dtype=bool)
    pad[-1, T // 2 + 1:] = False                                     # padding in the last example
    xt = _t(x).requires_grad_()
    yt = ref(xt, src_key_padding_mask=_t(~pad))                      # torch: True = ignore
    yt.backward(_t(dy))
    y = layer(x, key_padding_mask=pad)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL64)
    assert_grads_equal(layer, ref, TOL64)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("B,T,S,C,nh", [(2, 4, 6, 8, 2), (1, 1, 1, 4, 1), (3, 5, 3, 6, 3)])
def test_decoder_layer_equals_torch(B, T, S, C, nh, norm_first):
    rng = np.random.default_rng(B * 100 + T * 10 + S)
    layer = DecoderLayer(C, nh, 3 * C, dropout=0.0, norm_first=norm_first,
                         rng=rng).astype(np.float64)
    randomise_norms(layer, rng)
    ref = torch.nn.TransformerDecoderLayer(C, nh, 3 * C, dropout=0.0, activation="relu",
                                           batch_first=True, norm_first=norm_first,
                                           dtype=torch.float64)
    ref.load_state_dict(torch_state(layer))
    x = rng.standard_normal((B, T, C))
    memory = rng.standard_normal((B, S, C))
    dy = rng.standard_normal((B, T, C))
    mem_pad = np.ones((B, S), dtype=bool)
    mem_pad[0, S // 2 + 1:] = False
    tgt_pad = np.ones((B, T), dtype=bool)
    tgt_pad[-1, T // 2 + 1:] = False
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)               # torch: True = may not attend
    xt, mt = _t(x).requires_grad_(), _t(memory).requires_grad_()
    yt = ref(xt, mt, tgt_mask=causal, tgt_is_causal=True, tgt_key_padding_mask=_t(~tgt_pad),
             memory_key_padding_mask=_t(~mem_pad))
    yt.backward(_t(dy))
    y = layer(x, memory, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mem_pad)
    dx, dmemory = layer.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL64)
    np.testing.assert_allclose(dmemory, mt.grad.numpy(), rtol=0, atol=TOL64)
    assert_grads_equal(layer, ref, TOL64)


def test_encoder_layer_float32_against_torch_float32():
    """The training dtype: float32 on both sides, different summation orders. Values are
    O(1) and sums have ~30 terms, so agreement to ~1e-6 is float32 rounding; 1e-4 is loose."""
    rng = np.random.default_rng(5)
    layer = EncoderLayer(16, 4, 32, dropout=0.0, rng=rng)
    ref = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    ref.load_state_dict({k: v.float() for k, v in torch_state(layer).items()})
    x = rng.standard_normal((2, 7, 16)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref(_t(x)).detach().numpy(), rtol=0, atol=1e-4)


# -- GPT pieces ------------------------------------------------------------------------------

def test_causal_self_attention_gradcheck_and_causality():
    rng = np.random.default_rng(6)
    attn = CausalSelfAttention(6, 3, rng=rng).astype(np.float64)
    x = rng.standard_normal((2, 4, 6))
    assert max(check_module(attn, x).values()) < GRADCHECK_TOL
    y = attn(x)
    x2 = x.copy()
    x2[:, 2:] += 10.0                                         # change the future ...
    np.testing.assert_allclose(attn(x2)[:, :2], y[:, :2], rtol=0, atol=1e-13)   # ... the past is unchanged


def test_fused_c_attn_equals_phase04_mha():
    """c_attn's three row blocks are phase 04's q_proj, k_proj and v_proj."""
    from phase04.attention import MultiHeadAttention

    rng = np.random.default_rng(7)
    attn = CausalSelfAttention(8, 2, rng=rng).astype(np.float64)
    mha = MultiHeadAttention(8, 2, causal=True, rng=rng).astype(np.float64)
    wq, wk, wv = np.split(attn.c_attn.weight.data, 3)
    bq, bk, bv = np.split(attn.c_attn.bias.data, 3)
    mha.load_state_dict({"q_proj.weight": wq, "k_proj.weight": wk, "v_proj.weight": wv,
                         "q_proj.bias": bq, "k_proj.bias": bk, "v_proj.bias": bv,
                         "out_proj.weight": attn.c_proj.weight.data,
                         "out_proj.bias": attn.c_proj.bias.data})
    x = rng.standard_normal((3, 5, 8))
    np.testing.assert_allclose(attn(x), mha(x), rtol=0, atol=TOL64)


@pytest.mark.parametrize("norm_first", [True, False])
def test_gpt_block_gradcheck(norm_first):
    rng = np.random.default_rng(8)
    block = Block(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=4),
                  rng=rng, norm_first=norm_first).astype(np.float64)
    randomise_norms(block, rng)
    report = check_module(block, rng.standard_normal((2, 3, 4)))
    assert max(report.values()) < GRADCHECK_TOL, report
    assert sorted(block.params) == sorted([
        "ln1.weight", "ln1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
        "attn.c_proj.bias", "ln2.weight", "ln2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
        "mlp.c_proj.weight", "mlp.c_proj.bias"])


def test_output_projection_tied_gradient_collects_both_uses():
    rng = np.random.default_rng(9)
    emb = Parameter(rng.standard_normal((5, 3)))
    head = OutputProjection(3, 5, tied_to=emb)
    assert head.weight is emb
    emb.grad[...] = 1.0                                      # as if an embedding had scattered 1s
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 5))
    head(x)
    head.backward(dout)
    np.testing.assert_allclose(emb.grad, 1.0 + dout.T @ x, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"tied weight must be \(vocab_size, d_model\) = \(5, 4\)"):
        OutputProjection(4, 5, tied_to=emb)


def test_layers_refuse_d_model_not_divisible_by_heads():
    for make in (lambda: EncoderLayer(10, 3, 8), lambda: DecoderLayer(10, 4, 8),
                 lambda: CausalSelfAttention(10, 3)):
        with pytest.raises(ValueError, match=r"d_model\)? 10 is not divisible by n_head"):
            make()
