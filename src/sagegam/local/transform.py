"""Local batch transform: SageMaker's CreateTransformJob semantics against a real server.

A temporary endpoint serves the model; input files are split into records (``Line``) or
sent whole (``None``), packed into mini-batches up to ``MaxPayloadInMB`` (``MultiRecord``)
or sent one record each (``SingleRecord``), ``MaxConcurrentTransforms`` at a time, and the
answers are assembled in order into ``<file>.out``. Every run checks that each input
record got exactly one output line; a failing mini-batch fails the job with the server's
message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagegam.local import endpoints
from sagegam.local.state import LocalError, check_name
from sagegam.local.training import Engine


@dataclass(frozen=True)
class TransformSpec:
    name: str
    model: Path
    inputs: list[Path]
    output_dir: Path
    content_type: str = "text/csv"
    split_type: str = "Line"  # or "None"
    batch_strategy: str = "MultiRecord"  # or "SingleRecord"
    max_payload_mb: float = 6.0
    max_concurrent: int = 0  # 0: what the server's /execution-parameters suggests
    accept: str | None = None  # default: the input content type
    assemble_with: str = "Line"  # or "None"
    join_source: str = "None"  # or "Input"
    input_filter: str | None = None  # JSONPath-like column selection, e.g. "$[1:]"
    output_filter: str | None = None
    engine: Engine = field(default_factory=Engine)


@dataclass(frozen=True)
class Batch:
    file_index: int
    records: list[str]


def validate(spec: TransformSpec) -> None:
    check_name(spec.name, "transform job")
    choices = {"split_type": ("Line", "None"), "batch_strategy": ("MultiRecord", "SingleRecord"),
               "assemble_with": ("Line", "None"), "join_source": ("None", "Input")}
    for key, allowed in choices.items():
        if getattr(spec, key) not in allowed:
            raise LocalError(f"{key}={getattr(spec, key)!r}; use one of {allowed}.")
    if spec.max_payload_mb <= 0 or spec.max_payload_mb > 100:
        raise LocalError("max_payload_mb must be in (0, 100] (SageMaker's MaxPayloadInMB).")
    if spec.join_source == "Input" and spec.split_type != "Line":
        raise LocalError("JoinSource=Input needs SplitType=Line: outputs join records one to one.")


def input_files(inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and
                            not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise LocalError(f"Transform input {path} does not exist.")
    if not files:
        raise LocalError("The transform inputs hold no files.")
    return files


def run_transform(spec: TransformSpec,
                  progress: Callable[[int], None] = lambda _: None) -> dict[str, Any]:
    """Run the job to its end; returns a DescribeTransformJob-like summary."""
    validate(spec)
    files = input_files(spec.inputs)
    concurrency = spec.max_concurrent or 2
    endpoint = f"transform-{spec.name}"
    endpoints.deploy(endpoint, spec.model, spec.engine, workers=concurrency)
    try:
        record = endpoints.describe(endpoint)
        concurrency = spec.max_concurrent or _suggested_concurrency(record["Url"])
        counts = _transform_files(spec, files, record["Url"], concurrency, progress)
    finally:
        endpoints.delete(endpoint)
    return {"TransformJobName": spec.name, "TransformJobStatus": "Completed",
            "MaxConcurrentTransforms": concurrency, "BatchStrategy": spec.batch_strategy,
            "Outputs": {str(spec.output_dir / (f.name + ".out")): n
                        for f, n in zip(files, counts, strict=True)}}


def _suggested_concurrency(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url + "/execution-parameters", timeout=10) as response:
        return max(int(json.loads(response.read())["MaxConcurrentTransforms"]), 1)


def _transform_files(spec: TransformSpec, files: list[Path], url: str, concurrency: int,
                     progress: Callable[[int], None]) -> list[int]:
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    records = [_records(path, spec) for path in files]
    batches = list(_batches(records, spec))
    outputs: list[list[str]] = [[] for _ in files]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        # map() keeps the order of the batches whatever order they finish in.
        for batch, answer in zip(batches, pool.map(lambda b: _send(b, spec, url), batches),
                                 strict=True):
            outputs[batch.file_index] += answer
            progress(len(batch.records))
    counts = []
    for index, path in enumerate(files):
        lines = _joined(records[index], outputs[index], spec)
        if spec.split_type == "Line" and len(lines) != len(records[index]):
            raise LocalError(f"{path.name}: {len(records[index])} records in but {len(lines)} "
                             "out; the transform lost or added records.")
        separator = "\n" if spec.assemble_with == "Line" else ""
        (spec.output_dir / (path.name + ".out")).write_text(
            separator.join(lines) + ("\n" if lines and separator else ""), encoding="utf-8")
        counts.append(len(lines))
    return counts


def _records(path: Path, spec: TransformSpec) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if spec.split_type == "None":
        return [text]
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise LocalError(f"{path.name}, line {number} is empty; every line must be a "
                             "record.")
    return lines


def _batches(records: list[list[str]], spec: TransformSpec) -> Iterator[Batch]:
    limit = int(spec.max_payload_mb * 1024 * 1024)
    for index, lines in enumerate(records):
        if spec.batch_strategy == "SingleRecord" or spec.split_type == "None":
            yield from (Batch(index, [line]) for line in lines)
            continue
        current: list[str] = []
        size = 0
        for line in lines:
            filtered = len(_filtered(line, spec.input_filter, spec)) + 1
            if filtered > limit:
                raise LocalError(f"A record of {filtered:,} bytes exceeds MaxPayloadInMB.")
            if current and size + filtered > limit:
                yield Batch(index, current)
                current, size = [], 0
            current.append(line)
            size += filtered
        if current:
            yield Batch(index, current)


def _send(batch: Batch, spec: TransformSpec, url: str) -> list[str]:
    body = "\n".join(_filtered(r, spec.input_filter, spec) for r in batch.records) + "\n"
    accept = spec.accept or spec.content_type
    answer = endpoints.post(url, body.encode("utf-8"), spec.content_type, accept)
    if answer.status != 200:
        raise LocalError(f"A mini-batch failed with HTTP {answer.status}: "
                         f"{answer.body.decode('utf-8', 'replace')[:500]}")
    lines = answer.body.decode("utf-8").splitlines()
    if spec.split_type == "Line" and len(lines) != len(batch.records):
        raise LocalError(f"The server answered {len(lines)} lines for {len(batch.records)} "
                         "records; use a line-oriented Accept (text/csv, "
                         "application/jsonlines) for batch transform.")
    return lines


def _joined(inputs: list[str], outputs: list[str], spec: TransformSpec) -> list[str]:
    if spec.join_source != "Input":
        lines = outputs
    elif "json" in spec.content_type:
        lines = [_join_json(i, o) for i, o in zip(inputs, outputs, strict=True)]
    else:
        lines = [f"{i},{o}" for i, o in zip(inputs, outputs, strict=True)]
    return [_filtered(line, spec.output_filter, spec) for line in lines]


def _join_json(record: str, output: str) -> str:
    value = json.loads(record)
    answer = json.loads(output)
    if isinstance(value, dict):
        return json.dumps({**value, "SageMakerOutput": answer})
    return json.dumps([*value, answer] if isinstance(value, list) else [value, answer])


def _filtered(record: str, path: str | None, spec: TransformSpec) -> str:
    """Apply a JSONPath-like column selection (``$``, ``$[1:]``, ``$[0,2,4:6]``) to a CSV or
    JSON-array record; other records pass only ``$``."""
    if path is None or path.strip() == "$":
        return record
    indices = _selector(path)
    if "json" in spec.content_type:
        values = json.loads(record)
        if not isinstance(values, list):
            raise LocalError(f"Filter {path!r} needs array records; got {record[:60]!r}.")
        return json.dumps([values[i] for i in indices(len(values))])
    cells = record.split(",")
    return ",".join(cells[i] for i in indices(len(cells)))


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
                    chosen.append(int(part) % width)
            except ValueError:
                raise LocalError(f"Unsupported filter {path!r}.") from None
        return chosen

    return select
