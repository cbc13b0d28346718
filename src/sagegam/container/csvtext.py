"""CSV text, read and written in one place: cells, header detection, rows out.

Training files, request bodies and the local batch runtime all go through these few
functions, so a quoted cell (``"x,1"``) or a quote inside a cell (``a"b``) means the same
everywhere, and whether a first row is a header is decided by one rule. The standard
library's ``csv`` module does the quoting; nothing here imports pandas, so the serving
path stays light.

Whether a body or file starts with a header is decided once per document: per training
file, per real-time request (each request is a whole document), and by configuration in
batch transform, where SageMaker splits a file into mini-batches and only the first one
could carry the header (so no mini-batch is ever sniffed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sagegam.model.schema import MISSING_TOKENS

HeaderMode = Literal["auto", "present", "absent"]
HEADER_MODES: tuple[HeaderMode, ...] = ("auto", "present", "absent")


class CsvError(ValueError):
    """Text the csv module cannot split into cells (e.g. a cell over its size limit)."""


def read_rows(text: str) -> list[list[str]]:
    """Every record of ``text`` as a list of cells; blank lines are empty lists."""
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise CsvError(str(error)) from None


def first_row(lines: Iterable[str]) -> list[str] | None:
    """The first record of a file or body (a quoted cell may span lines), or None."""
    try:
        return next(csv.reader(lines), None)
    except csv.Error as error:
        raise CsvError(str(error)) from None


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Columns:
    """What a model knows of the columns it reads: names, and which hold numbers."""

    names: tuple[str, ...]
    numeric: tuple[bool, ...]


def looks_like_header(cells: Sequence[str], columns: Columns | None = None) -> bool:
    """The one rule for ``auto``, used by every caller.

    Without a model (a training file): a first row none of whose cells is a number, since
    data rows may hold text in categorical columns but a header holds names. With one (a
    request): a row naming any of the model's features, or one with no number (nor missing
    value) in any column where the model reads numbers; so a row of data with one typo is
    still data, and its error names the cell.
    """
    stripped = [cell.strip() for cell in cells]
    if columns is None:
        return bool(stripped) and not any(is_number(cell) for cell in stripped)
    if set(stripped) & set(columns.names):
        return True
    numeric = [cell for cell, wants_number in zip(stripped, columns.numeric, strict=False)
               if wants_number]
    if len(stripped) != len(columns.numeric) or not numeric:
        return not any(is_number(cell) for cell in stripped)
    return not any(is_number(cell) or cell in MISSING_TOKENS for cell in numeric)


def has_header(first: Sequence[str] | None, mode: HeaderMode,
               columns: Columns | None = None) -> bool:
    """Whether ``first`` (a document's first row) is a header under ``mode``."""
    if mode == "present":
        return first is not None
    if mode == "absent" or first is None:
        return False
    return looks_like_header(first, columns)


def format_rows(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV text, one line each, quoted only where a cell needs it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def format_numbers(rows: Iterable[Sequence[float]]) -> str:
    """Rows of numbers, which never need quoting, as CSV text (floats as repr, so they
    read back exactly); faster than the csv module, which quotes nothing here anyway."""
    return "".join([",".join(map(repr, row)) + "\n" for row in rows])


def format_column(values: Sequence[Any], numbers: bool) -> str:
    """One value per line; ``numbers`` says no value needs quoting (the common, fast case
    of one prediction per row)."""
    if not numbers:
        return format_rows([value] for value in values)
    return "\n".join(map(repr, values)) + "\n" if len(values) else ""


def format_row(cells: Sequence[Any]) -> str:
    """One row as a CSV line, without the line break."""
    return format_rows([cells])[:-1]
