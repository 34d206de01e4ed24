"""The encoder-decoder: a whole-model gradcheck, padding masks, tied weights, decoding,
bad input, and a short run that learns."""

import numpy as np
import pytest

from phase01.module import check_module
from phase01.optim import Adam
from phase05.losses import LabelSmoothingCrossEntropy
from phase05.transformer import Transformer, TransformerConfig

GRADCHECK_TOL = 1e-6   # phase00.gradcheck's default


def tiny(norm_first=False, share=True, seed=0, dtype=np.float64, **kw):
    cfg = TransformerConfig(src_vocab_size=7, tgt_vocab_size=7 if share else 6, d_model=4,
                            n_head=2, d_ff=6, n_encoder_layers=1, n_decoder_layers=1,
                            dropout=0.0, max_len=8, norm_first=norm_first,
                            share_embeddings=share, **kw)
    return Transformer(cfg, rng=np.random.default_rng(seed), dtype=dtype)


SRC = np.array([[3, 4, 5, 6], [5, 3, 0, 0]])      # the second source is padded (pad_id 0)
TGT = np.array([[1, 6, 5, 4], [1, 3, 5, 0]])


@pytest.mark.parametrize("norm_first,share", [(False, True), (True, True), (False, False)])
def test_whole_model_gradcheck(norm_first, share):
    """Every parameter of the model, through embeddings, masks, both stacks and the tied head."""
    model = tiny(norm_first, share)
    tgt = TGT if share else np.minimum(TGT, 5)
    report = check_module(model, SRC, tgt)           # integer inputs: parameters only
    assert max(report.values()) < GRADCHECK_TOL, report


def test_shared_embeddings_are_one_parameter_with_three_names():
    model = tiny()
    assert model.src_embed.weight is model.tgt_embed.weight is model.generator.weight
    names = [n for n, _ in model.named_parameters()]
    assert "src_embed.weight" in names and "generator.weight" not in names
    assert {"src_embed.weight", "tgt_embed.weight", "generator.weight"} <= set(model.state_dict())
    assert model.num_parameters() == sum(p.data.size for _, p in model.named_parameters())


def test_source_padding_changes_nothing():
    """Extra pad tokens at the end of the source are masked out of every attention."""
    model = tiny(seed=1)
    src = np.array([[3, 4, 5]])
    tgt = np.array([[1, 6, 5]])
    a = model(src, tgt)
    b = model(np.array([[3, 4, 5, 0, 0, 0]]), tgt)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)      # float64 rounding


def test_the_decoder_cannot_see_the_future():
    model = tiny(seed=2)
    a = model(SRC, TGT)
    tgt2 = TGT.copy()
    tgt2[:, 2:] = 4
    b = model(SRC, tgt2)
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=0, atol=1e-12)
    assert np.abs(a[:, 2:] - b[:, 2:]).max() > 1e-3


def test_label_smoothing_ignores_padding_end_to_end():
    """A padded target position gets no gradient: the loss is the same with any id there."""
    model = tiny(seed=3)
    loss = LabelSmoothingCrossEntropy(0.1, ignore_index=0)
    targets = np.array([[6, 5, 4, 2], [3, 5, 2, 0]])
    logits = model(SRC, TGT)
    value = loss(logits, targets)
    dlogits = loss.backward()
    assert np.all(dlogits[1, 3] == 0.0)
    model.zero_grad()
    model.backward(dlogits)
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in model.grads.values())


def test_decoding_shapes_and_eval_mode():
    model = tiny(seed=4, dtype=np.float32)
    model.config.dropout = 0.0
    model.train()
    greedy = model.greedy_decode(SRC, bos=1, eos=2, max_len=6)
    beam1 = model.beam_decode(SRC, bos=1, eos=2, max_len=6, beam_size=1)
    beam3 = model.beam_decode(SRC, bos=1, eos=2, max_len=6, beam_size=3)
    assert model.training                                   # restored after decoding
    assert greedy.shape[0] == 2 and greedy.shape[1] <= 6
    np.testing.assert_array_equal(beam1, greedy)            # a beam of one is greedy
    assert beam3.shape[0] == 2


def test_bad_input_names_the_limit():
    model = tiny()
    with pytest.raises(ValueError, match=r"sequence length 9 is outside \[1, 8\].*max_len = 8"):
        model(np.ones((1, 9), dtype=np.int64), TGT[:1])
    with pytest.raises(ValueError, match=r"token id 7 is out of range \[0, 7\) \(vocab_size\)"):
        model(np.array([[3, 7]]), TGT[:1])
    with pytest.raises(ValueError, match=r"token id -1 is out of range"):
        model(SRC, np.array([[1, -1]]))
    with pytest.raises(ValueError, match="integer array"):
        model(SRC.astype(float), TGT)
    with pytest.raises(ValueError, match="d_model 10 is not divisible by n_head 4"):
        TransformerConfig(src_vocab_size=5, tgt_vocab_size=5, d_model=10, n_head=4)
    with pytest.raises(ValueError, match="share_embeddings needs one vocabulary"):
        TransformerConfig(src_vocab_size=5, tgt_vocab_size=6)


def test_learns_to_copy_a_fixed_batch():
    """40 Adam steps on 8 sequences: the loss falls from ~log(V) = 2.3 to well under 1."""
    rng = np.random.default_rng(0)
    cfg = TransformerConfig(src_vocab_size=10, tgt_vocab_size=10, d_model=32, n_head=4,
                            d_ff=64, n_encoder_layers=1, n_decoder_layers=1, dropout=0.0,
                            max_len=8)
    model = Transformer(cfg, rng=rng)
    src = rng.integers(3, 10, size=(8, 5))
    tgt_in = np.concatenate([np.ones((8, 1), dtype=np.int64), src], axis=1)
    tgt_out = np.concatenate([src, np.full((8, 1), 2)], axis=1)
    loss_fn = LabelSmoothingCrossEntropy(0.0, ignore_index=0)
    opt = Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    losses = []
    for _ in range(40):
        model.zero_grad()
        losses.append(loss_fn(model(src, tgt_in), tgt_out))
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[0] > 1.8 and losses[-1] < 0.8, (losses[0], losses[-1])
