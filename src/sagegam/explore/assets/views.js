// The overview, one chart per term, and the fit on each data set with a target.

const CHART_WIDTH = 480;
const MAX_LEVELS_SHOWN = 40;
const MAX_SURFACE_POINTS = 2000;

function linkScale(model) {
  const link = model.spec.link;
  return link === "identity" ? "response scale" : link === "log" ? "log scale" : "log-odds";
}

function termFeatures(model, t) {
  return model.terms[t].margins.map((m) => m.feature);
}

function statisticsTable(statistics) {
  const names = {n_obs: "training rows", edf_total: "total edf",
    deviance_explained: "deviance explained", scale: "scale", smoothness: "smoothness",
    converged: "converged", n_iter: "IRLS iterations"};
  const rows = Object.entries(statistics).filter(([, v]) => v !== null && typeof v !== "object");
  return el("table", {class: "stats"}, rows.map(([key, value]) => el("tr", {}, [
    el("th", {text: names[key] || key.replace(/_/g, " ")}),
    el("td", {class: "num", text: key === "deviance_explained" && typeof value === "number" ?
      `${fmt(100 * value, 4)}%` : typeof value === "number" ? fmt(value, 6) : String(value)}),
  ])));
}

function overviewSection(app) {
  const {data, model, order} = app;
  const spec = data.model;
  const what = spec.task === "classification" ?
    `Classifier of \u201c${spec.classes[1]}\u201d against \u201c${spec.classes[0]}\u201d ` +
    "(binomial family: terms add up on the log-odds scale)" :
    `Regression, ${spec.family} family, ${spec.link} link`;
  const section = el("section", {id: "overview"}, [
    el("h2", {text: "Overview"}),
    el("p", {class: "lead", text: `${what}; ${model.features.length - model.offsetColumns.length} ` +
      `features, ${model.terms.length} terms. Which terms matter is below; how each acts is ` +
      "its chart under Terms; why a row got its prediction is under Why this prediction."}),
    offsetNote(data),
    el("div", {class: "columns"}, [
      el("div", {}, [el("h3", {text: "Fit statistics"}), statisticsTable(data.statistics)]),
      el("div", {id: "importance"}, [el("h3", {text: "Terms by importance"}),
        el("p", {class: "note", text: `Mean absolute contribution (${linkScale(model)}) over ` +
          `${data.importance_basis}. Click a bar to see the term.`})]),
    ]),
  ]);
  const chart = section.querySelector("#importance");
  barsChart(chart, {
    labels: order.map((t) => data.terms[t].name), values: order.map((t) => data.terms[t].importance),
    color: COLOR.line, width: 520, xTitle: `mean |contribution| (${linkScale(model)})`,
    describe: (i) => [data.terms[order[i]].name, `importance ${fmt(data.terms[order[i]].importance, 4)}`,
      `edf ${fmt(data.terms[order[i]].edf, 3)}`],
    onSelect: (i) => { location.hash = `term-${order[i]}`; },
  });
  section.append(termTable(app), el("details", {}, [
    el("summary", {text: "The model summary, as model.summary() prints it"}),
    el("pre", {text: data.summary})]));
  return section;
}

// An offset or exposure is a column of the data but no term: no chart, no importance,
// only what it is and how it spreads.
function offsetNote(data) {
  if (!data.offsets.length) return null;
  return el("p", {class: "note", id: "offsets"}, data.offsets.map((o) => {
    const what = o.kind === "exposure" ? `\u201c${o.name}\u201d is the exposure: not a term; ` +
      "its log is added to the linear predictor with coefficient 1, so a prediction is " +
      "proportional to it." : `\u201c${o.name}\u201d is an offset: not a term; it is added to ` +
      "the linear predictor with coefficient 1.";
    const spread = o.min_median_max;
    return el("span", {text: what + (spread ? ` Over the rows of the ${data.datasets[0].label},` +
      ` it runs from ${fmt(spread[0], 5)} to ${fmt(spread[2], 5)} (median ${fmt(spread[1], 5)}). ` : " ")});
  }));
}

function termTable(app) {
  const header = ["term", "kind", "edf", "penalty weight", "chosen by", "importance", "domain"];
  return el("table", {class: "terms"}, [
    el("tr", {}, header.map((h) => el("th", {text: h}))),
  ].concat(app.order.map((t) => {
    const term = app.data.terms[t];
    return el("tr", {}, [
      el("td", {}, el("a", {href: `#term-${t}`, text: term.name})), el("td", {text: term.kind}),
      el("td", {class: "num", text: fmt(term.edf, 3)}),
      el("td", {class: "num", text: term.alpha === null ? "-" : fmt(term.alpha, 4)}),
      el("td", {text: term.chosen_by}), el("td", {class: "num", text: fmt(term.importance, 4)}),
      el("td", {text: term.domain})]);
  })));
}

function termsSection(app) {
  const target = app.data.datasets.find((d) => d.target);
  const toggle = el("input", {type: "checkbox", id: "residuals", disabled: !target});
  const section = el("section", {id: "terms"}, [
    el("h2", {text: "Terms"}),
    el("p", {class: "lead", text: `Each term's effect on the ${linkScale(app.model)}, centred ` +
      "(it averages zero over the training rows), with its 95% band; grey bars along the " +
      "bottom are the data. Hover for values."}),
    el("label", {class: "toggle"}, [toggle, target ?
      ` show partial residuals (term + working residual) of the ${count(target.rows.length)} ` +
      `rows of the ${target.label} this page holds` :
      " partial residuals need data with a target"]),
  ]);
  const grid = el("div", {class: "cards"});
  section.append(grid);
  const cards = app.order.map((t) => termCard(app, t));
  grid.append(...cards);
  toggle.addEventListener("change", () => app.order.forEach((t, k) => {
    if (app.data.terms[t].effect.kind === "curve") drawTerm(app, t, cards[k], toggle.checked);
  }));
  return section;
}

function termCard(app, t) {
  const term = app.data.terms[t];
  const missing = app.model.missingEffect(t);
  const caption = [`${term.kind}`, `edf ${fmt(term.edf, 3)}`, `importance ${fmt(term.importance, 3)}`,
    term.domain].concat(missing === null ? [] : [`missing values: ${signed(missing, 3)}`]);
  const card = el("article", {class: "card term", id: `term-${t}`, "data-term": term.name,
    "data-kind": term.effect.kind}, [el("h3", {text: term.name}),
    el("p", {class: "note", text: caption.join(" \u00b7 ")}), el("div", {class: "plot"})]);
  drawTerm(app, t, card, false);
  return card;
}

function drawTerm(app, t, card, residuals) {
  const holder = card.querySelector(".plot");
  holder.replaceChildren();
  const term = app.data.terms[t], e = term.effect, features = termFeatures(app.model, t);
  const yTitle = `effect (${linkScale(app.model)})`;
  const band = `${Math.round(100 * e.level)}% band`;
  if (e.kind === "curve") {
    curveChart(holder, {x: e.grid, effect: e.effect, lower: e.lower, upper: e.upper,
      hist: numericHistogram(app, features[0]), xTitle: term.name, yTitle, bandLabel: band,
      points: residuals ? partialResiduals(app, t, features[0]) : null, width: CHART_WIDTH});
  } else if (e.kind === "levels") {
    levelsChart(app, holder, t, features[0], band);
  } else if (e.kind === "curves") {
    curvesChart(holder, {x: e.grid, xTitle: term.features[0], yTitle: `deviation by ${term.features[1]}`,
      series: e.grid2.map((label, k) => ({label, effect: e.effect.map((r) => r[k]),
        lower: e.lower.map((r) => r[k]), upper: e.upper.map((r) => r[k])})), width: CHART_WIDTH});
  } else {
    heatmapChart(holder, {x: e.grid, y: e.grid2, z: e.effect, se: e.std_error,
      xLevels: e.kind === "table" || typeof e.grid[0] === "string",
      yLevels: e.kind === "table" || typeof e.grid2[0] === "string",
      xTitle: term.features[0], yTitle: term.features[1], width: CHART_WIDTH,
      points: e.kind === "surface" ? dataPoints(app, features) : null});
  }
}

function numericHistogram(app, j) {
  const h = app.data.histograms[j];
  return h && h.edges && h.edges.length ? h : null;
}

function levelsChart(app, holder, t, j, band) {
  const e = app.data.terms[t].effect;
  const counts = app.data.histograms[j] ? app.data.histograms[j].counts : null;
  let shown = e.grid.map((_, i) => i);
  if (shown.length > MAX_LEVELS_SHOWN) {
    shown = shown.sort((a, b) => Math.abs(e.effect[b]) - Math.abs(e.effect[a])).slice(0, MAX_LEVELS_SHOWN);
    holder.append(el("p", {class: "note", text: `The ${MAX_LEVELS_SHOWN} levels with the largest ` +
      `effects of ${e.grid.length}; every level is in the model summary.`}));
  }
  barsChart(holder, {labels: shown.map((i) => e.grid[i]), values: shown.map((i) => e.effect[i]),
    lower: shown.map((i) => e.lower[i]), upper: shown.map((i) => e.upper[i]), width: CHART_WIDTH,
    xTitle: `effect (${linkScale(app.model)}), ${band}`,
    describe: (k) => {
      const i = shown[k];
      return [`${app.data.terms[t].name} = ${e.grid[i]}`, `effect ${signed(e.effect[i], 4)}`,
        `${band} [${fmt(e.lower[i], 4)}, ${fmt(e.upper[i], 4)}]`]
        .concat(counts ? [`${count(counts[i])} rows`] : []);
    }});
}

function partialResiduals(app, t, j) {
  const d = app.data.datasets.find((s) => s.target);
  const x = [], y = [];
  d.rows.forEach((_, i) => {
    x.push(d.codes[j][i]);
    y.push(d.parts[i][t] + (d.target[i] - d.mean[i]) / app.model.slope(d.eta[i]));
  });
  return {x, y};
}

function dataPoints(app, features) {
  const d = app.data.datasets[0];
  if (!d) return null;
  const step = Math.max(1, Math.ceil(d.rows.length / MAX_SURFACE_POINTS));
  const x = [], y = [];
  for (let i = 0; i < d.rows.length; i += step) {
    x.push(d.codes[features[0]][i]);
    y.push(d.codes[features[1]][i]);
  }
  return {x, y};
}

function validationSection(app) {
  const sets = app.data.datasets.filter((d) => d.target);
  const section = el("section", {id: "validation"}, [el("h2", {text: "Predicted against observed"})]);
  if (!sets.length) {
    section.append(el("p", {class: "note", text: "No data with a target was given: pass X and y " +
      "(or --data with the target column) to see the fit here."}));
    return section;
  }
  for (const d of sets) section.append(fitCard(app, d));
  return section;
}

function fitCard(app, d) {
  const metrics = Object.entries(d.metrics).map(([k, v]) => `${k.replace(/_/g, " ")} ${fmt(v, 5)}`);
  const card = el("article", {class: "card wide", "data-dataset": d.label}, [
    el("h3", {text: `${d.label}: ${count(d.n)} rows`}),
    el("p", {class: "note", text: metrics.join(" \u00b7 ") + ` (every row; the charts show ` +
      `${d.rows.length < d.n ? `a sample of ${count(d.rows.length)}` : "all of them"})`})]);
  const plots = el("div", {class: "columns"});
  card.append(plots);
  const describe = (i) => [`row ${d.rows[i] + 1}`, `predicted ${fmt(d.mean[i], 5)}`,
    `observed ${fmt(d.target[i], 5)}`];
  if (app.model.spec.task === "classification") {
    const bins = calibration(d);
    scatterChart(plots, {x: bins.map((b) => b.predicted), y: bins.map((b) => b.observed),
      connect: true, diagonal: true, xTitle: "mean predicted probability (decile)",
      yTitle: "observed rate", describe: (i) => [`decile ${i + 1}: ${count(bins[i].n)} rows`,
        `predicted ${fmt(bins[i].predicted, 3)}`, `observed ${fmt(bins[i].observed, 3)}`]});
  } else {
    scatterChart(plots, {x: Array.from(d.mean), y: d.target, diagonal: true,
      xTitle: "predicted", yTitle: "observed", describe});
    scatterChart(plots, {x: Array.from(d.mean), y: d.target.map((v, i) => v - d.mean[i]),
      zero: true, xTitle: "predicted", yTitle: "residual (observed \u2212 predicted)", describe});
  }
  return card;
}

function calibration(d) {
  const order = Array.from(d.mean.keys()).sort((a, b) => d.mean[a] - d.mean[b]);
  const bins = [];
  for (let k = 0; k < 10; k++) {
    const part = order.slice(Math.floor(k * order.length / 10), Math.floor((k + 1) * order.length / 10));
    if (!part.length) continue;
    const mean = (f) => part.reduce((s, i) => s + f(i), 0) / part.length;
    bins.push({n: part.length, predicted: mean((i) => d.mean[i]), observed: mean((i) => d.target[i])});
  }
  return bins;
}
