"""The training job's report.html is the explorer: the real `train` entry point writes it,
and Chromium opens it from the output folder (a rate model's too, exposure and all)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sagegam import load
from tests.container.conftest import TrainingJob
from tests.explore import models
from tests.explore.test_browser import COLOURED, WHY
from tests.explore.test_exposure import OFFSET, RELATIVE, WATERFALL


def test_the_training_report_explores_the_model_with_both_channels(browser, tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"age": rng.uniform(20, 80, 800).round(1),
                          "dose": rng.uniform(0, 1, 800).round(3)})
    frame["response"] = np.sin(frame.age / 10) + frame.dose**2 + rng.normal(0, 0.1, 800)
    job = TrainingJob(tmp_path / "ml")
    frame[:600].to_csv(job.channel("train") / "train.csv", index=False)
    frame[600:].to_csv(job.channel("validation") / "holdout.csv", index=False)
    result = job.config({"target": "response"}, {"train": {}, "validation": {}}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    out = job.base / "output" / "data"
    assert (out / "partial-effects.png").stat().st_size > 0
    browser.open((out / "report.html").as_uri())
    terms = browser.evaluate("Array.from(document.querySelectorAll('article.term')).map(a => "
                             f"[a.dataset.term, {COLOURED}(a.querySelector('canvas'))])")
    assert sorted(name for name, _ in terms) == ["age", "dose"]
    assert all(coloured > 300 for _, coloured in terms)
    fits = browser.evaluate("Array.from(document.querySelectorAll('article[data-dataset]'))"
                            ".map(a => a.querySelector('h3').textContent)")
    assert fits == ["training data: 600 rows", "validation data: 200 rows"]
    shown = browser.evaluate("Object.fromEntries(Array.from(document.querySelectorAll("
                             "'table.stats tr')).map(r => [r.cells[0].textContent, "
                             "r.cells[1].textContent]))")
    metrics = json.loads((out / "metrics.json").read_text())
    assert float(shown["validation r2"]) == pytest.approx(metrics["validation_r2"], rel=1e-5)


def test_the_report_of_a_rate_model_predicts_each_row_with_its_exposure(browser, tmp_path):
    """hyperparameter exposure=years: the report's why view and fit use the saved model's
    arithmetic, offset included, and its form takes the years as the CSV gave them."""
    X, y = models.claims_data(900, seed=7)
    frame = X.assign(claims=y)
    job = TrainingJob(tmp_path / "ml")
    frame[:700].to_csv(job.channel("train") / "train.csv", index=False)
    frame[700:].to_csv(job.channel("validation") / "holdout.csv", index=False)
    result = job.config({"target": "claims", "family": "poisson", "exposure": "years"},
                        {"train": {}, "validation": {}}).run()
    assert result.returncode == 0, result.stdout + result.stderr
    model = load(job.base / "model")
    browser.open((job.base / "output" / "data" / "report.html").as_uri() + "#why=validation:9")
    row = X.iloc[[708]]
    why = browser.evaluate(WHY)
    assert why["prediction"] == pytest.approx(model.predict(row)[0], rel=RELATIVE)
    assert browser.evaluate(OFFSET) == pytest.approx(np.log(row["years"].iloc[0]), rel=RELATIVE)
    assert [bar["label"] for bar in browser.evaluate(WATERFALL)][-2] == "(offset)"
    terms = browser.evaluate("Array.from(document.querySelectorAll('article.term')).map(a => "
                             "a.dataset.term)")
    assert sorted(terms) == ["driver_age", "vehicle"]
    browser.type_into('input[data-feature="years"]', "-1")
    assert browser.evaluate(WHY)["error"].startswith("years: \u201c-1\u201d is not a positive")
