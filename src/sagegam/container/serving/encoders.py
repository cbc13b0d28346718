"""Response encoders, keyed by MIME type: predictions (and explanations) to bytes.

Every type carries the same fields in the same order: the prediction, then its standard
error (``std=true``), then the interval's ends (``interval=LEVEL``), then the explanation
(``explain=true``); CSV and npy as columns, JSON as arrays beside ``predictions``, JSON
Lines as keys of each record.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from sagegam.container import csvtext
from sagegam.container.serving import npyformat
from sagegam.container.serving.codecs import CSV, JSON, JSONLINES, NPY, ClientError

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Output:
    """What to send back: one value per row, and optionally explanations."""

    values: NDArray[Any]  # predictions, probabilities or labels
    intercept: float | None = None  # with explanations
    contributions: Array | None = None  # (n, terms), link scale
    names: Sequence[str] = ()  # the terms'
    warnings: Sequence[str] = ()  # cells given zero effect (handle_unknown="ignore")
    warned_rows: frozenset[int] = frozenset()  # 0-based rows those cells are in
    std: Array | None = None  # standard error of each prediction, response scale
    level: float | None = None  # with ``lower`` and ``upper``: a pointwise interval
    lower: Array | None = None
    upper: Array | None = None

    def uncertainty(self) -> dict[str, Array]:
        """The columns asked for after the prediction, by name, in the order sent."""
        found = {"std": self.std, "lower": self.lower, "upper": self.upper}
        return {name: column for name, column in found.items() if column is not None}


def _explanations(output: Output) -> list[dict[str, Any]]:
    assert output.contributions is not None
    return [{"intercept": output.intercept,
             "contributions": dict(zip(output.names, row, strict=True))}
            for row in output.contributions.tolist()]


def encode_json(output: Output) -> bytes:
    document: dict[str, Any] = {"predictions": output.values.tolist()}
    if output.level is not None:
        document["level"] = output.level
    document.update((name, column.tolist()) for name, column in output.uncertainty().items())
    if output.contributions is not None:
        document["explanations"] = _explanations(output)
    if output.warnings:
        document["warnings"] = list(output.warnings)
    return orjson.dumps(document)


def encode_jsonlines(output: Output) -> bytes:
    values = output.values.tolist()
    records: list[dict[str, Any]] = [{"prediction": value} for value in values]
    for name, column in output.uncertainty().items():
        for record, value in zip(records, column.tolist(), strict=True):
            record[name] = value
    if output.contributions is not None:
        for record, explanation in zip(records, _explanations(output), strict=True):
            record.update(explanation)
    for row in output.warned_rows:
        records[row]["warning"] = "a value unknown to the model was given zero effect"
    return b"\n".join(orjson.dumps(record) for record in records) + b"\n"


def encode_csv(output: Output) -> bytes:
    """One line per row; floats as repr (exact round trip), labels quoted as CSV needs."""
    if output.values.dtype == np.float64 and len(output.values) >= VECTORIZED_ROWS:
        return _float_lines(_table(output))
    values = output.values.tolist()
    numbers = output.values.dtype.kind in "biuf"
    extra = [column.tolist() for column in output.uncertainty().values()]
    if output.contributions is None and not extra:
        return csvtext.format_column(values, numbers).encode()
    rows = [[value, *cells] for value, *cells in zip(values, *extra, strict=True)]
    if output.contributions is not None:
        for row, terms in zip(rows, output.contributions.tolist(), strict=True):
            row.extend([output.intercept, *terms])
    return (csvtext.format_numbers(rows) if numbers else csvtext.format_rows(rows)).encode()


# Below this many rows the per-value path costs microseconds anyway (one-row requests).
VECTORIZED_ROWS = 256


def _table(output: Output) -> NDArray[Any]:
    """The values (one per line), or the rows ``value, [std, lower, upper,] [intercept,
    contributions...]`` (floats), as every encoder orders them."""
    columns = [output.values, *output.uncertainty().values()]
    if output.contributions is not None:
        columns += [np.full(len(output.values), output.intercept), output.contributions]
    return output.values if len(columns) == 1 else np.column_stack(columns)


def _float_lines(table: Array) -> bytes:
    """``table`` as CSV lines whose every number reads as ``repr`` writes it, in one pass.

    orjson writes the shortest digits that read back exactly (as ``repr`` does) and the
    same text wherever ``|x| >= 1e-4`` or ``x == 0``; below that it writes ``1e-5`` for
    ``repr``'s ``1e-05`` (and ``0.00005`` for ``5e-05``), and ``null`` for nan and inf. So
    those few cells, when there are any, are written by ``repr`` itself.
    """
    magnitude = np.abs(table)
    odd = ~((magnitude >= 1e-4) & (magnitude < np.inf)) & (table != 0)
    text = orjson.dumps(np.ascontiguousarray(table), option=orjson.OPT_SERIALIZE_NUMPY)
    # [a,b,c] is a column (written four times faster than a table), [[a,b],[c,d]] a table;
    # the brackets are cut through a memoryview, so the text is copied once, not twice.
    if table.ndim == 1:
        text, ends = text.replace(b",", b"\n"), 1
    else:
        text, ends = text.replace(b"],[", b"\n"), 2
    lines = memoryview(text)[ends:-ends]
    if not odd.any():
        return b"".join((lines, b"\n"))
    return _with_rows_by_repr(lines, table, np.flatnonzero(odd.reshape(len(table), -1)
                                                           .any(axis=1)))


def _with_rows_by_repr(lines: memoryview, table: Array, rows: NDArray[np.intp]) -> bytes:
    """``lines`` with the ``rows`` written by ``repr``; the others stay as they are, no
    line split off on its own."""
    breaks = np.append(-1, np.flatnonzero(np.frombuffer(lines, dtype=np.uint8) == 10))
    breaks = np.append(breaks, len(lines))  # row r is lines[breaks[r] + 1:breaks[r + 1]]
    pieces: list[bytes | memoryview] = []
    done = 0
    for r in rows.tolist():
        cells = ",".join(map(repr, np.atleast_1d(table[r]).tolist()))
        pieces += [lines[done:int(breaks[r]) + 1], cells.encode()]
        done = int(breaks[r + 1])
    return b"".join([*pieces, lines[done:], b"\n"])


def encode_npy(output: Output) -> bytes:
    values = output.values
    if values.dtype.kind not in "biuf":
        raise ClientError(406, "not_acceptable", "Labels are not numbers, so they cannot be "
                          "sent as application/x-npy; ask for application/json or text/csv.")
    table = _table(output)
    written = npyformat.write(table)  # np.save's bytes, the header from a cache
    if written is not None:
        return written
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    return buffer.getvalue()


ENCODERS: dict[str, Callable[[Output], bytes]] = {
    JSON: encode_json,
    CSV: encode_csv,
    NPY: encode_npy,
    JSONLINES: encode_jsonlines,
}
