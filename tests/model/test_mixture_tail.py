"""The tail of a chi-square mixture (the p-values of smooth terms) against distributions
with closed forms: every case here is a mixture ``chi_square_mixture_tail`` handles in
general, whose exact answer happens to be known."""

import math

import numpy as np
import pytest
from scipy import stats

from sagegam.model.inference import chi_square_mixture_tail

# Imhof's inversion is integrated to QUADPACK's default accuracy (1.5e-8 on the Fourier
# pieces, divided by pi); the saddlepoint answers only below 1e-8 and is then relative.
ABSOLUTE = 1e-8


def assert_tail(got: float, expected: float) -> None:
    if expected < 1e-8:
        assert got == pytest.approx(expected, rel=0.1)
    else:
        assert abs(got - expected) < ABSOLUTE


@pytest.mark.parametrize("x", [0.2, 1.0, 4.0, 11.0, 30.0, 80.0])
def test_equal_weights_are_a_scaled_chi_square(x):
    weights = np.full(3, 2.0)
    got = chi_square_mixture_tail(x, weights, np.ones(3))
    assert_tail(got, float(stats.chi2.sf(x / 2.0, 3)))


@pytest.mark.parametrize("k", [5, 150, 250, 10_000, 1_000_000])
@pytest.mark.parametrize("x", [0.5, 3.0, 9.0, 25.0])
def test_a_scale_estimated_from_k_residual_df_gives_the_f_distribution(k, x):
    # a chi2_m - (x / k) chi2_k > 0  <=>  F(m, k) > x / (a m); a term of many degrees
    # of freedom takes the inversion's other route (its rate joins the frequency).
    a, m = 1.5, 3
    weights = np.append(np.full(m, a), -x / k)
    dfs = np.append(np.ones(m), k)
    got = chi_square_mixture_tail(0.0, weights, dfs)
    assert_tail(got, float(stats.f.sf(x / (a * m), m, k)))


@pytest.mark.parametrize("x", [0.1, 2.0, 7.0, 20.0, 60.0])
def test_two_distinct_weights_are_a_sum_of_exponentials(x):
    a, b = 1.0, 0.3  # a chi2_2 is an exponential of mean 2a
    expected = (a * math.exp(-x / (2 * a)) - b * math.exp(-x / (2 * b))) / (a - b)
    got = chi_square_mixture_tail(x, np.array([a, b]), np.array([2.0, 2.0]))
    assert_tail(got, expected)


@pytest.mark.parametrize("x", [0.0, 0.5, 3.0, 12.0])
def test_a_difference_of_exponentials(x):
    a, b = 1.0, 0.5
    expected = a / (a + b) * math.exp(-x / (2 * a))
    got = chi_square_mixture_tail(x, np.array([a, -b]), np.array([2.0, 2.0]))
    assert_tail(got, expected)


@pytest.mark.parametrize("x", [230.0, 290.0, 302.0, 330.0, 400.0])
def test_many_degrees_of_freedom_with_a_positive_weight(x):
    # Equal weights again, with the many-df term on the positive side: the frequency
    # left after its rate is taken out changes sign across the mean (302).
    got = chi_square_mixture_tail(x, np.array([1.0, 1.0]), np.array([2.0, 300.0]))
    assert_tail(got, float(stats.chi2.sf(x, 302)))
