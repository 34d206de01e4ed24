"""phase01.datasets and phase01.toy: shapes, labels, determinism, a toy MLP that learns."""

import numpy as np
import pytest

from phase01.datasets import linearly_separable, load_digits, moons, spiral, xor
from phase01.toy import accuracy, decision_grid, mlp, train_toy


def test_toy_sets_shapes_labels_and_determinism():
    for X, y, k in [(*moons(101), 2), (*spiral(30, 4), 4), (*linearly_separable(50), 2), (*xor(), 2)]:
        assert X.ndim == 2 and X.shape[1] == 2 and len(X) == len(y)
        assert set(np.unique(y)) == set(range(k))
    a, b = spiral(20, 3, rng=np.random.default_rng(5)), spiral(20, 3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])


def test_linearly_separable_has_its_gap():
    X, y = linearly_separable(200, margin=0.4, rng=np.random.default_rng(1))
    gap = X[:, 1] - (0.5 * X[:, 0] + 0.1)
    assert np.all(np.abs(gap) > 0.2)
    np.testing.assert_array_equal(y, gap > 0)


def test_digits_split_is_stratified_and_scaled():
    d = load_digits(test_fraction=0.2, seed=0)
    assert d.X_train.shape[1] == d.X_test.shape[1] == 64
    assert len(d.y_train) + len(d.y_test) == 1797
    assert 0.0 <= d.X_train.min() and d.X_train.max() <= 1.0
    counts = np.bincount(d.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of 174..183 images per class
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.0)


def test_toy_mlp_learns_moons():
    X, y = moons(200, noise=0.1, rng=np.random.default_rng(0))
    model, losses = train_toy(X, y, hidden=16, steps=300, lr=0.02)
    assert losses[-1] < 0.3 * losses[0]
    assert accuracy(model, X, y) > 0.95
    xx, yy, cls = decision_grid(model, X, resolution=20)
    assert xx.shape == yy.shape == cls.shape == (20, 20) and set(np.unique(cls)) == {0, 1}


def test_mlp_builder_names_like_torch():
    net = mlp([2, 8, 8, 3], np.random.default_rng(0))
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
