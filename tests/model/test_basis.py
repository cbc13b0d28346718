"""Both B-spline bases equal scipy's, extrapolate as documented, and are penalized as
documented."""

import numpy as np
import pytest
from scipy.interpolate import BSpline

from sagegam.model.basis import SplineBasis, difference_penalty
from sagegam.model.knots import (
    KnotBasis,
    divided_differences,
    full_knots,
    greville,
    place_knots,
)


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_basis_matches_scipy_bspline_design_matrix(degree):
    x = np.random.default_rng(degree).uniform(0, 10, size=(200, 1))
    n_basis = 9
    basis = SplineBasis(np.array([0.0]), np.array([10.0]), np.array([n_basis]), degree)
    intervals = n_basis - degree
    knots = np.arange(-degree, intervals + degree + 1) * (10.0 / intervals)
    expected = BSpline.design_matrix(x[:, 0], knots, degree).toarray()
    np.testing.assert_allclose(basis.dense(x)[:, 1:], expected, atol=1e-14)


def test_basis_rows_sum_to_one_inside_the_range():
    basis = SplineBasis(np.array([-1.0, 5.0]), np.array([1.0, 9.0]), np.array([12, 7]), 3)
    x = np.column_stack([np.linspace(-1, 1, 50), np.linspace(5, 9, 50)])
    design = basis.dense(x)
    np.testing.assert_allclose(design[:, 1:13].sum(axis=1), 1.0)
    np.testing.assert_allclose(design[:, 13:].sum(axis=1), 1.0)


def test_linear_extrapolation_continues_along_the_boundary_tangent():
    basis = SplineBasis(np.array([0.0]), np.array([1.0]), np.array([8]), 3, "linear")
    coef = np.random.default_rng(0).normal(size=9)
    f = lambda x: basis.dense(np.array([[x]])) @ coef  # noqa: E731
    slope = (f(1.0) - f(1.0 - 1e-6)) / 1e-6
    np.testing.assert_allclose(f(3.0), f(1.0) + 2.0 * slope, rtol=1e-5)
    assert np.isclose(f(-2.0) - f(-1.0), f(-1.0) - f(0.0))


def test_constant_extrapolation_holds_the_boundary_value():
    basis = SplineBasis(np.array([0.0]), np.array([1.0]), np.array([8]), 3, "constant")
    np.testing.assert_allclose(basis.dense(np.array([[5.0]])), basis.dense(np.array([[1.0]])))
    np.testing.assert_allclose(basis.dense(np.array([[-5.0]])), basis.dense(np.array([[0.0]])))


def test_error_extrapolation_names_the_row_feature_and_range():
    basis = SplineBasis(np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.array([8, 8]), 3,
                        "error")
    with pytest.raises(ValueError, match=r"Feature 1 of row 2 is 1\.5.*\[0\.0, 1\.0\]"):
        basis.evaluate(np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 1.5]]))


def test_difference_penalty_has_the_polynomials_of_its_order_as_null_space():
    S = difference_penalty(10, order=2)
    grid = np.arange(10.0)
    np.testing.assert_allclose(S @ np.ones(10), 0, atol=1e-12)
    np.testing.assert_allclose(S @ grid, 0, atol=1e-12)
    assert np.linalg.matrix_rank(S) == 8


KNOT_SETS = {
    "uneven": [0.0, 0.3, 1.1, 1.2, 4.0, 6.5, 6.6, 10.0],
    "crowded": [0.0, 1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 10.0],  # defeats the cell lookup
    "outlier": [*np.linspace(0.0, 1.0, 12), 1000.0],
}


@pytest.mark.parametrize("degree", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(KNOT_SETS))
def test_knot_basis_matches_scipy_bspline_design_matrix(name, degree):
    inner = np.array(KNOT_SETS[name])
    rng = np.random.default_rng(degree)
    x = np.concatenate([rng.uniform(inner[0], inner[-1], 300), inner,
                        rng.uniform(inner[0], inner[1], 100)])
    basis = KnotBasis((tuple(inner),), degree)
    spans, values = basis.evaluate(x[:, None])
    dense = np.zeros((len(x), len(inner) - 1 + degree))
    np.add.at(dense, (np.arange(len(x))[:, None], spans[:, 0, None] + np.arange(degree + 1)),
              values[:, 0])
    expected = BSpline.design_matrix(x, full_knots(inner, degree), degree).toarray()
    np.testing.assert_allclose(dense, expected, rtol=0, atol=1e-12)


def test_knot_basis_on_equally_spaced_knots_is_the_uniform_basis():
    x = np.linspace(-3.0, 13.0, 161)[:, None]
    for extrapolation in ("linear", "constant"):
        knots = KnotBasis((tuple(np.linspace(0.0, 10.0, 8)),), 3, extrapolation)
        uniform = SplineBasis(np.array([0.0]), np.array([10.0]), np.array([10]), 3,
                              extrapolation)
        (spans, values), (spans_u, values_u) = knots.evaluate(x), uniform.evaluate(x)
        np.testing.assert_array_equal(spans, spans_u)
        np.testing.assert_allclose(values, values_u, rtol=0, atol=1e-12)


def test_knot_basis_extrapolates_linearly_and_refuses_what_overflows():
    inner = np.array(KNOT_SETS["uneven"])
    basis = KnotBasis((tuple(inner),), 3, "linear")
    coef = np.random.default_rng(1).normal(size=len(inner) + 2)

    def f(x: float) -> float:
        spans, values = basis.evaluate(np.array([[x]]))
        return float(values[0, 0] @ coef[spans[0, 0]:spans[0, 0] + 4])

    slope = (f(10.0) - f(10.0 - 1e-7)) / 1e-7
    assert f(14.0) == pytest.approx(f(10.0) + 4.0 * slope, rel=1e-6)
    assert f(-3.0) - f(-1.0) == pytest.approx(2.0 * (f(-1.0) - f(0.0)), rel=1e-9)
    narrow = KnotBasis((tuple(KNOT_SETS["crowded"]),), 3, "linear")  # first interval 1e-4
    with pytest.raises(ValueError, match="too far from it to extrapolate"):
        narrow.evaluate(np.array([[-1.7e308]]))


def test_divided_difference_penalty_leaves_exactly_the_straight_lines_unpenalized():
    inner = np.array(KNOT_SETS["uneven"])
    D = divided_differences(inner, 3)
    # Coefficients at the Greville abscissae reproduce the line x itself.
    line = greville(inner, 3)
    np.testing.assert_allclose(D @ line, 0, atol=1e-12)
    np.testing.assert_allclose(D @ np.ones_like(line), 0, atol=1e-12)
    assert np.linalg.matrix_rank(D.T @ D) == len(line) - 2
    equal = divided_differences(np.linspace(0, 1, 8), 3)
    np.testing.assert_allclose(equal, np.diff(np.eye(10), n=2, axis=0), atol=1e-12)


def test_knot_placements():
    values = np.concatenate([np.random.default_rng(0).uniform(0, 1, 500), [1000.0]])
    assert place_knots(values, 10, "uniform") is None
    quantile = np.array(place_knots(values, 10, "quantile"))
    balanced = np.array(place_knots(values, 10, "balanced"))
    assert quantile[0] == values.min() and quantile[-1] == 1000.0
    assert np.sum(quantile < 1) == 10 and np.sum(balanced < 1) == 5  # intervals in the data
    assert place_knots(values, 10, "auto") == tuple(balanced)  # crowded: balanced
    assert place_knots(values[:-1], 10, "auto") is None  # spread evenly: equally spaced
