"""Finding the pairs of features that interact, cheaply, before fitting them.

After the main-effects fit, every candidate pair is screened on the working residuals
(what the main effects leave unexplained, on the IRLS working scale, with the IRLS
weights): both features are cut into a few bins, the weighted residual means of the
two-way table are compared with the best additive (row plus column) fit of the same
table, and an F statistic says whether the interaction part explains more than noise.
Each pair costs one ``bincount`` over the rows, so all pairs of a few dozen features
take well under a second. "auto" keeps the pairs significant after a Bonferroni
correction over all pairs screened; an integer ``k`` keeps the ``k`` strongest.
The chosen pairs are then fitted as penalized tensor products, whose smoothness REML
chooses (and which it may shrink away).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from sagegam.model.schema import Schema

Array = NDArray[np.float64]
BINS = 8  # per numeric feature; a categorical feature uses its most frequent levels
SIGNIFICANCE = 0.01  # family-wise, over all pairs screened
MAX_AUTO_PAIRS = 10
SCREEN_ROWS = 200_000


@dataclass(frozen=True)
class PairScore:
    pair: tuple[int, int]
    f_statistic: float
    log_p_value: float


def screening_rows(n: int) -> NDArray[np.intp]:
    """The rows screening looks at: all of them, or a seeded sample of SCREEN_ROWS."""
    if n <= SCREEN_ROWS:
        return np.arange(n, dtype=np.intp)
    return np.sort(np.random.default_rng(0).choice(n, SCREEN_ROWS, replace=False))


def candidate_pairs(n_features: int, allowed: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in combinations(range(n_features), 2) if a in allowed and
            b in allowed]


def choose_pairs(scores: list[PairScore], setting: str | int) -> list[tuple[int, int]]:
    """The pairs ``setting`` asks for: "auto" (significant ones) or the ``k`` strongest."""
    ranked = sorted(scores, key=lambda s: s.log_p_value)
    if setting == "auto":
        threshold = np.log(SIGNIFICANCE / max(len(scores), 1))
        return [s.pair for s in ranked if s.log_p_value < threshold][:MAX_AUTO_PAIRS]
    return [s.pair for s in ranked[:int(setting)]]


def screen(codes: Array, schema: Schema, residuals: Array, weights: Array,
           pairs: list[tuple[int, int]]) -> list[PairScore]:
    """An interaction F test for each pair on the main effects' working residuals."""
    bins = {j: _bins(codes[:, j], weights, schema.features[j].categorical)
            for j in sorted({j for pair in pairs for j in pair})}
    total = float(np.dot(weights, residuals * residuals))
    n = float(np.count_nonzero(weights))
    return [_score(pair, bins[pair[0]], bins[pair[1]], residuals, weights, total, n)
            for pair in pairs]


def _bins(values: Array, weights: Array, categorical: bool) -> tuple[NDArray[np.intp], int]:
    """Each row's bin and the number of bins; missing values get a bin of their own."""
    missing = np.isnan(values) | (values < 0)
    present = values[~missing]
    if categorical:
        counts = np.bincount(present.astype(np.intp), weights=weights[~missing])
        top = np.argsort(counts)[::-1][:BINS - 1]
        lookup = np.full(max(len(counts), 1), len(top))  # the rest share the last bin
        lookup[top] = np.arange(len(top))
        index = np.zeros(len(values), dtype=np.intp)
        index[~missing] = lookup[present.astype(np.intp)]
        size = len(top) + 1
    else:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1])) \
            if present.size else np.zeros(0)
        index = np.zeros(len(values), dtype=np.intp)
        index[~missing] = np.searchsorted(edges, present, side="right")
        size = len(edges) + 1
    index[missing] = size
    return index, size + 1


def _score(pair: tuple[int, int], first: tuple[NDArray[np.intp], int],
           second: tuple[NDArray[np.intp], int], residuals: Array, weights: Array,
           total: float, n: float) -> PairScore:
    (index_1, size_1), (index_2, size_2) = first, second
    cell = index_1 * size_2 + index_2
    cells = size_1 * size_2
    weight = np.bincount(cell, weights=weights, minlength=cells).astype(np.float64)
    sums = np.bincount(cell, weights=weights * residuals, minlength=cells)
    occupied = weight > 0
    means = np.where(occupied, sums / np.where(occupied, weight, 1.0), 0.0)
    full = float(np.sum(means * sums))  # explained by the two-way table
    additive = _additive_fit(means, weight, size_1, size_2)
    rows_used = np.count_nonzero(weight.reshape(size_1, size_2).sum(axis=1))
    cols_used = np.count_nonzero(weight.reshape(size_1, size_2).sum(axis=0))
    df_pair = int(occupied.sum()) - (rows_used + cols_used - 1)
    df_noise = n - int(occupied.sum())
    if df_pair <= 0 or df_noise <= 0:
        return PairScore(pair, 0.0, 0.0)
    noise = max(total - full, 1e-300) / df_noise
    f_statistic = max(full - additive, 0.0) / df_pair / noise
    return PairScore(pair, f_statistic, float(stats.f.logsf(f_statistic, df_pair, df_noise)))


def _additive_fit(means: Array, weight: Array, rows: int, cols: int) -> float:
    """Weighted sum of squares the best row-plus-column fit explains in the cell means."""
    occupied = np.flatnonzero(weight > 0)
    design = np.zeros((occupied.size, rows + cols))
    design[np.arange(occupied.size), occupied // cols] = 1.0
    design[np.arange(occupied.size), rows + occupied % cols] = 1.0
    root = np.sqrt(weight[occupied])
    coef, *_ = np.linalg.lstsq(design * root[:, None], means[occupied] * root, rcond=None)
    fitted = design @ coef
    return float(np.sum(weight[occupied] * fitted * (2 * means[occupied] - fitted)))


MAX_PAIR_CODES = 50  # levels of a factor in an interaction (its columns multiply)


def pairable(schema: Schema, j: int, shapes: dict[str, tuple[int, ...]] | None = None) -> bool:
    """Whether feature ``j`` may enter an interaction (a factor's columns multiply; a
    shape-constrained feature's effect could change shape through a pair)."""
    feature = schema.features[j]
    if feature.offset or _shaped_by(shapes, j):
        return False
    return not feature.categorical or feature.n_codes <= MAX_PAIR_CODES


def _shaped_by(shapes: dict[str, tuple[int, ...]] | None, j: int) -> str | None:
    """The parameter that constrains feature ``j``'s shape, if any."""
    return next((name for name, signs in (shapes or {}).items() if signs and signs[j]), None)


def pair_problem(schema: Schema, pair: tuple[int, int],
                 shapes: dict[str, tuple[int, ...]] | None = None) -> str | None:
    """Why a pair cannot be an interaction term, or None."""
    if pair[0] == pair[1]:
        return f"a feature cannot interact with itself ({schema.names[pair[0]]!r})"
    for j in pair:
        if schema.features[j].offset:
            return (f"'{schema.names[j]}' is the model's {schema.features[j].kind}, which "
                    "enters with coefficient 1 and has no term to pair")
        parameter = _shaped_by(shapes, j)
        if parameter:
            change = "direction" if parameter == "monotonic_cst" else "curvature"
            return (f"{parameter} constrains '{schema.names[j]}', and an interaction could "
                    f"make its effect change {change}; set its constraint to 0 or drop the "
                    "pair")
        if not pairable(schema, j):
            feature = schema.features[j]
            return (f"'{feature.name}' has {feature.n_codes} levels; a categorical feature in "
                    f"an interaction may have at most {MAX_PAIR_CODES}")
    return None


def resolve_pairs(schema: Schema, setting: Any, shapes: dict[str, tuple[int, ...]] | None = None
                  ) -> list[tuple[int, int]] | str | int:
    """``interactions`` as index pairs, or "auto" / a count for screening to decide."""
    if setting is None:
        return []
    if isinstance(setting, str):
        if setting != "auto":
            raise ValueError(f"interactions={setting!r}; use None, 'auto', a number of pairs "
                             "or a list of feature pairs.")
        return "auto"
    if isinstance(setting, (int, np.integer)) and not isinstance(setting, bool):
        return int(setting)
    pairs = []
    for item in setting:
        pair = tuple(_feature(schema, value) for value in item)
        if len(pair) != 2:
            raise ValueError(f"interactions holds {item!r}; each interaction is a pair of "
                             "features.")
        problem = pair_problem(schema, (pair[0], pair[1]), shapes)
        if problem:
            raise ValueError(f"interactions cannot include {item!r}: {problem}.")
        if (pair[0], pair[1]) not in pairs and (pair[1], pair[0]) not in pairs:
            pairs.append((pair[0], pair[1]))
    return pairs


def _feature(schema: Schema, value: Any) -> int:
    names = list(schema.names)
    if isinstance(value, str) and value in names:
        return names.index(value)
    if isinstance(value, (int, np.integer)) and 0 <= int(value) < len(names):
        return int(value)
    raise ValueError(f"interactions names {value!r}, which is not a feature; the features "
                     f"are {names}.")
