"""Exponential families and their canonical or customary links, in plain numpy.

Each family knows what penalized IRLS needs (link, inverse link, its derivative, variance,
unit deviance, a starting mean) and whether its scale is known. The serving path imports
this module for the inverse links only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
_TINY = 1e-10


@dataclass(frozen=True)
class Family:
    name: str
    link: str
    scale_known: bool

    def link_fn(self, mu: Array) -> Array:
        if self.link == "identity":
            return mu
        if self.link == "log":
            return np.log(mu)
        return np.log(mu) - np.log1p(-mu)

    def inverse_link(self, eta: Array) -> Array:
        if self.link == "identity":
            return eta
        if self.link == "log":
            return np.exp(np.minimum(eta, 700.0))
        return 0.5 * (1.0 + np.tanh(0.5 * eta))  # the logistic function, without overflow

    def dmu_deta(self, eta: Array) -> Array:
        if self.link == "identity":
            return np.ones_like(eta)
        if self.link == "log":
            return np.exp(np.minimum(eta, 700.0))
        mu = self.inverse_link(eta)
        return np.maximum(mu * (1.0 - mu), _TINY)

    def variance(self, mu: Array) -> Array:
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "poisson":
            return np.maximum(mu, _TINY)
        if self.name == "gamma":
            return np.maximum(mu * mu, _TINY)
        return np.maximum(mu * (1.0 - mu), _TINY)

    def unit_deviance(self, y: Array, mu: Array) -> Array:
        if self.name == "gaussian":
            return (y - mu) ** 2
        if self.name == "poisson":
            return 2.0 * (_xlogy_ratio(y, mu) - (y - mu))
        if self.name == "gamma":
            ratio = y / np.maximum(mu, _TINY)
            return 2.0 * (ratio - np.log(np.maximum(ratio, _TINY)) - 1.0)
        return 2.0 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1.0 - y, 1.0 - mu))

    def deviance(self, y: Array, mu: Array, weights: Array) -> float:
        return float(np.dot(weights, self.unit_deviance(y, mu)))

    def starting_mu(self, y: Array) -> Array:
        if self.name == "binomial":
            return (y + 0.5) / 2.0
        if self.name in ("poisson", "gamma"):
            return np.maximum(y, 0.0) + 0.1 * max(float(np.mean(y)), _TINY)
        return y.astype(np.float64)

    def valid_target(self, y: Array) -> str | None:
        """Why ``y`` cannot come from this family, or None when it can."""
        if self.name == "poisson" and np.any(y < 0):
            return "non-negative counts for family='poisson'"
        if self.name == "gamma" and np.any(y <= 0):
            return "strictly positive values for family='gamma'"
        return None


def _xlogy_ratio(a: Array, b: Array) -> Array:
    """``a * log(a / b)``, taken as 0 where ``a`` is 0."""
    safe_a = np.where(a > 0, a, 1.0)
    return np.where(a > 0, a * np.log(safe_a / np.maximum(b, _TINY)), 0.0)


FAMILIES: dict[str, Family] = {
    "gaussian": Family("gaussian", "identity", scale_known=False),
    "poisson": Family("poisson", "log", scale_known=True),
    "gamma": Family("gamma", "log", scale_known=False),
    "binomial": Family("binomial", "logit", scale_known=True),
}
REGRESSION_FAMILIES: tuple[str, ...] = ("gaussian", "poisson", "gamma")
