"""Reads the recorded mgcv fits and rebuilds them from their definitions, with numpy/scipy.

``load(name)`` gives one model's record from ``mgcv.json`` and its data (text columns as
pandas categoricals, levels sorted). The rest restates, in Python, what README.md says each
term is, so that a test can refit a model at mgcv's smoothing parameters and compare:

- a spline term: cubic B-splines on the recorded knots (``BSpline.design_matrix``), the
  penalty ``D'D`` on second differences of its coefficients;
- a factor term: one indicator column per level, identity penalty;
- a tensor term: the row-wise Kronecker product of its margins (second margin's index
  fastest) with penalties ``S1 (x) I`` and ``I (x) S2``;
- constraints (mgcv's centering) as linear equations on the raw coefficients, absorbed
  through an orthonormal basis of their null space, as mgcv does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.interpolate import BSpline
from scipy.linalg import block_diag, null_space
from scipy.special import expit, gammaln

HERE = Path(__file__).resolve().parent
Array = np.ndarray


@cache
def _records() -> dict[str, Any]:
    return dict(json.loads((HERE / "mgcv.json").read_text()))


def names() -> list[str]:
    return list(_records()["models"])


def family_model(name: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """A model of a family with its own parameter (the ``families`` section), and its data."""
    record = _records()["families"][name]
    return record, _read(record["data"])


def tweedie_density() -> dict[str, Any]:
    """mgcv's ldTweedie on a grid of (y, mu, phi, power)."""
    return dict(_records()["tweedie_density"])


def inference(name: str) -> dict[str, Any]:
    """What mgcv's summary() and predict(se.fit = TRUE) said about one model."""
    return dict(_records()["inference"][name])


def features(record: dict[str, Any], data: pd.DataFrame) -> pd.DataFrame:
    """The model's covariates, in the order its terms name them."""
    variables = dict.fromkeys(m["variable"] for t in record["terms"] for m in t["margins"])
    return data[list(variables)]


def response(record: dict[str, Any], data: pd.DataFrame) -> Array:
    return data[record.get("response", "y")].to_numpy(float)


def load(name: str) -> tuple[dict[str, Any], pd.DataFrame]:
    record = _records()["models"][name]
    return record, _read(record["data"])


def _read(file: str) -> pd.DataFrame:
    data = pd.read_csv(HERE / file)
    for column in data.columns:
        if not pd.api.types.is_numeric_dtype(data[column]):
            data[column] = pd.Categorical(data[column], categories=sorted(set(data[column])))
    return data


def knots(x: Array, k: int) -> Array:
    """README's knot rule: k + 4 equally spaced knots, the inner ones spanning [min, max]."""
    a, b = float(x.min()), float(x.max())
    h = (b - a) / (k - 3)
    out = a + h * np.arange(-3, k + 1)
    out[k] = b  # a + h * (k - 3) may round below b; mgcv needs the data inside
    return out


def margin_basis(margin: dict[str, Any], data: pd.DataFrame) -> tuple[Array, Array]:
    """The raw basis and penalty of one margin."""
    column = data[margin["variable"]]
    if margin["type"] == "spline":
        X = BSpline.design_matrix(column.to_numpy(float), np.array(margin["knots"]), 3)
        k = margin["k"]
        D = np.diff(np.eye(k), n=2, axis=0)
        return X.toarray(), D.T @ D
    codes = column.cat.codes.to_numpy()
    levels = len(column.cat.categories)
    return (codes[:, None] == np.arange(levels)).astype(float), np.eye(levels)


@dataclass
class RawTerm:
    X: Array  # n x q raw basis
    penalties: list[Array]  # q x q each, one per smoothing parameter
    constraints: Array  # r x q: the raw coefficients satisfy constraints @ beta = 0


def raw_term(term: dict[str, Any], data: pd.DataFrame) -> RawTerm:
    margins = [margin_basis(m, data) for m in term["margins"]]
    if len(margins) == 1:
        X, S = margins[0]
        if term.get("by_level") is not None:
            X = X * (data[term["by"]] == term["by_level"]).to_numpy()[:, None]
        penalties = [S]
    else:
        (X1, S1), (X2, S2) = margins
        X = (X1[:, :, None] * X2[:, None, :]).reshape(len(X1), -1)
        penalties = [np.kron(S1, np.eye(len(S2))), np.kron(np.eye(len(S1)), S2)]
    return RawTerm(X, penalties, _constraints(term["constraint"], X, margins))


def _constraints(kind: str, X: Array, margins: list[tuple[Array, Array]]) -> Array:
    if kind == "none":
        return np.zeros((0, X.shape[1]))
    if kind == "data_rows_sum_to_zero":
        return X.sum(axis=0)[None, :]
    if kind == "curve_sums_to_zero_over_all_rows":
        # mgcv centers a by-level curve over every row, before zeroing other levels' rows.
        return margins[0][0].sum(axis=0)[None, :]
    (X1, _), (X2, _) = margins  # each margin's column sums, applied along that margin
    first = np.kron(X1.sum(axis=0)[None, :], np.eye(X2.shape[1]))
    second = np.kron(np.eye(X1.shape[1]), X2.sum(axis=0)[None, :])
    return np.vstack([first, second])


@dataclass
class Refit:
    """A model refitted at given smoothing parameters, in the constrained coordinates."""

    fitted: Array
    linear_predictor: Array
    raw_coefficients: list[Array]  # per term
    edf: list[float]  # per term
    reml: float


def refit(record: dict[str, Any], data: pd.DataFrame) -> Refit:
    """Penalized (IR)LS at the recorded lambdas, constraints absorbed per term."""
    terms = [raw_term(t, data) for t in record["terms"]]
    Zs = [null_space(t.constraints) if len(t.constraints) else np.eye(t.X.shape[1])
          for t in terms]
    Z = block_diag(np.ones((1, 1)), *Zs)
    X = np.hstack([np.ones((len(data), 1))] + [t.X for t in terms]) @ Z
    lambdas = [np.asarray(t["lambda"]) for t in record["terms"]]
    S_blocks = [Zt.T @ sum(lam * S for lam, S in zip(ls, t.penalties, strict=True)) @ Zt
                for Zt, ls, t in zip(Zs, lambdas, terms, strict=True)]
    S = block_diag(np.zeros((1, 1)), *S_blocks)
    y = data[record.get("response", "y")].to_numpy(float)
    b, w, eta = _pirls(X, y, S, record["family"])
    XtWX = X.T @ (w[:, None] * X)
    F = np.linalg.solve(XtWX + S, XtWX)
    offsets = np.cumsum([1] + [Zt.shape[1] for Zt in Zs])
    blocks = [slice(a, c) for a, c in pairwise(offsets)]
    edf = [float(np.trace(F[block, block])) for block in blocks]
    raw = [Zt @ b[block] for Zt, block in zip(Zs, blocks, strict=True)]
    structure = [Zt.T @ sum(t.penalties) @ Zt for Zt, t in zip(Zs, terms, strict=True)]
    reml = _reml(record, y, eta, b, XtWX, S, S_blocks, structure)
    return Refit(_inverse_link(record["family"], eta), eta, raw, edf, reml)


def _inverse_link(family: str, eta: Array) -> Array:
    return {"gaussian": lambda e: e, "binomial": expit, "poisson": np.exp}[family](eta)


def _pirls(X: Array, y: Array, S: Array, family: str) -> tuple[Array, Array, Array]:
    """Canonical links only, so Fisher and Newton weights agree."""
    eta = np.full(len(y), np.log(y.mean()) if family == "poisson" else 0.0)
    if family == "binomial":
        eta = np.full(len(y), np.log(y.mean() / (1 - y.mean())))
    b = np.zeros(X.shape[1])
    for _ in range(100):
        mu = _inverse_link(family, eta)
        w = {"gaussian": np.ones_like(mu), "binomial": mu * (1 - mu), "poisson": mu}[family]
        z = eta + (y - mu) / w
        new = np.linalg.solve(X.T @ (w[:, None] * X) + S, X.T @ (w * z))
        done = np.max(np.abs(new - b)) < 1e-13 * (1 + np.max(np.abs(new)))
        b, eta = new, X @ new
        if done:
            break
    mu = _inverse_link(family, eta)
    w = {"gaussian": np.ones_like(mu), "binomial": mu * (1 - mu), "poisson": mu}[family]
    return b, w, eta


def _log_pseudo_determinant(S: Array, structure: Array) -> tuple[float, int]:
    """log|S|+ on the range of the unweighted penalty sum, and that range's dimension.

    The range is taken from ``structure`` (the penalties added with unit weights) because a
    smoothing parameter of 1e11 next to one of 1e-2 would defeat a threshold on S itself.
    """
    values, vectors = np.linalg.eigh(structure)
    keep = values > 1e-9 * max(values.max(initial=0.0), 1.0)
    U = vectors[:, keep]
    if U.shape[1] == 0:
        return 0.0, 0
    return float(np.linalg.slogdet(U.T @ S @ U)[1]), int(U.shape[1])


def _reml(record: dict[str, Any], y: Array, eta: Array, b: Array, XtWX: Array, S: Array,
          S_blocks: list[Array], structure: list[Array]) -> float:
    """mgcv's REML score (Wood 2011, the Laplace approximation to the restricted likelihood)."""
    pieces = [_log_pseudo_determinant(Sb, st) for Sb, st in zip(S_blocks, structure,
                                                                   strict=True)]
    log_det_S = sum(p[0] for p in pieces)
    M_p = len(b) - sum(p[1] for p in pieces)  # unpenalized dimensions, intercept included
    log_det_H = np.linalg.slogdet(XtWX + S)[1]
    penalty = float(b @ S @ b)
    family = record["family"]
    if family == "gaussian":
        phi = record["scale"]
        fit = float(np.sum((y - eta) ** 2)) + penalty
        return (fit / phi + (len(y) - M_p) * np.log(2 * np.pi * phi) + log_det_H
                - log_det_S) / 2
    mu = _inverse_link(family, eta)
    if family == "binomial":
        loglik = float(np.sum(y * np.log(mu) + (1 - y) * np.log1p(-mu)))
    else:
        loglik = float(np.sum(y * np.log(mu) - mu - gammaln(y + 1)))
    return -loglik + penalty / 2 + (log_det_H - log_det_S - M_p * np.log(2 * np.pi)) / 2
