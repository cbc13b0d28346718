"""Hidden cases for the `train` entry point: hypothesis over hyperparameters, files and
formats. Whatever arrives, the job succeeds or fails as a user error (exit 2, one sentence
starting ``UserError:`` in the failure file), never with a traceback or an internal error."""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagegam import load
from sagegam.container.hyperparameters import SETTINGS
from sagegam.container.training import train

NAMES = [s.name for s in SETTINGS] + ["dff", "sagemaker_program", "DF", "max_iter", ""]
VALUES = st.one_of(
    st.sampled_from(["auto", "true", "false", "0", "1", "4", "8", "-1", "2.5", "nan", "inf",
                     "-inf", "1e999", "1" * 400, "", "regression", "classification",
                     "gaussian", "poisson", "gamma", "linear", "constant", "error", "x0",
                     "y", '"y"', "null", "[]", "{}", "data.csv", "../x", "/etc/passwd", "²"]),
    st.text(max_size=12),
    st.integers(-10, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
VALID = {
    "df": st.integers(4, 12).map(str), "degree": st.sampled_from(["1", "2", "3"]),
    "alpha": st.sampled_from(["auto", "0", "0.5", "100"]),
    "adaptive": st.sampled_from(["auto", "true", "false"]),
    "extrapolation": st.sampled_from(["linear", "constant", "error"]),
    "max-iter": st.integers(1, 50).map(str), "header": st.sampled_from(["auto", "true", "false"]),
    "task": st.sampled_from(["regression", "classification"]),
    "family": st.sampled_from(["gaussian", "poisson", "gamma"]),
    "target": st.sampled_from(["-1", "0", "y", "c0"]),
}
HYPERPARAMETERS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({}, optional=VALID),  # settings that parse; the data may not fit
    st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=4),  # anything at all
)
CELLS = st.one_of(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.4g}"),
                  st.sampled_from(["", "nan", "inf", "yes", "no", '"1,5"', "1e999", "  3 "]),
                  st.text(alphabet="abc,\"\n 0123.-", max_size=5))


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 30))
    columns = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    frame = pd.DataFrame(rng.uniform(0, 10, size=(rows, columns)),
                         columns=[f"c{i}" for i in range(columns)])
    frame["y"] = frame.sum(axis=1) + rng.normal(0, 0.1, rows) if columns else 0.0
    if draw(st.booleans()):  # some cells replaced by hostile ones
        for _ in range(draw(st.integers(1, 3))):
            if rows:
                frame = frame.astype(object)
                frame.iat[draw(st.integers(0, rows - 1)),
                          draw(st.integers(0, columns))] = draw(CELLS)
    return frame


@st.composite
def channel_files(draw: st.DrawFn) -> tuple[str, bytes, str | None]:
    """(file name, content, channel ContentType) in one of the formats, or a broken one."""
    frame = draw(tables())
    kind = draw(st.sampled_from(["csv", "csv-no-header", "csv.gz", "parquet", "jsonl",
                                 "bytes", "truncated-parquet"]))
    content_type = draw(st.sampled_from([None, None, "text/csv", "application/x-parquet",
                                         "application/jsonlines", "image/png"]))
    if kind == "csv":
        return "data.csv", frame.to_csv(index=False).encode(), content_type
    if kind == "csv-no-header":
        return "data.csv", frame.to_csv(index=False, header=False).encode(), content_type
    if kind == "csv.gz":
        return "data.csv.gz", gzip.compress(frame.to_csv(index=False).encode()), content_type
    if kind == "jsonl":
        return "data.jsonl", frame.to_json(orient="records", lines=True).encode(), content_type
    if kind == "bytes":
        return "data", draw(st.binary(max_size=64)), content_type
    buffer = io.BytesIO()
    frame.astype(str).to_parquet(buffer) if frame.dtypes.eq(object).any() else \
        frame.to_parquet(buffer)
    data = buffer.getvalue()
    if kind == "truncated-parquet":
        data = data[: draw(st.integers(0, len(data) - 1))]
    return "data.parquet", data, content_type


def _layout(base: Path, hyperparameters: dict[str, str], file: tuple[str, bytes, str | None],
            validation: bool) -> None:
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    name, content, content_type = file
    channels = ["train", "validation"] if validation else ["train"]
    (config / "inputdataconfig.json").write_text(json.dumps(
        {c: {"ContentType": content_type} if content_type else {} for c in channels}))
    for channel in channels:
        (base / "input" / "data" / channel).mkdir(parents=True)
        (base / "input" / "data" / channel / name).write_bytes(content)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hyperparameters=HYPERPARAMETERS, file=channel_files(), validation=st.booleans())
def test_train_succeeds_or_fails_as_a_user_error(hyperparameters, file, validation):
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "ml"
        _layout(base, hyperparameters, file, validation)
        code = train(str(base))
        failure = base / "output" / "failure"
        if code == 0:
            assert load(base / "model").n_features >= 1
            assert not failure.exists()
        else:
            reason = failure.read_text()
            assert code == 2, reason
            assert reason.startswith("UserError: ") and "Traceback" not in reason, reason
