"""Local batch transform: SageMaker's CreateTransformJob semantics against a real server.

A temporary endpoint serves the model with SageMaker's batch environment
(``SAGEMAKER_BATCH=true``: every line of a mini-batch is a record, never a header); input
files are split into records (``Line``) or sent whole (``None``), packed into mini-batches
up to ``MaxPayloadInMB`` (``MultiRecord``) or sent one record each (``SingleRecord``),
``MaxConcurrentTransforms`` at a time, and the answers are assembled in order into
``<file>.out``. Whether a CSV file starts with a header is decided once per file, before
anything starts. A mini-batch that gets no answer or a 5xx is retried as SageMaker does
(``InvocationsMaxRetries``, 3); a 4xx fails the job with the server's sentence and the
file's own line number. Every run checks that each input record got exactly one output
line. Files, mini-batches and answers stay bytes (see :mod:`sagegam.local.records`); only
the options that look into each record (filters, SingleRecord, JSON joins) decode them.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagegam.container import csvtext
from sagegam.container.serving.codecs import NPY
from sagegam.local import client, endpoints, whole_files
from sagegam.local.dataprocessing import filtered, joined
from sagegam.local.records import Records, line_batches, read_records
from sagegam.local.state import LocalError, check_name
from sagegam.local.training import Engine

INVOCATION_MAX_RETRIES = 3  # SageMaker's ModelClientConfig.InvocationsMaxRetries default
INVOCATION_TIMEOUT_SECONDS = 600.0  # ... and its InvocationsTimeoutInSeconds default
RETRY_PAUSES_SECONDS = (0.5, 1.0, 2.0)  # time for the server to replace a dead worker


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
    instance_count: int = 1  # SageMaker gives each instance whole files, dealt in turn

    @property
    def json_records(self) -> bool:
        return "json" in self.content_type

    @property
    def binary_input(self) -> bool:
        return whole_files.media_type(self.content_type) == NPY

    @property
    def binary_output(self) -> bool:
        """An npy answer is an array, not lines: it is written as it comes."""
        return whole_files.media_type(self.accept or self.content_type) == NPY

    @property
    def max_payload_bytes(self) -> int:
        return int(self.max_payload_mb * 1024 * 1024)  # as the server counts it


@dataclass(frozen=True)
class Batch:
    file_index: int
    first_line: int  # the file's 1-based line number of the first record
    count: int  # records
    body: bytes | memoryview  # the records, each followed by a line break, as posted


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
    if spec.max_concurrent * spec.max_payload_mb > 100:
        raise LocalError(f"MaxConcurrentTransforms x MaxPayloadInMB must be at most 100 (MB in "
                         f"flight), as SageMaker requires; got {spec.max_concurrent} x "
                         f"{spec.max_payload_mb:g}.")
    whole_files.validate_binary(spec)


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


def run_transform(spec: TransformSpec, progress: Callable[[int], None] = lambda _: None,
                  counted: Callable[[int], None] = lambda _: None) -> dict[str, Any]:
    """Run the job to its end; returns a DescribeTransformJob-like summary. ``counted``
    hears how many records the files hold once they are read, before any server starts;
    ``progress`` how many each answered mini-batch held.

    With several instances each one is an endpoint of its own and scores the files dealt
    to it (file ``i`` to instance ``i mod n``), as SageMaker distributes S3 objects: no
    file is split between instances, and the outputs are the same as on one instance.
    """
    validate(spec)
    if spec.instance_count < 1:
        raise LocalError("instance_count must be at least 1.")
    files = input_files(spec.inputs)
    records = [_records(path, spec) for path in files]  # every refusal before a server starts
    counted(sum(r.count for r in records))
    shares = [list(range(i, len(files), spec.instance_count))
              for i in range(min(spec.instance_count, len(files)))]
    counts: dict[int, int] = {}
    concurrency = spec.max_concurrent
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        done = pool.map(lambda share: _instance(spec, share, files, records, progress),
                        enumerate(shares))
        for found, share_counts in done:
            concurrency = concurrency or found
            counts |= share_counts
    return {"TransformJobName": spec.name, "TransformJobStatus": "Completed",
            "MaxConcurrentTransforms": concurrency, "BatchStrategy": spec.batch_strategy,
            "InstanceCount": len(shares),
            "Outputs": {str(spec.output_dir / (f.name + ".out")): counts[i]
                        for i, f in enumerate(files)}}


def _instance(spec: TransformSpec, numbered: tuple[int, list[int]], files: list[Path],
              records: list[Records],
              progress: Callable[[int], None]) -> tuple[int, dict[int, int]]:
    """One instance: its endpoint scores its files; returns its concurrency and counts."""
    number, share = numbered
    concurrency = spec.max_concurrent or 2
    endpoint = endpoint_name(spec.name if spec.instance_count == 1 else
                             f"{spec.name}-{number + 1}")
    endpoints.deploy(endpoint, spec.model, spec.engine, workers=concurrency,
                     environment=batch_environment(spec))
    try:
        record = endpoints.describe(endpoint)
        concurrency = spec.max_concurrent or _suggested_concurrency(record["Url"])
        target = (record["Url"], record["EndpointId"])
        counts = _transform_files(spec, [files[i] for i in share], [records[i] for i in share],
                                  target, concurrency, progress)
    finally:
        endpoints.delete(endpoint)
    return concurrency, dict(zip(share, counts, strict=True))


def endpoint_name(job: str) -> str:
    """The job's temporary endpoint: ``transform-JOB``, kept within SageMaker's 63
    characters by a digest of the job's name when that is long."""
    name = f"transform-{job}"
    if len(name) <= 63:
        return name
    return f"{name[:54]}-{hashlib.sha256(job.encode()).hexdigest()[:8]}"


def batch_environment(spec: TransformSpec) -> dict[str, str]:
    """What SageMaker sets in a batch transform container."""
    environment = {"SAGEMAKER_BATCH": "true",
                   "SAGEMAKER_MAX_PAYLOAD_IN_MB": f"{spec.max_payload_mb:g}",
                   "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if spec.batch_strategy ==
                   "SingleRecord" else "MULTI_RECORD"}
    if spec.max_concurrent:
        environment["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(spec.max_concurrent)
    return environment


def _suggested_concurrency(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/execution-parameters", timeout=10) as response:
            return max(int(json.loads(response.read())["MaxConcurrentTransforms"]), 1)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LocalError(f"The transform's endpoint did not say how many mini-batches it "
                         f"takes at once ({error}); set --max-concurrent.") from None


def _transform_files(spec: TransformSpec, files: list[Path], records: list[Records],
                     target: tuple[str, str], concurrency: int,
                     progress: Callable[[int], None]) -> list[int]:
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    batches = list(_batches(records, spec))
    outputs: list[list[bytes]] = [[] for _ in files]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        # map() keeps the order of the batches whatever order they finish in.
        answers = pool.map(lambda b: _send(b, spec, target, files[b.file_index]), batches)
        for batch, answer in zip(batches, answers, strict=True):
            outputs[batch.file_index].append(answer)
            progress(batch.count)
    counts = []
    for index, path in enumerate(files):
        if spec.binary_output:  # the array as the server sent it, one record per file
            whole_files.write_binary(spec.output_dir / (path.name + ".out"), outputs[index], spec)
            counts.append(1)
            continue
        lines, count = _assembled(records[index], b"".join(outputs[index]), spec)
        if spec.split_type == "Line" and count != records[index].count:
            raise LocalError(f"{path.name}: {records[index].count} records in but {count} "
                             "out; the transform lost or added records.")
        if spec.assemble_with != "Line":
            lines = lines.replace(b"\n", b"")  # no line holds a line break of its own
        (spec.output_dir / (path.name + ".out")).write_bytes(lines)
        counts.append(count)
    return counts


def _assembled(records: Records, outputs: bytes, spec: TransformSpec) -> tuple[bytes, int]:
    """The output lines, each followed by a line break, and how many there are. The common
    cases (no join, or a CSV join, and no output filter) stay bytes operations."""
    count = outputs.count(b"\n")
    if spec.output_filter is None or spec.output_filter.strip() == "$":
        if spec.join_source != "Input":
            return outputs, count
        if not spec.json_records and count == records.count:
            pairs = zip(records.data.split(b"\n")[:-1], outputs.split(b"\n")[:-1],
                        strict=True)
            return b"\n".join(map(b",".join, pairs)) + (b"\n" if count else b""), count
    lines = joined(records.lines(), outputs.decode("utf-8").split("\n")[:-1],
                   spec.join_source, spec.json_records, spec.output_filter)
    return "".join(line + "\n" for line in lines).encode("utf-8"), len(lines)


def _records(path: Path, spec: TransformSpec) -> Records:
    records = read_records(path, spec.split_type == "Line")
    if not records.split:
        whole_files.check_whole(path, records.data, spec)
    if records.count and whole_files.media_type(spec.content_type) == "text/csv":
        _refuse_header(path, filtered(records.first_line(), spec.input_filter, False))
    return records


def _refuse_header(path: Path, first: str) -> None:
    """Decided once per file: SageMaker would send a header line as a record."""
    cells = csvtext.read_rows(first)[0] if first.strip() else []
    if csvtext.looks_like_header(cells):
        raise LocalError(f"{path.name} starts with a header row ({first[:80]!r}). Batch "
                         "transform sends every line to the model as a record, as SageMaker "
                         "does, so the header would be refused as data: remove it (e.g. "
                         f"tail -n +2 {path.name} > {path.stem}-data{path.suffix}).")


def _batches(records: list[Records], spec: TransformSpec) -> Iterator[Batch]:
    for index, file_records in enumerate(records):
        if spec.split_type == "None" and (spec.input_filter is None or
                                          spec.input_filter.strip() == "$"):
            yield Batch(index, 1, 1, file_records.data)  # the object as it is, as SageMaker
        elif spec.batch_strategy == "SingleRecord" or spec.split_type == "None":
            yield from (Batch(index, number, 1, (_filtered(spec, line) + "\n").encode())
                        for number, line in enumerate(file_records.lines(), 1))
        elif spec.input_filter is None or spec.input_filter.strip() == "$":
            # Mini-batches are views of the file's bytes: copied, the 91 MB of a million
            # rows took 0.1 s before the first one was sent.
            data, first = memoryview(file_records.data), 1
            for start, end, count in line_batches(file_records.data, spec.max_payload_mb):
                yield Batch(index, first, count, data[start:end])
                first += count
        else:
            yield from _filtered_batches(index, file_records.lines(), spec)


def _filtered(spec: TransformSpec, record: str) -> str:
    return filtered(record, spec.input_filter, spec.json_records)


def _filtered_batches(index: int, lines: list[str], spec: TransformSpec) -> Iterator[Batch]:
    """Mini-batches of records that an input filter cuts one by one."""
    limit = int(spec.max_payload_mb * 1024 * 1024)
    current: list[bytes] = []
    size, first = 0, 1
    for number, line in enumerate(lines, start=1):
        record = (_filtered(spec, line) + "\n").encode()
        if len(record) > limit:
            raise LocalError(f"Line {number} is {len(record):,} bytes, more than "
                             f"MaxPayloadInMB ({spec.max_payload_mb:g} MB) allows.")
        if current and size + len(record) > limit:
            yield Batch(index, first, len(current), b"".join(current))
            current, size, first = [], 0, number
        current.append(record)
        size += len(record)
    if current:
        yield Batch(index, first, len(current), b"".join(current))


def _send(batch: Batch, spec: TransformSpec, target: tuple[str, str], path: Path) -> bytes:
    """The mini-batch's output lines, each followed by a line break; no answer or a 5xx
    is retried, a 4xx is final."""
    url, endpoint_id = target
    failure = ""
    for attempt in range(1 + INVOCATION_MAX_RETRIES):
        if attempt:
            time.sleep(RETRY_PAUSES_SECONDS[attempt - 1])
        try:
            answer = client.post(url, batch.body, spec.content_type,
                                 spec.accept or spec.content_type,
                                 timeout=INVOCATION_TIMEOUT_SECONDS, endpoint_id=endpoint_id)
        except client.Unreachable as error:
            failure = str(error)
            continue
        if answer.status == 200:
            return _lines(answer, batch, spec, path)
        failure = _refusal(answer, batch, path)
        if answer.status < 500:
            raise LocalError(failure)
    raise LocalError(f"{_where(path, batch)}: the mini-batch failed {1 + INVOCATION_MAX_RETRIES} "
                     f"times (SageMaker's InvocationsMaxRetries is {INVOCATION_MAX_RETRIES}); "
                     f"the last time: {failure}")


def _lines(answer: client.Answer, batch: Batch, spec: TransformSpec, path: Path) -> bytes:
    if spec.binary_output:
        return answer.body  # one array for one whole file (SplitType=None, checked)
    lines, count = _answer_lines(answer.body)
    if spec.split_type == "Line" and count != batch.count:
        raise LocalError(f"{_where(path, batch)}: the server answered {count} lines for "
                         f"{batch.count} records; use a line-oriented Accept (text/csv, "
                         "application/jsonlines) for batch transform.")
    return lines


# Line breaks str.splitlines() knows besides \n; an ASCII body without them splits as bytes.
_OTHER_BREAKS = b"\r\x0b\x0c\x1c\x1d\x1e"


def _answer_lines(body: bytes) -> tuple[bytes, int]:
    """An answer's lines as ``str.splitlines`` reads them, each ended by ``\n``, and their
    number."""
    if body.isascii() and len(body.translate(None, _OTHER_BREAKS)) == len(body):
        lines = body if not body or body.endswith(b"\n") else body + b"\n"
        return lines, lines.count(b"\n")
    split = body.decode("utf-8").splitlines()
    return "".join(line + "\n" for line in split).encode("utf-8"), len(split)


def _refusal(answer: client.Answer, batch: Batch, path: Path) -> str:
    """The server's sentence, located in the file: a record's own line when it names one."""
    try:
        document = json.loads(answer.body)
        message, row = str(document["message"]), document.get("row")
    except (ValueError, KeyError, TypeError):
        message, row = answer.body.decode("utf-8", "replace")[:500], None
    if isinstance(row, int) and 1 <= row <= batch.count:
        line = batch.first_line + row - 1
        message = re.sub(rf"\b[Rr]ow {row}\b", f"record {row} of the mini-batch", message,
                         count=1)
        return f"{path.name}, line {line}: HTTP {answer.status}: {message}"
    return f"{_where(path, batch)}: HTTP {answer.status}: {message}"


def _where(path: Path, batch: Batch) -> str:
    last = batch.first_line + batch.count - 1
    lines = f"line {last}" if last == batch.first_line else f"lines {batch.first_line}-{last}"
    return f"{path.name}, {lines}"
