"""`sagegam explore`: a saved model and CSVs in, one HTML file out, or one sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sagegam import save
from sagegam.cli import cli
from sagegam.cli.explore_commands import DEFAULT_MAX_ROWS
from sagegam.explore import MAX_ROWS


def data_block(path) -> dict:
    page = path.read_text()
    return json.loads(page.split('id="sagegam-data">', 1)[1].split("</script>", 1)[0])


@pytest.fixture(scope="module")
def saved(churn, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    save(churn.model, folder / "model")
    frame = churn.X.assign(churned=churn.y)
    frame[:2000].to_csv(folder / "train.csv", index=False)
    frame[2000:].to_csv(folder / "holdout.csv", index=False)
    frame[["churned", *churn.X.columns]][:100].to_csv(folder / "headerless.csv", index=False,
                                                      header=False)
    churn.X.iloc[:20, :3].to_csv(folder / "narrow.csv", index=False, header=False)
    return folder


def run(*args: str):
    result = CliRunner().invoke(cli, ["explore", *args])
    assert "Traceback" not in result.output
    return result


def test_a_csv_with_a_header_and_a_holdout_make_a_page_with_both_fits(saved, churn):
    out = saved / "explorer.html"
    result = run(str(saved / "model"), "--data", str(saved / "train.csv"), "--validation",
                 str(saved / "holdout.csv"), "-o", str(out), "--title", "Churn")
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out}\n"
    payload = data_block(out)
    assert payload["title"] == "Churn"
    assert [(d["label"], d["n"]) for d in payload["datasets"]] == [("training data", 2000),
                                                                   ("validation data", 1000)]
    accuracy = np.mean(churn.model.predict(churn.X[2000:]) == churn.y[2000:])
    assert payload["datasets"][1]["metrics"]["accuracy"] == pytest.approx(accuracy)


def test_a_headerless_csv_names_its_target_by_index(saved, churn):
    out = saved / "headerless.html"
    result = run(str(saved / "model"), "-d", str(saved / "headerless.csv"), "--target", "0",
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    data = data_block(out)["datasets"][0]
    assert data["n"] == 100 and data["target"] == (churn.y[:100] == "yes").astype(int).tolist()


def test_the_model_alone(saved):
    result = run(str(saved / "model"), "-o", str(saved / "alone.html"))
    assert result.exit_code == 0, result.output
    assert data_block(saved / "alone.html")["datasets"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "{folder}/narrow.csv"], "narrow.csv has 3 columns and no header naming the "
     "model's features (tenure_months, monthly_charges, support_calls, region, plan); "
     "expected 5 columns, or 6 with the target."),
    (["--data", "{folder}/headerless.csv"], "Cannot show the data: Row 1, column "
     "'tenure_months': 'yes' is not a number, and this column is numeric."),
    (["--data", "{folder}/train.csv", "--target", "price"],
     "--target 'price' names no column of train.csv"),
    (["--validation", "{folder}/holdout.csv"], "--validation needs --data as well."),
])
def test_mistakes_get_one_sentence(saved, args, message):
    result = run(str(saved / "model"), *[a.format(folder=saved) for a in args],
                 "-o", str(saved / "x.html"))
    assert result.exit_code != 0 and message in result.output


def test_unknown_levels_in_the_data_are_named(saved, churn):
    bad = saved / "bad.csv"
    churn.X[:10].assign(region=["mars"] * 10).to_csv(bad, index=False)
    result = run(str(saved / "model"), "--data", str(bad), "-o", str(saved / "x.html"))
    assert result.exit_code == 1
    assert "Cannot show the data: Row 1, column 'region': 'mars' is not a level" in result.output


def test_a_folder_that_is_no_model_is_refused(tmp_path):
    result = run(str(tmp_path), "-o", str(tmp_path / "x.html"))
    assert result.exit_code == 1 and result.output.startswith("Error: ")


def test_the_help_states_the_default_row_limit():
    assert DEFAULT_MAX_ROWS == MAX_ROWS


def test_numeric_class_labels_match_whatever_way_they_are_written(tmp_path):
    from sagegam import GAMClassifier
    from sagegam.explore import explorer_html

    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (300, 2))
    y = (X[:, 0] + rng.normal(0, 0.2, 300) > 0.5).astype(int)
    model = GAMClassifier(df=6).fit(X, y)
    for written in (y, y.astype(float), y.astype(str)):
        page = explorer_html(model.predictor_, X, written)
        target = json.loads(page.split('id="sagegam-data">', 1)[1].split("</script>", 1)[0])[
            "datasets"][0]["target"]
        assert target == y.tolist()


def test_a_rate_models_csv_gives_the_exposures_as_written_or_one_sentence(claims, tmp_path):
    save(claims.model, tmp_path / "model")
    rows = claims.X[:50].assign(claims=claims.y[:50])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = run(str(tmp_path / "model"), "-d", str(tmp_path / "rows.csv"),
                 "-o", str(tmp_path / "rates.html"))
    assert result.exit_code == 0, result.output
    data = data_block(tmp_path / "rates.html")["datasets"][0]
    assert data["exposures"][1] == rows["years"].tolist()
    rows.assign(years=rows["years"].where(rows.index != 4, 0.0)).to_csv(
        tmp_path / "zero.csv", index=False)
    result = run(str(tmp_path / "model"), "-d", str(tmp_path / "zero.csv"),
                 "-o", str(tmp_path / "x.html"))
    assert result.exit_code == 1
    assert "Cannot show the data: Row 5, column 'years': '0.0' is not a positive, finite " \
        "number" in result.output
