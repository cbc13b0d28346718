"""The training job's report.html is the explorer: the real `train` entry point writes it,
and Chromium opens it from the output folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.container.conftest import TrainingJob
from tests.explore.test_browser import COLOURED


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
