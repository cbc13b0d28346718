"""The explorer in headless Chromium: page weight and time to open, beside the charting
libraries it could have used (issue 17's goal: a 20-term model with 2 pairs and 2
factors opens in under 1 s and weighs under 5 MB).

Two parts, in one run, each page opened --repeats times (fresh loads; medians):

1. sagegam's explorer pages of the seeded 20-term model (tests/explore/models.py): with
   its 4,000 training rows, with the most rows it embeds by default (5,000 of 20,000,
   unrounded: the heaviest numbers), and the model alone.
2. The charting choice: the same charts drawn by sagegam's own canvas code, by Plotly
   (plotly.min.js from the `plotly` PyPI package, MIT) and by Vega-Lite (vega, vega-lite
   and vega-embed from npm, BSD-3; give --vega DIR holding their node_modules, else that
   row is skipped): "20 terms" is the model's 16 curves with bands, 2 bar charts with
   intervals, a 40 x 40 heatmap and 5 curves per level, from the explorer's own data;
   "100k points" is one scatter of 100,000 points.

"open ms" is the page's own clock: navigation start to every chart drawn (sagegam: the
page's data-ready mark; Plotly and Vega: their render promises resolved). Each library's
script is inlined, as an offline page must.

    python benchmarks/explore_benchmark.py --repeats 5 --vega /tmp/vega
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' seeded models and Chromium driver

from tests.explore import models  # noqa: E402
from tests.explore.browser import Browser, find_chromium  # noqa: E402

from sagegam.explore import MAX_ROWS, explorer_html  # noqa: E402
from sagegam.explore.page import SCRIPTS, _asset  # noqa: E402
from sagegam.explore.payload import build_payload  # noqa: E402
from sagegam.explore.rows import read_rows  # noqa: E402

SCATTER_POINTS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vega", type=Path, default=None,
                        help="folder whose node_modules hold vega, vega-lite and vega-embed")
    args = parser.parse_args()
    executable = find_chromium()
    if executable is None:
        sys.exit("needs chromium (apt-get install chromium)")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, {args.repeats} loads per page, "
          f"medians", flush=True)
    model, X, y = models.twenty_terms()
    with tempfile.TemporaryDirectory() as folder, Browser(executable) as browser:
        pages = explorer_pages(model, X, y) | library_pages(model, X, y, args.vega)
        rows = []
        for name, html in pages.items():
            path = Path(folder) / f"{len(rows)}.html"
            path.write_text(html, encoding="utf-8")
            times = [browser.open(path.as_uri(), timeout=120) for _ in range(args.repeats)]
            rows.append((name, len(html.encode()), statistics.median(times)))
            print(f"#   {name}: {rows[-1][2]:.0f} ms", file=sys.stderr, flush=True)
    report(rows)


def explorer_pages(model: Any, X: Any, y: Any) -> dict[str, str]:
    big_X, big_y = models.twenty_terms_data(4 * MAX_ROWS, seed=5)
    numeric = [f"x{j}" for j in range(16)]
    big_X[numeric] = big_X[numeric] + np.random.default_rng(6).uniform(0, 1e-3, (len(big_X), 16))
    return {
        "explorer, 20 terms, 4,000 rows": explorer_html(model.predictor_, X, y),
        f"explorer, 20 terms, {MAX_ROWS:,} of 20,000 unrounded rows":
            explorer_html(model.predictor_, big_X, big_y),
        "explorer, 20 terms, model alone": explorer_html(model.predictor_),
    }


def chart_data(model: Any, X: Any, y: Any) -> list[dict[str, Any]]:
    """The explorer's own term effects (as its page holds them)."""
    rows = read_rows(model.predictor_, X, y, "data", MAX_ROWS)
    return [t["effect"] | {"name": t["name"]}
            for t in build_payload(model.predictor_, [rows], title="")["terms"]]


def scatter() -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, SCATTER_POINTS)
    y = x + rng.normal(0, 0.5, SCATTER_POINTS)
    return {"x": x.round(4).tolist(), "y": y.round(4).tolist()}


def library_pages(model: Any, X: Any, y: Any, vega: Path | None) -> dict[str, str]:
    workloads = {"20 terms": {"terms": chart_data(model, X, y)},
                 "100k points": {"scatter": scatter()}}
    builders: dict[str, Callable[[dict[str, Any]], str]] = {"sagegam canvas": ours,
                                                            "Plotly": plotly_page}
    if vega is not None:
        builders["Vega-Lite"] = lambda work: vega_page(work, vega)
    return {f"{workload}: {library}": build(work) for workload, work in workloads.items()
            for library, build in builders.items()}


def page(library: str, data: dict[str, Any], script: str) -> str:
    block = json.dumps(data).replace("</", "<\\/")
    return (f"<!doctype html><html><head><meta charset='utf-8'></head><body><div id='app'>"
            f"</div><script>{library}</script><script type='application/json' id='d'>{block}"
            f"</script><script>const D = JSON.parse(document.getElementById('d').textContent);"
            f"\nconst app = document.getElementById('app');\n{script}</script></body></html>")


def mark_ready(promises: str) -> str:
    return (f"Promise.all({promises}).then(() => {{ document.documentElement.dataset.ready = "
            "performance.now(); }, (e) => { document.documentElement.dataset.error = String(e);"
            " });")


def ours(work: dict[str, Any]) -> str:
    library = "\n".join(_asset(name) for name in SCRIPTS
                        if name in ("format.js", "charts.js", "grids.js"))
    return page(library, work, """
const box = () => { const d = document.createElement('div'); app.append(d); return d; };
for (const e of (D.terms || [])) {
  if (e.kind === 'curve') curveChart(box(), {x: e.grid, effect: e.effect, lower: e.lower,
    upper: e.upper, hist: null, xTitle: e.name, yTitle: 'effect', bandLabel: 'band'});
  else if (e.kind === 'levels') barsChart(box(), {labels: e.grid, values: e.effect,
    lower: e.lower, upper: e.upper, describe: () => null});
  else if (e.kind === 'surface') heatmapChart(box(), {x: e.grid, y: e.grid2, z: e.effect,
    se: e.std_error, xTitle: 'a', yTitle: 'b'});
  else curvesChart(box(), {x: e.grid, xTitle: e.name, yTitle: 'effect', series: e.grid2.map(
    (label, k) => ({label, effect: e.effect.map(r => r[k]), lower: e.lower.map(r => r[k]),
    upper: e.upper.map(r => r[k])}))});
}
if (D.scatter) scatterChart(box(), {x: D.scatter.x, y: D.scatter.y, diagonal: true,
  xTitle: 'predicted', yTitle: 'observed', describe: () => null});
document.documentElement.dataset.ready = performance.now();""")


def plotly_page(work: dict[str, Any]) -> str:
    import plotly

    library = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    return page(library, work, """
const plots = [];
const box = () => { const d = document.createElement('div'); d.style.width = '460px';
  d.style.height = '270px'; app.append(d); return d; };
const layout = {margin: {l: 50, r: 10, t: 10, b: 40}, showlegend: false};
for (const e of (D.terms || [])) {
  let traces;
  if (e.kind === 'curve') traces = [{x: e.grid, y: e.upper, mode: 'lines', line: {width: 0}},
    {x: e.grid, y: e.lower, mode: 'lines', fill: 'tonexty', line: {width: 0}},
    {x: e.grid, y: e.effect, mode: 'lines'}];
  else if (e.kind === 'levels') traces = [{type: 'bar', orientation: 'h', y: e.grid,
    x: e.effect, error_x: {type: 'data', array: e.upper.map((u, i) => u - e.effect[i])}}];
  else if (e.kind === 'surface') traces = [{type: 'heatmap', x: e.grid, y: e.grid2,
    z: e.grid2.map((_, j) => e.grid.map((_, i) => e.effect[i][j])), colorscale: 'RdBu'}];
  else traces = e.grid2.map((label, k) => ({x: e.grid, y: e.effect.map(r => r[k]),
    mode: 'lines', name: label}));
  plots.push(Plotly.newPlot(box(), traces, layout, {staticPlot: false}));
}
if (D.scatter) plots.push(Plotly.newPlot(box(), [{x: D.scatter.x, y: D.scatter.y,
  mode: 'markers', type: 'scatter', marker: {size: 2}}], layout));
""" + mark_ready("plots"))


def vega_page(work: dict[str, Any], folder: Path) -> str:
    modules = folder / "node_modules"
    library = "\n".join((modules / name / "build" / f"{name}.min.js").read_text()
                        for name in ("vega", "vega-lite", "vega-embed"))
    return page(library, work, """
const views = [];
const box = () => { const d = document.createElement('div'); app.append(d); return d; };
const size = {width: 400, height: 220};
const embed = (spec) => views.push(vegaEmbed(box(), Object.assign({}, size, spec),
  {renderer: 'canvas', actions: false}));
for (const e of (D.terms || [])) {
  if (e.kind === 'curve') embed({data: {values: e.grid.map((x, i) => ({x, y: e.effect[i],
    lo: e.lower[i], hi: e.upper[i]}))}, layer: [{mark: {type: 'area', opacity: 0.2},
    encoding: {x: {field: 'x', type: 'quantitative'}, y: {field: 'lo', type: 'quantitative'},
    y2: {field: 'hi'}}}, {mark: 'line', encoding: {x: {field: 'x', type: 'quantitative'},
    y: {field: 'y', type: 'quantitative'}}}]});
  else if (e.kind === 'levels') embed({data: {values: e.grid.map((l, i) => ({l,
    y: e.effect[i], lo: e.lower[i], hi: e.upper[i]}))}, layer: [{mark: 'bar', encoding: {
    y: {field: 'l', type: 'nominal'}, x: {field: 'y', type: 'quantitative'}}}, {mark: 'rule',
    encoding: {y: {field: 'l', type: 'nominal'}, x: {field: 'lo', type: 'quantitative'},
    x2: {field: 'hi'}}}]});
  else if (e.kind === 'surface') embed({data: {values: e.grid.flatMap((a, i) => e.grid2.map(
    (b, j) => ({a, b, z: e.effect[i][j]})))}, mark: 'rect', encoding: {x: {field: 'a',
    type: 'ordinal'}, y: {field: 'b', type: 'ordinal'}, color: {field: 'z',
    type: 'quantitative', scale: {scheme: 'redblue', domainMid: 0}}}});
  else embed({data: {values: e.grid.flatMap((x, i) => e.grid2.map((l, k) => ({x, l,
    y: e.effect[i][k]})))}, mark: 'line', encoding: {x: {field: 'x', type: 'quantitative'},
    y: {field: 'y', type: 'quantitative'}, color: {field: 'l', type: 'nominal'}}});
}
if (D.scatter) embed({data: {values: D.scatter.x.map((x, i) => ({x, y: D.scatter.y[i]}))},
  mark: {type: 'point', size: 4, filled: true}, encoding: {x: {field: 'x',
  type: 'quantitative'}, y: {field: 'y', type: 'quantitative'}}});
""" + mark_ready("views"))


def report(rows: list[tuple[str, int, float]]) -> None:
    anchors = {name.split(":")[0]: ms for name, _, ms in rows
               if name.endswith("sagegam canvas")}
    print("\n| page | size MB | open ms | vs sagegam |\n|---|---|---|---|")
    for name, size, ms in rows:
        base = anchors.get(name.split(":")[0])
        ratio = f"{ms / base:.1f}x" if base and ":" in name else "-"
        print(f"| {name} | {size / 2**20:.2f} | {ms:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
