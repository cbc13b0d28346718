"""Human-readable summaries of a fitted GAM (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sagegam.model.predictor import GAMPredictor
from sagegam.model.terms import FactorTerm, SplineMargin, SplineTerm, Term

LEVELS_SHOWN = 20


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
    lines += [_offset_line(predictor.schema.names[j], kind)
              for j, kind in predictor.schema.offsets.items()]
    statistic = "chi2" if predictor.family.scale_known else "F"
    header = (f"{'term':<24}{'kind':>8}{'edf':>8}{'ref.df':>8}{statistic:>10}{'p-value':>10}"
              f"{'alpha':>12}{'chosen by':>11}{'coef':>6}  domain")
    lines += ["", header, "-" * len(header)]
    for t, term in enumerate(predictor.terms):
        lines.append(_term_line(predictor, t, term))
        if isinstance(term, FactorTerm):
            lines += _level_lines(predictor, t)
    findings = info.get("warnings") or []
    if findings:
        lines += ["", "warnings:"] + [f"  {finding['message']}" for finding in findings]
    chosen = info.get("interactions_chosen")
    if chosen is not None:
        lines += ["", f"interactions: {len(chosen)} chosen of {info['interactions_screened']} "
                  "pairs screened on the main effects' residuals"]
        lines += [f"  {':'.join(c['pair'])}  F={c['f_statistic']:.1f}  "
                  f"p=1e{c['log10_p_value']:.1f}" for c in chosen]
    return "\n".join(lines)


def _offset_line(name: str, kind: str) -> str:
    if kind == "exposure":
        return f"exposure {name} (its log is added to the linear predictor, coefficient 1)"
    return f"offset {name} (added to the linear predictor, coefficient 1)"


def _metrics(info: dict[str, Any]) -> list[tuple[str, str]]:
    keys = ("train_r2", "train_rmse", "train_log_loss", "train_accuracy")
    return [(key, f"{info[key]:.6g}") for key in keys if key in info]


def _term_line(predictor: GAMPredictor, t: int, term: Term) -> str:
    info = predictor.info
    name = predictor.term_names[t]
    if isinstance(term, SplineTerm) and term.margin.n_basis == 0 and not term.missing:
        return (f"{name[:23]:<24}{term.kind:>8}{0.0:>8.2f}{'-':>8}{'-':>10}{'-':>10}{'-':>12}"
                f"{'-':>11}{0:>6}  constant in training")
    alpha = info["alpha"][t]
    chosen = "-" if alpha is None else "REML" if info["alpha_selected"][t] else "fixed"
    shown = "-" if alpha is None else f"{alpha:.4g}"
    return (f"{name[:23]:<24}{term.kind:>8}{info['edf'][t]:>8.2f}{_test(info, t)}"
            f"{shown:>12}{chosen:>11}{term.n_coef:>6}  {term_domain(predictor, term)}")


def _test(info: dict[str, Any], t: int) -> str:
    """Reference df, statistic and p-value of the term's test, or dashes."""
    tests = info.get("tests") or []
    test = tests[t] if t < len(tests) else None
    if test is None:
        return f"{'-':>8}{'-':>10}{'-':>10}"
    p = test["p_value"]
    shown = "<1e-16" if p < 1e-16 else f"{p:.3g}"
    return f"{test['reference_df']:>8.2f}{test['statistic']:>10.4g}{shown:>10}"


def term_domain(predictor: GAMPredictor, term: Term) -> str:
    """A term's range (numeric margins) or level count (categorical ones)."""
    parts = []
    for margin in term.margins:
        feature = predictor.schema.features[margin.feature]
        if isinstance(margin, SplineMargin):
            parts.append(f"[{margin.lower:.4g}, {margin.upper:.4g}]")
        else:
            parts.append(f"{feature.n_codes} levels")
    missing = isinstance(term, SplineTerm) and term.missing
    return " x ".join(parts) + (" + missing" if missing else "")


def _level_lines(predictor: GAMPredictor, t: int) -> list[str]:
    """Each level's effect and standard error (the largest first past LEVELS_SHOWN)."""
    effect = predictor.partial_dependence(t)
    order = np.arange(len(effect.grid))
    if len(order) > LEVELS_SHOWN:
        order = np.argsort(-np.abs(effect.effect))[:LEVELS_SHOWN]
    lines = [f"    {str(effect.grid[i])[:30]:<32}{effect.effect[i]:>+10.4g}  "
             f"(se {effect.std_error[i]:.3g})" for i in order]
    hidden = len(effect.grid) - len(order)
    return lines + ([f"    ... and {hidden} more levels"] if hidden > 0 else [])
