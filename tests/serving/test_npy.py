"""application/x-npy through the real server: whatever numpy reads we read, with the same
numbers; what it refuses (or what is not numbers) is one 400 sentence; our answers are the
bytes np.save writes."""

from __future__ import annotations

import io

import httpx
import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagegam.container.serving.core import ServerSettings, invocations

NPY = "application/x-npy"
# A one-row body takes the plain-Python spline path, a batch numpy's; the two agree to a
# few units in the last place (tests/serving/test_one_row.py).
RTOL, ATOL = 1e-13, 1e-13


def saved(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False, **options)
    return buffer.getvalue()


def numpy_reading(body: bytes) -> np.ndarray:
    return np.load(io.BytesIO(body), allow_pickle=False)


def headed(text: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A body with a hand-written header (numpy's own writers would refuse most of these)."""
    header = text.encode("latin-1")
    size = len(header).to_bytes(2 if version == b"\x01\x00" else 4, "little")
    return b"\x93NUMPY" + version + size + header + data


def post(client: httpx.Client, body: bytes, accept: str | None = NPY,
         attributes: str | None = None) -> httpx.Response:
    headers = {"Content-Type": NPY}
    if accept is not None:
        headers["Accept"] = accept
    if attributes is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
    return client.post("/invocations", content=body, headers=headers)


def answered(response: httpx.Response) -> np.ndarray:
    """The npy answer as numpy reads it, after checking it is byte for byte what np.save
    writes for that array."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NPY
    array = numpy_reading(response.content)
    assert response.content == saved(array)
    return array


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url) as session:
        yield session


ROWS = np.random.default_rng(21).uniform(0, 1, size=(9, 3))
LAYOUTS = {
    "1 row": lambda rows: rows[:1],
    "many rows": lambda rows: rows,
    "1-D": lambda rows: rows[0],
    "float32": lambda rows: rows.astype(np.float32),
    "float16, one row": lambda rows: rows[:1].astype(np.float16),
    "big-endian": lambda rows: rows.astype(">f8"),
    "big-endian, one row": lambda rows: rows[:1].astype(">f8"),
    "Fortran order": lambda rows: np.asfortranarray(rows),
    "int32": lambda rows: (rows * 10).astype(np.int32),
    "big-endian uint16, one row": lambda rows: (rows[:1] * 10).astype(">u2"),
    "int8": lambda rows: (rows * 10).astype(np.int8),
    "bool": lambda rows: rows > 0.5,
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_any_numeric_array_numpy_writes_gets_the_predictions_of_numpys_reading(
        client, regressor, layout):
    body = saved(layout(ROWS))
    expected = regressor.predict(np.atleast_2d(numpy_reading(body)).astype(np.float64))
    np.testing.assert_allclose(answered(post(client, body)), expected, rtol=RTOL, atol=ATOL)
    as_json = post(client, body, "application/json")
    np.testing.assert_allclose(as_json.json()["predictions"], expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("body", [
    saved(ROWS, version=(2, 0)),
    saved(ROWS[:1], version=(3, 0)),
    saved(ROWS) + b"bytes after the data, which numpy does not read",
    headed("{'descr': '<f8', 'fortran_order': True, 'shape': (1, 3), }\n", ROWS[0].tobytes()),
    headed("{'shape': (1, 3), 'fortran_order': False, 'descr': '<f8'}\n", ROWS[0].tobytes()),
    headed('{"descr": "<f8", "fortran_order": False, "shape": (2,3)}   \n',
           ROWS[:2].tobytes()),
], ids=["version 2.0", "version 3.0", "trailing bytes", "one row in Fortran order",
        "keys in another order",
        "double quotes, no padding"])
def test_headers_other_writers_write_are_read_as_numpy_reads_them(client, regressor, body):
    expected = regressor.predict(np.atleast_2d(numpy_reading(body)))
    np.testing.assert_allclose(answered(post(client, body)), expected, rtol=RTOL, atol=ATOL)


def test_npy_answers_carry_every_column_the_json_answer_carries_with_the_same_numbers(
        client):
    for rows in (ROWS[:1], ROWS):
        for attributes in (None, "std=true", "interval=0.9", "std=true,interval=0.9,"
                           "explain=true", "explain=true"):
            table = answered(post(client, saved(rows), NPY, attributes))
            document = post(client, saved(rows), "application/json", attributes).json()
            columns = [document["predictions"], *(document[name] for name in
                                                  ("std", "lower", "upper") if name in document)]
            if "explanations" in document:
                explained = document["explanations"]
                columns += [[e["intercept"] for e in explained],
                            *zip(*(e["contributions"].values() for e in explained), strict=True)]
            expected = np.column_stack(columns) if len(columns) > 1 else np.array(columns[0])
            assert np.array_equal(table, expected), attributes  # both exact: repr and bytes


def test_integer_labels_are_an_int64_npy_vector(tmp_path):
    from sagegam import GAMClassifier, load, save

    rng = np.random.default_rng(5)
    X = rng.uniform(size=(300, 2))
    y = np.where(rng.uniform(size=300) < X[:, 0], 7, 0)
    save(GAMClassifier().fit(X, y), tmp_path)
    model = load(tmp_path)
    rows = np.array([[0.05, 0.5], [0.95, 0.5]])
    response = invocations(model, saved(rows), NPY, NPY, "output=label", ServerSettings())
    labels = numpy_reading(response.body)
    assert response.body == saved(labels) and labels.dtype == np.int64
    assert labels.tolist() == [0, 7]


GOOD = saved(ROWS[:2])
HEADER_END = 10 + int.from_bytes(GOOD[8:10], "little")
REFUSED = {
    "magic only": (GOOD[:6], "not a numeric .npy array"),
    "cut in the header": (GOOD[:40], "not a numeric .npy array"),
    "cut in the data": (GOOD[:-5], "cut short"),
    "header only": (GOOD[:HEADER_END], "cut short"),
    "header length too long": (GOOD[:8] + (HEADER_END - 10 + 16).to_bytes(2, "little")
                               + GOOD[10:], "not a numeric .npy array"),
    "header length too short": (GOOD[:8] + (HEADER_END - 10 - 80).to_bytes(2, "little")
                                + GOOD[10:], "not a numeric .npy array"),
    "object dtype": (headed("{'descr': '|O', 'fortran_order': False, 'shape': (1, 3), }\n",
                            b"\x80" * 24), "Object arrays cannot be loaded"),
    "str dtype": (saved(np.array([["1", "2", "3"]])), "expected numbers"),
    "complex": (saved(ROWS.astype(complex)), "expected numbers"),
    "3-D": (saved(ROWS[None]), "3 dimensions"),
    "0-D": (saved(np.float64(1.0)), "0 dimensions"),
    "version 9": (GOOD[:6] + b"\x09\x00" + GOOD[8:], "format version"),
    "a huge shape, cut short": (
        headed("{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000000, 3), }\n",
               b"\0" * 48), "cut short"),
    "a huge shape in Fortran order": (
        headed("{'descr': '<f8', 'fortran_order': True, 'shape': (10000000000000, 3), }\n",
               b"\0" * 48), "far larger than the body"),
    "a shape past int64": (headed("{'descr': '<f8', 'fortran_order': True, 'shape': ("
                                  + "9" * 30 + ", 3), }\n", b"\0" * 48),
                           "far larger than the body"),
    "a header nested thousands deep": (
        headed("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "-" * 4000
               + "1, 3), }\n", b"\0" * 24), "nested too deeply"),
    "a header that calls": (
        headed("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1, 3), }\n",
               b"\0" * 24), "not a numeric .npy array"),
    "a header past numpy's size limit": (
        headed("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }" + " " * 12000
               + "\n", b"\0" * 24, b"\x02\x00"), "large and may not be safe"),
    "a leading zero": (GOOD.replace(b"(2, 3)", b"(02, 3)").replace(b"), }  ", b"), } ", 1),
                       "not a numeric .npy array"),
}


@pytest.mark.parametrize("body, words", REFUSED.values(), ids=REFUSED.keys())
def test_a_body_numpy_refuses_or_that_is_not_numbers_is_one_400_sentence(
        client, body, words):
    response = post(client, body)
    assert response.status_code == 400, response.text
    document = response.json()
    assert document["error"] == "bad_request" and words in document["message"]
    assert "\n" not in document["message"] and "allow_pickle=True" not in document["message"]
    assert client.get("/ping").status_code == 200


def test_the_refused_bodies_are_refused_by_numpy_too_or_are_not_numeric_rows():
    for name, (body, _) in REFUSED.items():
        try:
            array = numpy_reading(body)
        except Exception:  # numpy refuses it, in whichever words
            continue
        assert array.dtype.kind not in "biuf" or array.ndim not in (1, 2), name


# -- every mutation of a valid body: no 5xx, and numpy's numbers when numpy reads it --------

SETTINGS = ServerSettings()


@settings(max_examples=400, deadline=None)
@given(rows=st.integers(1, 3), at=st.integers(0, 200), replacement=st.binary(max_size=4),
       width=st.integers(0, 4))
def test_a_mutated_body_is_read_as_numpy_reads_it_or_refused_with_a_400(
        regressor, rows, at, replacement, width):
    valid = saved(ROWS[:rows])
    body = valid[:at] + replacement + valid[at + width:]
    response = invocations(regressor, body, NPY, "application/json", None, SETTINGS)
    assert response.status in (200, 400), response.body
    try:
        array = numpy_reading(body)
    except Exception:  # numpy refuses it, in whichever words
        assert response.status == 400, body
        return
    if array.dtype.kind not in "biuf" or array.ndim not in (1, 2) or \
            np.atleast_2d(array).shape[1] != 3 or not np.isfinite(array.astype(float)).all():
        assert response.status == 400, body  # not rows of three numbers
        return
    try:
        expected = regressor.predict(np.atleast_2d(array).astype(np.float64))
    except ValueError:  # too far outside the training range to extrapolate
        assert response.status == 400, body
        return
    assert response.status == 200, (body, response.body)
    np.testing.assert_allclose(orjson.loads(response.body)["predictions"], expected,
                               rtol=RTOL, atol=ATOL)
