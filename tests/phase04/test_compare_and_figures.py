"""The comparison pipeline and the figures run end to end (tiny sizes, files in tmp_path)."""

import json

import numpy as np
import pytest

from phase04.compare import CompareConfig, build, main, run, table
from phase04.figures import (
    plot_accuracy_by_length,
    plot_sqrt_dk,
    plot_toy_self_attention,
    sqrt_dk_statistics,
    toy_self_attention,
)


def test_tiny_comparison_writes_results_and_figures(tmp_path):
    out = tmp_path / "acc.json"
    results = main(["--steps", "3", "--hidden", "4", "--train_max", "3", "--eval_max", "4",
                    "--models", "plain", "bahdanau", "luong-dot", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["lengths"] == [1, 2, 3, 4]
    assert set(saved["accuracy"]) == {"plain", "bahdanau", "luong-dot"}
    for acc in saved["accuracy"].values():
        assert len(acc) == 4 and all(0.0 <= a <= 1.0 for a in acc)
    assert (tmp_path / "accuracy_by_length.png").stat().st_size > 0
    assert (tmp_path / "bahdanau_alignment.png").stat().st_size > 0
    assert "| 4 * |" in table(results)          # a length beyond training is starred


def test_every_model_name_builds_and_same_seed_same_encoder():
    models = {n: build(n, 4, seed=0) for n in ("plain", "bahdanau", "luong-dot",
                                                  "luong-general", "luong-concat")}
    w = models["plain"].encoder.weight_ih_l0.data
    for m in models.values():                    # the encoder is drawn first from the same seed
        np.testing.assert_array_equal(m.encoder.weight_ih_l0.data, w)
    with pytest.raises(ValueError, match="unknown model"):
        build("transformer", 4, 0)
    with pytest.raises(ValueError, match="unknown model"):
        run(CompareConfig(models=["nope"], steps=1, out=""), quiet=True)


def test_sqrt_dk_statistics_follow_the_variance_argument():
    st = sqrt_dk_statistics(dims=(1, 16, 256), n_queries=4000)
    # std of a dot product of d standard normals is sqrt(d); 64000 scores per d: the sample
    # std is within a few percent (its relative standard error is about 1/sqrt(2 * 64000))
    np.testing.assert_allclose(st["std_raw"], np.sqrt([1, 16, 256]), rtol=0.05)
    np.testing.assert_allclose(st["std_scaled"], 1.0, rtol=0.05)
    assert st["H_raw"][-1] < 0.5 * st["H_scaled"][-1]   # unscaled, wide heads go near one-hot


def test_toy_self_attention_finds_repeated_words():
    w = toy_self_attention()
    full, causal = w
    np.testing.assert_allclose(full.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(np.triu(causal, 1), 0.0)
    # "the" at 0, 4, 7: the first "the" puts most of its weight on the three "the"s
    assert full[0, [0, 4, 7]].sum() > 0.9


def test_figures_draw(tmp_path):
    plot_toy_self_attention(tmp_path / "a.png")
    plot_sqrt_dk(tmp_path / "b.png", n_queries=50)
    results = {"lengths": [1, 2], "train_lengths": [1, 1],
               "accuracy": {"plain": [1.0, 0.5], "bahdanau": [1.0, 1.0]}}
    plot_accuracy_by_length(tmp_path / "c.png", results)
    assert all((tmp_path / f).stat().st_size > 0 for f in ("a.png", "b.png", "c.png"))
