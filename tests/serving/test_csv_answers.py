"""CSV answers: every number as ``repr`` writes it, whichever path formats the column."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sagegam import GAMRegressor
from sagegam.container.serving.core import ServerSettings, invocations
from sagegam.container.serving.encoders import VECTORIZED_ROWS, Output, encode_csv

EDGES = [0.0, -0.0, 1e-4, -1e-4, np.nextafter(1e-4, 0), 5e-5, 1e-5, 1.5e-7, 5e-324, 1e16,
         np.nextafter(1e16, 0), 1.7976931348623157e308, np.nan, np.inf, -np.inf, 0.1, 1 / 3]


def _repr_lines(rows: list[list[float]]) -> bytes:
    return "".join(",".join(map(repr, row)) + "\n" for row in rows).encode()


def _random_doubles(seed: int, n: int) -> np.ndarray:
    """Any bit pattern: every exponent, subnormals, nan and inf among them."""
    bits = np.random.default_rng(seed).integers(0, 2**64, n, dtype=np.uint64)
    return bits.view(np.float64)


@pytest.mark.parametrize("n", [1, VECTORIZED_ROWS - 1, VECTORIZED_ROWS, 50_000])
def test_a_column_of_any_doubles_is_written_as_repr(n):
    values = np.concatenate([EDGES, _random_doubles(n, n)])[:max(n, len(EDGES))]
    assert encode_csv(Output(values)) == _repr_lines([[v] for v in values.tolist()])


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.integers(VECTORIZED_ROWS, 2 * VECTORIZED_ROWS)))
def test_hypothesis_doubles_are_written_as_repr(values):
    assert encode_csv(Output(values)) == _repr_lines([[v] for v in values.tolist()])


def test_explanations_are_rows_of_repr(n=3_000):
    values = _random_doubles(1, n)
    contributions = np.column_stack([_random_doubles(2, n), np.resize(EDGES, n)])
    output = Output(values, 0.125, contributions, ("s(x0)", "s(x1)"))
    rows = [[v, 0.125, *c] for v, c in zip(values.tolist(), contributions.tolist(), strict=True)]
    assert encode_csv(output) == _repr_lines(rows)


def test_a_batch_answer_in_csv_reads_as_the_json_answer():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(3_000, 2))
    predictor = GAMRegressor(df=6).fit(X, X[:, 0] ** 3 + np.sin(X[:, 1])).predictor_
    body = "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()).encode()
    settings_ = ServerSettings.from_environment({"SAGEMAKER_BATCH": "true"})
    as_csv = invocations(predictor, body, "text/csv", "text/csv", None, settings_)
    as_json = invocations(predictor, body, "text/csv", "application/json", None, settings_)
    predictions = orjson.loads(as_json.body)["predictions"]
    assert as_csv.status == as_json.status == 200
    assert as_csv.body == _repr_lines([[p] for p in predictions])


@pytest.mark.parametrize("rows", [VECTORIZED_ROWS - 1, 3_000])
def test_standard_errors_intervals_and_explanations_keep_their_columns(rows):
    # Whichever path formats it, a CSV answer carries prediction, std, lower, upper,
    # intercept and contributions, each as the JSON answer gives it.
    rng = np.random.default_rng(4)
    X = rng.uniform(-2, 2, size=(rows, 2))
    predictor = GAMRegressor(df=6).fit(X, X[:, 0] ** 3 + np.sin(X[:, 1])).predictor_
    body = "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()).encode()
    settings_ = ServerSettings.from_environment({"SAGEMAKER_BATCH": "true"})
    asked = "std=true,interval=0.9,explain=true"
    as_csv = invocations(predictor, body, "text/csv", "text/csv", asked, settings_)
    as_json = orjson.loads(invocations(predictor, body, "text/csv", "application/json",
                                       asked, settings_).body)
    expected = [[p, s, lo, hi, e["intercept"], *e["contributions"].values()]
                for p, s, lo, hi, e in zip(as_json["predictions"], as_json["std"],
                                           as_json["lower"], as_json["upper"],
                                           as_json["explanations"], strict=True)]
    assert as_csv.status == 200
    assert as_csv.body == _repr_lines(expected)
