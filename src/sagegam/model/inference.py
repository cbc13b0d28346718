"""Approximate p-values for each term: is it distinguishable from zero?

Two tests, as mgcv's ``summary.gam`` uses them:

- a term whose penalty leaves a null space (a smooth: lines are unpenalized) gets Wood's
  (2013a, "On p-values for smooth components of an extended generalized additive model",
  Biometrika 100, 221-228) Wald-type statistic ``T = f' V_f^{r-} f``: ``f`` the term's
  values at the training rows (weighted as in the fit), ``V_f`` their Bayesian
  covariance, and ``V^{r-}`` a pseudo-inverse of rank ``r`` = the term's alternative edf
  ``tr(2F - F^2)``. A fractional rank keeps the first ``floor(r) - 1`` eigen-directions
  and blends the next two (so that the statistic's reference distribution moves
  smoothly with ``r``): a weighted sum of chi-squares, whose tail is computed exactly
  (Imhof 1961); with an estimated scale, its ratio to the residual chi-square;
- a fully penalized term (a factor's levels, a random effect) gets Wood's (2013b, "A
  simple test for random effects in regression models", Biometrika 100, 1005-1010)
  statistic ``T = b' V_b^{-1} b`` with the Bayesian covariance ``V_b``, referred to the
  sum of chi-squares weighted by the eigenvalues of ``V_e V_b^{-1}`` (``V_e`` the
  frequentist covariance): its exact distribution when the effect is zero. Other random
  effects are held as penalized fixed effects (mgcv integrates them out when testing a
  fully penalized term next to other ``re`` terms; the two agree when there is one).

All in the fit's free coordinates, which changes nothing: the statistics are invariant
to a reparametrization within a term.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import integrate, linalg, optimize, stats

Array = NDArray[np.float64]
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class TermTest:
    test: str  # "smooth" or "random_effect"
    statistic: float  # chi-square, or its F form (divided by reference_df) when the
    # scale is estimated, as mgcv prints it
    reference_df: float
    p_value: float

    def as_info(self) -> dict[str, float | str]:
        return {"test": self.test, "statistic": self.statistic,
                "reference_df": self.reference_df, "p_value": self.p_value}


@dataclass(frozen=True)
class FittedModel:
    """What the tests need, in the fit's free coordinates."""

    coef: Array
    covariance: Array  # Bayesian, scale included: (X'WX + S)^-1 * scale
    gram: Array  # X'WX of the last IRLS step
    scale: float
    scale_known: bool
    residual_df: float  # observations minus total edf


def term_test(model: FittedModel, block: slice, fully_penalized: bool) -> TermTest | None:
    """The test of the term whose free coefficients are ``block``; None for no columns."""
    if block.stop <= block.start:
        return None
    if fully_penalized:
        return _random_effect_test(model, block)
    return _smooth_test(model, block)


def _smooth_test(model: FittedModel, block: slice) -> TermTest:
    unscaled = model.covariance / model.scale
    F = unscaled @ model.gram  # (X'WX + S)^-1 X'WX
    part = F[block, block]
    edf1 = float(2.0 * np.trace(part) - np.sum(F[block, :] * F[:, block].T))
    rank = min(float(block.stop - block.start), edf1)
    root = _square_root(model.gram[block, block])  # R'R = X_j'WX_j
    V = root @ model.covariance[block, block] @ root.T
    statistic, used, p_value = _fractional_wald(root @ model.coef[block], (V + V.T) / 2.0,
                                                rank, _residual_df(model))
    return _reported("smooth", statistic, used, p_value, model)


def _fractional_wald(f: Array, V: Array, rank: float,
                     residual_df: float | None) -> tuple[float, float, float]:
    """``||B' f||^2`` with B the rank-``rank`` pseudo-inverse root of V, its reference
    rank and p-value. Both signs of the blended direction give a statistic; their
    p-values are averaged, since neither choice is better."""
    values, vectors = np.linalg.eigh(V)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    vectors = vectors * np.where(vectors[0] < 0, -1.0, 1.0)  # a fixed sign per direction
    k = max(0, math.floor(rank))
    nu = rank - k
    k1 = k + 1 if nu > 0 else k
    estimable = int(np.sum(values > values[0] * EPS**0.9))
    if estimable == 0:  # shape bounds hold the whole term at zero: no effect to test
        return 0.0, 0.0, 1.0
    if estimable < k1:
        k = k1 = estimable
        nu, rank = 0.0, float(estimable)
    kept, scale = vectors[:, :k1], values[:k1]
    if nu > 0 and k > 0:
        plus, minus = _blended(kept, scale, k, nu)
    else:
        plus = minus = kept / np.sqrt(scale if k > 0 else scale[:1])
        if k == 1:
            rank = 1.0
    stats_pm = [float(np.sum((plus.T @ f) ** 2)), float(np.sum((minus.T @ f) ** 2))]
    if nu > 0:
        weights = np.ones(k1)
        if k1 > 1:
            shifted = nu + 1.0
            weights[k - 1] = (shifted + math.sqrt(shifted * (2.0 - shifted))) / 2.0
            weights[k1 - 1] = shifted - weights[k - 1]
        p_value = float(np.mean([_mixture_tail(s, weights, residual_df) for s in stats_pm]))
    else:
        p_value = float(np.mean([_integer_tail(s, rank, residual_df) for s in stats_pm]))
    return stats_pm[0], rank, min(1.0, p_value)


def _blended(kept: Array, values: Array, k: int, nu: float) -> tuple[Array, Array]:
    """Directions 1..k-1 whitened; k and k+1 mixed through Wood's 2 x 2 block
    ``[[1, b], [b, nu]]`` with ``b = sqrt(nu (1 - nu) / 2)``, in both signs."""
    plus = kept.copy()
    plus[:, :k - 1] = kept[:, :k - 1] / np.sqrt(values[:k - 1])
    b = math.sqrt(max(0.5 * nu * (1.0 - nu), 0.0))
    inverse_root = np.diag(values[k - 1:k + 1] ** -0.5)
    B = inverse_root @ np.array([[1.0, b], [b, nu]]) @ inverse_root
    eigenvalues, eigenvectors = np.linalg.eigh(B)
    root = eigenvectors @ np.diag(np.sqrt(np.maximum(eigenvalues, 0.0))) @ eigenvectors.T
    minus = plus.copy()
    pair = kept[:, k - 1:k + 1]
    plus[:, k - 1:k + 1] = pair @ root
    minus[:, k - 1:k + 1] = pair @ np.diag([-1.0, 1.0]) @ root
    return plus, minus


def _random_effect_test(model: FittedModel, block: slice) -> TermTest:
    b = model.coef[block]
    Vb = model.covariance[block, block]
    unscaled = model.covariance / model.scale
    Ve = (unscaled @ model.gram @ model.covariance)[block, block]  # frequentist
    factor = linalg.cholesky((Vb + Vb.T) / 2.0, lower=True)
    whitened = linalg.solve_triangular(factor, b, lower=True)
    statistic = float(whitened @ whitened)
    half = linalg.solve_triangular(factor, Ve, lower=True)
    weights = np.linalg.eigvalsh(linalg.solve_triangular(factor, half.T, lower=True))
    weights = np.maximum(weights, 0.0)
    rank = float(np.sum(weights > weights.max(initial=0.0) * EPS**0.8))
    p_value = _mixture_tail(statistic, weights, _residual_df(model))
    return _reported("random_effect", statistic, rank, min(1.0, p_value), model)


def _reported(test: str, statistic: float, rank: float, p_value: float,
              model: FittedModel) -> TermTest:
    shown = statistic if model.scale_known else statistic / max(rank, 1e-300)
    return TermTest(test, shown, rank, max(p_value, 0.0))


def _residual_df(model: FittedModel) -> float | None:
    return None if model.scale_known else model.residual_df


def _square_root(gram: Array) -> Array:
    """``R`` with ``R'R = gram`` (symmetric square root; any root gives the same test)."""
    values, vectors = np.linalg.eigh((gram + gram.T) / 2.0)
    return np.asarray(np.sqrt(np.maximum(values, 0.0))[:, None] * vectors.T)


def _integer_tail(statistic: float, rank: float, residual_df: float | None) -> float:
    if residual_df is None:
        return float(stats.chi2.sf(statistic, rank))
    return float(stats.f.sf(statistic / rank, rank, residual_df))


def _mixture_tail(statistic: float, weights: Array, residual_df: float | None) -> float:
    """``P(sum_i w_i chi2_1 > statistic)``; with an estimated scale,
    ``P(sum_i w_i chi2_1 - statistic / k chi2_k > 0)``, k the residual df rounded."""
    weights = weights[weights > 0]
    if weights.size == 0:
        return 1.0
    dfs = np.ones(len(weights))
    if residual_df is None:
        return chi_square_mixture_tail(statistic, weights, dfs)
    k = max(1, round(residual_df))
    return chi_square_mixture_tail(0.0, np.append(weights, -statistic / k),
                                   np.append(dfs, k))


def chi_square_mixture_tail(x: float, weights: Array, dfs: Array) -> float:
    """``P(sum_j w_j chi2_{h_j} > x)`` (any signs of ``w``): Imhof's exact inversion,
    accurate to about 1e-9 absolutely, and below TAIL the saddlepoint approximation,
    accurate to a few percent relatively where the inversion's absolute error would not
    be."""
    # A tail far below TAIL by the saddlepoint would be below TAIL by the inversion too
    # (a few percent relative error against 1e-9 absolute), and the saddlepoint would
    # then be the answer: skip the inversion, whose cost grows with the statistic (on 1M
    # rows it took seconds per term, for p-values of 1e-300).
    approximate = saddlepoint(x, weights, dfs)
    if approximate < TAIL / 100:
        return approximate
    body = imhof(x, weights, dfs)
    if body >= TAIL:
        return body
    return approximate


TAIL = 1e-8
# From this many degrees of freedom a term's amplitude is below 2^-50 where its phase
# stops being linear (|w u| = 1).
MANY_DF = 200.0


def imhof(x: float, weights: Array, dfs: Array) -> float:
    """Imhof's (1961) inversion of the characteristic function:
    ``1/2 + 1/pi int_0^inf sin(theta(u)) / (u rho(u)) du`` with
    ``theta(u) = sum_j h_j atan(w_j u) / 2 - x u / 2`` and
    ``rho(u) = prod_j (1 + w_j^2 u^2)^(h_j / 4)``.

    Beyond u = 1 the integrand is a slowly varying amplitude times ``sin(x u / 2)`` and
    ``cos(x u / 2)``, which QUADPACK's Fourier integrator (QAWF) sums with
    extrapolation: with a chi-square of few degrees of freedom the amplitude decays like
    ``u^-1.5`` only, too slowly for a plain quadrature.
    """
    weights = np.asarray(weights, dtype=np.float64)
    dfs = np.asarray(dfs, dtype=np.float64)
    scale = float(np.max(np.abs(weights)))
    w, y = weights / scale, x / scale  # the integral in units of the largest weight
    # A term of many degrees of freedom (a scale estimated from ~n residual df) turns the
    # phase at its linear rate h w / 2 for as long as its amplitude, (1 + w^2 u^2)^(-h/4),
    # has not vanished: that rate joins the Fourier frequency, and what is left of its
    # phase, h (atan(w u) - w u) / 2, varies slowly. A plain quadrature would follow
    # thousands of its oscillations instead.
    many = dfs >= MANY_DF
    frequency = 0.5 * (y - float(np.sum(dfs[many] * w[many])))

    # Plain floats: quad calls these thousands of times with a scalar, and a few numpy
    # calls on short arrays cost more than the arithmetic.
    terms = list(zip(w.tolist(), dfs.tolist(), strict=True))
    few = [(v, h) for v, h in terms if h < MANY_DF]
    lots = [(v, h) for v, h in terms if h >= MANY_DF]

    def phase(u: float) -> float:  # without the frequency's share
        return 0.5 * (sum(h * math.atan(v * u) for v, h in few)
                      + sum(h * (math.atan(v * u) - v * u) for v, h in lots))

    def amplitude(u: float) -> float:
        return math.exp(-0.25 * sum(h * math.log1p((v * u) ** 2) for v, h in terms)) / u

    def integrand(u: float) -> float:
        return math.sin(phase(u) - frequency * u) * amplitude(u)

    with warnings.catch_warnings():
        # Far in the tail the integral is a cancellation quad cannot resolve to the
        # last digit; the saddlepoint takes over there, so its complaint is expected.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        head, _ = integrate.quad(integrand, 0.0, 1.0, limit=500, epsabs=1e-13)
        if abs(frequency) > 5e-7:
            # sin(phi - f u) = sin(phi) cos(|f| u) - sign(f) cos(phi) sin(|f| u)
            cosine, _ = integrate.quad(lambda u: math.sin(phase(u)) * amplitude(u), 1.0,
                                       np.inf, weight="cos", wvar=abs(frequency),
                                       limlst=200)
            sine, _ = integrate.quad(lambda u: math.cos(phase(u)) * amplitude(u), 1.0,
                                     np.inf, weight="sin", wvar=abs(frequency), limlst=200)
            tail = cosine - sine if frequency > 0 else cosine + sine
        else:
            tail, _ = integrate.quad(integrand, 1.0, np.inf, limit=2000, epsabs=1e-13)
    return float(min(max(0.5 + (head + tail) / math.pi, 0.0), 1.0))


def saddlepoint(x: float, weights: Array, dfs: Array) -> float:
    """Lugannani and Rice's saddlepoint approximation of the upper tail (Kuonen 1999 for
    quadratic forms), with the cumulant generating function
    ``K(z) = -sum_j h_j log(1 - 2 w_j z) / 2``."""
    w = np.asarray(weights, dtype=np.float64)
    h = np.asarray(dfs, dtype=np.float64)

    def slope(z: float) -> float:  # K'(z) - x
        return float(np.sum(h * w / (1.0 - 2.0 * w * z))) - x

    positive, negative = w[w > 0], w[w < 0]
    upper = 0.5 / positive.max() if positive.size else 1e6
    lower = 0.5 / negative.min() if negative.size else -1e6
    span = upper - lower
    a, b = lower + 1e-12 * span, upper - 1e-12 * span
    if slope(a) > 0 or slope(b) < 0:
        return 0.0 if slope(b) < 0 else 1.0
    z = optimize.brentq(slope, a, b, xtol=1e-14 * max(abs(a), abs(b)), maxiter=500)
    if abs(z) < 1e-8:  # at the mean: the approximation's limit there is 1/2 and a skew term
        return imhof(x, w, h)
    K = -0.5 * float(np.sum(h * np.log1p(-2.0 * w * z)))
    K2 = float(np.sum(2.0 * h * w * w / (1.0 - 2.0 * w * z) ** 2))
    r = math.copysign(math.sqrt(max(2.0 * (z * x - K), 0.0)), z)
    v = z * math.sqrt(K2)
    return float(min(max(stats.norm.sf(r) + stats.norm.pdf(r) * (1.0 / v - 1.0 / r), 0.0),
                     1.0))
