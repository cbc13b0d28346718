"""SageMaker script mode: sagegam as the entry point of AWS's scikit-learn framework image.

Teams that may not push images of their own run sagegam inside AWS's prebuilt
scikit-learn image. They name a two-line entry script (docs/script-mode.md) as
``SAGEMAKER_PROGRAM``; it imports from here:

- :func:`train`, which the ``sagemaker-training`` toolkit runs as ``python ENTRY.py
  --NAME VALUE ...``: the channels, model and output directories come from the toolkit's
  ``SM_*`` variables and the hyperparameters from the arguments, and the fit, metrics,
  outputs, failure file and exit codes are the ``train`` entry point's own;
- :func:`model_fn`, :func:`input_fn`, :func:`predict_fn` and :func:`output_fn`, which the
  framework's serving stack calls in that order for each request, with sagegam's codecs
  (npy, CSV, JSON, JSON Lines), column matching and explanations (``Accept:
  application/json; explain=true``, ``output=label``, ``std=true``, ``interval=0.95``).

A bad request is refused with the status sagegam's own server gives (400, 406, 413, 415):
the framework turns a handler's exception into a 500, so the refusal travels to
:func:`output_fn` and comes back as the framework's response object with that status.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sagegam.container.errors import UserError
from sagegam.container.paths import MLPaths
from sagegam.container.serving import core
from sagegam.container.serving.codecs import (
    JSON,
    ClientError,
    DecodeOptions,
    Decoder,
    bad_request,
)
from sagegam.container.serving.encoders import ENCODERS, Output
from sagegam.model.artifact import load
from sagegam.model.predictor import GAMPredictor
from sagegam.model.schema import UnknownCells

# -- training -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptModePaths(MLPaths):
    """The layout as the toolkit announces it in ``SM_*`` variables (the ``/opt/ml`` tree
    on SageMaker); a variable that is missing falls back to its place under ``base``."""

    environ: Mapping[str, str]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ScriptModePaths:
        env = os.environ if environ is None else environ
        base = Path(env.get("SM_INPUT_DIR", "/opt/ml/input")).parent
        return cls(base, env)

    def _variable(self, name: str, default: Path) -> Path:
        value = self.environ.get(name)
        return Path(value) if value else default

    @property
    def data_dir(self) -> Path:
        return self._variable("SM_INPUT_DIR", self.base / "input") / "data"

    def channel(self, name: str) -> Path:
        return self._variable(f"SM_CHANNEL_{name.upper()}", self.data_dir / name)

    @property
    def model_dir(self) -> Path:
        return self._variable("SM_MODEL_DIR", self.base / "model")

    @property
    def output_dir(self) -> Path:
        return self._variable("SM_OUTPUT_DIR", self.base / "output")

    @property
    def output_data_dir(self) -> Path:
        return self._variable("SM_OUTPUT_DATA_DIR", self.output_dir / "data")


def hyperparameter_arguments(argv: list[str]) -> dict[str, str]:
    """``--NAME VALUE`` (or ``--NAME=VALUE``) pairs, as the toolkit passes hyperparameters."""
    values: dict[str, str] = {}
    index = 0
    while index < len(argv):
        argument = argv[index]
        if not argument.startswith("-") or argument.strip("-") == "":
            raise UserError(f"Unexpected argument {argument!r}: the training script takes "
                            "hyperparameters as --NAME VALUE pairs.")
        name, equals, value = argument.lstrip("-").partition("=")
        if not equals:
            if index + 1 >= len(argv):
                raise UserError(f"Hyperparameter --{name} has no value.")
            index += 1
            value = argv[index]
        values[name] = value
        index += 1
    return values


def _json_variable(environ: Mapping[str, str], name: str, default: Any) -> Any:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise UserError(f"{name} is not valid JSON: {error}") from None


def fit_from_environment(paths: ScriptModePaths, argv: list[str], stopper: Any,
                         progress: Any) -> None:
    from sagegam.container.training import fit_job

    env = paths.environ
    resources = {"current_host": env.get("SM_CURRENT_HOST"),
                 "hosts": _json_variable(env, "SM_HOSTS", [])}
    fit_job(paths, hyperparameter_arguments(argv), resources,
            _json_variable(env, "SM_INPUT_DATA_CONFIG", {}), stopper, progress)


def train(argv: list[str] | None = None) -> None:
    """The entry script's ``__main__``: fit, then exit with the training contract's code."""
    from sagegam.container.training import execute

    arguments = sys.argv[1:] if argv is None else argv
    paths = ScriptModePaths.from_environment()
    sys.exit(execute(paths, lambda stopper, progress: fit_from_environment(
        paths, arguments, stopper, progress)))


# -- serving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """A request refused on the way: carried to :func:`output_fn`, which answers it."""

    error: ClientError


@dataclass(frozen=True)
class Request:
    """A body whose type sagegam reads; it is decoded against the model's columns (to tell
    a CSV header from data and to read categorical levels), which only predict_fn has."""

    body: bytes
    decoder: Decoder


@dataclass(frozen=True)
class Prediction:
    """Everything a response may hold; :func:`output_fn` picks by the Accept header."""

    output: Output  # mean response with the explanation
    classes: tuple[Any, ...] | None
    model: GAMPredictor | None = None  # with ``codes``: for standard errors, if asked
    codes: Any = None


def model_fn(model_dir: str) -> GAMPredictor:
    """The artifact in the model directory (the framework unpacks model.tar.gz there)."""
    return load(model_dir)


def input_fn(body: bytes | str, content_type: str | None) -> Request | Refused:
    """The body, once its size and content type are ones sagegam serves."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    settings = core.ServerSettings.from_environment()
    try:
        if len(raw) > settings.max_payload_bytes:
            raise core.payload_too_large(settings)
        decoder = core._decoder(content_type)
        if not raw:
            raise bad_request("The request body is empty; send at least one row.")
    except ClientError as error:
        return Refused(error)
    return Request(raw, decoder)


def predict_fn(data: Request | Refused, model: GAMPredictor) -> Prediction | Refused:
    """Predictions with their explanation (the terms are computed for the prediction
    anyway); columns are matched to the model's features by name when the body names
    them, as sagegam's own server does."""
    if isinstance(data, Refused):
        return data
    settings = core.ServerSettings.from_environment()
    try:
        decoded = data.decoder(data.body, DecodeOptions(settings.csv_header,
                                                        core._columns_of(model)))
        unknown = UnknownCells()
        codes = core._encoded(model, decoded, unknown)
        output = core._predict(model, codes, core.Options(explain=True), unknown)
    except ClientError as error:
        return Refused(error)
    return Prediction(output, model.classes, model, codes)


def output_fn(prediction: Prediction | Refused, accept: str | None) -> Any:
    """``(body, content type)`` in the first type of ``accept`` sagegam writes; explanations,
    labels, standard errors and intervals when its parameters ask (``explain=true``,
    ``output=label``, ``std=true``, ``interval=0.95``)."""
    if isinstance(prediction, Refused):
        return _refusal(prediction.error)
    settings = core.ServerSettings.from_environment()
    try:
        media, parameters = core._response_type(accept, settings.default_accept)
        options = core._options(parameters)
    except ClientError as error:
        return _refusal(error)
    return ENCODERS[media](_chosen(prediction, options)), media


def _chosen(prediction: Prediction, options: core.Options) -> Output:
    found = prediction.output
    values: Any = found.values
    if prediction.classes is not None and options.labels:
        values = core._label_array(prediction.classes)[(values > 0.5).astype(np.intp)]
    chosen = replace(found, values=values) if options.explain else \
        Output(values, warnings=found.warnings, warned_rows=found.warned_rows)
    if options.uncertain and prediction.model is not None:
        chosen = core.with_uncertainty(prediction.model, prediction.codes, options, chosen)
    return chosen


class RequestRefusedError(Exception):
    """A refused request outside the framework's serving stack (no response class there)."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(f"{error.status} {error.error}: {error.message}")
        self.error = error


def _refusal(error: ClientError) -> Any:
    """The framework's response object with the refusal's status and JSON body."""
    body = core.error_response(error).body
    try:
        framework = importlib.import_module("sagemaker_containers.beta.framework")
    except ImportError:
        raise RequestRefusedError(error) from None
    return framework.worker.Response(response=body, status=error.status, mimetype=JSON)
