"""The artifact round-trips exactly, never unpickles, and refuses damaged files."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sagegam import GAMClassifier, GAMRegressor, load, save
from sagegam.model.artifact import ARRAYS_FILE, METADATA_FILE, ArtifactError

FORMAT_1 = Path(__file__).parent / "data" / "format-1"


@pytest.fixture(scope="module")
def regressor():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(400, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 + rng.normal(0, 0.2, 400)
    return GAMRegressor().fit(X, y), X


def test_loaded_model_predicts_identically(regressor, tmp_path):
    model, X = regressor
    save(model, tmp_path)
    loaded = load(tmp_path)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-12, atol=0)
    np.testing.assert_allclose(loaded.contributions(X), model.contributions(X), rtol=1e-12)
    assert loaded.feature_names == ("x0", "x1", "x2")


def test_classifier_round_trip_keeps_string_labels(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.uniform(-2, 2, size=(300, 2))
    y = np.where(rng.random(300) < 1 / (1 + np.exp(-3 * X[:, 0])), "spam", "ham")
    model = GAMClassifier().fit(X, y)
    save(model, tmp_path)
    loaded = load(tmp_path)
    assert loaded.classes == ("ham", "spam")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-12)


def test_metadata_is_json_with_versions_names_and_family(regressor, tmp_path):
    save(regressor[0], tmp_path)
    metadata = json.loads((tmp_path / METADATA_FILE).read_text())
    assert metadata["format_version"] == 2
    assert metadata["family"] == "gaussian" and metadata["link"] == "identity"
    assert metadata["feature_names"] == ["x0", "x1", "x2"]
    assert [term["kind"] for term in metadata["terms"]] == ["spline"] * 3
    assert {"sagegam", "numpy", "python"} <= set(metadata["written_by"])


def test_knots_placed_by_the_data_round_trip_as_format_3(tmp_path):
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.lognormal(0, 1.5, 400), rng.uniform(0, 1, 400)])
    model = GAMRegressor().fit(X, np.log(X[:, 0]) + X[:, 1] + rng.normal(0, 0.1, 400))
    save(model, tmp_path)
    metadata = json.loads((tmp_path / METADATA_FILE).read_text())
    knots = [term["margin"].get("knots") for term in metadata["terms"]]
    assert knots[0] is not None and knots[1] is None  # skewed: placed; even: equally spaced
    # A reader of format 2 would ignore the knots and predict wrongly: it must refuse.
    assert metadata["format_version"] == 3
    rows = np.column_stack([np.geomspace(0.01, 400, 50), np.linspace(-0.5, 1.5, 50)])
    np.testing.assert_allclose(load(tmp_path).predict(rows), model.predict(rows), rtol=1e-12)


def test_loading_refuses_edited_metadata(regressor, tmp_path):
    save(regressor[0], tmp_path)
    path = tmp_path / METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata["feature_names"][0] = "renamed"
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="altered"):
        load(tmp_path)


def test_loading_refuses_truncated_arrays(regressor, tmp_path):
    save(regressor[0], tmp_path)
    path = tmp_path / ARRAYS_FILE
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ArtifactError, match="truncated or altered"):
        load(tmp_path)


def test_loading_refuses_a_future_format_version(regressor, tmp_path):
    save(regressor[0], tmp_path)
    path = tmp_path / METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata["format_version"] = 99
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=r"version 99.*Upgrade sagegam"):
        load(tmp_path)


def test_loading_an_empty_directory_says_what_is_missing(tmp_path):
    with pytest.raises(ArtifactError, match=r"sagegam-model.json is missing"):
        load(tmp_path)


def test_loading_never_unpickles_and_imports_numpy_only(regressor, tmp_path):
    save(regressor[0], tmp_path)
    code = (
        "import sys, pickle\n"
        "pickle.loads = pickle.load = None\n"
        "import sagegam\n"
        f"p = sagegam.load({str(tmp_path)!r})\n"
        "p.predict([[0.0, 0.0, 0.0]])\n"
        "heavy = {'sklearn', 'scipy', 'pandas', 'statsmodels'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_an_artifact_of_format_1_loads_and_predicts_as_it_did():
    # Written by sagegam 0.1.0 (format 1: numeric features, one smooth each), with what
    # that version predicted for three rows (tests/model/data/format-1/expected.json).
    expected = json.loads((FORMAT_1 / "expected.json").read_text())
    loaded = load(FORMAT_1)
    assert loaded.feature_names == ("age", "dose")
    np.testing.assert_allclose(loaded.predict(expected["rows"]), expected["predictions"],
                               rtol=1e-12)
    np.testing.assert_allclose(loaded.contributions(expected["rows"]),
                               expected["contributions"], rtol=1e-12, atol=1e-15)


def test_metadata_without_its_arrays_entry_is_refused_with_a_sentence(regressor, tmp_path):
    save(regressor[0], tmp_path)
    path = tmp_path / METADATA_FILE
    metadata = json.loads(path.read_text())
    del metadata["arrays"]
    from sagegam.model.artifact import _digest

    metadata["digest"] = _digest(metadata)
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="no 'arrays' entry"):
        load(tmp_path)
