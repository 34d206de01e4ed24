"""phase01.train_mlp: a short run learns, a diverging run stops with a clear message, figures."""

import numpy as np
import pytest

from phase01 import train_mlp
from phase01.datasets import load_digits
from phase01.train_mlp import Config, TrainingDiverged, check_finite, main, train


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


def test_two_epochs_learn_something(digits):
    lines = []
    result = train(Config(epochs=2), digits, log=lines.append)
    assert len(lines) == 2 and lines[0].startswith("epoch   1/2") and "test acc" in lines[0] and "eta" in lines[0]
    assert result.history[1]["loss"] < result.history[0]["loss"]
    assert result.test_accuracy > 0.8  # chance is 0.1; two epochs reach ~0.89 with the defaults


def test_nan_loss_stops_training_with_a_clear_message(digits):
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at epoch 1, step \d+.*smaller --lr"):
        train(Config(epochs=3, lr=1e9), digits, log=None)


def test_check_finite():
    check_finite(0.5, 1, 0, 1e-3)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(TrainingDiverged, match="epoch 2, step 7"):
            check_finite(bad, 2, 7, 1e-3)


def test_main_reports_divergence_on_stderr_and_exits_1(capsys, tmp_path):
    code = main(["--epochs", "2", "--lr", "1e9", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("stopped: the loss became")
    assert list(tmp_path.iterdir()) == []  # no figures from a failed run


def test_main_writes_its_figures(capsys, tmp_path):
    assert main(["--epochs", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch   2/2" in out and "test accuracy" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp_misclassified.png", "mlp_training_curve.png"]
    assert all(p.stat().st_size > 5000 for p in tmp_path.iterdir())


def test_eval_mode_turns_dropout_off(digits):
    model = train_mlp.build_model(Config(dropout=0.5))
    a = train_mlp.predict(model, digits.X_test)
    b = train_mlp.predict(model, digits.X_test)
    np.testing.assert_array_equal(a, b)  # deterministic: no dropout at prediction
    assert model.training  # predict restores the mode it found


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reaches_95_percent_on_digits(seed):
    result = train(Config(seed=seed), load_digits(seed=seed), log=None)
    assert result.test_accuracy >= 0.95, result.test_accuracy
