"""The explorer's page as written: one file, nothing external, the data it claims to hold.

These read the page's data block (what the browser tests then see drawn) and hold it to
the model's public answers; the browser tests check the drawing and the arithmetic.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error, r2_score

from sagegam import GAMRegressor, load, save
from sagegam.explore import MAX_ROWS, explorer_html
from tests.explore import models

FIVE_MB = 5 * 1024 * 1024


def data_block(page: str) -> dict:
    return json.loads(page.split('id="sagegam-data">', 1)[1].split("</script>", 1)[0])


def test_the_page_references_nothing_outside_itself(twenty):
    page = twenty.path.read_text()
    assert re.search(r"https?://|\bsrc=|<link\b|@import|\bimport\(", page) is None
    assert page.count("<script") == 2  # the data block and the inline scripts


def test_terms_are_ranked_by_their_mean_absolute_contribution_on_the_data(twenty):
    payload = data_block(twenty.path.read_text())
    spread = np.mean(np.abs(twenty.model.contributions(twenty.X)), axis=0)
    assert [t["name"] for t in payload["terms"]] == list(twenty.model.term_names_)
    assert [t["importance"] for t in payload["terms"]] == pytest.approx(spread, rel=1e-12)
    assert [t["edf"] for t in payload["terms"]] == pytest.approx(twenty.model.edf_)
    assert payload["summary"] == twenty.model.summary()


def test_every_row_counts_in_the_metrics_when_only_a_sample_is_embedded(twenty):
    payload = data_block(explorer_html(twenty.model.predictor_, twenty.X, twenty.y,
                                       max_rows=300))
    data = payload["datasets"][0]
    assert data["n"] == len(twenty.X) and len(data["rows"]) == 300
    assert data["rows"] == sorted(set(data["rows"]))
    predicted = twenty.model.predict(twenty.X)
    assert data["metrics"]["r2"] == pytest.approx(r2_score(twenty.y, predicted), rel=1e-12)
    assert data["metrics"]["rmse"] == pytest.approx(
        mean_squared_error(twenty.y, predicted) ** 0.5, rel=1e-12)
    held = twenty.X.iloc[data["rows"]]
    assert data["codes"][0] == held["x0"].tolist()  # full precision, in file order
    assert data["codes"][16] == held["region"].cat.codes.tolist()


def test_the_estimator_its_predictor_and_the_loaded_artifact_write_the_same_page(
        churn, tmp_path):
    save(churn.model, tmp_path / "model")
    pages = [churn.model.explore(tmp_path / "a.html", churn.X, churn.y),
             churn.model.predictor_.explore(tmp_path / "b.html", churn.X, churn.y),
             load(tmp_path / "model").explore(tmp_path / "c.html", churn.X, churn.y)]
    blocks = [data_block(p.read_text()) for p in pages]
    assert blocks[0]["model"] == blocks[1]["model"] == blocks[2]["model"]
    assert blocks[0]["terms"] == blocks[2]["terms"]


def test_the_20_term_page_weighs_under_5_mb_with_the_most_rows_it_embeds(twenty):
    X, y = models.twenty_terms_data(4 * MAX_ROWS, seed=5)
    numeric = [f"x{j}" for j in range(16)]
    # Unrounded numbers: 17 significant digits each, the heaviest a value can be.
    X[numeric] = X[numeric] + np.random.default_rng(6).uniform(0, 1e-3, (len(X), 16))
    page = explorer_html(twenty.model.predictor_, X, y)
    assert len(data_block(page)["datasets"][0]["rows"]) == MAX_ROWS
    assert len(page.encode()) < FIVE_MB


def test_names_that_look_like_markup_stay_text(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"</script><b>x": rng.uniform(0, 1, 200),
                      "kind": rng.choice(["<i>a</i>", "b & c"], 200)})
    y = X.iloc[:, 0] + (X["kind"] == "b & c") + rng.normal(0, 0.1, 200)
    model = GAMRegressor(df=8).fit(X, y)
    page = model.explore(tmp_path / "page.html", X, y).read_text()
    assert "</script><b>" not in page and data_block(page)["model"]["features"][0]["name"] \
        == "</script><b>x"


def test_model_alone_ranks_terms_on_their_grids(churn):
    payload = data_block(explorer_html(churn.model.predictor_))
    assert payload["datasets"] == [] and payload["histograms"] == [None] * 5
    assert payload["importance_basis"] == "each term's grid (no data given)"
    region = churn.model.partial_dependence("region")
    assert payload["terms"][3]["importance"] == pytest.approx(np.mean(np.abs(region.effect)))


@pytest.mark.parametrize(("change", "message"), [
    (lambda X, y: (X.drop(columns="plan"), y), "The data has no column 'plan'"),
    (lambda X, y: (X.assign(region="mars"), y), "Row 1, column 'region': 'mars' is not a level"),
    (lambda X, y: (X, np.where(y == "yes", "maybe", y)), "labels ['maybe'] that the model"),
    (lambda X, y: (X, y[:-1]), "The data has 3000 rows but 2999 target values."),
])
def test_data_the_model_cannot_read_is_refused_with_one_sentence(churn, change, message):
    X, y = change(churn.X.copy(), churn.y)
    with pytest.raises(ValueError, match=re.escape(message)):
        explorer_html(churn.model.predictor_, X, y)


def test_y_without_x_and_no_rows_are_refused(churn):
    with pytest.raises(ValueError, match="y was given without X"):
        explorer_html(churn.model.predictor_, None, churn.y)
    with pytest.raises(ValueError, match="max_rows must be at least 1; got 0"):
        explorer_html(churn.model.predictor_, churn.X, max_rows=0)
