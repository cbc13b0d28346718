"""The real `train` command, run as SageMaker would, on trees built in temp dirs."""

from __future__ import annotations

import gzip
import json
import re
import signal
import time

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMRegressor, load
from sagegam.datasets import gauss3_split


def _gauss3_headerless(path):
    X_train, _, y_train, _ = gauss3_split()
    np.savetxt(path, np.column_stack([X_train, y_train]), delimiter=",")


def _additive_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.uniform(20, 80, rows), "dose": rng.uniform(0, 1, rows)})
    frame["response"] = np.sin(frame["age"] / 10) + frame["dose"] ** 2 + rng.normal(0, .1, rows)
    return frame


def test_reference_hyperparameters_train_gauss3_without_a_header(job):
    _gauss3_headerless(job.channel("train") / "data.csv")
    result = job.config({"train-file": "data.csv", "df": "20"}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert job.metrics["train_r2"] >= 0.9967
    assert re.search(r"metric: train_r2=0\.99\d+;", result.stdout)
    predictor = load(job.base / "model")
    assert predictor.n_features == 1 and predictor.info["n_obs"] == 187
    outputs = {p.name for p in (job.base / "output" / "data").iterdir()}
    assert outputs == {"metrics.json", "partial-effects.png", "report.html"}
    assert 'id="sagegam-data"' in (job.base / "output" / "data" / "report.html").read_text()
    assert not (job.base / "output" / "failure").exists()


def test_csv_with_header_named_target_and_validation_channel(job):
    frame = _additive_frame(600)[["response", "age", "dose"]]
    frame[:500].to_csv(job.channel("train") / "part-1.csv", index=False)
    frame[500:].to_csv(job.channel("validation") / "holdout.csv", index=False)
    result = job.config({"target": '"response"'}, {"train": {}, "validation": {}}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert load(job.base / "model").feature_names == ("age", "dose")
    assert job.metrics["validation_r2"] > 0.9
    assert "metric: validation_rmse=" in result.stdout


def test_every_file_of_a_channel_is_read_recursively(job):
    frame = _additive_frame(300)
    (job.channel("train") / "2026" / "11").mkdir(parents=True)
    frame[:100].to_csv(job.channel("train") / "a.csv", index=False)
    frame[100:].to_csv(job.channel("train") / "2026" / "11" / "b.csv", index=False)
    result = job.config({}).run()
    assert result.returncode == 0, result.stdout
    assert load(job.base / "model").info["n_obs"] == 300


def test_parquet_by_content_type(job):
    _additive_frame(400).to_parquet(job.channel("train") / "data")  # no extension
    result = job.config({}, {"train": {"ContentType": "application/x-parquet"}}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert load(job.base / "model").feature_names == ("age", "dose")


def test_json_lines_by_extension(job):
    _additive_frame(400).to_json(job.channel("train") / "data.jsonl", orient="records",
                                 lines=True)
    result = job.config({"target": "response"}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert job.metrics["train_r2"] > 0.9


def test_gzip_csv_with_and_without_the_extension(job):
    text = _additive_frame(400).to_csv(index=False).encode()
    (job.channel("train") / "a.csv.gz").write_bytes(gzip.compress(text))
    (job.channel("train") / "b").write_bytes(gzip.compress(text))
    result = job.config({}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert load(job.base / "model").info["n_obs"] == 800


def test_classifier_with_string_labels(job):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.uniform(-3, 3, 800)})
    frame["label"] = np.where(rng.random(800) < 1 / (1 + np.exp(-2 * frame["x"])), "yes", "no")
    frame.to_csv(job.channel("train") / "data.csv", index=False)
    result = job.config({"task": "classification"}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert load(job.base / "model").classes == ("no", "yes")
    assert job.metrics["train_auc"] > 0.8 and "train_log_loss" in job.metrics


@pytest.mark.parametrize("hyperparameters, words", [
    ({"dff": "20"}, "Unknown hyperparameter 'dff'. Valid hyperparameters: adaptive, alpha"),
    ({"df": "twenty"}, "Hyperparameter 'df' must be an integer >= 4; got 'twenty'"),
    ({"alpha": "-1"}, "Hyperparameter 'alpha' must be 'auto' or a number >= 0"),
    ({"target": "price"}, "Target column 'price' is not in the header"),
    ({"train-file": "missing.csv"}, "File 'missing.csv' is not in channel train"),
    ({"monotonic-cst": "0:2"}, "Hyperparameter 'monotonic-cst' must be 'none' or features"),
    ({"monotonic-cst": "3:1"}, "monotonic_cst names unknown features ['3']"),
    ({"curvature-cst": "0:convex"}, "Hyperparameter 'curvature-cst' must be 'none' or features"),
    ({"curvature-cst": "0:1", "extrapolation": "constant"},
     "curvature_cst constrains 'x0', but extrapolation='constant'"),
    ({"family": "tweedie", "power": "2.5"},
     "Hyperparameter 'power' must be 'auto' or a number between 1 and 2; got 2.5"),
    ({"theta": "2"}, "Hyperparameter 'theta' applies to family=negative_binomial only"),
    ({"exposure": "0"}, "exposure multiplies the expected response, which needs a log link"),
    ({"offset": "3"}, "offset=3; name a column of X by its name or its 0-based index"),
    ({"offset": "-1"}, "Hyperparameter 'offset' must be 'none', a header name or a 0-based"),
    ({"offset": "0", "streaming": "true"},
     "X's only column is the offset; a GAM needs at least one feature besides"),
])
def test_bad_settings_fail_as_user_errors_naming_the_key(job, hyperparameters, words):
    _gauss3_headerless(job.channel("train") / "data.csv")
    result = job.config(hyperparameters).run()
    assert result.returncode == 2
    assert job.failure.startswith("UserError: ") and words in job.failure


def test_a_negative_binomial_with_a_monotone_feature(job):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"age": rng.uniform(20, 80, 800), "dose": rng.uniform(0, 1, 800)})
    mean = np.exp(np.sin(frame["age"] / 10) + np.sqrt(frame["dose"]))
    frame["visits"] = rng.negative_binomial(2.0, 2.0 / (2.0 + mean))
    frame.to_csv(job.channel("train") / "visits.csv", index=False)
    result = job.config({"target": "visits", "family": "negative_binomial",
                         "monotonic-cst": "dose:1"}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    predictor = load(job.base / "model")
    assert predictor.family.name == "negative_binomial" and predictor.family.theta > 0
    grid = pd.DataFrame({"age": np.full(500, 50.0), "dose": np.linspace(-0.2, 1.2, 500)})
    assert np.all(np.diff(predictor.predict(grid)) >= 0)


def test_a_rate_model_reads_its_exposure_column_in_training_and_validation(job):
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 900), "years": rng.uniform(0.1, 5, 900)})
    frame["claims"] = rng.poisson(frame["years"] * np.exp(np.sin(frame["age"] / 12) - 1))
    frame[:700].to_csv(job.channel("train") / "claims.csv", index=False)
    frame[700:].to_csv(job.channel("validation") / "claims.csv", index=False)
    result = job.config({"target": "claims", "family": "poisson", "exposure": "years"},
                        {"train": {}, "validation": {}}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    predictor = load(job.base / "model")
    assert predictor.schema.offsets == {1: "exposure"} and predictor.term_names == ("age",)
    holdout = frame[700:]
    in_process = GAMRegressor(family="poisson", exposure="years").fit(
        frame[:700][["age", "years"]], frame[:700]["claims"])
    # The job reads the same numbers from the CSV file as the frame holds (repr round
    # trips), so it fits the same model up to the order of its rows.
    np.testing.assert_allclose(predictor.predict(holdout[["age", "years"]]),
                               in_process.predict(holdout[["age", "years"]]), rtol=1e-6)
    residual = holdout["claims"] - in_process.predict(holdout[["age", "years"]])
    expected_rmse = float(np.sqrt(np.mean(residual**2)))
    assert job.metrics["validation_rmse"] == pytest.approx(expected_rmse, rel=1e-6)


def test_an_increasing_concave_feature(job):
    frame = _additive_frame(600, seed=4)
    frame["response"] = np.log1p(5 * frame["dose"]) + np.sin(frame["age"] / 10) + \
        np.random.default_rng(5).normal(0, 0.5, 600)
    frame.to_csv(job.channel("train") / "doses.csv", index=False)
    result = job.config({"target": "response", "monotonic-cst": "dose:1",
                         "curvature-cst": "dose:-1"}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    curve = load(job.base / "model").predict(
        pd.DataFrame({"age": np.full(500, 50.0), "dose": np.linspace(-0.2, 1.2, 500)}))
    rounding = 1e-12 * float(np.max(np.abs(curve)))
    assert np.all(np.diff(curve) >= -rounding) and np.all(np.diff(curve, n=2) <= rounding)


def test_missing_train_channel_names_the_channel_and_what_is_there(job):
    job.channel("training")
    result = job.config({}).run()
    assert result.returncode == 2
    assert "Missing channel 'train'" in job.failure and "training" in job.failure


def test_empty_file_is_a_user_error(job):
    (job.channel("train") / "data.csv").write_text("")
    result = job.config({}).run()
    assert result.returncode == 2 and "data.csv is empty" in job.failure


def test_non_numeric_cell_names_file_line_and_column(job):
    frame = _additive_frame(50)
    frame["dose"] = frame["dose"].astype(object)
    frame.loc[7, "dose"] = "lots"
    frame.to_csv(job.channel("train") / "data.csv", index=False)
    result = job.config({}).run()
    assert result.returncode == 2
    assert "data.csv, line 9, column 'dose': 'lots' is not a number" in job.failure


def test_empty_and_na_cells_are_missing_values_with_an_effect_of_their_own(job):
    rows = [f"{i % 7},{'' if i % 5 == 0 else 'NA' if i % 5 == 1 else i % 4},{i % 3}"
            for i in range(60)]
    (job.channel("train") / "data.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    result = job.config({}).run()
    assert result.returncode == 0, job.failure
    model = load(job.base / "model")
    assert model.schema.features[1].missing and not model.schema.features[0].missing


def test_an_empty_target_names_file_line_and_column(job):
    (job.channel("train") / "data.csv").write_text("a,b,y\n1,2,3\n4,5,\n7,8,9\n")
    result = job.config({}).run()
    assert result.returncode == 2
    assert "data.csv, line 3, column 'y': the value is empty" in job.failure


def test_text_columns_are_categorical_features_through_the_job(job):
    levels = ["HS Grad", "College", "Advanced, or more"]
    rows = [f'{20 + i % 50},"{levels[i % 3]}",{i % 3 + (i % 50) / 50}' for i in range(300)]
    (job.channel("train") / "data.csv").write_text("age,education,wage\n" + "\n".join(rows))
    result = job.config({"interactions": "age:education"}).run()
    assert result.returncode == 0, job.failure
    model = load(job.base / "model")
    assert model.schema.features[1].levels == ("Advanced, or more", "College", "HS Grad")
    assert model.term_names == ("age", "education", "age:education")


def test_hyperparameters_json_must_be_valid(job):
    _gauss3_headerless(job.channel("train") / "data.csv")
    job.config({})
    (job.base / "input" / "config" / "hyperparameters.json").write_text("{not json")
    result = job.run()
    assert result.returncode == 2 and "hyperparameters.json is not valid JSON" in job.failure


def test_failure_reason_fits_sagemakers_1024_characters(job):
    _gauss3_headerless(job.channel("train") / "data.csv")
    result = job.config({"x" * 3000: "1"}).run()
    assert result.returncode == 2 and len(job.failure) <= 1024


def test_sigterm_stops_the_job_within_seconds_and_says_so(job):
    rows = 600_000
    rng = np.random.default_rng(0)
    data = rng.uniform(size=(rows, 6))
    np.savetxt(job.channel("train") / "big.csv", data, delimiter=",", fmt="%.6f")
    job.config({"task": "regression"})
    process = job.start()
    assert process.stdout is not None
    for line in process.stdout:
        if "reading channel" in line:
            break
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert process.wait(timeout=20) == 143
    assert time.monotonic() - started < 10
    assert job.failure.startswith("Stopped: the job received SIGTERM")


def test_hyperparameters_arrive_plain_or_json_encoded():
    from sagegam.container.hyperparameters import parse

    plain = parse({"df": "20", "adaptive": "True", "target": "price", "alpha": "0.5"})
    encoded = parse({"df": "20", "adaptive": "true", "target": '"price"', "alpha": "0.5"})
    assert plain == encoded
    assert plain["df"] == 20 and plain["adaptive"] is True and plain["target"] == "price"
    assert parse({"sagemaker_program": "x", "_tuning_objective_metric": "y"})["df"] == 25
    assert parse({"monotonic-cst": "dose:1, 2:-1"})["monotonic-cst"] == {"dose": 1, 2: -1}
    assert parse({"monotonic-cst": "none"})["monotonic-cst"] is None
    assert parse({"curvature-cst": "dose:-1,0:1"})["curvature-cst"] == {"dose": -1, 0: 1}
    assert parse({"curvature-cst": "dose:-1"}).estimator().curvature_cst == {"dose": -1}
    given = parse({"family": "tweedie", "power": "1.4", "knots": "quantile"}).estimator()
    assert (given.power, given.theta, given.knots) == (1.4, "auto", "quantile")
    # The SageMaker Python SDK JSON-encodes every value (json.dumps) before CreateTrainingJob.
    typed = {"df": 20, "adaptive": True, "target": "price", "alpha": 0.5}
    assert parse({key: json.dumps(value) for key, value in typed.items()}) == plain
