"""The training job's self-contained HTML report: summary, metrics and the term plots."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from sagegam.model.interpret import summary_text, term_domain
from sagegam.model.predictor import GAMPredictor

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; }
td, th { padding: .25rem .8rem; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; } img { max-width: 100%; }
"""


def write_report(path: Path, predictor: GAMPredictor, metrics: dict[str, Any],
                 plot_png: Path | None, job_name: str) -> None:
    """Write one HTML file with everything inline (the plot as a data URI)."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class='num'>{_format(value)}</td></tr>"
        for name, value in metrics.items())
    terms = "".join(_term_row(predictor, t) for t in range(len(predictor.terms)))
    image = ""
    if plot_png is not None and plot_png.is_file():
        encoded = base64.b64encode(plot_png.read_bytes()).decode("ascii")
        image = f"<h2>Partial effects</h2><img alt='partial effects' " \
                f"src='data:image/png;base64,{encoded}'>"
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sagegam report: {html.escape(job_name)}</title>
<style>{STYLE}</style></head><body>
<h1>sagegam training report: {html.escape(job_name)}</h1>
<p>{html.escape(predictor.task)} &middot; family {html.escape(predictor.family.name)}
&middot; link {html.escape(predictor.family.link)} &middot; {predictor.n_features} features</p>
<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>{rows}</table>
<h2>Terms</h2><table><tr><th>term</th><th>edf</th><th>alpha</th><th>domain</th></tr>{terms}</table>
{image}
<h2>Summary</h2><pre>{html.escape(summary_text(predictor))}</pre>
</body></html>
"""
    path.write_text(document, encoding="utf-8")


def _term_row(predictor: GAMPredictor, t: int) -> str:
    info = predictor.info
    alpha = info.get("alpha", [None] * len(predictor.terms))[t]
    edf = info.get("edf", [0.0] * len(predictor.terms))[t]
    domain = term_domain(predictor, predictor.terms[t])
    return (f"<tr><td>{html.escape(predictor.term_names[t])}</td>"
            f"<td class='num'>{edf:.2f}</td><td class='num'>{_format(alpha)}</td>"
            f"<td>{html.escape(domain)}</td></tr>")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))
