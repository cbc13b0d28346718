"""Property-based fuzzing of the decoders: no input gets a 5xx."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sagegam.container.serving.core import ServerSettings, invocations

CONTENT_TYPES = st.sampled_from(["text/csv", "application/json", "application/jsonlines",
                                 "application/x-npy", "text/plain", ""])
ACCEPTS = st.sampled_from([None, "*/*", "text/csv", "application/x-npy", "application/json",
                           "application/jsonlines", "image/png", "text/csv; explain=true"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)
SETTINGS = ServerSettings()


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), content_type=CONTENT_TYPES, accept=ACCEPTS)
def test_random_bytes_never_get_a_server_error(regressor, body, content_type, accept):
    response = invocations(regressor, body, content_type, accept, None, SETTINGS)
    assert response.status in (200, 400, 406, 413, 415)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, accept=ACCEPTS)
def test_random_json_never_gets_a_server_error(regressor, value, accept):
    body = json.dumps(value).encode()  # the stdlib also writes NaN and huge integers
    response = invocations(regressor, body, "application/json", accept, "explain=true",
                           SETTINGS)
    assert response.status in (200, 400, 406)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.lists(st.one_of(st.floats(), st.text(max_size=4)), min_size=1,
                                max_size=4), min_size=1, max_size=4))
def test_random_csv_never_gets_a_server_error(classifier, cells):
    body = "\n".join(",".join(str(c) for c in row) for row in cells).encode()
    response = invocations(classifier, body, "text/csv", "text/csv", "output=label", SETTINGS)
    assert response.status in (200, 400)
