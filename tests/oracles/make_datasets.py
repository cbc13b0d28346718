"""Writes the seeded CSV datasets that ``fit_mgcv.R`` fits; rerun only to change them.

    python tests/oracles/make_datasets.py      # then: Rscript tests/oracles/fit_mgcv.R

Every number is written with ``repr`` (17 significant digits), so R reads exactly the
doubles numpy drew and both sides compute the same knots. Factor levels are lower-case
ASCII words, so R's radix (C-locale) sort and Python's ``sorted`` order them alike.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
Columns = dict[str, np.ndarray]


def factor(rng: np.random.Generator, counts: dict[str, int]) -> np.ndarray:
    """Levels with exactly these row counts, in shuffled order."""
    values = np.concatenate([[level] * count for level, count in counts.items()])
    return rng.permutation(values)


def effects(levels: np.ndarray, table: dict[str, float]) -> np.ndarray:
    return np.array([table[level] for level in levels])


def additive(rng: np.random.Generator) -> Columns:
    """Three smooth terms on differently distributed covariates (uniform, normal, skewed)."""
    n = 800
    x1 = rng.uniform(0, 10, n)
    x2 = rng.normal(0, 1, n)
    x3 = rng.beta(2, 5, n) * 100
    y = np.sin(x1) + 0.5 * x2**2 + np.exp(-x3 / 30) + rng.normal(0, 0.5, n)
    return {"x1": x1, "x2": x2, "x3": x3, "y": y}


def factor_main(rng: np.random.Generator) -> Columns:
    """A smooth plus a 6-level factor with unequal counts, one level with 3 rows."""
    counts = {"alpha": 250, "bravo": 150, "charlie": 100, "delta": 60, "echo": 37,
              "foxtrot": 3}
    f = factor(rng, counts)
    x = rng.uniform(-1, 1, len(f))
    table = {"alpha": 0.0, "bravo": 0.8, "charlie": -0.5, "delta": 1.2, "echo": 0.3,
             "foxtrot": -1.0}
    y = x**3 - x + effects(f, table) + rng.normal(0, 0.4, len(f))
    return {"x": x, "f": f, "y": y}


def numeric_pair(rng: np.random.Generator) -> Columns:
    """A sin(x1)cos(x2) surface, a linear part, and an additive third covariate."""
    n = 2000
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(-2, 2, n)
    x3 = rng.uniform(0, 1, n)
    y = np.sin(x1) * np.cos(x2) + 0.5 * x1 + x3**2 + rng.normal(0, 0.3, n)
    return {"x1": x1, "x2": x2, "x3": x3, "y": y}


def factor_pair(rng: np.random.Generator) -> Columns:
    """Curves that differ by level: a shared sine, level shifts, two levels bend away."""
    counts = {"east": 500, "north": 400, "south": 300, "west": 200, "central": 100}
    g = factor(rng, counts)
    x = rng.uniform(0, 1, len(g))
    shift = effects(g, {"east": 0.0, "north": 0.5, "south": -0.4, "west": 0.9,
                        "central": 0.2})
    bend = np.where(g == "north", 2 * x - 1, 0.0) + np.where(g == "west", -np.sin(3 * x), 0.0)
    y = np.sin(2 * np.pi * x) + shift + bend + rng.normal(0, 0.4, len(g))
    return {"x": x, "g": g, "y": y}


def binary(rng: np.random.Generator) -> Columns:
    """A logistic outcome: a smooth plus a 7-level factor, one level with 4 rows."""
    counts = {"a": 700, "b": 500, "c": 350, "d": 250, "e": 150, "f": 46, "g": 4}
    f = factor(rng, counts)
    x = rng.uniform(-3, 3, len(f))
    eta = 1.5 * np.sin(x) + effects(f, {"a": -0.5, "b": 0.0, "c": 0.7, "d": -1.0, "e": 1.2,
                                          "f": 0.4, "g": 0.0})
    y = (rng.random(len(f)) < 1 / (1 + np.exp(-eta))).astype(int)
    return {"x": x, "f": f, "y": y}


def counts(rng: np.random.Generator) -> Columns:
    """A Poisson outcome: two smooths plus a 4-level factor."""
    levels = factor(rng, {"low": 450, "mid": 300, "high": 200, "rare": 50})
    x1 = rng.uniform(0, 1, len(levels))
    x2 = rng.uniform(0, 1, len(levels))
    eta = 0.5 + np.sin(3 * x1) + 0.8 * x2**2 + effects(
        levels, {"low": -0.3, "mid": 0.0, "high": 0.4, "rare": 0.8})
    y = rng.poisson(np.exp(eta))
    return {"x1": x1, "x2": x2, "f": levels, "y": y}


def weak(rng: np.random.Generator) -> Columns:
    """Effects of every strength for the tests' p-values: moderate, weak, none, none, and a
    weak factor; gaussian, count and binary outcomes on the same predictors."""
    n = 500
    x1, x2, x3, x4 = (rng.uniform(0, 1, n) for _ in range(4))
    f = factor(rng, {"a": 150, "b": 120, "c": 100, "d": 80, "e": 50})
    eta = 0.3 * np.sin(2 * np.pi * x1) + 0.25 * x2 + effects(
        f, {"a": 0.0, "b": 0.1, "c": -0.15, "d": 0.2, "e": -0.1})
    return {"x1": x1, "x2": x2, "x3": x3, "x4": x4, "f": f,
            "y": 3.0 + eta + rng.normal(0, 1.0, n),
            "count": rng.poisson(np.exp(1.0 + eta)),
            "event": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)}


def tweedie(rng: np.random.Generator, mu: np.ndarray, phi: float, power: float) -> np.ndarray:
    """Compound Poisson-gamma draws: Poisson many gamma amounts (Tweedie, 1 < power < 2)."""
    counts = rng.poisson(mu ** (2 - power) / (phi * (2 - power)))
    shape = (2 - power) / (power - 1)
    scale = phi * (power - 1) * mu ** (power - 1)
    return np.array([rng.gamma(shape * k, s) if k else 0.0 for k, s in zip(counts, scale,
                                                                         strict=True)])


def claims(rng: np.random.Generator) -> Columns:
    """Insurance-like claim amounts per policy: Tweedie (power 1.6, phi 2)."""
    n = 1500
    region = factor(rng, {"n": 500, "s": 450, "e": 350, "w": 200})
    age = rng.uniform(18, 80, n)
    engine = rng.uniform(50, 250, n)
    eta = (0.8 + 0.6 * np.cos((age - 18) / 10) + 0.5 * np.sin((engine - 50) / 60)
           + effects(region, {"n": 0.0, "s": 0.3, "e": -0.2, "w": 0.5}))
    return {"age": age, "engine": engine, "region": region,
            "y": tweedie(rng, np.exp(eta), 2.0, 1.6)}


def visits(rng: np.random.Generator) -> Columns:
    """Over-dispersed counts per person: negative binomial (theta 2.5)."""
    n = 1200
    group = factor(rng, {"a": 400, "b": 350, "c": 300, "d": 150})
    x1 = rng.uniform(0, 1, n)
    x2 = rng.uniform(0, 1, n)
    eta = 0.5 + np.sin(2 * np.pi * x1) + 0.8 * np.cos(3 * x2) + effects(
        group, {"a": 0.0, "b": 0.4, "c": -0.3, "d": 0.2})
    mu = np.exp(eta)
    return {"x1": x1, "x2": x2, "group": group,
            "y": rng.negative_binomial(2.5, 2.5 / (2.5 + mu))}


DATASETS: dict[str, tuple[int, Callable[[np.random.Generator], Columns]]] = {
    "additive": (101, additive),
    "factor_main": (102, factor_main),
    "numeric_pair": (103, numeric_pair),
    "factor_pair": (104, factor_pair),
    "binary": (105, binary),
    "counts": (106, counts),
    "weak": (107, weak),
    "claims": (108, claims),
    "visits": (109, visits),
}


def write_csv(path: Path, columns: Columns) -> None:
    names = list(columns)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for row in zip(*(columns[name] for name in names), strict=True):
            writer.writerow([cell if isinstance(cell, str) else repr(cell.item())
                             for cell in row])


def main() -> None:
    for name, (seed, make) in DATASETS.items():
        write_csv(HERE / f"{name}.csv", make(np.random.default_rng(seed)))


if __name__ == "__main__":
    main()
