"""Human-readable summaries of a fitted GAM (numpy only)."""

from __future__ import annotations

from typing import Any

from sagegam.model.predictor import GAMPredictor


def summary_text(predictor: GAMPredictor) -> str:
    """A table of every term plus the fit statistics, as plain text."""
    info = predictor.info
    lines = [
        f"sagegam GAM  task={predictor.task}  family={predictor.family.name}  "
        f"link={predictor.family.link}  smoothness={info.get('smoothness', '?')}",
        f"observations {info.get('n_obs', float('nan')):g}   "
        f"total edf {info.get('edf_total', float('nan')):.2f}   "
        f"deviance explained {100 * info.get('deviance_explained', float('nan')):.2f}%   "
        f"scale {info.get('scale', float('nan')):.4g}",
    ]
    lines += [f"{name} {value}" for name, value in _metrics(info)]
    lines.append(f"intercept {predictor.intercept:.6g}")
    header = f"{'term':<24}{'edf':>8}{'alpha':>14}{'chosen by':>11}{'basis':>7}  range"
    lines += ["", header, "-" * len(header)]
    for j, name in enumerate(predictor.feature_names):
        lines.append(_term_line(predictor, j, name))
    return "\n".join(lines)


def _metrics(info: dict[str, Any]) -> list[tuple[str, str]]:
    keys = ("train_r2", "train_rmse", "train_log_loss", "train_accuracy")
    return [(key, f"{info[key]:.6g}") for key in keys if key in info]


def _term_line(predictor: GAMPredictor, j: int, name: str) -> str:
    info = predictor.info
    basis = predictor.basis
    n_basis = int(basis.n_basis[j])
    if n_basis == 0:
        return f"{name[:23]:<24}{0.0:>8.2f}{'-':>14}{'-':>11}{0:>7}  constant in training"
    alpha = info["alpha"][j]
    chosen = "REML" if info["alpha_selected"][j] else "fixed"
    return (
        f"{name[:23]:<24}{info['edf'][j]:>8.2f}{alpha:>14.4g}{chosen:>11}{n_basis:>7}  "
        f"[{basis.lower[j]:.4g}, {basis.upper[j]:.4g}]"
    )
