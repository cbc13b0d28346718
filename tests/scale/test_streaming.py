"""Streamed fits (a chunk source read in passes) against the in-memory fit of the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor
from sagegam.model.chunks import ArraySource
from tests.scale.data import mixed


def _same_model(streamed, in_memory, tolerance=1e-8):
    assert streamed.term_names_ == in_memory.term_names_
    scale = np.max(np.abs(in_memory.coef_))
    np.testing.assert_allclose(streamed.coef_, in_memory.coef_, rtol=0, atol=tolerance * scale)
    covariance = in_memory.predictor_.covariance
    np.testing.assert_allclose(streamed.predictor_.covariance, covariance, rtol=0,
                               atol=tolerance * np.max(np.abs(covariance)))
    for key in ("edf_total", "deviance", "null_deviance", "scale", "n_obs"):
        assert streamed.predictor_.info[key] == pytest.approx(
            in_memory.predictor_.info[key], rel=tolerance), key


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    {"interactions": [("a", "b")]},
    {"interactions": "auto", "adaptive": False},
    {"discrete": False, "adaptive": False},
])
def test_a_streamed_gaussian_fit_equals_the_in_memory_fit(options):
    X, eta = mixed()
    y = eta + np.random.default_rng(1).normal(0, 0.5, len(eta))
    in_memory = GAMRegressor(**options).fit(X, y)
    streamed = GAMRegressor(**options).fit(ArraySource(X, y, piece_rows=70_000,
                                                       chunk_rows=25_000))
    _same_model(streamed, in_memory)
    assert streamed.predictor_.info["train_r2"] == pytest.approx(
        in_memory.predictor_.info["train_r2"], abs=1e-10)
    # Survey; bins, sums and the whole working model; deviance (and, screening: the rows
    # screened, gathered). The pairs chosen and their statistics are the in-memory ones.
    screened = options.get("interactions") == "auto"
    assert streamed.predictor_.info["passes"] == (4 if screened else 3)
    if screened:
        chosen = [in_memory.predictor_.info["interactions_chosen"],
                  streamed.predictor_.info["interactions_chosen"]]
        assert [[c["pair"] for c in pairs] for pairs in chosen] == [[["a", "b"]]] * 2
        assert chosen[1][0]["f_statistic"] == pytest.approx(chosen[0][0]["f_statistic"],
                                                            rel=1e-8)


@pytest.mark.slow
def test_streamed_iterations_of_a_weighted_poisson_and_a_classifier_equal_memory():
    X, eta = mixed(rows=330_000, seed=8)
    rng = np.random.default_rng(2)
    weights = rng.integers(0, 3, len(eta)).astype(float)  # zeros: rows left out
    counts = rng.poisson(np.exp(0.4 * eta)).astype(float)
    options = {"adaptive": False}
    poisson = GAMRegressor(family="poisson", **options)
    source = ArraySource(X, counts, weights, piece_rows=100_000, chunk_rows=40_000)
    if (weights > 0).sum() <= 200_000:
        pytest.fail("the data set must keep more than 200,000 rows of positive weight")
    _same_model(poisson.fit(source), GAMRegressor(family="poisson", **options).fit(
        X, counts, sample_weight=weights))
    labels = np.where(rng.random(len(eta)) < 1 / (1 + np.exp(-eta)), "yes", "no")
    classifier = GAMClassifier(**options).fit(ArraySource(X, labels, piece_rows=90_000))
    reference = GAMClassifier(**options).fit(X, labels)
    _same_model(classifier, reference)
    assert list(classifier.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(classifier.predict(X.iloc[:1000]),
                                  reference.predict(X.iloc[:1000]))


def test_a_small_source_is_fitted_in_memory_exactly():
    X, eta = mixed(rows=5_000)
    y = eta + np.random.default_rng(3).normal(0, 0.3, len(eta))
    streamed = GAMRegressor().fit(ArraySource(X, y, piece_rows=1_500, chunk_rows=700))
    in_memory = GAMRegressor().fit(X, y)
    np.testing.assert_array_equal(streamed.coef_, in_memory.coef_)
    assert list(streamed.feature_names_in_) == ["a", "b", "c"]


def test_a_source_with_bad_rows_is_refused_with_the_in_memory_message():
    X, eta = mixed(rows=3_000)
    y = eta.copy()
    y[2_500] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        GAMRegressor().fit(ArraySource(X, y, piece_rows=1_000))
    with pytest.raises(ValueError, match="without y and sample_weight"):
        GAMRegressor().fit(ArraySource(X, eta), eta)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        GAMClassifier().fit(ArraySource(X, np.arange(3_000) % 3, piece_rows=1_000))


def test_files_or_a_folder_fit_through_file_source(tmp_path):
    from sagegam import FileSource
    from sagegam.container.errors import UserError

    X, eta = mixed(rows=4_000)
    frame = X.assign(y=eta)
    frame.iloc[:2_500].to_csv(tmp_path / "a.csv", index=False)
    frame.iloc[2_500:].to_json(tmp_path / "b.jsonl", orient="records", lines=True)
    model = GAMRegressor().fit(FileSource.of(tmp_path, target="y"))
    reference = GAMRegressor().fit(X, eta)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-9)
    (tmp_path / "c.csv").write_text("a,b,c,y\n1,2,p,3\n1,x,q,4\n2,3,p,5\n")
    with pytest.raises(UserError, match=r"c\.csv, line 3, column 'b'"):
        GAMRegressor().fit(FileSource.of(tmp_path / "c.csv", target="y"))


@pytest.mark.parametrize("options, fragment", [
    ({"family": "tweedie"}, "power='auto'"),
    ({"family": "negative_binomial"}, "theta='auto'"),
    ({"monotonic_cst": {"a": 1}}, "monotonic_cst"),
    ({"knots": "quantile"}, "knots='quantile'"),
    ({"knots": "balanced"}, "knots='balanced'"),
])
def test_options_only_rows_in_memory_can_honour_are_refused_before_any_pass(
        tmp_path, options, fragment):
    from sagegam import FileSource

    X, eta = mixed(rows=2_000)
    y = np.exp(0.3 * eta)
    # Few rows: were the options not refused up front, the survey would gather them and
    # fit them in memory, honouring every option.
    with pytest.raises(ValueError, match=fr"{fragment}.*cannot"):
        GAMRegressor(**options).fit(ArraySource(X, y, piece_rows=700))
    # A file whose third line is bad: its error would come first from any pass.
    X.assign(y=y).iloc[:3].to_csv(tmp_path / "rows.csv", index=False)
    with open(tmp_path / "rows.csv", "a") as file:
        file.write("1,x,p,3\n")
    with pytest.raises(ValueError, match=fr"{fragment}.*cannot"):
        GAMRegressor(**options).fit(FileSource.of(tmp_path / "rows.csv", target="y"))
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(ValueError, match=fr"{fragment}.*cannot"):
        GAMRegressor(**options).fit(dd.from_pandas(X, npartitions=2),
                                    dd.from_pandas(pd.Series(y), npartitions=2))


def test_a_given_tweedie_power_and_evenly_spaced_knots_stream():
    X, eta = mixed(rows=2_000)
    y = np.random.default_rng(5).poisson(np.exp(0.3 * eta)) * 1.5
    options = {"family": "tweedie", "power": 1.4, "knots": "uniform"}
    streamed = GAMRegressor(**options).fit(ArraySource(X, y, piece_rows=700))
    np.testing.assert_array_equal(streamed.coef_, GAMRegressor(**options).fit(X, y).coef_)
    assert streamed.power_ == 1.4


@pytest.mark.slow
def test_a_streamed_tweedie_of_given_power_equals_the_in_memory_fit():
    X, eta = mixed(rows=240_000, seed=9)
    rng = np.random.default_rng(4)
    y = rng.poisson(np.exp(0.4 * eta)) * rng.gamma(2.0, 0.5, len(eta))
    options = {"family": "tweedie", "power": 1.5, "adaptive": False, "knots": "uniform"}
    streamed = GAMRegressor(**options).fit(ArraySource(X, y, piece_rows=100_000,
                                                       chunk_rows=40_000))
    _same_model(streamed, GAMRegressor(**options).fit(X, y))
    assert streamed.predictor_.info["family_parameters"]["power"] == 1.5


def test_prediction_options_are_refused_for_a_dask_collection():
    dd = pytest.importorskip("dask.dataframe")
    X, eta = mixed(rows=2_000)
    model = GAMRegressor().fit(X, eta)
    with pytest.raises(ValueError, match=r"predict of a Dask collection.*return_std"):
        model.predict(dd.from_pandas(X, npartitions=2), return_std=True)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_a_streamed_fit_with_an_offset_equals_the_in_memory_fit(family):
    X, eta = mixed(rows=260_000, seed=11)
    rng = np.random.default_rng(3)
    years = rng.uniform(0.2, 5.0, len(eta))
    X = X.assign(years=years if family == "poisson" else np.log(years))
    if family == "poisson":
        y = rng.poisson(years * np.exp(0.3 * eta)).astype(float)
        make = lambda: GAMRegressor(family="poisson", exposure="years",  # noqa: E731
                                    adaptive=False)
    else:
        y = np.where(rng.random(len(eta)) < 1 / (1 + np.exp(-eta - X["years"])), "yes", "no")
        make = lambda: GAMClassifier(offset="years", adaptive=False)  # noqa: E731
    streamed = make().fit(ArraySource(X, y, piece_rows=90_000, chunk_rows=40_000))
    in_memory = make().fit(X, y)
    _same_model(streamed, in_memory)
    assert "years" not in streamed.term_names_
    np.testing.assert_allclose(streamed.predictor_.info["deviance_explained"],
                               in_memory.predictor_.info["deviance_explained"], rtol=1e-8)
