"""Files sent whole (``SplitType=None``): text or binary (``application/x-npy``) arrays.

SageMaker sends an unsplit S3 object as one request, whatever it holds, so that is how an
npy array goes to batch transform; its answer is written as the server sent it. What
SageMaker would refuse or mangle is refused here before any server starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sagegam.local.state import LocalError

if TYPE_CHECKING:
    from sagegam.local.transform import TransformSpec


def validate_binary(spec: TransformSpec) -> None:
    """npy arrays are whole objects: no line splits them, and no line-wise option reads them."""
    if spec.binary_input and spec.split_type != "None":
        raise LocalError("ContentType application/x-npy is one binary array per file, which "
                         "cannot be split into lines: use SplitType=None (each file is sent "
                         "whole as one request).")
    if spec.binary_output and spec.split_type != "None":
        raise LocalError("Accept application/x-npy answers binary arrays, which cannot be "
                         "assembled line by line: with SplitType=Line use text/csv or "
                         "application/jsonlines.")
    filters = [f for f in (spec.input_filter, spec.output_filter) if f and f.strip() != "$"]
    if (spec.binary_input and filters) or (spec.binary_output and spec.output_filter and
                                           spec.output_filter.strip() != "$"):
        raise LocalError("InputFilter and OutputFilter select columns of CSV or JSON records; "
                         "they cannot read application/x-npy arrays: leave them at '$'.")


def media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def check_whole(path: Path, data: bytes, spec: TransformSpec) -> None:
    """A file sent whole (SplitType=None) is one request: SageMaker fails a job whose object
    exceeds MaxPayloadInMB; text is read as UTF-8 by the options that look into it."""
    if len(data) > spec.max_payload_bytes:
        raise LocalError(f"{path.name} is {len(data) / 2**20:.1f} MB, more than MaxPayloadInMB "
                         f"({spec.max_payload_mb:g} MB) allows: with SplitType=None each file "
                         "is one request. Raise --max-payload-mb (at most 100), or split the "
                         "file into smaller ones.")
    if not spec.binary_input:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise LocalError(f"{path.name} is not UTF-8 text ({error}); a binary array goes "
                             "as ContentType application/x-npy.") from None


def write_binary(target: Path, answers: list[bytes], spec: TransformSpec) -> None:
    """SageMaker's AssembleWith=Line adds a line break after each record's output; None
    writes the outputs back to back, unchanged."""
    with target.open("wb") as handle:
        for answer in answers:
            handle.write(answer)
            if spec.assemble_with == "Line":
                handle.write(b"\n")
