"""Offsets and exposures: a column of X added to the linear predictor with coefficient 1.

Oracles: statsmodels' GLM and discrete NegativeBinomial with the same offset (or
exposure) on the same basis, and the rate model's identity: a Poisson fit of counts ``y``
with exposure ``E`` maximizes the same penalized likelihood as a fit of rates ``y / E``
with weights ``E`` (the two log-likelihoods differ by a constant and have the same
working weights), so REML picks the same smoothness and the predictions agree.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from sagegam import GAMClassifier, GAMRegressor, load, save
from sagegam.model.chunks import ArraySource

N_ROWS = 800


def _rates(seed: int = 0, n: int = N_ROWS) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.uniform(0, 3, n), "exposure": rng.uniform(0.2, 20, n),
                          "dose": rng.uniform(-1, 1, n)})
    rate = np.exp(np.sin(2 * frame["age"]) + 0.4 * frame["dose"] - 1.0)
    return frame, rng.poisson(frame["exposure"] * rate).astype(float)


def test_poisson_exposure_fits_the_rate_model_with_exposure_weights():
    X, y = _rates()
    counts = GAMRegressor(family="poisson", exposure="exposure").fit(X, y)
    features = X[["age", "dose"]]
    rates = GAMRegressor(family="poisson").fit(features, y / X["exposure"],
                                               sample_weight=X["exposure"])
    # Same criterion, optimised to tol 1e-9 from the same start: smoothness and
    # predictions agree to the optimiser's precision, far below their standard errors.
    np.testing.assert_allclose(counts.edf_, rates.edf_, rtol=1e-4)
    np.testing.assert_allclose(counts.predict(X), X["exposure"] * rates.predict(features),
                               rtol=1e-6)
    assert counts.term_names_ == ("age", "dose")
    assert counts.n_features_in_ == 3


def _basis(model, X) -> np.ndarray:
    """The fitted model's own columns (every term, the intercept spanned by the splines)."""
    predictor = model.predictor_
    codes = predictor.encode(np.asarray(X, dtype=float))
    return np.hstack([predictor.term_basis(t, codes) for t in range(len(predictor.terms))])


@pytest.mark.parametrize("family, parameter, reference", [
    ("gaussian", "offset", sm.families.Gaussian()),
    ("poisson", "exposure", sm.families.Poisson()),
    ("gamma", "exposure", sm.families.Gamma(sm.families.links.Log())),
    ("tweedie", "exposure", sm.families.Tweedie(var_power=1.5)),
])
def test_an_unpenalized_fit_is_statsmodels_glm_with_the_same_offset(family, parameter,
                                                                    reference):
    rng = np.random.default_rng(7)
    X, counts = _rates(seed=7)
    mean = X["exposure"] * np.exp(np.sin(2 * X["age"]) - 1.0)
    y = {"gaussian": np.log(X["exposure"]) + np.sin(2 * X["age"]) + rng.normal(0, .3, N_ROWS),
         "poisson": counts,
         "gamma": rng.gamma(2.0, mean / 2.0),
         "tweedie": counts * 0.7}[family]
    column = X["exposure"] if parameter == "exposure" else np.log(X["exposure"])
    data = pd.DataFrame({"age": X["age"], parameter: column, "dose": X["dose"]})
    settings = {"power": 1.5} if family == "tweedie" else {}
    model = GAMRegressor(family=family, df=6, alpha=0.0, adaptive=False, **settings,
                         **{parameter: parameter}).fit(data, y)
    basis = _basis(model, data)
    theirs = sm.GLM(np.asarray(y), basis[:, 1:] if family == "gaussian" else basis,
                    family=reference, offset=np.log(X["exposure"])).fit(tol=1e-13,
                                                                        maxiter=200)
    # The same unpenalized likelihood, but our solver keeps a ridge of 1e-9 of the Gram
    # matrix's mean diagonal (solver.RIDGE), which moves a fit without any penalty by up
    # to the basis' condition number times that: about 1e-6 here.
    np.testing.assert_allclose(model.predict(data), theirs.fittedvalues, rtol=1e-5)


def test_negative_binomial_theta_with_an_exposure_is_statsmodels_maximum_likelihood():
    rng = np.random.default_rng(8)
    X, _ = _rates(seed=8)
    mean = X["exposure"] * np.exp(np.sin(2 * X["age"]) - 1.0)
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mean)).astype(float)
    model = GAMRegressor(family="negative_binomial", df=5, alpha=0.0,
                         exposure="exposure").fit(X, y)
    basis = _basis(model, X)[:, 1:]
    theirs = sm.NegativeBinomial(y, basis, loglike_method="nb2",
                                 exposure=np.asarray(X["exposure"])).fit(
        method="newton", maxiter=200, tol=1e-12, disp=0)
    assert model.theta_ == pytest.approx(1.0 / theirs.params[-1], rel=1e-4)
    np.testing.assert_allclose(model.predict(X), theirs.predict(
        basis, exposure=np.asarray(X["exposure"])), rtol=1e-5)


def test_predictions_scale_with_the_exposure_and_shift_with_the_offset():
    X, y = _rates(seed=1)
    model = GAMRegressor(family="poisson", exposure=1).fit(X.to_numpy(), y)
    doubled = X.to_numpy().copy()
    doubled[:, 1] *= 2
    # log(2 E) = log 2 + log E: the same sum, one rounding apart.
    np.testing.assert_allclose(model.predict(doubled), 2 * model.predict(X.to_numpy()),
                               rtol=1e-13)
    gaussian = GAMRegressor(offset="exposure").fit(X, y)
    shifted = X.assign(exposure=X["exposure"] + 1.5)
    np.testing.assert_allclose(gaussian.predict(shifted), gaussian.predict(X) + 1.5,
                               rtol=0, atol=1e-12 * np.abs(y).max())


def test_an_exposure_column_fits_exactly_as_its_log_given_as_offset():
    X, y = _rates(seed=2)
    by_exposure = GAMRegressor(family="poisson", exposure="exposure").fit(X, y)
    logged = X.assign(exposure=np.log(X["exposure"]))
    by_offset = GAMRegressor(family="poisson", offset="exposure").fit(logged, y)
    # The same codes (np.log of the same numbers): the same arithmetic throughout.
    np.testing.assert_array_equal(by_exposure.coef_, by_offset.coef_)
    np.testing.assert_array_equal(by_exposure.predict(X), by_offset.predict(logged))


def test_rows_that_differ_only_in_exposure_are_not_merged():
    X, y = _rates(seed=3, n=300)
    twice = pd.concat([X, X.assign(exposure=X["exposure"] * 3)], ignore_index=True)
    model = GAMRegressor(family="poisson", exposure="exposure").fit(
        twice, np.concatenate([y, 3 * y]))
    weighted = GAMRegressor(family="poisson", exposure="exposure").fit(
        twice, np.concatenate([y, 3 * y]), sample_weight=np.ones(600))
    np.testing.assert_array_equal(model.coef_, weighted.coef_)
    assert model.predictor_.info["n_obs"] == 600
    # Repeated rows are integer weights, exposure included in what makes rows equal.
    repeated = GAMRegressor(family="poisson", exposure="exposure").fit(
        pd.concat([X, X], ignore_index=True), np.concatenate([y, y]))
    doubled = GAMRegressor(family="poisson", exposure="exposure").fit(
        X, y, sample_weight=np.full(300, 2.0))
    np.testing.assert_allclose(repeated.predict(X), doubled.predict(X), rtol=1e-9)


def test_a_classifier_with_an_offset_adds_it_to_the_log_odds():
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, 1000)
    prior = rng.normal(0, 1, 1000)
    y = rng.random(1000) < 1 / (1 + np.exp(-(np.sin(2 * x) + prior)))
    X = pd.DataFrame({"x": x, "prior": prior})
    model = GAMClassifier(offset="prior").fit(X, y)
    parts = model.intercept_ + model.contributions(X).sum(axis=1) + X["prior"]
    # The same sum, added in another order: a few roundings apart.
    np.testing.assert_allclose(model.decision_function(X), parts, rtol=0, atol=1e-14)
    assert model.contributions(X).shape == (1000, 1)
    assert model.predictor_.part_names == ("x", "(offset)")


@pytest.mark.parametrize("family, make", [
    ("binomial", lambda rng, eta: rng.random(len(eta)) < 1 / (1 + np.exp(-eta))),
    ("poisson", lambda rng, eta: rng.poisson(np.exp(eta))),
    ("gaussian", lambda rng, eta: eta + rng.normal(0, 1, len(eta))),
    ("gamma", lambda rng, eta: rng.gamma(2.0, np.exp(eta) / 2.0)),
])
def test_the_null_deviance_is_the_intercept_and_offset_model(family, make):
    rng = np.random.default_rng(16)
    X = pd.DataFrame({"x": rng.uniform(-2, 2, 600), "shift": rng.normal(0, 1, 600)})
    y = make(rng, np.sin(X["x"]) + X["shift"]).astype(float)
    model = (GAMClassifier(offset="shift") if family == "binomial" else
             GAMRegressor(family=family, offset="shift")).fit(X, y)
    reference = {"binomial": sm.families.Binomial(), "poisson": sm.families.Poisson(),
                 "gaussian": sm.families.Gaussian(),
                 "gamma": sm.families.Gamma(sm.families.links.Log())}[family]
    null = sm.GLM(y, np.ones((600, 1)), family=reference, offset=X["shift"]).fit(tol=1e-13)
    # Deviance explained is measured against the model of the offset and an intercept,
    # as mgcv and glm measure it; both solve that one-parameter model to rounding.
    assert model.predictor_.info["null_deviance"] == pytest.approx(null.deviance, rel=1e-9)


def test_the_artifact_keeps_the_exposure_and_says_format_4(tmp_path):
    X, y = _rates(seed=5)
    model = GAMRegressor(family="poisson", exposure="exposure").fit(X, y)
    save(model, tmp_path / "rates")
    predictor = load(tmp_path / "rates")
    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
    assert predictor.schema.offsets == {1: "exposure"}
    metadata = (tmp_path / "rates" / "sagegam-model.json").read_text()
    assert '"format_version": 4' in metadata
    save(GAMRegressor(family="poisson").fit(X, y), tmp_path / "plain")
    assert '"format_version": 2' in (tmp_path / "plain" / "sagegam-model.json").read_text()


def test_summary_names_the_exposure():
    X, y = _rates(seed=6)
    text = GAMRegressor(family="poisson", exposure="exposure").fit(X, y).summary()
    assert "exposure exposure (its log is added to the linear predictor" in text


def test_automatic_interactions_never_pair_the_offset():
    rng = np.random.default_rng(9)
    X = pd.DataFrame({"a": rng.uniform(-1, 1, 2000), "b": rng.uniform(-1, 1, 2000),
                      "shift": rng.uniform(-1, 1, 2000)})
    y = np.sin(3 * X["a"]) * X["b"] * 2 + X["shift"] + rng.normal(0, .1, 2000)
    model = GAMRegressor(offset="shift", interactions="auto").fit(X, y)
    assert model.term_names_ == ("a", "b", "a:b")


@pytest.mark.parametrize("value, where", [(0.0, "'0' is not a positive, finite number"),
                                          (-2.0, "'-2' is not a positive"),
                                          (np.nan, "a missing value is not a positive")])
def test_a_bad_exposure_names_row_and_column_in_fit_and_predict(value, where):
    X, y = _rates(seed=10, n=200)
    bad = X.copy()
    bad.loc[6, "exposure"] = value
    with pytest.raises(ValueError, match=rf"Row 7, column 'exposure': {where}"):
        GAMRegressor(family="poisson", exposure="exposure").fit(bad, y)
    model = GAMRegressor(family="poisson", exposure="exposure").fit(X, y)
    with pytest.raises(ValueError, match=rf"Row 7, column 'exposure': {where}"):
        model.predict(bad)


def test_a_loaded_model_names_an_infinite_exposure(tmp_path):
    X, y = _rates(seed=10, n=200)
    save(GAMRegressor(family="poisson", exposure="exposure").fit(X, y), tmp_path)
    rows = X.to_numpy().copy()
    rows[4, 1] = np.inf
    with pytest.raises(ValueError, match="Row 5, column 'exposure': 'inf' is not a positive, "
                                         "finite number"):
        load(tmp_path).predict(rows)


def test_a_missing_offset_is_refused_even_when_unknown_values_are_ignored():
    X, y = _rates(seed=11, n=200)
    model = GAMRegressor(offset="exposure", handle_unknown="ignore").fit(X, y)
    bad = X.copy()
    bad.loc[3, "exposure"] = np.nan
    with pytest.raises(ValueError, match="Row 4, column 'exposure': a missing value is not a "
                                         "finite number"):
        model.predict(bad)


@pytest.mark.parametrize("make, words", [
    (lambda: GAMRegressor(exposure="exposure"),
     "exposure multiplies the expected response, which needs a log link, and "
     "family='gaussian' has the identity link"),
    (lambda: GAMClassifier(exposure="exposure"), "family='binomial' has the logit link"),
    (lambda: GAMRegressor(offset="weight"), "offset='weight' is not a column of X"),
    (lambda: GAMRegressor(offset=7), r"offset=7; name a column of X by its name or its "
                                     r"0-based index in \[0, 3\)"),
    (lambda: GAMRegressor(family="poisson", offset="exposure", exposure=1),
     "offset and exposure both name column 'exposure'"),
    (lambda: GAMRegressor(family="poisson", exposure="exposure",
                          monotonic_cst={"exposure": 1}),
     "monotonic_cst names 'exposure', the model's exposure, which enters with coefficient 1"),
    (lambda: GAMRegressor(family="poisson", exposure="exposure", df={"exposure": 8}),
     "df names 'exposure'"),
    (lambda: GAMRegressor(family="poisson", exposure="exposure", alpha=[1.0, 1.0, 1.0]),
     "alpha names 'exposure'"),
    (lambda: GAMRegressor(family="poisson", exposure="exposure",
                          categorical_features=["exposure"]),
     "categorical_features names 'exposure'"),
    (lambda: GAMRegressor(family="poisson", exposure="exposure",
                          interactions=[("age", "exposure")]),
     "'exposure' is the model's exposure, which enters with coefficient 1 and has no term "
     "to pair"),
])
def test_settings_that_cannot_hold_are_refused_in_one_sentence(make, words):
    X, y = _rates(seed=12, n=200)
    target = (y > 2) if isinstance(make(), GAMClassifier) else y
    with pytest.raises(ValueError, match=words):
        make().fit(X, target)


def test_an_offset_as_the_only_column_is_refused():
    X, y = _rates(seed=13, n=100)
    with pytest.raises(ValueError, match="X's only column is the exposure; a GAM needs at "
                                         "least one feature besides"):
        GAMRegressor(family="poisson", exposure=0).fit(X[["exposure"]], y)


def test_a_small_chunk_source_with_an_exposure_is_fitted_as_in_memory():
    X, y = _rates(seed=14, n=1_000)
    # Up to 200,000 rows a source is gathered and fitted in memory; larger ones are
    # fitted in passes (tests/scale/test_streaming.py, test_dask_cluster.py).
    chunked = GAMRegressor(family="poisson", exposure=1).fit(
        ArraySource(X.to_numpy(), y, piece_rows=400, chunk_rows=150))
    whole = GAMRegressor(family="poisson", exposure=1).fit(X.to_numpy(), y)
    np.testing.assert_array_equal(chunked.coef_, whole.coef_)


def test_the_text_of_a_frame_offset_is_a_number_error():
    X, y = _rates(seed=15, n=100)
    text = X.astype({"exposure": object})
    text.loc[2, "exposure"] = "two"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="Row 3, column 'exposure': 'two' is not a number"):
            GAMRegressor(family="poisson", exposure="exposure").fit(text, y)
