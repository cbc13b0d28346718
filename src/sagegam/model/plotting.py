"""Pictures of a fitted GAM: every term with its confidence band (needs matplotlib)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sagegam.model.predictor import GAMPredictor


def plot_terms(
    predictor: GAMPredictor,
    *,
    level: float = 0.95,
    columns: int = 3,
    path: str | Path | None = None,
    title: str | None = None,
    X: Any = None,
    y: Any = None,
    max_points: int = 2_000,
) -> Any:
    """One panel per feature: the centred term and its band.

    With data ``X`` and ``y``, each panel also shows the partial residuals (the term plus
    the working residual) of up to ``max_points`` rows, so misfit is visible at a glance.
    Returns the matplotlib Figure; with ``path`` also writes it (PNG, SVG or PDF by suffix).
    """
    try:
        import matplotlib

        matplotlib.use("Agg") if path is not None else None
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("Plotting needs matplotlib: pip install 'sagegam[plot]'.") from error
    n = predictor.n_features
    ncols = min(columns, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    residuals = _partial_residuals(predictor, X, y, max_points) if X is not None else None
    for j in range(n):
        ax = axes[j // ncols][j % ncols]
        if residuals is not None:
            rows, values = residuals
            ax.scatter(rows[:, j], values[:, j], s=6, color="0.45", alpha=0.5, linewidths=0,
                       label="partial residuals")
        _draw_term(ax, predictor, j, level)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(title or f"sagegam: partial effects ({predictor.family.link} scale)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _partial_residuals(predictor: GAMPredictor, X: Any, y: Any,
                       max_points: int) -> tuple[Any, Any]:
    import numpy as np

    rows = predictor.check_input(X)
    target = np.asarray(y, dtype=float) if predictor.classes is None else (
        np.asarray(y) == predictor.classes[1]).astype(float)
    if rows.shape[0] > max_points:
        keep = np.random.default_rng(0).choice(rows.shape[0], max_points, replace=False)
        rows, target = rows[keep], target[keep]
    contributions = predictor.contributions(rows)
    eta = predictor.intercept + contributions.sum(axis=1)
    mu = predictor.family.inverse_link(eta)
    working = (target - mu) / predictor.family.dmu_deta(eta)
    return rows, contributions + working[:, None]


def _draw_term(ax: Any, predictor: GAMPredictor, j: int, level: float) -> None:
    effect = predictor.partial_dependence(j, level=level)
    edf = predictor.info.get("edf", [float("nan")] * predictor.n_features)[j]
    ax.fill_between(effect.grid, effect.lower, effect.upper, color="tab:blue", alpha=0.25,
                    linewidth=0, label=f"{int(level * 100)}% band")
    ax.plot(effect.grid, effect.effect, color="tab:blue", linewidth=1.8, label="effect")
    ax.axhline(0.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_title(f"{effect.feature}  (edf {edf:.1f})", fontsize=10)
    ax.set_xlabel(effect.feature)
    ax.set_ylabel("partial effect")
    ax.legend(fontsize=7, loc="best", frameon=False)
