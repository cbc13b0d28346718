"""SageMaker's DataProcessing for batch transform: input and output filters, and joins.

Filters are the JSONPath subset SageMaker documents for CSV and JSON arrays (``$``,
``$[i]``, ``$[a:b]``, ``$[0,2:5]``); CSV records are split and rejoined with the shared
CSV rules, so a quoted cell with a comma stays one column.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sagegam.container import csvtext
from sagegam.local.state import LocalError


def joined(inputs: list[str], outputs: list[str], join_source: str, json_records: bool,
           output_filter: str | None) -> list[str]:
    """Each output line, joined to its input record when ``join_source`` is ``Input``."""
    if join_source != "Input":
        lines = outputs
    elif json_records:
        lines = [_join_json(i, o) for i, o in zip(inputs, outputs, strict=True)]
    else:
        lines = [f"{i},{o}" for i, o in zip(inputs, outputs, strict=True)]
    return [filtered(line, output_filter, json_records) for line in lines]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise LocalError(f"The record {shown!r} is not JSON ({error}).") from None


def _join_json(record: str, output: str) -> str:
    value = _json(record)
    answer = _json(output)
    if isinstance(value, dict):
        return json.dumps({**value, "SageMakerOutput": answer})
    return json.dumps([*value, answer] if isinstance(value, list) else [value, answer])


def filtered(record: str, path: str | None, json_records: bool) -> str:
    """Apply a column selection to a CSV or JSON-array record; other records pass only
    ``$``."""
    if path is None or path.strip() == "$":
        return record
    indices = _selector(path)
    if json_records:
        values = _json(record)
        if not isinstance(values, list):
            raise LocalError(f"Filter {path!r} needs array records; got {record[:60]!r}.")
        return json.dumps([values[i] for i in indices(len(values))])
    cells = csvtext.read_rows(record)[0] if record else []
    return csvtext.format_row([cells[i] for i in indices(len(cells))])


def _index(index: int, width: int, path: str) -> int:
    if not -width <= index < width:
        raise LocalError(f"Filter {path!r} selects column {index}, but the record has "
                         f"{width} column(s).")
    return index % width


def _selector(path: str) -> Callable[[int], list[int]]:
    text = path.strip()
    if not (text.startswith("$[") and text.endswith("]")):
        raise LocalError(f"Unsupported filter {path!r}; use $, $[i], $[a:b] or lists like "
                         "$[0,2:5].")
    parts = [p.strip() for p in text[2:-1].split(",")]

    def select(width: int) -> list[int]:
        chosen: list[int] = []
        for part in parts:
            try:
                if ":" in part:
                    start, _, stop = part.partition(":")
                    chosen += list(range(width))[slice(int(start) if start else None,
                                                       int(stop) if stop else None)]
                else:
                    chosen.append(_index(int(part), width, path))
            except ValueError:
                raise LocalError(f"Unsupported filter {path!r}; use $, $[i], $[a:b] or lists "
                                 "like $[0,2:5].") from None
        return chosen

    return select
