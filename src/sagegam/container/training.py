"""The ``train`` entry point: SageMaker's training contract, end to end.

Reads ``/opt/ml/input`` (config and channels), fits a GAM, writes the artifact to
``/opt/ml/model`` and metrics, plots and a report to ``/opt/ml/output/data``. Any failure
ends with its root cause in ``/opt/ml/output/failure`` (SageMaker shows its first 1024
characters as ``FailureReason``) and a non-zero exit code:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     trained (on a host other than the first: the first host saved the model)
1     internal error: a bug in sagegam; the failure file holds the traceback
2     user error: bad data, hyperparameter, channel or file, named in the message
143   stopped by SIGTERM (StopTrainingJob or a stopping condition)
====  ==========================================================================
"""

from __future__ import annotations

import json
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagegam.container import hosts, hyperparameters
from sagegam.container.channels import Channel, source_metrics
from sagegam.container.errors import JobStopped, UserError
from sagegam.container.metrics import METRIC_LINE
from sagegam.container.paths import MLPaths
from sagegam.container.report import write_report
from sagegam.container.stopping import StopOnSigterm
from sagegam.container.streams import FileSource
from sagegam.container.tabular import ReadOptions, Table, channel_files, read_table
from sagegam.model.chunks import ChunkSource

EXIT_INTERNAL, EXIT_USER, EXIT_STOPPED = 1, 2, 143
FAILURE_LIMIT = 1024
VALIDATION_CHANNELS = ("validation", "test")


def log(message: str) -> None:
    print(f"[sagegam] {message}", flush=True)


def train(base_dir: str | None = None) -> int:
    """Run one training job rooted at ``base_dir`` (else $SAGEGAM_BASE_DIR, else /opt/ml);
    returns the process exit code."""
    paths = MLPaths.resolve(base_dir)
    return execute(paths, lambda stopper, progress: run(paths, stopper, progress))


def execute(paths: MLPaths, job: Callable[[StopOnSigterm, Progress], None]) -> int:
    """Run ``job`` under the training contract: SIGTERM stops it, and any failure ends with
    its root cause in ``paths.failure_file`` and the exit code of the table above."""
    progress = Progress()
    with StopOnSigterm().installed() as stopper:
        try:
            job(stopper, progress)
            return 0
        except UserError as error:
            reason, code = f"UserError: {error}", EXIT_USER
        except JobStopped:
            reason, code = _stopped_reason(paths, progress, stopper.received), EXIT_STOPPED
        except Exception as error:  # everything else is our bug: say so, with the trace
            trace = "".join(traceback.format_exception(error))
            reason, code = (f"InternalError: {type(error).__name__}: {error}. This is a bug "
                            f"in sagegam; please report it.\n{trace}", EXIT_INTERNAL)
        finally:
            stopper.finish()
        return _fail(paths, reason, code)


@dataclass
class Progress:
    """How far the job got, so a stop is reported truthfully."""

    model_saved: bool = False


def _stopped_reason(paths: MLPaths, progress: Progress, received: str) -> str:
    why = "SIGTERM (StopTrainingJob or a stopping condition)" if received == "SIGTERM" else \
        f"{received} (Ctrl-C)"
    if progress.model_saved:
        return (f"Stopped: the job received {why} after the model was saved to "
                f"{paths.model_dir}; the model is whole, but metrics.json, the plot or the "
                "report in output/data may be missing.")
    return (f"Stopped: the job received {why} before training finished; no model was "
            "written.")


def _fail(paths: MLPaths, reason: str, code: int) -> int:
    log(reason.splitlines()[0])
    text = reason if len(reason) <= FAILURE_LIMIT else reason[: FAILURE_LIMIT - 3] + "..."
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(text, encoding="utf-8")
    except OSError as error:
        log(f"could not write {paths.failure_file}: {error}")
    return code


def run(paths: MLPaths, stopper: StopOnSigterm, progress: Progress) -> None:
    """A training job as SageMaker lays it out: the configuration files under ``paths``."""
    fit_job(paths, _read_json(paths.hyperparameters, default={}),
            _read_json(paths.resource_config, default={}),
            _read_json(paths.input_data_config, default={}), stopper, progress)


def fit_job(paths: MLPaths, raw_hyperparameters: dict[str, Any],
            resource_config: dict[str, Any], input_data_config: dict[str, Any],
            stopper: StopOnSigterm, progress: Progress) -> None:
    """Read the channels, fit, print the metrics and write the outputs; the configuration
    comes from the files (``run``) or from script mode's SM_* variables.

    On a job of several hosts the first one fits, on all hosts' statistics (a Dask
    cluster of the hosts); the others serve as workers until it has saved the model.
    """
    settings = hyperparameters.parse(raw_hyperparameters)
    cluster = hosts.Cluster.of(resource_config)
    if not cluster.is_leader:
        hosts.work(paths, cluster, stopper, log)  # returns once the leader saved the model
        return
    _check_writable(paths.model_dir, paths.output_data_dir)  # before an hour of fitting
    classification = settings["task"] == "classification"
    options = ReadOptions(settings["target"], settings["header"], not classification)
    with hosts.leading(paths, cluster, input_data_config, stopper, log) as shards:
        data = _training_data(paths, settings, input_data_config, options, shards)
        model = _fit(settings, data.train)
        metrics = _metrics(model, data, classification)
        for name, value in metrics.items():
            print(METRIC_LINE.format(name=name, value=value), flush=True)
        with stopper.deferred():
            _save(model, paths.model_dir)
            progress.model_saved = True
    _write_outputs(paths, model, data, metrics)


@dataclass(frozen=True)
class TrainingData:
    train: Table | ChunkSource  # a table in memory, or a stream of chunks
    validation: Table | ChunkSource | None
    sample: Table | None  # rows for the plot's partial residuals and the report


def _training_data(paths: MLPaths, settings: hyperparameters.TrainingSettings,
                   config: dict[str, Any], options: ReadOptions,
                   shards: hosts.Shards | None) -> TrainingData:
    train = Channel.of(paths, "train", config)
    names = [n for n in VALIDATION_CHANNELS if Channel.of(paths, n, config).present]
    validation = Channel.of(paths, names[0], config) if names else None
    if validation is None and settings["test-file"] is not None:
        raise UserError("Hyperparameter 'test-file' is set but there is no 'validation' or "
                        "'test' channel.")
    if shards is not None:
        return TrainingData(shards.source(train, options, settings["train-file"]),
                            None if validation is None else shards.source(
                                validation, options, settings["test-file"]), None)
    if not train.present:
        _missing_channel(paths, train)
    if not train.streams(settings["streaming"], settings["train-file"]):
        table = _read_channel(train, settings["train-file"], options)
        held_out = None if validation is None else _read_channel(
            validation, settings["test-file"], options)
        return TrainingData(table, held_out, table)
    log(f"streaming channel train ({train.mode} mode): the fit reads it in passes")
    source = train.source(options, settings["train-file"])
    held = None if validation is None else validation.source(options, settings["test-file"])
    sample = None
    if isinstance(source, FileSource):
        chunk = source.sample()
        sample = Table(chunk.X, chunk.y, source.feature_names, "")
    return TrainingData(source, held, sample)


def _check_writable(*directories: Path) -> None:
    for directory in directories:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=directory).close()
        except OSError as error:
            raise UserError(f"Cannot write to {directory}: {error.strerror or error}. The job "
                            "writes the model and its outputs there; SageMaker provides them "
                            "writable, so check the folder (or a read-only mount).") from None


def _save(model: Any, directory: Path) -> None:
    from sagegam import save

    try:
        save(model, directory)
    except OSError as error:
        raise UserError(f"Cannot write the model to {directory}: {error}") from None
    log(f"saved the model to {directory}")


def _read_json(path: Path, default: Any) -> Any:
    if not path.is_file():
        log(f"{path.name} not found; using {default!r}")
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None


def _missing_channel(paths: MLPaths, channel: Channel) -> None:
    present = sorted(p.name for p in paths.data_dir.iterdir()) if paths.data_dir.is_dir() \
        else []
    raise UserError(f"Missing channel '{channel.name}': expected data in {channel.directory}. "
                    f"Channels present: {present or 'none'}.")


def _read_channel(channel: Channel, only_file: str | None, options: ReadOptions) -> Table:
    files = channel_files(channel.directory, only_file)
    log(f"reading channel {channel.name}: {len(files)} file(s)")
    table = read_table(files, channel.content_type, options, progress=log)
    log(f"channel {channel.name}: {table.X.shape[0]:,} rows, {table.X.shape[1]} features, "
        f"target '{table.target_name}'")
    return table


def _fit(settings: hyperparameters.TrainingSettings, train: Table | ChunkSource) -> Any:
    model = settings.estimator()
    size = f"{len(train.X):,} rows x {train.X.shape[1]} features" if isinstance(train, Table) \
        else f"{train.n_features} features, streamed"
    log(f"fitting {type(model).__name__} on {size} ({settings.describe()})")
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if isinstance(train, Table):
                model.fit(train.X, train.y)
            else:
                model.fit(train)
        except ValueError as error:
            raise UserError(f"Cannot fit the training data: {error}") from None
    for warning in caught:
        log(f"warning: {warning.message}")
    passes = model.predictor_.info.get("passes")
    log(f"fitted in {time.perf_counter() - started:.2f} s ({model.n_iter_} IRLS iterations"
        + (f", {passes} passes over the data)" if passes else ")"))
    return model


def _metrics(model: Any, data: TrainingData, classification: bool) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for prefix, table in [("train", data.train), ("validation", data.validation)]:
        if table is None:
            continue
        if not isinstance(table, Table):
            if prefix == "train" and not classification and "train_r2" in \
                    model.predictor_.info:  # the fit's own last pass measured them
                metrics |= {key: model.predictor_.info[key]
                            for key in ("train_r2", "train_rmse")}
            else:
                metrics |= source_metrics(model, table, prefix, classification)
            continue
        if table.X.shape[1] != model.n_features_in_:
            raise UserError(f"The {prefix} data has {table.X.shape[1]} features; the model "
                            f"was trained on {model.n_features_in_}.")
        metrics |= _classification_metrics(model, table.X, table.y, prefix) if \
            classification else _regression_metrics(model, table.X, table.y, prefix)
    return metrics


def _regression_metrics(model: Any, X: Any, y: Any, prefix: str) -> dict[str, float]:
    predicted = model.predict(X)
    residual = np.asarray(y, dtype=float) - predicted
    total = float(np.sum((y - np.mean(y)) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 0.0
    return {f"{prefix}_r2": r2, f"{prefix}_rmse": float(np.sqrt(np.mean(residual**2)))}


def _classification_metrics(model: Any, X: Any, y: Any, prefix: str) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    unknown = set(np.unique(y)) - set(model.classes_)
    if unknown:
        raise UserError(f"The {prefix} target has labels {sorted(map(str, unknown))} that the "
                        f"training data does not ({list(map(str, model.classes_))}).")
    probability = model.predict_proba(X)
    positive = np.asarray(y) == model.classes_[1]
    metrics = {f"{prefix}_log_loss": float(log_loss(positive, probability[:, 1],
                                                    labels=[False, True])),
               f"{prefix}_accuracy": float(accuracy_score(y, model.predict(X)))}
    if 0 < positive.sum() < len(positive):
        metrics[f"{prefix}_auc"] = float(roc_auc_score(positive, probability[:, 1]))
    return metrics


def _write_outputs(paths: MLPaths, model: Any, data: TrainingData,
                   metrics: dict[str, float]) -> None:
    out = paths.output_data_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n",
                                          encoding="utf-8")
        # A streamed channel is not in memory: its sample stands in, and the report
        # shows no validation rows.
        validation = data.validation if isinstance(data.validation, Table) else None
        plot = _plot(model, data.sample, out / "partial-effects.png")
        sets = [(t.X, t.y) if t else None for t in (data.sample, validation)]
        write_report(out / "report.html", model.predictor_, metrics,
                     job_name=paths.base.name if paths.base.name != "ml" else "training job",
                     train=sets[0], validation=sets[1])
    except OSError as error:
        raise UserError(f"The model is saved, but writing the outputs to {out} failed: "
                        f"{error}") from None
    written = ["metrics.json", "report.html"] + ([plot.name] if plot else [])
    log(f"wrote {', '.join(written)} to {out}")


def _plot(model: Any, train: Table | None, path: Path) -> Path | None:
    try:
        from sagegam.model.plotting import plot_terms

        plot_terms(model.predictor_, path=path, X=None if train is None else train.X,
                   y=None if train is None else train.y)
    except ImportError:
        # The image leaves matplotlib out (about 90 MB): report.html draws the same charts.
        log(f"matplotlib is not installed, so no {path.name} (report.html has the same "
            "charts; the image draws it when built with EXTRAS=plot, pip with sagegam[plot])")
        return None
    return path
