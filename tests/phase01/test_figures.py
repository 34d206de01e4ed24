"""phase01.figures: the cheap figures are written, and the init statistics say what the note says."""

import pytest

from phase01 import figures


def test_init_statistics_tell_the_story():
    stats = figures.init_statistics(depth=10, width=128, batch=256)
    small, he, xavier_relu = stats["tanh, N(0, 0.01^2)"], stats["ReLU, He"], stats["ReLU, Xavier"]
    assert small["act"][-1] < 1e-6 and small["grad"][0] < 1e-6          # vanishes: x0.01*sqrt(128) per layer
    assert 0.3 < he["act"][-1] / he["act"][0] < 3                       # He keeps ReLU activations steady
    assert 0.3 < he["grad"][0] / he["grad"][-1] < 3                     # ... and gradients
    assert xavier_relu["act"][-1] < 0.1 * xavier_relu["act"][0]         # Xavier halves ReLU's variance per layer
    assert stats["tanh, N(0, 1)"]["act"][-1] > 0.9                      # saturated: |tanh| ~ 1 everywhere


def test_cheap_figures_are_written(tmp_path):
    info = figures.plot_perceptron(tmp_path / "p.png")
    assert info["separable_epochs"] > 1 and info["xor_mistakes_last_epoch"] >= 1
    adam = figures.plot_adam_bias_correction(tmp_path / "a.png")
    # first step: m1 = 0.1 g, sqrt(v1) = sqrt(0.001) |g|, ratio 0.1/0.0316 = sqrt(10); corrected: exactly 1
    assert adam["uncorrected_first_step"] == pytest.approx(10**0.5, rel=1e-6)
    assert adam["corrected_first_step"] == pytest.approx(1.0, rel=1e-6)
    assert all((tmp_path / n).stat().st_size > 10_000 for n in ("p.png", "a.png"))


@pytest.mark.slow
def test_all_figures(tmp_path):
    out = figures.main(tmp_path)
    assert out["mlp_*.png"]["test_accuracy"] >= 0.95
    assert min(out["toy_decision_boundary.png"].values()) > 0.95
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"perceptron_boundary.png", "scalar_mlp_xor.png", "init_statistics.png",
                     "toy_decision_boundary.png", "adam_bias_correction.png", "mlp_training_curve.png",
                     "mlp_misclassified.png"}
