"""A rate model's explorer: the exposure is in every sum the page shows, and only there.

The model (tests/explore/models.py: claims) is Poisson with the years at risk as its
exposure, a column between two features. Its exposures run from 2 to 20, so a page that
left the offset out would be wrong by a factor of 2 or more on every row. The page's
numbers are held to the estimator's own answers for the same rows, in Chromium.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, r2_score

from sagegam import GAMRegressor
from sagegam.explore import explorer_html
from tests.explore import models
from tests.explore.test_browser import WHY, term_cards
from tests.explore.test_page import data_block

# On the log scale a mean's relative error is its linear predictor's absolute error: a
# few roundings of the parts summed (|parts| add up to under 10 here), and the page's
# log of the typed exposure against numpy's, each within an ulp or two. 1e-12 is ample.
RELATIVE = 1e-12
WATERFALL = "JSON.parse(document.querySelector('#why-result canvas').dataset.bars)"
OFFSET = "Number(document.getElementById('why-result').dataset.offset)"
FIELD_ERROR = "document.querySelector('input[data-feature=\"years\"] + small.error').textContent"


def linear_predictor(model, row: pd.DataFrame) -> float:
    return float(model.predictor_.linear_predictor(row)[0])


@pytest.mark.parametrize("address, index", [("1", 0), ("17", 16), ("1200", 1199),
                                            ("validation:5", models.CLAIMS_TRAIN + 4)])
def test_why_predicts_a_row_as_the_model_does_exposure_included(browser, claims, address,
                                                                  index):
    browser.open(claims.url + f"#why={address}")
    why = browser.evaluate(WHY)
    row = claims.X.iloc[[index]]
    assert why["prediction"] == pytest.approx(claims.model.predict(row)[0], rel=RELATIVE)
    assert why["eta"] == pytest.approx(linear_predictor(claims.model, row), abs=RELATIVE)
    assert browser.evaluate(OFFSET) == pytest.approx(np.log(row["years"].iloc[0]),
                                                     rel=RELATIVE)
    expected = dict(zip(claims.model.term_names_, claims.model.contributions(row)[0],
                        strict=True))
    assert why["terms"] == pytest.approx(expected, abs=RELATIVE)
    # The form shows the exposure as the data gave it, not its log.
    shown = browser.evaluate("document.querySelector('input[data-feature=\"years\"]').value")
    assert float(shown) == row["years"].iloc[0]


def test_the_waterfall_goes_from_the_intercept_through_the_terms_and_the_offset_to_the_sum(
        browser, claims):
    browser.open(claims.url + "#why=17")
    bars = browser.evaluate(WATERFALL)
    row = claims.X.iloc[[16]]
    eta = linear_predictor(claims.model, row)
    labels = [bar["label"] for bar in bars]
    assert labels[0] == "intercept" and labels[-2:] == ["(offset)", "sum (log scale)"]
    assert sorted(labels[1:-2]) == sorted(claims.model.term_names_)
    steps = bars[1:-1]
    # Each step starts where the one before it ended.
    assert [step["from"] for step in steps] == [bar["to"] for bar in bars[:-2]]
    assert bars[0]["to"] == claims.model.intercept_
    offset = steps[-1]["to"] - steps[-1]["from"]
    assert offset == pytest.approx(np.log(row["years"].iloc[0]), abs=RELATIVE * 10)
    assert steps[-1]["to"] == pytest.approx(eta, abs=RELATIVE)
    assert bars[-1]["to"] == pytest.approx(eta, abs=RELATIVE)
    assert bars[0]["to"] + sum(s["to"] - s["from"] for s in steps) == pytest.approx(
        eta, abs=RELATIVE)


def test_doubling_the_exposure_doubles_the_prediction(browser, claims):
    browser.open(claims.url + "#why=17")
    before = browser.evaluate(WHY)
    years = float(claims.X["years"].iloc[16])
    browser.type_into('input[data-feature="years"]', repr(2 * years))
    after = browser.evaluate(WHY)
    assert after["status"] == "Typed values."
    assert after["prediction"] == pytest.approx(2 * before["prediction"], rel=RELATIVE)
    assert after["terms"] == before["terms"]
    doubled = claims.X.iloc[[16]].assign(years=2 * years)
    assert after["prediction"] == pytest.approx(claims.model.predict(doubled)[0], rel=RELATIVE)


@pytest.mark.parametrize("typed, message", [
    ("0", "years: \u201c0\u201d is not a positive, finite number (the row's exposure: time, "
          "size or count at risk)."),
    ("-2.5", "years: \u201c-2.5\u201d is not a positive, finite number (the row's exposure: "
             "time, size or count at risk)."),
    ("Infinity", "years: \u201cInfinity\u201d is not a positive, finite number (the row's "
                 "exposure: time, size or count at risk)."),
    ("ten", "years: \u201cten\u201d is not a positive, finite number (the row's exposure: "
            "time, size or count at risk)."),
    ("", "years is missing; it is the model's exposure, needed in every row."),
], ids=["zero", "negative", "infinite", "text", "blank"])
def test_an_exposure_the_model_cannot_use_is_named_not_scored(browser, claims, typed,
                                                               message):
    browser.open(claims.url + "#why=17")
    browser.type_into('input[data-feature="years"]', typed or "x")
    if not typed:
        browser.press("Backspace", 8)
    why = browser.evaluate(WHY)
    assert why["error"] == message
    assert browser.evaluate(FIELD_ERROR) == message
    assert why["eta"] is None and why["prediction"] is None
    assert browser.evaluate("document.getElementById('why-result').dataset.offset") is None
    # predict refuses the same values, naming the row and column.
    bad = claims.X.iloc[[16]].astype({"years": object}).assign(years=typed or np.nan)
    with pytest.raises(ValueError, match="Row 1, column 'years'"):
        claims.model.predict(bad)


def test_the_exposure_is_no_term_but_the_overview_names_it(browser, claims):
    browser.open(claims.url)
    assert sorted(term for term, _, _ in term_cards(browser)) == ["driver_age", "vehicle"]
    ranked = browser.evaluate("Array.from(document.querySelectorAll('table.terms a'))"
                              ".map(a => a.textContent)")
    assert sorted(ranked) == ["driver_age", "vehicle"]
    lead = browser.evaluate("document.querySelector('#overview .lead').textContent")
    assert "2 features, 2 terms" in lead
    note = browser.evaluate("document.getElementById('offsets').textContent")
    train = claims.X["years"][:models.CLAIMS_TRAIN]
    assert note.startswith("\u201cyears\u201d is the exposure: not a term; its log is added")
    assert f"from {train.min():g} to {train.max():g}" in note


def test_the_fit_charts_plot_each_rows_prediction_exposure_included(browser, claims):
    """Hover over predicted against observed: each point's tooltip names its row and its
    prediction (5 significant digits), which must be the model's for that row."""
    browser.open(claims.url)
    box = browser.evaluate("""(() => { const c = document.querySelector(
        'article[data-dataset="training data"] canvas'); c.scrollIntoView({block: 'center'});
        const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()""")
    seen = {}
    for fx in np.linspace(0.12, 0.95, 14):
        for fy in np.linspace(0.05, 0.85, 10):
            browser.mouse_move(box[0] + fx * box[2], box[1] + fy * box[3])
            lines = browser.evaluate(
                "(() => { const t = document.querySelector('.tooltip'); return t && "
                "t.style.display !== 'none' ? Array.from(t.children).map(d => d.textContent)"
                " : null; })()")
            if lines and lines[0].startswith("row "):
                seen[int(lines[0][4:])] = float(lines[1].removeprefix("predicted ")
                                                .replace("\u2212", "-"))
    assert len(seen) >= 10
    rows = claims.X.iloc[[number - 1 for number in seen]]
    np.testing.assert_allclose(list(seen.values()), claims.model.predict(rows), rtol=1e-4)


def test_the_model_alone_starts_at_an_exposure_of_1(browser, claims, tmp_path):
    path = claims.model.explore(tmp_path / "alone.html")
    browser.open(path.as_uri())
    values = browser.evaluate("Object.fromEntries(Array.from(document.querySelectorAll("
                              "'#why-values [data-feature]')).map(e => [e.dataset.feature, "
                              "e.tagName === 'SELECT' ? e.selectedOptions[0].text : e.value]))")
    assert values["years"] == "1"
    row = pd.DataFrame({"driver_age": [float(values["driver_age"])], "years": [1.0],
                        "vehicle": [values["vehicle"]]})
    assert browser.evaluate(WHY)["prediction"] == pytest.approx(claims.model.predict(row)[0],
                                                                rel=RELATIVE)
    assert browser.evaluate(OFFSET) == 0.0


def test_an_offset_is_added_as_it_is_given(browser, tmp_path):
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"base": rng.normal(3.0, 2.0, 400), "load": rng.uniform(0, 10, 400)})
    y = X["base"] + np.sqrt(X["load"]) + rng.normal(0, 0.2, 400)
    model = GAMRegressor(offset="base", df=6).fit(X, y)
    browser.open(model.explore(tmp_path / "offset.html", X, y).as_uri() + "#why=3")
    row = X.iloc[[2]]
    why = browser.evaluate(WHY)
    scale = 1.0 + abs(model.intercept_) + abs(row["base"].iloc[0]) + 2.0
    assert why["prediction"] == pytest.approx(model.predict(row)[0], abs=RELATIVE * scale)
    assert browser.evaluate(OFFSET) == row["base"].iloc[0]  # the value itself, no log
    shifted = float(row["base"].iloc[0]) - 1.5
    browser.type_into('input[data-feature="base"]', repr(shifted))
    assert browser.evaluate(WHY)["prediction"] == pytest.approx(
        model.predict(row.assign(base=shifted))[0], abs=RELATIVE * scale)
    browser.type_into('input[data-feature="base"]', "n/a")
    assert browser.evaluate(WHY)["error"] == ("base is missing; it is the model's offset, "
                                              "needed in every row.")


# The payload, as written: what the page computes from.

def test_the_payload_holds_the_exposure_as_given_and_its_log_as_the_code(claims):
    payload = data_block(claims.path.read_text())
    features = payload["model"]["features"]
    assert [(f["name"], f["kind"]) for f in features] == [
        ("driver_age", "numeric"), ("years", "exposure"), ("vehicle", "categorical")]
    train = payload["datasets"][0]
    held = claims.X.iloc[train["rows"]]
    assert train["exposures"][1] == held["years"].tolist()
    assert train["exposures"][0] is None and train["exposures"][2] is None
    assert train["codes"][1] == np.log(held["years"]).tolist()  # bit for bit: numpy's log
    validation = payload["datasets"][1]
    assert validation["exposures"][1] == claims.X["years"][models.CLAIMS_TRAIN:].tolist()


def test_terms_importances_and_metrics_count_the_exposure_where_it_belongs(claims):
    payload = data_block(claims.path.read_text())
    train = slice(0, models.CLAIMS_TRAIN)
    X, y = claims.X[train], claims.y[train]
    assert [t["name"] for t in payload["terms"]] == ["driver_age", "vehicle"]
    spread = np.mean(np.abs(claims.model.contributions(X)), axis=0)
    assert [t["importance"] for t in payload["terms"]] == pytest.approx(spread, rel=1e-12)
    metrics = payload["datasets"][0]["metrics"]
    predicted = claims.model.predict(X)
    assert metrics["r2"] == pytest.approx(r2_score(y, predicted), rel=1e-12)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y, predicted), rel=1e-12)
    years = X["years"]
    assert payload["offsets"] == [{"feature": 1, "name": "years", "kind": "exposure",
                                   "min_median_max": [years.min(), years.median(),
                                                      years.max()]}]
    histogram = payload["histograms"][1]  # of the years themselves, not their logs
    assert sum(histogram["counts"]) == len(X)
    assert histogram["edges"][0] == pytest.approx(years.min(), rel=1e-6)
    assert histogram["edges"][-1] == pytest.approx(years.max(), rel=1e-6)


def test_rows_as_lists_arrays_or_a_frame_make_the_same_page(claims):
    X, y = claims.X[:300], claims.y[:300]
    pages = [data_block(explorer_html(claims.model.predictor_, rows, y))
             for rows in (X, X.to_numpy(), X.to_numpy().tolist())]
    assert pages[0]["datasets"] == pages[1]["datasets"] == pages[2]["datasets"]


def test_a_model_alone_names_its_exposure_without_a_spread(claims):
    payload = data_block(explorer_html(claims.model.predictor_))
    assert payload["offsets"] == [{"feature": 1, "name": "years", "kind": "exposure",
                                   "min_median_max": None}]
    assert re.search(r"exposure\b", payload["summary"])
    assert json.dumps(payload["model"]["terms"]).count("years") == 0
