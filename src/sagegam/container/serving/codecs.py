"""Request decoders and response encoders, keyed by MIME type.

Decoders turn a body into a float matrix with one row per record, in order, and say which
feature names the body carried (CSV header, JSON records), so columns can be matched by
name. Every problem is a :class:`ClientError` naming the row and column at fault. Nothing
here can execute code: ``np.load`` runs with ``allow_pickle=False`` and JSON goes through
orjson into plain lists.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

Array = NDArray[np.float64]

NPY = "application/x-npy"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
JSONLINES_ALIASES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")


class ClientError(Exception):
    """A request the server refuses: HTTP status, short code and a message for the user."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def bad_request(message: str) -> ClientError:
    return ClientError(400, "bad_request", message)


@dataclass(frozen=True)
class Decoded:
    rows: Array
    names: list[str] | None  # feature names the body carried, in its column order


# -- decoders ----------------------------------------------------------------------------


def decode_npy(body: bytes) -> Decoded:
    if not body.startswith(b"\x93NUMPY"):
        raise bad_request("The body is not a valid .npy file (it must start with numpy's "
                          "magic string; write it with numpy.save).")
    try:
        array = _common_npy(body)
        if array is None:
            array = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as error:
        raise bad_request(f"The body is not a numeric .npy array: {error}") from None
    except (OSError, EOFError) as error:
        raise bad_request(f"The body is not a valid .npy file: {error}") from None
    if array.dtype.kind not in "biuf":
        raise bad_request(f"The .npy array has dtype {array.dtype}; expected numbers.")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise bad_request(f"The .npy array has {array.ndim} dimensions; expected 2 "
                          "(rows x features) or 1 (one row).")
    return Decoded(array.astype(np.float64, copy=False), None)


# The header np.save writes for a C-ordered little-endian numeric array, version 1.0.
_NPY_HEADER = re.compile(rb"\{'descr': '(<f8|<f4|<i8|<i4)', 'fortran_order': False, "
                         rb"'shape': \((\d+),(?: (\d+),?)?\), \} *\n")


def _common_npy(body: bytes) -> Array | None:
    """What np.save wrote for a plain numeric array, or None for np.load to handle.

    ``np.load`` parses the header with ``ast.literal_eval`` (about 40 us, most of a one-row
    request); the SDK's NumpySerializer always writes this exact form.
    """
    if body[6:8] != b"\x01\x00" or len(body) < 10:
        return None
    end = 10 + int.from_bytes(body[8:10], "little")
    match = _NPY_HEADER.fullmatch(body, 10, end)
    if match is None:
        return None
    dtype = np.dtype(match.group(1).decode())
    shape = tuple(int(g) for g in match.groups()[1:] if g is not None)
    count = int(np.prod(shape))
    if len(body) != end + count * dtype.itemsize:
        return None  # truncated or trailing bytes: np.load gives the precise error
    return np.frombuffer(body, dtype, count, end).reshape(shape).astype(np.float64)


LARGE_CSV_BYTES = 256 * 1024


def decode_csv(body: bytes) -> Decoded:
    """CSV rows; batch-sized bodies go through pandas' C parser first (5x faster there)."""
    if len(body) >= LARGE_CSV_BYTES:
        fast = _fast_csv(body)
        if fast is not None:
            return fast
    return _strict_csv(body)


def _fast_csv(body: bytes) -> Decoded | None:
    """All-numeric bodies via pandas; None leaves anything unusual to the strict parser,
    which names the row and column at fault. pandas loads on the first large body only,
    so real-time serving never imports it."""
    import pandas as pd

    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")
    header = not all(_is_number(cell) for cell in first)
    try:
        frame = pd.read_csv(io.BytesIO(body), header=0 if header else None,
                            dtype=np.float64, skip_blank_lines=False, engine="c")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    rows = frame.to_numpy(dtype=np.float64)
    if rows.size == 0 or np.isnan(rows).any():
        return None  # empty cells, short rows or blank lines: let the strict parser say where
    names = [str(c).strip() for c in frame.columns] if header else None
    return Decoded(rows, names)


def _strict_csv(body: bytes) -> Decoded:
    text = _text(body)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise bad_request("The CSV body is empty; send one row of features per line.")
    names = None
    first = lines[0].split(",")
    if not all(_is_number(cell) for cell in first):
        names = [cell.strip().strip('"') for cell in first]
        lines = lines[1:]
        if not lines:
            raise bad_request("The CSV body has a header but no rows.")
    cells = [line.split(",") for line in lines]
    width = len(cells[0])
    for index, row in enumerate(cells):
        if len(row) != width:
            raise bad_request(f"CSV row {index + 1} has {len(row)} columns; row 1 has {width}.")
    try:
        rows = np.array(cells, dtype=np.float64)
    except ValueError:
        raise _first_bad_cell(cells, names) from None
    return Decoded(rows, names)


def decode_json(body: bytes) -> Decoded:
    data = _json(body)
    if isinstance(data, dict):
        for key in ("instances", "inputs", "data", "features"):
            if key in data:
                return _records(data[key], f"'{key}'")
        if "dataframe_split" in data and isinstance(data["dataframe_split"], dict):
            split = data["dataframe_split"]
            decoded = _records(split.get("data"), "'dataframe_split.data'")
            return Decoded(decoded.rows, [str(c) for c in split.get("columns") or []] or None)
        return _records([data], "the object")
    return _records(data, "the body")


def decode_jsonlines(body: bytes) -> Decoded:
    lines = [line for line in _text(body).splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise bad_request("The JSON Lines body is empty; send one JSON row per line.")
    items = []
    for index, line in enumerate(lines):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise bad_request(f"JSON Lines line {index + 1} is not valid JSON: {error}") from None
        if isinstance(item, dict) and "features" in item:
            item = item["features"]
        items.append(item)
    return _records(items, "the lines")


DECODERS: dict[str, Callable[[bytes], Decoded]] = {
    NPY: decode_npy,
    CSV: decode_csv,
    JSON: decode_json,
    **{alias: decode_jsonlines for alias in JSONLINES_ALIASES},
}


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(f"The body is not UTF-8 text: {error}") from None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"The body is not valid JSON: {error}") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _first_bad_cell(cells: list[list[str]], names: list[str] | None) -> ClientError:
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            if not _is_number(cell):
                column = f"{c + 1}" + (f" ({names[c]})" if names and c < len(names) else "")
                shown = cell if len(cell) <= 40 else cell[:37] + "..."
                return bad_request(f"CSV row {r + 1}, column {column}: {shown!r} is not a "
                                   "number.")
    return bad_request("The CSV body holds a value that is not a number.")


def _records(items: Any, where: str) -> Decoded:
    """Rows from a list of rows, a list of records (objects), or one flat row."""
    if not isinstance(items, list) or not items:
        raise bad_request(f"Expected a non-empty list of rows in {where}; got "
                          f"{type(items).__name__}.")
    if all(isinstance(item, dict) for item in items):
        names = list(items[0].keys())
        for index, item in enumerate(items):
            if list(item.keys()) != names and set(item) != set(names):
                raise bad_request(f"Record {index + 1} has fields {sorted(item)}; record 1 "
                                  f"has {sorted(names)}.")
        rows = [[item[name] for name in names] for item in items]
        return Decoded(_matrix(rows), names)
    if not any(isinstance(item, (list, dict)) for item in items):
        return Decoded(_matrix([items]), None)  # one flat row
    if not all(isinstance(item, list) for item in items):
        raise bad_request(f"Rows in {where} must all be lists (or all records).")
    return Decoded(_matrix(items), None)


def _matrix(rows: Sequence[Sequence[Any]]) -> Array:
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise bad_request(f"Row {index + 1} has {len(row)} values; row 1 has {width}.")
        for column, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad_request(f"Row {index + 1}, column {column + 1}: {value!r} is not a "
                                  "number.")
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)


# -- encoders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """What to send back: one value per row, and optionally explanations."""

    values: NDArray[Any]  # predictions, probabilities or labels
    intercept: float | None = None  # with explanations
    contributions: Array | None = None  # (n, p), link scale
    names: Sequence[str] = ()


def encode_json(output: Output) -> bytes:
    document: dict[str, Any] = {"predictions": output.values.tolist()}
    if output.contributions is not None:
        document["explanations"] = [
            {"intercept": output.intercept, "contributions": dict(zip(output.names, row,
                                                                      strict=True))}
            for row in output.contributions.tolist()]
    return orjson.dumps(document)


def encode_jsonlines(output: Output) -> bytes:
    values = output.values.tolist()
    if output.contributions is None:
        lines = [orjson.dumps({"prediction": value}) for value in values]
    else:
        lines = [orjson.dumps({"prediction": value, "intercept": output.intercept,
                               "contributions": dict(zip(output.names, row, strict=True))})
                 for value, row in zip(values, output.contributions.tolist(), strict=True)]
    return b"\n".join(lines) + b"\n"


def encode_csv(output: Output) -> bytes:
    values = [_csv_cell(v) for v in output.values.tolist()]
    if output.contributions is None:
        return ("\n".join(values) + "\n").encode()
    intercept = repr(output.intercept)
    lines = [",".join([value, intercept, *map(repr, row)])
             for value, row in zip(values, output.contributions.tolist(), strict=True)]
    return ("\n".join(lines) + "\n").encode()


def encode_npy(output: Output) -> bytes:
    values = output.values
    if values.dtype.kind not in "biuf":
        raise ClientError(406, "not_acceptable", "Labels are not numbers, so they cannot be "
                          "sent as application/x-npy; ask for application/json or text/csv.")
    if output.contributions is not None:
        intercept = np.full((len(values), 1), output.intercept)
        values = np.column_stack([values.astype(np.float64), intercept, output.contributions])
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    return f'"{text}"' if ("," in text or '"' in text) else text


ENCODERS: dict[str, Callable[[Output], bytes]] = {
    JSON: encode_json,
    CSV: encode_csv,
    NPY: encode_npy,
    JSONLINES: encode_jsonlines,
}
