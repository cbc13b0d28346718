"""The parameters a family may leave to the data: a Tweedie's power, a negative binomial's
theta, each by maximum likelihood given the current fitted means.

Penalized IRLS calls :func:`update` before each of its smoothness-selection steps (the
"performance iteration"), so the family parameter, the smoothing parameters and the
coefficients settle together, as in MASS's ``glm.nb`` (which alternates theta and the
coefficients); afterwards all three stay fixed while IRLS converges.

The Tweedie density has no closed form: it is summed as a series (Dunn and Smyth 2005,
"Series evaluation of Tweedie exponential dispersion model densities"), in logs, over
the terms near its largest one.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from sagegam.model.families import Family

Array = NDArray[np.float64]
POWER_BOUNDS = (1.01, 1.99)  # as mgcv's tw(): the compound Poisson-gamma range
THETA_BOUNDS = (1e-3, 1e7)  # beyond 1e7 a negative binomial is a Poisson
ESTIMATION_ROWS = 100_000  # a power is estimated on at most this many rows (seeded)
SERIES_SPAN = 37.0  # terms below the largest by more than e^37 add nothing in doubles


def update(family: Family, y: Array, mu: Array, weights: Array) -> Family:
    """The family with its free parameter re-estimated at the means ``mu``."""
    if family.name == "negative_binomial":
        return replace(family, theta=estimate_theta(y, mu, weights, family.theta))
    if family.name == "tweedie":
        return replace(family, power=estimate_power(y, mu, weights, family.power)[0])
    return family


def settled(before: Family, after: Family) -> bool:
    """Whether an update moved the free parameter by less than what matters."""
    if after.name == "negative_binomial":
        return abs(math.log(after.theta / before.theta)) < 1e-7
    if after.name == "tweedie":
        return abs(after.power - before.power) < 1e-7
    return True


def negative_binomial_log_likelihood(y: Array, mu: Array, theta: float,
                                     weights: Array) -> float:
    mu = np.maximum(mu, np.finfo(np.float64).tiny)
    terms = (special.gammaln(y + theta) - special.gammaln(theta) - special.gammaln(y + 1.0)
             + theta * np.log(theta / (theta + mu)) + special.xlogy(y, mu / (theta + mu)))
    return float(np.dot(weights, terms))


def estimate_theta(y: Array, mu: Array, weights: Array, start: float = 1.0) -> float:
    """The maximum likelihood theta in THETA_BOUNDS (Brent's method on log theta)."""
    lower, upper = (math.log(b) for b in THETA_BOUNDS)
    result = optimize.minimize_scalar(
        lambda t: -negative_binomial_log_likelihood(y, mu, math.exp(t), weights),
        bounds=(lower, upper), method="bounded", options={"xatol": 1e-9})
    return float(math.exp(result.x))


def tweedie_log_density(y: Array, mu: Array, phi: float, power: float) -> Array:
    """``log f(y; mu, phi, p)`` of the Tweedie distribution with ``1 < p < 2``: a point mass
    ``exp(-mu^(2-p) / (phi (2-p)))`` at 0 and a density on ``y > 0``."""
    p = power
    y = np.asarray(y, dtype=np.float64)
    mu = np.maximum(np.asarray(mu, dtype=np.float64), np.finfo(np.float64).tiny)
    kappa = mu ** (2.0 - p) / (2.0 - p)
    out = -kappa / phi
    positive = y > 0
    if positive.any():
        yp, mp = y[positive], mu[positive]
        theta_y = yp * mp ** (1.0 - p) / (1.0 - p)
        out[positive] = (_log_series(yp, phi, p) - np.log(yp) + theta_y / phi
                         - kappa[positive] / phi)
    return out


def _log_series(y: Array, phi: float, p: float) -> Array:
    """``log W(y, phi, p)``, ``W = sum_j W_j`` with ``log W_j = j z - log j! -
    log Gamma(-j alpha)``, ``alpha = (2-p)/(1-p)`` and ``z = -alpha log y + alpha log(p-1)
    - (1-alpha) log phi - log(2-p)``: the terms near the largest, ``j* = y^(2-p) /
    (phi (2-p))``, summed in logs."""
    alpha = (2.0 - p) / (1.0 - p)
    z = -alpha * np.log(y) + alpha * math.log(p - 1.0) - (1.0 - alpha) * math.log(phi) - \
        math.log(2.0 - p)
    peak = np.maximum(1.0, np.round(y ** (2.0 - p) / (phi * (2.0 - p))))

    def log_term(j: Array) -> Array:
        return np.asarray(j * z - special.gammaln(j + 1.0) - special.gammaln(-j * alpha))

    top = log_term(peak)
    total = np.ones_like(y)  # the peak's own term, relative to itself
    for direction in (-1.0, 1.0):
        j = peak + direction
        while True:
            live = j >= 1.0
            if not live.any():
                break
            relative = np.where(live, log_term(np.maximum(j, 1.0)) - top, -np.inf)
            if not np.any(relative > -SERIES_SPAN):
                break
            total += np.exp(relative)
            j = j + direction
    return np.asarray(top + np.log(total))


def estimate_power(y: Array, mu: Array, weights: Array,
                   start: float = 1.5) -> tuple[float, float]:
    """Maximum likelihood power (in POWER_BOUNDS) and dispersion of a Tweedie family at
    the means ``mu``."""
    y, mu, weights = _subsample(y, mu, weights)
    total = float(weights.sum())
    pearson = float(np.dot(weights, (y - mu) ** 2 / mu**start)) / total
    x0 = np.array([start, math.log(max(pearson, 1e-300))])

    def negative(x: Array) -> float:
        value = np.dot(weights, tweedie_log_density(y, mu, math.exp(x[1]), x[0]))
        return float(-value / total) if np.isfinite(value) else 1e300

    result = optimize.minimize(negative, x0, method="L-BFGS-B",
                               bounds=[POWER_BOUNDS, (-50.0, 50.0)],
                               options={"ftol": 1e-12, "gtol": 1e-9})
    return float(result.x[0]), float(math.exp(result.x[1]))


def _subsample(y: Array, mu: Array, weights: Array) -> tuple[Array, Array, Array]:
    if len(y) <= ESTIMATION_ROWS:
        return y, mu, weights
    rows = np.sort(np.random.default_rng(0).choice(len(y), ESTIMATION_ROWS, replace=False))
    return y[rows], mu[rows], weights[rows]
