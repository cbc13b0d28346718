"""Partial effects, contributions, summaries and plots explain the fitted model."""

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.uniform(-2, 2, size=(1500, 3)), columns=["wave", "bowl", "noise"])
    y = np.sin(2 * X["wave"]) + X["bowl"] ** 2 + rng.normal(0, 0.3, 1500)
    return GAMRegressor().fit(X, y), X, y


def test_intercept_plus_contributions_is_the_linear_predictor_exactly(fitted):
    model, X, _ = fitted
    total = model.intercept_ + model.contributions(X).sum(axis=1)
    assert np.array_equal(total, model.predict(X))


def test_classifier_contributions_sum_to_the_log_odds():
    rng = np.random.default_rng(12)
    X = rng.uniform(-2, 2, size=(800, 2))
    y = rng.random(800) < 1 / (1 + np.exp(-2 * X[:, 0]))
    model = GAMClassifier().fit(X, y)
    total = model.intercept_ + model.contributions(X).sum(axis=1)
    assert np.array_equal(total, model.decision_function(X))


def test_partial_dependence_recovers_the_shape_within_its_band(fitted):
    model, _, _ = fitted
    effect = model.partial_dependence("wave")
    truth = np.sin(2 * effect.grid)
    truth_centred = truth - truth.mean()
    estimate_centred = effect.effect - effect.effect.mean()
    assert np.max(np.abs(estimate_centred - truth_centred)) < 0.15
    assert np.all(effect.lower <= effect.effect) and np.all(effect.effect <= effect.upper)
    np.testing.assert_allclose(effect.upper - effect.effect, 1.959964 * effect.std_error,
                               rtol=1e-5)


def test_partial_dependence_band_width_follows_the_level(fitted):
    model, _, _ = fitted
    wide = model.partial_dependence("bowl", level=0.99)
    narrow = model.partial_dependence("bowl", level=0.5)
    assert np.all(wide.upper - wide.lower > narrow.upper - narrow.lower)


def test_a_null_feature_gets_a_flat_term_and_few_degrees_of_freedom(fitted):
    model, _, _ = fitted
    edf = dict(zip(model.feature_names_in_, model.edf_, strict=True))
    assert edf["noise"] < 2.0 < edf["wave"]
    assert np.ptp(model.partial_dependence("noise").effect) < 0.1


def test_summary_lists_every_term_with_edf_penalty_and_fit_statistics(fitted):
    text = fitted[0].summary()
    for expected in ("wave", "bowl", "noise", "REML", "deviance explained", "train_r2",
                     "edf", "alpha"):
        assert expected in text


def test_plot_writes_one_panel_per_feature(fitted, tmp_path):
    figure = fitted[0].plot(path=tmp_path / "terms.png")
    assert (tmp_path / "terms.png").stat().st_size > 10_000
    assert sum(axis.get_visible() for axis in figure.axes) == 3


def test_unknown_feature_names_the_known_ones(fitted):
    with pytest.raises(KeyError, match="wave"):
        fitted[0].partial_dependence("nope")


def test_plot_with_data_shows_partial_residuals_of_at_most_max_points(fitted, tmp_path):
    model, X, y = fitted
    figure = model.plot(path=tmp_path / "terms.png", X=X, y=y, max_points=500)
    offsets = figure.axes[0].collections[0].get_offsets()
    assert len(offsets) == 500
