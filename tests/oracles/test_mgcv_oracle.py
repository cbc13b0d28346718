"""The recorded mgcv fits are what README.md says they are.

Each model is refitted here from its written definition alone (scipy's B-splines on the
recorded knots, indicator columns, the stated penalties and constraints) at mgcv's
smoothing parameters, and must reproduce mgcv's fitted values, coefficients, edf and REML
score. A test of sagegam that cites one of these numbers therefore cites a model whose
every ingredient is pinned down, not an mgcv default.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import BSpline

from tests.oracles.mgcv_oracle import knots, load, names, refit


@pytest.mark.parametrize("name", names())
def test_recorded_knots_follow_the_rule_and_give_scipys_basis(name):
    record, data = load(name)
    for term in record["terms"]:
        for margin in term["margins"]:
            if margin["type"] != "spline":
                continue
            x = data[margin["variable"]].to_numpy(float)
            # The same IEEE operations in R and numpy: equal to the last bit.
            np.testing.assert_array_equal(margin["knots"], knots(x, margin["k"]))
            ours = BSpline.design_matrix(x[:5], np.array(margin["knots"]), 3).toarray()
            np.testing.assert_allclose(margin["basis_first_rows"], ours, rtol=0, atol=1e-15)
            assert margin["basis_check"] < 1e-15  # mgcv's own "ps" basis = splineDesign


@pytest.mark.parametrize("name", names())
def test_refit_at_mgcv_smoothing_parameters_reproduces_mgcv(name):
    record, data = load(name)
    ours = refit(record, data)
    # Both sides solve the same positive definite system in double precision; its
    # condition number reaches ~1e9 here (a smoothing parameter of 8e9 next to 0.06), so
    # agreement to 1e-6 of the response's spread is what the arithmetic guarantees.
    spread = float(np.std(record["linear_predictor"]))
    np.testing.assert_allclose(ours.linear_predictor, record["linear_predictor"], rtol=0,
                               atol=1e-6 * spread)
    np.testing.assert_allclose(ours.fitted, record["fitted"], rtol=1e-6, atol=1e-9)
    for term, coefficients, edf in zip(record["terms"], ours.raw_coefficients, ours.edf,
                                       strict=True):
        np.testing.assert_allclose(coefficients, term["raw_coefficients"], rtol=0,
                                   atol=1e-6 * spread)
        assert edf == pytest.approx(term["edf"], abs=1e-5)
    assert ours.reml == pytest.approx(record["reml"], rel=1e-8)


@pytest.mark.parametrize("name", names())
def test_mgcv_centres_each_spline_over_the_data_rows_and_leaves_factors_alone(name):
    record, data = load(name)
    for term in record["terms"]:
        contribution = np.asarray(term["contribution"])
        scale = np.abs(contribution).max()
        if term["kind"] == "spline":
            assert abs(contribution.sum()) < 1e-9 * scale * len(contribution)
        elif term["kind"] == "factor":
            codes = data[term["margins"][0]["variable"]].cat.codes.to_numpy()
            np.testing.assert_allclose(contribution, np.asarray(term["raw_coefficients"])[codes],
                                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["gaussian_ti", "gaussian_factor_pair"])
def test_a_ti_term_is_centred_along_each_margin_not_as_a_whole(name):
    record, data = load(name)
    (term,) = [t for t in record["terms"] if t["kind"] == "tensor_interaction"]
    sizes = []
    sums = []
    for margin in term["margins"]:
        column = data[margin["variable"]]
        if margin["type"] == "spline":
            basis = BSpline.design_matrix(column.to_numpy(float), np.array(margin["knots"]), 3)
            sums.append(np.asarray(basis.sum(axis=0)).ravel())
        else:
            sums.append(np.bincount(column.cat.codes, minlength=len(margin["levels"])) * 1.0)
        sizes.append(len(sums[-1]))
    beta = np.asarray(term["raw_coefficients"]).reshape(sizes)
    scale = np.abs(beta).max() * max(s.max() for s in sums)
    np.testing.assert_allclose(sums[0] @ beta, 0, atol=1e-9 * scale)
    np.testing.assert_allclose(beta @ sums[1], 0, atol=1e-9 * scale)
    assert abs(np.sum(term["contribution"])) > 1e-6 * np.abs(term["contribution"]).max()
