"""POST /invocations through the core function: every format, option and error."""

from __future__ import annotations

import io
import pickle

import numpy as np
import orjson
import pytest

from sagegam.container.serving.core import ServerSettings, invocations

SETTINGS = ServerSettings()


def call(predictor, body, content_type, accept=None, attributes=None, settings=SETTINGS):
    return invocations(predictor, body, content_type, accept, attributes, settings)


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def csv(rows) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode() + b"\n"


def predictions(response) -> np.ndarray:
    assert response.status == 200, response.body
    return np.asarray(orjson.loads(response.body)["predictions"])


def test_each_content_type_gives_the_in_process_predictions(regressor, rows):
    expected = regressor.predict(rows)
    bodies = {
        "application/x-npy": npy(rows),
        "text/csv": csv(rows),
        "application/json": orjson.dumps(rows.tolist()),
        "application/jsonlines": b"\n".join(orjson.dumps(r) for r in rows.tolist()),
    }
    for content_type, body in bodies.items():
        np.testing.assert_allclose(predictions(call(regressor, body, content_type)), expected,
                                   rtol=1e-12, err_msg=content_type)


@pytest.mark.parametrize("wrap", [
    lambda rows: {"instances": rows.tolist()},
    lambda rows: {"inputs": rows.tolist()},
    lambda rows: [{"weight": r[2], "age": r[0], "dose": r[1]} for r in rows.tolist()],
    lambda rows: {"instances": [{"age": r[0], "dose": r[1], "weight": r[2]}
                                for r in rows.tolist()]},
    lambda rows: {"dataframe_split": {"columns": ["age", "dose", "weight"],
                                      "data": rows.tolist()}},
])
def test_json_shapes_clients_send(regressor, rows, wrap):
    response = call(regressor, orjson.dumps(wrap(rows)), "application/json")
    np.testing.assert_allclose(predictions(response), regressor.predict(rows), rtol=1e-12)


def test_one_csv_row_stays_one_row_and_one_npy_vector_is_one_row(regressor, rows):
    for body, content_type in ((csv(rows[:1]), "text/csv"), (npy(rows[0]), "application/x-npy"),
                               (orjson.dumps(rows[0].tolist()), "application/json")):
        assert predictions(call(regressor, body, content_type)).shape == (1,)


def test_csv_header_matches_columns_by_name(regressor, rows):
    body = b"weight,age,dose\n" + csv(rows[:, [2, 0, 1]])
    np.testing.assert_allclose(predictions(call(regressor, body, "text/csv")),
                               regressor.predict(rows), rtol=1e-12)


def test_accept_chooses_the_response_format(regressor, rows):
    expected = regressor.predict(rows)
    as_csv = call(regressor, csv(rows), "text/csv", "text/csv")
    assert as_csv.content_type == "text/csv"
    np.testing.assert_allclose(np.loadtxt(io.BytesIO(as_csv.body)), expected, rtol=1e-12)
    as_npy = call(regressor, csv(rows), "text/csv", "application/x-npy")
    # What the SageMaker SDK's NumpyDeserializer does with the answer:
    np.testing.assert_allclose(np.load(io.BytesIO(as_npy.body), allow_pickle=True), expected)
    as_lines = call(regressor, csv(rows), "text/csv", "application/jsonlines")
    lines = as_lines.body.decode().splitlines()
    assert [orjson.loads(line)["prediction"] for line in lines] == pytest.approx(expected)


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/*", "text/html, */*;q=0.1"])
def test_missing_or_wildcard_accept_gets_the_default(regressor, rows, accept):
    assert call(regressor, csv(rows), "text/csv", accept).content_type == "application/json"


def test_the_default_accept_comes_from_the_environment(regressor, rows):
    settings = ServerSettings.from_environment(
        {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})
    assert call(regressor, csv(rows), "text/csv", "*/*", settings=settings).content_type \
        == "text/csv"


def test_classifier_answers_probabilities_or_labels(classifier, rows):
    probability = predictions(call(classifier, csv(rows), "text/csv"))
    np.testing.assert_allclose(probability, classifier.predict_proba(rows)[:, 1], rtol=1e-12)
    by_accept = call(classifier, csv(rows), "text/csv", "application/json; output=label")
    by_header = call(classifier, csv(rows), "text/csv", None, "output=label")
    labels = classifier.predict(rows).tolist()
    assert orjson.loads(by_accept.body)["predictions"] == labels
    assert orjson.loads(by_header.body)["predictions"] == labels


def test_string_labels_cannot_be_npy(classifier, rows):
    response = call(classifier, csv(rows), "text/csv", "application/x-npy", "output=label")
    assert response.status == 406


def test_explanations_sum_to_the_prediction_on_the_link_scale(classifier, rows):
    response = call(classifier, csv(rows), "text/csv", "application/json", "explain=true")
    document = orjson.loads(response.body)
    for probability, explanation in zip(document["predictions"], document["explanations"],
                                        strict=True):
        logit = explanation["intercept"] + sum(explanation["contributions"].values())
        assert 1 / (1 + np.exp(-logit)) == pytest.approx(probability, rel=1e-12)
        assert set(explanation["contributions"]) == {"age", "dose", "weight"}


def test_explanations_in_csv_and_npy_are_columns(regressor, rows):
    as_csv = call(regressor, csv(rows), "text/csv", "text/csv; explain=true")
    table = np.loadtxt(io.BytesIO(as_csv.body), delimiter=",")
    as_npy = call(regressor, csv(rows), "text/csv", "application/x-npy; explain=true")
    for matrix in (table, np.load(io.BytesIO(as_npy.body))):
        assert matrix.shape == (7, 5)
        np.testing.assert_allclose(matrix[:, 1] + matrix[:, 2:].sum(axis=1), matrix[:, 0])


def test_multi_record_bodies_get_one_output_line_per_input_line(regressor):
    rows = np.random.default_rng(0).uniform(size=(5000, 3))
    for content_type, body in (("text/csv", csv(rows)), ("application/jsonlines", b"\n".join(
            orjson.dumps(r) for r in rows.tolist()) + b"\n")):
        response = call(regressor, body, content_type, content_type)
        assert len(response.body.decode().splitlines()) == 5000


@pytest.mark.parametrize("content_type, body, status, words", [
    ("text/plain", b"1,2,3", 415, "not supported"),
    ("text/csv", b"1,2,3", 406, "names no type"),
    ("application/json", b"[[1, 2,", 400, "not valid JSON"),
    ("text/csv", b"1,2\n", 400, "needs 3 features"),
    ("text/csv", b"0.1,0.2,0.3\n0.1,oops,0.3\n", 400, "Row 2, column 2 (dose): 'oops'"),
    ("text/csv", b"0.1,0.2,0.3\n0.1,nan,0.3\n", 400,
     "Row 2, column 2 (dose): the value is missing"),
    ("application/json", b'[[0.1, "x", 0.3]]', 400,
     "Row 1, column 2 (dose): 'x' is not a number"),
    ("text/csv", b"", 400, "empty"),
    ("application/x-npy", b"not npy", 400, "not a valid .npy"),
    ("text/csv", b"a,b,c\n1,2,3\n", 400, "do not match the model's features"),
])
def test_client_errors_are_4xx_with_a_json_message(regressor, content_type, body, status, words):
    accept = "application/xml" if status == 406 else None
    response = call(regressor, body, content_type, accept)
    assert response.status == status
    document = orjson.loads(response.body)
    assert words in document["message"] and document["error"]


def test_a_pickled_object_array_is_refused_not_unpickled(regressor):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    buffer = io.BytesIO()
    np.save(buffer, np.array([Boom()], dtype=object), allow_pickle=True)
    assert b"exec" in pickle.dumps(Boom())  # the body carries code that would run if loaded
    response = call(regressor, buffer.getvalue(), "application/x-npy")
    assert response.status == 400 and b"Object arrays cannot be loaded" in response.body


def test_bodies_over_the_limit_get_413(regressor):
    settings = ServerSettings.from_environment({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "0.001"})
    response = call(regressor, b"0.1,0.2,0.3\n" * 200, "text/csv", settings=settings)
    assert response.status == 413


@pytest.mark.parametrize("layout", [
    lambda rows: rows, lambda rows: rows.astype(np.float32), lambda rows: rows[0],
    lambda rows: np.asfortranarray(rows), lambda rows: rows.astype(">f8"),
    lambda rows: (rows * 10).astype(np.int32),
])
def test_npy_bodies_of_any_numeric_layout_give_the_predictions_of_their_values(
        regressor, rows, layout):
    array = layout(rows)
    response = call(regressor, npy(array), "application/x-npy")
    expected = regressor.predict(np.atleast_2d(np.asarray(array, dtype=np.float64)))
    np.testing.assert_allclose(predictions(response), expected, rtol=1e-12)


def test_a_truncated_npy_body_is_a_400(regressor, rows):
    response = call(regressor, npy(rows)[:-5], "application/x-npy")
    assert response.status == 400
    assert orjson.loads(response.body)["error"] == "bad_request"


def test_batch_sized_csv_bodies_parse_fast_and_fail_as_precisely(regressor):
    rows = np.random.default_rng(3).uniform(size=(20_000, 3))
    body = csv(rows)
    assert len(body) > 256 * 1024  # the pandas path
    np.testing.assert_allclose(predictions(call(regressor, body, "text/csv")),
                               regressor.predict(rows), rtol=1e-12)
    with_header = b"weight,age,dose\n" + csv(rows[:, [2, 0, 1]])
    np.testing.assert_allclose(predictions(call(regressor, with_header, "text/csv")),
                               regressor.predict(rows), rtol=1e-12)
    broken = body.replace(b"\n", b"\n0.1,oops,0.3\n", 1)
    response = call(regressor, broken, "text/csv")
    assert response.status == 400 and b"Row 2, column 2 (dose): 'oops'" in response.body
    gap = body.replace(b"\n", b"\n0.1,,0.3\n", 1)
    assert call(regressor, gap, "text/csv").status == 400
