"""Exponential families and their canonical or customary links, in plain numpy.

Each family knows what penalized IRLS needs (link, inverse link, the working weights and
response of one step, unit deviance, Pearson residuals, a starting mean) and whether its
scale is known. The serving path imports this module for the inverse links only.

Everything a fit computes is invariant to the units of ``y``: the working weights of a
log-link family with variance ``mu^p`` are ``mu^(2 - p)`` (exactly 1 for gamma), Pearson
residuals are ``mu^(2 - p) (y / mu - 1)^2``, and no floor is set in the units of ``y``, so
multiplying the target by 1e-8 multiplies the fitted means by 1e-8 and changes nothing
else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
_TINY = 1e-10  # binomial only: probabilities have no units
_SMALLEST = float(np.finfo(np.float64).tiny)
_ETA_LIMIT = 700.0  # exp() of more overflows


@dataclass(frozen=True)
class Family:
    """A response distribution with its link.

    ``power`` is the variance power of the log-link families (``V(mu) = mu^power``: 1
    poisson, 2 gamma, between 1 and 2 Tweedie); ``theta`` the negative binomial's shape
    (``V(mu) = mu + mu^2 / theta``).
    """

    name: str
    link: str
    scale_known: bool
    power: float = 0.0
    theta: float = 1.0

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
            return np.exp(np.minimum(eta, _ETA_LIMIT))
        return 0.5 * (1.0 + np.tanh(0.5 * eta))  # the logistic function, without overflow

    def dmu_deta(self, eta: Array) -> Array:
        if self.link == "identity":
            return np.ones_like(eta)
        if self.link == "log":
            return np.exp(np.minimum(eta, _ETA_LIMIT))
        mu = self.inverse_link(eta)
        return np.maximum(mu * (1.0 - mu), _TINY)

    def variance(self, mu: Array) -> Array:
        """``V(mu)``, floored at the smallest positive double (never in ``y``'s units)."""
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "binomial":
            return np.maximum(mu * (1.0 - mu), _TINY)
        if self.name == "negative_binomial":
            return np.maximum(mu + mu * mu / self.theta, _SMALLEST)
        return np.maximum(mu**self.power, _SMALLEST)

    def working(self, y: Array, eta: Array) -> tuple[Array, Array]:
        """IRLS weights (before sample weights) and working response at ``eta``."""
        if self.link == "identity":
            return np.ones_like(eta), y.astype(np.float64)
        if self.link == "log":
            clipped = np.clip(eta, -_ETA_LIMIT, _ETA_LIMIT)
            # (y - mu) / mu without dividing by a mean that may underflow.
            z = eta + y * np.exp(-clipped) - 1.0
            return self._log_weights(clipped), z
        mu = self.inverse_link(eta)
        slope = np.maximum(mu * (1.0 - mu), _TINY)
        return slope, eta + (y - mu) / slope

    def _log_weights(self, eta: Array) -> Array:
        """``(dmu/deta)^2 / V(mu)`` of a log link, in closed form."""
        if self.name == "negative_binomial":
            mu = np.exp(eta)
            return mu / (1.0 + mu / self.theta)
        return np.exp((2.0 - self.power) * eta)

    def pearson(self, y: Array, eta: Array) -> Array:
        """Squared Pearson residuals ``(y - mu)^2 / V(mu)``."""
        if self.link == "log" and self.name != "negative_binomial":
            clipped = np.clip(eta, -_ETA_LIMIT, _ETA_LIMIT)
            ratio = y * np.exp(-clipped) - 1.0
            return np.exp((2.0 - self.power) * clipped) * ratio * ratio
        mu = self.inverse_link(eta)
        return (y - mu) ** 2 / self.variance(mu)

    def unit_deviance(self, y: Array, mu: Array) -> Array:
        if self.name == "gaussian":
            return (y - mu) ** 2
        if self.name == "binomial":
            return 2.0 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1.0 - y, 1.0 - mu))
        mu = np.maximum(mu, _SMALLEST)
        if self.name == "poisson":
            return 2.0 * (_xlogy_ratio(y, mu) - (y - mu))
        if self.name == "gamma":
            ratio = y / mu
            return 2.0 * (ratio - np.log(ratio) - 1.0)
        if self.name == "negative_binomial":
            theta = self.theta
            return 2.0 * (_xlogy_ratio(y, mu) - (y + theta) * np.log((y + theta) / (mu + theta)))
        return _tweedie_deviance(y, mu, self.power)

    def deviance(self, y: Array, mu: Array, weights: Array) -> float:
        return float(np.dot(weights, self.unit_deviance(y, mu)))

    def null_mean(self, y: Array, weights: Array, offset: Array) -> Array:
        """The intercept-only model's means (with the offset): the deviance explained
        is measured against it, as glm and mgcv measure it."""
        if not offset.any():
            return np.full_like(y, np.average(y, weights=weights))
        return self.inverse_link(offset + self.null_intercept(y, weights, offset))

    def null_intercept(self, y: Array, weights: Array, offset: Array) -> float:
        """The maximum likelihood intercept of the model of the offset and an intercept
        alone: Fisher scoring on its one score equation, from the link of the mean
        response less the mean offset."""
        mean = float(np.average(y, weights=weights))
        inside = min(max(mean, _TINY), 1.0 - _TINY) if self.link == "logit" else \
            max(mean, _SMALLEST) if self.link == "log" else mean
        intercept = float(self.link_fn(np.array([inside]))[0]) - float(
            np.average(offset, weights=weights))
        for _ in range(100):
            score, information = self.null_score(y, weights, offset, intercept)
            if not information > 0.0:
                break
            step = float(np.clip(score / information, -5.0, 5.0))
            intercept += step
            if abs(step) < 1e-13 * max(1.0, abs(intercept)):
                break
        return intercept

    def null_score(self, y: Array, weights: Array, offset: Array,
                   intercept: float) -> tuple[float, float]:
        """The score and Fisher information of the intercept at ``intercept`` (sums over
        rows, so passes over chunks add them up)."""
        eta = offset + intercept
        mu = self.inverse_link(eta)
        slope = self.dmu_deta(eta)
        variance = self.variance(mu)
        return (float(np.dot(weights, (y - mu) * slope / variance)),
                float(np.dot(weights, slope * slope / variance)))

    def starting_mu(self, y: Array) -> Array:
        if self.name == "binomial":
            return (y + 0.5) / 2.0
        if self.link == "log":
            return np.maximum(y, 0.0) + 0.1 * max(float(np.mean(y)), _SMALLEST)
        return y.astype(np.float64)

    def valid_target(self, y: Array) -> str | None:
        """Why ``y`` cannot come from this family, or None when it can."""
        if self.name in ("poisson", "negative_binomial") and np.any(y < 0):
            return f"non-negative counts for family='{self.name}'"
        if self.name == "tweedie" and np.any(y < 0):
            return "non-negative values for family='tweedie'"
        if self.name == "gamma" and np.any(y <= 0):
            return "strictly positive values for family='gamma'"
        if self.link == "log" and not np.any(y > 0):
            return f"at least one positive value for family='{self.name}'"
        return None

    @property
    def parameters(self) -> dict[str, float]:
        """What the artifact must store besides the name: a Tweedie's power, a negative
        binomial's theta."""
        if self.name == "tweedie":
            return {"power": self.power}
        if self.name == "negative_binomial":
            return {"theta": self.theta}
        return {}

    def with_parameters(self, parameters: dict[str, Any]) -> Family:
        if self.name == "tweedie":
            return replace(self, power=float(parameters["power"]))
        if self.name == "negative_binomial":
            return replace(self, theta=float(parameters["theta"]))
        return self


def _xlogy_ratio(a: Array, b: Array) -> Array:
    """``a * log(a / b)``, taken as 0 where ``a`` is 0."""
    safe_a = np.where(a > 0, a, 1.0)
    return np.where(a > 0, a * np.log(safe_a / np.maximum(b, _SMALLEST)), 0.0)


def _tweedie_deviance(y: Array, mu: Array, p: float) -> Array:
    """``2 [y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)]``, written with
    ``(y/mu)`` so that it stays accurate when ``y`` and ``mu`` are tiny."""
    ratio = y / mu
    scale = mu ** (2.0 - p)
    first = np.where(y > 0, ratio ** (2.0 - p), 0.0) / ((1.0 - p) * (2.0 - p))
    return 2.0 * scale * (first - ratio / (1.0 - p) + 1.0 / (2.0 - p))


FAMILIES: dict[str, Family] = {
    "gaussian": Family("gaussian", "identity", scale_known=False),
    "poisson": Family("poisson", "log", scale_known=True, power=1.0),
    "gamma": Family("gamma", "log", scale_known=False, power=2.0),
    "binomial": Family("binomial", "logit", scale_known=True),
    "tweedie": Family("tweedie", "log", scale_known=False, power=1.5),
    "negative_binomial": Family("negative_binomial", "log", scale_known=True),
}
REGRESSION_FAMILIES: tuple[str, ...] = ("gaussian", "poisson", "gamma", "tweedie",
                                         "negative_binomial")
