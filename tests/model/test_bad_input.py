"""Bad input gets a clear error, or a documented and tested behaviour."""

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor


@pytest.fixture()
def data():
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, size=(300, 2))
    return X, np.sin(4 * X[:, 0]) + rng.normal(0, 0.1, 300)


def test_infinite_features_are_refused(data):
    X, y = data
    X[7, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        GAMRegressor().fit(X, y)


def test_missing_values_seen_in_training_get_an_effect_of_their_own(data):
    X, y = data
    X[:40, 1] = np.nan
    y = y.copy()
    y[:40] += 3.0  # missingness that carries information
    model = GAMRegressor().fit(X, y)
    effect = model.contributions(np.array([[0.5, np.nan], [0.5, 0.5]]))[:, 1]
    assert effect[0] - effect[1] == pytest.approx(3.0, abs=0.2)
    assert "+ missing" in model.summary()


def test_a_missing_value_unseen_in_training_is_refused_or_ignored_as_asked(data):
    X, y = data
    with pytest.raises(ValueError, match=r"Row 2, column 'x1': the value is missing"):
        GAMRegressor().fit(X, y).predict(np.array([[0.5, 0.5], [0.5, np.nan]]))
    model = GAMRegressor(handle_unknown="ignore").fit(X, y)
    with pytest.warns(UserWarning, match="zero effect"):
        effect = model.contributions(np.array([[0.5, np.nan]]))
    assert effect[0, 1] == 0.0


def test_a_missing_target_is_refused(data):
    X, y = data
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GAMRegressor().fit(X, y)


def test_text_columns_are_categorical_unless_declared_otherwise(data):
    X, y = data
    frame = pd.DataFrame({"a": X[:, 0], "city": ["Oslo"] * 299 + ["Rome"]})
    assert GAMRegressor().fit(frame, y).term_names_ == ("a", "city")
    with pytest.raises(ValueError, match=r"Oslo|string|float"):
        GAMRegressor(categorical_features=None).fit(frame, y)


def test_a_constant_feature_contributes_nothing(data):
    X, y = data
    X = np.column_stack([X, np.full(300, 4.2)])
    model = GAMRegressor().fit(X, y)
    assert np.all(model.contributions(X)[:, 2] == 0)
    assert model.edf_[2] == 0 and "constant in training" in model.summary()


def test_a_feature_with_few_values_gets_a_smaller_basis(data):
    X, y = data
    X[:, 1] = np.round(X[:, 1])  # two distinct values
    y = y + 2 * X[:, 1]
    model = GAMRegressor().fit(X, y)
    effect = model.contributions(np.array([[0.5, 1.0], [0.5, 0.0]]))[:, 1]
    assert model.predictor_.terms[1].margin.n_basis == 4
    assert effect[0] - effect[1] == pytest.approx(2.0, abs=0.1)


def test_a_target_with_three_classes_is_refused():
    X = np.random.default_rng(0).uniform(size=(30, 2))
    with pytest.raises(ValueError, match=r"Only binary classification.*got 3"):
        GAMClassifier().fit(X, np.arange(30) % 3)


def test_a_continuous_target_is_refused_by_the_classifier():
    X = np.random.default_rng(0).uniform(size=(30, 2))
    with pytest.raises(ValueError, match="Unknown label type"):
        GAMClassifier().fit(X, np.linspace(0, 1, 30))


def test_wrong_column_count_at_predict_time_says_what_was_expected(data):
    X, y = data
    model = GAMRegressor().fit(X, y)
    with pytest.raises(ValueError, match=r"3 features.*expecting 2"):
        model.predict(np.zeros((4, 3)))


def test_outside_the_training_range_the_default_extrapolates_linearly(data):
    X, y = data
    model = GAMRegressor().fit(X, y)
    top, h = X[:, 0].max(), 1e-6
    inside, edge, beyond, further = model.predict(
        np.array([[top - h, 0.5], [top, 0.5], [top + 0.1, 0.5], [top + 0.2, 0.5]]))
    # A straight line beyond the range, along the curve's tangent at the boundary.
    assert further - beyond == pytest.approx(beyond - edge, rel=1e-9)
    assert (beyond - edge) / 0.1 == pytest.approx((edge - inside) / h, rel=1e-4)


def test_constant_extrapolation_clips_to_the_boundary(data):
    X, y = data
    model = GAMRegressor(extrapolation="constant").fit(X, y)
    edge, far = model.predict(np.array([[X[:, 0].max(), 0.5], [9.0, 0.5]]))
    assert far == edge


def test_error_extrapolation_refuses_with_row_and_feature(data):
    X, y = data
    model = GAMRegressor(extrapolation="error").fit(pd.DataFrame(X, columns=["a", "b"]), y)
    rows = pd.DataFrame([[0.5, 0.5], [0.5, 7.0]], columns=["a", "b"])
    with pytest.raises(ValueError, match=r"Feature 1 \(b\) of row 1 is 7\.0"):
        model.predict(rows)


def test_poisson_refuses_negative_counts(data):
    X, _ = data
    with pytest.raises(ValueError, match="non-negative counts"):
        GAMRegressor(family="poisson").fit(X, -np.ones(300))


def test_invalid_hyperparameters_use_the_scikit_learn_template(data):
    X, y = data
    with pytest.raises(ValueError, match="The 'df' parameter of GAMRegressor must be"):
        GAMRegressor(df=2).fit(X, y)
    with pytest.raises(ValueError, match="df=4 must exceed degree=4"):
        GAMRegressor(df=4, degree=4).fit(X, y)
    with pytest.raises(ValueError, match="alpha has 3 values but X has 2 features"):
        GAMRegressor(alpha=[1, 2, 3]).fit(X, y)
