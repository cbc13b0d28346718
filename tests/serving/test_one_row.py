"""One-row requests: the quick readers and the plain-Python spline answer exactly what the
general path answers for the same row, and leave everything unusual to it."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from sagegam import GAMRegressor
from tests.serving.test_protocol import call, npy

# Both paths do the same IEEE operations per spline; only the order of a 4-term sum may
# differ between CPUs, so they agree to a few units in the last place of the term values.
RTOL, ATOL = 1e-13, 1e-13


def body_of(rows, content_type: str) -> bytes:
    if content_type == "text/csv":
        return b"".join(b",".join(repr(float(v)).encode() for v in row) + b"\n"
                        for row in rows)
    if content_type == "application/json":
        return orjson.dumps({"instances": [list(map(float, row)) for row in rows]})
    return npy(np.asarray(rows, dtype=np.float64))


def first_prediction(response) -> float:
    assert response.status == 200, response.body
    return orjson.loads(response.body)["predictions"][0]


@pytest.mark.parametrize("content_type", ["text/csv", "application/json", "application/x-npy"])
def test_a_row_alone_is_answered_as_in_a_batch(regressor, content_type):
    rng = np.random.default_rng(11)
    # Inside the range, on its edges, and beyond it (linear extrapolation, general path).
    rows = np.vstack([rng.uniform(0, 1, size=(40, 3)), [[0, 0, 0], [1, 1, 1]],
                      rng.uniform(-0.5, 1.5, size=(20, 3))])
    for row in rows:
        alone = first_prediction(call(regressor, body_of([row], content_type), content_type))
        # Two rows never take the one-row path: the general decoders and numpy's bases.
        batch = first_prediction(call(regressor, body_of([row, row], content_type),
                                      content_type))
        assert alone == pytest.approx(batch, rel=RTOL, abs=ATOL)
        assert alone == pytest.approx(float(regressor.predict(row[None, :])[0]), rel=RTOL,
                                      abs=ATOL)


def test_explanations_and_labels_of_one_row_are_as_in_a_batch(regressor, classifier):
    row = [0.2, 0.4, 0.9]
    accept = "application/jsonlines;explain=true"  # one line per row
    alone = call(regressor, body_of([row], "text/csv"), "text/csv", accept)
    batch = call(regressor, body_of([row, row], "text/csv"), "text/csv", accept)
    assert alone.status == batch.status == 200
    one, first = orjson.loads(alone.body.splitlines()[0]), orjson.loads(
        batch.body.splitlines()[0])
    assert one.keys() == first.keys() and len(_numbers(one)) > 3
    np.testing.assert_allclose(_numbers(one), _numbers(first), rtol=RTOL, atol=ATOL)
    label = call(classifier, b"0.9,0.5,0.5", "text/csv", None, "output=label")
    labels = call(classifier, b"0.9,0.5,0.5\n0.9,0.5,0.5", "text/csv", None, "output=label")
    assert orjson.loads(label.body)["predictions"] == \
        orjson.loads(labels.body)["predictions"][:1]


def _numbers(value) -> list[float]:
    if isinstance(value, (bool, str)):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    items = value.values() if isinstance(value, dict) else value
    return [number for item in items for number in _numbers(item)]


@pytest.mark.parametrize("body, fragment", [
    (b"0.1,,0.3", b"Row 1, column 2"),    # a missing cell: the general path names it
    (b"0.1,abc,0.3", b"abc"),
    (b"0.1,0.2", b"3 features"),
    (b"0.1,0.2,0.3,0.4", b"3 features"),
    (b"0.1,1e999,0.3", b"finite"),
    (b"age,dose,weight", b"no rows"),       # a header alone
])
def test_what_the_quick_reader_leaves_gets_the_general_paths_answer(regressor, body, fragment):
    response = call(regressor, body, "text/csv")
    assert response.status == 400
    assert fragment in response.body


def test_numbers_the_csv_module_reads_differently_are_left_to_it(regressor):
    # float() accepts "1_0" and " nan "; the general path decides what they mean.
    for body in (b"0.1,0.2,1_0", b"0.1,0.2, nan ", b'"0.1",0.2,0.3'):
        quick_or_not = call(regressor, body, "text/csv")
        general = call(regressor, body + b"\n" + body, "text/csv")
        assert quick_or_not.status == general.status
        if general.status == 200:
            assert first_prediction(quick_or_not) == pytest.approx(
                first_prediction(general), rel=RTOL, abs=ATOL)


def test_a_model_whose_feature_names_are_numbers_still_finds_its_header():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.uniform(size=(300, 2)), columns=["1", "2"])
    model = GAMRegressor().fit(X, X["1"] + X["2"]).predictor_
    response = call(model, b"1,2", "text/csv")  # the header, not a row of data
    assert response.status == 400 and b"no rows" in response.body


def test_json_booleans_and_named_records_are_not_numbers_here(regressor):
    assert call(regressor, b"[[true, 0.2, 0.3]]", "application/json").status == 400
    named = call(regressor, b'{"instances": [{"weight": 0.3, "age": 0.1, "dose": 0.2}]}',
                 "application/json")
    positional = call(regressor, b"[[0.1, 0.2, 0.3]]", "application/json")
    assert first_prediction(named) == first_prediction(positional)


def _served(model, tmp_path):
    from sagegam import load, save

    save(model, tmp_path)
    return load(tmp_path)


@pytest.mark.parametrize("kind", ["uneven_knots", "tweedie_monotone"])
def test_models_of_issue_11_answer_one_row_as_in_a_batch(kind, tmp_path):
    rng = np.random.default_rng(21)
    X = pd.DataFrame({"age": rng.uniform(0, 1, 600), "dose": rng.lognormal(0, 1.5, 600),
                      "weight": rng.uniform(0, 1, 600)})
    eta = np.sin(3 * X["age"]) + 0.3 * np.log1p(X["dose"]) + X["weight"]
    if kind == "uneven_knots":  # knots at quantiles of a skewed feature: not evenly spaced
        model = GAMRegressor(knots="quantile").fit(X, eta + rng.normal(0, 0.1, 600))
    else:  # a Tweedie fit whose coefficients come from monotone increments
        y = rng.poisson(np.exp(eta - 1.0)) * rng.gamma(2.0, 0.5, 600)
        model = GAMRegressor(family="tweedie", power=1.5, monotonic_cst=[0, 1, 0],
                             knots="uniform").fit(X, y)
    predictor = _served(model, tmp_path)
    rows = np.column_stack([rng.uniform(0, 1, 30), rng.uniform(X["dose"].min(),
                                                               X["dose"].max(), 30),
                            rng.uniform(0, 1, 30)])
    quick = [predictor.contributions_of_row(list(row)) is not None for row in rows]
    # Data-placed knots need their own basis: the general path answers. Evenly spaced
    # knots (the monotone increments are mapped back to plain coefficients) go quickly.
    assert not any(quick) if kind == "uneven_knots" else all(quick)
    for row in rows:
        alone = first_prediction(call(predictor, body_of([row], "text/csv"), "text/csv"))
        batch = first_prediction(call(predictor, body_of([row, row], "text/csv"),
                                      "text/csv"))
        assert alone == pytest.approx(batch, rel=RTOL, abs=ATOL)
        assert alone == pytest.approx(float(model.predict(pd.DataFrame(
            row[None, :], columns=X.columns))[0]), rel=RTOL, abs=ATOL)
