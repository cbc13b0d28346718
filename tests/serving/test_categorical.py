"""Categorical features, missing values and interactions through POST /invocations.

The model reads text in CSV cells and strings in JSON for its categorical columns, says
which row, column and level it cannot place, and explains each term (a pair is its own
column) so that the explanations still sum to the prediction.
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor, load, save
from sagegam.container.serving.core import ServerSettings, invocations

SETTINGS = ServerSettings()
LEVELS = ["HS Grad", "College", "Advanced, or more"]  # a comma: CSV must quote it


def _data(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, rows), "year": rng.uniform(0, 10, rows),
                          "education": rng.choice(LEVELS, rows)})
    frame.loc[frame.index[:15], "year"] = np.nan  # missing years, learnt in training
    return frame


def _target(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    effect = frame["education"].map(dict(zip(LEVELS, [0.0, 1.0, 2.0], strict=True)))
    eta = np.sin(frame["age"] / 10) + 0.1 * frame["year"].fillna(20) + effect
    return (eta + np.sin(frame["age"] / 10) * effect + rng.normal(0, 0.2, len(frame))).to_numpy()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    frame = _data(1500, 1)
    estimator = GAMRegressor(interactions=[("age", "education")]).fit(
        frame, _target(frame, np.random.default_rng(2)))
    path = tmp_path_factory.mktemp("categorical")
    save(estimator, path)
    return estimator, load(path)


@pytest.fixture(scope="module")
def lenient(tmp_path_factory):
    frame = _data(600, 3)
    estimator = GAMRegressor(handle_unknown="ignore").fit(
        frame, _target(frame, np.random.default_rng(4)))
    path = tmp_path_factory.mktemp("lenient")
    save(estimator, path)
    return estimator, load(path)


def call(predictor, body, content_type, accept="application/json", attributes=None):
    return invocations(predictor, body, content_type, accept, attributes, SETTINGS)


def _document(response):
    assert response.status == 200, response.body
    return orjson.loads(response.body)


ROWS = _data(40, 9).iloc[10:20].reset_index(drop=True)  # five missing years among them


def _csv(frame: pd.DataFrame, header: bool) -> bytes:
    return frame.to_csv(index=False, header=header, na_rep="").encode()


@pytest.mark.parametrize("header", [True, False])
def test_csv_text_cells_predict_what_the_estimator_predicts(model, header):
    estimator, predictor = model
    document = _document(call(predictor, _csv(ROWS, header), "text/csv"))
    np.testing.assert_allclose(document["predictions"], estimator.predict(ROWS), rtol=1e-12)


def test_one_csv_row_with_text_is_data_not_a_header(model):
    estimator, predictor = model
    body = b'42.5,3.0,"Advanced, or more"\n'
    expected = estimator.predict(pd.DataFrame(
        [[42.5, 3.0, "Advanced, or more"]], columns=["age", "year", "education"]))
    np.testing.assert_allclose(_document(call(predictor, body, "text/csv"))["predictions"],
                               expected, rtol=1e-12)


@pytest.mark.parametrize("content_type, encode", [
    ("application/json", lambda f: orjson.dumps(
        {"instances": f.replace({np.nan: None}).to_dict(orient="records")})),
    ("application/json", lambda f: orjson.dumps(
        {"instances": f.replace({np.nan: None}).to_numpy().tolist()})),
    ("application/jsonlines", lambda f: b"\n".join(
        orjson.dumps(r) for r in f.replace({np.nan: None}).to_dict(orient="records"))),
])
def test_json_strings_name_levels_and_null_is_missing(model, content_type, encode):
    estimator, predictor = model
    response = call(predictor, encode(ROWS), content_type, accept=content_type)
    assert response.status == 200, response.body
    lines = [orjson.loads(line) for line in response.body.splitlines()] \
        if content_type == "application/jsonlines" else orjson.loads(response.body)
    values = [line["prediction"] for line in lines] if isinstance(lines, list) else \
        lines["predictions"]
    np.testing.assert_allclose(values, estimator.predict(ROWS), rtol=1e-12)


def test_explanations_have_a_column_per_term_and_sum_to_the_prediction(model):
    _, predictor = model
    document = _document(call(predictor, _csv(ROWS, True), "text/csv", attributes="explain=true"))
    for value, explanation in zip(document["predictions"], document["explanations"],
                                  strict=True):
        assert list(explanation["contributions"]) == ["age", "year", "education",
                                                      "age:education"]
        total = explanation["intercept"] + sum(explanation["contributions"].values())
        assert total == pytest.approx(value, rel=1e-12)


def test_an_unseen_level_is_a_400_naming_row_column_and_level(model):
    _, predictor = model
    body = b"age,year,education\n30,1,College\n31,2,Kindergarten\n"
    response = call(predictor, body, "text/csv")
    assert response.status == 400
    document = orjson.loads(response.body)
    assert document["row"] == 2
    message = document["message"]
    assert message.startswith("Row 2, column 3 (education): 'Kindergarten' is not a level")
    assert "'College'" in message  # the levels it knows


def test_a_numeric_column_with_text_is_a_400_naming_the_cell(model):
    _, predictor = model
    response = call(predictor, b"thirty,1,College\n", "text/csv")
    assert response.status == 400
    assert "Row 1, column 1 (age): 'thirty' is not a number" in orjson.loads(
        response.body)["message"]


def test_npy_cannot_carry_text_levels_and_says_what_to_send(model):
    _, predictor = model
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([[30.0, 1.0, 0.0]]))
    response = call(predictor, buffer.getvalue(), "application/x-npy")
    assert response.status == 400
    assert "send text/csv or JSON" in orjson.loads(response.body)["message"]


def test_ignored_unknowns_get_zero_effect_and_the_answer_says_so(lenient):
    _, predictor = lenient
    body = b"age,year,education\n30,1,College\n31,2,Kindergarten\n"
    response = call(predictor, body, "text/csv", attributes="explain=true")
    document = _document(response)
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "unknown_values=1"
    assert document["warnings"] == ["row 2, column 'education': 'Kindergarten' is unknown to "
                                    "the model and has zero effect"]
    assert document["explanations"][1]["contributions"]["education"] == 0.0
    csv_response = call(predictor, body, "text/csv", accept="text/csv")
    assert csv_response.status == 200
    assert csv_response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "unknown_values=1"


def test_numeric_levels_match_numbers_in_any_format(tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.uniform(0, 1, 400), "grade": rng.integers(1, 4, 400)})
    y = (rng.random(400) < 1 / (1 + np.exp(-(frame["grade"] - 2.0)))).astype(int)
    estimator = GAMClassifier(categorical_features=["grade"]).fit(frame, y)
    save(estimator, tmp_path)
    predictor = load(tmp_path)
    expected = estimator.predict_proba(pd.DataFrame({"x": [0.5, 0.5], "grade": [2, 3]}))[:, 1]
    for body, content_type in ((b"0.5,2\n0.5,3.0\n", "text/csv"),
                               (b"[[0.5, 2], [0.5, 3.0]]", "application/json")):
        document = _document(call(predictor, body, content_type))
        np.testing.assert_allclose(document["predictions"], expected, rtol=1e-12)
