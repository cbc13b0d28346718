"""Seeded models for the explorer's tests, benchmark and screenshots.

- :func:`twenty_terms`: 16 numeric and 2 categorical features, a numeric pair and a
  numeric-by-categorical pair (20 terms), gaussian: the issue's size goal.
- :func:`churn`: a small classifier with a factor, a missing-value effect and a pair of
  two categorical features, the docs' example.
- :func:`claims`: a Poisson rate model, claims per policy-year, with the years at risk
  as its exposure (a column between two features, no term of its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

REGIONS = ["north", "south", "east", "west", "centre"]
PLANS = ["basic", "plus", "pro"]
CHURN_TRAIN = 2_000
CLAIMS_TRAIN = 1_500
VEHICLES = ["car", "van", "motorbike"]


def twenty_terms_data(n: int = 4_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{j}": rng.uniform(-2, 2, n).round(3) for j in range(16)})
    X["region"] = pd.Categorical(rng.choice(REGIONS, n), categories=REGIONS)
    X["plan"] = pd.Categorical(rng.choice(PLANS, n), categories=PLANS)
    region = X["region"].cat.codes.to_numpy() - 2.0
    y = (np.sin(2 * X.x0) + 0.5 * X.x1**2 + X.x2 * X.x3 * 0.8 + 0.3 * X.x4
         + 0.4 * region * np.cos(X.x5) + 0.5 * (X["plan"] == "pro")
         + rng.normal(0, 0.4, n))
    return X, y.to_numpy()


def twenty_terms(n: int = 4_000) -> tuple[Any, pd.DataFrame, np.ndarray]:
    from sagegam import GAMRegressor

    X, y = twenty_terms_data(n)
    model = GAMRegressor(df=12, adaptive=False, interactions=[("x2", "x3"), ("x5", "region")])
    return model.fit(X, y), X, y


def churn_data(n: int = 3_000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, n).round(1)
    charges = rng.uniform(20, 120, n).round(2)
    calls = rng.poisson(1.5, n).astype(float)
    calls[rng.random(n) < 0.08] = np.nan  # not recorded for some customers
    X = pd.DataFrame({"tenure_months": tenure, "monthly_charges": charges,
                      "support_calls": calls,
                      "region": rng.choice(REGIONS, n), "plan": rng.choice(PLANS, n)})
    eta = (-1.0 + 1.2 * np.exp(-tenure / 12) + 0.02 * (charges - 70)
           + 0.35 * np.nan_to_num(calls, nan=3.0) - 0.6 * (X.plan == "pro")
           + 0.8 * ((X.region == "south") & (X.plan == "basic")))
    churned = rng.random(n) < 1 / (1 + np.exp(-eta))
    return X, np.where(churned, "yes", "no")


def churn(n: int = 3_000) -> tuple[Any, pd.DataFrame, np.ndarray]:
    """The model is fitted on the first CHURN_TRAIN rows; the rest are held out."""
    from sagegam import GAMClassifier

    X, y = churn_data(n)
    model = GAMClassifier(df=10, interactions=[("region", "plan")])
    return model.fit(X[:CHURN_TRAIN], y[:CHURN_TRAIN]), X, y


def claims_data(n: int = 2_000, seed: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Years at risk from 2 to 20, so that a page which left the exposure out would be
    wrong by a factor of 2 at least on every row."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"driver_age": rng.uniform(18, 80, n).round(1),
                      "years": rng.uniform(2, 20, n).round(2),
                      "vehicle": rng.choice(VEHICLES, n)})
    rate = np.exp(-2.0 + 1.2 * np.exp(-(X.driver_age - 18) / 10)
                  + X.vehicle.map({"car": 0.0, "van": 0.3, "motorbike": 0.7}))
    return X, rng.poisson(X.years * rate).astype(float)


def claims(n: int = 2_000) -> tuple[Any, pd.DataFrame, np.ndarray]:
    """Fitted on the first CLAIMS_TRAIN rows; the rest are held out."""
    from sagegam import GAMRegressor

    X, y = claims_data(n)
    model = GAMRegressor(family="poisson", exposure="years", df=8)
    return model.fit(X[:CLAIMS_TRAIN], y[:CLAIMS_TRAIN]), X, y
