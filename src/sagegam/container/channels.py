"""How a training job reads a channel: whole into memory, or as a stream of chunks.

A channel is streamed (:mod:`~sagegam.container.streams`, fitted in passes by
:mod:`~sagegam.model.streaming`) when its ``TrainingInputMode`` is ``Pipe``, when the
``streaming`` hyperparameter says ``true``, or with ``auto`` when its files are larger
than an eighth of the machine's memory (an in-memory fit holds several copies of its
data). Otherwise it is read into one table, as it always was. ``File`` and ``FastFile``
modes both deliver a folder; FastFile streams the S3 objects as they are read, which a
streamed channel's sequential reads suit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagegam.container.errors import UserError
from sagegam.container.paths import MLPaths
from sagegam.container.streams import FileSource, PipeSource
from sagegam.container.tabular import ReadOptions, channel_files
from sagegam.model.chunks import ChunkSource
from sagegam.model.scoring import MetricsTask, Scores

INPUT_MODES = ("File", "FastFile", "Pipe")
MEMORY_FRACTION = 8  # stream files larger than 1/8 of the memory
AUC_ROWS = 20_000_000  # scores kept for the AUC (8 bytes each) up to this many rows


@dataclass(frozen=True)
class Channel:
    name: str
    directory: Path
    data_dir: Path
    content_type: str | None
    mode: str
    distribution: str

    @classmethod
    def of(cls, paths: MLPaths, name: str, config: dict[str, Any]) -> Channel:
        """Channel ``name`` where ``paths`` puts it (script mode: ``SM_CHANNEL_NAME``)."""
        entry = config.get(name) or {}
        mode = str(entry.get("TrainingInputMode") or "File")
        if mode not in INPUT_MODES:
            raise UserError(f"Channel '{name}' has TrainingInputMode {mode!r}; use "
                            f"{', '.join(INPUT_MODES)}.")
        wrapper = str(entry.get("RecordWrapperType") or "None")
        if wrapper != "None":
            raise UserError(f"Channel '{name}' has RecordWrapperType {wrapper!r}; sagegam "
                            "reads plain CSV, Parquet or JSON Lines: use RecordWrapperType None.")
        return cls(name, paths.channel(name), paths.data_dir, entry.get("ContentType"), mode,
                   str(entry.get("S3DistributionType") or "FullyReplicated"))

    @property
    def present(self) -> bool:
        return self.directory.is_dir() or (self.mode == "Pipe" and
                                           (self.data_dir / f"{self.name}_0").exists())

    def streams(self, setting: bool | str, only_file: str | None) -> bool:
        if self.mode == "Pipe":
            return True
        if setting is not True and setting is not False:
            size = sum(path.stat().st_size for path in channel_files(self.directory, only_file))
            return size > memory_bytes() / MEMORY_FRACTION
        return setting

    def source(self, options: ReadOptions, only_file: str | None) -> ChunkSource:
        if self.mode == "Pipe":
            if only_file is not None:
                raise UserError("Pipe mode streams the whole channel; 'train-file' and "
                                "'test-file' need File or FastFile mode.")
            return PipeSource(self.data_dir, self.name, self.content_type, options)
        files = channel_files(self.directory, only_file)
        return FileSource.open(files, self.content_type, options)


def memory_bytes() -> float:
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8e9


def source_metrics(model: Any, source: ChunkSource, prefix: str,
                   classification: bool) -> dict[str, float]:
    """The job's metrics of ``model`` on a streamed channel (every row counts once)."""
    if source.n_features != model.n_features_in_:
        raise UserError(f"The {prefix} data has {source.n_features} features; the model was "
                        f"trained on {model.n_features_in_}.")
    keep = classification and model.predictor_.info.get("n_obs", 0) <= AUC_ROWS
    try:
        scores = Scores.merged(source.map(MetricsTask(model.predictor_, False, keep)))
    except ValueError as error:
        raise UserError(f"Cannot score the {prefix} data: {error}") from None
    if not classification:
        r2 = 1.0 - scores.squared_error / scores.centred if scores.centred > 0 else 0.0
        return {f"{prefix}_r2": r2,
                f"{prefix}_rmse": float(np.sqrt(scores.squared_error / scores.weight))}
    metrics = {f"{prefix}_log_loss": scores.log_loss / scores.weight,
               f"{prefix}_accuracy": scores.correct / scores.weight}
    auc = scores.auc()
    if auc is not None:
        metrics[f"{prefix}_auc"] = auc
    return metrics
