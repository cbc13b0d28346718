"""Request decoders, keyed by MIME type, and the conversion of records to model codes.

Decoding is in two steps. A decoder reads a body's structure (CSV cells, JSON rows or
records, an npy array) into :class:`Decoded`: its records in order, the feature names it
carried (CSV header, JSON records) and, unless the body was numeric as sent, each record's
cells as they came (text for CSV, JSON scalars for JSON). The core then matches columns to
the model and only then calls :func:`to_codes`, which hands the cells to the model's schema:
numbers for numeric features, levels (text or numbers) for categorical ones. Every problem
is a :class:`ClientError` naming the row and column at fault. Nothing here can execute
code: ``np.load`` runs with ``allow_pickle=False`` and JSON goes through orjson into plain
lists.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from sagegam.container import csvtext
from sagegam.container.csvtext import HeaderMode
from sagegam.container.serving import npyformat
from sagegam.model.schema import Schema, UnknownCells, UnknownValueError

Array = NDArray[np.float64]

NPY = "application/x-npy"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
JSONLINES_ALIASES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")


class ClientError(Exception):
    """A request the server refuses: HTTP status, short code, a message for the user, and
    the 1-based record the problem is in, when it is in one."""

    def __init__(self, status: int, error: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.row = status, error, message, row


def bad_request(message: str, row: int | None = None) -> ClientError:
    return ClientError(400, "bad_request", message, row)


@dataclass(frozen=True)
class Decoded:
    """A body's records, in order, with the feature names it carried (if any).

    ``values`` holds bodies that were numeric as sent; otherwise ``cells`` holds the
    records' cells, and ``text`` says whether they are CSV text (parsed as numbers) or
    JSON values (which must already be numbers).
    """

    names: list[str] | None
    width: int
    values: Array | None = None
    cells: list[list[Any]] | None = None
    text: bool = False

    @property
    def n_rows(self) -> int:
        return len(self.values) if self.values is not None else len(self.cells or [])

    def select(self, order: list[int]) -> Decoded:
        """The same records with the columns in ``order`` (indices into this body)."""
        if self.values is not None:
            return replace(self, values=self.values[:, order], width=len(order))
        cells = [[row[i] for i in order] for row in self.cells or []]
        return replace(self, cells=cells, width=len(order))


@dataclass(frozen=True)
class DecodeOptions:
    """What the server's configuration says about bodies (see ServerSettings)."""

    csv_header: HeaderMode = "auto"
    columns: csvtext.Columns | None = None  # the model's, for telling a header from data


# -- decoders ----------------------------------------------------------------------------


def decode_npy(body: bytes, options: DecodeOptions) -> Decoded:
    if not body.startswith(npyformat.MAGIC):
        raise bad_request("The body is not a valid .npy file (it must start with numpy's "
                          "magic string; write it with numpy.save).")
    try:
        array = npyformat.read(body)  # np.save's plain form, without np.load's literal_eval
    except npyformat.CutShortError as error:
        raise bad_request(f"The .npy body is cut short: {error}.") from None
    if array is None:
        array = _np_load(body)
    if array.dtype.kind not in "biuf":
        raise bad_request(f"The .npy array has dtype {array.dtype}; expected numbers.")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise bad_request(f"The .npy array has {array.ndim} dimensions; expected 2 "
                          "(rows x features) or 1 (one row).")
    return Decoded(None, array.shape[1], values=array.astype(np.float64))


def _np_load(body: bytes) -> NDArray[Any]:
    """Any other .npy form numpy reads (Fortran order, version 2 or 3, other spacing),
    with the first line of numpy's words for what is wrong with a broken one."""
    try:
        array: NDArray[Any] = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as error:
        raise bad_request(f"The body is not a numeric .npy array: {_first_line(error)}") \
            from None
    except (MemoryError, OverflowError):  # np.load allocates the header's shape first
        raise bad_request("The .npy header announces an array far larger than the body; "
                          "the body is cut short or its header is wrong.") from None
    except RecursionError:  # literal_eval of a header nested thousands deep
        raise bad_request("The body is not a numeric .npy array: its header is nested too "
                          "deeply to be a shape and dtype; write it with numpy.save.") from None
    except tokenize.TokenError:  # numpy's second try at a header literal_eval refused
        raise bad_request("The body is not a numeric .npy array: its header ends inside a "
                          "bracket or a string (is the header length right?).") from None
    except Exception as error:  # EOFError, OSError, ...: whatever else a reader of untrusted
        # bytes raises is the body's fault, and a 400, never a 500
        raise bad_request(f"The body is not a valid .npy file: {_first_line(error)}") \
            from None
    return array


def _first_line(error: Exception) -> str:
    """numpy's message without the advice for trusted files that may follow it (such as
    passing ``allow_pickle=True``, which a server must not)."""
    return str(error).split("\n", 1)[0]


LARGE_CSV_BYTES = 256 * 1024


def decode_csv(body: bytes, options: DecodeOptions) -> Decoded:
    """CSV records; batch-sized all-numeric bodies go through pandas' C parser (5x faster
    there), anything else through the standard library's csv module, cell by cell."""
    if len(body) >= LARGE_CSV_BYTES:
        fast = _fast_csv(body, options)
        if fast is not None:
            return fast
    return _careful_csv(body, options)


def _fast_csv(body: bytes, options: DecodeOptions) -> Decoded | None:
    """All-numeric bodies via pandas; None leaves anything unusual to the careful parser,
    which names the row and column at fault. pandas loads on the first large body only,
    so real-time serving never imports it."""
    import pandas as pd

    head = body[:65536].decode("utf-8", "replace")
    try:
        header = csvtext.has_header(csvtext.first_row(io.StringIO(head, newline="")),
                                    options.csv_header, options.columns)
    except csvtext.CsvError:
        return None
    try:
        frame = pd.read_csv(io.BytesIO(body), header=0 if header else None,
                            dtype=np.float64, skip_blank_lines=False, engine="c")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    rows = frame.to_numpy(dtype=np.float64)
    if rows.size == 0 or np.isnan(rows).any():
        return None  # empty cells, short rows or blank lines: let the careful parser say where
    names = [str(c).strip() for c in frame.columns] if header else None
    return Decoded(names, rows.shape[1], values=rows)


def _careful_csv(body: bytes, options: DecodeOptions) -> Decoded:
    try:
        rows = csvtext.read_rows(_text(body))
    except csvtext.CsvError as error:
        raise bad_request(f"The CSV body is malformed: {error}.") from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise bad_request("The CSV body is empty; send one row of features per line.")
    names = None
    if csvtext.has_header(rows[0], options.csv_header, options.columns):
        names = [cell.strip() for cell in rows[0]]
        rows = rows[1:]
        if not rows:
            raise bad_request("The CSV body has a header but no rows.")
    width = len(rows[0])
    for index, row in enumerate(rows):
        if not row:
            raise bad_request(f"CSV row {index + 1} is empty; every line must be a record.",
                              index + 1)
        if len(row) != width:
            raise bad_request(f"CSV row {index + 1} has {len(row)} columns; row 1 has "
                              f"{width}.", index + 1)
    return Decoded(names, width, cells=rows, text=True)


def decode_json(body: bytes, options: DecodeOptions) -> Decoded:
    data = _json(body)
    if isinstance(data, dict):
        for key in ("instances", "inputs", "data", "features"):
            if key in data:
                return _records(data[key], f"'{key}'")
        if "dataframe_split" in data and isinstance(data["dataframe_split"], dict):
            split = data["dataframe_split"]
            decoded = _records(split.get("data"), "'dataframe_split.data'")
            columns = [str(c) for c in split.get("columns") or []] or None
            return replace(decoded, names=columns)
        return _records([data], "the object")
    return _records(data, "the body")


def decode_jsonlines(body: bytes, options: DecodeOptions) -> Decoded:
    lines = _text(body).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise bad_request("The JSON Lines body is empty; send one JSON row per line.")
    items = []
    for index, line in enumerate(lines):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise bad_request(f"JSON Lines line {index + 1} is not valid JSON: {error}",
                              index + 1) from None
        if isinstance(item, dict) and "features" in item:
            item = item["features"]
        items.append(item)
    return _records(items, "the lines")


Decoder = Callable[[bytes, DecodeOptions], Decoded]
DECODERS: dict[str, Decoder] = {
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
                                  f"has {sorted(names)}.", index + 1)
        return _rows([[item[name] for name in names] for item in items], names)
    if not any(isinstance(item, (list, dict)) for item in items):
        return _rows([items], None)  # one flat row
    if not all(isinstance(item, list) for item in items):
        raise bad_request(f"Rows in {where} must all be lists (or all records).")
    return _rows(items, None)


def _rows(rows: list[list[Any]], names: list[str] | None) -> Decoded:
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise bad_request(f"Row {index + 1} has {len(row)} values; row 1 has {width}.",
                              index + 1)
    return Decoded(names, width, cells=rows)


# -- records to codes ---------------------------------------------------------------------


def to_codes(decoded: Decoded, schema: Schema, sent: Sequence[int],
             unknown: UnknownCells) -> Array:
    """The records as the model's codes, columns in the model's order (which the body sent
    at the 0-based positions ``sent``, for messages): numbers for numeric features, level
    codes for categorical ones. A cell the model cannot read is a 400 naming its row and
    column; one it cannot place is too, unless the model ignores unknown values, when it
    is noted in ``unknown``."""
    try:
        if decoded.values is not None:
            return schema.encode(decoded.values, unknown)
        if schema.numeric_only:
            numbers = _numbers_at_once(decoded, schema.names, sent)
            if numbers is not None:
                return schema.encode(numbers, unknown)
        return schema.encode_columns(_columns(decoded, schema, sent), unknown)
    except UnknownValueError as error:
        raise bad_request(_at_position(str(error), error.column, schema, sent),
                          error.row + 1) from None


def _numbers_at_once(decoded: Decoded, names: Sequence[str],
                     sent: Sequence[int]) -> Array | None:
    """Every cell a number: one conversion for the whole body (the one-row fast path)."""
    cells = decoded.cells or []
    if not decoded.text:
        _check_json_numbers(cells, names, sent)
    try:
        return np.array(cells, dtype=np.float64).reshape(len(cells), decoded.width)
    except (ValueError, TypeError):
        return None  # a missing cell, or not a number: the schema says which and where


def _columns(decoded: Decoded, schema: Schema, sent: Sequence[int]) -> list[NDArray[Any]]:
    """Each column's cells; JSON cells in numeric columns must be numbers (or null)."""
    cells = decoded.cells or []
    columns = [np.empty(len(cells), dtype=object) for _ in range(decoded.width)]
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            columns[c][r] = value
    if not decoded.text:
        for c, feature in enumerate(schema.features):
            if feature.categorical:
                continue
            for r, value in enumerate(columns[c]):
                if value is not None and (isinstance(value, bool) or
                                          not isinstance(value, (int, float))):
                    raise _not_a_number(r, c, value, schema.names, sent)
    return columns


def _check_json_numbers(cells: list[list[Any]], columns: Sequence[str],
                        sent: Sequence[int]) -> None:
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, (int, float))):
                raise _not_a_number(r, c, value, columns, sent)


def _not_a_number(r: int, c: int, value: Any, columns: Sequence[str],
                  sent: Sequence[int]) -> ClientError:
    shown = repr(value)
    shown = shown if len(shown) <= 42 else shown[:39] + "..."
    return bad_request(f"Row {r + 1}, column {sent[c] + 1} ({columns[c]}): {shown} is not a "
                       "number.", r + 1)


def _at_position(message: str, column: str, schema: Schema, sent: Sequence[int]) -> str:
    """The schema's message with the column's position in the body beside its name."""
    index = list(schema.names).index(column) if column in schema.names else None
    if index is None:
        return message
    return message.replace(f"column '{column}'", f"column {sent[index] + 1} ({column})", 1)
