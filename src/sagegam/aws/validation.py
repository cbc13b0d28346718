"""Option values checked against botocore's service models before any upload or API call.

botocore itself checks only types, required members and minimums; the patterns, maximum
lengths, enums and ranges of each field it leaves to the service, which applies them only
when the request arrives, after the data was uploaded. Here every value an ``aws`` command
sends (:data:`sagegam.aws.fields.FIELDS`) is checked against its field's shape first, plus
the limits SageMaker documents (:data:`~sagegam.aws.fields.DOCUMENTED`), and refused in
one line that names the option and what it accepts.

The shapes are read at run time from the installed botocore's own model files, not from a
table generated once: boto3 builds its clients from the same files (the session shares the
loaded models, so the check costs no extra load), the check therefore matches exactly what
this boto3 sends, and instance types AWS adds arrive with a boto3 upgrade rather than a
sagegam release. ``tests/aws/test_validation.py`` generates its bad values from the same
models.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagegam.aws.errors import PreflightError
from sagegam.aws.fields import DOCUMENTED, FIELDS, Extra, Field
from sagegam.aws.session import models

_NAME = "1 to 63 letters, digits and hyphens, starting with a letter or digit"
_URI = "an s3:// URI, s3://BUCKET/PREFIX"
_IMAGE = "an image URI without spaces, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/sagegam:latest"
# What each patterned shape means, in words; other shapes show their pattern.
HINTS = {
    **dict.fromkeys(("TrainingJobName", "TransformJobName", "EndpointName",
                     "EndpointConfigName", "VariantName"), _NAME),
    "ModelName": _NAME + " and ending with one",
    "RoleArn": "an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME",
    "S3Uri": _URI,
    "Url": _URI,
    "DestinationS3Uri": _URI,
    "RepositoryName": "lowercase letters and digits in groups joined by . _ - or /",
    "ContainerImage": _IMAGE,
    "AlgorithmImage": _IMAGE,
    "Header": "ASCII characters only",
}
NUMBERS = ("integer", "long", "float", "double")

# Java regex constructs used by AWS models, as Python character-class contents.
_JAVA_CLASSES = {"ASCII": r"\x00-\x7F", "Print": r"\x20-\x7E", "Alnum": "A-Za-z0-9",
                 "Alpha": "A-Za-z", "Digit": "0-9", "XDigit": "0-9A-Fa-f"}
_JAVA_DOT = "[^\n\r\u0085\u2028\u2029]"  # Java's `.` stops at every line terminator


def _code_point(pair: re.Match[str]) -> str:
    high, low = int(pair.group(1), 16), int(pair.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


def python_pattern(java: str) -> str:
    """An AWS model pattern (Java syntax) as a Python regex with the same meaning."""
    # Java spells characters beyond U+FFFF as UTF-16 surrogate pairs (\uD800\uDC00).
    java = re.sub(r"\\u(D[89AB][0-9A-Fa-f]{2})\\u(D[C-Fc-f][0-9A-Fa-f]{2})", _code_point, java)
    out: list[str] = []
    in_class, index = False, 0
    while index < len(java):
        char = java[index]
        match = re.match(r"\\p\{(\w+)\}", java[index:])
        if match:
            inner = _JAVA_CLASSES[match.group(1)]
            out.append(inner if in_class else f"[{inner}]")
            index += match.end()
            continue
        if char == "\\":
            escaped = java[index: index + 2]
            out.append(r"\Z" if escaped == r"\z" else escaped)
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        out.append(_JAVA_DOT if char == "." and not in_class else char)
        index += 1
    return "".join(out)


@functools.cache
def _compiled(java: str) -> re.Pattern[str]:
    return re.compile(python_pattern(java))


def shape(field: Field) -> Any:
    """The botocore shape of ``field``'s request member."""
    operation = models().get_service_model(field.service).operation_model(field.operation)
    found = operation.input_shape
    for step in field.path.split("."):
        found = found.members[step.removesuffix("[]")]
        if step.endswith("[]"):
            found = found.member
    return found


def extra(field: Field) -> Extra:
    return DOCUMENTED.get((field.operation, field.path), Extra())


def compact(values: list[str]) -> str:
    """Enum values grouped by prefix: ``ml.c5.{large,xlarge}, ml.m5.{large,xlarge}``."""
    groups: dict[str, list[str]] = {}
    for value in values:
        head, dot, tail = value.rpartition(".")
        groups.setdefault(head, []).append(tail if dot else value)
    return ", ".join(
        tails[0] if not head else f"{head}.{tails[0]}" if len(tails) == 1
        else f"{head}.{{{','.join(tails)}}}"
        for head, tails in groups.items()
    )


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _bounds(shape: Any, limits: Extra) -> tuple[Any, Any]:
    lower, upper = shape.metadata.get("min"), shape.metadata.get("max")
    if limits.minimum is not None:
        lower = limits.minimum if lower is None else max(lower, limits.minimum)
    if limits.maximum is not None:
        upper = limits.maximum if upper is None else min(upper, limits.maximum)
    return lower, upper


def _number(label: str, shape: Any, value: Any, limits: Extra) -> str | None:
    lower, upper = _bounds(shape, limits)
    if limits.step and (lower is None or value >= lower) and (upper is None or value <= upper) \
            and value % limits.step:
        return f"{label} must be a multiple of {limits.step:,} ({limits.why}); got {value}."
    if (lower is None or value >= lower) and (upper is None or value <= upper):
        return None
    span = f"from {lower:,} to {upper:,}" if lower is not None and upper is not None else \
        f"at least {lower:,}" if lower is not None else f"at most {upper:,}"
    why = f" ({limits.why})" if limits.why else ""
    return f"{label} must be {span}{why}; got {value}."


def _enum(label: str, shape: Any, value: str) -> str | None:
    allowed = list(shape.enum)
    if value in allowed:
        return None
    close = difflib.get_close_matches(value, allowed, n=3)
    guess = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"{label} {_show(value)} is not a {shape.name}{guess}; allowed: {compact(allowed)}."


def _hint(shape: Any, value: str) -> str:
    if shape.name in HINTS:
        return HINTS[shape.name]
    if any(char in value for char in "\n\r\u0085\u2028\u2029"):
        return "a single line (no line breaks)"
    return f"a value matching {shape.metadata['pattern']}"


def _string(label: str, shape: Any, value: str, limits: Extra) -> str | None:
    if getattr(shape, "enum", None):
        return _enum(label, shape, value)
    if limits.scheme and not value.startswith(limits.scheme):
        return f"{label} {_show(value)} is not {HINTS.get(shape.name, _URI)} ({limits.why})."
    lower, upper = shape.metadata.get("min"), shape.metadata.get("max")
    if upper is not None and len(value) > upper:
        return (f"{label} is {len(value):,} characters long ({_show(value)}); "
                f"{shape.name} allows at most {upper:,}.")
    pattern = shape.metadata.get("pattern")
    if pattern and not _compiled(pattern).fullmatch(value):
        hint = _hint(shape, value)
        return f"{label} {_show(value)} is not a valid {shape.name}: expected {hint}."
    if lower is not None and len(value) < lower:
        return f"{label} {_show(value)} is too short; {shape.name} needs {lower} characters."
    if limits.pattern and not re.fullmatch(limits.pattern, value):
        return f"{label} {_show(value)} is not valid: {limits.why}."
    return None


def _map(label: str, shape: Any, value: Mapping[str, str]) -> str | None:
    upper = shape.metadata.get("max")
    if upper is not None and len(value) > upper:
        return f"{label} gives {len(value)} entries; {shape.name} takes at most {upper}."
    for key, item in value.items():
        problem = violation(f"{label} key", shape.key, key) or \
            violation(f"{label} {key}", shape.value, item)
        if problem:
            return problem
    return None


def violation(label: str, shape: Any, value: Any, limits: Extra | None = None) -> str | None:
    """Why ``value`` breaks ``shape`` (one sentence naming ``label``), or None."""
    limits = limits or Extra()
    if shape.type_name in NUMBERS:
        return _number(label, shape, value, limits)
    if shape.type_name == "blob":
        upper = shape.metadata.get("max")
        if upper is not None and len(value) > upper:
            return (f"{label} is {len(value):,} bytes; one request takes at most {upper:,} "
                    "bytes. Send fewer rows per request, or use `sagegam aws transform`.")
        return None
    if shape.type_name == "map":
        return _map(label, shape, value)
    if shape.type_name == "string":
        return _string(label, shape, str(value), limits)
    return None


def check(command: str, values: Mapping[str, Any]) -> None:
    """Refuse the first option value of ``command`` its API field would refuse."""
    for field in FIELDS[command]:
        check_one(field, values.get(field.option))


def check_one(field: Field, value: Any) -> None:
    """Refuse ``value`` if ``field`` would (None: the option was not given)."""
    if value is None:
        return
    problem = violation(field.option, shape(field), value, extra(field))
    if problem:
        raise PreflightError(problem)


def check_hyperparameter_names(values: Mapping[str, str]) -> None:
    """Refuse names the training image would refuse, using the image's own list."""
    from sagegam.container.hyperparameters import BY_NAME, PLATFORM_PREFIXES, canonical_name

    for key in values:
        if key.startswith(PLATFORM_PREFIXES) or canonical_name(key) in BY_NAME:
            continue
        close = difflib.get_close_matches(key.lower(), list(BY_NAME), n=1)
        guess = f" (did you mean {close[0]}?)" if close else ""
        raise PreflightError(
            f"-H {key}: the training image has no hyperparameter {key!r}{guess}; it takes "
            f"{', '.join(sorted(BY_NAME))} (docs/training.md)."
        )


def check_source(option: str, value: str) -> None:
    """A data option is an s3:// URI (checked with its field) or a local file or folder."""
    if value.startswith("s3://"):
        return
    path = Path(value)
    if not path.exists():
        raise PreflightError(
            f"{option} {_show(value)} is neither an existing file or folder nor an s3:// URI.")
    if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
        raise PreflightError(f"{option} {_show(value)} is a folder with no files to upload.")
