"""Pictures of a fitted GAM: every term with its confidence band (needs matplotlib).

One panel per term, drawn by what its effect is: a curve with its band for a numeric
feature, bars with intervals for a categorical one, a filled contour for a numeric pair,
one curve per level for a numeric feature by a categorical one, a heatmap for two
categorical features.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sagegam.model.predictor import GAMPredictor
from sagegam.model.terms import SplineTerm, TermEffect

MAX_CURVES = 12  # level curves drawn in one panel


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
    """One panel per term: the centred term and its band.

    With data ``X`` and ``y``, each numeric main effect also shows the partial residuals
    (the term plus the working residual) of up to ``max_points`` rows, so misfit is
    visible at a glance. Returns the matplotlib Figure; with ``path`` also writes it
    (PNG, SVG or PDF by suffix).
    """
    try:
        import matplotlib

        matplotlib.use("Agg") if path is not None else None
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("Plotting needs matplotlib: pip install 'sagegam[plot]'.") from error
    n = max(len(predictor.terms), 1)
    ncols = min(columns, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    residuals = _partial_residuals(predictor, X, y, max_points) if X is not None else None
    edf = predictor.info.get("edf", [float("nan")] * len(predictor.terms))
    for t, term in enumerate(predictor.terms):
        ax = axes[t // ncols][t % ncols]
        effect = predictor.partial_dependence(t, level=level)
        if residuals is not None and isinstance(term, SplineTerm):
            codes, values = residuals
            ax.scatter(codes[:, term.margin.feature], values[:, t], s=6, color="0.45",
                       alpha=0.5, linewidths=0, label="partial residuals")
        DRAWERS[effect.kind](ax, effect, fig)
        ax.set_title(f"{effect.feature}  (edf {edf[t]:.1f})", fontsize=10)
    for k in range(len(predictor.terms), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(title or f"sagegam: partial effects ({predictor.family.link} scale)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _partial_residuals(predictor: GAMPredictor, X: Any, y: Any,
                       max_points: int) -> tuple[Any, Any]:
    codes = predictor.encode(X)
    target = np.asarray(y, dtype=float) if predictor.classes is None else (
        np.asarray(y) == predictor.classes[1]).astype(float)
    if codes.shape[0] > max_points:
        keep = np.random.default_rng(0).choice(codes.shape[0], max_points, replace=False)
        codes, target = codes[keep], target[keep]
    contributions = predictor.contributions_of(codes)
    eta = predictor.intercept + predictor.with_offset(codes, contributions).sum(axis=1)
    mu = predictor.family.inverse_link(eta)
    working = (target - mu) / predictor.family.dmu_deta(eta)
    return codes, contributions + working[:, None]


def _curve(ax: Any, effect: TermEffect, fig: Any) -> None:
    ax.fill_between(effect.grid, effect.lower, effect.upper, color="tab:blue", alpha=0.25,
                    linewidth=0, label=f"{int(effect.level * 100)}% band")
    ax.plot(effect.grid, effect.effect, color="tab:blue", linewidth=1.8, label="effect")
    ax.axhline(0.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel(effect.feature)
    ax.set_ylabel("partial effect")
    ax.legend(fontsize=7, loc="best", frameon=False)


def _levels(ax: Any, effect: TermEffect, fig: Any) -> None:
    positions = np.arange(len(effect.grid))
    ax.bar(positions, effect.effect, color="tab:blue", alpha=0.6)
    ax.errorbar(positions, effect.effect, yerr=effect.upper - effect.effect, fmt="none",
                ecolor="0.2", capsize=2, linewidth=0.8)
    ax.axhline(0.0, color="0.6", linewidth=0.8, linestyle=":")
    labels = [str(g)[:14] for g in effect.grid]
    step = max(1, len(labels) // 20)
    ax.set_xticks(positions[::step], labels[::step], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(f"effect ({int(effect.level * 100)}% intervals)")


def _surface(ax: Any, effect: TermEffect, fig: Any) -> None:
    assert effect.grid2 is not None
    limit = float(np.max(np.abs(effect.effect))) or 1.0
    filled = ax.contourf(effect.grid, effect.grid2, effect.effect.T, levels=15, cmap="RdBu_r",
                         vmin=-limit, vmax=limit)
    ax.contour(effect.grid, effect.grid2, effect.effect.T, levels=7, colors="0.3",
               linewidths=0.5)
    fig.colorbar(filled, ax=ax, shrink=0.8)
    ax.set_xlabel(effect.features[0])
    ax.set_ylabel(effect.features[1])


def _curves(ax: Any, effect: TermEffect, fig: Any) -> None:
    assert effect.grid2 is not None
    for k, name in enumerate(effect.grid2[:MAX_CURVES]):
        ax.plot(effect.grid, effect.effect[:, k], linewidth=1.4, label=str(name)[:16])
        ax.fill_between(effect.grid, effect.lower[:, k], effect.upper[:, k], alpha=0.12,
                        linewidth=0)
    ax.axhline(0.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel(effect.features[0])
    ax.set_ylabel(f"deviation by {effect.features[1]}")
    ax.legend(fontsize=6, loc="best", frameon=False)


def _table(ax: Any, effect: TermEffect, fig: Any) -> None:
    assert effect.grid2 is not None
    limit = float(np.max(np.abs(effect.effect))) or 1.0
    image = ax.imshow(effect.effect.T, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                      origin="lower")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(len(effect.grid)), [str(g)[:10] for g in effect.grid], rotation=60,
                  fontsize=6)
    ax.set_yticks(range(len(effect.grid2)), [str(g)[:10] for g in effect.grid2], fontsize=6)
    ax.set_xlabel(effect.features[0])
    ax.set_ylabel(effect.features[1])


DRAWERS: dict[str, Callable[[Any, TermEffect, Any], None]] = {
    "curve": _curve,
    "levels": _levels,
    "surface": _surface,
    "curves": _curves,
    "table": _table,
}
