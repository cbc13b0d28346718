"""On NIST Gauss3, default settings match or beat the hand-tuned reference deployment."""

import numpy as np
from sklearn.model_selection import train_test_split

from sagegam import GAMRegressor
from sagegam.datasets import gauss3_split, load_gauss3


def test_gauss3_defaults_beat_the_reference_r2_without_tuning():
    X_train, X_test, y_train, y_test = gauss3_split()
    model = GAMRegressor().fit(X_train, y_train)
    assert model.score(X_train, y_train) >= 0.9967
    assert model.score(X_test, y_test) >= 0.9972


def test_gauss3_split_is_the_reference_train_test_split():
    X, y = load_gauss3(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=42)
    ours_train, ours_test, ours_y_train, _ = gauss3_split()
    np.testing.assert_array_equal(ours_train, X_train)
    np.testing.assert_array_equal(ours_y_train, y_train)
    assert set(ours_test[:, 0]) <= set(X_test[:, 0])


def test_gauss3_loader_shapes():
    assert load_gauss3().shape == (250, 2)
    assert list(load_gauss3(as_frame=True).columns) == ["x", "y"]
