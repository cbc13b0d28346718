"""Reading a training channel (CSV, gzip CSV, Parquet, JSON Lines) into a table.

Files are read in chunks of ``CHUNK_ROWS`` rows, each chunk typed at once by pandas:
numeric columns become float64, text columns stay text (categorical features, which the
model reads as levels), and the cells :data:`~sagegam.model.schema.MISSING_TOKENS` name
are missing values, the same tokens a request body may use. So a multi-gigabyte CSV never
exists as text and numbers at the same time. Every problem is reported with the file, the
1-based line (or record) and the column at fault.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sagegam.container import csvtext
from sagegam.container.csvtext import HeaderMode
from sagegam.container.errors import UserError
from sagegam.model.features import mistyped_numbers
from sagegam.model.schema import MISSING_TOKENS

CHUNK_ROWS = 200_000
CSV_TYPES = ("text/csv", "text/x-csv", "application/csv")
PARQUET_TYPES = ("application/x-parquet", "application/parquet", "application/vnd.apache.parquet")
JSONL_TYPES = ("application/jsonlines", "application/x-jsonlines", "application/json-lines",
               "application/jsonl")
EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
              ".jsonlines": "jsonl", ".json": "jsonl"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Table:
    X: pd.DataFrame  # the features: numeric columns as float64, text columns as text
    y: NDArray[Any]
    feature_names: list[str]
    target_name: str


@dataclass(frozen=True)
class ReadOptions:
    target: int | str = -1
    header: str = "auto"  # "auto", "true" or "false"
    numeric_target: bool = True


def channel_files(directory: Path, only_file: str | None) -> list[Path]:
    """The channel's data files: the one named, or every visible file below it, sorted.

    A symbolic link is followed only if it stays inside the channel: SageMaker never
    makes links, so one pointing elsewhere (``/etc/passwd``) is refused, not read.
    """
    if not directory.is_dir():
        raise UserError(f"Channel directory {directory} does not exist.")
    if only_file is not None:
        path = directory / only_file
        if not path.is_file():
            found = ", ".join(p.name for p in _visible_files(directory)[:10]) or "none"
            raise UserError(f"File '{only_file}' is not in channel {directory.name} "
                            f"(files there: {found}).")
        return [_inside(path, directory)]
    files = _visible_files(directory)
    if not files:
        raise UserError(f"Channel {directory.name} has no data files in {directory}.")
    return [_inside(path, directory) for path in files]


def _inside(path: Path, directory: Path) -> Path:
    target = path.resolve()
    if not target.is_relative_to(directory.resolve()):
        raise UserError(f"{path.relative_to(directory)} in channel {directory.name} is a link "
                        f"to {target}, outside the channel; a channel's links must stay "
                        "inside it.")
    return path


def _visible_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not any(part.startswith(".")
                                             for part in p.relative_to(directory).parts))


def file_format(path: Path, content_type: str | None) -> str:
    """``csv``, ``parquet`` or ``jsonl``: the channel's ContentType first, then the name."""
    if content_type:
        base = content_type.split(";")[0].strip().lower()
        for kind, types in (("csv", CSV_TYPES), ("parquet", PARQUET_TYPES),
                            ("jsonl", JSONL_TYPES)):
            if base in types:
                return kind
        raise UserError(f"Unsupported ContentType '{content_type}' for {path.name}; use "
                        "text/csv, application/x-parquet or application/jsonlines.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return EXTENSIONS.get(suffixes[-1], "csv") if suffixes else "csv"


def read_table(files: list[Path], content_type: str | None, options: ReadOptions,
               progress: Progress) -> Table:
    """All files of a channel as one table, with the same columns in each."""
    parts_X: list[pd.DataFrame] = []
    parts_y: list[NDArray[Any]] = []
    columns: list[str] | None = None
    for path in files:
        kind = file_format(path, content_type)
        rows = 0
        for first_line, frame in frames(path, kind, options.header):
            if columns is None:
                columns = [str(c) for c in frame.columns]
            elif [str(c) for c in frame.columns] != columns:
                raise UserError(f"{path.name} has columns {list(frame.columns)}, but earlier "
                                f"files have {columns}; every file needs the same columns.")
            X, y = split_target(frame, path, first_line, options)
            parts_X.append(X)
            parts_y.append(y)
            rows += len(frame)
        progress(f"read {rows:,} rows from {path.name}")
    if columns is None or not parts_X or sum(len(x) for x in parts_X) == 0:
        raise UserError(f"No data rows in {', '.join(p.name for p in files)}.")
    target_index = _target_index(columns, options.target, files[0])
    features = [c for i, c in enumerate(columns) if i != target_index]
    X = pd.concat(parts_X, ignore_index=True) if len(parts_X) > 1 else parts_X[0]
    if X.shape[1] == 0:
        raise UserError("The data has only the target column; it needs at least one feature.")
    return Table(X, np.concatenate(parts_y), features, columns[target_index])


def frames(path: Path, kind: str, header: str,
           rows: int = CHUNK_ROWS) -> Iterator[tuple[int, pd.DataFrame]]:
    """Chunks of the file with the 1-based line (record) number of their first row."""
    if kind == "parquet":
        yield from _parquet_frames(path, rows)
    elif kind == "jsonl":
        yield from jsonl_frames(path, path.name, rows, _compression(path))
    else:
        yield from csv_frames(path, path.name, _has_header(path, header), rows,
                              _compression(path))



def csv_frames(source: Any, name: str, present: bool, rows: int,
               compression: Literal["gzip"] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """CSV chunks from a path or a text stream; ``present``: it starts with a header."""
    path = Path(name)
    try:
        reader = pd.read_csv(source, header=0 if present else None, chunksize=rows,
                             compression=compression, skipinitialspace=True,
                             low_memory=False, keep_default_na=False,
                             na_values=sorted(MISSING_TOKENS))
        line = 2 if present else 1
        with reader:
            for frame in reader:
                if not present:
                    frame.columns = [f"x{i}" for i in range(frame.shape[1])]
                yield line, frame
                line += len(frame)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path.name} is empty.") from None
    except pd.errors.ParserError as error:
        raise UserError(f"{path.name} is not valid CSV: {error}") from None
    except (UnicodeDecodeError, EOFError, OSError) as error:
        raise UserError(f"{path.name} cannot be read as CSV text: {error}") from None


def _compression(path: Path) -> Literal["gzip"] | None:
    with path.open("rb") as handle:
        return "gzip" if handle.read(2) == b"\x1f\x8b" else None


HEADER_SETTINGS: dict[str, HeaderMode] = {"auto": "auto", "true": "present", "false": "absent"}


def _has_header(path: Path, header: str) -> bool:
    """Decided once per file, from its first record, by the shared CSV rule."""
    opener: Any = gzip.open if _compression(path) else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            first = csvtext.first_row(handle)
    except (UnicodeDecodeError, OSError, EOFError, csvtext.CsvError) as error:
        raise UserError(f"{path.name} cannot be read as CSV text: {error}") from None
    if not first or not any(cell.strip() for cell in first):
        raise UserError(f"{path.name} is empty or starts with a blank line.")
    return csvtext.has_header([cell.strip() for cell in first], HEADER_SETTINGS[header])


def _parquet_frames(path: Path, rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("Reading Parquet needs pyarrow: install 'sagegam[parquet]'.") from None
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=rows)
        record = 1
        while (batch := next(batches, None)) is not None:
            frame = batch.to_pandas()
            yield record, frame
            record += len(frame)
    except (OSError, pa.ArrowException) as error:
        raise UserError(f"{path.name} is not a valid Parquet file: {error}") from None


def jsonl_frames(source: Any, name: str, rows: int,
                 compression: Literal["gzip"] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """JSON Lines chunks from a path or a text stream."""
    path = Path(name)
    try:
        reader: Any = pd.read_json(source, lines=True, chunksize=rows,  # type: ignore[call-overload]
                                   compression=compression)
        line = 1
        with reader:
            for frame in reader:
                if all(isinstance(c, int) for c in frame.columns):
                    frame.columns = [f"x{i}" for i in frame.columns]
                yield line, frame
                line += len(frame)
    except (ValueError, OSError, EOFError) as error:
        raise UserError(f"{path.name} is not valid JSON Lines (one JSON object or array per "
                        f"line): {error}") from None


def _target_index(columns: list[str], target: int | str, path: Path) -> int:
    if isinstance(target, str):
        if target not in columns:
            raise UserError(f"Target column '{target}' is not in the header of {path.name}; "
                            f"the columns are {columns}.")
        return columns.index(target)
    if not -len(columns) <= target < len(columns):
        raise UserError(f"Target column index {target} is out of range for {len(columns)} "
                        f"columns in {path.name}.")
    return target % len(columns)


def split_target(frame: pd.DataFrame, path: Path, first_line: int,
           options: ReadOptions) -> tuple[pd.DataFrame, NDArray[Any]]:
    columns = [str(c) for c in frame.columns]
    target_index = _target_index(columns, options.target, path)
    X = _features(frame.drop(columns=frame.columns[target_index]), path, first_line)
    target = frame.iloc[:, target_index]
    if options.numeric_target:
        y = _numeric(target.to_frame(), path, first_line)[:, 0]
    else:
        missing = target.isna().to_numpy()
        if missing.any():
            row = int(np.argmax(missing))
            raise UserError(f"{path.name}, line {first_line + row}: the target "
                            f"'{columns[target_index]}' is empty.")
        y = target.to_numpy()
    return X, y


def _features(frame: pd.DataFrame, path: Path, first_line: int) -> pd.DataFrame:
    """Numbers as float64, text as text; a numeric column with a stray word is refused
    here, with its line, rather than read as a factor of every number."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
            frame[name] = column.astype(np.float64)
        elif column.dtype == object or pd.api.types.is_string_dtype(column):
            row = mistyped_numbers(column)
            if row is not None:
                raise UserError(
                    f"{path.name}, line {first_line + row}, column '{name}': "
                    f"{str(column.iloc[row])[:40]!r} is not a number, though the column's "
                    "other values are; fix the cell, or name the column in the "
                    "categorical-features hyperparameter to read every value as a level.")
    for name in frame.select_dtypes("number").columns:
        # np.isinf per column: pandas' isin([inf, -inf]) hashes every cell, ten times slower.
        infinite = np.isinf(frame[name].to_numpy())
        if infinite.any():
            row = int(np.argmax(infinite))
            raise UserError(f"{path.name}, line {first_line + row}, column '{name}': the "
                            "value is infinite; numbers must be finite.")
    return frame


def _numeric(frame: pd.DataFrame, path: Path, first_line: int) -> NDArray[np.float64]:
    """The frame as float64, or a UserError naming the first bad cell."""
    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce")
            bad = (numbers.isna() & column.notna()).to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise UserError(f"{path.name}, line {first_line + row}, column '{name}': "
                                f"{column.iloc[row]!r} is not a number.")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        row, col = (int(i) for i in np.argwhere(~finite)[0])
        what = "empty" if np.isnan(values[row, col]) else f"{values[row, col]} (not finite)"
        raise UserError(f"{path.name}, line {first_line + row}, column "
                        f"'{frame.columns[col]}': the value is {what}; every cell must be a "
                        "finite number.")
    return values
