"""CSV bodies through the core: quoting, header modes and batch transform's rule."""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor
from sagegam.container.serving.core import ServerSettings, invocations

BATCH = ServerSettings.from_environment({"SAGEMAKER_BATCH": "true"})
REAL_TIME = ServerSettings()


def call(predictor, body: bytes, settings=REAL_TIME, accept=None, attributes=None):
    return invocations(predictor, body, "text/csv", accept, attributes, settings)


@pytest.fixture(scope="module")
def quoted_names():
    """A regressor whose feature names need CSV quoting."""
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.uniform(size=(200, 2)), columns=["x,1", 'say "hi"'])
    y = X["x,1"] + np.sin(3 * X['say "hi"'])
    return GAMRegressor(df=6).fit(X, y).predictor_


@pytest.fixture(scope="module")
def quoted_labels():
    """A classifier whose labels need CSV quoting."""
    rng = np.random.default_rng(6)
    x = rng.uniform(-3, 3, 400)
    y = np.where(rng.random(400) < 1 / (1 + np.exp(-2 * x)), 'a"b', "c,d")
    return GAMClassifier(df=6).fit(x[:, None], y).predictor_


def test_a_quoted_header_cell_with_a_comma_is_one_column(quoted_names):
    rows = np.array([[0.2, 0.7], [0.9, 0.1]])
    body = b'"say ""hi""","x,1"\n' + b"\n".join(
        f"{b},{a}".encode() for a, b in rows)
    response = call(quoted_names, body)
    assert response.status == 200, response.body
    np.testing.assert_allclose(orjson.loads(response.body)["predictions"],
                               quoted_names.predict(rows), rtol=1e-12)


def test_labels_with_quotes_and_commas_are_written_as_csv_reads_them(quoted_labels):
    x = np.linspace(-3, 3, 9)[:, None]
    response = call(quoted_labels, "\n".join(map(str, x[:, 0])).encode(), accept="text/csv",
                    attributes="output=label")
    assert response.status == 200
    read_back = [row[0] for row in csv.reader(io.StringIO(response.body.decode()))]
    assert read_back == quoted_labels.predict(x).tolist()
    assert set(read_back) == {'a"b', "c,d"}


def test_in_batch_transform_a_first_line_is_never_taken_for_a_header(regressor):
    # A file's header (or a stray line) at the start of a later mini-batch: treating it as
    # a header would drop it and shift every output after it on SageMaker.
    body = b"weight,age,dose\n0.1,0.2,0.3\n0.4,0.5,0.6\n"
    response = call(regressor, body, BATCH)
    assert response.status == 400
    document = orjson.loads(response.body)
    assert document["row"] == 1
    assert "Row 1, column 1 (age): 'weight' is not a number" in document["message"]
    assert "SAGEMAKER_BATCH=true" in document["message"]


def test_header_mode_present_reads_numeric_looking_names(regressor):
    settings = ServerSettings.from_environment({"SAGEGAM_CSV_HEADER": "present"})
    response = call(regressor, b"x0,x1,x2\n0.1,0.2,0.3\n", settings)
    assert response.status == 200
    assert len(orjson.loads(response.body)["predictions"]) == 1


def test_header_mode_absent_takes_every_line_as_a_record(regressor):
    settings = ServerSettings.from_environment({"SAGEGAM_CSV_HEADER": "absent"})
    response = call(regressor, b"age,dose,weight\n0.1,0.2,0.3\n", settings)
    assert response.status == 400 and orjson.loads(response.body)["row"] == 1


@pytest.mark.parametrize("environment, words", [
    ({"SAGEMAKER_BATCH": "true", "SAGEGAM_CSV_HEADER": "auto"}, "cannot be used in batch"),
    ({"SAGEGAM_CSV_HEADER": "maybe"}, "is not one of auto, present, absent"),
    ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}, "must be greater than 0"),
    ({"SAGEGAM_MAX_LARGE_REQUESTS": "1.5"}, "is not an integer"),
])
def test_bad_settings_are_refused_with_the_variable_named(environment, words):
    with pytest.raises(ValueError, match=words):
        ServerSettings.from_environment(environment)


def test_errors_in_one_record_carry_its_row(regressor):
    body = b"0.1,0.2,0.3\n0.1,0.2,0.3\n0.1,0.2\n"
    document = orjson.loads(call(regressor, body).body)
    assert document["row"] == 3 and "CSV row 3 has 2 columns" in document["message"]


def test_a_blank_line_inside_the_body_is_named(regressor):
    document = orjson.loads(call(regressor, b"0.1,0.2,0.3\n\n0.1,0.2,0.3\n").body)
    assert document["row"] == 2 and "empty" in document["message"]
