"""Training channels as chunk sources: files read again for every pass, or Pipe mode.

A streaming fit (:mod:`~sagegam.model.streaming`) reads its data several times, one chunk
in memory at a time. :class:`FileSource` serves a channel's files (File and FastFile
modes: a folder; each file is one piece, read in chunks of ``STREAM_ROWS`` rows by
:mod:`~sagegam.container.tabular`'s readers, with their checks and messages).
:class:`PipeSource` serves Pipe mode: SageMaker streams the channel's objects through a
FIFO per pass, ``train_0``, ``train_1``, ..., created as the job opens them; CSV (a header
repeated by each object is skipped) and JSON Lines, gzip or not. Parquet needs random
access, so it takes File or FastFile mode.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sagegam.container import csvtext
from sagegam.container.errors import UserError
from sagegam.container.tabular import (
    HEADER_SETTINGS,
    ReadOptions,
    channel_files,
    csv_frames,
    file_format,
    frames,
    jsonl_frames,
    split_target,
)
from sagegam.model.chunks import Chunk, Task

T = TypeVar("T")
STREAM_ROWS = 250_000  # rows per chunk of a streamed channel: a file read by each of two
# threads in chunks of a million rows peaked at 1.9 GB, in a quarter of that at 1.2 GB
SAMPLE_ROWS = 5_000  # rows kept for the plot's partial residuals


@dataclass(frozen=True)
class FileSource:
    """A channel's files, one piece each, read chunk by chunk on every pass."""

    files: tuple[Path, ...]
    content_type: str | None
    options: ReadOptions
    names: tuple[str, ...]  # the feature columns (the target left out)
    rows: int = STREAM_ROWS
    threads: int = 0  # files read at once; 0: one per core (numpy and pyarrow let go of
    # the interpreter lock in the work that counts: decoding, arithmetic, bincounts)

    @classmethod
    def of(cls, paths: str | Path | list[str | Path], *, target: int | str = -1,
           header: str = "auto", content_type: str | None = None,
           labels: bool = False) -> FileSource:
        """Files (or every file below a folder) with the target column ``target``;
        ``labels``: the target holds class labels (a classification), not numbers."""
        items = [paths] if isinstance(paths, (str, Path)) else list(paths)
        files: list[Path] = []
        for item in map(Path, items):
            files += channel_files(item, None) if item.is_dir() else [item]
        missing = [str(f) for f in files if not f.is_file()]
        if missing or not files:
            raise UserError(f"No such data file: {', '.join(missing) or paths}.")
        return cls.open(files, content_type, ReadOptions(target, header, not labels))

    @classmethod
    def open(cls, files: list[Path], content_type: str | None, options: ReadOptions,
             rows: int = STREAM_ROWS) -> FileSource:
        """The source, with its columns read from the first chunk of the first file."""
        first = next(iter(file_chunks(files[0], content_type, options, None, 2)), None)
        if first is None:
            raise UserError(f"No data rows in {files[0].name}.")
        return cls(tuple(files), content_type, options, tuple(first.X.columns), rows)

    @property
    def feature_names(self) -> list[str]:
        return list(self.names)

    @property
    def n_features(self) -> int:
        return len(self.names)

    def map(self, task: Task[T]) -> Iterator[T]:
        """Each file's result as it comes, in the files' order: a pass over many files
        holds a few results (a design pass's cross-tabulations are ~25 MB each), not all."""
        threads = min(self.threads or os.cpu_count() or 1, len(self.files))
        if threads <= 1:
            yield from (task(i, self.chunks(i)) for i in range(len(self.files)))
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:  # map keeps the files' order
            yield from pool.map(lambda i: task(i, self.chunks(i)), range(len(self.files)))

    def chunks(self, piece: int) -> Iterator[Chunk]:
        return file_chunks(self.files[piece], self.content_type, self.options, self.names,
                            self.rows)

    def sample(self) -> Chunk:
        """Up to SAMPLE_ROWS rows from the first file (the plot's points)."""
        chunk = next(file_chunks(self.files[0], self.content_type, self.options, self.names,
                                  SAMPLE_ROWS))
        return chunk


def file_chunks(path: Path, content_type: str | None, options: ReadOptions,
                 names: tuple[str, ...] | None, rows: int) -> Iterator[Chunk]:
    kind = file_format(path, content_type)
    for first_line, frame in frames(path, kind, options.header, rows):
        yield _chunk(frame, path, first_line, options, names)


def _chunk(frame: Any, path: Path, first_line: int, options: ReadOptions,
           names: tuple[str, ...] | None) -> Chunk:
    X, y = split_target(frame, path, first_line, options)
    if names is not None and tuple(X.columns) != names:
        raise UserError(f"{path.name} has feature columns {list(X.columns)}, but the first "
                        f"file has {list(names)}; every file needs the same columns.")
    return Chunk(X, np.asarray(y))


@dataclass
class PipeSource:
    """A Pipe-mode channel: each pass reads the next FIFO, ``{channel}_{n}``."""

    data_dir: Path
    channel: str
    content_type: str | None
    options: ReadOptions
    rows: int = STREAM_ROWS
    passes: int = 0
    names: tuple[str, ...] = ()
    _opened: Iterator[Chunk] | None = None  # the first pass, its first chunk read

    @property
    def feature_names(self) -> list[str]:
        if not self.names:
            # A FIFO is read once: the first pass starts here, and map() continues it.
            chunks = self._chunks(self._next_fifo())
            first = next(chunks, None)
            if first is None:
                raise UserError(f"Pipe mode: {self.fifo(0).name} delivered no data rows.")
            self._opened = itertools.chain([first], chunks)
        return list(self.names)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def fifo(self, n: int) -> Path:
        return self.data_dir / f"{self.channel}_{n}"

    def map(self, task: Task[T]) -> list[T]:
        chunks, self._opened = self._opened, None
        return [task(0, chunks if chunks is not None else self._chunks(self._next_fifo()))]

    def _next_fifo(self) -> Path:
        path = self.fifo(self.passes)
        self.passes += 1
        if not path.exists():
            raise UserError(f"Pipe mode: {path} does not exist; SageMaker creates "
                            f"{self.channel}_0, {self.channel}_1, ... one per pass over the "
                            "channel. Is the channel's TrainingInputMode Pipe?")
        return path

    def _chunks(self, path: Path) -> Iterator[Chunk]:
        kind = _pipe_format(self.content_type)
        with path.open("rb") as raw:
            stream = _decompressed(io.BufferedReader(raw))  # type: ignore[arg-type]
            text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
            if kind == "jsonl":
                chunks = jsonl_frames(text, path.name, self.rows)
            else:
                first = text.readline()
                present = _header(first, self.options.header, path)
                chunks = csv_frames(_Lines(text, first, skip=first if present else None),
                                    path.name, present, self.rows)
            for first_line, frame in chunks:
                chunk = _chunk(frame, path, first_line, self.options, self.names or None)
                self.names = self.names or tuple(chunk.X.columns)
                yield chunk


def _pipe_format(content_type: str | None) -> str:
    kind = file_format(Path("pipe.csv"), content_type)
    if kind == "parquet":
        raise UserError("Parquet cannot be read through Pipe mode (a Parquet file is read "
                        "from its end); use TrainingInputMode File or FastFile, or CSV or "
                        "JSON Lines data.")
    return kind


def _decompressed(stream: io.BufferedReader) -> Any:
    return gzip.GzipFile(fileobj=stream) if stream.peek(2)[:2] == b"\x1f\x8b" else stream


def _header(first: str, setting: str, path: Path) -> bool:
    row = csvtext.first_row(io.StringIO(first)) if first.strip() else None
    if not row:
        raise UserError(f"{path.name} is empty or starts with a blank line.")
    return csvtext.has_header([cell.strip() for cell in row], HEADER_SETTINGS[setting])


class _Lines:
    """A text stream for pandas that puts ``first`` back and drops later copies of
    ``skip``: in Pipe mode each S3 object's header arrives again mid-stream."""

    def __init__(self, text: io.TextIOWrapper, first: str, skip: str | None) -> None:
        self.text, self.pending, self.skip = text, first, skip

    def read(self, size: int = -1) -> str:
        parts, total = [self.pending], len(self.pending)
        self.pending = ""
        while size < 0 or total < size:
            line = self.text.readline()
            if not line:
                break
            if self.skip is not None and line == self.skip:
                continue
            parts.append(line)
            total += len(line)
        return "".join(parts)

    def __iter__(self) -> Iterator[str]:
        while chunk := self.read(1 << 16):
            yield chunk
