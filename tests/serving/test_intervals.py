"""Standard errors and intervals served on request, over a real `serve` process, against
the in-process estimator's predict_interval on the same rows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor, save
from tests.serving.conftest import Server, csv_body, feature_frame, npy_body

# The server loads the saved coefficients and covariance bit for bit and runs the same
# arithmetic on the same rows; only the row batching differs (one row against seven), so
# the figures agree to rounding, whatever the CPU.
RTOL = 1e-12


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> GAMRegressor:
    """A Poisson model: a log link, so the response-scale interval is not symmetric."""
    X = feature_frame(600, 11)
    y = np.random.default_rng(12).poisson(np.exp(1 + np.sin(3 * X["age"]) + X["dose"]))
    return GAMRegressor(family="poisson").fit(X, y)


@pytest.fixture(scope="module")
def churn() -> GAMClassifier:
    X = feature_frame(800, 13)
    p = 1 / (1 + np.exp(-4 * (X["age"] - 0.5)))
    return GAMClassifier().fit(X, np.where(np.random.default_rng(14).random(800) < p,
                                           "churn", "stay"))


def _serve(model: GAMRegressor | GAMClassifier, path: Path) -> Iterator[Server]:
    save(model, path)
    running = Server(path, workers=1)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def counts_server(counts: GAMRegressor, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Server]:
    yield from _serve(counts, tmp_path_factory.mktemp("counts"))


@pytest.fixture(scope="module")
def churn_server(churn: GAMClassifier, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Server]:
    yield from _serve(churn, tmp_path_factory.mktemp("churn"))


@pytest.fixture()
def frame() -> pd.DataFrame:
    return feature_frame(7, 15)


def _columns(response: httpx.Response) -> np.ndarray:
    """Prediction, std, lower, upper as the columns of a CSV or npy answer."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"] == "application/x-npy":
        return np.load(io.BytesIO(response.content), allow_pickle=False)
    return np.loadtxt(io.StringIO(response.text), delimiter=",", ndmin=2)


def _expected(model: GAMRegressor | GAMClassifier, frame: pd.DataFrame,
              level: float) -> np.ndarray:
    interval = model.predict_interval(frame, level)
    return np.column_stack([interval.mean, interval.std, interval.lower, interval.upper])


@pytest.mark.parametrize("accept", ["text/csv", "application/x-npy"])
def test_csv_and_npy_answers_carry_std_lower_and_upper_columns_after_the_prediction(
        counts_server, counts, frame, accept):
    answer = counts_server.post(csv_body(frame), "text/csv", accept, "std=true,interval=0.9")
    np.testing.assert_allclose(_columns(answer), _expected(counts, frame, 0.9), rtol=RTOL)


def test_json_answers_carry_level_std_lower_and_upper_beside_the_predictions(
        counts_server, counts, frame):
    body = orjson.dumps({"instances": frame.to_dict("records")})
    answer = counts_server.post(body, "application/json", "application/json",
                   "interval=0.8, std=true")
    document = answer.json()
    assert document["level"] == 0.8
    found = np.column_stack([document[key] for key in ("predictions", "std", "lower",
                                                       "upper")])
    np.testing.assert_allclose(found, _expected(counts, frame, 0.8), rtol=RTOL)


def test_json_lines_records_carry_std_lower_and_upper(counts_server, counts, frame):
    body = b"".join(orjson.dumps(row) + b"\n" for row in frame.to_numpy().tolist())
    answer = counts_server.post(body, "application/jsonlines", "application/jsonlines",
                   "std=true,interval=0.95")
    records = [orjson.loads(line) for line in answer.content.splitlines()]
    found = np.array([[r["prediction"], r["std"], r["lower"], r["upper"]] for r in records])
    np.testing.assert_allclose(found, _expected(counts, frame, 0.95), rtol=RTOL)


def test_accept_parameters_ask_for_an_interval_alone_and_explanations_follow_it(
        counts_server, counts, frame):
    answer = counts_server.post(csv_body(frame), "text/csv",
                   "text/csv; interval=0.5; explain=true")
    found = _columns(answer)
    expected = _expected(counts, frame, 0.5)[:, [0, 2, 3]]
    np.testing.assert_allclose(found[:, :3], expected, rtol=RTOL)
    # Then the intercept and the terms, which sum to the linear predictor.
    assert found.shape[1] == 3 + 1 + len(counts.term_names_)
    np.testing.assert_allclose(np.exp(found[:, 3:].sum(axis=1)), found[:, 0], rtol=1e-12)
    assert np.all((found[:, 1] < found[:, 0]) & (found[:, 0] < found[:, 2]))


@pytest.mark.parametrize("content_type, encode", [
    ("text/csv", lambda row: ",".join(map(repr, row)).encode()),
    ("application/json", lambda row: orjson.dumps([row])),
    ("application/x-npy", lambda row: npy_body(np.array([row]))),
])
def test_one_row_bodies_get_the_same_std_and_interval_as_many_rows(
        counts_server, counts, frame, content_type, encode):
    """A single row of numbers is answered by the one-row path; the figures are the same."""
    expected = _expected(counts, frame, 0.9)
    for index, row in enumerate(frame.to_numpy().tolist()[:3]):
        answer = counts_server.post(encode(row), content_type, "text/csv",
                       "std=true,interval=0.9")
        np.testing.assert_allclose(_columns(answer)[0], expected[index], rtol=RTOL)


def test_a_classifier_serves_probability_intervals_within_zero_and_one(
        churn_server, churn, frame):
    answer = churn_server.post(csv_body(frame), "text/csv", "text/csv", "std=true,interval=0.99")
    found = _columns(answer)
    np.testing.assert_allclose(found, _expected(churn, frame, 0.99), rtol=RTOL)
    assert np.all((found[:, 2] > 0) & (found[:, 3] < 1))


def test_without_options_the_answer_has_no_uncertainty(counts_server):
    document = counts_server.post(b"0.5,0.5,0.5\n", "text/csv", "application/json").json()
    assert set(document) == {"predictions"}


@pytest.mark.parametrize("attributes, words", [
    ("interval=95", "interval='95' is not a level between 0 and 1"),
    ("interval=0", "interval='0' is not a level between 0 and 1"),
    ("interval=1", "interval='1' is not a level between 0 and 1"),
    ("interval=wide", "interval='wide' is not a level between 0 and 1"),
    ("interval=nan", "interval='nan' is not a level between 0 and 1"),
    ("std=maybe", "std='maybe'; use std=true or std=false."),
])
def test_a_bad_level_or_flag_is_a_400_in_one_sentence(counts_server, attributes, words):
    answer = counts_server.post(b"0.5,0.5,0.5\n", "text/csv", "text/csv", attributes)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert answer.json()["message"].startswith(words)


def test_labels_have_no_interval_and_say_so(churn_server):
    answer = churn_server.post(b"0.5,0.5,0.5\n", "text/csv", "text/csv",
                   "output=label,interval=0.9")
    assert answer.status_code == 400
    assert answer.json()["message"] == ("std and interval describe a probability, not a "
                                        "label; ask for them without output=label.")


def test_batch_transform_asks_through_the_accept_parameters(counts, tmp_path, monkeypatch):
    """Batch transform carries no custom attributes; its Accept reaches the server whole."""
    from sagegam.local import transform

    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path / "home"))
    save(counts, tmp_path / "model")
    frame = feature_frame(300, 16)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_bytes(csv_body(frame))
    transform.run_transform(transform.TransformSpec(
        "uncertain", tmp_path / "model", [tmp_path / "in"], tmp_path / "out",
        accept="text/csv; std=true; interval=0.9", max_payload_mb=0.01))
    found = np.loadtxt(tmp_path / "out" / "rows.csv.out", delimiter=",")
    np.testing.assert_allclose(found, _expected(counts, frame, 0.9), rtol=RTOL)
