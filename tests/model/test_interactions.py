"""Pairs of features: named, found by screening, or refused with a sentence."""

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor


def _pair_data(rng, n=3000, nulls=6):
    X = pd.DataFrame(rng.uniform(-2, 2, size=(n, 2 + nulls)),
                     columns=[f"x{j}" for j in range(1, 3 + nulls)])
    truth = np.sin(X["x1"]) * np.cos(X["x2"]) + 0.5 * X["x1"]
    return X, truth


def test_auto_finds_the_true_pair_and_no_null_pair():
    rng = np.random.default_rng(50)
    X, truth = _pair_data(rng)
    model = GAMRegressor(interactions="auto").fit(X, truth + rng.normal(0, 0.3, len(X)))
    assert model.term_names_[8:] == ("x1:x2",)
    chosen = model.predictor_.info["interactions_chosen"]
    assert [c["pair"] for c in chosen] == [["x1", "x2"]]
    assert model.predictor_.info["interactions_screened"] == 28


def test_auto_chooses_nothing_when_nothing_interacts():
    rng = np.random.default_rng(51)
    X = pd.DataFrame(rng.uniform(-2, 2, size=(3000, 5)), columns=list("abcde"))
    y = np.sin(X["a"]) + X["b"] + rng.normal(0, 0.3, 3000)
    assert GAMRegressor(interactions="auto").fit(X, y).term_names_ == tuple("abcde")


def test_an_integer_keeps_the_strongest_pairs_in_order():
    rng = np.random.default_rng(52)
    X, truth = _pair_data(rng, nulls=2)
    y = truth + 0.1 * X["x3"] * X["x4"] + rng.normal(0, 0.3, len(X))
    assert GAMRegressor(interactions=2).fit(X, y).term_names_[4:] == ("x1:x2", "x3:x4")
    assert GAMRegressor(interactions=1).fit(X, y).term_names_[4:] == ("x1:x2",)


def test_screening_works_on_the_classifiers_working_residuals():
    rng = np.random.default_rng(53)
    X, truth = _pair_data(rng, n=6000, nulls=3)
    y = rng.random(len(X)) < 1 / (1 + np.exp(-3 * truth))
    assert GAMClassifier(interactions="auto").fit(X, y).term_names_[5:] == ("x1:x2",)


@pytest.mark.parametrize("pairs, words", [
    ([("x1", "x1")], "cannot interact with itself"),
    ([("x1", "nope")], "'nope', which is not a feature"),
    ([("x1",)], "each interaction is a pair"),
    ("sometimes", "'interactions' parameter of GAMRegressor must be"),
])
def test_bad_interactions_are_refused_naming_the_setting(pairs, words):
    rng = np.random.default_rng(54)
    X, truth = _pair_data(rng, n=200, nulls=0)
    with pytest.raises(ValueError, match=words):
        GAMRegressor(interactions=pairs).fit(X, truth)


def test_a_factor_with_many_levels_is_refused_in_a_pair():
    rng = np.random.default_rng(55)
    X = pd.DataFrame({"x": rng.uniform(size=600), "id": [f"c{i % 60}" for i in range(600)]})
    with pytest.raises(ValueError, match=r"'id' has 60 levels.*at most 50"):
        GAMRegressor(interactions=[("x", "id")]).fit(X, rng.normal(size=600))
