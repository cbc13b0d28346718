"""The inference protocol as plain functions: bytes and headers in, a response out.

The web server is a thin adapter around :func:`invocations`; the local batch runtime and
the tests call the same function, so there is one behaviour to get right.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from sagegam.container import csvtext
from sagegam.container.csvtext import HEADER_MODES, HeaderMode
from sagegam.container.serving import one_row
from sagegam.container.serving.codecs import (
    CSV,
    DECODERS,
    JSON,
    JSONLINES,
    JSONLINES_ALIASES,
    NPY,
    ClientError,
    Decoded,
    DecodeOptions,
    Decoder,
    bad_request,
    to_codes,
)
from sagegam.container.serving.encoders import ENCODERS, Output
from sagegam.model.basis import OutsideRangeError
from sagegam.model.predictor import GAMPredictor
from sagegam.model.schema import Schema, UnknownCells

DEFAULT_ACCEPT = JSON
DEFAULT_MAX_PAYLOAD_MB = 6.0
OPTION_NAMES = ("explain", "output", "std", "interval")
ENDPOINT_ID_HEADER = "x-sagegam-endpoint-id"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"  # SageMaker passes it back
BATCH_HINT = (" In batch transform (SAGEMAKER_BATCH=true) every line is a record: if this "
              "line is a header, remove it from the input files.")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerSettings:
    """What the environment configures, read once when the server (or a worker) starts.

    The variables and their defaults are listed in docs/serving.md; every value is checked
    here, so a bad one stops ``serve`` before it binds.
    """

    default_accept: str = DEFAULT_ACCEPT
    max_payload_bytes: int = int(DEFAULT_MAX_PAYLOAD_MB * 1024 * 1024)
    workers: int = 1
    csv_header: HeaderMode = "auto"
    batch: bool = False
    max_header_bytes: int = 32 * 1024
    request_timeout: float = 60.0
    keep_alive: int = 60
    large_request_slots: int = 1
    endpoint_id: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None,
                         workers: int = 1) -> ServerSettings:
        env = os.environ if environ is None else environ
        accept = env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", DEFAULT_ACCEPT).strip()
        if _media_type(accept) not in ENCODERS:
            raise ValueError(f"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT={accept!r} is not one of "
                             f"{sorted(ENCODERS)}.")
        batch = env.get("SAGEMAKER_BATCH", "").strip().lower() == "true"
        return cls(
            default_accept=_media_type(accept),
            max_payload_bytes=int(_number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB",
                                          DEFAULT_MAX_PAYLOAD_MB) * 1024 * 1024),
            workers=workers,
            csv_header=_csv_header(env, batch),
            batch=batch,
            max_header_bytes=int(_number(env, "SAGEGAM_MAX_HEADER_KB", 32) * 1024),
            request_timeout=_number(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60),
            keep_alive=int(_number(env, "SAGEGAM_KEEP_ALIVE_SECONDS", 60)),
            large_request_slots=int(_number(env, "SAGEGAM_MAX_LARGE_REQUESTS",
                                            _batch_slots(env, workers) if batch else 1,
                                            integer=True)),
            endpoint_id=env.get("SAGEGAM_ENDPOINT_ID") or None)


def _batch_slots(env: Mapping[str, str], workers: int) -> int:
    """Large requests a batch worker answers at once: all a job sends at once.

    SageMaker keeps ``MaxConcurrentTransforms`` mini-batches in flight (the worker count
    that /execution-parameters suggests, when the job does not set it), and the workers do
    not share them out: uvloop accepts every connection that is waiting, so two that arrive
    together land on one worker, and with one slot each the second waited for the first
    while the other worker idled (seen in every 2-concurrent local transform). Answered
    side by side in two threads, two halves of a million rows took 0.14-0.18 s against
    0.22-0.29 s one after the other. The memory in flight stays what the job sends.
    """
    raw = env.get("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else max(workers, 1)


def _number(env: Mapping[str, str], variable: str, default: float,
            integer: bool = False) -> float:
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{variable}={raw!r} is not {kind}.") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{variable}={raw!r} must be greater than 0.")
    return value


def _csv_header(env: Mapping[str, str], batch: bool) -> HeaderMode:
    raw = env.get("SAGEGAM_CSV_HEADER", "").strip().lower() or ("absent" if batch else "auto")
    if raw not in HEADER_MODES:
        raise ValueError(f"SAGEGAM_CSV_HEADER={raw!r} is not one of {', '.join(HEADER_MODES)}.")
    if batch and raw != "absent":
        raise ValueError(f"SAGEGAM_CSV_HEADER={raw!r} cannot be used in batch transform "
                         "(SAGEMAKER_BATCH=true): SageMaker splits each file into mini-batches "
                         "and only the first could carry the header, so every line is a "
                         "record there (absent).")
    return raw  # type: ignore[return-value]


@dataclass(frozen=True)
class Options:
    explain: bool = False
    labels: bool = False
    std: bool = False  # each prediction's standard error
    level: float | None = None  # a pointwise interval at this level

    @property
    def uncertain(self) -> bool:
        return self.std or self.level is not None


@dataclass(frozen=True)
class RequestHeaders:
    """The request headers /invocations reads, decoded."""

    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None  # X-Amzn-SageMaker-Custom-Attributes
    content_length: str = ""

    def answer(self, predictor: GAMPredictor, body: bytes,
               settings: ServerSettings) -> Response:
        """:func:`invocations` of ``body`` under these headers."""
        return invocations(predictor, body, self.content_type, self.accept,
                           self.custom_attributes, settings)


def invocations(predictor: GAMPredictor, body: bytes, content_type: str | None,
                accept: str | None, custom_attributes: str | None,
                settings: ServerSettings) -> Response:
    """Answer one POST /invocations; client mistakes become 4xx responses."""
    try:
        return _answer(predictor, body, content_type, accept, custom_attributes, settings)
    except ClientError as error:
        if settings.batch and error.row == 1 and _media_type(content_type or "") == CSV:
            error = ClientError(error.status, error.error, error.message + BATCH_HINT, 1)
        return error_response(error)


def error_response(error: ClientError) -> Response:
    """``{"error", "message"}``, and ``"row"`` (1-based, in the body) when one record is at
    fault, so a batch runtime can name the line of its file."""
    document: dict[str, Any] = {"error": error.error, "message": error.message}
    if error.row is not None:
        document["row"] = error.row
    return Response(error.status, orjson.dumps(document), JSON)


def ping() -> Response:
    return Response(200, b"", "text/plain")


def execution_parameters(settings: ServerSettings) -> Response:
    body = orjson.dumps({"MaxConcurrentTransforms": max(settings.workers, 1),
                         "BatchStrategy": "MULTI_RECORD",
                         "MaxPayloadInMB": max(int(settings.max_payload_bytes // 2**20), 1)})
    return Response(200, body, JSON)


def _answer(predictor: GAMPredictor, body: bytes, content_type: str | None,
            accept: str | None, custom_attributes: str | None,
            settings: ServerSettings) -> Response:
    if len(body) > settings.max_payload_bytes:
        raise payload_too_large(settings)
    decoder = _decoder(content_type)
    response_type, accept_options = _response_type(accept, settings.default_accept)
    options = _options({**_attributes(custom_attributes), **accept_options})
    if not body:
        raise bad_request("The request body is empty; send at least one row.")
    unknown = UnknownCells()
    found = _one_row(predictor, body, content_type, settings)
    if found is None:
        decoded = decoder(body, DecodeOptions(settings.csv_header, _columns_of(predictor)))
        codes = _encoded(predictor, decoded, unknown)
        found = codes, _contributions(predictor, codes)
    codes, contributions = found
    output = with_uncertainty(predictor, codes, options,
                              _output(predictor, contributions, options, unknown))
    headers = {CUSTOM_ATTRIBUTES: f"unknown_values={unknown.count}"} if unknown.count else {}
    return Response(200, ENCODERS[response_type](output), response_type, headers)


def payload_too_large(settings: ServerSettings) -> ClientError:
    limit = settings.max_payload_bytes / 2**20
    return ClientError(413, "payload_too_large", f"The body exceeds {limit:g} MB "
                       "(SAGEMAKER_MAX_PAYLOAD_IN_MB); split it into smaller requests.")


def _decoder(content_type: str | None) -> Decoder:
    media = _media_type(content_type or "")
    if media not in DECODERS:
        raise ClientError(415, "unsupported_media_type", f"Content-Type {content_type!r} is "
                          f"not supported; send one of {NPY}, {CSV}, {JSON}, {JSONLINES}.")
    return DECODERS[media]


def _response_type(accept: str | None, default: str) -> tuple[str, dict[str, str]]:
    """The first acceptable type of the Accept header, with its parameters."""
    if not accept or not accept.strip():
        return default, {}
    for part in accept.split(","):
        media, parameters = _parse_media(part)
        if media in ("*/*", "application/*", ""):
            return default, parameters
        if media in JSONLINES_ALIASES:
            return JSONLINES, parameters
        if media in ENCODERS:
            return media, parameters
    raise ClientError(406, "not_acceptable", f"Accept {accept!r} names no type this server "
                      f"produces; accept one of {NPY}, {CSV}, {JSON}, {JSONLINES} or */*.")


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _parse_media(value: str) -> tuple[str, dict[str, str]]:
    media, *params = value.split(";")
    parameters = {}
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() in OPTION_NAMES:
            parameters[key.strip().lower()] = raw.strip().strip('"').lower()
    return media.strip().lower(), parameters


def _attributes(header: str | None) -> dict[str, str]:
    """``X-Amzn-SageMaker-Custom-Attributes: explain=true,output=label`` as a dict."""
    if not header:
        return {}
    pairs = (item.partition("=") for item in header.replace(";", ",").split(","))
    return {key.strip().lower(): value.strip().lower() for key, _, value in pairs
            if key.strip().lower() in OPTION_NAMES}


_BOOLEANS = ("true", "false", "1", "0", "yes", "no")


def _options(values: dict[str, str]) -> Options:
    explain = _flag(values, "explain")
    output = values.get("output", "probability")
    if output not in ("probability", "label", "labels"):
        raise bad_request(f"output={output!r}; use output=probability or output=label.")
    options = Options(explain, output.startswith("label"), _flag(values, "std"),
                      _level(values.get("interval")))
    if options.labels and options.uncertain:
        raise bad_request("std and interval describe a probability, not a label; ask for "
                          "them without output=label.")
    return options


def _flag(values: dict[str, str], name: str) -> bool:
    """A true/false option (false when absent)."""
    raw = values.get(name, "false")
    if raw not in _BOOLEANS:
        raise bad_request(f"{name}={raw!r}; use {name}=true or {name}=false.")
    return raw in ("true", "1", "yes")


def _level(raw: str | None) -> float | None:
    """``interval=0.95``: the interval's level, strictly between 0 and 1."""
    if raw is None:
        return None
    try:
        level = float(raw)
    except ValueError:
        level = float("nan")
    if not 0.0 < level < 1.0:
        raise bad_request(f"interval={raw!r} is not a level between 0 and 1 (exclusive); "
                          "use, for example, interval=0.95.")
    return level


def _columns_of(predictor: GAMPredictor) -> csvtext.Columns:
    return _model_columns(predictor.schema)


@lru_cache(maxsize=8)
def _model_columns(schema: Schema) -> csvtext.Columns:
    """What the model reads, for telling a CSV header from a row of data."""
    return csvtext.Columns(schema.names, tuple(not f.categorical for f in schema.features))


def _encoded(predictor: GAMPredictor, decoded: Decoded, unknown: UnknownCells) -> Any:
    """The records as the model's codes, with the model's columns in the model's order."""
    features = list(predictor.feature_names)
    sent = _columns_sent(features, decoded)
    chosen = decoded if sent == list(range(decoded.width)) else decoded.select(sent)
    if chosen.values is not None and predictor.schema.text_levels:
        raise bad_request(_NUMBERS_ONLY.format(", ".join(
            f.name for f in predictor.schema.features if f.text_levels)))
    return to_codes(chosen, predictor.schema, sent, unknown)


_NUMBERS_ONLY = ("An application/x-npy body carries numbers only, and this model's "
                 "categorical features {} have text levels; send text/csv or JSON.")


def _columns_sent(features: list[str], decoded: Decoded) -> list[int]:
    """Where in the body each of the model's features is: by name when the body names its
    columns (any order), else by position."""
    names = decoded.names
    if names is not None and len(names) == len(features) and set(names) == set(features):
        return [names.index(name) for name in features]
    if names is not None and not _positional(names):
        missing = sorted(set(features) - set(names))
        extra = sorted(set(names) - set(features))
        raise bad_request(f"The columns {names} do not match the model's features "
                          f"{features} (missing {missing}, unknown {extra}).")
    if decoded.width != len(features):
        raise bad_request(f"Each row needs {len(features)} features ({', '.join(features)}); "
                          f"got {decoded.width}.")
    return list(range(len(features)))


def _label_array(classes: Any) -> Any:
    """Integer, float or (for strings and mixtures) object labels."""
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return np.asarray(classes, dtype=np.int64)
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        return np.asarray(classes, dtype=np.float64)
    return np.asarray(classes, dtype=object)


def _positional(names: list[str]) -> bool:
    return all(name.startswith("x") and name[1:].isdigit() for name in names)


def _one_row(predictor: GAMPredictor, body: bytes, content_type: str | None,
             settings: ServerSettings) -> tuple[Any, Any] | None:
    """The codes and contributions of a body of one row of numbers, read and computed in
    plain Python; None leaves the request to the general path (see :mod:`.one_row`)."""
    reader = one_row.READERS.get(_media_type(content_type or ""))
    if reader is None or len(body) > ONE_ROW_BYTES or not _numbers_only(predictor.schema) \
            or (reader is one_row.csv_row and settings.csv_header == "present"):
        return None
    row = reader(body, predictor.n_features)
    contributions = None if row is None else predictor.contributions_of_row(row)
    # A model of numeric features codes a finite row as the numbers themselves (made an
    # array only if the standard errors need it).
    return None if contributions is None else ([row], contributions)


ONE_ROW_BYTES = 4096


@lru_cache(maxsize=64)
def _numbers_only(schema: Schema) -> bool:
    """A model of numeric features none of whose names reads as a number."""
    return schema.numeric_only and not any(map(one_row.is_number, schema.names))


def _contributions(predictor: GAMPredictor, codes: Any) -> Any:
    """What adds up to each row's linear predictor: the terms' contributions, and the
    offset of a model with one (``predictor.part_names``)."""
    try:
        return predictor.parts_of(codes)
    except OutsideRangeError as error:
        raise bad_request(str(error).replace(f"row {error.row}", f"row {error.row + 1}"),
                          error.row + 1) from None


def _predict(predictor: GAMPredictor, codes: Any, options: Options,
             unknown: UnknownCells) -> Output:
    return _output(predictor, _contributions(predictor, codes), options, unknown)


def with_uncertainty(predictor: GAMPredictor, codes: Any, options: Options,
                     output: Output) -> Output:
    """``output`` with the standard errors and interval ``options`` ask for, computed as
    the estimators' ``predict_interval`` computes them (response scale)."""
    if not options.uncertain:
        return output
    # The rows' contributions were computed already, so their range has been checked.
    interval = predictor.predict_interval_of(np.asarray(codes, dtype=np.float64),
                                             options.level or 0.95)
    bounds = options.level is not None
    return replace(output, std=interval.std if options.std else None, level=options.level,
                   lower=interval.lower if bounds else None,
                   upper=interval.upper if bounds else None)


def _output(predictor: GAMPredictor, contributions: Any, options: Options,
            unknown: UnknownCells) -> Output:
    eta = predictor.intercept + contributions.sum(axis=1)
    mean = predictor.family.inverse_link(eta)
    values: Any = mean
    if predictor.classes is not None and options.labels:
        values = _label_array(predictor.classes)[(mean > 0.5).astype(np.intp)]
    warnings, rows = unknown.sentences(), frozenset(unknown.rows)
    if not options.explain:
        return Output(values, warnings=warnings, warned_rows=rows)
    return Output(values, predictor.intercept, contributions, predictor.part_names, warnings,
                  rows)
