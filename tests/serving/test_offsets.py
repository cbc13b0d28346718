"""A rate model served: the exposure column read from every request, over a real `serve`
process, against the in-process estimator on the same rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson
import pandas as pd
import pytest

from sagegam import GAMRegressor, save
from tests.serving.conftest import Server, csv_body, npy_body

# The server loads the saved coefficients bit for bit and runs the same arithmetic on
# the same rows; only the batching differs, so the figures agree to rounding.
RTOL = 1e-12


def _claims(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.uniform(18, 80, rows), "years": rng.uniform(0.1, 5, rows),
                         "power": rng.uniform(50, 200, rows)})


@pytest.fixture(scope="module")
def rates() -> GAMRegressor:
    X = _claims(800, 21)
    mean = X["years"] * np.exp(np.sin(X["age"] / 12) + X["power"] / 200 - 1)
    y = np.random.default_rng(22).poisson(mean)
    return GAMRegressor(family="poisson", exposure="years").fit(X, y)


@pytest.fixture(scope="module")
def server(rates: GAMRegressor, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("rates")
    save(rates, path)
    running = Server(path, workers=1)
    yield running
    running.stop()


@pytest.mark.parametrize("content_type, encode", [
    ("text/csv", csv_body),
    ("application/x-npy", lambda frame: npy_body(frame.to_numpy())),
    ("application/json", lambda frame: orjson.dumps({"instances": frame.to_dict("records")})),
])
def test_every_content_type_reads_the_exposure_from_each_row(server, rates, content_type,
                                                             encode):
    frame = _claims(9, 23)
    answer = server.post(encode(frame), content_type)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["predictions"], rates.predict(frame), rtol=RTOL)


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_a_one_row_request_scales_with_its_exposure(server, rates, content_type):
    row = _claims(1, 24)
    doubled = row.assign(years=row["years"] * 2)
    found = []
    for frame in (row, doubled):
        body = csv_body(frame) if content_type == "text/csv" else orjson.dumps(
            frame.to_numpy()[0].tolist())
        answer = server.post(body, content_type)
        assert answer.status_code == 200, answer.text
        found.append(answer.json()["predictions"][0])
    np.testing.assert_allclose(found[0], rates.predict(row)[0], rtol=RTOL)
    np.testing.assert_allclose(found[1], 2 * found[0], rtol=1e-13)


def test_named_columns_in_another_order_find_the_exposure_by_name(server, rates):
    frame = _claims(4, 25)
    body = orjson.dumps({"instances": frame[["power", "years", "age"]].to_dict("records")})
    answer = server.post(body, "application/json")
    np.testing.assert_allclose(answer.json()["predictions"], rates.predict(frame), rtol=RTOL)


def test_explanations_carry_the_offset_as_a_part_of_its_own(server, rates):
    frame = _claims(5, 26)
    answer = server.post(csv_body(frame), "text/csv", "application/json", "explain=true")
    explanations = answer.json()["explanations"]
    for explanation, years, mean in zip(explanations, frame["years"], rates.predict(frame),
                                        strict=True):
        parts = explanation["contributions"]
        assert list(parts) == ["age", "power", "(offset)"]
        assert parts["(offset)"] == pytest.approx(np.log(years), rel=1e-15)
        total = explanation["intercept"] + sum(parts.values())
        assert np.exp(total) == pytest.approx(mean, rel=1e-12)


def test_intervals_include_the_offset(server, rates):
    frame = _claims(6, 27)
    answer = server.post(csv_body(frame), "text/csv", "application/json",
                   "std=true,interval=0.9")
    interval = rates.predict_interval(frame, 0.9)
    document = answer.json()
    np.testing.assert_allclose(document["lower"], interval.lower, rtol=RTOL)
    np.testing.assert_allclose(document["upper"], interval.upper, rtol=RTOL)
    assert np.all(np.array(document["lower"]) < rates.predict(frame))


@pytest.mark.parametrize("value, words", [
    ("0", "'0' is not a positive, finite number"),
    ("-1.5", "'-1.5' is not a positive, finite number"),
    ("", "a missing value is not a positive, finite number"),
])
def test_a_bad_exposure_is_a_400_naming_row_and_column(server, value, words):
    body = b"40,2.0,120\n" + f"41,{value},130\n".encode()
    answer = server.post(body, "text/csv")
    assert answer.status_code == 400
    assert f"Row 2, column 2 (years): {words}" in answer.json()["message"]
