"""The explorer in a real browser: Debian's Chromium, headless, driven over DevTools.

Every check reads what the page drew or wrote after its scripts ran: canvases' pixels,
the "why" table's numbers, tooltips, requests made. Numbers are compared with the
estimator's own answers for the same rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

# Pixels whose channels differ by more than 60 are colour, not the page's greys and
# white: data marks (curves, bands, bars, heatmap cells), never axes or text.
COLOURED = """(canvas => { const d = canvas.getContext('2d').getImageData(0, 0, canvas.width,
  canvas.height).data; let n = 0; for (let i = 0; i < d.length; i += 4) {
  if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2])
  > 60) n++; } return n; })"""
INKED = """(canvas => { const d = canvas.getContext('2d').getImageData(0, 0, canvas.width,
  canvas.height).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0) n++;
  return n; })"""
WHY = """(() => { const r = document.getElementById('why-result'); return {
  intercept: r.dataset.intercept === undefined ? null : Number(r.dataset.intercept),
  eta: r.dataset.eta === undefined ? null : Number(r.dataset.eta),
  prediction: r.dataset.prediction === undefined ? null : Number(r.dataset.prediction),
  error: (r.querySelector('.error') || {}).textContent || null,
  status: document.getElementById('why-status') ?
    document.getElementById('why-status').textContent : null,
  terms: Object.fromEntries(Array.from(r.querySelectorAll('tr[data-term]')).map(
    t => [t.dataset.term, Number(t.dataset.contribution)])) }; })()"""
# The page evaluates the same IEEE double arithmetic as numpy; only the order of a few
# additions (and tanh's last bit) may differ, so agreement is to rounding: 1e-12 of the
# magnitudes summed is hundreds of times the worst case for 20 terms.
RELATIVE = 1e-12


def term_cards(browser):
    return browser.evaluate(
        "Array.from(document.querySelectorAll('article.term')).map(a => [a.dataset.term, "
        f"a.dataset.kind, {COLOURED}(a.querySelector('canvas'))])")


@pytest.mark.parametrize("name", ["twenty", "churn"])
def test_every_term_has_a_rendered_chart(browser, request, name):
    page = request.getfixturevalue(name)
    browser.open(page.url)
    cards = term_cards(browser)
    assert sorted(term for term, _, _ in cards) == sorted(page.model.term_names_)
    for term, kind, coloured in cards:
        assert coloured > 300, f"{term} ({kind}) drew {coloured} coloured pixels"
    kinds = {kind for _, kind, _ in cards}
    assert kinds == ({"curve", "levels", "surface", "curves"} if name == "twenty"
                     else {"curve", "levels", "table"})


@pytest.mark.parametrize("name", ["twenty", "churn"])
def test_why_sums_to_the_models_prediction_for_row_17(browser, request, name):
    page = request.getfixturevalue(name)
    browser.open(page.url + "#why=17")
    why = browser.evaluate(WHY)
    assert why["status"].startswith("Row 17 of the")
    row = page.X.iloc[[16]]  # row 17, counting from 1
    expected = dict(zip(page.model.term_names_, page.model.contributions(row)[0], strict=True))
    scale = 1.0 + abs(page.model.intercept_) + sum(abs(v) for v in expected.values())
    assert why["terms"].keys() == expected.keys()
    for term, value in why["terms"].items():
        assert value == pytest.approx(expected[term], abs=RELATIVE * scale), term
    assert why["intercept"] == page.model.intercept_
    assert why["intercept"] + sum(why["terms"].values()) == pytest.approx(
        why["eta"], abs=RELATIVE * scale)
    if name == "churn":
        assert why["prediction"] == pytest.approx(page.model.predict_proba(row)[0, 1],
                                                  abs=RELATIVE * scale)
    else:
        assert why["prediction"] == pytest.approx(page.model.predict(row)[0],
                                                  abs=RELATIVE * scale)


def choose(browser, feature, level):
    """Pick a level in a feature's list, as a person does (an input event follows)."""
    selector = json.dumps(f'select[data-feature="{feature}"]')
    browser.evaluate(f"""(() => {{ const s = document.querySelector({selector});
        s.value = Array.from(s.options).find(o => o.text === {json.dumps(level)}).value;
        s.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")


def test_typed_values_are_scored_as_the_model_scores_them(browser, churn):
    browser.open(churn.url)
    browser.type_into('input[data-feature="tenure_months"]', "200")  # beyond training: linear
    browser.type_into('input[data-feature="monthly_charges"]', "64.5")
    browser.type_into('input[data-feature="support_calls"]', "x")
    browser.press("Backspace", 8)  # blank: missing, which has its own effect here
    choose(browser, "region", "south")
    choose(browser, "plan", "basic")
    why = browser.evaluate(WHY)
    row = pd.DataFrame({"tenure_months": [200.0], "monthly_charges": [64.5],
                        "support_calls": [np.nan], "region": ["south"], "plan": ["basic"]})
    expected = dict(zip(churn.model.term_names_, churn.model.contributions(row)[0], strict=True))
    scale = 1.0 + sum(abs(v) for v in expected.values())
    assert why["status"] == "Typed values."
    assert why["terms"] == pytest.approx(expected, abs=RELATIVE * scale)
    assert why["prediction"] == pytest.approx(churn.model.predict_proba(row)[0, 1],
                                              abs=RELATIVE * scale)


def test_values_the_model_cannot_score_are_named_not_scored(browser, churn, twenty):
    browser.open(churn.url)
    browser.type_into('input[data-feature="monthly_charges"]', "cheap")
    why = browser.evaluate(WHY)
    assert why["error"] == "monthly_charges: \u201ccheap\u201d is not a number."
    assert why["eta"] is None and why["prediction"] is None
    browser.open(twenty.url)
    browser.type_into('input[data-feature="x0"]', "x")
    browser.press("Backspace", 8)
    why = browser.evaluate(WHY)
    assert why["error"].startswith("x0 is missing, and the training data had no missing "
                                   "values there")
    assert why["prediction"] is None


def test_a_row_the_page_does_not_hold_is_said_so(browser, twenty, tmp_path):
    path = twenty.model.explore(tmp_path / "small.html", twenty.X, twenty.y, max_rows=50)
    browser.open(path.as_uri())
    shown = browser.evaluate("document.getElementById('why-row').value")
    assert shown == "1" or browser.evaluate(WHY)["status"].startswith(f"Row {shown} of")
    held = json.loads(path.read_text().split('id="sagegam-data">')[1].split("</script>")[0])
    absent = next(i for i in range(len(twenty.X)) if i not in held["datasets"][0]["rows"])
    browser.open(path.as_uri() + f"#why={absent + 1}")
    assert browser.evaluate(WHY)["status"].startswith(
        f"Row {absent + 1} is not among the 50 rows of the data this page holds (of 4,000)")


def test_hovering_a_curve_shows_its_values(browser, twenty):
    browser.open(twenty.url)
    box = browser.evaluate("""(() => { const c = document.querySelector(
        'article[data-term="x0"] canvas'); c.scrollIntoView({block: 'center'});
        const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()""")
    browser.mouse_move(box[0] + box[2] / 2, box[1] + box[3] / 2)
    lines = browser.evaluate("Array.from(document.querySelectorAll('.tooltip div'))"
                             ".map(d => d.textContent)")
    assert lines[0].startswith("x0 = ") and lines[1].startswith("effect ")
    assert lines[2].startswith("95% band [")


def test_partial_residuals_appear_on_request(browser, twenty):
    browser.open(twenty.url)
    ink = f"{INKED}(document.querySelector('article[data-term=\"x1\"] canvas'))"
    before = browser.evaluate(ink)
    browser.evaluate("document.getElementById('residuals').click()")
    assert browser.evaluate(ink) > before + 2000  # 4,000 rows of points


def test_validation_fit_is_shown_for_each_data_set(browser, churn):
    browser.open(churn.url)
    cards = browser.evaluate(
        "Array.from(document.querySelectorAll('article[data-dataset]')).map(a => "
        f"[a.dataset.dataset, a.querySelector('.note').textContent, {COLOURED}("
        "a.querySelector('canvas'))])")
    assert [label for label, _, _ in cards] == ["training data", "validation data"]
    held_out = slice(2000, None)
    accuracy = accuracy_score(churn.y[held_out], churn.model.predict(churn.X[held_out]))
    assert f"accuracy {float(f'{accuracy:.5g}')!r}" in cards[1][1]
    assert all(coloured > 50 for _, _, coloured in cards)


def test_the_page_fetches_nothing(browser, churn):
    browser.send("Network.enable")
    try:
        browser.open(churn.url)
        requested = [event["params"]["request"]["url"] for event in browser.events
                     if event.get("method") == "Network.requestWillBeSent"]
    finally:
        browser.send("Network.disable")
    assert requested == [churn.url]


def test_a_format_1_artifact_opens(browser, tmp_path):
    """Models saved by sagegam 0.1.0 (numeric smooths only) explore as today's do."""
    from pathlib import Path

    from sagegam import load

    predictor = load(Path(__file__).parents[1] / "model" / "data" / "format-1")
    path = predictor.explore(tmp_path / "old.html")
    browser.open(path.as_uri())
    cards = term_cards(browser)
    assert [term for term, _, _ in cards] == ["age", "dose"]
    assert all(coloured > 300 for _, _, coloured in cards)
    why = browser.evaluate(WHY)
    codes = [float(browser.evaluate(f"document.getElementById('why-feature-{j}').value"))
             for j in range(2)]
    assert why["prediction"] == pytest.approx(predictor.predict_mean([codes])[0],
                                              rel=RELATIVE, abs=RELATIVE)


def test_a_validation_row_by_its_address(browser, churn):
    browser.open(churn.url + "#why=validation:5")
    why = browser.evaluate(WHY)
    assert why["status"].startswith("Row 5 of the validation data")
    row = churn.X.iloc[[2004]]  # validation rows follow the 2,000 training rows
    assert why["prediction"] == pytest.approx(churn.model.predict_proba(row)[0, 1],
                                              abs=RELATIVE * 10)


def test_a_model_that_refuses_to_extrapolate_refuses_in_the_page_too(browser, tmp_path):
    from sagegam import GAMRegressor

    rng = np.random.default_rng(4)
    X = pd.DataFrame({"load": rng.uniform(0, 10, 300)})
    model = GAMRegressor(df=6, extrapolation="error").fit(X, np.sqrt(X["load"]))
    browser.open(model.explore(tmp_path / "strict.html", X).as_uri())
    browser.type_into('input[data-feature="load"]', "12")
    upper = X["load"].max()
    assert browser.evaluate(WHY)["error"].startswith("load = 12 is outside the training range")
    with pytest.raises(ValueError, match="outside the training range"):
        model.predict(pd.DataFrame({"load": [12.0]}))
    browser.type_into('input[data-feature="load"]', repr(float(upper)))
    assert browser.evaluate(WHY)["prediction"] == pytest.approx(
        model.predict(pd.DataFrame({"load": [upper]}))[0], rel=RELATIVE)
