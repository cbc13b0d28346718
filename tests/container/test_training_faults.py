"""Faults of the real `train` entry point: each one a user error sentence or a truthful stop."""

from __future__ import annotations

import signal

import numpy as np
import pandas as pd
import pytest

from sagegam import load
from tests.container.test_training import _additive_frame, _gauss3_headerless


def test_a_corrupt_parquet_file_is_a_user_error_naming_it(job):
    data = job.channel("train") / "data.parquet"
    _additive_frame(100).to_parquet(data)
    data.write_bytes(data.read_bytes()[:40] + b"garbage" * 10 + data.read_bytes()[-8:])
    result = job.config({}).run()
    assert result.returncode == 2, result.stdout
    assert job.failure.startswith("UserError: data.parquet is not a valid Parquet file")
    assert "Traceback" not in job.failure


@pytest.mark.parametrize("value", ["nan", "1e999", "-inf", "1" * 400, "20.5"])
def test_a_non_finite_or_fractional_df_is_a_user_error(job, value):
    _gauss3_headerless(job.channel("train") / "data.csv")
    result = job.config({"df": value}).run()
    assert result.returncode == 2
    assert job.failure.startswith("UserError: Hyperparameter 'df' must be an integer >= 4")


@pytest.mark.parametrize("value", ["1" * 400, "1e999"])
def test_an_overflowing_alpha_is_a_user_error(job, value):
    _gauss3_headerless(job.channel("train") / "data.csv")
    result = job.config({"alpha": value}).run()
    assert result.returncode == 2
    assert job.failure.startswith("UserError: Hyperparameter 'alpha' must be")


def test_sigterm_after_the_model_is_saved_says_the_model_is_whole(job):
    _gauss3_headerless(job.channel("train") / "data.csv")
    job.config({"df": "20"})
    process = job.start()
    assert process.stdout is not None
    for line in process.stdout:
        if "saved the model to" in line:
            process.send_signal(signal.SIGTERM)  # while the plot and report are written
            break
    process.stdout.read()
    assert process.wait(timeout=60) == 143
    assert job.failure.startswith("Stopped: the job received SIGTERM")
    assert "after the model was saved" in job.failure and "no model" not in job.failure
    assert load(job.base / "model").n_features == 1


def test_an_unwritable_model_directory_is_found_before_the_data_is_read(job):
    _gauss3_headerless(job.channel("train") / "data.csv")
    job.config({})
    (job.base / "model").write_text("not a directory")
    result = job.run()
    assert result.returncode == 2
    assert job.failure.startswith(f"UserError: Cannot write to {job.base / 'model'}")
    assert "reading channel" not in result.stdout


def test_a_link_out_of_the_channel_is_refused_not_read(job, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n3,4\n")
    _gauss3_headerless(job.channel("train") / "data.csv")
    (job.channel("train") / "more.csv").symlink_to(outside)
    result = job.config({}).run()
    assert result.returncode == 2
    assert job.failure.startswith("UserError: more.csv in channel train is a link to "
                                  f"{outside}, outside the channel")


def test_a_link_inside_the_channel_is_read(job):
    frame = _additive_frame(200)
    (job.channel("train") / "real").mkdir()
    frame.to_csv(job.channel("train") / "real" / "data.csv", index=False)
    (job.channel("train") / "alias.csv").symlink_to(job.channel("train") / "real" / "data.csv")
    result = job.config({"train-file": "alias.csv"}).run()
    assert result.returncode == 0, result.stdout
    assert load(job.base / "model").feature_names == ("age", "dose")


def test_a_quoted_header_with_commas_names_the_features(job):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"dose, mg": rng.uniform(0, 1, 300), 'say "when"': rng.uniform(0, 1, 300)})
    frame["y"] = frame["dose, mg"] ** 2 + np.sin(3 * frame['say "when"'])
    frame.to_csv(job.channel("train") / "data.csv", index=False)
    result = job.config({}).run()
    assert result.returncode == 0, result.stdout
    assert load(job.base / "model").feature_names == ("dose, mg", 'say "when"')
