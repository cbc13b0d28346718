"""Response encoders, keyed by MIME type: predictions (and explanations) to bytes."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from sagegam.container import csvtext
from sagegam.container.serving.codecs import CSV, JSON, JSONLINES, NPY, ClientError

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Output:
    """What to send back: one value per row, and optionally explanations."""

    values: NDArray[Any]  # predictions, probabilities or labels
    intercept: float | None = None  # with explanations
    contributions: Array | None = None  # (n, p), link scale
    names: Sequence[str] = ()


# Large outputs are written in blocks of rows: each block is one short call into C
# (tolist, orjson, str.join), so a server thread answering a large request hands the
# interpreter's lock back to the event loop often, and /ping keeps its latency.
BLOCK_ROWS = 2048


def _blocks(n: int) -> list[slice]:
    return [slice(start, start + BLOCK_ROWS) for start in range(0, n, BLOCK_ROWS)]


def _explanations(output: Output, rows: slice) -> list[dict[str, Any]]:
    assert output.contributions is not None
    return [{"intercept": output.intercept,
             "contributions": dict(zip(output.names, row, strict=True))}
            for row in output.contributions[rows].tolist()]


def _json_list(parts: list[bytes]) -> bytes:
    """A JSON array from the orjson encodings of consecutive non-empty slices of it."""
    return b"[" + b",".join(part[1:-1] for part in parts) + b"]"


def encode_json(output: Output) -> bytes:
    blocks = _blocks(len(output.values))
    document = b'{"predictions":' + _json_list(
        [orjson.dumps(output.values[rows].tolist()) for rows in blocks])
    if output.contributions is not None:
        document += b',"explanations":' + _json_list(
            [orjson.dumps(_explanations(output, rows)) for rows in blocks])
    return document + b"}"


def encode_jsonlines(output: Output) -> bytes:
    parts = []
    for rows in _blocks(len(output.values)):
        values = output.values[rows].tolist()
        if output.contributions is None:
            lines = [orjson.dumps({"prediction": value}) for value in values]
        else:
            lines = [orjson.dumps({"prediction": value, **explanation}) for value, explanation
                     in zip(values, _explanations(output, rows), strict=True)]
        parts.append(b"\n".join(lines) + b"\n")
    return b"".join(parts)


def encode_csv(output: Output) -> bytes:
    """One line per row; floats as repr (exact round trip), labels quoted as CSV needs."""
    numbers = output.values.dtype.kind in "biuf"
    parts = []
    for rows in _blocks(len(output.values)):
        values = output.values[rows].tolist()
        if output.contributions is None:
            parts.append(csvtext.format_column(values, numbers))
            continue
        lines = [[value, output.intercept, *row]
                 for value, row in zip(values, output.contributions[rows].tolist(), strict=True)]
        parts.append(csvtext.format_numbers(lines) if numbers else csvtext.format_rows(lines))
    return "".join(parts).encode()


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


ENCODERS: dict[str, Callable[[Output], bytes]] = {
    JSON: encode_json,
    CSV: encode_csv,
    NPY: encode_npy,
    JSONLINES: encode_jsonlines,
}
