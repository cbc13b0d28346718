"""Fitting and predicting Dask collections on a real cluster (a scheduler and two worker
processes): the model equals the in-memory fit, and the partitions' statistics are
computed on the workers that hold them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor, load, save
from tests.scale.data import mixed

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client(dask_cluster):
    with distributed.Client(dask_cluster) as client:
        yield client


@pytest.mark.slow
def test_a_dask_dataframe_fit_equals_the_in_memory_fit_and_runs_on_both_workers(client,
                                                                               tmp_path):
    X, eta = mixed()
    y = pd.Series(eta + np.random.default_rng(4).normal(0, 0.5, len(eta)), name="y")
    frame = dd.from_pandas(pd.concat([X, y], axis=1), npartitions=6).persist()
    in_memory = GAMRegressor(interactions=[("a", "c")]).fit(X, y)
    with distributed.get_task_stream(client) as stream:
        streamed = GAMRegressor(interactions=[("a", "c")]).fit(frame[["a", "b", "c"]],
                                                               frame["y"])
    assert {task["worker"] for task in stream.data} == set(client.scheduler_info()["workers"])
    scale = np.max(np.abs(in_memory.coef_))
    np.testing.assert_allclose(streamed.coef_, in_memory.coef_, rtol=0, atol=1e-8 * scale)
    save(streamed, tmp_path / "model")  # the same artifact as any fit
    predictions = streamed.predict(frame[["a", "b", "c"]])
    assert hasattr(predictions, "dask")  # lazy until computed
    np.testing.assert_allclose(predictions.compute(), load(tmp_path / "model").predict(X),
                               rtol=0, atol=1e-10)


@pytest.mark.slow
def test_dask_arrays_fit_a_classifier_and_score_lazily(client):
    da = pytest.importorskip("dask.array")
    X, eta = mixed()
    numbers = X[["a", "b"]].to_numpy()
    labels = (np.random.default_rng(5).random(len(eta)) < 1 / (1 + np.exp(-eta))).astype(int)
    chunks = 50_000
    model = GAMClassifier(adaptive=False).fit(da.from_array(numbers, chunks=(chunks, 2)),
                                              da.from_array(labels, chunks=chunks))
    reference = GAMClassifier(adaptive=False).fit(numbers, labels)
    scale = np.max(np.abs(reference.coef_))
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-8 * scale)
    probabilities = model.predict_proba(da.from_array(numbers[:5_000], chunks=1_000))
    np.testing.assert_allclose(probabilities.compute(), reference.predict_proba(numbers[:5_000]),
                               rtol=0, atol=1e-10)


def test_collections_with_different_partitions_are_refused(client):
    X, eta = mixed(rows=2_000)
    features = dd.from_pandas(X, npartitions=4)
    target = dd.from_pandas(pd.Series(eta), npartitions=3)
    with pytest.raises(ValueError, match="X has 4 partitions but y has 3"):
        GAMRegressor().fit(features, target)


@pytest.mark.slow
def test_a_rate_model_fits_and_predicts_dask_collections_with_its_exposure(client):
    X, eta = mixed(rows=240_000, seed=12)
    rng = np.random.default_rng(5)
    X = X.assign(years=rng.uniform(0.2, 5.0, len(eta)))
    y = pd.Series(rng.poisson(X["years"] * np.exp(0.3 * eta)).astype(float), name="y")
    frame = dd.from_pandas(pd.concat([X, y], axis=1), npartitions=4).persist()
    features = frame[["a", "b", "c", "years"]]
    streamed = GAMRegressor(family="poisson", exposure="years", adaptive=False).fit(
        features, frame["y"])
    in_memory = GAMRegressor(family="poisson", exposure="years", adaptive=False).fit(X, y)
    scale = np.max(np.abs(in_memory.coef_))
    np.testing.assert_allclose(streamed.coef_, in_memory.coef_, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(streamed.predict(features).compute(), in_memory.predict(X),
                               rtol=1e-7)
