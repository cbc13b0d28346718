"""One row of numbers, read without the general decoders.

Most real-time requests carry a single row of numbers, and for them the general path (csv
module, header rule, schema encoding, numpy) costs ten times the model's arithmetic. The
readers here accept only bodies whose meaning is beyond doubt (one CSV line of plain
numbers, a JSON row of numbers, one row of numbers in np.save's plain .npy form) and
return None for anything else, so the general path still gives every answer and every
error message; a body read here decodes to exactly the numbers the general path would
read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import cast

import numpy as np
import orjson

from sagegam.container.serving import npyformat
from sagegam.container.serving.codecs import CSV, JSON, NPY

Row = list[float]

# A plain decimal number, and a line of them: no quotes, blanks, missing-value tokens,
# "nan", "inf", or anything float() accepts but the csv path reads differently ("1_000").
_NUMBER = rb"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_LINE = re.compile(_NUMBER + rb"(?:," + _NUMBER + rb")*\r?\n?")
_JSON_KEYS = ("instances", "inputs", "data", "features")  # decode_json's order


def is_number(name: str) -> bool:
    """Whether a feature name reads as a number (a body of numbers could then be its
    header, which only the general path decides)."""
    return _LINE.fullmatch(name.encode("utf-8", "replace")) is not None


def csv_row(body: bytes, width: int) -> Row | None:
    if _LINE.fullmatch(body) is None:
        return None
    return _finite([float(cell) for cell in body.split(b",")], width)


def json_row(body: bytes, width: int) -> Row | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict):
        data = next((data[key] for key in _JSON_KEYS if key in data), None)
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], list):
        return None
    row = data[0]
    if not all(type(value) in (float, int) for value in row):  # bool is not a number here
        return None
    return _finite([float(value) for value in row], width)


def npy_row(body: bytes, width: int) -> Row | None:
    """One row (1 x p or p) in np.save's plain form, converted to float64 as numpy does
    (native doubles read straight from the bytes)."""
    found = npyformat.layout(body)
    if found is None:
        return None
    dtype, shape, offset = found
    if shape not in ((1, width), (width,)) or len(body) - offset != width * dtype.itemsize:
        return None
    if dtype == _DOUBLE:
        doubles = memoryview(body)[offset:].cast("d").tolist()  # floats, typed as ints
        return _finite(cast(Row, doubles), width)
    return _finite(np.frombuffer(body, dtype, width, offset).astype(np.float64).tolist(),
                   width)


_DOUBLE = np.dtype("=f8")  # memoryview's "d"


def _finite(row: Row, width: int) -> Row | None:
    if len(row) != width or not all(map(math.isfinite, row)):
        return None
    return row


READERS: dict[str, Callable[[bytes, int], Row | None]] = {
    CSV: csv_row, JSON: json_row, NPY: npy_row}
