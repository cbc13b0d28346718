"""The uniform B-spline basis equals scipy's, and extrapolates as documented."""

import numpy as np
import pytest
from scipy.interpolate import BSpline

from sagegam.model.basis import SplineBasis, difference_penalty


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
