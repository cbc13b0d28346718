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


@pytest.fixture(scope="module")
def mixed():
    """Every kind of term: smooths, a factor, a numeric pair and a numeric-by-factor pair."""
    rng = np.random.default_rng(13)
    n = 3000
    X = pd.DataFrame({"x1": rng.uniform(-2, 2, n), "x2": rng.uniform(-2, 2, n),
                      "region": rng.choice(["north", "south", "east"], n)})
    shift = X["region"].map({"north": 1.0, "south": 0.0, "east": -1.0})
    slope = X["region"].map({"north": 1.0, "south": 0.0, "east": -1.0})
    y = (np.sin(X["x1"]) + shift + np.sin(X["x1"]) * np.cos(X["x2"]) + slope * X["x2"]
         + rng.normal(0, 0.2, n))
    model = GAMRegressor(interactions=[("x1", "x2"), ("x2", "region")]).fit(X, y)
    return model, X, shift


def test_every_term_is_its_own_column_and_they_sum_to_the_prediction(mixed):
    model, X, _ = mixed
    assert model.term_names_ == ("x1", "x2", "region", "x1:x2", "x2:region")
    contributions = model.contributions(X)
    assert contributions.shape == (len(X), 5)
    np.testing.assert_allclose(model.intercept_ + contributions.sum(axis=1), model.predict(X),
                               rtol=1e-12)


def test_a_factor_effect_is_one_value_per_level_with_intervals(mixed):
    model, _, _ = mixed
    effect = model.partial_dependence("region")
    assert effect.kind == "levels" and list(effect.grid) == ["east", "north", "south"]
    # Level effects are deviations from the intercept: their differences are identified.
    assert effect.effect[1] - effect.effect[0] == pytest.approx(2.0, abs=0.1)
    assert np.all(effect.lower < effect.effect) and np.all(effect.effect < effect.upper)


def test_a_pair_is_a_surface_with_standard_errors_on_a_grid(mixed):
    model, _, _ = mixed
    effect = model.partial_dependence(("x2", "x1"))  # either order names the pair
    assert effect.kind == "surface" and effect.features == ("x1", "x2")
    assert effect.effect.shape == effect.std_error.shape == (len(effect.grid),
                                                             len(effect.grid2))
    truth = np.sin(effect.grid)[:, None] * np.cos(effect.grid2)[None, :]
    # The term excludes both main effects: compare after removing row and column means.
    def centred(a):
        return a - a.mean(axis=0) - a.mean(axis=1, keepdims=True) + a.mean()
    assert np.max(np.abs(centred(effect.effect) - centred(truth))) < 0.15


def test_a_numeric_by_factor_pair_is_a_curve_per_level(mixed):
    model, _, _ = mixed
    effect = model.partial_dependence("x2:region")
    assert effect.kind == "curves" and list(effect.grid2) == ["east", "north", "south"]
    slopes = np.polyfit(effect.grid, effect.effect, 1)[0]
    np.testing.assert_allclose(slopes, [-1.0, 1.0, 0.0], atol=0.1)


def test_summary_lists_levels_and_pairs_and_the_plot_draws_every_kind(mixed, tmp_path):
    model, X, _ = mixed
    summary = model.summary()
    for word in ("factor", "tensor", "by", "north", "x1:x2", "x2:region"):
        assert word in summary
    figure = model.plot(path=tmp_path / "terms.png", X=X, y=model.predict(X))
    assert (tmp_path / "terms.png").stat().st_size > 10_000
    assert len([ax for ax in figure.axes if ax.get_visible() and ax.get_title()]) == 5
